//! `atelier`: Atelier Arôme's one command-line program.

mod cli;
mod cmd;
mod logs;

use clap::Parser;

// Building a site allocates many small values on every core; mimalloc halves that cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let logs = logs::init();
    let outcome = cmd::run(cli);
    // The last log lines come before the error, as they happened.
    drop(logs);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
