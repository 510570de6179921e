//! The connection workers. Each is a thread with its own single-threaded runtime that serves
//! the connections handed to it, whole: a request is read, decided and answered on one thread,
//! with no hand-off between threads (a work-stealing runtime woke a second thread for every
//! request, which cost more than the decision). The listeners accept on the main runtime and
//! give each connection to the worker with the fewest open connections.
use crate::http::Peer;
use crate::listen::ServeError;
use axum::body::Body;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// An accepted connection, detached from the runtime that accepted it.
pub(crate) enum Accepted {
    Unix(std::os::unix::net::UnixStream),
    Tcp(std::net::TcpStream),
}

/// A connection for a worker: the stream, how it arrived, and its place in the drain.
struct Job {
    stream: Accepted,
    peer: Peer,
    watcher: Watcher,
    /// Connections open on the worker (decremented when this one ends).
    open: Arc<AtomicUsize>,
}

/// What every connection of a worker is served with.
#[derive(Clone)]
pub(crate) struct Conf {
    pub(crate) app: Router,
    pub(crate) header_timeout: Duration,
    /// The TLS acceptor for TCP connections, when the TCP listeners speak TLS.
    pub(crate) tls: Option<TlsAcceptor>,
}

/// Counts a connection open on its worker until dropped.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

struct Worker {
    intake: mpsc::UnboundedSender<Job>,
    open: Arc<AtomicUsize>,
}

/// The workers and the hand-off to them.
pub(crate) struct Pool {
    workers: Arc<[Worker]>,
    threads: Vec<JoinHandle<()>>,
    done: watch::Sender<bool>,
}

/// Hands accepted connections to the pool's workers; cloned into each accept loop.
#[derive(Clone)]
pub(crate) struct Dispatch {
    workers: Arc<[Worker]>,
}

impl Pool {
    /// Starts `n` worker threads (at least one).
    pub(crate) fn start(n: usize, conf: &Conf) -> Result<Pool, ServeError> {
        let (done, _) = watch::channel(false);
        let mut workers = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| ServeError::Io {
                    doing: "start a worker runtime".into(),
                    source,
                })?;
            let (intake, rx) = mpsc::unbounded_channel();
            let (conf, stop) = (conf.clone(), done.subscribe());
            let thread = std::thread::Builder::new()
                .name(format!("portcullis-worker-{i}"))
                .spawn(move || run_worker(runtime, rx, conf, stop))
                .map_err(|source| ServeError::Io {
                    doing: "start a worker thread".into(),
                    source,
                })?;
            workers.push(Worker {
                intake,
                open: Arc::new(AtomicUsize::new(0)),
            });
            threads.push(thread);
        }
        Ok(Pool {
            workers: workers.into(),
            threads,
            done,
        })
    }

    pub(crate) fn dispatch(&self) -> Dispatch {
        Dispatch {
            workers: self.workers.clone(),
        }
    }

    /// Stops the workers once the drain is over: the connections still open are closed.
    pub(crate) async fn stop(self) {
        let _ = self.done.send(true);
        drop(self.workers);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                if t.join().is_err() {
                    tracing::warn!("a worker thread panicked");
                }
            }
        })
        .await;
    }
}

impl Dispatch {
    /// Gives a connection to the worker with the fewest open connections. A connection no
    /// worker can take (a worker gone) is closed.
    pub(crate) fn send(&self, stream: Accepted, peer: Peer, watcher: Watcher) {
        let Some(w) = self.workers.iter().min_by_key(|w| w.open.load(Relaxed)) else {
            return;
        };
        w.open.fetch_add(1, Relaxed);
        let job = Job {
            stream,
            peer,
            watcher,
            open: w.open.clone(),
        };
        if let Err(mpsc::error::SendError(job)) = w.intake.send(job) {
            job.open.fetch_sub(1, Relaxed);
            tracing::warn!("a worker is gone; connection closed");
        }
    }
}

/// A worker's thread: serves the connections it is given until told to stop.
fn run_worker(
    runtime: tokio::runtime::Runtime,
    mut intake: mpsc::UnboundedReceiver<Job>,
    conf: Conf,
    mut done: watch::Receiver<bool>,
) {
    runtime.block_on(async {
        let serving = async {
            while let Some(job) = intake.recv().await {
                serve(job, &conf);
            }
            // Every sender is gone: nothing more to serve; wait for the stop.
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = done.wait_for(|d| *d) => {}
            () = serving => {}
        }
    });
    // The drain is over (or timed out): what is still open is closed with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// Starts serving one connection on this worker's runtime.
fn serve(job: Job, conf: &Conf) {
    let guard = OpenGuard(job.open);
    let (peer, watcher) = (job.peer, job.watcher);
    match job.stream {
        Accepted::Unix(s) => match tokio::net::UnixStream::from_std(s) {
            Ok(s) => spawn_conn(s, peer, conf, watcher, guard),
            Err(e) => tracing::warn!(error = %e, "cannot serve a connection"),
        },
        Accepted::Tcp(s) => match (tokio::net::TcpStream::from_std(s), &conf.tls) {
            (Ok(s), None) => spawn_conn(s, peer, conf, watcher, guard),
            (Ok(s), Some(acceptor)) => {
                let (acceptor, conf) = (acceptor.clone(), conf.clone());
                let t = conf.header_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(t, acceptor.accept(s)).await {
                        Ok(Ok(tls)) => spawn_conn(tls, peer, &conf, watcher, guard),
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
            (Err(e), _) => tracing::warn!(error = %e, "cannot serve a connection"),
        },
    }
}

/// Serves one connection until it closes or the drain ends it.
fn spawn_conn<S>(stream: S, peer: Peer, conf: &Conf, watcher: Watcher, guard: OpenGuard)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = conf.app.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer);
        app.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(conf.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    let conn = watcher.watch(conn);
    tokio::spawn(async move {
        let _open = guard;
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}
