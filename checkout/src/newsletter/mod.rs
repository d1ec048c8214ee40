//! The newsletter: sign-ups from the home page's form and the API.

pub mod http;

use crate::db::Db;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};

/// Signs an address up (once; signing up again changes nothing).
pub async fn subscribe(db: &Db, email: &str) -> ApiResult<()> {
    let email = EmailAddress::parse(email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let mut tx = db.begin_write().await?;
    sqlx::query("insert into newsletter_subscriber (email, created_at) values ($1, $2) on conflict (email) do nothing")
        .bind(email.as_str())
        .bind(crate::ids::now())
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
