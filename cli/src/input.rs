//! Reading policies and actions from files or stdin.
use portcullis::{Engine, EngineOptions, PolicyError};
use std::io::Read;
use std::path::Path;

/// The bytes of `path`, or of stdin when `path` is `-`.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A policy document as JSON text: `.yaml`/`.yml` files are converted strictly (see
/// `portcullis_server::yaml`), so load errors name the same paths as for JSON.
pub fn policy_text(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = read(path)?;
    portcullis_server::yaml::policy_json(path, bytes).map_err(|e| show_error(path, &e))
}

/// Loads a policy with default options; errors name the file and the JSON path.
pub fn load(path: &Path) -> Result<Engine, String> {
    load_with(path, EngineOptions::default())
}

/// Loads a policy with `options`.
pub fn load_with(path: &Path, options: EngineOptions) -> Result<Engine, String> {
    let text = policy_text(path)?;
    Engine::new(&text, options).map_err(|e| show_error(path, &e))
}

/// `FILE: at PATH: MESSAGE` (the core's Display already says where).
pub fn show_error(path: &Path, e: &PolicyError) -> String {
    format!("{}: {e}", path.display())
}
