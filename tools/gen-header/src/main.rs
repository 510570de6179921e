//! Writes the C header of portcullis-ffi.
//!
//! Usage: `portcullis-gen-header [OUTPUT]`. Without OUTPUT it writes `include/portcullis.h` at
//! the workspace root. The header is generated from `ffi/src` with the settings in
//! `ffi/cbindgen.toml`; `make check-header` writes to a temporary file and compares.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => root.join("include/portcullis.h"),
    };
    match generate(&root.join("ffi"), &output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("portcullis-gen-header: {message}");
            ExitCode::FAILURE
        }
    }
}

fn generate(ffi_dir: &Path, output: &Path) -> Result<(), String> {
    let config_path = ffi_dir.join("cbindgen.toml");
    let config = cbindgen::Config::from_file(&config_path)
        .map_err(|err| format!("cannot read {}: {err}", config_path.display()))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(ffi_dir)
        .with_config(config)
        .generate()
        .map_err(|err| format!("cannot generate the header: {err}"))?;
    // `write_to_file` leaves an unchanged file alone, so regenerating does not touch mtimes.
    bindings.write_to_file(output);
    Ok(())
}
