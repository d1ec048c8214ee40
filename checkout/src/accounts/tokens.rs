//! The links mailed to an account's owner: a random token in the link, its SHA-256 in the
//! database, single-use and expiring (the mail that carried it is emptied once sent, so a copy
//! of the database opens no link).

use sha2::{Digest, Sha256};

use crate::db::WriteTx;
use crate::ids::{hex, now, random_hex};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Sets a new password.
    Reset,
    /// Confirms a new address for the account (the token's detail).
    NewEmail,
    /// Sets the first password of an account made for a new staff member.
    Invite,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::NewEmail => "new_email",
            Purpose::Invite => "invite",
        }
    }

    /// How long a link stays good, in seconds: thirty minutes to reset a password, a day to
    /// confirm a new address, a week to answer a staff invitation.
    pub fn lifetime(self) -> i64 {
        match self {
            Purpose::Reset => 30 * 60,
            Purpose::NewEmail => 24 * 3600,
            Purpose::Invite => 7 * 24 * 3600,
        }
    }
}

/// Whose a live token is.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The account's address.
    pub email: String,
    /// Its owner's name.
    pub name: String,
}

/// The owner of a live token, without using it.
pub async fn owner(db: &crate::db::Db, token: &str, purpose: Purpose) -> Result<Option<Owner>, sqlx::Error> {
    if !well_formed(token) {
        return Ok(None);
    }
    let row: Option<(String, String)> = sqlx::query_as(
        "select a.email, a.name from account_token t join account a on a.account_id = t.account_id
         where t.token_hash = $1 and t.purpose = $2 and t.expires_at > $3",
    )
    .bind(digest(&token.to_ascii_lowercase()))
    .bind(purpose.as_str())
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(email, name)| Owner { email, name }))
}

/// Whether a text has a token's shape (64 hexadecimal digits).
pub fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SHA-256 of a token, as stored (session tokens are kept the same way).
pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Makes a token for an account; gives the token, to be mailed (never stored).
pub async fn issue(tx: &mut WriteTx, account_id: &str, purpose: Purpose) -> Result<String, sqlx::Error> {
    issue_for(tx, account_id, purpose, None).await
}

/// Makes a token for an account that confirms something (a new address); gives the token.
pub async fn issue_for(
    tx: &mut WriteTx,
    account_id: &str,
    purpose: Purpose,
    detail: Option<&str>,
) -> Result<String, sqlx::Error> {
    let token = random_hex(32);
    let t = now();
    sqlx::query(
        "insert into account_token (token_hash, account_id, purpose, detail, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(digest(&token))
    .bind(account_id)
    .bind(purpose.as_str())
    .bind(detail)
    .bind(t)
    .bind(t + purpose.lifetime())
    .execute(&mut ***tx)
    .await?;
    Ok(token)
}

/// A token used: its account, and what it confirms.
#[derive(Debug, Clone)]
pub struct Redeemed {
    /// The account.
    pub account_id: String,
    /// What the link confirms (a new address), when it confirms something.
    pub detail: Option<String>,
}

/// Uses a token: gives its account when the token is good, and voids every token of that
/// purpose the account has (a second use of any of its links finds nothing).
pub async fn redeem(tx: &mut WriteTx, token: &str, purpose: Purpose) -> Result<Option<Redeemed>, sqlx::Error> {
    if !well_formed(token) {
        return Ok(None);
    }
    let lock = tx.lock_rows();
    let found: Option<(String, Option<String>)> = sqlx::query_as(&format!(
        "select account_id, detail from account_token where token_hash = $1 and purpose = $2 and expires_at > $3{lock}"
    ))
    .bind(digest(&token.to_ascii_lowercase()))
    .bind(purpose.as_str())
    .bind(now())
    .fetch_optional(&mut ***tx)
    .await?;
    let Some((account_id, detail)) = found else { return Ok(None) };
    void(tx, &account_id, purpose).await?;
    Ok(Some(Redeemed { account_id, detail }))
}

/// Voids every token of a purpose an account has (a reset's links once the password changed).
pub async fn void(tx: &mut WriteTx, account_id: &str, purpose: Purpose) -> Result<(), sqlx::Error> {
    sqlx::query("delete from account_token where account_id = $1 and purpose = $2")
        .bind(account_id)
        .bind(purpose.as_str())
        .execute(&mut ***tx)
        .await?;
    Ok(())
}

/// Deletes expired tokens; gives how many.
pub async fn prune(db: &crate::db::Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from account_token where expires_at <= $1").bind(now()).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
