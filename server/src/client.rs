//! [`RemoteEngine`]: a client of `portcullis serve` with the local engine's evaluate/approve
//! API, that fails closed (see [docs/serve.md, "Clients"](../../docs/serve.md#clients)).
//!
//! - One HTTP/1.1 keep-alive connection per concurrent caller, over a Unix socket or TCP; a
//!   timeout per call covers connecting, sending and reading the answer.
//! - A failed call (no connection, timeout, error status, an answer that is not a valid
//!   decision) is a deny with code `unavailable` and a reason, or, with a fallback policy,
//!   the fallback engine's decision marked `fallback: true`. Never an error, never a retry.
//! - After `breaker_failures` consecutive failures the client stops calling the server for
//!   `breaker_cooldown`, then probes `GET /readyz` before sending decisions again.
use portcullis::{Code, Decision, Effect, Engine, PolicyError, PolicyInfo, ShadowHit};
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path.
    Unix(PathBuf),
    /// A TCP address (plain HTTP: use the socket or a loopback address, or a TLS proxy).
    Tcp(SocketAddr),
}

impl Endpoint {
    /// Parses `unix:PATH`, `tcp:IP:PORT` or `http://IP:PORT`.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        let addr = s
            .strip_prefix("tcp:")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| format!("{s}: expected unix:PATH, tcp:IP:PORT or http://IP:PORT"))?;
        let addr = addr
            .trim_end_matches('/')
            .replacen("localhost:", "127.0.0.1:", 1);
        addr.parse()
            .map(Endpoint::Tcp)
            .map_err(|e| format!("{s}: {e}"))
    }

    fn describe(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix:{}", p.display()),
            Endpoint::Tcp(a) => format!("http://{a}"),
        }
    }
}

/// Client options.
#[derive(Debug)]
pub struct RemoteOptions {
    /// Time allowed for one call: connect, send, and read the whole answer.
    pub timeout: Duration,
    /// Bearer token sent on TCP.
    pub token: Option<String>,
    /// A policy decided in-process when the server is unavailable (decisions marked
    /// `fallback: true`).
    pub fallback: Option<Engine>,
    /// Consecutive failures that open the circuit breaker (0: never open it).
    pub breaker_failures: u32,
    /// How long an open breaker waits before probing `/readyz`.
    pub breaker_cooldown: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_millis(250),
            token: None,
            fallback: None,
            breaker_failures: 5,
            breaker_cooldown: Duration::from_millis(500),
        }
    }
}

/// An error from a non-decision call (approve, policy update).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The server rejected the policy (its first load error).
    #[error(transparent)]
    Policy(PolicyError),
    /// The server refused the request (`code` and `message` from its JSON error).
    #[error("{code} ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The error code (`invalid_argument`, `invalid_action`...).
        code: String,
        /// What is wrong.
        message: String,
    },
    /// The server could not be reached or did not answer in time.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_timeouts(&self, d: Duration) -> std::io::Result<()> {
        let d = Some(d.max(Duration::from_micros(1)));
        match self {
            Stream::Unix(s) => s.set_read_timeout(d).and_then(|()| s.set_write_timeout(d)),
            Stream::Tcp(s) => s.set_read_timeout(d).and_then(|()| s.set_write_timeout(d)),
        }
    }

    /// True when the server has closed (or written to) an idle connection: it must not be
    /// reused. Reads nothing from a healthy connection.
    fn stale(&mut self) -> bool {
        let mut b = [0u8; 1];
        let r = match self {
            Stream::Unix(s) => s.set_nonblocking(true).and_then(|()| s.read(&mut b)),
            Stream::Tcp(s) => s.set_nonblocking(true).and_then(|()| s.read(&mut b)),
        };
        let restored = match self {
            Stream::Unix(s) => s.set_nonblocking(false),
            Stream::Tcp(s) => s.set_nonblocking(false),
        };
        !matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock) || restored.is_err()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// A failed round trip; `health` is true when it says something about the server's health
/// (transport failures, timeouts, 5xx), false for a refused request (4xx).
struct Failure {
    message: String,
    health: bool,
}

impl Failure {
    fn transport(message: String) -> Failure {
        Failure {
            message,
            health: true,
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    last_error: String,
}

/// A remote engine. `Send + Sync`: share one between threads.
pub struct RemoteEngine {
    endpoint: Endpoint,
    opts: RemoteOptions,
    pool: Mutex<Vec<Stream>>,
    breaker: Mutex<Breaker>,
    probing: AtomicBool,
    last_policy: Mutex<Option<PolicyInfo>>,
}

impl std::fmt::Debug for RemoteEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEngine")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A response: status and body.
type Answer = (u16, Vec<u8>);

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl RemoteEngine {
    /// A client of the server at `endpoint`. Nothing is connected until the first call.
    pub fn new(endpoint: Endpoint, opts: RemoteOptions) -> RemoteEngine {
        RemoteEngine {
            endpoint,
            opts,
            pool: Mutex::new(Vec::new()),
            breaker: Mutex::new(Breaker::default()),
            probing: AtomicBool::new(false),
            last_policy: Mutex::new(None),
        }
    }

    fn connect(&self, deadline: Instant) -> Result<Stream, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let s = match &self.endpoint {
            Endpoint::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Endpoint::Tcp(a) => TcpStream::connect_timeout(a, left.max(Duration::from_millis(1)))
                .map(|s| {
                    let _ = s.set_nodelay(true);
                    Stream::Tcp(s)
                }),
        };
        s.map_err(|e| format!("cannot connect to {}: {e}", self.endpoint.describe()))
    }

    fn checkout(&self, deadline: Instant) -> Result<Stream, String> {
        loop {
            let pooled = self
                .pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match pooled {
                Some(mut s) => {
                    if !s.stale() {
                        return Ok(s);
                    }
                }
                None => return self.connect(deadline),
            }
        }
    }

    /// One HTTP/1.1 round trip, sent once (never retried).
    fn round_trip(&self, method: &str, path: &str, body: &[u8]) -> Result<Answer, Failure> {
        let start = Instant::now();
        let deadline = start + self.opts.timeout;
        let mut s = self.checkout(deadline).map_err(Failure::transport)?;
        let timed_out = |what: &str, e: std::io::Error| {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                format!(
                    "the remote engine at {} did not answer within {} ms",
                    self.endpoint.describe(),
                    self.opts.timeout.as_millis()
                )
            } else {
                format!("{what} {}: {e}", self.endpoint.describe())
            }
        };
        let mut req = Vec::with_capacity(body.len() + 200);
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(
            b" HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n",
        );
        if let (Some(t), Endpoint::Tcp(_)) = (&self.opts.token, &self.endpoint) {
            req.extend_from_slice(format!("Authorization: Bearer {t}\r\n").as_bytes());
        }
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        s.set_timeouts(deadline.saturating_duration_since(Instant::now()))
            .and_then(|()| s.write_all(&req))
            .map_err(|e| Failure::transport(timed_out("cannot send to", e)))?;
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut chunk = [0u8; 16 * 1024];
        let (head_end, status, length, keep) = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default())
                    .to_ascii_lowercase();
                let status = head
                    .get(9..12)
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| Failure::transport("the answer is not HTTP".into()))?;
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| Failure::transport("the answer has no content-length".into()))?;
                let keep = !head.contains("\nconnection: close");
                break (end + 4, status, length, keep);
            }
            if buf.len() > 64 * 1024 {
                return Err(Failure::transport(
                    "the answer's headers are too large".into(),
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let n = s
                .set_timeouts(left)
                .and_then(|()| s.read(&mut chunk))
                .map_err(|e| Failure::transport(timed_out("cannot read from", e)))?;
            if n == 0 {
                return Err(Failure::transport(format!(
                    "the remote engine at {} closed the connection",
                    self.endpoint.describe()
                )));
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        };
        if length > 64 << 20 {
            return Err(Failure::transport("the answer is too large".into()));
        }
        while buf.len() < head_end + length {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = s
                .set_timeouts(left)
                .and_then(|()| s.read(&mut chunk))
                .map_err(|e| Failure::transport(timed_out("cannot read from", e)))?;
            if n == 0 {
                return Err(Failure::transport(
                    "the connection closed mid-answer".into(),
                ));
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        let body = buf
            .get(head_end..head_end + length)
            .unwrap_or_default()
            .to_vec();
        if keep && buf.len() == head_end + length {
            self.pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(s);
        }
        Ok((status, body))
    }

    /// Closed breaker, or an open one whose cooldown passed and whose `/readyz` probe answers
    /// 200: the call may go out. Otherwise why not.
    fn admit(&self) -> Result<(), String> {
        let (open_until, last) = {
            let b = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
            (b.open_until, b.last_error.clone())
        };
        let Some(until) = open_until else {
            return Ok(());
        };
        if Instant::now() < until || self.probing.swap(true, Ordering::AcqRel) {
            return Err(format!(
                "circuit breaker open after repeated failures (last: {last})"
            ));
        }
        let probe = self.round_trip("GET", "/readyz", b"");
        self.probing.store(false, Ordering::Release);
        let mut b = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        match probe {
            Ok((200, _)) => {
                b.open_until = None;
                b.failures = 0;
                Ok(())
            }
            Ok((status, _)) => {
                b.open_until = Some(Instant::now() + self.opts.breaker_cooldown);
                Err(format!("circuit breaker open: /readyz answered {status}"))
            }
            Err(f) => {
                b.open_until = Some(Instant::now() + self.opts.breaker_cooldown);
                Err(format!(
                    "circuit breaker open: /readyz probe failed: {}",
                    f.message
                ))
            }
        }
    }

    fn record(&self, ok: bool, error: &str) {
        let mut b = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        if ok {
            b.failures = 0;
            return;
        }
        b.failures = b.failures.saturating_add(1);
        b.last_error = error.to_owned();
        if self.opts.breaker_failures > 0 && b.failures >= self.opts.breaker_failures {
            b.open_until = Some(Instant::now() + self.opts.breaker_cooldown);
        }
    }

    /// A call through the breaker; failures are counted.
    fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Answer, String> {
        self.admit()?;
        match self.round_trip(method, path, body) {
            Ok(a) => {
                self.record(a.0 < 500, &format!("status {}", a.0));
                Ok(a)
            }
            Err(f) => {
                if f.health {
                    self.record(false, &f.message);
                }
                Err(f.message)
            }
        }
    }

    /// Decides an action given as JSON text. Never fails: a failed call is a deny with code
    /// `unavailable`, or the fallback policy's decision.
    pub fn evaluate_json(&self, action_json: &[u8]) -> Decision {
        let start = Instant::now();
        let why = match self.call("POST", "/v1/decide", action_json) {
            Ok((200, body)) => match serde_json::from_slice::<Value>(&body)
                .ok()
                .as_ref()
                .and_then(decision_from_value)
            {
                Some(d) => {
                    *self
                        .last_policy
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(d.policy.clone());
                    return d;
                }
                None => {
                    self.record(false, "not a decision");
                    "the remote engine's answer is not a valid decision".to_owned()
                }
            },
            Ok((status, body)) => format!(
                "the remote engine answered {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
            Err(why) => why,
        };
        self.failed(action_json, &why, start)
    }

    /// Decides an action given as a JSON value (see [`RemoteEngine::evaluate_json`]).
    pub fn evaluate_value(&self, action: &Value) -> Decision {
        match serde_json::to_vec(action) {
            Ok(bytes) => self.evaluate_json(&bytes),
            Err(e) => self.failed(
                b"",
                &format!("the action cannot be encoded: {e}"),
                Instant::now(),
            ),
        }
    }

    fn failed(&self, action_json: &[u8], why: &str, start: Instant) -> Decision {
        if let Some(fb) = &self.opts.fallback {
            let mut d = fb.evaluate_json(action_json);
            d.fallback = true;
            return d;
        }
        let policy = self
            .last_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(PolicyInfo {
                name: Arc::from(""),
                version: None,
            });
        Decision {
            effect: Effect::Deny,
            code: Code::Unavailable,
            rule: None,
            reason: Arc::from(why),
            matched: Vec::new(),
            shadow: Vec::new(),
            params: None,
            retry_after_ms: None,
            action_hash: portcullis::action_hash_json(action_json).ok(),
            policy,
            eval_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            fallback: false,
        }
    }

    fn expect_ok(&self, answer: Result<Answer, String>) -> Result<Value, RemoteError> {
        let (status, body) = answer.map_err(RemoteError::Unavailable)?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(v);
        }
        let field = |k: &str| {
            v.pointer(&format!("/error/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if status == 422 {
            return Err(RemoteError::Policy(PolicyError::new(
                field("path"),
                field("message"),
            )));
        }
        Err(RemoteError::Rejected {
            status,
            code: field("code"),
            message: field("message"),
        })
    }

    fn approve(&self, mut req: Value, ttl_ms: u64, uses: u32) -> Result<String, RemoteError> {
        if let Some(o) = req.as_object_mut() {
            o.insert("ttl_ms".into(), ttl_ms.into());
            o.insert("uses".into(), uses.into());
        }
        let body = req.to_string();
        let v = self.expect_ok(self.call("POST", "/v1/approve", body.as_bytes()))?;
        v.get("action_hash")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| RemoteError::Unavailable("the approve answer has no action_hash".into()))
    }

    /// Grants an approval for an action given as a JSON value; returns its hash.
    pub fn approve_action_value(
        &self,
        action: &Value,
        ttl_ms: u64,
        uses: u32,
    ) -> Result<String, RemoteError> {
        self.approve(serde_json::json!({ "action": action }), ttl_ms, uses)
    }

    /// Grants an approval for an action given as JSON text; returns its hash.
    pub fn approve_action_json(
        &self,
        action_json: &[u8],
        ttl_ms: u64,
        uses: u32,
    ) -> Result<String, RemoteError> {
        let action: Value =
            serde_json::from_slice(action_json).map_err(|e| RemoteError::Rejected {
                status: 400,
                code: "invalid_action".into(),
                message: e.to_string(),
            })?;
        self.approve_action_value(&action, ttl_ms, uses)
    }

    /// Grants an approval for an action hash.
    pub fn approve_hash(&self, hash: &str, ttl_ms: u64, uses: u32) -> Result<(), RemoteError> {
        self.approve(serde_json::json!({ "action_hash": hash }), ttl_ms, uses)
            .map(|_| ())
    }

    /// Replaces the server's policy (`PUT /v1/policy`); the first load error on rejection.
    pub fn update_policy(&self, policy_json: &[u8]) -> Result<(), RemoteError> {
        self.expect_ok(self.call("PUT", "/v1/policy", policy_json))
            .map(|_| ())
    }

    /// The server's current policy name and version.
    pub fn policy_info(&self) -> Result<PolicyInfo, RemoteError> {
        let v = self.expect_ok(self.call("GET", "/v1/policy", b""))?;
        policy_from_value(v.get("policy").unwrap_or(&Value::Null))
            .ok_or_else(|| RemoteError::Unavailable("the policy answer is malformed".into()))
    }

    /// True when `GET /readyz` answers 200 within the timeout (bypasses the breaker).
    pub fn ready(&self) -> bool {
        matches!(self.round_trip("GET", "/readyz", b""), Ok((200, _)))
    }

    /// A raw round trip (status, body), for tools and tests; never retried.
    #[doc(hidden)]
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        self.round_trip(method, path, body).map_err(|f| f.message)
    }
}

fn policy_from_value(v: &Value) -> Option<PolicyInfo> {
    Some(PolicyInfo {
        name: Arc::from(v.get("name")?.as_str()?),
        version: match v.get("version")? {
            Value::Null => None,
            Value::String(s) => Some(Arc::from(s.as_str())),
            _ => return None,
        },
    })
}

fn effect_of(s: &str) -> Option<Effect> {
    Some(match s {
        "allow" => Effect::Allow,
        "deny" => Effect::Deny,
        "require_approval" => Effect::RequireApproval,
        _ => return None,
    })
}

/// A shadow rule's effect (rule effects include `rate_limit`).
fn shadow_effect(s: &str) -> Option<&'static str> {
    ["allow", "deny", "require_approval", "rate_limit"]
        .into_iter()
        .find(|e| *e == s)
}

fn code_of(s: &str) -> Option<Code> {
    Some(match s {
        "rule" => Code::Rule,
        "default" => Code::Default,
        "approved" => Code::Approved,
        "rate_limited" => Code::RateLimited,
        "approval_required" => Code::ApprovalRequired,
        "unknown_agent" => Code::UnknownAgent,
        "invalid_action" => Code::InvalidAction,
        "engine_error" => Code::EngineError,
        "unavailable" => Code::Unavailable,
        _ => return None,
    })
}

fn opt_str(v: &Value) -> Option<Option<Arc<str>>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(Arc::from(s.as_str()))),
        _ => None,
    }
}

fn strs(v: &Value) -> Option<Vec<Arc<str>>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(Arc::from))
        .collect()
}

/// A §8 decision from its JSON; `None` when anything is missing, mistyped or inconsistent
/// (an `allowed` that disagrees with `effect` is not a decision).
pub fn decision_from_value(v: &Value) -> Option<Decision> {
    let effect = effect_of(v.get("effect")?.as_str()?)?;
    if v.get("allowed")?.as_bool()? != (effect == Effect::Allow) {
        return None;
    }
    let shadow = v
        .get("shadow")?
        .as_array()?
        .iter()
        .map(|s| {
            Some(ShadowHit {
                rule: Arc::from(s.get("rule")?.as_str()?),
                effect: shadow_effect(s.get("effect")?.as_str()?)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Decision {
        effect,
        code: code_of(v.get("code")?.as_str()?)?,
        rule: opt_str(v.get("rule")?)?,
        reason: Arc::from(v.get("reason")?.as_str()?),
        matched: strs(v.get("matched")?)?,
        shadow,
        params: match v.get("params")? {
            Value::Null => None,
            p => Some(p.clone()),
        },
        retry_after_ms: match v.get("retry_after_ms")? {
            Value::Null => None,
            n => Some(n.as_u64()?),
        },
        action_hash: opt_str(v.get("action_hash")?)?.map(|s| s.to_string()),
        policy: policy_from_value(v.get("policy")?)?,
        eval_ns: v.get("eval_ns")?.as_u64()?,
        fallback: v.get("fallback").and_then(Value::as_bool).unwrap_or(false),
    })
}
