//! What staff may do: permissions named here and nowhere else, and the four roles a new shop
//! starts with (owners may change any role's set afterwards).

use serde::Serialize;

/// One thing a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Permission {
    /// See orders, their lines, history and notes.
    OrdersView,
    /// Pack, ship and mark orders delivered.
    OrdersFulfil,
    /// Refund orders.
    OrdersRefund,
    /// Write internal notes on orders.
    OrdersNote,
    /// Send a shopper their order's e-mails again.
    OrdersMail,
    /// See stock levels and reservations.
    StockView,
    /// Set and adjust stock.
    StockAdjust,
    /// See customers, their orders, addresses and subscriptions.
    CustomersView,
    /// Change a customer's subscription on their behalf.
    CustomersManage,
    /// Add staff, change their roles and what each role may do.
    StaffManage,
    /// Read the audit log.
    AuditView,
    /// See the dashboard: sales, revenue, subscribers, the outbox.
    ReportsView,
    /// Write testimonials down, to wait for approval.
    TestimonialsWrite,
    /// Approve, hide, feature and delete testimonials (what the home page shows).
    TestimonialsApprove,
}

impl Permission {
    /// Every permission, in the order the console lists them.
    pub const ALL: [Permission; 14] = [
        Permission::OrdersView,
        Permission::OrdersFulfil,
        Permission::OrdersRefund,
        Permission::OrdersNote,
        Permission::OrdersMail,
        Permission::StockView,
        Permission::StockAdjust,
        Permission::CustomersView,
        Permission::CustomersManage,
        Permission::StaffManage,
        Permission::AuditView,
        Permission::ReportsView,
        Permission::TestimonialsWrite,
        Permission::TestimonialsApprove,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::OrdersView => "orders.view",
            Permission::OrdersFulfil => "orders.fulfil",
            Permission::OrdersRefund => "orders.refund",
            Permission::OrdersNote => "orders.note",
            Permission::OrdersMail => "orders.mail",
            Permission::StockView => "stock.view",
            Permission::StockAdjust => "stock.adjust",
            Permission::CustomersView => "customers.view",
            Permission::CustomersManage => "customers.manage",
            Permission::StaffManage => "staff.manage",
            Permission::AuditView => "audit.view",
            Permission::ReportsView => "reports.view",
            Permission::TestimonialsWrite => "testimonials.write",
            Permission::TestimonialsApprove => "testimonials.approve",
        }
    }

    /// What it allows, as the roles page says it.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::OrdersView => "See orders, their history and notes",
            Permission::OrdersFulfil => "Pack, ship and deliver orders",
            Permission::OrdersRefund => "Refund orders",
            Permission::OrdersNote => "Write notes on orders",
            Permission::OrdersMail => "Send an order's e-mails again",
            Permission::StockView => "See stock levels",
            Permission::StockAdjust => "Set and adjust stock",
            Permission::CustomersView => "Look up customers",
            Permission::CustomersManage => "Change a customer's subscription for them; export the newsletter's list",
            Permission::StaffManage => "Add staff and change roles",
            Permission::AuditView => "Read the audit log",
            Permission::ReportsView => "See the dashboard: sales, revenue, subscribers",
            Permission::TestimonialsWrite => "Write testimonials down, to wait for approval",
            Permission::TestimonialsApprove => "Approve, feature and delete testimonials",
        }
    }

    /// The permission of a stored name.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The role whose last holder cannot be removed or demoted.
pub const OWNER: &str = "owner";

/// The roles a shop starts with: name, label, permissions.
pub fn default_roles() -> Vec<(&'static str, &'static str, Vec<Permission>)> {
    use Permission::*;
    vec![
        (OWNER, "Owner", Permission::ALL.to_vec()),
        (
            "manager",
            "Manager",
            vec![
                OrdersView,
                OrdersFulfil,
                OrdersRefund,
                OrdersNote,
                OrdersMail,
                StockView,
                StockAdjust,
                CustomersView,
                CustomersManage,
                ReportsView,
                TestimonialsWrite,
                TestimonialsApprove,
            ],
        ),
        ("fulfilment", "Fulfilment", vec![OrdersView, OrdersFulfil, OrdersNote, OrdersMail, StockView]),
        (
            "support",
            "Support",
            vec![OrdersView, OrdersNote, OrdersMail, CustomersView, CustomersManage, TestimonialsWrite],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_is_unique() {
        let mut names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        assert_eq!(Permission::parse("orders.everything"), None);
    }

    #[test]
    fn the_owner_holds_everything() {
        let roles = default_roles();
        assert_eq!(roles[0].0, OWNER);
        assert_eq!(roles[0].2, Permission::ALL.to_vec());
    }
}
