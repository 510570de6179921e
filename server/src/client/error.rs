//! The client's errors: [`CallError`] says why one round trip failed (it becomes the reason of
//! an `unavailable` decision), [`RemoteError`] is what approve and policy calls return, and
//! [`EndpointError`] a malformed endpoint.
use portcullis::PolicyError;
use std::sync::Arc;

/// A malformed endpoint string, or TLS settings the client cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not `unix:`, `tcp:`, `http://` or `https://`.
    #[error("{0}: expected unix:PATH, tcp:IP:PORT, http://IP:PORT or https://HOST:PORT")]
    Scheme(String),
    /// The part after `https://` is not `HOST:PORT`.
    #[error("{endpoint}: {reason}")]
    Https {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// The host is not a name a certificate can be checked against.
    #[error("{0}: not a DNS name or an IP address")]
    Host(String),
    /// The CA file cannot be read, holds no certificate, or holds one that is not valid.
    #[error("CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// No CA file was given and the system's CA certificates cannot be loaded.
    #[error("no system CA certificates to check the server against: {0}")]
    SystemRoots(String),
    /// The TLS settings cannot be built.
    #[error("TLS settings: {0}")]
    Tls(String),
    /// The address after `tcp:` or `http://` is not `IP:PORT`.
    #[error("{endpoint}: {source}")]
    Address {
        /// The endpoint as given.
        endpoint: String,
        /// Why the address does not parse.
        source: std::net::AddrParseError,
    },
}

/// Why a call to the server failed. Its text is the reason of the `unavailable` decision a
/// failed decision call returns.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No connection could be made.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// The endpoint, as `unix:PATH` or `http://IP:PORT`.
        endpoint: String,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// The TLS handshake failed: the server's certificate is not trusted, has expired or
    /// is not valid for the endpoint's host, or the server refused or does not speak TLS.
    #[error("TLS handshake with {endpoint} failed: {reason}")]
    Tls {
        /// The endpoint, as `https://HOST:PORT`.
        endpoint: String,
        /// Which check failed.
        reason: String,
    },
    /// The whole call did not complete within the client's timeout.
    #[error("the remote engine at {endpoint} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The timeout.
        timeout_ms: u128,
    },
    /// Writing the request failed.
    #[error("cannot send to {endpoint}: {source}")]
    Send {
        /// The endpoint.
        endpoint: String,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// Reading the answer failed.
    #[error("cannot read from {endpoint}: {source}")]
    Receive {
        /// The endpoint.
        endpoint: String,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// The server closed the connection before answering.
    #[error("the remote engine at {endpoint} closed the connection")]
    Closed {
        /// The endpoint.
        endpoint: String,
    },
    /// The server closed the connection in the middle of the answer's body.
    #[error("the connection closed mid-answer")]
    ClosedMidAnswer,
    /// The answer does not start with an HTTP status line.
    #[error("the answer is not HTTP")]
    NotHttp,
    /// The answer has no `Content-Length` (the server always sends one).
    #[error("the answer has no content-length")]
    NoContentLength,
    /// The answer's headers exceed 64 KiB.
    #[error("the answer's headers are too large")]
    HeadersTooLarge,
    /// The answer's body exceeds 64 MiB.
    #[error("the answer is too large")]
    AnswerTooLarge,
    /// The server answered with an error status (the start of the body says why).
    #[error("the remote engine answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The first 200 characters of the body.
        body: String,
    },
    /// A 200 answer to a decision request that is not a valid §8 decision.
    #[error("the remote engine's answer is not a valid decision")]
    NotADecision,
    /// A 200 answer to another request that lacks what it must hold.
    #[error("the {0} answer is malformed")]
    Malformed(&'static str),
    /// The action value cannot be encoded as JSON.
    #[error("the action cannot be encoded: {0}")]
    Encode(Arc<serde_json::Error>),
    /// The circuit breaker is open and its cooldown has not passed (or another call probes).
    #[error("circuit breaker open after repeated failures (last: {last})")]
    BreakerOpen {
        /// The failure that opened it (or the last failed probe).
        last: Box<CallError>,
    },
    /// The breaker's `/readyz` probe was answered with another status than 200.
    #[error("circuit breaker open: /readyz answered {0}")]
    NotReady(u16),
    /// The breaker's `/readyz` probe failed.
    #[error("circuit breaker open: /readyz probe failed: {0}")]
    ProbeFailed(Box<CallError>),
}

impl CallError {
    /// An error status with the start of its body.
    pub(crate) fn status(status: u16, body: &[u8]) -> CallError {
        CallError::Status {
            status,
            body: String::from_utf8_lossy(body).chars().take(200).collect(),
        }
    }
}

/// An error from a non-decision call (approve, policy update, policy info).
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The server could not be reached, did not answer in time, or answered nonsense.
    #[error("unavailable: {0}")]
    Unavailable(#[source] CallError),
}
