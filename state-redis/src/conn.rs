//! Connections: a small pool of synchronous connections, each bounded by the call timeout.
//!
//! A connection that fails in any way is dropped; the next call opens a new one, so the
//! backend reconnects on its own once Redis answers again. Commands are never retried: a
//! script whose answer was lost may have admitted the action, and running it again could
//! count it twice.
use crate::{ConfigError, DEFAULT_TIMEOUT};
use portcullis::StateError;
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{ConnectionLike, RedisResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most idle connections kept.
const MAX_IDLE: usize = 64;

/// What the URL asks for.
#[derive(Debug)]
pub(crate) struct Settings {
    urls: Vec<String>,
    cluster: bool,
    timeout: Duration,
    pub(crate) prefix: String,
    /// PEM certificates to trust instead of the system's store (`tls_ca=PATH`).
    ca: Option<Vec<u8>>,
    tls: bool,
}

impl Settings {
    pub(crate) fn parse(url: &str) -> Result<Settings, ConfigError> {
        let bad = |why: &str| ConfigError(format!("state URL {url:?}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected redis:// or rediss://"))?;
        if scheme != "redis" && scheme != "rediss" {
            return Err(bad("expected redis:// or rediss://"));
        }
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut settings = Settings {
            urls: Vec::new(),
            cluster: false,
            timeout: DEFAULT_TIMEOUT,
            prefix: "portcullis".to_owned(),
            ca: None,
            tls: scheme == "rediss",
        };
        let mut passed = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "timeout_ms" => {
                    let ms: u64 = v.parse().map_err(|_| bad("timeout_ms is not a number"))?;
                    if ms == 0 {
                        return Err(bad("timeout_ms must be at least 1"));
                    }
                    settings.timeout = Duration::from_millis(ms);
                }
                "prefix" => {
                    if v.is_empty() || v.contains(['{', '}']) {
                        return Err(bad("prefix must be non-empty, without braces"));
                    }
                    v.clone_into(&mut settings.prefix);
                }
                "cluster" => settings.cluster = matches!(v, "true" | "1" | "yes"),
                "tls_ca" => {
                    if !settings.tls {
                        return Err(bad("tls_ca needs a rediss:// URL"));
                    }
                    let path =
                        percent_decode(v).ok_or_else(|| bad("tls_ca is not a valid path"))?;
                    let pem = std::fs::read(&path)
                        .map_err(|e| bad(&format!("tls_ca file {path:?}: {e}")))?;
                    settings.ca = Some(pem);
                }
                _ => passed.push(pair),
            }
        }
        let query = if passed.is_empty() {
            String::new()
        } else {
            format!("?{}", passed.join("&"))
        };
        // `user:pass@host1:p1,host2:p2/db`: one URL per node, sharing credentials and path.
        let (auth, hosts) = match base.rsplit_once('@') {
            Some((a, h)) => (format!("{a}@"), h),
            None => (String::new(), base),
        };
        let (hosts, path) = hosts.split_once('/').unwrap_or((hosts, ""));
        for host in hosts.split(',') {
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            settings
                .urls
                .push(format!("{scheme}://{auth}{host}{path}{query}"));
        }
        if settings.urls.len() > 1 && !settings.cluster {
            return Err(bad("several hosts need cluster=true"));
        }
        Ok(settings)
    }
}

/// Decodes `%XX` escapes of a query value (a path may hold `&`, `=` or spaces).
fn percent_decode(v: &str) -> Option<String> {
    let mut out = Vec::with_capacity(v.len());
    let mut bytes = v.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.is_empty())
}

/// The TLS settings: the `tls_ca` file when given, else the system's trust store.
fn certificates(ca: Option<Vec<u8>>) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: ca,
    }
}

enum Client {
    Single(redis::Client),
    Cluster(ClusterClient),
}

enum Conn {
    Single(redis::Connection),
    /// Boxed: a cluster connection is several times the size of a single one.
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }

    fn set_timeout(&mut self, t: Duration) -> RedisResult<()> {
        match self {
            Conn::Single(c) => {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))
            }
            Conn::Cluster(c) => {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))
            }
        }
    }
}

/// The connections to one store.
pub(crate) struct Pool {
    client: Client,
    timeout: Duration,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(s: Settings) -> Result<Pool, ConfigError> {
        let err = |e: redis::RedisError| ConfigError(format!("state URL: {e}"));
        if s.tls {
            // redis builds its rustls config with the process's default crypto provider; install
            // ring (the only one linked) unless the program installed one already.
            if rustls::crypto::CryptoProvider::get_default().is_none() {
                let _ = rustls::crypto::ring::default_provider().install_default();
            }
        }
        let client = if s.cluster {
            let mut builder = ClusterClient::builder(s.urls)
                .connection_timeout(s.timeout)
                .response_timeout(s.timeout)
                // A lost answer must not run the script twice (see the module comment).
                .retries(0);
            if s.ca.is_some() {
                builder = builder.certs(certificates(s.ca));
            }
            Client::Cluster(builder.build().map_err(err)?)
        } else {
            let url = s
                .urls
                .first()
                .ok_or_else(|| ConfigError("no host".into()))?;
            let client = match s.ca {
                Some(ca) => redis::Client::build_with_tls(url.as_str(), certificates(Some(ca))),
                None => redis::Client::open(url.as_str()),
            };
            Client::Single(client.map_err(err)?)
        };
        Ok(Pool {
            client,
            timeout: s.timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    fn open(&self, deadline: Instant) -> RedisResult<Conn> {
        let left = remaining(deadline)?;
        Ok(match &self.client {
            Client::Single(c) => Conn::Single(c.get_connection_with_timeout(left)?),
            Client::Cluster(c) => Conn::Cluster(Box::new(c.get_connection()?)),
        })
    }

    /// Runs `f` on a connection within the timeout. Any failure is `unavailable`, and the
    /// connection it happened on is dropped.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> Result<T, StateError> {
        let deadline = Instant::now() + self.timeout;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let result = (|| {
            let mut conn = match idle {
                Some(c) => c,
                None => self.open(deadline)?,
            };
            conn.set_timeout(remaining(deadline)?)?;
            let value = f(conn.like())?;
            Ok((conn, value))
        })();
        match result {
            Ok((conn, value)) => {
                if let Ok(mut idle) = self.idle.lock() {
                    if idle.len() < MAX_IDLE {
                        idle.push(conn);
                    }
                }
                Ok(value)
            }
            Err(e) => {
                // The store most likely restarted or moved: every idle connection is stale.
                if let Ok(mut idle) = self.idle.lock() {
                    idle.clear();
                }
                Err(unavailable(&e))
            }
        }
    }
}

fn remaining(deadline: Instant) -> RedisResult<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the call timed out",
            ))
        })
}

fn unavailable(e: &redis::RedisError) -> StateError {
    StateError::Unavailable(format!("the shared state (Redis) did not answer: {e}"))
}
