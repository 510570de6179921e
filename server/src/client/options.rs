//! Where the server is ([`Endpoint`]) and how the client talks to it ([`RemoteOptions`]).
use super::error::EndpointError;
use portcullis::Engine;
use rustls::pki_types::ServerName;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path.
    Unix(PathBuf),
    /// A TCP address (plain HTTP: use the socket or a loopback address).
    Tcp(SocketAddr),
    /// HTTPS: TLS 1.2 or 1.3 to `host` (a DNS name or an IP address), whose certificate must
    /// be valid for `host` and signed by a trusted CA ([`RemoteOptions::ca_file`]).
    Https {
        /// The host as written (an IPv6 address without brackets).
        host: String,
        /// The TCP port.
        port: u16,
    },
}

/// Parses the `HOST:PORT` of an `https://` endpoint.
fn parse_https(endpoint: &str, rest: &str) -> Result<Endpoint, EndpointError> {
    let bad = |reason: &str| EndpointError::Https {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or_else(|| bad("expected https://HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6
            .parse::<Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address in brackets"))?
            .to_string(),
        None if host.contains(':') => return Err(bad("an IPv6 address needs brackets")),
        None => host.to_owned(),
    };
    if ServerName::try_from(host.as_str()).is_err() {
        return Err(bad("the host is not a DNS name or an IP address"));
    }
    Ok(Endpoint::Https { host, port })
}

impl Endpoint {
    /// Parses `unix:PATH`, `tcp:IP:PORT`, `http://IP:PORT` (`localhost` for `127.0.0.1`)
    /// or `https://HOST:PORT` (`HOST` a DNS name, an IPv4 address or `[IPv6]`).
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        if let Some(rest) = s.strip_prefix("https://") {
            return parse_https(s, rest);
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

    /// The endpoint as shown in reasons: `unix:PATH`, `http://IP:PORT` or
    /// `https://HOST:PORT`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix:{}", p.display()),
            Endpoint::Tcp(a) => format!("http://{a}"),
            Endpoint::Https { host, port } => format!("https://{}", authority(host, *port)),
        }
    }
}

/// `HOST:PORT`, with an IPv6 address in brackets.
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Client options.
#[derive(Debug)]
pub struct RemoteOptions {
    /// Time allowed for one call: connect, send, and read the whole answer.
    pub timeout: Duration,
    /// Bearer token sent on TCP (`tcp:`, `http://`, `https://`).
    pub token: Option<String>,
    /// `https://` only: a PEM file of one or more CA certificates; when set, only these CAs
    /// are trusted, otherwise the system's. Read when the client is made.
    pub ca_file: Option<PathBuf>,
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
            ca_file: None,
            fallback: None,
            breaker_failures: 5,
            breaker_cooldown: Duration::from_millis(500),
            spin_wait: Duration::from_micros(50),
        }
    }
}
