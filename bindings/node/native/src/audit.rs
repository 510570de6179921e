//! Audit options and counters as they cross the boundary. The JavaScript layer validates the
//! options and raises its own errors; this module still refuses anything it cannot map rather
//! than guessing.

use napi_derive::napi;
use portcullis::{AuditOptions, AuditSink, AuditStats, FileSink, Overflow};

/// The largest queue accepted: the core allocates the queue's slots up front. Exported to
/// JavaScript, so the TypeScript layer validates against the core's own limit.
#[napi]
pub const MAX_QUEUE_CAPACITY: u32 = portcullis::limits_info::MAX_QUEUE_CAPACITY as u32;

/// `Engine.fromPolicy`'s `audit` option, validated by the JavaScript layer. `sink` is `file` or
/// `memory`; `overflow` is `block` or `drop`; absent numbers keep the core's defaults.
#[napi(object)]
pub struct NativeAuditOptions {
    pub sink: String,
    pub path: Option<String>,
    pub max_bytes: Option<i64>,
    pub flush_interval_ms: Option<i64>,
    pub fsync: Option<bool>,
    pub overflow: Option<String>,
    pub queue_capacity: Option<u32>,
}

/// Audit counters; numbers, exact up to 2^53.
#[napi(object)]
pub struct NativeAuditStats {
    pub recorded: f64,
    pub dropped: f64,
}

impl From<AuditStats> for NativeAuditStats {
    fn from(stats: AuditStats) -> Self {
        NativeAuditStats {
            recorded: stats.recorded as f64,
            dropped: stats.dropped as f64,
        }
    }
}

/// The core's audit options, or what is wrong with `options`.
pub fn to_core(options: NativeAuditOptions) -> Result<AuditOptions, String> {
    let overflow = match options.overflow.as_deref() {
        None | Some("block") => Overflow::Block,
        Some("drop") => Overflow::Drop,
        Some(other) => {
            return Err(format!(
                "audit.overflow must be 'block' or 'drop', got {other:?}"
            ))
        }
    };
    let queue_capacity = match options.queue_capacity {
        None => AuditOptions::default().queue_capacity,
        Some(n @ 1..=MAX_QUEUE_CAPACITY) => n as usize,
        Some(n) => {
            return Err(format!(
                "audit.queueCapacity must be an integer from 1 to {MAX_QUEUE_CAPACITY}, got {n}"
            ))
        }
    };
    let sink = match options.sink.as_str() {
        "memory" => AuditSink::Memory,
        "file" => {
            let path = options.path.filter(|p| !p.is_empty()).ok_or(
                "audit.path is required with sink 'file': the trail file's path".to_owned(),
            )?;
            let mut file = FileSink::new(path);
            if let Some(bytes) = options.max_bytes {
                file.max_bytes = non_negative(bytes, "audit.maxBytes")?;
            }
            if let Some(ms) = options.flush_interval_ms {
                file.flush_interval_ms = non_negative(ms, "audit.flushIntervalMs")?.max(1);
            }
            file.fsync = options.fsync.unwrap_or(false);
            AuditSink::File(file)
        }
        other => {
            return Err(format!(
                "audit.sink must be 'file' or 'memory', got {other:?}"
            ))
        }
    };
    Ok(AuditOptions {
        sink,
        queue_capacity,
        overflow,
    })
}

fn non_negative(value: i64, name: &str) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("{name} must not be negative, got {value}"))
}
