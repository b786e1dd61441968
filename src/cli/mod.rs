//! Command-line front end. Each subcommand is one module exporting a clap
//! `Args` struct with a `run(self, &Global) -> ExitCode` method; adding one
//! is a module plus one line in the `subcommands!` list below.
//!
//! Exit codes: 0 success; 1 the command ran but found a failure to report
//! (`recover` or `status` with an id that failed); 2 usage errors (clap) and
//! errors (the message names the path and the errno).

mod check;
mod delete;
mod output;
mod progress;
mod recover;
mod replay;
mod status;
mod worker;

use std::process::ExitCode;

use clap::Parser;

pub use output::Global;

/// Crash-safe staging directories: delete large trees outside a store lock.
#[derive(Debug, Parser)]
#[command(name = "stagedir", version, about)]
struct Cli {
    /// Print one JSON document on stdout instead of text (errors too).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Declares the subcommand enum and its dispatch from one list of
/// `Variant(module)` lines; doc comments and `#[command(...)]` attributes on
/// a line go to its variant.
macro_rules! subcommands {
    ($($(#[$meta:meta])* $variant:ident($module:ident),)*) => {
        #[derive(Debug, clap::Subcommand)]
        enum Command {
            $($(#[$meta])* $variant($module::Args),)*
        }

        impl Command {
            fn run(self, global: &Global) -> ExitCode {
                match self {
                    $(Command::$variant(args) => args.run(global),)*
                }
            }
        }
    };
}

subcommands! {
    /// Model-check every protocol variant under every checker and print the
    /// verdict table with a counterexample for each violation.
    Check(check),
    /// Stage PATHs into one instance under the store lock, release the
    /// lock, then remove them.
    Delete(delete),
    /// Reclaim instances whose owner is gone (exit 1 if any id failed).
    Recover(recover),
    /// Replay a schedule from its token and print the identical trace.
    Replay(replay),
    /// List instances as live or stale, changing nothing.
    Status(status),
    /// Test harness: loop create/stage/verify/cleanup (or recover) and log
    /// ownership events, for the multi-process crash test.
    #[command(hide = true)]
    Worker(worker),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.command.run(&Global { json: cli.json })
}
