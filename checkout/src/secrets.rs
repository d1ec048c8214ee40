//! The keys that sign what the service hands out (order links, messages carried in redirects),
//! and the signing itself.

use hmac::{Hmac, Mac};

use crate::config::Secret;

/// A short signature of `data` for one purpose (order links, messages carried in redirects),
/// so only the service can make one.
pub fn sign(key: &Secret, purpose: &str, data: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(data.as_bytes());
    crate::ids::hex(&mac.finalize().into_bytes()[..16])
}

/// Whether `given` is the signature of `data` for `purpose` (compared in constant time).
pub fn signature_matches(key: &Secret, purpose: &str, data: &str, given: &str) -> bool {
    same_bytes(sign(key, purpose, data).as_bytes(), given.as_bytes())
}

/// Whether two byte strings are equal, in a time that does not depend on where they differ
/// (so a signature cannot be guessed byte by byte from response times).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
