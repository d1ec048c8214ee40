//! The ceiling for the service benchmark: a bare Axum JSON endpoint, no database, no
//! middleware. `benches/service.sh` loads it in the same run as the real endpoints.

use axum::routing::get;
use axum::{Json, Router};

#[tokio::main]
async fn main() {
    let port = std::env::args().nth(1).unwrap_or_else(|| "8090".into());
    let app = Router::new().route(
        "/api/bare",
        get(|| async { Json(serde_json::json!({ "items": { "LAV-10": { "available": 12, "status": "in_stock" } } })) }),
    );
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
