//! One module per subcommand; each turns its arguments into a library call.

mod build;
mod check;
mod serve;
mod service;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build(args) => build::run(&cli.root, &cli.config, args),
        Command::Serve(args) => serve::run(&cli.root, &cli.config, args),
        Command::Check(args) => check::run(&cli.root, &cli.config, args),
        Command::Checkout(args) => service::checkout(&cli.root, args),
        Command::Migrate => service::migrate(&cli.root),
        Command::Catalog(cmd) => service::catalog(&cli.root, cmd),
        Command::Stock(cmd) => service::stock(&cli.root, cmd),
        Command::Export => service::export(&cli.root),
        Command::Order(cmd) => service::order(&cli.root, cmd),
        Command::Mail(cmd) => service::mail(&cli.root, cmd),
    }
}
