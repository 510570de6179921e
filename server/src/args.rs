//! Command-line flags of `portcullis serve`.
use std::net::SocketAddr;
use std::path::PathBuf;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `portcullis serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The policy file (watched for changes; SIGHUP reloads it too).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Where to listen: `unix:PATH` or `tcp:HOST:PORT` (repeatable; default `unix:portcullis.sock`).
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Audit trail file (JSON lines, hash-chained); flushed on shutdown.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Numeric group id given to the Unix socket; the socket is then 0660 instead of 0600.
    #[arg(long, value_name = "GID")]
    pub socket_group: Option<u32>,
    /// File holding the bearer token TCP clients must send (`Authorization: Bearer ...`).
    /// Required on a non-loopback listener; optional on loopback; never asked on a Unix socket.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// TLS certificate chain (PEM) for TCP listeners; required on a non-loopback listener.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted, in bytes (actions over 1 MiB below this limit are
    /// still answered, with an `invalid_action` deny, exactly as in-process).
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Requests handled at once; more wait up to the request timeout, then get 503.
    #[arg(long, default_value_t = 1024)]
    pub max_concurrency: usize,
    /// Time allowed to receive a request's headers, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub header_timeout_ms: u64,
    /// Time allowed for a whole request (body included), in milliseconds.
    #[arg(long, default_value_t = 10000, value_name = "MS")]
    pub request_timeout_ms: u64,
    /// Time SIGTERM waits for requests in flight before closing connections, in milliseconds.
    #[arg(long, default_value_t = 10000, value_name = "MS")]
    pub drain_timeout_ms: u64,
    /// How often the policy file's modification time is checked, in milliseconds (0: only SIGHUP
    /// and `PUT /v1/policy` change the policy).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub watch_interval_ms: u64,
    /// Shared state for rate limits and approval grants: `redis://...` or `rediss://...`
    /// (see docs/shared-state.md). Without it they are kept in this process.
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (`info`, `debug`, `portcullis_server=debug`...).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    pub worker_threads: usize,
    /// TESTING ONLY: a manual engine clock and the `/test/v1/*` endpoints (reset, clock) for
    /// replaying the conformance suite. Refused with any non-loopback listener, and each
    /// request is refused unless it comes over a Unix socket or from loopback.
    #[arg(long, hide = true)]
    pub test_control: bool,
}

/// A parsed `--listen` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A Unix socket path.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl Listen {
    /// Parses `unix:PATH` or `tcp:HOST:PORT` (`HOST` an IP literal or `localhost`).
    pub fn parse(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("--listen {s}: the socket path is empty"));
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            let addr = addr.replacen("localhost:", "127.0.0.1:", 1);
            return addr
                .parse::<SocketAddr>()
                .map(Listen::Tcp)
                .map_err(|e| format!("--listen {s}: {e} (expected tcp:IP:PORT)"));
        }
        Err(format!("--listen {s}: expected unix:PATH or tcp:HOST:PORT"))
    }
}

impl ServeArgs {
    /// The listeners, parsed (the default socket when none is given).
    pub fn listeners(&self) -> Result<Vec<Listen>, String> {
        if self.listen.is_empty() {
            return Ok(vec![Listen::Unix(PathBuf::from("portcullis.sock"))]);
        }
        self.listen.iter().map(|s| Listen::parse(s)).collect()
    }
}
