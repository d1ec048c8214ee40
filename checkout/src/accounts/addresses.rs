//! An account's address book: addresses checked as the checkout checks them, a default for
//! shipping and one for billing, the shipping one filling in the checkout.

use serde::{Deserialize, Serialize};

use crate::checkout::{check_address, AddressInput};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::AppState;

/// The most addresses an account keeps.
const MOST: i64 = 20;

/// An address in the book.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Address {
    /// Its id.
    pub address_id: String,
    /// Full name.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, building.
    pub line2: String,
    /// Postal code, as the country's post writes it.
    pub postal_code: String,
    /// Town.
    pub city: String,
    /// ISO code of the country.
    pub country: String,
    /// The country's name.
    pub country_name: String,
    /// Whether the checkout is filled in with it.
    pub default_shipping: bool,
    /// Whether it is where invoices are addressed.
    pub default_billing: bool,
}

/// An address to keep, and whether it becomes a default.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AddressEntry {
    /// The address.
    #[serde(flatten)]
    pub address: AddressInput,
    /// Make it the shipping default.
    pub default_shipping: bool,
    /// Make it the billing default.
    pub default_billing: bool,
}

type Row = (String, String, String, String, String, String, String, i64, i64);

fn from_row(r: Row) -> Address {
    let country_name = crate::checkout::pricing::COUNTRIES
        .iter()
        .find(|(c, _, _)| *c == r.6)
        .map(|(_, n, _)| n.to_string())
        .unwrap_or_else(|| r.6.clone());
    Address {
        address_id: r.0,
        name: r.1,
        line1: r.2,
        line2: r.3,
        postal_code: r.4,
        city: r.5,
        country: r.6,
        country_name,
        default_shipping: r.7 == 1,
        default_billing: r.8 == 1,
    }
}

const COLUMNS: &str = "address_id, name, line1, line2, postal_code, city, country, default_shipping, default_billing";

/// The account's addresses, defaults first.
pub async fn list(state: &AppState, account_id: &str) -> ApiResult<Vec<Address>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {COLUMNS} from account_address where account_id = $1
         order by default_shipping desc, default_billing desc, created_at, address_id"
    ))
    .bind(account_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The account's defaults, for the checkout: shipping, and billing when it is another address.
pub async fn defaults(state: &AppState, account_id: &str) -> ApiResult<(Option<Address>, Option<Address>)> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {COLUMNS} from account_address where account_id = $1 and (default_shipping = 1 or default_billing = 1)"
    ))
    .bind(account_id)
    .fetch_all(&state.db.pool)
    .await?;
    let (mut shipping, mut billing) = (None, None);
    for a in rows.into_iter().map(from_row) {
        if a.default_shipping {
            shipping = Some(a);
        } else if a.default_billing {
            billing = Some(a);
        }
    }
    Ok((shipping, billing))
}

/// Keeps an address (the first one is both defaults); gives it.
pub async fn add(state: &AppState, account_id: &str, entry: &AddressEntry) -> ApiResult<Address> {
    let mut errors = Vec::new();
    let checked = check_address(&entry.address, &mut errors);
    let Some(((country, _, _), postal_code)) = checked.filter(|_| errors.is_empty()) else {
        return Err(errors.into_iter().next().unwrap_or_else(|| ApiError::invalid("address", "check the address")));
    };
    let a = &entry.address;
    let mut tx = state.db.begin_write().await?;
    let held: i64 = sqlx::query_scalar("select count(*) from account_address where account_id = $1")
        .bind(account_id)
        .fetch_one(&mut **tx)
        .await?;
    if held >= MOST {
        return Err(ApiError::Conflict(format!("an account keeps at most {MOST} addresses; delete one first")));
    }
    let first = held == 0;
    let (shipping, billing) = (entry.default_shipping || first, entry.default_billing || first);
    let id = new_id("adr");
    if shipping {
        sqlx::query("update account_address set default_shipping = 0 where account_id = $1")
            .bind(account_id)
            .execute(&mut **tx)
            .await?;
    }
    if billing {
        sqlx::query("update account_address set default_billing = 0 where account_id = $1")
            .bind(account_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "insert into account_address (address_id, account_id, name, line1, line2, postal_code, city, country,
           default_shipping, default_billing, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(account_id)
    .bind(a.name.trim())
    .bind(a.line1.trim())
    .bind(a.line2.trim())
    .bind(&postal_code)
    .bind(a.city.trim())
    .bind(country)
    .bind(i64::from(shipping))
    .bind(i64::from(billing))
    .bind(now())
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    let all = list(state, account_id).await?;
    all.into_iter().find(|x| x.address_id == id).ok_or_else(|| ApiError::Internal("address vanished".into()))
}

/// Which default an address becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// Where the checkout ships.
    Shipping,
    /// Where invoices go.
    Billing,
}

/// Makes one of the account's addresses a default; says whether it had such an address.
pub async fn make_default(state: &AppState, account_id: &str, address_id: &str, which: Default) -> ApiResult<bool> {
    let column = match which {
        Default::Shipping => "default_shipping",
        Default::Billing => "default_billing",
    };
    let mut tx = state.db.begin_write().await?;
    let mine: Option<String> =
        sqlx::query_scalar("select address_id from account_address where address_id = $1 and account_id = $2")
            .bind(address_id)
            .bind(account_id)
            .fetch_optional(&mut **tx)
            .await?;
    if mine.is_none() {
        return Ok(false);
    }
    sqlx::query(&format!(
        "update account_address set {column} = case when address_id = $1 then 1 else 0 end where account_id = $2"
    ))
    .bind(address_id)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes one of the account's addresses (a default passes to the oldest left); says whether
/// it had it.
pub async fn remove(state: &AppState, account_id: &str, address_id: &str) -> ApiResult<bool> {
    let mut tx = state.db.begin_write().await?;
    let gone = sqlx::query("delete from account_address where address_id = $1 and account_id = $2")
        .bind(address_id)
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    for column in ["default_shipping", "default_billing"] {
        sqlx::query(&format!(
            "update account_address set {column} = 1 where account_id = $1
             and not exists (select 1 from account_address where account_id = $1 and {column} = 1)
             and address_id = (select address_id from account_address where account_id = $1 order by created_at, address_id limit 1)"
        ))
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    }
    tx.commit().await?;
    Ok(gone.rows_affected() == 1)
}
