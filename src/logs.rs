//! The logs on stderr. `RUST_LOG` filters (default: the shop's own events at info) and
//! `ATELIER_LOG_FORMAT=json` gives one JSON object a line for log collectors.
//!
//! At a terminal every line is written as it happens, in colour. Anywhere else (a file, a
//! pipe, a collector) lines gather in memory and a thread of their own writes them every few
//! milliseconds: the service logs every cart edit, and a write to stderr for each one cost a
//! tenth of its throughput. Nothing is dropped: a writer that falls behind makes logging wait,
//! the last lines are written before the program ends, and a line logged after that is written
//! at once. (What is printed straight to stderr, such as a panic, may come up to 20 ms before
//! log lines that were logged earlier.)

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How long a line may wait before it is written.
const EVERY: Duration = Duration::from_millis(20);

/// Past this much waiting, logging writes itself rather than gather more.
const MOST: usize = 4 << 20;

/// Sets up the logs; keep the guard until the end, when it writes what is left.
pub fn init() -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,atelier_checkout=info"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let json = std::env::var("ATELIER_LOG_FORMAT").as_deref() == Ok("json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(terminal);
    if terminal {
        let builder = builder.with_writer(std::io::stderr);
        let _ = if json { builder.json().try_init() } else { builder.try_init() };
        return LogGuard(None);
    }
    let pending = Pending::new();
    let builder = builder.with_writer(pending.clone());
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
    let flusher = pending.clone();
    let thread = std::thread::Builder::new().name("logs".into()).spawn(move || flusher.run()).ok();
    LogGuard(Some((pending, thread)))
}

/// Writes the lines still waiting when dropped.
pub struct LogGuard(Option<(Pending, Option<JoinHandle<()>>)>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some((pending, thread)) = self.0.take() {
            pending.lock().done = true;
            pending.0.wake.notify_one();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
            // Lines logged while the thread wrote its last batch, or all of them if it never ran.
            pending.write_out(&mut pending.lock());
        }
    }
}

/// Lines not written yet.
#[derive(Clone)]
struct Pending(Arc<Shared>);

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    done: bool,
}

impl Pending {
    fn new() -> Pending {
        Pending(Arc::new(Shared { state: Mutex::new(State::default()), wake: Condvar::new() }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves bytes, not broken invariants: go on.
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread: every few milliseconds, takes what gathered and writes it outside the lock.
    fn run(&self) {
        let mut lines = Vec::new();
        loop {
            let done = {
                let state = self.lock();
                let (mut state, _) =
                    self.0.wake.wait_timeout_while(state, EVERY, |s| !s.done).unwrap_or_else(PoisonError::into_inner);
                std::mem::swap(&mut lines, &mut state.lines);
                state.done
            };
            if !lines.is_empty() {
                let _ = std::io::stderr().write_all(&lines);
                lines.clear();
            }
            if done {
                return;
            }
        }
    }

    fn write_out(&self, state: &mut State) {
        let _ = std::io::stderr().write_all(&state.lines);
        state.lines.clear();
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.lock();
        // Past the guard (a thread still logging as the program ends) or past the limit,
        // write at once, after whatever is waiting.
        if state.done || state.lines.len() + buf.len() > MOST {
            self.write_out(&mut state);
        }
        if state.done {
            let _ = std::io::stderr().write_all(buf);
        } else {
            state.lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Pending {
    type Writer = Pending;
    fn make_writer(&'a self) -> Pending {
        self.clone()
    }
}
