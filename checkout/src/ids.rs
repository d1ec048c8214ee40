//! Identifiers and time: random ids made by the service, unix seconds.

use std::fmt::Write;

use rand::RngCore;

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(hex, "{b:02x}"); // writing to a String cannot fail
    }
    hex
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// A new id with a readable prefix: `ord_019ad3…`: the time in milliseconds, then 96 random
/// bits. Time first, so that new rows land at the end of their table's index: random keys
/// would scatter every insert over the whole B-tree, and a commit would write a page per row.
pub fn new_id(prefix: &str) -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{prefix}_{millis:012x}{}", random_hex(12))
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_by_time_and_differ() {
        let a = super::new_id("cart");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new_id("cart");
        assert!(a < b, "{a} {b}");
        assert_eq!((a.len(), &a[..5]), (5 + 12 + 24, "cart_"));
        assert_ne!(super::new_id("x")[14..], super::new_id("x")[14..]);
    }
}
