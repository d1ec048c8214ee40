//! The cart writers on PostgreSQL: a few tasks, each with a connection of its own, so that some
//! gather edits while others wait for their commits. Each statement is a round trip, so each
//! reads or writes the whole batch at once, over a JSON array parameter.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use sqlx::{AnyConnection, Connection, Row};
use tokio::sync::{mpsc, Mutex};

use super::{answer, decide_all, given_carts, needed_skus, replies, Carts, Changes, Job, Sizes, BATCH};
use crate::cart::{EditError, Edited, Size};
use crate::db::Db;
use crate::ids::now;

/// Writers per instance. With PostgreSQL on the same two cores, new carts at 1, 2, 3, 4 and 8
/// writers measured 35.7–39.1k, 35.0–37.3k, 32.2k, 33.2k and 30.1k a second (p99 64 ms at 8),
/// and edits of open carts 26.0k at 1 and 25.0k at 2; two keep a round trip in flight while
/// the other's batch is decided, which matters more when PostgreSQL is across a network.
const WRITERS: usize = 2;

// The carts are locked in id order, so writers of several instances never deadlock.
const TOUCH: &str = "update cart set updated_at = $1 where cart_id in
    (select cart_id from cart where cart_id in (select jsonb_array_elements_text($2::jsonb))
     order by cart_id for update)
    returning cart_id";
// `= any(array(…))`, not `in (select …)`: the generic plan of the latter guessed that a batch's
// carts hold half the lines and scanned them all (956 edits/s on 300k lines, against 16.7k with this).
const LINES: &str = "select cart_id, sku, quantity from cart_item
    where cart_id = any(array(select jsonb_array_elements_text($1::jsonb)))";
const SIZES: &str =
    "select p.sku, p.title, p.label, p.path, p.price_minor, p.currency, s.on_hand - s.reserved as available
    from product p left join stock s on s.sku = p.sku
    where p.active = 1 and p.sku in (select jsonb_array_elements_text($1::jsonb))";
// Every change of a batch in one statement, a round trip for all: the new carts, the lines
// kept and the lines removed (disjoint, so no row is changed twice). The lines' foreign-key
// checks run at the end of the statement, when the new carts are there.
const WRITE: &str = "with new_carts as (
        insert into cart (cart_id, created_at, updated_at)
        select id, $2, $2 from jsonb_array_elements_text($1::jsonb) as id
    ), kept as (
        insert into cart_item (cart_id, sku, quantity)
        select j->>0, j->>1, (j->>2)::bigint from jsonb_array_elements($3::jsonb) as j
        on conflict (cart_id, sku) do update set quantity = excluded.quantity
    )
    delete from cart_item where (cart_id, sku) in
        (select j->>0, j->>1 from jsonb_array_elements($4::jsonb) as j)";

/// Starts the writers on the current runtime.
pub(super) fn start(db: Db, rx: mpsc::Receiver<Job>) {
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WRITERS {
        tokio::spawn(drain(db.clone(), rx.clone()));
    }
}

/// One writer: takes what is waiting (at least one edit), applies it, answers, again.
async fn drain(db: Db, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut held: Option<AnyConnection> = None;
    loop {
        let mut jobs = Vec::with_capacity(BATCH);
        if rx.lock().await.recv_many(&mut jobs, BATCH).await == 0 {
            return;
        }
        // Each batch is a task of its own: were one to panic, its shoppers would get an error
        // (their answers dropped) and the writer would go on with the next batch.
        let db = db.clone();
        let conn = held.take();
        let batch = tokio::spawn(async move {
            let held = match conn {
                Some(conn) => Ok(conn),
                None => connect(&db).await,
            };
            let mut conn = match held {
                Ok(conn) => conn,
                Err(e) => {
                    answer(jobs, Err(e));
                    return None;
                }
            };
            let mut outcomes = apply(&mut conn, &jobs).await;
            // Failing before anything was written (a connection the server closed while it was
            // held, say), the batch is tried once more on a new connection: a restart of
            // PostgreSQL or an idle timeout costs the shoppers nothing.
            if let Err(Failed { error, written: false }) = &outcomes {
                tracing::warn!(%error, "cart edits could not be read; trying again on a new connection");
                match connect(&db).await {
                    Ok(fresh) => {
                        conn = fresh;
                        outcomes = apply(&mut conn, &jobs).await;
                    }
                    Err(e) => {
                        answer(jobs, Err(e));
                        return None;
                    }
                }
            }
            // After a failure the connection may be broken: the next batch gets a new one.
            let keep = outcomes.is_ok();
            answer(jobs, outcomes.map_err(|f| f.error));
            keep.then_some(conn)
        });
        match batch.await {
            Ok(conn) => held = conn,
            Err(e) => {
                tracing::error!(error = %e, "a batch of cart edits failed unexpectedly; its shoppers got an error")
            }
        }
    }
}

/// A connection of the writer's own, taken out of the pool, whose commits do not wait for the
/// disk (a session setting: behind PgBouncer, use session pooling): a cart edit is not worth an `fsync` (orders, stock and payments still wait for
/// theirs). A PostgreSQL crash within a fraction of a second could lose it, as a power cut
/// could under SQLite's `synchronous = normal`; an order's commit makes every earlier commit
/// durable, so no order is left with a lost cart. Measured (with the connection held rather than
/// taken from the pool for each batch): 18.4k edits/s with p99 8.4 ms before, 24.0k–24.7k with
/// p99 5.2–8.3 ms after.
async fn connect(db: &Db) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = db.pool.acquire().await?.detach();
    sqlx::query("set synchronous_commit = off").execute(&mut conn).await?;
    Ok(conn)
}

/// A batch that failed, and whether it got as far as writing (then it cannot be retried: its
/// write may have been committed).
struct Failed {
    error: sqlx::Error,
    written: bool,
}

fn before(error: sqlx::Error) -> Failed {
    Failed { error, written: false }
}

fn during(error: sqlx::Error) -> Failed {
    Failed { error, written: true }
}

/// Applies a batch of edits atomically; gives each edit its own outcome.
async fn apply(conn: &mut AnyConnection, jobs: &[Job]) -> Result<Vec<Result<Edited, EditError>>, Failed> {
    let given = given_carts(jobs);
    let t = now();
    if given.is_empty() {
        // Only new carts (every shopper's first bottle): nothing to lock, and under READ
        // COMMITTED a transaction would give the read no snapshot it lacks alone, while the
        // one write is atomic by itself. Two round trips instead of four.
        let mut carts = Carts::new();
        let sizes = read_sizes(conn, jobs, &carts).await.map_err(before)?;
        let (decided, changes) = decide_all(jobs, &sizes, &mut carts);
        write(conn, &changes, t).await.map_err(during)?;
        return Ok(replies(decided, &carts, &sizes));
    }
    let mut tx = conn.begin().await.map_err(before)?;
    // Touching a cart tells whether it is still open: a cart checked out and paid is gone,
    // though its cookie may linger in the browser.
    let open: Vec<String> =
        sqlx::query_scalar(TOUCH).bind(t).bind(json!(given).to_string()).fetch_all(&mut *tx).await.map_err(before)?;
    let mut carts: Carts = open.into_iter().map(|id| (id, BTreeMap::new())).collect();
    if !carts.is_empty() {
        let ids: Vec<&String> = carts.keys().collect();
        let rows = sqlx::query(LINES).bind(json!(ids).to_string()).fetch_all(&mut *tx).await.map_err(before)?;
        for r in rows {
            let cart_id: String = r.get("cart_id");
            if let Some(lines) = carts.get_mut(&cart_id) {
                lines.insert(r.get("sku"), r.get("quantity"));
            }
        }
    }
    let sizes = read_sizes(&mut tx, jobs, &carts).await.map_err(before)?;
    let (decided, changes) = decide_all(jobs, &sizes, &mut carts);
    write(&mut tx, &changes, t).await.map_err(during)?;
    tx.commit().await.map_err(during)?;
    Ok(replies(decided, &carts, &sizes))
}

/// The sizes the batch needs.
async fn read_sizes(conn: &mut AnyConnection, jobs: &[Job], carts: &Carts) -> Result<Sizes, sqlx::Error> {
    let skus = json!(needed_skus(jobs, carts)).to_string();
    let mut sizes = Sizes::new();
    for r in sqlx::query(SIZES).bind(skus).fetch_all(conn).await? {
        let available: Option<i64> = r.get("available");
        let size = Size::from_row(&r, available.unwrap_or(0));
        sizes.insert(r.get("sku"), (size, available.is_some()));
    }
    Ok(sizes)
}

/// Writes what the batch changed, in one statement.
async fn write(conn: &mut AnyConnection, changes: &Changes, t: i64) -> Result<(), sqlx::Error> {
    if changes.fresh.is_empty() && changes.kept.is_empty() && changes.removed.is_empty() {
        return Ok(());
    }
    sqlx::query(WRITE)
        .bind(json!(changes.fresh).to_string())
        .bind(t)
        .bind(json!(changes.kept).to_string())
        .bind(json!(changes.removed).to_string())
        .execute(conn)
        .await?;
    Ok(())
}
