use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an order is in its life. The stored names are these variants in snake case; only the
/// service's `orders` module moves an order from one to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Waiting for the payment; its stock is reserved.
    PendingPayment,
    /// Paid: stock taken, confirmation sent.
    Paid,
    /// Packed.
    Fulfilled,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// The payment failed or the shopper gave up; its stock went back.
    Cancelled,
    /// The payment window closed; its stock went back.
    Expired,
    /// Money given back.
    Refunded,
}

impl OrderStatus {
    /// Every status, in the order of an order's life.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Fulfilled,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::Refunded,
    ];

    /// The states in which the money was taken (and not given back): the order is being, or
    /// has been, delivered.
    pub const PAID: [OrderStatus; 4] =
        [OrderStatus::Paid, OrderStatus::Fulfilled, OrderStatus::Shipped, OrderStatus::Delivered];

    /// The states in which the order has not left the atelier yet: its address is still needed.
    pub const NOT_DISPATCHED: [OrderStatus; 3] =
        [OrderStatus::PendingPayment, OrderStatus::Paid, OrderStatus::Fulfilled];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// What the shopper reads.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "Awaiting payment",
            OrderStatus::Paid => "Paid — being prepared at the atelier",
            OrderStatus::Fulfilled => "Packed and ready to leave",
            OrderStatus::Shipped => "On its way",
            OrderStatus::Delivered => "Delivered",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Expired => "Expired — the payment window closed",
            OrderStatus::Refunded => "Refunded",
        }
    }

    /// Whether the money was taken (and not given back): the order is being, or has been,
    /// delivered.
    pub fn is_paid(self) -> bool {
        OrderStatus::PAID.contains(&self)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus;

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(OrderStatus::parse("Paid"), None);
    }
}
