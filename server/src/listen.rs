//! Listeners (Unix socket, TCP, TLS), the connection loop, signals and the drain on SIGTERM.
use crate::args::{Listen, ServeArgs};
use crate::http::Peer;
use crate::reload;
use crate::routes::{initial_engine, router};
use crate::state::State;
use arc_swap::ArcSwap;
use axum::body::Body;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Why the server cannot start (or could not flush its audit trail when stopping).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    /// A flag value the argument parser rejected.
    #[error("{0}")]
    Args(String),
    /// A file is in the way of the socket.
    #[error("{0} exists and is not a socket")]
    NotASocket(String),
    /// Another server answers on the socket.
    #[error("{0} is in use by a running server")]
    SocketInUse(String),
    /// An operating-system call failed; `doing` says what was attempted.
    #[error("cannot {doing}: {source}")]
    Io {
        doing: String,
        source: std::io::Error,
    },
    /// A file (a socket, a certificate, a key, the token or the policy) is not usable.
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    /// The TLS configuration cannot be built.
    #[error(transparent)]
    Tls(#[from] tokio_rustls::rustls::Error),
    /// The bound TCP listener has no local address.
    #[error(transparent)]
    LocalAddr(std::io::Error),
    /// A listener off the loopback interface without TLS and a token.
    #[error(
        "--listen tcp:{0} is not a loopback address: it needs --tls-cert/--tls-key and --token-file"
    )]
    NeedsTls(std::net::SocketAddr),
    /// `--test-control` with a listener off the loopback interface.
    #[error("--test-control is refused with the non-loopback listener tcp:{0}")]
    TestControlRemote(std::net::SocketAddr),
    /// `--test-control` with an audit trail.
    #[error("--test-control cannot be combined with --audit")]
    TestControlAudit,
    /// The token file holds too short or unprintable a token.
    #[error("{0}: the token must be at least 16 printable ASCII characters")]
    WeakToken(String),
    /// The audit trail could not be flushed when stopping.
    #[error("audit flush failed: {0}")]
    Flush(portcullis::EngineError),
}

impl From<String> for ServeError {
    fn from(message: String) -> Self {
        ServeError::Args(message)
    }
}

impl ServeError {
    fn io(doing: String) -> impl FnOnce(std::io::Error) -> ServeError {
        move |source| ServeError::Io { doing, source }
    }

    fn file(file: impl std::fmt::Display, reason: impl std::fmt::Display) -> ServeError {
        ServeError::File {
            file: file.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Binds a Unix socket with mode 0600 (0660 with a group) without a window in which another
/// user could connect: it is bound inside a fresh 0700 directory, then renamed into place.
fn bind_unix(path: &Path, group: Option<u32>) -> Result<UnixListener, ServeError> {
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServeError::NotASocket(shown.to_string()));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServeError::SocketInUse(shown.to_string()));
        }
        std::fs::remove_file(path).map_err(ServeError::io(format!("remove stale {shown}")))?;
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(".portcullis-bind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).map_err(ServeError::io(format!("create {}", dir.display())))?;
    let result = (|| {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| ServeError::file(dir.display(), e))?;
        let tmp = dir.join("s");
        let listener = UnixListener::bind(&tmp).map_err(ServeError::io(format!("bind {shown}")))?;
        let mode = if group.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| ServeError::file(&shown, e))?;
        if let Some(gid) = group {
            std::os::unix::fs::chown(&tmp, None, Some(gid))
                .map_err(ServeError::io(format!("give {shown} to group {gid}")))?;
        }
        std::fs::rename(&tmp, path).map_err(ServeError::io(format!("place {shown}")))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServeError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServeError::file(cert.display(), e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| ServeError::file(key.display(), e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::file(cert.display(), e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Checks the secure-by-default rules before anything is bound.
fn check_listeners(args: &ServeArgs, listeners: &[Listen], token: bool) -> Result<(), ServeError> {
    for l in listeners {
        if let Listen::Tcp(addr) = l {
            if !addr.ip().is_loopback() {
                if args.tls_cert.is_none() || !token {
                    return Err(ServeError::NeedsTls(*addr));
                }
                if args.test_control {
                    return Err(ServeError::TestControlRemote(*addr));
                }
            }
        }
    }
    if args.test_control && args.audit.is_some() {
        return Err(ServeError::TestControlAudit);
    }
    Ok(())
}

fn read_token(path: &Path) -> Result<String, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ServeError::file(path.display(), e))?;
    let token = text.trim().to_owned();
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ServeError::WeakToken(path.display().to_string()));
    }
    Ok(token)
}

/// Serves one accepted connection until it closes or the drain ends it.
fn spawn_conn<S>(
    stream: S,
    peer: Peer,
    app: Router,
    watcher: Arc<GracefulShutdown>,
    header_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer);
        app.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    let conn = watcher.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}

struct Ctx {
    app: Router,
    watcher: Arc<GracefulShutdown>,
    header_timeout: Duration,
    tls: Option<TlsAcceptor>,
}

async fn accept_unix(l: UnixListener, ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let peer = Peer {
        local: true,
        tcp: false,
        tls: false,
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = l.accept() => match r {
                Ok((s, _)) => spawn_conn(s, peer, ctx.app.clone(), ctx.watcher.clone(), ctx.header_timeout),
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(Duration::from_millis(10)).await; }
            }
        }
    }
}

async fn accept_tcp(l: TcpListener, ctx: Ctx, mut stop: watch::Receiver<bool>) {
    loop {
        let (s, addr) = tokio::select! {
            _ = stop.changed() => return,
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            }
        };
        let _ = s.set_nodelay(true);
        let peer = Peer {
            local: addr.ip().is_loopback(),
            tcp: true,
            tls: ctx.tls.is_some(),
        };
        match &ctx.tls {
            None => spawn_conn(
                s,
                peer,
                ctx.app.clone(),
                ctx.watcher.clone(),
                ctx.header_timeout,
            ),
            Some(acceptor) => {
                let (acceptor, app, watcher, t) = (
                    acceptor.clone(),
                    ctx.app.clone(),
                    ctx.watcher.clone(),
                    ctx.header_timeout,
                );
                tokio::spawn(async move {
                    match tokio::time::timeout(t, acceptor.accept(s)).await {
                        Ok(Ok(tls)) => spawn_conn(tls, peer, app, watcher, t),
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// Loads the policy, binds every listener, serves until SIGTERM/SIGINT, drains, flushes audit.
pub(crate) async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let listeners = args.listeners()?;
    let token = args.token_file.as_deref().map(read_token).transpose()?;
    check_listeners(&args, &listeners, token.is_some())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
        _ => None,
    };
    let policy = std::fs::read(&args.policy)
        .map_err(ServeError::io(format!("read {}", args.policy.display())))?;
    let policy = crate::yaml::policy_json(&args.policy, policy)
        .map_err(|e| ServeError::file(args.policy.display(), e))?;
    let shared = crate::state::shared_state(args.state.as_deref())?;
    let engine = initial_engine(
        &policy,
        args.audit.as_ref(),
        args.test_control,
        shared.clone(),
    )
    .map_err(|e| ServeError::file(args.policy.display(), e))?;
    let state = Arc::new(State {
        engine: ArcSwap::from_pointee(engine),
        policy_path: args.policy.clone(),
        metrics: crate::metrics::Metrics::default(),
        reload_failure: Mutex::new(None),
        permits: Semaphore::new(args.max_concurrency.max(1)),
        max_body: args.max_body_bytes,
        request_timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
        token,
        test_control: args.test_control,
        shared,
    });
    let app = router(state.clone());
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let header_timeout = Duration::from_millis(args.header_timeout_ms.max(1));
    // Bind everything first: the server answers on no listener before all of them are up.
    let mut sockets: Vec<PathBuf> = Vec::new();
    let mut unix = Vec::new();
    let mut tcp = Vec::new();
    for l in &listeners {
        match l {
            Listen::Unix(path) => {
                unix.push(bind_unix(path, args.socket_group)?);
                sockets.push(path.clone());
                tracing::info!(socket = %path.display(), "listening");
            }
            Listen::Tcp(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(ServeError::io(format!("listen on {addr}")))?;
                let local = listener.local_addr().map_err(ServeError::LocalAddr)?;
                tracing::info!(address = %local, tls = tls.is_some(), "listening");
                tcp.push(listener);
            }
        }
    }
    let ctx = |tls: Option<TlsAcceptor>| Ctx {
        app: app.clone(),
        watcher: graceful.clone(),
        header_timeout,
        tls,
    };
    let mut tasks = Vec::new();
    for l in unix {
        tasks.push(tokio::spawn(accept_unix(l, ctx(None), stop_rx.clone())));
    }
    for l in tcp {
        tasks.push(tokio::spawn(accept_tcp(
            l,
            ctx(tls.clone()),
            stop_rx.clone(),
        )));
    }
    let info = state.engine().policy_info();
    tracing::info!(policy = %info.name, version = info.version.as_deref().unwrap_or(""), file = %args.policy.display(), "portcullis serve ready");
    let watcher_task = tokio::spawn(reload::watch_file(state.clone(), args.watch_interval_ms));
    reload::wait_for_stop(state.clone()).await;
    tracing::info!("stopping: draining requests in flight");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    watcher_task.abort();
    let drain = Duration::from_millis(args.drain_timeout_ms);
    match Arc::try_unwrap(graceful) {
        Ok(g) => {
            if tokio::time::timeout(drain, g.shutdown()).await.is_err() {
                tracing::warn!("drain timed out; closing the remaining connections");
            }
        }
        Err(_) => tracing::warn!("listeners still running; not draining"),
    }
    for s in &sockets {
        let _ = std::fs::remove_file(s);
    }
    let flushed = state.engine().flush_audit();
    match flushed {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(())
        }
        Err(e) => Err(ServeError::Flush(e)),
    }
}
