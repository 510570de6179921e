//! HTTPS: a client's TLS settings (the trusted CAs and the server's name) and a TLS stream
//! over a std TCP socket, each of whose socket reads and writes is bounded by the call's
//! deadline, handshake included.
use super::error::EndpointError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The time left before `deadline`; `TimedOut` once it has passed (a zero socket timeout
/// would mean no timeout at all).
fn left(deadline: Instant) -> std::io::Result<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() {
        Err(ErrorKind::TimedOut.into())
    } else {
        Ok(d)
    }
}

/// The TLS settings of one client: TLS 1.2 or 1.3, the server's certificate checked against
/// the trusted CAs and the endpoint's host, no client certificate.
pub(super) struct Tls {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

/// Why a handshake failed: the socket (a timeout among others), or TLS itself (the reason).
pub(super) enum HandshakeError {
    Io(std::io::Error),
    Refused(String),
}

impl From<std::io::Error> for HandshakeError {
    fn from(e: std::io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

/// The CAs in a PEM file (one or more certificates).
fn file_roots(path: &Path) -> Result<RootCertStore, EndpointError> {
    let bad = |reason: String| EndpointError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in the file".to_owned()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    Ok(roots)
}

/// The system's trusted CAs.
fn system_roots() -> Result<RootCertStore, EndpointError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(EndpointError::SystemRoots(why));
    }
    Ok(roots)
}

impl Tls {
    /// The settings for `host` (a DNS name or an IP address): only the CAs of `ca_file` when
    /// given, the system's otherwise.
    pub(super) fn new(host: &str, ca_file: Option<&Path>) -> Result<Tls, EndpointError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| EndpointError::Host(host.to_owned()))?;
        let roots = match ca_file {
            Some(path) => file_roots(path)?,
            None => system_roots()?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| EndpointError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            name,
        })
    }

    /// Makes the handshake on a connected socket, before the deadline.
    pub(super) fn handshake(
        &self,
        sock: TcpStream,
        deadline: Instant,
    ) -> Result<TlsStream, HandshakeError> {
        let conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(|e| HandshakeError::Refused(e.to_string()))?;
        let mut s = TlsStream { conn, sock };
        while s.conn.is_handshaking() {
            s.flush(deadline)?;
            if !s.conn.is_handshaking() {
                break;
            }
            s.sock.set_read_timeout(Some(left(deadline)?))?;
            if s.conn.read_tls(&mut s.sock)? == 0 {
                return Err(HandshakeError::Refused(
                    "the server closed the connection during the handshake".to_owned(),
                ));
            }
            if let Err(e) = s.conn.process_new_packets() {
                // Tell the server why (best effort), then say which check failed.
                let _ = s.flush(deadline);
                return Err(HandshakeError::Refused(self.explain(&e)));
            }
        }
        s.flush(deadline)?;
        Ok(s)
    }

    /// Which check a handshake failed, in words, with rustls' own text.
    fn explain(&self, e: &rustls::Error) -> String {
        let what = match e {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => {
                    "the server's certificate is not signed by a trusted CA".to_owned()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired".to_owned()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid yet".to_owned()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the server's certificate is not valid for {}",
                    self.name.to_str()
                ),
                CertificateError::Revoked => "the server's certificate is revoked".to_owned(),
                _ => "the server's certificate is invalid".to_owned(),
            },
            rustls::Error::AlertReceived(_) => "the server refused the handshake".to_owned(),
            rustls::Error::PeerIncompatible(_) => {
                "no TLS version or cipher suite in common with the server".to_owned()
            }
            rustls::Error::InvalidMessage(_) => "the server does not speak TLS".to_owned(),
            _ => "the handshake failed".to_owned(),
        };
        format!("{what} ({e})")
    }
}

/// The addresses of `host`: an IP address as is, `localhost` as 127.0.0.1 (as for `tcp:`),
/// a DNS name through the system's resolver on a helper thread, so that a stuck lookup ends
/// the call at its deadline too.
pub(super) fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("portcullis-resolve".to_owned())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })?;
    match rx.recv_timeout(left(deadline)?) {
        Ok(found) => found,
        Err(_) => Err(ErrorKind::TimedOut.into()),
    }
}

/// A TLS connection over a TCP socket. Reads and writes go through rustls; the socket's
/// mode (blocking or not) is the caller's, as for the plain streams.
pub(super) struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
}

impl TlsStream {
    pub(super) fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// Writes every pending TLS record (blocking socket), before the deadline.
    fn flush(&mut self, deadline: Instant) -> std::io::Result<()> {
        while self.conn.wants_write() {
            self.sock.set_write_timeout(Some(left(deadline)?))?;
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Sends `req` whole (blocking socket), before the deadline.
    pub(super) fn send(&mut self, req: &[u8], deadline: Instant) -> std::io::Result<()> {
        let mut rest = req;
        while !rest.is_empty() {
            // rustls takes what fits in its buffer; the records are written before the rest.
            let n = self.conn.writer().write(rest)?;
            if n == 0 && !self.conn.wants_write() {
                return Err(ErrorKind::WriteZero.into());
            }
            rest = rest.get(n..).unwrap_or_default();
            self.flush(deadline)?;
        }
        Ok(())
    }

    /// Reads some of the answer; 0 when the server has closed the connection. With a
    /// deadline (blocking socket) each socket read waits at most until then; without (a
    /// non-blocking socket) `WouldBlock` when nothing has come.
    pub(super) fn read_by(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> std::io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // A close without close_notify: the answer's length tells a cut answer.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                r => return r,
            }
            if let Some(d) = deadline {
                self.sock.set_read_timeout(Some(left(d)?))?;
            }
            self.conn.read_tls(&mut self.sock)?;
            self.conn
                .process_new_packets()
                .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
            if let Some(d) = deadline {
                self.flush(d)?;
            }
        }
    }
}

impl Read for TlsStream {
    /// A read on the non-blocking socket (see [`TlsStream::read_by`]).
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_by(buf, None)
    }
}
