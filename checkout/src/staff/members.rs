//! Staff members and roles: adding someone (an invitation when they have no account yet),
//! changing their role, removing them, and changing what a role may do. The rules that stop a
//! take-over live here, so the console and the command line obey the same ones: nobody grants
//! a permission they do not hold, nobody changes a member whose role holds more than theirs,
//! the owner role keeps every permission, and the last owner stays.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;

use super::audit::{self, Actor, Change};
use super::permissions::{default_roles, Permission, OWNER};
use crate::accounts::mail::{self, Message};
use crate::accounts::tokens::{self, Purpose};
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::AppState;

/// A role and what it may do.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Its name.
    pub role: String,
    /// As people read it.
    pub label: String,
    /// What it may do.
    pub permissions: BTreeSet<Permission>,
    /// How many staff hold it.
    pub members: i64,
}

/// A staff member as the team page lists them.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Their account.
    pub account_id: String,
    /// Their address.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: String,
    /// Whether two-factor sign-in is on (without it they cannot open the console).
    pub two_factor: bool,
    /// Whether they have chosen a password yet (an invitation not yet answered).
    pub joined: bool,
}

/// Makes the starting roles when there are none yet.
pub async fn ensure_roles(db: &Db) -> Result<(), sqlx::Error> {
    let any: Option<String> =
        sqlx::query_scalar("select role from staff_role limit 1").fetch_optional(&db.pool).await?;
    if any.is_some() {
        return owner_holds_everything(db).await;
    }
    let mut tx = db.begin_write().await?;
    let t = now();
    for (role, label, permissions) in default_roles() {
        let made =
            sqlx::query("insert into staff_role (role, label, created_at) values ($1, $2, $3) on conflict do nothing")
                .bind(role)
                .bind(label)
                .bind(t)
                .execute(&mut *tx.tx)
                .await?;
        if made.rows_affected() == 1 {
            for p in permissions {
                sqlx::query("insert into staff_role_permission (role, permission) values ($1, $2)")
                    .bind(role)
                    .bind(p.as_str())
                    .execute(&mut *tx.tx)
                    .await?;
            }
        }
    }
    tx.commit().await
}

/// The owner role holds every permission, those added to the code since the shop began too.
async fn owner_holds_everything(db: &Db) -> Result<(), sqlx::Error> {
    let held = permissions_of(db, OWNER).await?;
    if Permission::ALL.iter().all(|p| held.contains(p)) {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    for p in Permission::ALL {
        sqlx::query("insert into staff_role_permission (role, permission) values ($1, $2) on conflict do nothing")
            .bind(OWNER)
            .bind(p.as_str())
            .execute(&mut *tx.tx)
            .await?;
    }
    tx.commit().await
}

/// What a role may do (names the code no longer knows are ignored).
pub async fn permissions_of(db: &Db, role: &str) -> Result<BTreeSet<Permission>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar("select permission from staff_role_permission where role = $1")
        .bind(role)
        .fetch_all(&db.pool)
        .await?;
    Ok(names.iter().filter_map(|n| Permission::parse(n)).collect())
}

async fn permissions_in(tx: &mut WriteTx, role: &str) -> Result<BTreeSet<Permission>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar("select permission from staff_role_permission where role = $1")
        .bind(role)
        .fetch_all(&mut *tx.tx)
        .await?;
    Ok(names.iter().filter_map(|n| Permission::parse(n)).collect())
}

/// Every role, the owner's first.
pub async fn roles(db: &Db) -> Result<Vec<Role>, sqlx::Error> {
    ensure_roles(db).await?;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "select r.role, r.label, (select count(*) from staff_member m where m.role = r.role)
         from staff_role r order by case when r.role = $1 then 0 else 1 end, r.created_at, r.role",
    )
    .bind(OWNER)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (role, label, members) in rows {
        let permissions = permissions_of(db, &role).await?;
        out.push(Role { role, label, permissions, members });
    }
    Ok(out)
}

/// Every staff member, by name.
pub async fn members(db: &Db) -> Result<Vec<Member>, sqlx::Error> {
    type Row = (String, String, String, String, Option<i64>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "select a.account_id, a.email, a.name, m.role, a.totp_enabled_at, a.email_verified_at
         from staff_member m join account a on a.account_id = m.account_id order by lower(a.name), a.email",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(account_id, email, name, role, totp, verified)| Member {
            account_id,
            email,
            name,
            role,
            two_factor: totp.is_some(),
            // An invitation answered (or any sign-in) proves the address.
            joined: verified.is_some(),
        })
        .collect())
}

/// What the actor may grant: everything at the command line, their role's set in the console.
async fn held_by(tx: &mut WriteTx, actor: &Actor) -> Result<Option<BTreeSet<Permission>>, ApiError> {
    match actor {
        Actor::Shell { .. } => Ok(None),
        // Only carries out what someone asked for earlier: grants nothing.
        Actor::Recorded { .. } => Ok(Some(BTreeSet::new())),
        Actor::Staff { account_id, .. } => {
            let role: Option<String> =
                sqlx::query_scalar(&format!("select role from staff_member where account_id = $1{}", tx.lock_rows()))
                    .bind(account_id)
                    .fetch_optional(&mut *tx.tx)
                    .await?;
            let role = role.ok_or_else(|| ApiError::Forbidden("you are no longer on the staff".into()))?;
            Ok(Some(permissions_in(tx, &role).await?))
        }
    }
}

/// Refuses when `wanted` holds a permission the actor lacks.
fn within(held: &Option<BTreeSet<Permission>>, wanted: &BTreeSet<Permission>, what: &str) -> ApiResult<()> {
    let Some(held) = held else { return Ok(()) };
    let beyond: Vec<&str> = wanted.difference(held).map(|p| p.as_str()).collect();
    if beyond.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("{what} needs permissions you do not hold: {}", beyond.join(", "))))
    }
}

async fn role_label(tx: &mut WriteTx, role: &str) -> ApiResult<String> {
    let label: Option<String> = sqlx::query_scalar("select label from staff_role where role = $1")
        .bind(role)
        .fetch_optional(&mut *tx.tx)
        .await?;
    label.ok_or_else(|| ApiError::invalid("role", format!("there is no role \"{role}\"")))
}

/// What adding someone did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Their account.
    pub account_id: String,
    /// Their address, as kept (lowercase).
    pub email: String,
    /// Whether an account was made for them (and an invitation sent to choose its password).
    pub invited: bool,
}

/// Adds someone to the staff with a role: an account holder is told; an address with no
/// account gets one, and an invitation to choose its password (a link good for a week).
pub async fn add(state: &AppState, actor: &Actor, email: &str, name: &str, role: &str) -> ApiResult<Added> {
    let email = crate::accounts::parse_email(email)?;
    let email = email.as_str();
    let name = name.trim();
    ensure_roles(&state.db).await?;
    let mut tx = state.db.begin_write().await?;
    let label = role_label(&mut tx, role).await?;
    let held = held_by(&mut tx, actor).await?;
    within(&held, &permissions_in(&mut tx, role).await?, &format!("giving the role {label}"))?;
    let existing: Option<(String, String)> =
        sqlx::query_as(&format!("select account_id, name from account where email = $1{}", tx.lock_rows()))
            .bind(email)
            .fetch_optional(&mut *tx.tx)
            .await?;
    let t = now();
    let (account_id, invited) = match existing {
        Some((account_id, _)) => (account_id, false),
        None => {
            if name.is_empty() {
                return Err(ApiError::invalid(
                    "name",
                    "give the new staff member's name: the address has no account yet",
                ));
            }
            let account_id = new_id("acc");
            // No password yet: nothing matches an empty hash until the invitation is answered.
            let made = sqlx::query(
                "insert into account (account_id, email, name, password_hash, email_verified_at, password_changed_at, created_at, updated_at)
                 values ($1, $2, $3, '', null, $4, $4, $4) on conflict (email) do nothing",
            )
            .bind(&account_id)
            .bind(email)
            .bind(name)
            .bind(t)
            .execute(&mut *tx.tx)
            .await?;
            if made.rows_affected() == 0 {
                return Err(ApiError::Conflict(format!("{email} has just opened an account: add them again")));
            }
            (account_id, true)
        }
    };
    let made = sqlx::query(
        "insert into staff_member (account_id, role, added_by, created_at, updated_at) values ($1, $2, $3, $4, $4)
         on conflict (account_id) do nothing",
    )
    .bind(&account_id)
    .bind(role)
    .bind(actor.key())
    .bind(t)
    .execute(&mut *tx.tx)
    .await?;
    if made.rows_affected() == 0 {
        return Err(ApiError::Conflict(format!("{email} is on the staff already; change their role instead")));
    }
    let shown_name = existing_name(&mut tx, &account_id).await?;
    if invited {
        let token = tokens::issue(&mut tx, &account_id, Purpose::Invite).await?;
        mail::send(state, &mut tx, email, &shown_name, Message::StaffInvite { token: &token, role: &label }).await?;
    } else {
        mail::send(state, &mut tx, email, &shown_name, Message::StaffAdded { role: &label }).await?;
    }
    let change = Change {
        action: "staff.add",
        subject: Some(format!("account:{account_id}")),
        before: None,
        after: Some(json!({ "email": email, "role": role, "invited": invited })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(Added { account_id, email: email.to_string(), invited })
}

async fn existing_name(tx: &mut WriteTx, account_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("select name from account where account_id = $1").bind(account_id).fetch_one(&mut *tx.tx).await
}

/// A member's role now, their address, and what that role may do; refuses when the actor's
/// own role holds less (nobody changes someone who may do more than they may).
async fn member_for_change(
    tx: &mut WriteTx,
    held: &Option<BTreeSet<Permission>>,
    account_id: &str,
) -> ApiResult<(String, String)> {
    let row: Option<(String, String)> = sqlx::query_as(&format!(
        "select m.role, a.email from staff_member m join account a on a.account_id = m.account_id where m.account_id = $1{}",
        tx.lock_rows()
    ))
    .bind(account_id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    let (role, email) = row.ok_or_else(|| ApiError::NotFound("no such staff member".into()))?;
    within(held, &permissions_in(tx, &role).await?, &format!("changing {email}"))?;
    Ok((role, email))
}

/// Locks every owner's row, first and in one order (on PostgreSQL: two owners demoting each
/// other at once are then taken one after the other, and the second sees the first's change).
async fn lock_owners(tx: &mut WriteTx) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "select account_id from staff_member where role = $1 order by account_id{}",
        tx.lock_rows()
    ))
    .bind(OWNER)
    .fetch_all(&mut *tx.tx)
    .await
}

/// Refuses to leave the shop without an owner.
async fn keeps_an_owner(tx: &mut WriteTx, leaving: &str) -> ApiResult<()> {
    let others = lock_owners(tx).await?.into_iter().filter(|o| o != leaving).count();
    if others == 0 {
        return Err(ApiError::Conflict("this is the last owner: make someone else an owner first".into()));
    }
    Ok(())
}

/// Gives a staff member another role.
pub async fn set_role(state: &AppState, actor: &Actor, account_id: &str, role: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    lock_owners(&mut tx).await?;
    let label = role_label(&mut tx, role).await?;
    let held = held_by(&mut tx, actor).await?;
    let (before, email) = member_for_change(&mut tx, &held, account_id).await?;
    within(&held, &permissions_in(&mut tx, role).await?, &format!("giving the role {label}"))?;
    if before == role {
        return Ok(());
    }
    if before == OWNER {
        keeps_an_owner(&mut tx, account_id).await?;
    }
    sqlx::query("update staff_member set role = $1, updated_at = $2 where account_id = $3")
        .bind(role)
        .bind(now())
        .bind(account_id)
        .execute(&mut *tx.tx)
        .await?;
    let change = Change {
        action: "staff.role",
        subject: Some(format!("account:{account_id}")),
        before: Some(json!({ "email": email, "role": before })),
        after: Some(json!({ "email": email, "role": role })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(())
}

/// Takes someone off the staff (their customer account stays).
pub async fn remove(state: &AppState, actor: &Actor, account_id: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    lock_owners(&mut tx).await?;
    let held = held_by(&mut tx, actor).await?;
    let (role, email) = member_for_change(&mut tx, &held, account_id).await?;
    if role == OWNER {
        keeps_an_owner(&mut tx, account_id).await?;
    }
    sqlx::query("delete from staff_member where account_id = $1").bind(account_id).execute(&mut *tx.tx).await?;
    let change = Change {
        action: "staff.remove",
        subject: Some(format!("account:{account_id}")),
        before: Some(json!({ "email": email, "role": role })),
        after: None,
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets what a role may do. The owner role always may do everything; nobody adds or takes
/// away a permission they do not hold themselves.
pub async fn set_permissions(
    state: &AppState,
    actor: &Actor,
    role: &str,
    permissions: &BTreeSet<Permission>,
) -> ApiResult<()> {
    if role == OWNER {
        return Err(ApiError::Conflict("the owner role always holds every permission".into()));
    }
    let mut tx = state.db.begin_write().await?;
    // Two edits of one role at once: the second reads what the first left.
    let locked: Option<String> =
        sqlx::query_scalar(&format!("select role from staff_role where role = $1{}", tx.lock_rows()))
            .bind(role)
            .fetch_optional(&mut *tx.tx)
            .await?;
    if locked.is_none() {
        return Err(ApiError::NotFound(format!("there is no role \"{role}\"")));
    }
    let held = held_by(&mut tx, actor).await?;
    let before = permissions_in(&mut tx, role).await?;
    let touched: BTreeSet<Permission> = before.symmetric_difference(permissions).copied().collect();
    within(&held, &touched, "changing these permissions")?;
    if touched.is_empty() {
        return Ok(());
    }
    sqlx::query("delete from staff_role_permission where role = $1").bind(role).execute(&mut *tx.tx).await?;
    for p in permissions {
        sqlx::query("insert into staff_role_permission (role, permission) values ($1, $2)")
            .bind(role)
            .bind(p.as_str())
            .execute(&mut *tx.tx)
            .await?;
    }
    let names = |set: &BTreeSet<Permission>| set.iter().map(|p| p.as_str()).collect::<Vec<_>>();
    let change = Change {
        action: "staff.role_permissions",
        subject: Some(format!("role:{role}")),
        before: Some(json!(names(&before))),
        after: Some(json!(names(permissions))),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(())
}

/// The account of the staff member with this address.
pub async fn member_by_email(db: &Db, email: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select m.account_id from staff_member m join account a on a.account_id = m.account_id where a.email = $1",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(&db.pool)
    .await
}

/// Whether an account is on the staff (its sign-ins are audited).
pub async fn is_staff(db: &Db, account_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("select role from staff_member where account_id = $1")
        .bind(account_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(found.is_some())
}
