//! HTTP/1.1 round trips over pooled keep-alive connections (Unix socket, TCP or TLS),
//! bounded by one deadline per call and never retried.
use super::error::{CallError, EndpointError};
use super::options::{authority, Endpoint, RemoteOptions};
use super::tls::{self, HandshakeError, Tls, TlsStream};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most the answer's headers may take.
const MAX_HEAD: usize = 64 * 1024;
/// The most the answer's body may take.
const MAX_BODY: usize = 64 << 20;

/// An answer: the status and the whole body.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
}

/// The time left before `deadline`, at least 1 µs (a zero socket timeout means none).
fn left(deadline: Instant) -> Option<Duration> {
    Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_micros(1)),
    )
}

/// A first write that does not wait: what fits in the socket's buffer.
fn write_now(s: &mut impl Write, buf: &[u8]) -> std::io::Result<usize> {
    match s.write(buf) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

impl Stream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Tls(s) => s.socket().set_nonblocking(on),
        }
    }

    /// Reads once on the blocking socket, waiting until the deadline at most.
    fn read_by(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s
                .set_read_timeout(left(deadline))
                .and_then(|()| s.read(buf)),
            Stream::Tcp(s) => s
                .set_read_timeout(left(deadline))
                .and_then(|()| s.read(buf)),
            Stream::Tls(s) => s.read_by(buf, Some(deadline)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

/// A connection. Idle in the pool it is non-blocking; `blocking` says its current mode (each
/// switch is a system call, so it is switched only when needed).
struct Conn {
    stream: Stream,
    blocking: bool,
}

impl Conn {
    fn set_blocking(&mut self, on: bool) -> std::io::Result<()> {
        if self.blocking != on {
            self.stream.set_nonblocking(!on)?;
            self.blocking = on;
        }
        Ok(())
    }

    /// True when the server has closed (or written to) this idle connection: it must not be
    /// reused, since nothing may be sent twice. Reads nothing from a healthy connection.
    fn stale(&mut self) -> bool {
        let mut b = [0u8; 1];
        let r = self
            .set_blocking(false)
            .and_then(|()| self.stream.read(&mut b));
        !matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock)
    }

    /// Sends `req` whole. On a plain stream the first write is non-blocking (a request fits
    /// in an empty socket buffer); whatever is left (over TLS, all of it) is written
    /// blocking, bounded by the deadline.
    fn send(&mut self, req: &[u8], deadline: Instant) -> std::io::Result<()> {
        let sent = match &mut self.stream {
            Stream::Unix(s) => write_now(s, req)?,
            Stream::Tcp(s) => write_now(s, req)?,
            Stream::Tls(_) => 0,
        };
        let rest = req.get(sent..).unwrap_or_default();
        if !rest.is_empty() {
            self.set_blocking(true)?;
            match &mut self.stream {
                Stream::Unix(s) => s
                    .set_write_timeout(left(deadline))
                    .and_then(|()| s.write_all(rest)),
                Stream::Tcp(s) => s
                    .set_write_timeout(left(deadline))
                    .and_then(|()| s.write_all(rest)),
                Stream::Tls(s) => s.send(rest, deadline),
            }?;
        }
        Ok(())
    }

    /// Reads once into `chunk`; 0 at end of stream. Until `spin_until` it polls without
    /// sleeping, yielding the processor between polls: an answer that comes within that
    /// time is read without the thread being put to sleep and woken again, which on an
    /// idle machine costs more than the server's work. Then it waits, until the deadline.
    fn read(
        &mut self,
        chunk: &mut [u8],
        spin_until: Instant,
        deadline: Instant,
    ) -> std::io::Result<usize> {
        if !self.blocking {
            loop {
                match self.stream.read(chunk) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    r => return r,
                }
                if Instant::now() >= spin_until {
                    break;
                }
                std::thread::yield_now();
            }
        }
        self.set_blocking(true)?;
        self.stream.read_by(chunk, deadline)
    }
}

/// What the answer's head says.
struct Head {
    /// Bytes up to and including the blank line.
    len: usize,
    status: u16,
    content_length: usize,
    keep_alive: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses the head when `buf` holds all of it; `None` when more must be read.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, CallError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(CallError::HeadersTooLarge)
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).to_ascii_lowercase();
    if !head.starts_with("http/1.") {
        return Err(CallError::NotHttp);
    }
    let status = head
        .get(9..12)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or(CallError::NotHttp)?;
    let content_length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or(CallError::NoContentLength)?;
    if content_length > MAX_BODY {
        return Err(CallError::AnswerTooLarge);
    }
    Ok(Some(Head {
        len: end + 4,
        status,
        content_length,
        keep_alive: !head.contains("\nconnection: close"),
    }))
}

/// The transport of one client: where, how long, the pool of idle connections.
pub(super) struct Wire {
    endpoint: Endpoint,
    /// `unix:PATH`, `http://IP:PORT` or `https://HOST:PORT`, for reasons.
    shown: String,
    /// The TLS settings of an `https://` endpoint.
    tls: Option<Tls>,
    timeout: Duration,
    /// How long to poll for the answer before sleeping on it.
    spin: Duration,
    /// The request's headers after the request line, but for `Content-Length`: `Host`,
    /// `Content-Type`, and `Authorization: Bearer ...` on TCP when a token is set.
    headers: String,
    pool: Mutex<Vec<Conn>>,
}

impl Wire {
    /// The transport to `endpoint`; for `https://`, reads the CA file (or the system's CAs).
    pub(super) fn new(endpoint: Endpoint, opts: &RemoteOptions) -> Result<Wire, EndpointError> {
        let (host, tls) = match &endpoint {
            Endpoint::Https { host, port } => (
                authority(host, *port),
                Some(Tls::new(host, opts.ca_file.as_deref())?),
            ),
            _ => ("portcullis".to_owned(), None),
        };
        let mut headers = format!("Host: {host}\r\nContent-Type: application/json\r\n");
        if let (Some(t), Endpoint::Tcp(_) | Endpoint::Https { .. }) = (&opts.token, &endpoint) {
            headers.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        Ok(Wire {
            shown: endpoint.describe(),
            endpoint,
            tls,
            timeout: opts.timeout,
            spin: opts.spin_wait.min(opts.timeout),
            headers,
            pool: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self, deadline: Instant) -> Result<Conn, CallError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let stream = match &self.endpoint {
            Endpoint::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Endpoint::Tcp(a) => TcpStream::connect_timeout(a, left.max(Duration::from_millis(1)))
                .and_then(|s| s.set_nodelay(true).map(|()| Stream::Tcp(s))),
            Endpoint::Https { host, port } => return self.connect_tls(host, *port, deadline),
        };
        let mut conn = Conn {
            stream: stream.map_err(|e| self.connect_error(e))?,
            blocking: true,
        };
        conn.set_blocking(false)
            .map_err(|e| self.connect_error(e))?;
        Ok(conn)
    }

    /// Resolves the host, connects to its first address that answers, and makes the TLS
    /// handshake, all before the deadline.
    fn connect_tls(&self, host: &str, port: u16, deadline: Instant) -> Result<Conn, CallError> {
        let Some(tls) = &self.tls else {
            return Err(self.tls_error("no TLS settings".to_owned()));
        };
        let failed = |e: std::io::Error| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => self.io_error(e, false),
            _ => self.connect_error(e),
        };
        let addrs = tls::resolve(host, port, deadline).map_err(failed)?;
        let mut last = std::io::Error::new(ErrorKind::NotFound, "the host has no address");
        let mut sock = None;
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            match TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1))) {
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let sock = sock.ok_or(last).map_err(failed)?;
        sock.set_nodelay(true).map_err(|e| self.connect_error(e))?;
        let stream = match tls.handshake(sock, deadline) {
            Ok(s) => s,
            Err(HandshakeError::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                return Err(self.io_error(e, false))
            }
            Err(HandshakeError::Io(e)) => {
                return Err(self.tls_error(format!("connection failed: {e}")))
            }
            Err(HandshakeError::Refused(why)) => return Err(self.tls_error(why)),
        };
        let mut conn = Conn {
            stream: Stream::Tls(Box::new(stream)),
            blocking: true,
        };
        conn.set_blocking(false)
            .map_err(|e| self.connect_error(e))?;
        Ok(conn)
    }

    fn tls_error(&self, reason: String) -> CallError {
        CallError::Tls {
            endpoint: self.shown.clone(),
            reason,
        }
    }

    /// An idle pooled connection the server has not closed, or a new one.
    fn checkout(&self, deadline: Instant) -> Result<Conn, CallError> {
        loop {
            let pooled = self.pool().pop();
            match pooled {
                Some(mut conn) => {
                    if !conn.stale() {
                        return Ok(conn);
                    }
                }
                None => return self.connect(deadline),
            }
        }
    }

    fn connect_error(&self, e: std::io::Error) -> CallError {
        CallError::Connect {
            endpoint: self.shown.clone(),
            source: Arc::new(e),
        }
    }

    fn io_error(&self, e: std::io::Error, sending: bool) -> CallError {
        let (endpoint, source) = (self.shown.clone(), Arc::new(e));
        match source.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => CallError::Timeout {
                endpoint,
                timeout_ms: self.timeout.as_millis(),
            },
            _ if sending => CallError::Send { endpoint, source },
            _ => CallError::Receive { endpoint, source },
        }
    }

    fn encode(&self, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        let mut req = Vec::with_capacity(body.len() + 100 + self.headers.len());
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\n");
        req.extend_from_slice(self.headers.as_bytes());
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        req
    }

    /// One HTTP/1.1 round trip, sent once (never retried), within the timeout.
    pub(super) fn round_trip(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Answer, CallError> {
        let deadline = Instant::now() + self.timeout;
        let mut conn = self.checkout(deadline)?;
        conn.send(&self.encode(method, path, body), deadline)
            .map_err(|e| self.io_error(e, true))?;
        let spin_until = Instant::now() + self.spin;
        let (answer, reusable) = self.receive(&mut conn, spin_until.min(deadline), deadline)?;
        if reusable {
            self.pool().push(conn);
        }
        Ok(answer)
    }

    /// Reads one answer; also says whether the connection may carry another request.
    fn receive(
        &self,
        conn: &mut Conn,
        spin_until: Instant,
        deadline: Instant,
    ) -> Result<(Answer, bool), CallError> {
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut chunk = [0u8; 16 * 1024];
        let head = loop {
            if let Some(head) = parse_head(&buf)? {
                break head;
            }
            let n = conn
                .read(&mut chunk, spin_until, deadline)
                .map_err(|e| self.io_error(e, false))?;
            if n == 0 {
                return Err(CallError::Closed {
                    endpoint: self.shown.clone(),
                });
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        };
        let end = head.len + head.content_length;
        while buf.len() < end {
            let n = conn
                .read(&mut chunk, spin_until, deadline)
                .map_err(|e| self.io_error(e, false))?;
            if n == 0 {
                return Err(CallError::ClosedMidAnswer);
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        // Bytes past the answer would be an answer to nothing: do not reuse that connection.
        let reusable = head.keep_alive && buf.len() == end;
        let body = buf.get(head.len..end).unwrap_or_default().to_vec();
        Ok((
            Answer {
                status: head.status,
                body,
            },
            reusable,
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn heads_are_parsed_or_refused() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le")
            .unwrap()
            .is_none());
        let h = parse_head(b"HTTP/1.1 503 x\r\nContent-Length: 7\r\nConnection: close\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.status, h.content_length, h.keep_alive, h.len),
            (503, 7, false, 56)
        );
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(CallError::NotHttp)
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(CallError::NoContentLength)
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n"),
            Err(CallError::AnswerTooLarge)
        ));
        assert!(matches!(
            parse_head(&vec![b'a'; MAX_HEAD + 1]),
            Err(CallError::HeadersTooLarge)
        ));
    }
}
