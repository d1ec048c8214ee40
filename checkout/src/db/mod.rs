//! The database: one pool over SQLite or PostgreSQL through sqlx's `Any` driver, the same SQL
//! for both. What differs is isolated here: SQLite gets its pragmas and a process-wide writer
//! lock (it has one writer anyway, and a lock taken up front never deadlocks on upgrade);
//! PostgreSQL serializes migrations with an advisory lock.

use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The migrations, in order; an applied migration is never edited.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../../migrations/0001_initial.sql")),
    ("0002_payment_links_and_tracking", include_str!("../../migrations/0002_payment_links_and_tracking.sql")),
];

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
    writer: Arc<Mutex<()>>,
}

/// A write transaction (holding SQLite's writer lock for its life).
pub struct WriteTx {
    /// The transaction.
    pub tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
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
    /// Connects to `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") { Engine::Sqlite } else { Engine::Postgres };
        let options: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        for pragma in [
                            "pragma journal_mode = wal",
                            "pragma busy_timeout = 10000",
                            "pragma foreign_keys = on",
                            "pragma synchronous = normal",
                            // 8 MiB of pages per connection (the default is 2 MiB), so the
                            // writer keeps the indexes it appends to.
                            "pragma cache_size = -8192",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db { pool, engine, writer: Arc::new(Mutex::new(())) })
    }

    /// Starts a transaction that will write.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.engine {
            Engine::Sqlite => Some(self.writer.clone().lock_owned().await),
            Engine::Postgres => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx { tx, _writer: guard })
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
        for (version, sql) in MIGRATIONS {
            if applied.iter().any(|a| a == version) {
                continue;
            }
            for statement in statements(sql) {
                sqlx::query(&statement).execute(&mut **tx).await?;
            }
            sqlx::query("insert into schema_migration (version, applied_at) values ($1, $2)")
                .bind(*version)
                .bind(crate::ids::now())
                .execute(&mut **tx)
                .await?;
            done.push(version.to_string());
        }
        tx.commit().await?;
        Ok(done)
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
    #[test]
    fn splits_statements() {
        let s = super::statements("-- a comment\ncreate table a (x text); -- trailing\ninsert into a values ('x');\n");
        assert_eq!(s, vec!["create table a (x text)", "insert into a values ('x')"]);
    }
}
