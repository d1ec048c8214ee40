//! The cart writer. When many shoppers edit their carts at once, what an edit costs is mostly
//! its transaction (SQLite's one writer, PostgreSQL's commit), not its rows. So edits queue
//! here, and a writer takes every edit waiting and applies them in one transaction, deciding
//! each edit in arrival order exactly as it would have been decided alone. A shopper is
//! answered once the transaction holding their edit has committed. (A cart's commit does not
//! wait for the disk: a PostgreSQL crash, or a power cut under SQLite's `synchronous =
//! normal`, may lose the last fraction of a second of cart edits.)
//!
//! What to read and write is decided here, the same for both engines; how is each engine's
//! own: [`sqlite`] runs one thread with its own connection and statements prepared once (every
//! statement through the pool would be a hand-off between threads), [`postgres`] runs a few
//! writers with set-based statements (every statement is a round trip).

mod postgres;
mod sqlite;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use atelier_domain::Sku;
use tokio::sync::{mpsc, oneshot};

use super::EditError;
use super::{Cart, Edit, Edited, Line, Size, Target, MAX_PER_LINE};
use crate::db::{Db, Engine};
use crate::ids::new_id;

pub use sqlite::OpenError;

/// Edits taken into one transaction at most.
const BATCH: usize = 256;

/// The queue of cart edits; cloning it gives another handle to the same writers.
#[derive(Clone)]
pub struct CartWriter {
    queue: mpsc::Sender<Job>,
}

/// One shopper's edit, waiting for its answer.
struct Job {
    target: Target,
    sku: String,
    edit: Edit,
    reply: oneshot::Sender<Result<Edited, EditError>>,
}

impl CartWriter {
    /// Starts the writers (the PostgreSQL ones on the current Tokio runtime). They stop when the
    /// last handle is dropped.
    pub fn start(db: Db) -> Result<CartWriter, OpenError> {
        let (queue, rx) = mpsc::channel(4 * BATCH);
        match db.engine {
            Engine::Sqlite => sqlite::start(db, rx)?,
            Engine::Postgres => postgres::start(db, rx),
        }
        Ok(CartWriter { queue })
    }

    /// Changes a line, checking the SKU, the quantity and what is available; the cart is made
    /// in the same transaction when the target allows it. Answers once the change is committed.
    pub async fn edit(&self, target: Target, sku: &str, edit: Edit) -> Result<Edited, EditError> {
        // Refused here, alone: text that cannot be a SKU (a NUL, say, which PostgreSQL's JSON
        // refuses) must never reach a batch and fail the edits that share it.
        if Sku::parse(sku).is_err() {
            return Err(EditError::BadSku);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job { target, sku: sku.to_string(), edit, reply };
        self.queue.send(job).await.map_err(|_| EditError::Unsaved("the cart writer has stopped"))?;
        answer.await.map_err(|_| EditError::Unsaved("the cart writer stopped before answering"))?
    }
}

/// Answers a batch: each edit its outcome, or all of them the error that kept the batch from
/// being saved.
fn answer<E: std::fmt::Display>(jobs: Vec<Job>, outcomes: Result<Vec<Result<Edited, EditError>>, E>) {
    crate::http::metrics::cart_batch(jobs.len());
    match outcomes {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                // A shopper who went away meanwhile still has their edit saved.
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, edits = jobs.len(), "cart edits failed; none was saved");
            for job in jobs {
                let _ = job.reply.send(Err(EditError::Unsaved("the batch's transaction failed")));
            }
        }
    }
}

/// The active sizes the edits may touch, each with whether it has a stock row (without one,
/// nothing can be bought and a cart does not show it).
type Sizes = HashMap<String, (Size, bool)>;

/// An edit decided: the cart it went to and whether it made it, or why it was refused.
type Decided = Result<(String, bool), EditError>;

/// The open carts the edits touch, line by line, as the edits leave them.
type Carts = HashMap<String, BTreeMap<String, i64>>;

/// The carts a batch names (they may be gone).
fn given_carts(jobs: &[Job]) -> BTreeSet<&str> {
    jobs.iter().filter_map(|j| given(&j.target)).collect()
}

/// The SKUs a batch needs the sizes of: those edited, and those already in its carts (a reply
/// shows the whole cart).
fn needed_skus<'a>(jobs: &'a [Job], carts: &'a Carts) -> BTreeSet<&'a str> {
    let mut skus: BTreeSet<&str> = jobs.iter().map(|j| j.sku.as_str()).collect();
    skus.extend(carts.values().flat_map(|lines| lines.keys().map(String::as_str)));
    skus
}

/// What a batch leaves to write once its edits are decided.
#[derive(Default)]
struct Changes {
    /// Carts made by the batch.
    fresh: Vec<String>,
    /// Lines to insert or update: cart, SKU, quantity.
    kept: Vec<(String, String, i64)>,
    /// Lines to delete: cart, SKU.
    removed: Vec<(String, String)>,
}

/// Decides each edit in arrival order against the open carts and the sizes (the carts change
/// as edits are decided); gives the outcomes and what to write.
fn decide_all(jobs: &[Job], sizes: &Sizes, carts: &mut Carts) -> (Vec<Decided>, Changes) {
    let mut changes = Changes::default();
    let mut dirty = BTreeSet::new();
    let decided = jobs.iter().map(|job| decide(job, sizes, carts, &mut changes.fresh, &mut dirty)).collect();
    for (cart_id, sku) in dirty {
        match carts.get(&cart_id).and_then(|lines| lines.get(&sku)).copied() {
            Some(quantity) => changes.kept.push((cart_id, sku, quantity)),
            None => changes.removed.push((cart_id, sku)),
        }
    }
    (decided, changes)
}

/// The replies once the batch is committed: each edit's cart as it is after the whole batch.
fn replies(decided: Vec<Decided>, carts: &Carts, sizes: &Sizes) -> Vec<Result<Edited, EditError>> {
    let mut shown: HashMap<String, Cart> = HashMap::new();
    decided
        .into_iter()
        .map(|outcome| {
            let (cart_id, created) = outcome?;
            let cart = shown.entry(cart_id.clone()).or_insert_with(|| view(carts, sizes, &cart_id)).clone();
            Ok(Edited { cart_id, created, cart })
        })
        .collect()
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
) -> Decided {
    let sku = &job.sku;
    let (size, _) = sizes.get(sku).ok_or_else(|| EditError::NoSuchSku(sku.clone()))?;
    let (cart_id, created) = match (given(&job.target).filter(|id| carts.contains_key(*id)), &job.target) {
        (Some(id), _) => (id.to_string(), false),
        (None, Target::Existing(_)) => return Err(EditError::Closed),
        (None, Target::OrNew(_)) => (new_id("cart"), true),
    };
    let current = carts.get(&cart_id).and_then(|lines| lines.get(sku)).copied().unwrap_or(0);
    let wanted = match job.edit {
        Edit::Add(n) if n < 1 => return Err(EditError::AtLeastOne),
        Edit::Add(n) => current.saturating_add(n),
        Edit::Set(n) if n < 0 => return Err(EditError::Negative),
        Edit::Set(n) => n,
    };
    if wanted > MAX_PER_LINE {
        // Asking for more than an order may hold is a bad request; adding to what the cart
        // holds already until it would be is a conflict with the cart as it is.
        return Err(match job.edit {
            Edit::Add(n) if n <= MAX_PER_LINE => EditError::WouldExceed { in_cart: current },
            _ => EditError::OverLimit,
        });
    }
    if wanted > size.available {
        let what = format!("{} {}", size.title, size.label);
        return Err(if size.available <= 0 {
            EditError::SoldOut { sku: sku.clone(), what }
        } else {
            EditError::OnlyLeft { sku: sku.clone(), what, available: size.available }
        });
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
    // Every size is in the catalog's one currency; the batch read the edited one at least.
    let currency = sizes.values().next().map(|(s, _)| s.currency).unwrap_or(atelier_domain::Currency::Eur);
    Cart::of(
        lines
            .filter_map(|(sku, quantity)| match sizes.get(sku) {
                Some((size, true)) => Some(Line::new(sku.clone(), *quantity, size)),
                _ => None,
            })
            .collect(),
        currency,
    )
}
