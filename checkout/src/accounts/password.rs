//! Passwords: what is accepted, and argon2id (OWASP's parameters: 19 MiB, two passes, one
//! lane) to keep them. Hashing runs on the blocking pool, a few at a time: it is meant to be
//! slow, and a burst of sign-ins must not take the machine's memory (19 MiB each).

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};

/// The fewest characters a password may have.
pub const MIN_CHARS: usize = 8;
/// The most bytes a password may have (argon2 takes any length; a megabyte would cost its
/// time to read and hash for nothing).
pub const MAX_BYTES: usize = 256;

/// The hasher with OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds: `Params::new` cannot refuse them.
    let params = Params::new(19 * 1024, 2, 1, Some(32)).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether a password may be used, given what else the person told us (their address and
/// name, which a guesser would try first): long enough, not absurdly long, and not among what
/// guessers try early (zxcvbn's estimate of over a million guesses, score 2 or more).
pub fn check_strength(password: &str, email: &str, name: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_CHARS {
        return Err(ApiError::invalid("password", format!("use at least {MIN_CHARS} characters")));
    }
    if password.len() > MAX_BYTES {
        return Err(ApiError::invalid("password", format!("use at most {MAX_BYTES} bytes")));
    }
    let local = email.split('@').next().unwrap_or_default();
    let inputs: Vec<&str> = [email, local, name].into_iter().chain(name.split_whitespace()).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if (estimate.score() as u8) < 2 {
        return Err(ApiError::invalid(
            "password",
            "this password is among those guessed first (common words, names, dates, sequences); \
             a few unrelated words together make a strong one",
        ));
    }
    Ok(())
}

/// How long a password waits for a hashing slot before the answer is "busy, try again".
const WAIT_FOR_SLOT: Duration = Duration::from_secs(5);

/// Runs an argon2 computation on the blocking pool, at most one per core at once.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    let _slot = match tokio::time::timeout(WAIT_FOR_SLOT, slots.acquire()).await {
        Ok(Ok(slot)) => slot,
        _ => return Err(ApiError::Busy(WAIT_FOR_SLOT.as_secs())),
    };
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(format!("hashing task: {e}")))
}

/// The PHC string of a password's argon2id hash, made with a fresh random salt.
pub async fn hash(password: &str) -> ApiResult<String> {
    let password = password.to_string();
    hashing(move || argon2().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Whether a password matches a stored hash. With no hash (no such account, or an account
/// that signs in with Google only and has an empty one) a hash of nothing is checked instead,
/// so that an unknown address costs the same time as a wrong password.
pub async fn verify(password: &str, stored: Option<String>) -> ApiResult<bool> {
    let password = password.to_string();
    let stored = stored.filter(|s| !s.is_empty());
    hashing(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| decoy().to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash does not parse");
            return false;
        };
        argon2().verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
}

/// Makes the decoy hash now (on the blocking pool), so the first unknown address costs no more
/// than a wrong password.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(decoy).await;
}

/// A hash nothing matches, made once, with the parameters of real ones.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let noise = crate::ids::random_hex(32);
        argon2().hash_password(noise.as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("quiet lavender harvest").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("quiet lavender harvest", Some(h.clone())).await.unwrap());
        assert!(!verify("quiet lavender harvesT", Some(h)).await.unwrap());
        assert!(!verify("anything", None).await.unwrap());
    }

    #[test]
    fn common_short_and_personal_passwords_are_refused() {
        let refused = |p: &str| check_strength(p, "ada.lovelace@example.com", "Ada Lovelace").is_err();
        for p in
            ["short", "password", "password1", "12345678", "qwertyuiop", "iloveyou", "lovelace1815", "ada.lovelace"]
        {
            assert!(refused(p), "{p} should be refused");
        }
        for p in ["quiet lavender harvest", "Grasse-1920-vetiver!", "tinctures at dawn"] {
            assert!(!refused(p), "{p} should be accepted");
        }
        assert!(refused(&"x".repeat(MAX_BYTES + 1)));
    }
}
