//! `portcullis serve`: the policy engine as a sidecar on a Unix socket or as a service over
//! HTTP(S), and [`client::RemoteEngine`], a client that fails closed (see
//! [docs/serve.md](../../docs/serve.md)).
//!
//! The server decides exactly as an in-process engine: `POST /v1/decide` answers the §8
//! decision JSON the engine produced. See `docs/serve.md` for every endpoint.
#![forbid(unsafe_code)]

pub mod args;
mod authzen;
pub mod client;
mod http;
mod listen;
mod metrics;
mod reload;
mod routes;
mod state;
mod workers;
pub mod yaml;

pub use args::ServeArgs;

use std::process::ExitCode;

/// Runs the server until SIGTERM or SIGINT; returns the process exit code (0 after a clean
/// drain, 1 when the server cannot start).
pub fn run(args: ServeArgs) -> ExitCode {
    init_logs(&args);
    // The main runtime accepts connections, watches signals and the policy file; the
    // connections are served by `--worker-threads` workers (see workers.rs).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(listen::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "portcullis serve failed");
            eprintln!("portcullis serve: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(args: &ServeArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests that run the server in-process twice) is harmless: keep the first.
    let _ = match args.log_format {
        args::LogFormat::Json => builder.json().try_init(),
        args::LogFormat::Text => builder.try_init(),
    };
}
