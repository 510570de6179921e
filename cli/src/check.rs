//! `portcullis check POLICY`: validate a policy.
//!
//! The core stops at the first load error of a document, so `check` prints that one error
//! (with its JSON path) and says so; a valid policy prints its name and version.
use crate::input;
use portcullis::{Engine, EngineOptions};
use std::path::Path;
use std::process::ExitCode;

pub fn run(policy: &Path) -> Result<ExitCode, String> {
    let text = input::policy_text(policy)?;
    match Engine::new(&text, EngineOptions::default()) {
        Ok(engine) => {
            let info = engine.policy_info();
            out!(
                "ok: policy {:?} version {:?}",
                info.name,
                info.version.as_deref().unwrap_or("-")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            out!(
                "{}: error at {}: {}",
                policy.display(),
                show_path(e.path()),
                e.message()
            );
            out!("1 error (loading stops at the first error; fix it and run check again)");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn show_path(path: &str) -> &str {
    if path.is_empty() {
        "(document)"
    } else {
        path
    }
}
