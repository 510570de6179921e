//! `portcullis-serve`: `portcullis serve` as a standalone binary (same flags).
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "portcullis-serve",
    about = "Serve portcullis decisions over a Unix socket or HTTP(S)"
)]
struct Cli {
    #[command(flatten)]
    args: portcullis_server::ServeArgs,
}

fn main() -> std::process::ExitCode {
    portcullis_server::run(Cli::parse().args)
}
