//! One module per subcommand; each turns its arguments into a library call.

/// Writes a line on standard output, like `println!`, in a function returning
/// `anyhow::Result`: a reader gone (`atelier stock list | head -1`) ends the program quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cmd::say(format_args!($($arg)*))?
    };
}

mod build;
mod check;
mod serve;
mod service;
mod stock_from;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config_file(&cli.root, cli.config.as_deref());
    match cli.command {
        Command::Build(args) => build::run(&cli.root, &config, args),
        Command::Serve(args) => serve::run(&cli.root, &config, args),
        Command::Check(args) => check::run(&cli.root, &config, args),
        Command::Checkout(args) => service::checkout(&cli.root, args),
        Command::Migrate => service::migrate(&cli.root),
        Command::Catalog(cmd) => service::catalog(&cli.root, cmd),
        Command::Stock(cmd) => service::stock(&cli.root, cmd),
        Command::Export => service::export(&cli.root),
        Command::Order(cmd) => service::order(&cli.root, cmd),
        Command::Mail(cmd) => service::mail(&cli.root, cmd),
        Command::Folio(cmd) => service::folio(&cli.root, cmd),
        Command::Staff(cmd) => service::staff(&cli.root, cmd),
    }
}

/// A line on standard output. When its reader has gone, the program ends at once with success,
/// as other Unix tools do (Rust ignores SIGPIPE, and `println!` would panic instead).
pub fn say(line: std::fmt::Arguments) -> anyhow::Result<()> {
    use std::io::Write as _;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        done => Ok(done?),
    }
}

/// The configuration file: the one named, else `zola.toml` when the root has one (Zola 0.22
/// reads it before `config.toml`), else `config.toml`.
fn config_file(root: &std::path::Path, named: Option<&std::path::Path>) -> std::path::PathBuf {
    match named {
        Some(named) => named.to_path_buf(),
        None if root.join("zola.toml").is_file() => "zola.toml".into(),
        None => "config.toml".into(),
    }
}
