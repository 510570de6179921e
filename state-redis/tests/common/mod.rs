//! Real Redis servers for the tests: started on free loopback ports in a temporary directory,
//! without persistence, and killed when dropped.
#![allow(dead_code)]
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    args: Vec<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-redis-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let port = free_port();
        let dir = temp_dir(&port.to_string());
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut s = Server {
            port,
            dir,
            child: None,
            args,
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (install it: apt-get install redis-server)");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            let ok = Command::new("redis-cli")
                .args(["-p", &self.port.to_string(), "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"));
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status()
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.signal("-CONT");
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A 3-master Redis Cluster on loopback.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let nodes: Vec<Server> = (0..3)
            .map(|_| {
                Server::start(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "5000",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
            })
            .collect();
        let mut args = vec!["--cluster".to_string(), "create".to_string()];
        args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
        args.push("--cluster-yes".into());
        let out = Command::new("redis-cli").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Wait until every node reports the cluster as ok.
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            let all_ok = nodes.iter().all(|n| {
                Command::new("redis-cli")
                    .args(["-p", &n.port.to_string(), "cluster", "info"])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
            });
            if all_ok {
                return Cluster { nodes };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the cluster did not become ok");
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis://{}?cluster=true", hosts.join(","))
    }
}

/// A running hammer process and the temporary directory holding its policy file, removed
/// when the process is collected (or the test fails first).
pub struct Hammer {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Hammer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the hammer binary on `policy` (written to a temporary file) and `action`.
pub fn hammer(url: &str, policy: &str, action: &str, threads: usize, per: usize) -> Hammer {
    let dir = temp_dir("policy");
    let file = dir.join("policy.json");
    std::fs::write(&file, policy).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis-redis-hammer"))
        .args([
            url,
            file.to_str().unwrap(),
            action,
            &threads.to_string(),
            &per.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    Hammer {
        child: Some(child),
        dir,
    }
}

/// Waits for a hammer; returns its count line parsed.
pub fn counts(mut hammer: Hammer) -> serde_json::Value {
    let out = hammer.child.take().unwrap().wait_with_output().unwrap();
    drop(hammer);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn count(v: &serde_json::Value, code: &str) -> u64 {
    v.get(code).and_then(|n| n.as_u64()).unwrap_or(0)
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(temp_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (install it: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Redis server that also listens with TLS, on a certificate for 127.0.0.1 signed by a
/// throwaway CA (`ca.pem` in `certs`).
pub struct TlsServer {
    pub server: Server,
    pub tls_port: u16,
    pub certs: TempDir,
}

impl TlsServer {
    pub fn start() -> TlsServer {
        let certs = TempDir::new("tls");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "1"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        ca.extend(["-subj", "/CN=portcullis test CA"]);
        ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(&certs.0, &ca);
        let mut csr = vec!["req", "-new", "-nodes"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        csr.extend(["-subj", "/CN=127.0.0.1"]);
        openssl(&certs.0, &csr);
        std::fs::write(
            certs.0.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &certs.0,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "ext.cnf",
                "-out",
                "server.pem",
            ],
        );
        let tls_port = free_port();
        let path = |f: &str| certs.0.join(f).display().to_string();
        let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
        let server = Server::start(&[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ]);
        TlsServer {
            server,
            tls_port,
            certs,
        }
    }

    pub fn ca(&self) -> String {
        self.certs.0.join("ca.pem").display().to_string()
    }
}
