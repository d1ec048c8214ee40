//! The database: one pool over SQLite or PostgreSQL through sqlx's `Any` driver, the same SQL
//! for both. What differs is isolated here: SQLite gets its pragmas, a writer lock shared by
//! every clone of the [`Db`] (it has one writer anyway, and a lock taken up front never
//! deadlocks on upgrade; a process opens its database once) and a checkpointing thread;
//! PostgreSQL serializes migrations with an advisory lock.

mod checkpoint;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// PostgreSQL's trigram indexes for finding orders, guests and accounts by part of a name,
/// made at every start when missing: `pg_trgm` may be added only by a role allowed to (perhaps
/// after the shop began), and without it name searches read every row instead.
const TRIGRAM_INDEXES: &str = "do $$ begin
  create extension if not exists pg_trgm;
  create index if not exists customer_order_name_trgm on customer_order using gin (lower(name) gin_trgm_ops);
  create index if not exists account_name_trgm on account using gin (lower(name) gin_trgm_ops);
exception when others then raise notice 'pg_trgm unavailable (%): name searches read every row', sqlerrm;
end $$";

/// The migrations, in order; an applied migration is never edited.
const MIGRATIONS: &[(&str, Migration)] = &[
    ("0001_initial", Migration::Both(include_str!("../../../migrations/0001_initial.sql"))),
    (
        "0002_payment_links_and_tracking",
        Migration::Both(include_str!("../../../migrations/0002_payment_links_and_tracking.sql")),
    ),
    (
        "0003_carts_without_rowid",
        Migration::Sqlite(include_str!("../../../migrations/0003_carts_without_rowid.sqlite.sql")),
    ),
    ("0004_service_secret", Migration::Both(include_str!("../../../migrations/0004_service_secret.sql"))),
    (
        "0005_one_open_checkout_per_cart",
        Migration::Both(include_str!("../../../migrations/0005_one_open_checkout_per_cart.sql")),
    ),
    ("0006_rate_limit", Migration::Both(include_str!("../../../migrations/0006_rate_limit.sql"))),
    ("0007_early_refund", Migration::Both(include_str!("../../../migrations/0007_early_refund.sql"))),
    ("0008_accounts", Migration::Both(include_str!("../../../migrations/0008_accounts.sql"))),
    ("0009_two_factor", Migration::Both(include_str!("../../../migrations/0009_two_factor.sql"))),
    ("0010_account_orders", Migration::Both(include_str!("../../../migrations/0010_account_orders.sql"))),
    ("0011_account_cart", Migration::Both(include_str!("../../../migrations/0011_account_cart.sql"))),
    ("0012_address_book", Migration::Both(include_str!("../../../migrations/0012_address_book.sql"))),
    ("0013_google_sign_in", Migration::Both(include_str!("../../../migrations/0013_google_sign_in.sql"))),
    ("0014_wishlist", Migration::Both(include_str!("../../../migrations/0014_wishlist.sql"))),
    (
        "0015_newsletter_confirmation",
        Migration::Both(include_str!("../../../migrations/0015_newsletter_confirmation.sql")),
    ),
    ("0016_outbox_reply_to", Migration::Both(include_str!("../../../migrations/0016_outbox_reply_to.sql"))),
    ("0017_folio", Migration::Both(include_str!("../../../migrations/0017_folio.sql"))),
    ("0018_folio_delivery", Migration::Both(include_str!("../../../migrations/0018_folio_delivery.sql"))),
    ("0019_sandbox_billing", Migration::Both(include_str!("../../../migrations/0019_sandbox_billing.sql"))),
    ("0020_folio_notices", Migration::Both(include_str!("../../../migrations/0020_folio_notices.sql"))),
    ("0021_folio_price_notice", Migration::Both(include_str!("../../../migrations/0021_folio_price_notice.sql"))),
    ("0022_sandbox_dunning", Migration::Both(include_str!("../../../migrations/0022_sandbox_dunning.sql"))),
    ("0023_folio_gift", Migration::Both(include_str!("../../../migrations/0023_folio_gift.sql"))),
    ("0024_outbox_body", Migration::Both(include_str!("../../../migrations/0024_outbox_body.sql"))),
    ("0025_staff", Migration::Both(include_str!("../../../migrations/0025_staff.sql"))),
    ("0026_stock_ledger", Migration::Both(include_str!("../../../migrations/0026_stock_ledger.sql"))),
    ("0027_refunds", Migration::Both(include_str!("../../../migrations/0027_refunds.sql"))),
    ("0028_purchasing", Migration::Both(include_str!("../../../migrations/0028_purchasing.sql"))),
    ("0029_testimonials", Migration::Both(include_str!("../../../migrations/0029_testimonials.sql"))),
    ("0030_folio_billed_price", Migration::Both(include_str!("../../../migrations/0030_folio_billed_price.sql"))),
    (
        "0031_name_search",
        Migration::Each {
            sqlite: include_str!("../../../migrations/0031_name_search.sqlite.sql"),
            postgres: include_str!("../../../migrations/0031_name_search.postgres.sql"),
        },
    ),
];

/// A migration's SQL and the engines it is for; on the others it is recorded as applied, so
/// that both engines count the same versions.
enum Migration {
    /// The same SQL for both.
    Both(&'static str),
    /// SQLite's own storage.
    Sqlite(&'static str),
    /// The same end reached each engine's own way (its own kind of index).
    Each {
        /// For SQLite.
        sqlite: &'static str,
        /// For PostgreSQL.
        postgres: &'static str,
    },
}

impl Migration {
    fn sql(&self, engine: Engine) -> &'static str {
        match (self, engine) {
            (Migration::Both(sql), _) | (Migration::Sqlite(sql), Engine::Sqlite) => sql,
            (Migration::Sqlite(_), Engine::Postgres) => "",
            (Migration::Each { sqlite, .. }, Engine::Sqlite) => sqlite,
            (Migration::Each { postgres, .. }, Engine::Postgres) => postgres,
        }
    }
}

/// Every SQLite connection's settings.
pub(crate) const SQLITE_PRAGMAS: &[&str] = &[
    "pragma journal_mode = wal",
    "pragma busy_timeout = 10000",
    "pragma foreign_keys = on",
    "pragma synchronous = normal",
    // 8 MiB of pages per connection (the default is 2 MiB), so the writer keeps the indexes it
    // appends to.
    "pragma cache_size = -8192",
    // No commit copies the log into the database; the checkpointer does (see its module).
    "pragma wal_autocheckpoint = 0",
    // A log that grew under load is cut back to 64 MiB when it starts over.
    "pragma journal_size_limit = 67108864",
];

/// A connection of its own to SQLite's file, with every connection's settings (the cart
/// writer's and the checkpointer's, outside the pool).
pub(crate) fn open_sqlite(file: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(file)?;
    for pragma in SQLITE_PRAGMAS {
        conn.execute_batch(pragma)?;
    }
    Ok(conn)
}

/// The two engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The pool and what it runs on.
#[derive(Debug, Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// Which engine.
    pub engine: Engine,
    /// SQLite's file, which the cart writer opens too.
    sqlite_file: Option<PathBuf>,
    writer: Arc<Mutex<()>>,
    /// SQLite's checkpointing thread, which ends with the last clone.
    _checkpointer: Option<Arc<checkpoint::Checkpointer>>,
}

/// A write transaction (holding SQLite's writer lock for its life).
pub struct WriteTx {
    /// The transaction.
    pub tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// What ends a `select` that reads rows this transaction will change, so that no other
    /// transaction changes them in between: `for update` on PostgreSQL; nothing on SQLite,
    /// where the writer lock this transaction holds already keeps every other writer out.
    pub fn lock_rows(&self) -> &'static str {
        if self._writer.is_some() {
            ""
        } else {
            " for update"
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Db {
    /// The rows of a query planned for the values it is given, every time. PostgreSQL plans a
    /// statement run five times once for any values (a generic plan); for a `LIKE` whose
    /// pattern decides between a trigram index and walking the newest rows, that one plan is
    /// the wrong one for most patterns. SQLite plans per statement anyway.
    pub async fn fetch_all_planned<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        if self.engine == Engine::Sqlite {
            return query.fetch_all(&self.pool).await;
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("set local plan_cache_mode = force_custom_plan").execute(&mut *tx).await?;
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Connects to `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") { Engine::Sqlite } else { Engine::Postgres };
        let sqlite_file = match engine {
            Engine::Sqlite => Some(private_file(sqlite_file(url)?)?),
            Engine::Postgres => None,
        };
        let options: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let writer = Arc::new(Mutex::new(()));
        let checkpointer = match &sqlite_file {
            Some(file) => Some(Arc::new(checkpoint::Checkpointer::start(file, writer.clone())?)),
            None => None,
        };
        Ok(Db { pool, engine, sqlite_file, writer, _checkpointer: checkpointer })
    }

    /// SQLite's file (none on PostgreSQL).
    pub(crate) fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// Takes SQLite's writer lock from a thread outside the runtime (the cart writer's), so its
    /// transactions and the pool's never overlap.
    pub(crate) fn blocking_write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.blocking_lock()
    }

    /// Starts a transaction that will write.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.engine {
            Engine::Sqlite => Some(self.writer.clone().lock_owned().await),
            Engine::Postgres => None,
        };
        // The transaction is begun in a task of its own: a caller dropped while its BEGIN runs
        // (a request whose client went away, a worker stopped) would otherwise hand back to the
        // pool a connection inside a transaction nobody ends, whose every later BEGIN fails.
        // The task finishes the BEGIN and, if nobody takes the transaction, rolls it back.
        let (pool, engine) = (self.pool.clone(), self.engine);
        let tx = tokio::spawn(async move {
            match engine {
                // `begin immediate` takes SQLite's write lock at once, waiting for it
                // (busy_timeout) when another process holds it (`atelier stock` beside a running
                // service). A plain `begin` would take it only at the first write, after reading,
                // and SQLite refuses that upgrade at once, without waiting: "database is locked".
                Engine::Sqlite => pool.begin_with("begin immediate").await,
                Engine::Postgres => pool.begin().await,
            }
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the task beginning a transaction failed");
            sqlx::Error::WorkerCrashed
        })??;
        Ok(WriteTx { tx, _writer: guard })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query_scalar::<_, i64>("select 1").fetch_one(&self.pool).await.map(|_| ())
    }

    /// Applies the migrations not applied yet; returns their names.
    pub async fn migrate(&self) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            // Several instances may start at once: one migrates, the others wait and find it done.
            sqlx::query("select pg_advisory_xact_lock(7242001)").execute(&mut **tx).await?;
        }
        sqlx::query(
            "create table if not exists schema_migration (version text primary key, applied_at bigint not null)",
        )
        .execute(&mut **tx)
        .await?;
        let applied: Vec<String> =
            sqlx::query_scalar("select version from schema_migration").fetch_all(&mut **tx).await?;
        let mut done = Vec::new();
        for (version, migration) in MIGRATIONS {
            if applied.iter().any(|a| a == version) {
                continue;
            }
            for statement in statements(migration.sql(self.engine)) {
                sqlx::query(&statement).execute(&mut **tx).await?;
            }
            sqlx::query("insert into schema_migration (version, applied_at) values ($1, $2)")
                .bind(*version)
                .bind(crate::ids::now())
                .execute(&mut **tx)
                .await?;
            done.push(version.to_string());
        }
        if self.engine == Engine::Postgres {
            sqlx::query(TRIGRAM_INDEXES).execute(&mut **tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }
}

/// The file of a `sqlite:` URL. Every connection must reach the same database, so an in-memory
/// one (each connection its own) is refused.
fn sqlite_file(url: &str) -> Result<PathBuf, sqlx::Error> {
    let file = SqliteConnectOptions::from_str(url)?.get_filename().to_path_buf();
    let name = file.to_string_lossy();
    if url.contains(":memory:") || url.contains("mode=memory") || name.starts_with("file:") || name.is_empty() {
        return Err(sqlx::Error::Configuration(
            format!("{url}: the service needs its SQLite database in a file, not in memory").into(),
        ));
    }
    Ok(file)
}

/// Makes a new database file readable by its owner only (it holds shoppers' names and
/// addresses); SQLite gives its log and shared-memory files the same mode. An existing file is
/// left as its owner set it.
fn private_file(file: PathBuf) -> Result<PathBuf, sqlx::Error> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file) {
        Ok(_) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(file),
        Err(e) => Err(sqlx::Error::Configuration(format!("cannot create {}: {e}", file.display()).into())),
    }
}

/// Splits a migration into statements (at `;` ending a line), dropping `--` comments.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let line = match line.find("--") {
            Some(i) => &line[..i],
            None => line,
        };
        if line.trim().is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{statements, Db, WriteTx, MIGRATIONS};

    /// A SQLite database in `dir` as a shop had it before a migration: every earlier one
    /// applied, and a transaction open to fill it.
    async fn migrated_before(dir: &std::path::Path, version: &str) -> (Db, WriteTx) {
        let db =
            Db::connect(&format!("sqlite://{}?mode=rwc", dir.join("old.sqlite").display())).await.expect("connect");
        let mut tx = db.begin_write().await.expect("begin");
        sqlx::query("create table schema_migration (version text primary key, applied_at bigint not null)")
            .execute(&mut **tx)
            .await
            .expect("schema_migration");
        let before = MIGRATIONS.iter().position(|(v, _)| *v == version).expect("a migration of that name");
        for (version, migration) in &MIGRATIONS[..before] {
            for statement in statements(migration.sql(db.engine)) {
                sqlx::query(&statement).execute(&mut **tx).await.expect(version);
            }
            sqlx::query("insert into schema_migration values ($1, 0)")
                .bind(*version)
                .execute(&mut **tx)
                .await
                .expect("v");
        }
        (db, tx)
    }

    /// A shop's SQLite database from before 0003, with carts in it, keeps them through the
    /// copy into the new tables, and a cart's deletion still takes its lines along.
    #[tokio::test]
    async fn carts_survive_the_move_out_of_rowid_tables() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, mut tx) = migrated_before(dir.path(), "0003_carts_without_rowid").await;
        for statement in [
            "insert into product values ('LAV-30', 'LAV', 'Lavender', '30 ml', '/lavender/', 2400, 'EUR', 1, 0)",
            "insert into cart values ('cart_a', 1, 2), ('cart_b', 3, 4)",
            "insert into cart_item values ('cart_a', 'LAV-30', 2), ('cart_b', 'LAV-30', 5)",
        ] {
            sqlx::query(statement).execute(&mut **tx).await.expect(statement);
        }
        tx.commit().await.expect("commit");

        assert_eq!(db.migrate().await.expect("migrate")[0], "0003_carts_without_rowid");
        let tables: Vec<String> =
            sqlx::query_scalar("select sql from sqlite_master where name in ('cart', 'cart_item') order by name")
                .fetch_all(&db.pool)
                .await
                .expect("schema");
        assert!(tables.iter().all(|sql| sql.contains("without rowid")), "{tables:?}");
        assert!(tables[1].contains("references \"cart\"") || tables[1].contains("references cart "), "{}", tables[1]);
        let lines: Vec<(String, i64, i64)> = sqlx::query_as(
            "select i.cart_id, c.updated_at, i.quantity from cart_item i join cart c using (cart_id) order by 1",
        )
        .fetch_all(&db.pool)
        .await
        .expect("lines");
        assert_eq!(lines, [("cart_a".to_string(), 2, 2), ("cart_b".to_string(), 4, 5)]);

        sqlx::query("delete from cart where cart_id = 'cart_a'").execute(&db.pool).await.expect("delete");
        let left: Vec<String> =
            sqlx::query_scalar("select cart_id from cart_item").fetch_all(&db.pool).await.expect("left");
        assert_eq!(left, ["cart_b"]);
        let broken: Vec<String> = sqlx::query_scalar("select \"table\" from pragma_foreign_key_check")
            .fetch_all(&db.pool)
            .await
            .expect("check");
        assert!(broken.is_empty(), "{broken:?}");
    }

    /// A write transaction that reads first waits for another process's write to end, instead of
    /// failing with "database is locked" when it comes to write.
    #[tokio::test]
    async fn a_write_waits_for_another_process_holding_the_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("shop.sqlite");
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", file.display())).await.expect("connect");
        sqlx::query("create table t (x bigint)").execute(&db.pool).await.expect("table");
        // Another process (a staff command) writes, outside this one's writer lock.
        let other = super::open_sqlite(&file).expect("open");
        other.execute_batch("begin immediate; insert into t values (1)").expect("other's write");
        let (release, held) = std::sync::mpsc::channel::<()>();
        let ended = std::thread::spawn(move || {
            held.recv().expect("release");
            other.execute_batch("commit").expect("other's commit");
        });
        let release_soon = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            release.send(()).expect("send");
        });
        let mut tx = db.begin_write().await.expect("begin");
        let seen: i64 = sqlx::query_scalar("select count(*) from t").fetch_one(&mut **tx).await.expect("read");
        sqlx::query("insert into t values ($1)").bind(seen + 10).execute(&mut **tx).await.expect("write after reading");
        tx.commit().await.expect("commit");
        release_soon.await.expect("released");
        ended.join().expect("other process");
        let rows: Vec<i64> = sqlx::query_scalar("select x from t order by x").fetch_all(&db.pool).await.expect("rows");
        assert_eq!(rows, [1, 11], "the write saw the other's row: it began after the other ended");
    }

    /// Each connection of a pool would get a database of its own in memory: refused, by name.
    #[tokio::test]
    async fn an_in_memory_database_is_refused() {
        for url in ["sqlite::memory:", "sqlite://shop.sqlite?mode=memory"] {
            let e = Db::connect(url).await.expect_err(url).to_string();
            assert!(e.contains("needs its SQLite database in a file"), "{url}: {e}");
        }
    }

    /// A cart that opened several checkouts before 0005 keeps its newest open order; the
    /// others are detached from it (they expire as before), so the one-open-order rule holds.
    #[tokio::test]
    async fn carts_with_several_open_orders_keep_the_newest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, mut tx) = migrated_before(dir.path(), "0005_one_open_checkout_per_cart").await;
        for (id, status) in [("ord_1", "pending_payment"), ("ord_2", "pending_payment"), ("ord_3", "paid")] {
            sqlx::query(
                "insert into customer_order (order_id, number, email, name, address, country, shipping_method, status,
                   currency, subtotal_minor, shipping_minor, vat_minor, total_minor, payment_provider, cart_id,
                   stock_state, created_at, updated_at, expires_at)
                 values ($1, $1, 'a@b.c', 'A', '{}', 'FR', 'standard', $2, 'EUR', 1, 0, 0, 1, 'sandbox', 'cart_x',
                   'reserved', 0, 0, 0)",
            )
            .bind(id)
            .bind(status)
            .execute(&mut **tx)
            .await
            .expect("order");
        }
        tx.commit().await.expect("commit");
        db.migrate().await.expect("migrate");
        let carts: Vec<(String, Option<String>)> =
            sqlx::query_as("select order_id, cart_id from customer_order order by order_id")
                .fetch_all(&db.pool)
                .await
                .expect("orders");
        assert_eq!(
            carts,
            [("ord_1".into(), None), ("ord_2".into(), Some("cart_x".into())), ("ord_3".into(), Some("cart_x".into()))]
        );
    }

    /// A new database file, and the log SQLite writes beside it, are the owner's alone.
    #[tokio::test]
    async fn a_new_database_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("shop.sqlite");
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", file.display())).await.expect("connect");
        db.migrate().await.expect("migrate");
        for f in [file.clone(), dir.path().join("shop.sqlite-wal")] {
            let mode = std::fs::metadata(&f).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }

    #[test]
    fn splits_statements() {
        let s = statements("-- a comment\ncreate table a (x text); -- trailing\ninsert into a values ('x');\n");
        assert_eq!(s, vec!["create table a (x text)", "insert into a values ('x')"]);
    }
}

/// The `values (…), (…)` of a multi-row insert: `rows` tuples of `columns` numbered
/// placeholders (`$1`, `$2`, …), which both engines read (sqlx's query builder writes `?` for
/// the Any driver, which PostgreSQL does not).
pub fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5 + 8);
    sql.push_str("values ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod values_tests {
    #[test]
    fn numbers_every_placeholder_once_row_by_row() {
        assert_eq!(super::values(2, 3), "values ($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values(1, 1), "values ($1)");
    }
}

/// Text for a `like … escape '\'` pattern, its own `%`, `_` and `\` matching only themselves.
pub fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
