//! What the cart page says after a plain form: a code and a SKU carried in the redirect,
//! signed so that only the service makes them, and rendered from our own words and what the
//! database says now. Nothing a shopper typed is ever shown back.

use super::EditError;
use crate::config::Secret;
use crate::db::Db;
use crate::secrets::{sign, signature_matches};

/// One thing the cart page can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The quantity was not a whole number.
    NotANumber,
    /// No size on sale has that SKU.
    NoSuchSku,
    /// The cart was checked out.
    Closed,
    /// Adding none.
    AtLeastOne,
    /// A quantity below zero.
    Negative,
    /// More of one size than an order may hold.
    OverLimit,
    /// None left of the SKU.
    SoldOut,
    /// Fewer left of the SKU than asked for.
    OnlyLeft,
    /// Saving failed; try again.
    Unsaved,
}

const ALL: [(Notice, &str); 9] = [
    (Notice::NotANumber, "not_a_number"),
    (Notice::NoSuchSku, "no_such_sku"),
    (Notice::Closed, "closed"),
    (Notice::AtLeastOne, "at_least_one"),
    (Notice::Negative, "negative"),
    (Notice::OverLimit, "over_limit"),
    (Notice::SoldOut, "sold_out"),
    (Notice::OnlyLeft, "only_left"),
    (Notice::Unsaved, "unsaved"),
];

impl Notice {
    /// The notice for a refused edit, with the SKU it is about (when the words need it).
    pub fn of(e: &EditError) -> (Notice, Option<&str>) {
        match e {
            EditError::BadSku | EditError::NoSuchSku(_) => (Notice::NoSuchSku, None),
            EditError::Closed => (Notice::Closed, None),
            EditError::AtLeastOne => (Notice::AtLeastOne, None),
            EditError::Negative => (Notice::Negative, None),
            EditError::OverLimit | EditError::WouldExceed { .. } => (Notice::OverLimit, None),
            EditError::SoldOut { sku, .. } => (Notice::SoldOut, Some(sku)),
            EditError::OnlyLeft { sku, .. } => (Notice::OnlyLeft, Some(sku)),
            EditError::Unsaved(_) => (Notice::Unsaved, None),
        }
    }

    /// Its code in a link.
    pub fn code(self) -> &'static str {
        ALL.iter().find(|(n, _)| *n == self).map(|(_, c)| *c).unwrap_or("unsaved")
    }

    /// The notice a code names.
    pub fn from_code(code: &str) -> Option<Notice> {
        ALL.iter().find(|(_, c)| *c == code).map(|(n, _)| *n)
    }

    /// The query that carries the notice to the cart page: `error=…[&sku=…]&sig=…`.
    pub fn query(self, sku: Option<&str>, key: &Secret) -> String {
        let sku = sku.unwrap_or("");
        let sig = sign(key, "cart-notice", &format!("{}:{sku}", self.code()));
        if sku.is_empty() {
            format!("error={}&sig={sig}", self.code())
        } else {
            format!("error={}&sku={sku}&sig={sig}", self.code())
        }
    }

    /// The notice a query carries, if the service signed it.
    pub fn verified(code: &str, sku: &str, sig: &str, key: &Secret) -> Option<Notice> {
        let notice = Notice::from_code(code)?;
        signature_matches(key, "cart-notice", &format!("{code}:{sku}"), sig).then_some(notice)
    }

    /// The sentence, in our words, with what the database says of the SKU now.
    pub async fn sentence(self, db: &Db, sku: &str) -> Result<String, sqlx::Error> {
        Ok(match self {
            Notice::NotANumber => "Enter the number of bottles as a whole number, such as 1 or 2.".into(),
            Notice::NoSuchSku => "That essence size is not in the Compendium (any more); please choose another.".into(),
            Notice::Closed => "Your cart was checked out meanwhile; please add the essence again.".into(),
            Notice::AtLeastOne => "Add at least one bottle.".into(),
            Notice::Negative => "A quantity cannot be below zero.".into(),
            Notice::OverLimit => format!("At most {} of one size per order.", super::MAX_PER_LINE),
            Notice::Unsaved => "Your cart could not be saved just now; please try again.".into(),
            Notice::SoldOut | Notice::OnlyLeft => match super::size_now(db, sku).await? {
                None => "That essence size is not in the Compendium (any more); please choose another.".into(),
                Some((what, available)) if available <= 0 => format!("{what} has just sold out."),
                Some((what, 1)) => format!("Only 1 bottle of {what}, is left."),
                Some((what, available)) => format!("Only {available} bottles of {what}, are left."),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_signed_ones_count() {
        let key = Secret::new("k");
        for (notice, code) in ALL {
            assert_eq!(Notice::from_code(code), Some(notice));
            assert_eq!(notice.code(), code);
        }
        let q = Notice::SoldOut.query(Some("LAV-10"), &key);
        let sig = q.rsplit_once("sig=").unwrap().1;
        assert_eq!(Notice::verified("sold_out", "LAV-10", sig, &key), Some(Notice::SoldOut));
        assert_eq!(Notice::verified("sold_out", "ROSE-2", sig, &key), None, "the SKU is signed too");
        assert_eq!(Notice::verified("only_left", "LAV-10", sig, &key), None);
    }
}
