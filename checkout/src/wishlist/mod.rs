//! Wishlists, per size. A guest's is kept in its browser (a cookie of SKUs, so it works without
//! JavaScript and without an account) and joins the account's at sign-in; a signed-in shopper's
//! is the account's, in every browser. A size that is sold out can be watched: one e-mail when
//! it is back, sent from the same transaction that brings it back (see [`back_in_stock`]).

pub mod back_in_stock;
pub mod http;

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Serialize;

use crate::cart::Amount;
use crate::catalog::currency_of;
use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::AppState;

/// The name of a guest's wishlist cookie.
pub const COOKIE: &str = "atelier_wishlist";
/// The most sizes a wishlist holds.
pub const MOST: usize = 50;
/// How long a guest's wishlist is kept by its browser, in seconds: a year.
const COOKIE_LIFETIME: i64 = 365 * 24 * 3600;

/// Whose wishlist a request is about.
#[derive(Debug, Clone)]
pub enum Owner {
    /// A signed-in shopper's: the account's.
    Account(String),
    /// A guest's: the SKUs its cookie holds.
    Guest(Vec<String>),
}

/// A size kept in a wishlist, as today's catalog and stock show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Wish {
    /// The size's SKU.
    pub sku: String,
    /// The essence.
    pub title: String,
    /// The size.
    pub label: String,
    /// The essence's page.
    pub path: String,
    /// Today's price of one bottle.
    pub price: Amount,
    /// `in_stock`, `low_stock` or `sold_out`.
    pub status: String,
    /// Bottles that could be ordered now.
    pub available: i64,
}

/// A wishlist.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Wishlist {
    /// The sizes, the latest kept first.
    pub items: Vec<Wish>,
    /// How many.
    pub count: usize,
}

/// Whether a text has the shape of a SKU (`LAV-PROV-30`).
pub fn sku_shaped(sku: &str) -> bool {
    (2..=40).contains(&sku.len())
        && sku
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

/// The SKUs of a guest's wishlist cookie (the well-formed ones, each once, at most [`MOST`]).
pub fn guest_of(headers: &HeaderMap) -> Vec<String> {
    let jar = CookieJar::from_headers(headers);
    let mut skus: Vec<String> = Vec::new();
    for sku in jar.get(COOKIE).map(Cookie::value).unwrap_or("").split('.') {
        if sku_shaped(sku) && !skus.iter().any(|s| s == sku) && skus.len() < MOST {
            skus.push(sku.to_string());
        }
    }
    skus
}

/// A guest's wishlist cookie holding these SKUs (removed when there are none).
pub fn guest_cookie(skus: &[String], public_url: &str) -> Cookie<'static> {
    Cookie::build((COOKIE, skus.join(".")))
        .path("/")
        .max_age(cookie::time::Duration::seconds(if skus.is_empty() { 0 } else { COOKIE_LIFETIME }))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(public_url.starts_with("https://"))
        .build()
}

/// The SKUs of a wishlist, the latest kept first.
pub async fn skus(state: &AppState, owner: &Owner) -> ApiResult<Vec<String>> {
    match owner {
        Owner::Guest(skus) => Ok(skus.iter().rev().cloned().collect()),
        Owner::Account(account_id) => {
            Ok(sqlx::query_scalar("select sku from wishlist_item where account_id = $1 order by added_at desc, sku")
                .bind(account_id)
                .fetch_all(&state.db.pool)
                .await?)
        }
    }
}

/// A size's SKU, title, label, path, price, currency, and available, on hand and threshold.
type WishRow = (String, String, String, String, i64, String, i64, i64, i64);

/// A wishlist as today's catalog and stock show it (sizes no longer sold are left out), read
/// in one query.
pub async fn view(state: &AppState, owner: &Owner) -> ApiResult<Wishlist> {
    let skus = skus(state, owner).await?;
    if skus.is_empty() {
        return Ok(Wishlist { items: Vec::new(), count: 0 });
    }
    let marks: Vec<String> = (1..=skus.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "select p.sku, p.title, p.label, p.path, p.price_minor, p.currency,
                coalesce(s.on_hand - s.reserved, 0), coalesce(s.on_hand, 0), coalesce(s.low_threshold, 0)
         from product p left join stock s on s.sku = p.sku where p.active = 1 and p.sku in ({})",
        marks.join(", ")
    );
    let rows: Vec<WishRow> =
        skus.iter().fold(sqlx::query_as(&sql), |q, sku| q.bind(sku)).fetch_all(&state.db.pool).await?;
    // In the wishlist's order, the latest kept first.
    let items: Vec<Wish> = skus
        .iter()
        .filter_map(|sku| rows.iter().find(|r| &r.0 == sku))
        .map(|(sku, title, label, path, price, currency, available, on_hand, threshold)| {
            let level = crate::stock::Level { available: *available, on_hand: *on_hand, threshold: *threshold };
            Wish {
                sku: sku.clone(),
                title: title.clone(),
                label: label.clone(),
                path: path.clone(),
                price: Amount::new(*price, currency_of(currency)),
                status: level.status().to_string(),
                available: (*available).max(0),
            }
        })
        .collect();
    Ok(Wishlist { count: items.len(), items })
}

/// Refuses a SKU that is not a size on sale.
async fn on_sale(state: &AppState, sku: &str) -> ApiResult<()> {
    let known: Option<i64> = sqlx::query_scalar("select 1 from product where sku = $1 and active = 1")
        .bind(sku)
        .fetch_optional(&state.db.pool)
        .await?;
    known.map(|_| ()).ok_or_else(|| ApiError::NotFound(format!("no essence size has the SKU {sku}")))
}

fn full() -> ApiError {
    ApiError::Conflict(format!("a wishlist keeps at most {MOST} sizes: remove one first"))
}

/// Keeps a size in a wishlist (kept already: nothing changes); gives the wishlist's owner with
/// the size in it.
pub async fn add(state: &AppState, owner: Owner, sku: &str) -> ApiResult<Owner> {
    if !sku_shaped(sku) {
        return Err(ApiError::invalid("sku", "not a SKU such as LAV-PROV-30"));
    }
    on_sale(state, sku).await?;
    match owner {
        Owner::Guest(mut skus) => {
            if !skus.iter().any(|s| s == sku) {
                if skus.len() >= MOST {
                    return Err(full());
                }
                skus.push(sku.to_string());
            }
            Ok(Owner::Guest(skus))
        }
        Owner::Account(account_id) => {
            let mut tx = state.db.begin_write().await?;
            let held: i64 = sqlx::query_scalar("select count(*) from wishlist_item where account_id = $1")
                .bind(&account_id)
                .fetch_one(&mut **tx)
                .await?;
            let made = sqlx::query(
                "insert into wishlist_item (account_id, sku, added_at)
                 select $1, $2, $3 where $4 < $5 on conflict do nothing",
            )
            .bind(&account_id)
            .bind(sku)
            .bind(now())
            .bind(held)
            .bind(MOST as i64)
            .execute(&mut **tx)
            .await?;
            let kept: Option<i64> =
                sqlx::query_scalar("select 1 from wishlist_item where account_id = $1 and sku = $2")
                    .bind(&account_id)
                    .bind(sku)
                    .fetch_optional(&mut **tx)
                    .await?;
            tx.commit().await?;
            if made.rows_affected() == 0 && kept.is_none() {
                return Err(full());
            }
            Ok(Owner::Account(account_id))
        }
    }
}

/// Takes a size out of a wishlist (not in it: nothing changes).
pub async fn remove(state: &AppState, owner: Owner, sku: &str) -> ApiResult<Owner> {
    if !sku_shaped(sku) {
        return Err(ApiError::invalid("sku", "not a SKU such as LAV-PROV-30"));
    }
    match owner {
        Owner::Guest(skus) => Ok(Owner::Guest(skus.into_iter().filter(|s| s != sku).collect())),
        Owner::Account(account_id) => {
            let mut tx = state.db.begin_write().await?;
            sqlx::query("delete from wishlist_item where account_id = $1 and sku = $2")
                .bind(&account_id)
                .bind(sku)
                .execute(&mut **tx)
                .await?;
            tx.commit().await?;
            Ok(Owner::Account(account_id))
        }
    }
}

/// A guest's wishlist joins the account's at sign-in: sizes on sale that it lacks, up to
/// [`MOST`]; joining twice changes nothing.
pub async fn adopt(state: &AppState, account_id: &str, guest: &[String]) -> ApiResult<()> {
    if guest.is_empty() {
        return Ok(());
    }
    let mut tx = state.db.begin_write().await?;
    let t = now();
    let mut held: i64 = sqlx::query_scalar("select count(*) from wishlist_item where account_id = $1")
        .bind(account_id)
        .fetch_one(&mut **tx)
        .await?;
    for (i, sku) in guest.iter().enumerate() {
        if held >= MOST as i64 {
            break;
        }
        // Later in the cookie is kept later: the order of keeping survives the move.
        let added = sqlx::query(
            "insert into wishlist_item (account_id, sku, added_at)
             select $1, sku, $3 from product where sku = $2 and active = 1 on conflict do nothing",
        )
        .bind(account_id)
        .bind(sku)
        .bind(t + i as i64)
        .execute(&mut **tx)
        .await?;
        held += added.rows_affected() as i64;
    }
    tx.commit().await?;
    Ok(())
}
