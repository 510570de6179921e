//! `portcullis check POLICY`: validate a policy and print every load error found.
//!
//! The engine stops at the first load error; `check` then reads on with
//! `portcullis::policy_errors`, which checks each section and each rule whatever an earlier
//! one held. The first error printed is always the one loading reports. A valid policy prints
//! its name and version.
use crate::input;
use portcullis::{Engine, EngineOptions, PolicyError};
use std::path::Path;
use std::process::ExitCode;

pub fn run(policy: &Path) -> Result<ExitCode, String> {
    let bytes = input::read(policy)?;
    let text = match portcullis_server::yaml::policy_json(policy, bytes) {
        Ok(text) => text,
        // A YAML file that does not convert: its one error (as for JSON that does not parse).
        Err(e) => return Ok(report(policy, &[e])),
    };
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
        Err(first) => {
            let mut errors = portcullis::policy_errors(&text);
            if errors.first() != Some(&first) {
                errors.insert(0, first);
            }
            Ok(report(policy, &errors))
        }
    }
}

/// One line per error, then the count.
fn report(policy: &Path, errors: &[PolicyError]) -> ExitCode {
    for e in errors {
        out!(
            "{}: error at {}: {}",
            policy.display(),
            show_path(e.path()),
            e.message()
        );
    }
    match errors.len() {
        1 => out!("1 error"),
        n => out!("{n} errors"),
    }
    ExitCode::FAILURE
}

fn show_path(path: &str) -> &str {
    if path.is_empty() {
        "(document)"
    } else {
        path
    }
}
