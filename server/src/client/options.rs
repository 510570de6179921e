//! Where the server is ([`Endpoint`]) and how the client talks to it ([`RemoteOptions`]).
use super::error::EndpointError;
use portcullis::Engine;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path.
    Unix(PathBuf),
    /// A TCP address (plain HTTP: use the socket or a loopback address, or a TLS proxy).
    Tcp(SocketAddr),
}

impl Endpoint {
    /// Parses `unix:PATH`, `tcp:IP:PORT` or `http://IP:PORT` (`localhost` for `127.0.0.1`).
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        let addr = s
            .strip_prefix("tcp:")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| EndpointError::Scheme(s.to_owned()))?;
        let addr = addr
            .trim_end_matches('/')
            .replacen("localhost:", "127.0.0.1:", 1);
        addr.parse()
            .map(Endpoint::Tcp)
            .map_err(|source| EndpointError::Address {
                endpoint: s.to_owned(),
                source,
            })
    }

    /// The endpoint as shown in reasons: `unix:PATH` or `http://IP:PORT`.
    pub(crate) fn describe(&self) -> String {
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
    /// How long a call polls for the answer, yielding the processor between polls, before
    /// the thread sleeps until it comes (at most `timeout`; zero: sleep at once). A decision
    /// over the socket usually comes within this time, and polling spares the wake-up of a
    /// sleeping thread, the largest part of a round trip on an idle machine.
    pub spin_wait: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_millis(250),
            token: None,
            fallback: None,
            breaker_failures: 5,
            breaker_cooldown: Duration::from_millis(500),
            spin_wait: Duration::from_micros(50),
        }
    }
}
