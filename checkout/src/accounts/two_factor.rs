//! Two-factor sign-in: a TOTP authenticator (RFC 6238: six digits, thirty-second steps, one
//! step of drift either way) confirmed by its first code, ten one-time recovery codes, and the
//! five-minute challenge between a right password and its code. A code is taken once: the step
//! it was taken for is kept, and a code of that step or an earlier one is refused (§5.2).

use qrcode::render::svg;
use qrcode::QrCode;
use totp_rs::{Algorithm, Secret, Totp};

use super::tokens::digest;
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::{now, random_hex};

/// The name authenticator apps show above the code.
const ISSUER: &str = "Atelier Arôme";
/// How many recovery codes an account gets.
pub const RECOVERY_CODES: usize = 10;
/// How long a right password waits for its code, in seconds.
pub const CHALLENGE_LIFETIME: i64 = 300;
/// How long a secret being set up waits for its first code, in seconds: an hour.
const PENDING_LIFETIME: i64 = 3600;
/// The cookie that carries the challenge.
pub const CHALLENGE_COOKIE: &str = "atelier_challenge";

fn totp(secret_base32: &str, email: &str) -> ApiResult<Totp> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|e| ApiError::Internal(format!("TOTP secret: {e}")))?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(email.replace(':', ""))
        .build()
        .map_err(|e| ApiError::Internal(format!("TOTP: {e}")))
}

/// What an authenticator app needs: the secret as text, its `otpauth://` address, and that
/// address as a QR code (an SVG to put inline in a page).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Setup {
    /// The secret, base32, for typing in.
    pub secret: String,
    /// The `otpauth://totp/…` address.
    pub otpauth_url: String,
    /// The address as a QR code, an SVG document.
    pub qr_svg: String,
}

/// The secret being set up for an account (made now when there is none, kept until confirmed,
/// so reloading the page does not change what was scanned).
pub async fn begin(db: &Db, account_id: &str, email: &str) -> ApiResult<Setup> {
    let mut tx = db.begin_write().await?;
    let lock = tx.lock_rows();
    let (pending, pending_at, enabled): (Option<String>, Option<i64>, Option<i64>) = sqlx::query_as(&format!(
        "select totp_pending, totp_pending_at, totp_enabled_at from account where account_id = $1{lock}"
    ))
    .bind(account_id)
    .fetch_one(&mut **tx)
    .await?;
    // A secret set up more than an hour ago is not confirmed any more: a new one is made.
    let pending = pending.filter(|_| pending_at.is_some_and(|at| at > now() - PENDING_LIFETIME));
    if enabled.is_some() {
        return Err(ApiError::Conflict("two-factor sign-in is on already".into()));
    }
    let secret = match pending {
        Some(s) => s,
        None => {
            let mut bytes = [0u8; 20];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let s = Secret::from(bytes.to_vec()).to_base32();
            sqlx::query("update account set totp_pending = $1, totp_pending_at = $2 where account_id = $3")
                .bind(&s)
                .bind(now())
                .bind(account_id)
                .execute(&mut **tx)
                .await?;
            s
        }
    };
    tx.commit().await?;
    let url = totp(&secret, email)?.to_url().map_err(|e| ApiError::Internal(format!("otpauth address: {e}")))?;
    let qr = QrCode::new(url.as_bytes()).map_err(|e| ApiError::Internal(format!("QR code: {e}")))?;
    let qr_svg = qr.render::<svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    Ok(Setup { secret, otpauth_url: url, qr_svg })
}

/// A code as typed: spaces and dashes dropped, letters in lowercase.
fn normalise(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect()
}

/// The step a six-digit code is good for now, if it is good.
fn good_step(secret: &str, email: &str, code: &str) -> ApiResult<Option<i64>> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret, email)?.check(code, now().max(0) as u64).map(|s| s as i64))
}

/// Turns two-factor sign-in on with the first code of the secret being set up; gives the
/// recovery codes (shown once, kept hashed).
pub async fn enable(db: &Db, account_id: &str, email: &str, code: &str) -> ApiResult<Option<Vec<String>>> {
    let code = normalise(code);
    let mut tx = db.begin_write().await?;
    let lock = tx.lock_rows();
    let (pending, pending_at, enabled): (Option<String>, Option<i64>, Option<i64>) = sqlx::query_as(&format!(
        "select totp_pending, totp_pending_at, totp_enabled_at from account where account_id = $1{lock}"
    ))
    .bind(account_id)
    .fetch_one(&mut **tx)
    .await?;
    // A secret set up more than an hour ago is not confirmed any more: a new one is made.
    let pending = pending.filter(|_| pending_at.is_some_and(|at| at > now() - PENDING_LIFETIME));
    if enabled.is_some() {
        return Err(ApiError::Conflict("two-factor sign-in is on already".into()));
    }
    let Some(secret) = pending else {
        return Err(ApiError::Conflict(
            "set up the authenticator first (a setup lapses after an hour): its page shows the code to scan".into(),
        ));
    };
    let Some(step) = good_step(&secret, email, &code)? else { return Ok(None) };
    sqlx::query(
        "update account set totp_secret = totp_pending, totp_pending = null, totp_enabled_at = $1, totp_last_step = $2,
         updated_at = $1 where account_id = $3",
    )
    .bind(now())
    .bind(step)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    let codes = new_recovery_codes(&mut tx, account_id).await?;
    tx.commit().await?;
    Ok(Some(codes))
}

/// Replaces an account's recovery codes with ten new ones; gives them.
async fn new_recovery_codes(tx: &mut WriteTx, account_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("delete from recovery_code where account_id = $1").bind(account_id).execute(&mut ***tx).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        // 80 random bits, as four groups of four base32 letters.
        let mut bytes = [0u8; 10];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let text = Secret::from(bytes.to_vec()).to_base32().to_lowercase();
        let code =
            text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-");
        sqlx::query("insert into recovery_code (account_id, code_hash) values ($1, $2)")
            .bind(account_id)
            .bind(digest(&normalise(&code)))
            .execute(&mut ***tx)
            .await?;
        codes.push(code);
    }
    Ok(codes)
}

/// Whether an account has two-factor sign-in on.
pub async fn is_on(db: &Db, account_id: &str) -> Result<bool, sqlx::Error> {
    let on: Option<i64> = sqlx::query_scalar("select totp_enabled_at from account where account_id = $1")
        .bind(account_id)
        .fetch_optional(&db.pool)
        .await?
        .flatten();
    Ok(on.is_some())
}

/// Takes a second factor — a code of the authenticator not taken before, or an unused
/// recovery code (used up by it) — in the caller's transaction. Says whether it was good.
pub async fn take_code(tx: &mut WriteTx, account_id: &str, email: &str, code: &str) -> ApiResult<bool> {
    let code = normalise(code);
    if code.is_empty() || code.len() > 64 {
        return Ok(false);
    }
    let lock = tx.lock_rows();
    let (secret, last): (Option<String>, i64) =
        sqlx::query_as(&format!("select totp_secret, totp_last_step from account where account_id = $1{lock}"))
            .bind(account_id)
            .fetch_one(&mut ***tx)
            .await?;
    let Some(secret) = secret else { return Ok(false) };
    if let Some(step) = good_step(&secret, email, &code)? {
        // A later step only: the code just used, or an older one, is refused.
        let taken = sqlx::query("update account set totp_last_step = $1 where account_id = $2 and totp_last_step < $1")
            .bind(step)
            .bind(account_id)
            .execute(&mut ***tx)
            .await?;
        return Ok(step > last && taken.rows_affected() == 1);
    }
    let used = sqlx::query("delete from recovery_code where account_id = $1 and code_hash = $2")
        .bind(account_id)
        .bind(digest(&code))
        .execute(&mut ***tx)
        .await?;
    Ok(used.rows_affected() == 1)
}

/// How many unused recovery codes an account has.
pub async fn recovery_codes_left(db: &Db, account_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from recovery_code where account_id = $1")
        .bind(account_id)
        .fetch_one(&db.pool)
        .await
}

/// Turns two-factor sign-in off, in the caller's transaction (after a fresh code was taken).
pub async fn disable(tx: &mut WriteTx, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update account set totp_secret = null, totp_pending = null, totp_enabled_at = null, updated_at = $1
         where account_id = $2",
    )
    .bind(now())
    .bind(account_id)
    .execute(&mut ***tx)
    .await?;
    sqlx::query("delete from recovery_code where account_id = $1").bind(account_id).execute(&mut ***tx).await?;
    end_challenges(tx, account_id).await
}

/// Opens a challenge for an account whose password was right; gives its token (for the cookie).
pub async fn challenge(db: &Db, account_id: &str) -> Result<String, sqlx::Error> {
    let token = random_hex(32);
    let t = now();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "insert into sign_in_challenge (token_hash, account_id, password_changed_at, created_at, expires_at)
         select $1, account_id, password_changed_at, $2, $3 from account where account_id = $4",
    )
    .bind(digest(&token))
    .bind(t)
    .bind(t + CHALLENGE_LIFETIME)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The account a live challenge waits for.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// The account.
    pub account_id: String,
    /// Its address.
    pub email: String,
    /// Its owner's name.
    pub name: String,
    /// When the password that opened the challenge was set (a new one since ends it).
    pub password_changed_at: i64,
}

/// The account a live challenge is for.
pub async fn challenged(db: &Db, token: &str) -> Result<Option<Waiting>, sqlx::Error> {
    let row: Option<(String, String, String, i64)> = sqlx::query_as(
        "select a.account_id, a.email, a.name, c.password_changed_at
         from sign_in_challenge c join account a on a.account_id = c.account_id
         where c.token_hash = $1 and c.expires_at > $2 and c.password_changed_at = a.password_changed_at",
    )
    .bind(digest(token))
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(account_id, email, name, password_changed_at)| Waiting {
        account_id,
        email,
        name,
        password_changed_at,
    }))
}

/// Ends a challenge (answered); says whether it was still there (of two answers at once, one
/// ends it).
pub async fn end_challenge(tx: &mut WriteTx, token: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from sign_in_challenge where token_hash = $1")
        .bind(digest(token))
        .execute(&mut ***tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every challenge of an account (its password changed, or two factors were turned off).
pub async fn end_challenges(tx: &mut WriteTx, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from sign_in_challenge where account_id = $1").bind(account_id).execute(&mut ***tx).await?;
    Ok(())
}

/// Deletes lapsed challenges; gives how many.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done =
        sqlx::query("delete from sign_in_challenge where expires_at <= $1").bind(now()).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// The code an authenticator shows at a time (what the tests type in).
pub fn code_at(secret_base32: &str, email: &str, unix_seconds: u64) -> ApiResult<String> {
    Ok(totp(secret_base32, email)?.generate(unix_seconds).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_within_one_step_of_drift() {
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let t = 1_700_000_000u64;
        let code = code_at(&secret, "ada@example.com", t).unwrap();
        let totp = totp(&secret, "ada@example.com").unwrap();
        assert_eq!(totp.check(&code, t), Some(t / 30));
        assert_eq!(totp.check(&code, t + 30), Some(t / 30), "a step late");
        assert_eq!(totp.check(&code, t + 90), None, "three steps late");
        // RFC 6238's test vector for SHA-1 at 59 s, eight digits 94287082: six digits 287082.
        assert_eq!(code_at(&secret, "x@example.com", 59).unwrap(), "287082");
    }

    #[test]
    fn codes_are_read_as_people_type_them() {
        assert_eq!(normalise(" 123 456 "), "123456");
        assert_eq!(normalise("ABCD-efgh-2345-6789"), "abcdefgh23456789");
    }
}
