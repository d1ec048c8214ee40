//! What every route shares: the guard layer (security headers, cross-site refusal, request
//! log), extractors, the client's address, the checkout limit and the page shell. Each domain
//! keeps its own routes in its `http.rs`.

pub mod client;
pub mod extract;
pub mod guard;
pub mod limit;
pub mod meta;
pub mod metrics;
pub mod outbound;
pub mod page;

pub use extract::{ApiForm, ApiJson, ApiQuery};
