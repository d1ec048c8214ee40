//! Signed links to an order, so a guest can follow it without an account.

use crate::config::Secret;
use crate::secrets::{sign, signature_matches};

/// The token in an order's link.
pub fn token(key: &Secret, order_id: &str) -> String {
    sign(key, "order", order_id)
}

/// Whether a token opens that order (compared in constant time).
pub fn token_matches(key: &Secret, order_id: &str, given: &str) -> bool {
    signature_matches(key, "order", order_id, given)
}

/// The order page's path with its token: `/orders/ord_…?token=…`.
pub fn path(key: &Secret, order_id: &str) -> String {
    format!("/orders/{order_id}?token={}", token(key, order_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_their_order_only() {
        let key = Secret::new("k");
        let t = token(&key, "ord_1");
        assert!(token_matches(&key, "ord_1", &t));
        assert!(!token_matches(&key, "ord_2", &t));
        assert!(!token_matches(&key, "ord_1", "short"));
        assert!(!token_matches(&Secret::new("other"), "ord_1", &t));
    }
}
