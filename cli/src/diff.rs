//! `portcullis diff OLD NEW ACTIONS [--format text|markdown|json] [--examples N]`: decides
//! every action under both policies and reports the decisions that flip.
//!
//! Each action is decided on its own as a dry run (`Engine::explain`): no rate-limit count
//! builds up and no approval is used, so the report compares the rules, not the traffic's
//! timing. ACTIONS holds JSON lines: actions, or audit decision records (`"type":
//! "decision"`), which are turned back into actions from their agent, kind, tool, target and
//! the params the trail recorded (only those `audit.include_params` listed: other params and
//! `context` are not in the trail, so conditions on them read as missing).
use crate::input;
use portcullis::{Decision, Engine};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The policy in production.
    old: PathBuf,
    /// The candidate policy.
    new: PathBuf,
    /// JSON lines: actions or audit decision records (`-` for stdin).
    actions: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Examples shown per flip.
    #[arg(long, default_value_t = 3)]
    examples: usize,
    /// Progress on stderr (the share of ACTIONS read): `auto` shows it when stderr is a
    /// terminal and ACTIONS holds more than PROGRESS_MIN_LINES lines.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    progress: Progress,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Progress {
    Auto,
    Always,
    Never,
}

/// Inputs shorter than this get no progress line in `auto` mode.
const PROGRESS_MIN_LINES: usize = 10_000;
/// Lines between two progress updates.
const PROGRESS_EVERY: usize = 1_000;

/// A one-line progress indicator on stderr, redrawn in place.
struct Meter {
    on: bool,
    total_bytes: usize,
}

impl Meter {
    fn new(mode: Progress, data: &[u8]) -> Meter {
        use std::io::IsTerminal;
        let on = match mode {
            Progress::Always => true,
            Progress::Never => false,
            Progress::Auto => {
                std::io::stderr().is_terminal()
                    && data.iter().filter(|&&b| b == b'\n').count() > PROGRESS_MIN_LINES
            }
        };
        Meter {
            on,
            total_bytes: data.len().max(1),
        }
    }

    fn update(&self, line: usize, read_bytes: usize) {
        if self.on && line.is_multiple_of(PROGRESS_EVERY) {
            let percent = read_bytes.saturating_mul(100) / self.total_bytes;
            eprint!("\rdiff: {line} lines, {percent}%");
        }
    }

    fn finish(&self, lines: usize) {
        if self.on {
            eprintln!("\rdiff: {lines} lines, 100%");
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Default)]
struct Flip {
    count: usize,
    examples: Vec<(usize, String)>,
}

fn side(d: &Decision) -> String {
    format!(
        "{} ({})",
        d.effect.as_str(),
        d.rule.as_deref().unwrap_or(d.code.as_str())
    )
}

/// The action a line holds: itself, or the action an audit record describes.
fn action_of(line: &[u8]) -> Result<Vec<u8>, String> {
    let Ok(v) = serde_json::from_slice::<Value>(line) else {
        return Ok(line.to_vec());
    };
    if v.get("type").and_then(Value::as_str) != Some("decision") {
        return Ok(line.to_vec());
    }
    let (Some(tool), Some(agent)) = (
        v.get("tool").and_then(Value::as_str),
        v.get("agent").and_then(Value::as_str),
    ) else {
        return Err("an audit record of an invalid action (no tool or agent)".into());
    };
    let mut a = Map::new();
    a.insert("tool".into(), Value::from(tool));
    a.insert("agent".into(), json!({ "id": agent }));
    for key in ["kind", "target", "params"] {
        if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
            a.insert(key.into(), x.clone());
        }
    }
    Ok(Value::Object(a).to_string().into_bytes())
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let old = input::load(&args.old)?;
    let new = input::load(&args.new)?;
    let data = input::read(&args.actions)?;
    let meter = Meter::new(args.progress, &data);
    let mut reader = std::io::Cursor::new(data);
    let (mut total, mut skipped, mut lines) = (0usize, 0usize, 0usize);
    let mut flips: BTreeMap<(String, String), Flip> = BTreeMap::new();
    let mut line = Vec::new();
    for n in 0.. {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            break;
        }
        lines = n + 1;
        meter.update(
            lines,
            usize::try_from(reader.position()).unwrap_or(usize::MAX),
        );
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(action) = action_of(line) else {
            skipped += 1;
            continue;
        };
        total += 1;
        let (a, b) = (decide(&old, &action), decide(&new, &action));
        if a.effect != b.effect || a.rule != b.rule || a.code != b.code {
            let flip = flips.entry((side(&a), side(&b))).or_default();
            flip.count += 1;
            if flip.examples.len() < args.examples {
                flip.examples
                    .push((n + 1, String::from_utf8_lossy(&action).into_owned()));
            }
        }
    }
    meter.finish(lines);
    let changed: usize = flips.values().map(|f| f.count).sum();
    let mut list: Vec<(&(String, String), &Flip)> = flips.iter().collect();
    list.sort_by(|x, y| y.1.count.cmp(&x.1.count).then(x.0.cmp(y.0)));
    match args.format {
        Format::Json => {
            let items: Vec<Value> = list.iter().map(|((a, b), f)| json!({
                "old": a, "new": b, "count": f.count,
                "examples": f.examples.iter().map(|(l, t)| json!({"line": l, "action": t})).collect::<Vec<_>>(),
            })).collect();
            out!(
                "{}",
                json!({"actions": total, "skipped": skipped, "changed": changed, "flips": items})
            );
        }
        Format::Text => {
            out!("{total} actions, {changed} decisions change, {skipped} lines skipped");
            for ((a, b), f) in &list {
                out!("{:>6}  {a} -> {b}", f.count);
                for (l, t) in &f.examples {
                    out!("          line {l}: {t}");
                }
            }
        }
        Format::Markdown => {
            out!("**{total} actions, {changed} decisions change, {skipped} lines skipped**\n");
            out!("| count | old | new | first examples (line) |\n| ---: | --- | --- | --- |");
            for ((a, b), f) in &list {
                let ex: Vec<String> = f
                    .examples
                    .iter()
                    .map(|(l, t)| format!("{l}: `{}`", t.replace('|', "\\|")))
                    .collect();
                out!("| {} | {a} | {b} | {} |", f.count, ex.join("<br>"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(engine: &Engine, action: &[u8]) -> Decision {
    engine.explain(action).decision
}
