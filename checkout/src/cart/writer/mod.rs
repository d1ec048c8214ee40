//! The cart writer. When many shoppers edit their carts at once, what an edit costs is mostly
//! its transaction (SQLite's one writer, PostgreSQL's commit), not its rows. So edits queue
//! here, and a writer takes every edit waiting and applies them in one transaction with a
//! fixed handful of set-based statements, deciding each edit in arrival order exactly as it
//! would have been decided alone. A shopper is answered once the transaction holding their
//! edit has committed; an edit is never acknowledged and then lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::json;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{Cart, Edit, Edited, Line, Size, Target, MAX_PER_LINE};
use crate::db::{Db, Engine};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};

/// Edits taken into one transaction at most.
const BATCH: usize = 256;

/// The queue of cart edits; cloning it gives another handle to the same writers.
#[derive(Clone)]
pub struct CartWriter {
    queue: mpsc::Sender<Job>,
}

struct Job {
    target: Target,
    sku: String,
    edit: Edit,
    reply: oneshot::Sender<ApiResult<Edited>>,
}

impl CartWriter {
    /// Starts the writers on the current runtime: one for SQLite, which has one writer anyway;
    /// four for PostgreSQL, so that some gather edits while others wait for their commits.
    /// They stop when the last handle is dropped.
    pub fn start(db: Db) -> CartWriter {
        let (queue, rx) = mpsc::channel(4 * BATCH);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match db.engine {
            Engine::Sqlite => 1,
            Engine::Postgres => 4,
        };
        for _ in 0..writers {
            tokio::spawn(drain(db.clone(), rx.clone()));
        }
        CartWriter { queue }
    }

    /// Changes a line, checking the SKU, the quantity and what is available; the cart is made
    /// in the same transaction when the target allows it. Answers once the change is committed.
    pub async fn edit(&self, target: Target, sku: &str, edit: Edit) -> ApiResult<Edited> {
        let (reply, answer) = oneshot::channel();
        let job = Job { target, sku: sku.to_string(), edit, reply };
        self.queue.send(job).await.map_err(|_| ApiError::Internal("the cart writer has stopped".into()))?;
        answer.await.map_err(|_| ApiError::Internal("the cart writer stopped before answering".into()))?
    }
}

/// One writer: takes what is waiting (at least one edit), applies it, answers, again.
async fn drain(db: Db, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let sql = Sql::of(db.engine);
    loop {
        let mut jobs = Vec::with_capacity(BATCH);
        if rx.lock().await.recv_many(&mut jobs, BATCH).await == 0 {
            return;
        }
        // Each batch is a task of its own: were one to panic, its shoppers would get an error
        // (their answers dropped) and the writer would go on with the next batch.
        if let Err(e) = tokio::spawn(commit(db.clone(), sql, jobs)).await {
            tracing::error!(error = %e, "a batch of cart edits failed unexpectedly; its shoppers got an error");
        }
    }
}

/// Applies one batch and answers each of its shoppers.
async fn commit(db: Db, sql: Sql, jobs: Vec<Job>) {
    match apply(&db, &sql, &jobs).await {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                // A shopper who went away meanwhile still has their edit saved.
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, edits = jobs.len(), "cart edits failed; none was saved");
            for job in jobs {
                let _ = job.reply.send(Err(ApiError::Internal("your cart could not be saved; try again".into())));
            }
        }
    }
}

/// The statements, in each engine's way of reading a JSON array parameter (one statement text
/// whatever the number of edits, so each is prepared once).
#[derive(Clone, Copy)]
struct Sql {
    touch: &'static str,
    lines: &'static str,
    sizes: &'static str,
    new_carts: &'static str,
    upsert: &'static str,
    delete: &'static str,
}

impl Sql {
    fn of(engine: Engine) -> Sql {
        match engine {
            Engine::Sqlite => Sql {
                touch: "update cart set updated_at = $1 where cart_id in (select value from json_each($2)) returning cart_id",
                lines: "select cart_id, sku, quantity from cart_item where cart_id in (select value from json_each($1))",
                sizes: "select p.sku, p.title, p.label, p.path, p.price_minor, s.on_hand - s.reserved as available
                        from product p left join stock s on s.sku = p.sku
                        where p.active = 1 and p.sku in (select value from json_each($1))",
                new_carts: "insert into cart (cart_id, created_at, updated_at) select value, $2, $2 from json_each($1)",
                upsert: "insert into cart_item (cart_id, sku, quantity)
                         select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
                         from json_each($1) where true
                         on conflict (cart_id, sku) do update set quantity = excluded.quantity",
                delete: "delete from cart_item where (cart_id, sku) in
                         (select json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each($1))",
            },
            // The carts are locked in id order, so writers of several instances never deadlock.
            Engine::Postgres => Sql {
                touch: "update cart set updated_at = $1 where cart_id in
                        (select cart_id from cart where cart_id in (select jsonb_array_elements_text($2::jsonb))
                         order by cart_id for update)
                        returning cart_id",
                lines: "select cart_id, sku, quantity from cart_item
                        where cart_id in (select jsonb_array_elements_text($1::jsonb))",
                sizes: "select p.sku, p.title, p.label, p.path, p.price_minor, s.on_hand - s.reserved as available
                        from product p left join stock s on s.sku = p.sku
                        where p.active = 1 and p.sku in (select jsonb_array_elements_text($1::jsonb))",
                new_carts: "insert into cart (cart_id, created_at, updated_at)
                            select id, $2, $2 from jsonb_array_elements_text($1::jsonb) as id",
                upsert: "insert into cart_item (cart_id, sku, quantity)
                         select j->>0, j->>1, (j->>2)::bigint from jsonb_array_elements($1::jsonb) as j
                         on conflict (cart_id, sku) do update set quantity = excluded.quantity",
                delete: "delete from cart_item where (cart_id, sku) in
                         (select j->>0, j->>1 from jsonb_array_elements($1::jsonb) as j)",
            },
        }
    }
}

/// The active sizes the edits may touch, each with whether it has a stock row (without one,
/// nothing can be bought and a cart does not show it).
type Sizes = HashMap<String, (Size, bool)>;

/// The open carts the edits touch, line by line, as the edits leave them.
type Carts = HashMap<String, BTreeMap<String, i64>>;

/// Applies a batch of edits in one transaction; gives each edit its own outcome.
async fn apply(db: &Db, sql: &Sql, jobs: &[Job]) -> Result<Vec<ApiResult<Edited>>, sqlx::Error> {
    let given: BTreeSet<&str> = jobs.iter().filter_map(|j| given(&j.target)).collect();
    let mut tx = db.begin_write().await?;
    let t = now();
    // Touching a cart tells whether it is still open: a cart checked out and paid is gone,
    // though its cookie may linger in the browser.
    let mut carts: Carts = if given.is_empty() {
        HashMap::new()
    } else {
        let open: Vec<String> =
            sqlx::query_scalar(sql.touch).bind(t).bind(json!(given).to_string()).fetch_all(&mut **tx).await?;
        open.into_iter().map(|id| (id, BTreeMap::new())).collect()
    };
    if !carts.is_empty() {
        let ids: Vec<&String> = carts.keys().collect();
        let rows = sqlx::query(sql.lines).bind(json!(ids).to_string()).fetch_all(&mut **tx).await?;
        for r in rows {
            let cart_id: String = r.get("cart_id");
            if let Some(lines) = carts.get_mut(&cart_id) {
                lines.insert(r.get("sku"), r.get("quantity"));
            }
        }
    }
    let mut skus: BTreeSet<&str> = jobs.iter().map(|j| j.sku.as_str()).collect();
    skus.extend(carts.values().flat_map(|lines| lines.keys().map(String::as_str)));
    let mut sizes = Sizes::new();
    for r in sqlx::query(sql.sizes).bind(json!(skus).to_string()).fetch_all(&mut **tx).await? {
        let available: Option<i64> = r.get("available");
        let size = Size {
            title: r.get("title"),
            label: r.get("label"),
            path: r.get("path"),
            price_minor: r.get("price_minor"),
            available: available.unwrap_or(0),
        };
        sizes.insert(r.get("sku"), (size, available.is_some()));
    }

    let mut fresh = Vec::new();
    let mut dirty = BTreeSet::new();
    let decided: Vec<ApiResult<(String, bool)>> =
        jobs.iter().map(|job| decide(job, &sizes, &mut carts, &mut fresh, &mut dirty)).collect();

    if !fresh.is_empty() {
        sqlx::query(sql.new_carts).bind(json!(fresh).to_string()).bind(t).execute(&mut **tx).await?;
    }
    let (kept, removed): (Vec<_>, Vec<_>) = dirty
        .into_iter()
        .map(|(cart_id, sku)| {
            let quantity = carts.get(&cart_id).and_then(|lines| lines.get(&sku)).copied().unwrap_or(0);
            (cart_id, sku, quantity)
        })
        .partition(|(_, _, quantity)| *quantity > 0);
    if !kept.is_empty() {
        sqlx::query(sql.upsert).bind(json!(kept).to_string()).execute(&mut **tx).await?;
    }
    if !removed.is_empty() {
        let pairs: Vec<(&String, &String)> = removed.iter().map(|(c, s, _)| (c, s)).collect();
        sqlx::query(sql.delete).bind(json!(pairs).to_string()).execute(&mut **tx).await?;
    }
    tx.commit().await?;

    let mut shown: HashMap<String, Cart> = HashMap::new();
    Ok(decided
        .into_iter()
        .map(|outcome| {
            let (cart_id, created) = outcome?;
            let cart = shown.entry(cart_id.clone()).or_insert_with(|| view(&carts, &sizes, &cart_id)).clone();
            Ok(Edited { cart_id, created, cart })
        })
        .collect())
}

fn given(target: &Target) -> Option<&str> {
    match target {
        Target::Existing(id) => Some(id),
        Target::OrNew(id) => id.as_deref(),
    }
}

/// Decides one edit against the carts as the edits before it left them; on success, records
/// its change (and the cart it made) for writing.
fn decide(
    job: &Job,
    sizes: &Sizes,
    carts: &mut Carts,
    fresh: &mut Vec<String>,
    dirty: &mut BTreeSet<(String, String)>,
) -> ApiResult<(String, bool)> {
    let sku = &job.sku;
    let (size, _) = sizes.get(sku).ok_or_else(|| ApiError::NotFound(format!("no essence size with SKU {sku}")))?;
    let (cart_id, created) = match (given(&job.target).filter(|id| carts.contains_key(*id)), &job.target) {
        (Some(id), _) => (id.to_string(), false),
        (None, Target::Existing(_)) => {
            return Err(ApiError::NotFound(
                "this cart is no longer open (it was checked out); add the essence again".into(),
            ))
        }
        (None, Target::OrNew(_)) => (new_id("cart"), true),
    };
    let current = carts.get(&cart_id).and_then(|lines| lines.get(sku)).copied().unwrap_or(0);
    let wanted = match job.edit {
        Edit::Add(n) if n < 1 => return Err(ApiError::invalid("quantity", "add at least one")),
        Edit::Add(n) => current.saturating_add(n),
        Edit::Set(n) if n < 0 => return Err(ApiError::invalid("quantity", "a quantity cannot be negative")),
        Edit::Set(n) => n,
    };
    if wanted > MAX_PER_LINE {
        return Err(ApiError::invalid("quantity", format!("at most {MAX_PER_LINE} of one size per order")));
    }
    if wanted > size.available {
        let what = format!("{} {}", size.title, size.label);
        return Err(ApiError::Conflict(if size.available <= 0 {
            format!("{what} is sold out")
        } else {
            format!("only {} of {what} left", size.available)
        }));
    }
    if created {
        fresh.push(cart_id.clone());
    }
    let lines = carts.entry(cart_id.clone()).or_default();
    if wanted == 0 {
        lines.remove(sku);
    } else {
        lines.insert(sku.clone(), wanted);
    }
    dirty.insert((cart_id.clone(), sku.clone()));
    Ok((cart_id, created))
}

/// A cart as [`super::load`] would read it after the commit: active sizes with stock only.
fn view(carts: &Carts, sizes: &Sizes, cart_id: &str) -> Cart {
    let lines = carts.get(cart_id).into_iter().flatten();
    Cart::of(
        lines
            .filter_map(|(sku, quantity)| match sizes.get(sku) {
                Some((size, true)) => Some(Line::new(sku.clone(), *quantity, size)),
                _ => None,
            })
            .collect(),
    )
}
