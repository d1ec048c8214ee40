//! The staff console (decisions 11 and 14): staff are accounts with a role, a role an editable
//! set of [`permissions::Permission`]s named in code; every staff route declares what it needs
//! and one layer ([`guard`]) enforces it; every change staff make goes through a domain function
//! that leaves an [`audit`] row in the same transaction.

pub mod audit;
pub mod customers;
pub mod dashboard;
pub mod guard;
pub mod http;
pub mod members;
pub mod permissions;
pub mod purchasing;
pub mod stock;
pub mod testimonials;

pub use guard::Staff;
pub use permissions::Permission;
