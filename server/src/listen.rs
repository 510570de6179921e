//! Listeners (Unix socket, TCP, TLS), the connection loop, signals and the drain on SIGTERM.
use crate::args::{Listen, ServeArgs};
use crate::http::Peer;
use crate::reload;
use crate::routes::{initial_engine, router};
use crate::state::State;
use crate::workers::{Accepted, Conf, Dispatch, Pool};
use arc_swap::ArcSwap;
use hyper_util::server::graceful::GracefulShutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

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

/// What the accept loops share: where connections go and the drain they join.
#[derive(Clone)]
struct Ctx {
    dispatch: Dispatch,
    graceful: Arc<GracefulShutdown>,
    tls: bool,
}

async fn accept_unix(l: UnixListener, ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let peer = Peer {
        local: true,
        tcp: false,
        tls: false,
    };
    loop {
        let s = tokio::select! {
            _ = stop.changed() => return,
            r = l.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            }
        };
        match s.into_std() {
            Ok(s) => ctx
                .dispatch
                .send(Accepted::Unix(s), peer, ctx.graceful.watcher()),
            Err(e) => tracing::warn!(error = %e, "cannot hand a connection over"),
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
            tls: ctx.tls,
        };
        match s.into_std() {
            Ok(s) => ctx
                .dispatch
                .send(Accepted::Tcp(s), peer, ctx.graceful.watcher()),
            Err(e) => tracing::warn!(%addr, error = %e, "cannot hand a connection over"),
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
    let pool = Pool::start(
        args.worker_threads,
        &Conf {
            app: router(state.clone()),
            header_timeout: Duration::from_millis(args.header_timeout_ms.max(1)),
            tls: tls.clone(),
        },
    )?;
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop_tx, stop_rx) = watch::channel(false);
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
    let ctx = Ctx {
        dispatch: pool.dispatch(),
        graceful: graceful.clone(),
        tls: tls.is_some(),
    };
    let mut tasks = Vec::new();
    for l in unix {
        tasks.push(tokio::spawn(accept_unix(l, ctx.clone(), stop_rx.clone())));
    }
    for l in tcp {
        tasks.push(tokio::spawn(accept_tcp(l, ctx.clone(), stop_rx.clone())));
    }
    drop(ctx);
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
    pool.stop().await;
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
