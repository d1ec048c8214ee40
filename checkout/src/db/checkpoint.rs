//! SQLite's checkpoints, off the writers' path. By default the connection whose commit grows
//! the write-ahead log past 1,000 pages copies the log into the database there and then, with
//! two `fsync`s, while every other writer waits: under a stream of cart edits that was a stall
//! every few dozen milliseconds. Here no connection checkpoints on commit; a thread of its own
//! does, without the writer lock (writers go on meanwhile). Under a steady stream of commits
//! the log would then never start over, so once it is long, one more short pass runs with the
//! writer lock held, and the next transaction starts the log from the beginning (unless a
//! reader is still on an older snapshot; then the next pass, 50 ms later, tries again).

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Mutex;

use super::open_sqlite;

/// How often the thread looks at the log.
const EVERY: Duration = Duration::from_millis(50);

/// Pages in the log past which the log is made to start over (16 MiB of 4 KiB pages).
const RESTART_AT: i64 = 4096;

/// The checkpointing thread; it does a last checkpoint and ends when this is dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Opens a connection of its own to `file` and starts the thread.
    pub(super) fn start(file: &Path, writer: Arc<Mutex<()>>) -> Result<Checkpointer, sqlx::Error> {
        let failed = |e: &dyn std::fmt::Display| {
            sqlx::Error::Configuration(format!("the checkpointer of {}: {e}", file.display()).into())
        };
        let conn = open_sqlite(file).map_err(|e| failed(&e))?;
        let (stop, stopped) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &writer, &stopped))
            .map_err(|e| failed(&e))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(conn: &Connection, writer: &Mutex<()>, stopped: &mpsc::Receiver<()>) {
    loop {
        let last = match stopped.recv_timeout(EVERY) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        if let Err(e) = pass(conn, writer) {
            tracing::warn!(error = %e, "checkpointing SQLite's log failed; will retry");
        }
        if last {
            return;
        }
    }
}

/// Copies the log into the database; once the log is long, finishes with the writer lock held
/// so that nothing is committed between the end of the copy and the next transaction, which
/// then starts the log over.
fn pass(conn: &Connection, writer: &Mutex<()>) -> rusqlite::Result<()> {
    let pages = checkpoint(conn)?;
    if pages >= RESTART_AT {
        let _writer = writer.blocking_lock();
        checkpoint(conn)?;
    }
    Ok(())
}

/// A passive checkpoint (it never waits for writers or readers); gives the pages in the log.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("pragma wal_checkpoint(passive)", [], |r| r.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without checkpoints on commit the log only grows; a pass copies it into the database and
    /// the next transaction starts it over.
    #[test]
    fn a_pass_lets_a_long_log_start_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("log.sqlite");
        let open = || open_sqlite(&file).expect("open");
        let writer = open();
        writer.execute_batch("create table t (x blob)").expect("table");
        let write = |pages: usize| {
            for _ in 0..pages {
                writer.execute("insert into t values (zeroblob(4000))", []).expect("insert");
            }
        };
        let checkpointer = open();
        let lock = Mutex::new(());

        write(RESTART_AT as usize + 100);
        let before = checkpoint(&checkpointer).expect("pages");
        assert!(before > RESTART_AT, "{before} pages in the log");
        pass(&checkpointer, &lock).expect("pass");
        write(1);
        let after = checkpoint(&checkpointer).expect("pages");
        assert!(after < 10, "the log went on from {before} to {after} pages instead of starting over");
        let rows: i64 = writer.query_row("select count(*) from t", [], |r| r.get(0)).expect("count");
        assert_eq!(rows, RESTART_AT + 101);
    }
}
