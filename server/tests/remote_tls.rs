//! The Rust client over `https://` against a real `portcullis serve` TLS listener on
//! 127.0.0.1, with a throwaway CA made at test time: identical decisions and approvals over
//! one kept-alive TLS connection; a host name resolved and checked against the certificate; an untrusted, expired or wrong-name certificate, a missing
//! token, a listener that never answers the handshake or does not speak TLS are all denies
//! with code `unavailable`; unusable CA files are errors when the client is made.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::{action, free_port, Dir, Server, POLICY};
use portcullis::{Code, Decision, Effect, Engine, EngineOptions};
use portcullis_server::client::{Endpoint, EndpointError, RemoteEngine, RemoteOptions};
use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};
use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const TOKEN: &str = "0123456789abcdef0123";

/// A certificate authority of the test.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca {
            cert: params.self_signed(&key).unwrap(),
            key,
        }
    }

    /// A server certificate for `names` signed by this CA, written as `tag.pem` and
    /// `tag.key` in `dir`; `expired` makes it valid only in 2020.
    fn issue(&self, dir: &Dir, tag: &str, names: &[&str], expired: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, tag);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let (c, k) = (
            dir.path(&format!("{tag}.pem")),
            dir.path(&format!("{tag}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    }

    fn write(&self, dir: &Dir, name: &str) -> PathBuf {
        let p = dir.path(name);
        std::fs::write(&p, self.cert.pem()).unwrap();
        p
    }
}

/// A server with a TLS listener on 127.0.0.1 (and its socket); returns it and the port.
fn tls_server(dir: &Dir, cert: &(String, String)) -> (Server, u16) {
    let token = dir.path("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let port = free_port();
    let listen = format!("tcp:127.0.0.1:{port}");
    let token = token.display().to_string();
    let args = [
        "--listen",
        &listen,
        "--tls-cert",
        &cert.0,
        "--tls-key",
        &cert.1,
        "--token-file",
        &token,
    ];
    (Server::start(dir, &args), port)
}

fn client(endpoint: &str, ca: Option<&Path>, token: Option<&str>) -> RemoteEngine {
    RemoteEngine::new(
        Endpoint::parse(endpoint).unwrap(),
        RemoteOptions {
            timeout: Duration::from_secs(5),
            token: token.map(str::to_owned),
            ca_file: ca.map(Path::to_path_buf),
            ..RemoteOptions::default()
        },
    )
    .unwrap()
}

fn strip(d: &Decision) -> Value {
    let mut v = d.to_value();
    v.as_object_mut().unwrap().remove("eval_ns");
    v
}

fn assert_unavailable(d: &Decision, why: &str) {
    assert_eq!(
        (d.effect, d.code),
        (Effect::Deny, Code::Unavailable),
        "{}",
        d.reason
    );
    assert!(!d.fallback);
    assert!(d.reason.contains(why), "expected {why:?} in {:?}", d.reason);
}

/// A TCP relay on 127.0.0.1 to `port` that counts the connections it accepts.
struct Relay {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn new(port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let (accepted, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (a, s) = (Arc::clone(&accepted), Arc::clone(&stop));
        let relay_port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                let Ok((inbound, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                a.fetch_add(1, Ordering::AcqRel);
                inbound.set_nonblocking(false).unwrap();
                let outbound = TcpStream::connect(("127.0.0.1", port)).unwrap();
                for (mut from, mut to) in [
                    (inbound.try_clone().unwrap(), outbound.try_clone().unwrap()),
                    (outbound, inbound),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay {
            port: relay_port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn https_decisions_equal_in_process_ones_over_one_kept_alive_connection() {
    let dir = Dir::new("tls-same");
    let ca = Ca::new("portcullis test CA");
    let (_server, port) = tls_server(&dir, &ca.issue(&dir, "server", &["127.0.0.1"], false));
    // A CA file of two certificates, the right one second: every one of them is trusted.
    let other = Ca::new("another CA");
    let bundle = dir.path("bundle.pem");
    std::fs::write(&bundle, format!("{}{}", other.cert.pem(), ca.cert.pem())).unwrap();
    let relay = Relay::new(port);
    let remote = client(
        &format!("https://127.0.0.1:{}", relay.port),
        Some(&bundle),
        Some(TOKEN),
    );
    let local = Engine::new(POLICY.as_bytes(), EngineOptions::default()).unwrap();
    for tool in ["fs.read", "fs.write", "payments.send", "search"] {
        let a = action(tool);
        let (l, r) = (local.evaluate_value(&a), remote.evaluate_value(&a));
        assert!(!r.fallback, "{}", r.reason);
        assert_eq!(strip(&l), strip(&r), "{a}");
    }
    let pay = action("payments.send");
    let hash = remote.approve_action_value(&pay, 60_000, 1).unwrap();
    let d = remote.evaluate_value(&pay);
    assert_eq!((d.effect, d.code), (Effect::Allow, Code::Approved));
    assert_eq!(d.action_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(&*remote.policy_info().unwrap().name, "served");
    // Seven calls, one after another: one TLS connection, kept alive.
    assert_eq!(relay.accepted.load(Ordering::Acquire), 1);
}

#[test]
fn a_host_name_is_resolved_and_checked_against_the_certificate() {
    let dir = Dir::new("tls-name");
    let ca = Ca::new("portcullis test CA");
    let ca_file = ca.write(&dir, "ca.pem");
    let (_server, port) = tls_server(&dir, &ca.issue(&dir, "server", &["localhost"], false));
    let fs_read = action("fs.read");
    let by_name = client(
        &format!("https://localhost:{port}"),
        Some(&ca_file),
        Some(TOKEN),
    );
    let d = by_name.evaluate_value(&fs_read);
    assert_eq!(
        (d.effect, d.fallback),
        (Effect::Allow, false),
        "{}",
        d.reason
    );
    // The same listener reached by its address: the certificate names only localhost.
    let by_address = client(
        &format!("https://127.0.0.1:{port}"),
        Some(&ca_file),
        Some(TOKEN),
    );
    assert_unavailable(
        &by_address.evaluate_value(&fs_read),
        "not valid for 127.0.0.1",
    );
}

#[test]
fn untrusted_expired_and_wrong_name_certificates_are_unavailable() {
    let dir = Dir::new("tls-bad");
    let ca = Ca::new("portcullis test CA");
    let ca_file = ca.write(&dir, "ca.pem");
    let (_server, port) = tls_server(&dir, &ca.issue(&dir, "server", &["127.0.0.1"], false));
    let fs_read = action("fs.read");
    // The right CA and name: allowed (the failures below are the certificate's).
    let good = client(
        &format!("https://127.0.0.1:{port}"),
        Some(&ca_file),
        Some(TOKEN),
    );
    assert_eq!(good.evaluate_value(&fs_read).effect, Effect::Allow);
    // Signed by a CA the client does not trust.
    let other = Ca::new("another CA").write(&dir, "other.pem");
    let untrusted = client(
        &format!("https://127.0.0.1:{port}"),
        Some(&other),
        Some(TOKEN),
    );
    let d = untrusted.evaluate_value(&fs_read);
    assert_unavailable(&d, "not signed by a trusted CA");
    assert!(d.reason.contains("TLS handshake with https://127.0.0.1:"));
    // A certificate for 127.0.0.1 only, reached as localhost.
    let wrong_name = client(
        &format!("https://localhost:{port}"),
        Some(&ca_file),
        Some(TOKEN),
    );
    assert_unavailable(
        &wrong_name.evaluate_value(&fs_read),
        "not valid for localhost",
    );
    // Plain HTTP to the TLS listener.
    let plain = client(&format!("http://127.0.0.1:{port}"), None, Some(TOKEN));
    assert_eq!(plain.evaluate_value(&fs_read).code, Code::Unavailable);
    // Handshake failures count towards the breaker like any failed call.
    let breaker = RemoteEngine::new(
        Endpoint::parse(&format!("https://127.0.0.1:{port}")).unwrap(),
        RemoteOptions {
            ca_file: Some(other),
            token: Some(TOKEN.into()),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_secs(60),
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    for _ in 0..2 {
        assert_unavailable(&breaker.evaluate_value(&fs_read), "trusted CA");
    }
    assert_unavailable(&breaker.evaluate_value(&fs_read), "circuit breaker open");
    // An expired certificate from the trusted CA.
    let dir2 = Dir::new("tls-expired");
    let (_old, port2) = tls_server(&dir2, &ca.issue(&dir2, "old", &["127.0.0.1"], true));
    let expired = client(
        &format!("https://127.0.0.1:{port2}"),
        Some(&ca_file),
        Some(TOKEN),
    );
    assert_unavailable(&expired.evaluate_value(&fs_read), "has expired");
}

#[test]
fn https_needs_the_token() {
    let dir = Dir::new("tls-token");
    let ca = Ca::new("portcullis test CA");
    let ca_file = ca.write(&dir, "ca.pem");
    let (_server, port) = tls_server(&dir, &ca.issue(&dir, "server", &["127.0.0.1"], false));
    let ep = format!("https://127.0.0.1:{port}");
    let fs_read = action("fs.read");
    assert_unavailable(
        &client(&ep, Some(&ca_file), None).evaluate_value(&fs_read),
        "401",
    );
    assert_unavailable(
        &client(&ep, Some(&ca_file), Some("0123456789abcdef0124")).evaluate_value(&fs_read),
        "401",
    );
    let err = client(&ep, Some(&ca_file), None)
        .approve_action_value(&fs_read, 1000, 1)
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

/// Evaluates on another thread; panics if no decision comes within 30 s (a hang).
fn decide_bounded(remote: RemoteEngine) -> Decision {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(remote.evaluate_value(&action("fs.read")));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the call did not end")
}

#[test]
fn listeners_that_never_answer_or_do_not_speak_tls_are_unavailable() {
    let dir = Dir::new("tls-silent");
    let ca_file = Ca::new("portcullis test CA").write(&dir, "ca.pem");
    let opts = || RemoteOptions {
        timeout: Duration::from_millis(300),
        ca_file: Some(ca_file.clone()),
        token: Some(TOKEN.into()),
        ..RemoteOptions::default()
    };
    // Accepts the connection (the kernel does), never answers the ClientHello.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("https://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let remote = RemoteEngine::new(Endpoint::parse(&ep).unwrap(), opts()).unwrap();
    assert_unavailable(&decide_bounded(remote), "did not answer within 300 ms");
    // Answers in plain HTTP, then closes; then closes at once.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("https://127.0.0.1:{}", plain.local_addr().unwrap().port());
    let server = std::thread::spawn(move || {
        let (mut s, _) = plain.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        drop(s);
        let (s, _) = plain.accept().unwrap();
        drop(s);
    });
    let remote = RemoteEngine::new(Endpoint::parse(&ep).unwrap(), opts()).unwrap();
    assert_unavailable(&decide_bounded(remote), "does not speak TLS");
    let remote = RemoteEngine::new(Endpoint::parse(&ep).unwrap(), opts()).unwrap();
    assert_unavailable(&decide_bounded(remote), "TLS handshake with");
    server.join().unwrap();
    drop(silent);
    // A name that does not resolve (looked up on a helper thread, within the timeout).
    let remote = RemoteEngine::new(
        Endpoint::parse("https://portcullis.invalid:8443").unwrap(),
        opts(),
    )
    .unwrap();
    let d = decide_bounded(remote);
    assert_eq!((d.effect, d.code), (Effect::Deny, Code::Unavailable));
    assert!(
        d.reason.contains("https://portcullis.invalid:8443"),
        "{}",
        d.reason
    );
}

#[test]
fn https_endpoints_and_ca_files_are_checked_when_the_client_is_made() {
    assert_eq!(
        Endpoint::parse("https://[::1]:8443/").unwrap(),
        Endpoint::Https {
            host: "::1".into(),
            port: 8443
        }
    );
    assert_eq!(
        Endpoint::parse("https://pdp.example.com:443").unwrap(),
        Endpoint::Https {
            host: "pdp.example.com".into(),
            port: 443
        }
    );
    for bad in [
        "https://pdp.example.com",
        "https://:443",
        "https://pdp.example.com:0",
        "https://pdp.example.com:65536",
        "https://::1:443",
        "https://[nope]:443",
        "https://a b:443",
    ] {
        assert!(
            matches!(Endpoint::parse(bad), Err(EndpointError::Https { .. })),
            "{bad}: {:?}",
            Endpoint::parse(bad)
        );
    }
    let dir = Dir::new("tls-cafile");
    let key = KeyPair::generate().unwrap().serialize_pem();
    let bad_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    for (name, text) in [
        ("empty.pem", ""),
        ("text.pem", "not a certificate"),
        ("key.pem", key.as_str()),
        ("bad.pem", bad_cert),
    ] {
        std::fs::write(dir.path(name), text).unwrap();
    }
    for name in ["missing.pem", "empty.pem", "text.pem", "key.pem", "bad.pem"] {
        let made = RemoteEngine::new(
            Endpoint::parse("https://127.0.0.1:1").unwrap(),
            RemoteOptions {
                ca_file: Some(dir.path(name)),
                ..RemoteOptions::default()
            },
        );
        let err = made.expect_err(name);
        assert!(matches!(err, EndpointError::CaFile { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}
