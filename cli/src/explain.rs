//! `portcullis explain POLICY ACTION`: placeholder.
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The policy (.json, .yaml or .yml).
    policy: PathBuf,
    /// The action as a JSON file, or `-` for stdin.
    action: PathBuf,
}

pub fn run(_args: &Args) -> Result<ExitCode, String> {
    Ok(ExitCode::SUCCESS)
}
