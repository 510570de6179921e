//! HTTP/1.1 round trips over pooled keep-alive connections (Unix socket or TCP), bounded by
//! one deadline per call and never retried.
use super::error::CallError;
use super::options::{Endpoint, RemoteOptions};
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
}

impl Stream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    fn set_read_timeout(&self, d: Duration) -> std::io::Result<()> {
        let d = Some(d.max(Duration::from_micros(1)));
        match self {
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tcp(s) => s.set_read_timeout(d),
        }
    }

    fn set_write_timeout(&self, d: Duration) -> std::io::Result<()> {
        let d = Some(d.max(Duration::from_micros(1)));
        match self {
            Stream::Unix(s) => s.set_write_timeout(d),
            Stream::Tcp(s) => s.set_write_timeout(d),
        }
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

    /// Sends `req` whole. The first write is non-blocking (a request fits in an empty socket
    /// buffer); whatever is left is written blocking, bounded by the deadline.
    fn send(&mut self, req: &[u8], deadline: Instant) -> std::io::Result<()> {
        let sent = match self.stream.write(req) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        let rest = req.get(sent..).unwrap_or_default();
        if !rest.is_empty() {
            self.set_blocking(true)?;
            self.stream
                .set_write_timeout(deadline.saturating_duration_since(Instant::now()))?;
            self.stream.write_all(rest)?;
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
        self.stream
            .set_read_timeout(deadline.saturating_duration_since(Instant::now()))?;
        self.stream.read(chunk)
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
    /// `unix:PATH` or `http://IP:PORT`, for reasons.
    shown: String,
    timeout: Duration,
    /// How long to poll for the answer before sleeping on it.
    spin: Duration,
    /// `Authorization: Bearer ...\r\n` on TCP when a token is set; empty otherwise.
    auth: String,
    pool: Mutex<Vec<Conn>>,
}

impl Wire {
    pub(super) fn new(endpoint: Endpoint, opts: &RemoteOptions) -> Wire {
        let auth = match (&opts.token, &endpoint) {
            (Some(t), Endpoint::Tcp(_)) => format!("Authorization: Bearer {t}\r\n"),
            _ => String::new(),
        };
        Wire {
            shown: endpoint.describe(),
            endpoint,
            timeout: opts.timeout,
            spin: opts.spin_wait.min(opts.timeout),
            auth,
            pool: Mutex::new(Vec::new()),
        }
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
        };
        let mut conn = Conn {
            stream: stream.map_err(|e| self.connect_error(e))?,
            blocking: true,
        };
        conn.set_blocking(false)
            .map_err(|e| self.connect_error(e))?;
        Ok(conn)
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
        let mut req = Vec::with_capacity(body.len() + 160 + self.auth.len());
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(
            b" HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n",
        );
        req.extend_from_slice(self.auth.as_bytes());
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
