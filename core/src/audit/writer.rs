//! The file writer: a background thread that seals queued records in order and appends them
//! to the trail, in batches of bounded size.
//!
//! The bound holds end to end: at most the queue's capacity plus one batch (itself at most the
//! queue's capacity) is held in memory.
//! A batch that cannot be written is kept and retried (the part that reached the file is cut
//! off first); meanwhile the writer takes nothing from the queue, so the queue's overflow
//! policy applies (block waits, drop counts). Nothing sealed is ever discarded while the
//! engine lives; records still unwritten when it is dropped are reported.
use super::error::AuditError;
use super::files::{self, last_line, next_rotation, open_append};
use super::queue::{Msg, Shared};
use super::record::Chain;
use super::FileSink;
use crate::clock::system_now_ms;
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

/// Most records sealed into one batch.
const MAX_BATCH_RECORDS: usize = 4096;
/// A batch stops growing once it holds this many bytes.
const MAX_BATCH_BYTES: usize = 4 << 20;

pub(super) struct FileWriter {
    sink: FileSink,
    /// The current trail file, locked (the lock goes with the file descriptor).
    file: File,
    /// Set when a rotation left no current file to write: nothing more is written.
    broken: Option<AuditError>,
    /// Bytes of complete records in the file.
    size: u64,
    /// A failed write may have left part of a batch past `size`: cut it before writing.
    dirty_tail: bool,
    chain: Chain,
    /// Sealed lines not written yet, and how many of them are decision records.
    pending: String,
    pending_records: u64,
    /// Most records taken into one batch: the queue's capacity (and `MAX_BATCH_RECORDS`), so
    /// a writer draining a queue that refills as fast as it empties still holds a bounded batch.
    max_batch: usize,
}

/// The chain head recorded in the last line of a trail file.
fn head_of(line: &[u8], shown: &str) -> Result<Chain, AuditError> {
    let bad = |problem: String| AuditError::BadHead {
        file: shown.to_owned(),
        problem,
    };
    let last: Value =
        serde_json::from_slice(line).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
    let seq = last
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("has no seq".into()))?;
    let hash = last
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no hash".into()))?;
    Ok(Chain::after(seq, hash.to_owned()))
}

/// The chain head of the newest rotated file, for a current file that is empty (a restart
/// right after rotation): the chain goes on from there, never from genesis.
fn head_of_rotated(path: &Path) -> Result<Chain, AuditError> {
    let newest = files::newest_rotated(path).map_err(AuditError::io(format!(
        "list the rotated files of {}",
        path.display()
    )))?;
    let Some(rotated) = newest else {
        return Ok(Chain::default());
    };
    let shown = rotated.display().to_string();
    let mut file = File::open(&rotated).map_err(AuditError::io(format!("open {shown}")))?;
    let len = file
        .metadata()
        .map_err(AuditError::io(format!("read {shown}")))?
        .len();
    match last_line(&mut file, len).map_err(AuditError::io(format!("read {shown}")))? {
        (Some(line), _) => head_of(&line, &shown),
        (None, _) => Err(AuditError::NoRecord {
            kind: "rotated audit file",
            file: shown,
        }),
    }
}

impl FileWriter {
    /// Locks and opens (or creates) the trail and continues its chain from the last complete
    /// record (of the current file, or of the newest rotated file when the current one is
    /// empty); an incomplete last line (a crash mid-write) is cut off and the cut recorded.
    pub(super) fn open(sink: FileSink) -> Result<FileWriter, AuditError> {
        let shown = sink.path.display().to_string();
        let file = open_append(&sink.path, sink.mode)
            .map_err(AuditError::io(format!("open audit file {shown}")))?;
        files::lock(&file, &sink.path)?;
        let len = file
            .metadata()
            .map_err(AuditError::io(format!("read {shown}")))?
            .len();
        let mut writer = FileWriter {
            sink,
            file,
            broken: None,
            size: len,
            dirty_tail: false,
            chain: Chain::default(),
            pending: String::new(),
            pending_records: 0,
            max_batch: MAX_BATCH_RECORDS,
        };
        if len == 0 {
            writer.chain = head_of_rotated(&writer.sink.path)?;
            return Ok(writer);
        }
        let (line, complete) =
            last_line(&mut writer.file, len).map_err(AuditError::io(format!("read {shown}")))?;
        let Some(line) = line else {
            return Err(AuditError::NoRecord {
                kind: "audit file",
                file: shown,
            });
        };
        writer.chain = head_of(&line, &shown)?;
        if complete < len {
            writer
                .file
                .set_len(complete)
                .map_err(AuditError::io(format!(
                    "cut the incomplete tail of {shown}"
                )))?;
            writer.size = complete;
            let line = writer.chain.recovered(len - complete, system_now_ms());
            writer.pending.push_str(&line);
        }
        Ok(writer)
    }

    /// Takes at most `records` records (and `MAX_BATCH_RECORDS`) into one batch.
    pub(super) fn max_batch(mut self, records: usize) -> FileWriter {
        self.max_batch = records.clamp(1, MAX_BATCH_RECORDS);
        self
    }

    /// Seals up to one batch from the queue into `pending`; flush requests go to `acks`.
    /// Returns false once the queue is closed and empty.
    fn take_batch(
        &mut self,
        rx: &Receiver<Msg>,
        shared: &Shared,
        acks: &mut Vec<SyncSender<Result<(), AuditError>>>,
    ) -> bool {
        let interval = Duration::from_millis(self.sink.flush_interval_ms.max(1));
        let mut open = true;
        let mut next = rx.recv_timeout(interval).map_err(|e| match e {
            RecvTimeoutError::Timeout => false,
            RecvTimeoutError::Disconnected => true,
        });
        let mut taken = 0;
        loop {
            match next {
                Ok(Msg::Record(r)) => {
                    self.pending.push_str(&self.chain.decision(&r));
                    self.pending_records += 1;
                    taken += 1;
                }
                Ok(Msg::Flush(ack)) => acks.push(ack),
                Err(closed) => {
                    open = !closed;
                    break;
                }
            }
            if taken >= self.max_batch || self.pending.len() >= MAX_BATCH_BYTES {
                break;
            }
            next = rx
                .try_recv()
                .map_err(|e| matches!(e, TryRecvError::Disconnected));
        }
        let dropped = shared.counters.dropped.load(Ordering::SeqCst);
        if let Some(line) = self.chain.dropped(dropped, system_now_ms()) {
            self.pending.push_str(&line);
        }
        open
    }

    /// Writes every queued record until the queue closes. While a batch cannot be written it
    /// is retried every flush interval and nothing more is taken from the queue.
    pub(super) fn run(&mut self, rx: &Receiver<Msg>, shared: &Shared) {
        let interval = Duration::from_millis(self.sink.flush_interval_ms.max(1));
        loop {
            if !self.pending.is_empty() && shared.failure().is_some() {
                // The last write failed: retry it before taking anything else.
                let closing = shared.closing.load(Ordering::SeqCst);
                if !closing {
                    std::thread::sleep(interval);
                }
                match self.write_out(shared) {
                    Ok(()) => shared.set_failure(None),
                    Err(e) if closing => return self.give_up(rx, shared, &e),
                    Err(e) => shared.set_failure(Some(e)),
                }
                continue;
            }
            let mut acks = Vec::new();
            let open = self.take_batch(rx, shared, &mut acks);
            let result = self.write_out(shared);
            match &result {
                Ok(()) => shared.set_failure(None),
                Err(e) => shared.set_failure(Some(e.clone())),
            }
            for ack in acks {
                let _ = ack.send(result.clone());
            }
            match result {
                Err(e) if !open => return self.give_up(rx, shared, &e),
                _ if !open => return,
                _ => {}
            }
        }
    }

    /// The engine is gone and the trail still cannot be written: count what is lost.
    fn give_up(&mut self, rx: &Receiver<Msg>, shared: &Shared, error: &AuditError) {
        let queued = rx
            .try_iter()
            .filter(|m| matches!(m, Msg::Record(_)))
            .count() as u64;
        let lost = self.pending_records + queued;
        shared.set_lost(lost, error);
    }

    /// Writes the pending lines in one write, optionally fsyncs, and rotates when due.
    fn write_out(&mut self, shared: &Shared) -> Result<(), AuditError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(broken) = &self.broken {
            return Err(broken.clone());
        }
        let shown = self.sink.path.display().to_string();
        if self.dirty_tail {
            self.file
                .set_len(self.size)
                .map_err(AuditError::io(format!("cut a partial write from {shown}")))?;
            self.dirty_tail = false;
        }
        if let Err(e) = self.file.write_all(self.pending.as_bytes()) {
            // Cut whatever part of the batch reached the file, so the retry cannot leave half
            // a record in the middle of the trail (retried before the next write if it fails).
            self.dirty_tail = self.file.set_len(self.size).is_err();
            return Err(AuditError::Unwritten {
                unwritten: shared.unwritten(),
                file: shown,
                cause: e.to_string(),
            });
        }
        self.size += self.pending.len() as u64;
        self.pending.clear();
        shared
            .counters
            .recorded
            .fetch_add(self.pending_records, Ordering::SeqCst);
        self.pending_records = 0;
        if self.sink.fsync {
            self.file
                .sync_data()
                .map_err(AuditError::io(format!("fsync {shown}")))?;
        }
        if self.sink.max_bytes > 0 && self.size >= self.sink.max_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Renames the current file to the next `PATH.NNNNNN` and starts a new one; the chain
    /// continues (the new file's first record carries the old file's last hash).
    fn rotate(&mut self) -> Result<(), AuditError> {
        let path = self.sink.path.clone();
        let shown = path.display().to_string();
        self.file
            .sync_all()
            .map_err(AuditError::io(format!("fsync {shown}")))?;
        let next = next_rotation(&path).map_err(AuditError::io(format!("rotate {shown}")))?;
        std::fs::rename(&path, &next).map_err(AuditError::io(format!("rotate {shown}")))?;
        // The open file is now the rotated one: without a new current file, writing on would
        // put records into a file another engine may continue from, so the writer stops.
        match files::create_locked(&path, self.sink.mode) {
            Ok(file) => {
                self.file = file;
                self.size = 0;
                Ok(())
            }
            Err(e) => {
                self.broken = Some(e.clone());
                Err(e)
            }
        }
    }
}
