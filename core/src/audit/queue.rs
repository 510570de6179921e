//! The engine's side of the trail: the bounded queue `evaluate` feeds, the memory sink the
//! host drains, and the counters both sides share.
use super::error::AuditError;
use super::record::{Chain, Record, Subject};
use super::writer::FileWriter;
use super::{AuditOptions, AuditSink, AuditStats, Overflow, MAX_QUEUE_CAPACITY};
use crate::clock::system_now_ms;
use crate::decision::Decision;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

pub(super) enum Msg {
    Record(Box<Record>),
    Flush(SyncSender<Result<(), AuditError>>),
}

/// Counters shared by the enqueuing side and the writer.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Decision records taken into the queue.
    pub(super) accepted: AtomicU64,
    pub(super) recorded: AtomicU64,
    pub(super) dropped: AtomicU64,
}

/// What the engine side and the file writer share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) counters: Arc<Counters>,
    /// The last write error, while the trail cannot be written.
    failure: Mutex<Option<AuditError>>,
    /// Set when the engine is dropped: a writer stuck on a failing disk makes a last attempt.
    pub(super) closing: AtomicBool,
    /// Set by the writer when the engine was dropped with records it could not write.
    lost: Mutex<Option<(u64, AuditError)>>,
}

impl Shared {
    pub(super) fn failure(&self) -> Option<AuditError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set_failure(&self, f: Option<AuditError>) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = f;
    }

    pub(super) fn set_lost(&self, count: u64, error: &AuditError) {
        *self.lost.lock().unwrap_or_else(PoisonError::into_inner) = Some((count, error.clone()));
    }

    /// Decision records accepted but not yet written.
    pub(super) fn unwritten(&self) -> u64 {
        let c = &self.counters;
        c.accepted
            .load(Ordering::SeqCst)
            .saturating_sub(c.recorded.load(Ordering::SeqCst))
    }
}

enum Backend {
    File {
        writer: Option<JoinHandle<()>>,
        shared: Arc<Shared>,
        path: String,
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
    /// Starts the trail; `None` for `AuditSink::None`. The error is the message the
    /// engine's `CreateError::Audit` carries.
    pub(crate) fn start(options: &AuditOptions) -> Result<Option<Audit>, AuditError> {
        if options.queue_capacity > MAX_QUEUE_CAPACITY {
            return Err(AuditError::Options(format!(
                "queue_capacity {} is larger than {MAX_QUEUE_CAPACITY}",
                options.queue_capacity
            )));
        }
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let backend = match &options.sink {
            AuditSink::None => return Ok(None),
            AuditSink::Memory => Backend::Memory {
                rx: Mutex::new((rx, Chain::default())),
            },
            AuditSink::File(sink) => {
                let mut writer =
                    FileWriter::open(sink.clone())?.max_batch(options.queue_capacity.max(1));
                let shared = Arc::new(Shared {
                    counters: counters.clone(),
                    ..Shared::default()
                });
                let for_writer = shared.clone();
                let handle = std::thread::Builder::new()
                    .name("portcullis-audit".into())
                    .spawn(move || writer.run(&rx, &for_writer))
                    .map_err(|e| AuditError::Spawn(e.to_string()))?;
                Backend::File {
                    writer: Some(handle),
                    shared,
                    path: sink.path.display().to_string(),
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
        let record = Box::new(Record::new(d, subject, time_ms));
        // Counted before the send, so `unwritten` never reads below what the writer holds.
        self.counters.accepted.fetch_add(1, Ordering::SeqCst);
        let sent = match self.overflow {
            Overflow::Block => tx.send(Msg::Record(record)).is_ok(),
            Overflow::Drop => match tx.try_send(Msg::Record(record)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if !sent {
            self.counters.accepted.fetch_sub(1, Ordering::SeqCst);
            self.counters.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Hands out up to `max` sealed records (memory sink); empty for a file sink.
    pub(crate) fn drain(&self, max: usize) -> Vec<String> {
        let Backend::Memory { rx } = &self.backend else {
            return Vec::new();
        };
        let mut guard = rx.lock().unwrap_or_else(PoisonError::into_inner);
        let (rx, chain) = &mut *guard;
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        let dropped = self.counters.dropped.load(Ordering::SeqCst);
        if let Some(line) = chain.dropped(dropped, system_now_ms()) {
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

    /// Waits until every record enqueued so far is written and flushed (file sink). While the
    /// trail cannot be written, fails at once with the error and the number of records held.
    pub(crate) fn flush(&self) -> Result<(), AuditError> {
        let (Some(tx), Backend::File { shared, .. }) = (&self.tx, &self.backend) else {
            return Ok(());
        };
        if let Some(f) = shared.failure() {
            return Err(f);
        }
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let mut request = Msg::Flush(ack_tx);
        // A full queue waits for room, unless the trail cannot be written.
        loop {
            match tx.try_send(request) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    if let Some(f) = shared.failure() {
                        return Err(f);
                    }
                    request = back;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return Err(AuditError::WriterStopped),
            }
        }
        // A write that starts failing after the request was queued must not leave the caller
        // waiting for the disk: look at the failure while waiting.
        loop {
            match ack_rx.recv_timeout(std::time::Duration::from_millis(20)) {
                Ok(result) => return result,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(f) = shared.failure() {
                        return Err(f);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(AuditError::WriterStopped),
            }
        }
    }

    pub(crate) fn stats(&self) -> AuditStats {
        let c = &self.counters;
        let recorded = c.recorded.load(Ordering::SeqCst);
        AuditStats {
            recorded,
            dropped: c.dropped.load(Ordering::SeqCst),
            unwritten: c.accepted.load(Ordering::SeqCst).saturating_sub(recorded),
        }
    }

    /// Stops the writer after it has written what it can, and says what it could not write:
    /// `Ok` when every accepted record reached the trail.
    pub(crate) fn close(mut self) -> Result<(), AuditError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), AuditError> {
        // Closing the queue lets the writer drain what is left, flush and stop.
        self.tx = None;
        let Backend::File {
            writer,
            shared,
            path,
        } = &mut self.backend
        else {
            return Ok(());
        };
        shared.closing.store(true, Ordering::SeqCst);
        if let Some(handle) = writer.take() {
            if handle.join().is_err() {
                return Err(AuditError::WriterFailed(path.clone()));
            }
        }
        let lost = shared
            .lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match lost {
            Some((count, cause)) => Err(AuditError::Lost {
                path: path.clone(),
                count,
                cause: Box::new(cause),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            // The engine is going away and cannot return an error: say it where an operator
            // sees it. Hosts that need the count call `flush_audit` before dropping.
            eprintln!("portcullis: {e}");
        }
    }
}
