//! One module per subcommand; each turns its arguments into a library call.

mod build;
mod check;
mod serve;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build(args) => build::run(&cli.root, &cli.config, args),
        Command::Serve(args) => serve::run(&cli.root, &cli.config, args),
        Command::Check(args) => check::run(&cli.root, &cli.config, args),
    }
}
