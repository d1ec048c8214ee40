//! The newsletter: sign-ups from the home page's form and the API.

pub mod http;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};

/// Signs an address up (once; signing up again changes nothing).
pub async fn subscribe(db: &Db, email: &str) -> ApiResult<()> {
    let email = email.trim().to_lowercase();
    if !(email.contains('@')
        && email.len() <= 254
        && email.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')))
    {
        return Err(ApiError::invalid("email", "enter an e-mail address such as name@example.com"));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("insert into newsletter_subscriber (email, created_at) values ($1, $2) on conflict (email) do nothing")
        .bind(&email)
        .bind(crate::ids::now())
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
