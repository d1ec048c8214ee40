//! The cart writer on SQLite: one thread with a connection of its own. SQLite has one writer
//! anyway, and on this thread a batch runs its statements (prepared once) without handing each
//! one to a connection's thread and waiting to be woken, which is what a statement through the
//! pool costs. It takes the process's writer lock for each batch, like every other write.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::mpsc;

use super::{answer, decide_all, given_carts, needed_skus, replies, Carts, Job, Sizes, BATCH};
use crate::cart::{EditError, Edited, Size};
use crate::db::{open_sqlite, Db};
use crate::ids::now;

/// Why the SQLite cart writer could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database file would not open.
    #[error("the cart writer could not open the SQLite database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The pool is on SQLite without a file to share.
    #[error("the cart writer needs the SQLite database in a file")]
    NoFile,
    /// The thread would not start.
    #[error("the cart writer's thread could not start: {0}")]
    Thread(std::io::Error),
}

const TOUCH: &str = "update cart set updated_at = ?1 where cart_id = ?2";
const LINES: &str = "select sku, quantity from cart_item where cart_id = ?1";
const SIZE: &str = "select p.title, p.label, p.path, p.price_minor, s.on_hand - s.reserved, p.currency
    from product p left join stock s on s.sku = p.sku
    where p.active = 1 and p.sku = ?1";
const NEW_CART: &str = "insert into cart (cart_id, created_at, updated_at) values (?1, ?2, ?2)";
const UPSERT: &str = "insert into cart_item (cart_id, sku, quantity) values (?1, ?2, ?3)
    on conflict (cart_id, sku) do update set quantity = excluded.quantity";
const DELETE: &str = "delete from cart_item where cart_id = ?1 and sku = ?2";

/// Opens the writer's connection and starts its thread; it stops when the queue closes.
pub(super) fn start(db: Db, rx: mpsc::Receiver<Job>) -> Result<(), OpenError> {
    let path = db.sqlite_file().ok_or(OpenError::NoFile)?.to_path_buf();
    let conn = open_sqlite(&path).map_err(|source| OpenError::Open { path, source })?;
    std::thread::Builder::new()
        .name("cart-writer".into())
        .spawn(move || run(db, conn, rx))
        .map_err(OpenError::Thread)?;
    Ok(())
}

/// Takes what is waiting (at least one edit), applies it, answers, again.
fn run(db: Db, mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = Vec::with_capacity(BATCH);
        jobs.push(first);
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // Were a batch to panic, its transaction rolls back, its shoppers get an error and the
        // writer goes on with the next batch.
        let outcomes = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _writer = db.blocking_write_lock();
            apply(&mut conn, &jobs).map_err(|e| e.to_string())
        }))
        .unwrap_or_else(|_| Err("the batch failed unexpectedly".to_string()));
        answer(jobs, outcomes);
    }
}

/// Applies a batch of edits in one transaction; gives each edit its own outcome.
fn apply(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<Vec<Result<Edited, EditError>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let t = now();
    let mut carts = Carts::new();
    {
        // Touching a cart tells whether it is still open: a cart checked out and paid is gone,
        // though its cookie may linger in the browser.
        let mut touch = tx.prepare_cached(TOUCH)?;
        let mut lines = tx.prepare_cached(LINES)?;
        for id in given_carts(jobs) {
            if touch.execute(params![t, id])? == 1 {
                let rows = lines.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                carts.insert(id.to_string(), rows.collect::<rusqlite::Result<BTreeMap<String, i64>>>()?);
            }
        }
    }
    let mut sizes = Sizes::new();
    {
        let mut size = tx.prepare_cached(SIZE)?;
        for sku in needed_skus(jobs, &carts) {
            let row = size
                .query_row([sku], |r| {
                    let available: Option<i64> = r.get(4)?;
                    let size = Size {
                        title: r.get(0)?,
                        label: r.get(1)?,
                        path: r.get(2)?,
                        price_minor: r.get(3)?,
                        currency: crate::catalog::currency_of(&r.get::<_, String>(5)?),
                        available: available.unwrap_or(0),
                    };
                    Ok((size, available.is_some()))
                })
                .optional()?;
            if let Some(found) = row {
                sizes.insert(sku.to_string(), found);
            }
        }
    }

    let (decided, changes) = decide_all(jobs, &sizes, &mut carts);
    {
        let mut new_cart = tx.prepare_cached(NEW_CART)?;
        for id in &changes.fresh {
            new_cart.execute(params![id, t])?;
        }
        let mut upsert = tx.prepare_cached(UPSERT)?;
        for (cart_id, sku, quantity) in &changes.kept {
            upsert.execute(params![cart_id, sku, quantity])?;
        }
        let mut delete = tx.prepare_cached(DELETE)?;
        for (cart_id, sku) in &changes.removed {
            delete.execute(params![cart_id, sku])?;
        }
    }
    tx.commit()?;
    Ok(replies(decided, &carts, &sizes))
}
