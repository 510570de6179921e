//! `portcullis`: the command line for policy authors and operators. One module per
//! subcommand; this file holds the argument definitions and the dispatch.
/// `println!` that does not panic when stdout is closed (`portcullis ... | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod audit;
mod check;
mod demo;
mod diff;
mod eval;
mod explain;
mod input;
mod lint;
mod policy_test;
mod schema;

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runtime policy engine for AI agents: check, test, explain and evaluate policies.
#[derive(Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy and print every load error found, with its JSON path.
    Check {
        /// The policy (.json, .yaml or .yml).
        policy: PathBuf,
    },
    /// Decide each action (one JSON object per line); prints one decision line per input line.
    Eval(eval::Args),
    /// Decide a list of {"label", "action"} and print them as a table.
    Demo {
        /// The policy (.json, .yaml or .yml).
        policy: PathBuf,
        /// A JSON array of {"label": ..., "action": {...}}.
        actions: PathBuf,
    },
    /// Run policy tests written in the conformance case format.
    Test(policy_test::Args),
    /// Show every rule considered for one action, each condition's value, and what decided
    /// (a dry run: no rate limit or approval is consumed).
    Explain(explain::Args),
    /// Report rules that can never fire, over-broad allows, unbounded rate-limit keys and
    /// other mistakes, each with a stable code, JSON path, severity and fix.
    Lint(lint::Args),
    /// Decide every action under two policies and report the decisions that flip.
    Diff(diff::Args),
    /// Serve decisions over a Unix socket or HTTP(S) (see docs/serve.md).
    Serve(portcullis_server::ServeArgs),
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print a JSON Schema (draft 2020-12) of the policy document, for editors and CI.
    Schema,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-compute an audit trail's hash chain (rotated files first, oldest first, then the
    /// current file) and report the first broken or missing record.
    Verify {
        /// The trail's files, oldest first (or `--trail FILE` for a trail and its rotated
        /// files), and the checkpoint options; `portcullis audit verify` alone prints them.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { policy } => check::run(&policy),
        Command::Eval(args) => eval::run(&args),
        Command::Demo { policy, actions } => demo::run(&policy, &actions),
        Command::Test(args) => policy_test::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Serve(args) => return portcullis_server::run(args),
        Command::Audit {
            command: AuditCommand::Verify { args },
        } => return audit::verify(&args),
        Command::Schema => schema::run(),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "portcullis", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}
