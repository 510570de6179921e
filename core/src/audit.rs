//! The audit trail: every decision becomes a JSON line in a tamper-evident hash chain.
//!
//! `evaluate` only enqueues a record on a bounded queue. A background writer (file sink) or
//! the host's drain call (memory sink) assigns the gap-free sequence number, links the record
//! to the previous one (`prev`) and seals it (`hash` = SHA-256 of the record's RFC 8785 form
//! without `hash`). When the queue is full, `Overflow::Block` waits (nothing is lost) and
//! `Overflow::Drop` counts the record as dropped; the count is itself written to the trail.
use crate::decision::{Code, Decision, Effect, PolicyInfo};
use crate::json::write_jcs;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `prev` of the first record of a trail.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Where audit records go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuditSink {
    /// No audit trail (the default).
    #[default]
    None,
    /// An append-only file written by a background thread.
    File(FileSink),
    /// An in-memory queue the host drains with [`crate::Engine::drain_audit`].
    Memory,
}

/// A file sink's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSink {
    /// The trail file; rotated files are renamed `PATH.000001`, `PATH.000002`, ...
    pub path: PathBuf,
    /// Rotate once the file holds at least this many bytes (0: never rotate).
    pub max_bytes: u64,
    /// Flush buffered records at least this often, in milliseconds.
    pub flush_interval_ms: u64,
    /// `fsync` the file after every batch written.
    pub fsync: bool,
}

impl FileSink {
    /// A sink writing to `path`, flushing every 200 ms, without rotation or fsync.
    pub fn new(path: impl Into<PathBuf>) -> FileSink {
        FileSink {
            path: path.into(),
            max_bytes: 0,
            flush_interval_ms: 200,
            fsync: false,
        }
    }
}

/// What `evaluate` does when the audit queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room: no record is ever lost (the default).
    #[default]
    Block,
    /// Never wait: the record is dropped and counted, and the count is written to the trail.
    Drop,
}

/// Audit settings, fixed when the engine is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Where records go.
    pub sink: AuditSink,
    /// Records the queue holds before `overflow` applies.
    pub queue_capacity: usize,
    /// What happens when the queue is full.
    pub overflow: Overflow,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            sink: AuditSink::None,
            queue_capacity: 65_536,
            overflow: Overflow::Block,
        }
    }
}

/// Audit counters. `dropped` and `recovered` records are stamped with the system clock (the
/// writer has no engine clock); decision records carry the engine clock's time of the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Decision records written to the file or handed out by `drain_audit`.
    pub recorded: u64,
    /// Decision records dropped because the queue was full (`Overflow::Drop`).
    pub dropped: u64,
}

/// What a decision was about, copied from the action for its audit record.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) agent: String,
    pub(crate) kind: &'static str,
    pub(crate) tool: String,
    pub(crate) target: Option<String>,
    /// Only the values of `audit.include_params` paths, keyed by path.
    pub(crate) params: Option<Map<String, Value>>,
}

#[derive(Debug)]
struct Record {
    time_ms: i64,
    subject: Option<Subject>,
    effect: Effect,
    code: Code,
    rule: Option<Arc<str>>,
    reason: Arc<str>,
    policy: PolicyInfo,
    action_hash: Option<String>,
    eval_ns: u64,
}

enum Msg {
    Record(Box<Record>),
    Flush(SyncSender<Result<(), String>>),
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// The hash of a record: SHA-256 over the RFC 8785 form of the object without `hash`.
pub(crate) fn seal_hash(record: &Map<String, Value>) -> String {
    let mut text = String::with_capacity(512);
    write_jcs(&Value::Object(record.clone()), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::from("sha256:");
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// The chain's head: the next sequence number and the last record's hash.
#[derive(Debug, Clone)]
struct Chain {
    seq: u64,
    prev: String,
    dropped_written: u64,
}

impl Chain {
    /// Seals `fields` as the next record and returns its line (with the trailing newline).
    fn seal(&mut self, mut fields: Map<String, Value>) -> String {
        self.seq += 1;
        fields.insert("seq".into(), Value::from(self.seq));
        fields.insert("prev".into(), Value::String(self.prev.clone()));
        let hash = seal_hash(&fields);
        fields.insert("hash".into(), Value::String(hash.clone()));
        self.prev = hash;
        let mut line = String::with_capacity(640);
        write_jcs(&Value::Object(fields), &mut line);
        line.push('\n');
        line
    }

    fn decision(&mut self, r: &Record) -> String {
        let mut m = Map::new();
        m.insert("type".into(), Value::from("decision"));
        m.insert("time".into(), Value::String(rfc3339(r.time_ms)));
        let s = r.subject.as_ref();
        m.insert("agent".into(), opt(s.map(|s| s.agent.as_str())));
        m.insert("kind".into(), opt(s.map(|s| s.kind)));
        m.insert("tool".into(), opt(s.map(|s| s.tool.as_str())));
        m.insert("target".into(), opt(s.and_then(|s| s.target.as_deref())));
        m.insert("effect".into(), Value::from(r.effect.as_str()));
        m.insert("code".into(), Value::from(r.code.as_str()));
        m.insert("rule".into(), opt(r.rule.as_deref()));
        m.insert("reason".into(), Value::from(&*r.reason));
        let mut policy = Map::new();
        policy.insert("name".into(), Value::from(&*r.policy.name));
        policy.insert("version".into(), opt(r.policy.version.as_deref()));
        m.insert("policy".into(), Value::Object(policy));
        m.insert("action_hash".into(), opt(r.action_hash.as_deref()));
        m.insert("eval_ns".into(), Value::from(r.eval_ns));
        if let Some(params) = s.and_then(|s| s.params.clone()) {
            m.insert("params".into(), Value::Object(params));
        }
        self.seal(m)
    }

    /// A record of how many decision records were dropped since the last such record.
    fn dropped(&mut self, total: u64, now_ms: i64) -> Option<String> {
        let count = total.checked_sub(self.dropped_written).filter(|c| *c > 0)?;
        self.dropped_written = total;
        let mut m = Map::new();
        m.insert("type".into(), Value::from("dropped"));
        m.insert("time".into(), Value::String(rfc3339(now_ms)));
        m.insert("dropped".into(), Value::from(count));
        m.insert("dropped_total".into(), Value::from(total));
        Some(self.seal(m))
    }

    fn recovered(&mut self, truncated_bytes: u64, now_ms: i64) -> String {
        let mut m = Map::new();
        m.insert("type".into(), Value::from("recovered"));
        m.insert("time".into(), Value::String(rfc3339(now_ms)));
        m.insert("truncated_bytes".into(), Value::from(truncated_bytes));
        self.seal(m)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Counters shared by the enqueuing side and the writer.
#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
}

/// What the engine side and the file writer share.
#[derive(Debug, Default)]
struct Shared {
    counters: Arc<Counters>,
    /// The last write error, while the trail cannot be written.
    failure: Mutex<Option<String>>,
    /// Set when the engine is dropped, so a writer stuck on a failing disk stops.
    closing: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
    fn set_failure(&self, f: Option<String>) {
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = f;
    }
}

/// The largest audit queue accepted (the queue is allocated up front).
pub const MAX_QUEUE_CAPACITY: usize = 1 << 20;

enum Backend {
    File {
        writer: Option<JoinHandle<()>>,
        shared: Arc<Shared>,
    },
    Memory {
        rx: Mutex<(Receiver<Msg>, Chain)>,
    },
}

/// A configured audit trail, owned by one engine.
pub(crate) struct Audit {
    tx: Option<SyncSender<Msg>>,
    overflow: Overflow,
    counters: Arc<Counters>,
    backend: Backend,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("overflow", &self.overflow)
            .finish_non_exhaustive()
    }
}

impl Audit {
    /// Starts the trail; `None` for `AuditSink::None`.
    pub(crate) fn start(options: &AuditOptions) -> Result<Option<Audit>, String> {
        if options.queue_capacity > MAX_QUEUE_CAPACITY {
            return Err(format!(
                "queue_capacity {} is larger than {MAX_QUEUE_CAPACITY}",
                options.queue_capacity
            ));
        }
        if options.sink == AuditSink::None {
            return Ok(None);
        }
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let backend = match &options.sink {
            AuditSink::None => return Ok(None),
            AuditSink::Memory => Backend::Memory {
                rx: Mutex::new((
                    rx,
                    Chain {
                        seq: 0,
                        prev: GENESIS.to_owned(),
                        dropped_written: 0,
                    },
                )),
            },
            AuditSink::File(sink) => {
                let mut writer = FileWriter::open(sink.clone())?;
                let shared = Arc::new(Shared {
                    counters: counters.clone(),
                    ..Shared::default()
                });
                let for_writer = shared.clone();
                let handle = std::thread::Builder::new()
                    .name("portcullis-audit".into())
                    .spawn(move || writer.run(&rx, &for_writer))
                    .map_err(|e| format!("cannot start the audit writer: {e}"))?;
                Backend::File {
                    writer: Some(handle),
                    shared,
                }
            }
        };
        Ok(Some(Audit {
            tx: Some(tx),
            overflow: options.overflow,
            counters,
            backend,
        }))
    }

    /// Enqueues the record of `d` (made at engine time `time_ms`).
    pub(crate) fn record(&self, d: &Decision, subject: Option<Subject>, time_ms: i64) {
        let Some(tx) = &self.tx else { return };
        let record = Box::new(Record {
            time_ms,
            subject,
            effect: d.effect,
            code: d.code,
            rule: d.rule.clone(),
            reason: d.reason.clone(),
            policy: d.policy.clone(),
            action_hash: d.action_hash.clone(),
            eval_ns: d.eval_ns,
        });
        let sent = match self.overflow {
            Overflow::Block => tx.send(Msg::Record(record)).is_ok(),
            Overflow::Drop => match tx.try_send(Msg::Record(record)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if !sent {
            self.counters.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Hands out up to `max` sealed records (memory sink); empty for a file sink.
    pub(crate) fn drain(&self, max: usize) -> Vec<String> {
        let Backend::Memory { rx } = &self.backend else {
            return Vec::new();
        };
        let mut guard = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (rx, chain) = &mut *guard;
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        if let Some(line) = chain.dropped(self.counters.dropped.load(Ordering::SeqCst), now_ms()) {
            out.push(line);
        }
        while out.len() < max {
            match rx.try_recv() {
                Ok(Msg::Record(r)) => {
                    out.push(chain.decision(&r));
                    self.counters.recorded.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Msg::Flush(ack)) => {
                    let _ = ack.send(Ok(()));
                }
                Err(_) => break,
            }
        }
        out
    }

    /// Waits until every record enqueued so far is written and flushed (file sink).
    pub(crate) fn flush(&self) -> Result<(), String> {
        let (Some(tx), Backend::File { shared, .. }) = (&self.tx, &self.backend) else {
            return Ok(());
        };
        if let Some(f) = shared.failure() {
            return Err(f);
        }
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        tx.send(Msg::Flush(ack_tx))
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        ack_rx
            .recv()
            .map_err(|_| "the audit writer has stopped".to_owned())?
    }

    pub(crate) fn stats(&self) -> AuditStats {
        AuditStats {
            recorded: self.counters.recorded.load(Ordering::SeqCst),
            dropped: self.counters.dropped.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        // Closing the queue lets the writer drain what is left, flush and stop.
        self.tx = None;
        if let Backend::File { writer, shared } = &mut self.backend {
            shared.closing.store(true, Ordering::SeqCst);
            if let Some(handle) = writer.take() {
                let _ = handle.join();
            }
        }
    }
}

struct FileWriter {
    sink: FileSink,
    file: File,
    size: u64,
    chain: Chain,
    pending: String,
}

/// Reads the last complete line of `file` (of `len` bytes) and where it ends.
fn last_line(file: &mut File, len: u64) -> io::Result<(Option<String>, u64)> {
    let window = len.min(1 << 20);
    file.seek(SeekFrom::Start(len - window))?;
    let mut tail = Vec::with_capacity(window as usize);
    file.take(window).read_to_end(&mut tail)?;
    let Some(end) = tail.iter().rposition(|b| *b == b'\n') else {
        return Ok((None, len - window));
    };
    let body = tail.get(..end).unwrap_or_default();
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let line = String::from_utf8_lossy(body.get(start..).unwrap_or_default()).into_owned();
    Ok((Some(line), len - window + end as u64 + 1))
}

impl FileWriter {
    /// Opens (or creates) the trail and continues its chain from the last complete record;
    /// an incomplete last line (a crash mid-write) is cut off and the cut is recorded.
    fn open(sink: FileSink) -> Result<FileWriter, String> {
        let shown = sink.path.display().to_string();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&sink.path)
            .map_err(|e| format!("cannot open audit file {shown}: {e}"))?;
        let len = file
            .metadata()
            .map_err(|e| format!("cannot read {shown}: {e}"))?
            .len();
        let mut chain = Chain {
            seq: 0,
            prev: GENESIS.to_owned(),
            dropped_written: 0,
        };
        let mut pending = String::new();
        let mut size = len;
        if len > 0 {
            let (line, complete) =
                last_line(&mut file, len).map_err(|e| format!("cannot read {shown}: {e}"))?;
            let line =
                line.ok_or_else(|| format!("audit file {shown} holds no complete record"))?;
            let last: Value = serde_json::from_str(&line)
                .map_err(|e| format!("the last record of {shown} is not valid JSON: {e}"))?;
            chain.seq = last
                .get("seq")
                .and_then(Value::as_u64)
                .ok_or(format!("the last record of {shown} has no seq"))?;
            chain.prev = last
                .get("hash")
                .and_then(Value::as_str)
                .ok_or(format!("the last record of {shown} has no hash"))?
                .to_owned();
            if complete < len {
                file.set_len(complete)
                    .map_err(|e| format!("cannot cut the incomplete tail of {shown}: {e}"))?;
                size = complete;
                pending.push_str(&chain.recovered(len - complete, now_ms()));
            }
        }
        Ok(FileWriter {
            sink,
            file,
            size,
            chain,
            pending,
        })
    }

    fn run(&mut self, rx: &Receiver<Msg>, shared: &Shared) {
        let interval = Duration::from_millis(self.sink.flush_interval_ms.max(1));
        let mut last_flush = Instant::now();
        // Decision records sealed into `pending` but not yet written.
        let mut pending_records = 0u64;
        loop {
            let failing = shared.failure().is_some();
            let mut acks = Vec::new();
            let closed;
            if failing {
                // The trail cannot be written: take no more records, so the queue applies the
                // overflow policy (block waits, drop counts), and retry the write.
                std::thread::sleep(interval);
                closed = shared.closing.load(Ordering::SeqCst);
            } else {
                let first = rx.recv_timeout(interval);
                closed = matches!(first, Err(RecvTimeoutError::Disconnected));
                let mut handle = |msg: Msg, this: &mut FileWriter| match msg {
                    Msg::Record(r) => {
                        this.pending.push_str(&this.chain.decision(&r));
                        pending_records += 1;
                    }
                    Msg::Flush(ack) => acks.push(ack),
                };
                if let Ok(msg) = first {
                    handle(msg, self);
                    for _ in 0..4096 {
                        match rx.try_recv() {
                            Ok(msg) => handle(msg, self),
                            Err(_) => break,
                        }
                    }
                }
                let dropped = shared.counters.dropped.load(Ordering::SeqCst);
                if let Some(line) = self.chain.dropped(dropped, now_ms()) {
                    self.pending.push_str(&line);
                }
            }
            let due = closed
                || failing
                || !acks.is_empty()
                || last_flush.elapsed() >= interval
                || self.pending.len() >= 1 << 20;
            let result = if due && !self.pending.is_empty() {
                last_flush = Instant::now();
                self.write_out()
            } else {
                Ok(())
            };
            match &result {
                Ok(()) if self.pending.is_empty() => {
                    shared
                        .counters
                        .recorded
                        .fetch_add(pending_records, Ordering::SeqCst);
                    pending_records = 0;
                    shared.set_failure(None);
                }
                Ok(()) => {}
                Err(e) => shared.set_failure(Some(e.clone())),
            }
            for ack in acks {
                let _ = ack.send(result.clone());
            }
            if closed {
                return;
            }
        }
    }

    /// Writes the pending lines in one write, optionally fsyncs, and rotates when due.
    fn write_out(&mut self) -> Result<(), String> {
        let shown = self.sink.path.display().to_string();
        if let Err(e) = self.file.write_all(self.pending.as_bytes()) {
            // Cut whatever part of the batch reached the file, so a retry cannot leave half a
            // record in the middle of the trail.
            let _ = self.file.set_len(self.size);
            return Err(format!("cannot write {shown}: {e}"));
        }
        self.size += self.pending.len() as u64;
        self.pending.clear();
        if self.sink.fsync {
            self.file
                .sync_data()
                .map_err(|e| format!("cannot fsync {shown}: {e}"))?;
        }
        if self.sink.max_bytes > 0 && self.size >= self.sink.max_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Renames the current file to the next `PATH.NNNNNN` and starts a new one; the chain
    /// continues (the new file's first record carries the old file's last hash).
    fn rotate(&mut self) -> Result<(), String> {
        let shown = self.sink.path.display().to_string();
        self.file
            .sync_all()
            .map_err(|e| format!("cannot fsync {shown}: {e}"))?;
        let next = next_rotation(&self.sink.path);
        std::fs::rename(&self.sink.path, &next)
            .map_err(|e| format!("cannot rotate {shown}: {e}"))?;
        self.file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.sink.path)
            .map_err(|e| format!("cannot open audit file {shown}: {e}"))?;
        self.size = 0;
        Ok(())
    }
}

/// The first unused `PATH.NNNNNN`.
fn next_rotation(path: &Path) -> PathBuf {
    let mut n = 1u32;
    loop {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n:06}"));
        let candidate = PathBuf::from(name);
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

/// What a verification found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The file holding the first bad record.
    pub file: PathBuf,
    /// Its line number (1-based).
    pub line: u64,
    /// What is wrong.
    pub problem: String,
}

/// The result of verifying a trail: how many records form a valid chain from the start, and
/// the first problem after them, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records that verified, in order, before the first problem.
    pub valid_records: u64,
    /// Decision records among them.
    pub decisions: u64,
    /// The total of `dropped` records among them.
    pub dropped: u64,
    /// The hash of the last valid record.
    pub last_hash: String,
    /// The first problem: an edited, missing, reordered or truncated record.
    pub failure: Option<VerifyFailure>,
}

/// Re-computes the chain over `files` (in order: rotated files first, oldest first) and
/// reports the first broken or missing record.
pub fn verify_files<P: AsRef<Path>>(files: &[P]) -> VerifyReport {
    let mut report = VerifyReport {
        valid_records: 0,
        decisions: 0,
        dropped: 0,
        last_hash: GENESIS.to_owned(),
        failure: None,
    };
    let mut expected_seq = 1u64;
    for path in files {
        let path = path.as_ref();
        let fail = |line: u64, problem: String| VerifyFailure {
            file: path.to_owned(),
            line,
            problem,
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                report.failure = Some(fail(0, format!("cannot open: {e}")));
                return report;
            }
        };
        let mut reader = BufReader::new(file);
        let mut n = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    report.failure = Some(fail(n + 1, format!("cannot read: {e}")));
                    return report;
                }
            }
            n += 1;
            if buf.last() != Some(&b'\n') {
                report.failure = Some(fail(
                    n,
                    "truncated record: the last line is incomplete".into(),
                ));
                return report;
            }
            let prev = report.last_hash.clone();
            if let Err(problem) = check_line(&buf, expected_seq, &prev, &mut report) {
                report.failure = Some(fail(n, problem));
                return report;
            }
            expected_seq += 1;
        }
    }
    report
}

fn check_line(
    line: &[u8],
    expected_seq: u64,
    prev: &str,
    report: &mut VerifyReport,
) -> Result<(), String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("not a JSON record: {e}"))?;
    let Value::Object(mut fields) = value else {
        return Err("not a JSON object".into());
    };
    let hash = match fields.remove("hash") {
        Some(Value::String(h)) => h,
        _ => return Err("the record has no hash".into()),
    };
    let seq = fields
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("the record has no seq")?;
    if seq != expected_seq {
        return Err(format!(
            "sequence {seq} where {expected_seq} was expected: a record is missing or out of order"
        ));
    }
    let got_prev = fields
        .get("prev")
        .and_then(Value::as_str)
        .ok_or("the record has no prev")?;
    if got_prev != prev {
        return Err(format!("prev {got_prev} does not match the previous record's hash {prev}: a record is missing or out of order"));
    }
    let computed = seal_hash(&fields);
    if computed != hash {
        return Err(format!(
            "hash mismatch (recorded {hash}, computed {computed}): the record was edited"
        ));
    }
    match fields.get("type").and_then(Value::as_str) {
        Some("decision") => report.decisions += 1,
        Some("dropped") => {
            report.dropped += fields.get("dropped").and_then(Value::as_u64).unwrap_or(0)
        }
        _ => {}
    }
    report.valid_records += 1;
    report.last_hash = hash;
    Ok(())
}
