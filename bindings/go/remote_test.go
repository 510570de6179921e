package portcullis_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

const remotePolicy = `{
  "portcullis": 1, "name": "remote-test", "version": "7",
  "rules": [
    {"id": "no-rm", "effect": "deny", "match": {"tool": ["shell"]},
     "when": {"field": "params.cmd", "contains": "rm -rf"}, "reason": "destructive"},
    {"id": "shell", "effect": "allow", "match": {"tool": ["shell"]}},
    {"id": "search", "effect": "allow", "match": {"tool": ["search"]}},
    {"id": "search-2", "effect": "rate_limit", "match": {"tool": ["search"]},
     "limit": {"max": 2, "window": "1h", "per": ["agent"]}},
    {"id": "pay", "effect": "require_approval", "match": {"tool": ["pay"]}}
  ]
}`

// fallbackPolicy allows only search: enough to tell its decisions apart.
const fallbackPolicy = `{"portcullis": 1, "name": "fallback",
  "rules": [{"id": "fallback-search", "effect": "allow", "match": {"tool": ["search"]}}]}`

// server is a `portcullis serve` process on a Unix socket.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	socket string
	policy string
}

func startServer(t *testing.T, dir string) *server {
	t.Helper()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(remotePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, socket: filepath.Join(dir, "pc.sock"), policy: policy}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	_ = os.Remove(s.socket)
	s.cmd = exec.Command(verifier(s.t), "serve", "--policy", s.policy, "--listen", "unix:"+s.socket)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting portcullis serve: %v", err)
	}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("unix", s.socket); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.t.Fatalf("portcullis serve did not listen on %s within 5 s", s.socket)
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func search(agent string) portcullis.Action {
	return portcullis.Action{Tool: "search", Agent: portcullis.Agent{ID: agent}, Params: map[string]any{"q": "x"}}
}

// comparable drops what legitimately differs between two engines: the
// evaluation time, and retry_after_ms, which reads each engine's own clock
// (checked to be present and within the window instead).
func comparable(t *testing.T, d portcullis.Decision) portcullis.Decision {
	t.Helper()
	d.EvalNs = 0
	if d.Code == portcullis.CodeRateLimited {
		if d.RetryAfterMs == nil || *d.RetryAfterMs > 3_600_000 {
			t.Errorf("retry_after_ms of a rate-limited decision: %v", d.RetryAfterMs)
		}
		d.RetryAfterMs = nil
	}
	return d
}

func TestRemoteDecidesAsLocal(t *testing.T) {
	srv := startServer(t, t.TempDir())
	remote, err := portcullis.NewRemote("unix:"+srv.socket, portcullis.RemoteOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	local, err := portcullis.New([]byte(remotePolicy))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	actions := []portcullis.Action{
		{Tool: "shell", Agent: portcullis.Agent{ID: "a"}, Params: map[string]any{"cmd": "rm -rf /"}},
		{Tool: "shell", Agent: portcullis.Agent{ID: "a"}, Params: map[string]any{"cmd": "ls"}},
		{Tool: "pay", Agent: portcullis.Agent{ID: "a"}, Params: map[string]any{"amount": 3}},
		{Tool: "unknown", Agent: portcullis.Agent{ID: "a"}},
		{Tool: "", Agent: portcullis.Agent{ID: "a"}},
		search("a"), search("a"), search("a"),
	}
	for i, a := range actions {
		want, got := comparable(t, local.Evaluate(a)), comparable(t, remote.Evaluate(a))
		if !reflect.DeepEqual(want, got) {
			t.Errorf("action %d: remote %+v, local %+v", i, got, want)
		}
	}
	// The server counts: the third search of agent a was rate limited there too.
	if d := remote.Evaluate(search("a")); d.Code != portcullis.CodeRateLimited || d.Allowed {
		t.Errorf("a fourth search: %+v", d)
	}
	if d := remote.EvaluateJSON([]byte(`{"tool": "search", "tool": "x", "agent": {"id": "a"}}`)); d.Code != portcullis.CodeInvalidAction {
		t.Errorf("duplicate keys: %+v", d)
	}
}

func TestRemoteApprovals(t *testing.T) {
	srv := startServer(t, t.TempDir())
	remote, err := portcullis.NewRemote("unix:"+srv.socket, portcullis.RemoteOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pay := portcullis.Action{Tool: "pay", Agent: portcullis.Agent{ID: "a"}, Params: map[string]any{"amount": 5}}
	d := remote.Evaluate(pay)
	if d.Code != portcullis.CodeApprovalRequired || d.ActionHash == nil {
		t.Fatalf("before approval: %+v", d)
	}
	hash, err := remote.Approve(pay, time.Minute, 1)
	if err != nil || hash != *d.ActionHash {
		t.Fatalf("Approve: %q, %v (decision hash %s)", hash, err, *d.ActionHash)
	}
	if d := remote.Evaluate(pay); d.Code != portcullis.CodeApproved || !d.Allowed {
		t.Errorf("after approval: %+v", d)
	}
	if d := remote.Evaluate(pay); d.Code != portcullis.CodeApprovalRequired {
		t.Errorf("the single use was consumed: %+v", d)
	}
	if err := remote.ApproveHash(*d.ActionHash, time.Minute, 1); err != nil {
		t.Errorf("ApproveHash: %v", err)
	}
	if err := remote.ApproveHash("sha256:zz", time.Minute, 1); !errors.Is(err, portcullis.ErrInvalidArgument) {
		t.Errorf("a malformed hash: %v", err)
	}
	if _, err := remote.Approve(pay, 0, 1); !errors.Is(err, portcullis.ErrInvalidArgument) {
		t.Errorf("ttl 0: %v", err)
	}
	if _, err := remote.ApproveJSON([]byte(`{"tool":`), time.Minute, 1); !errors.Is(err, portcullis.ErrInvalidAction) {
		t.Errorf("broken JSON: %v", err)
	}
}

func TestRemoteFailsClosedAndRecovers(t *testing.T) {
	srv := startServer(t, t.TempDir())
	remote, err := portcullis.NewRemote("unix:"+srv.socket, portcullis.RemoteOptions{
		Timeout: 300 * time.Millisecond, BreakerFailures: 2, BreakerCooldown: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := portcullis.New([]byte(fallbackPolicy))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	withFallback, err := portcullis.NewRemote("unix:"+srv.socket, portcullis.RemoteOptions{Timeout: 300 * time.Millisecond, Fallback: fb})
	if err != nil {
		t.Fatal(err)
	}
	shell := portcullis.Action{Tool: "shell", Agent: portcullis.Agent{ID: "a"}, Params: map[string]any{"cmd": "ls"}}
	if d := remote.Evaluate(shell); !d.Allowed {
		t.Fatalf("server up: %+v", d)
	}

	srv.stop() // SIGKILL
	for i := 0; i < 5; i++ {
		d := remote.Evaluate(shell)
		if d.Allowed || d.Effect != portcullis.EffectDeny || d.Code != portcullis.CodeUnavailable || d.Reason == "" || d.Fallback {
			t.Fatalf("server killed, call %d: %+v", i, d)
		}
	}
	if d := withFallback.Evaluate(shell); d.Allowed || !d.Fallback || d.Policy.Name != "fallback" || d.Code != portcullis.CodeDefault {
		t.Errorf("the fallback policy has no shell rule: %+v", d)
	}
	if d := withFallback.Evaluate(search("a")); !d.Allowed || !d.Fallback || d.Rule == nil || *d.Rule != "fallback-search" {
		t.Errorf("the fallback policy allows search: %+v", d)
	}
	if _, err := remote.Approve(shell, time.Minute, 1); !errors.Is(err, portcullis.ErrUnavailable) {
		t.Errorf("Approve while down: %v", err)
	}

	srv.start()
	var d portcullis.Decision
	for i := 0; i < 100; i++ {
		if d = remote.Evaluate(shell); d.Allowed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !d.Allowed || d.Fallback {
		t.Fatalf("after the restart the client did not recover: %+v", d)
	}

	// SIGSTOP: each call ends with its timeout, as unavailable.
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, srv.cmd.Process.Pid)
	stopped := NewRemoteOrFail(t, "unix:"+srv.socket, portcullis.RemoteOptions{Timeout: 100 * time.Millisecond, BreakerFailures: -1})
	for i := 0; i < 3; i++ {
		if d := stopped.Evaluate(shell); d.Code != portcullis.CodeUnavailable || !strings.Contains(d.Reason, "did not answer") {
			t.Errorf("server stopped, call %d: %+v", i, d)
		}
	}
	_ = srv.cmd.Process.Signal(syscall.SIGCONT)
}

// waitStopped waits until every thread of pid is stopped (a signal is
// delivered asynchronously): state "T" in /proc/PID/task/*/stat.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, task := range tasks {
			stat, err := os.ReadFile(task)
			// The state follows the command name, which is in parentheses.
			if at := strings.LastIndexByte(string(stat), ')'); err != nil || at < 0 || !strings.HasPrefix(string(stat[at+1:]), " T") {
				stopped = false
			}
		}
		if stopped {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d did not stop within 5 s", pid)
}

func NewRemoteOrFail(t *testing.T, endpoint string, opts portcullis.RemoteOptions) *portcullis.RemoteEngine {
	t.Helper()
	r, err := portcullis.NewRemote(endpoint, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A server that answers anything but a valid decision gives unavailable.
func TestRemoteRejectsInvalidAnswers(t *testing.T) {
	answers := map[string]struct {
		status int
		body   string
	}{
		"500":                {500, `{"error": {"code": "internal", "message": "boom"}}`},
		"401":                {401, `{"error": {"code": "unauthorized", "message": "token"}}`},
		"not json":           {200, `allow`},
		"allowed but denied": {200, `{"effect": "deny", "allowed": true, "code": "rule"}`},
		"unknown effect":     {200, `{"effect": "permit", "allowed": true, "code": "rule"}`},
		"fallback claimed":   {200, `{"effect": "allow", "allowed": true, "code": "rule", "fallback": true}`},
		"trailing text":      {200, `{"effect": "allow", "allowed": true, "code": "rule"} x`},
		"empty":              {200, ``},
	}
	for name, a := range answers {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(a.status)
				fmt.Fprint(w, a.body)
			}))
			defer ts.Close()
			r := NewRemoteOrFail(t, ts.URL, portcullis.RemoteOptions{Timeout: time.Second})
			if d := r.Evaluate(search("a")); d.Allowed || d.Code != portcullis.CodeUnavailable {
				t.Errorf("%+v", d)
			}
		})
	}
}

func TestRemoteSendsTokenOnlyOverTCP(t *testing.T) {
	var got string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		fmt.Fprint(w, `{"effect": "deny", "allowed": false, "code": "default", "rule": null, "reason": "r",
			"matched": [], "shadow": [], "params": null, "retry_after_ms": null, "action_hash": null,
			"policy": {"name": "p", "version": null}, "eval_ns": 1}`)
	}))
	defer ts.Close()
	r := NewRemoteOrFail(t, "tcp:"+strings.TrimPrefix(ts.URL, "http://"), portcullis.RemoteOptions{Token: "s3cret"})
	if d := r.Evaluate(search("a")); d.Code != portcullis.CodeDefault || d.Policy.Name != "p" {
		t.Errorf("%+v", d)
	}
	if got != "Bearer s3cret" {
		t.Errorf("Authorization: %q", got)
	}
}

func TestRemoteEndpoints(t *testing.T) {
	for _, bad := range []string{"", "unix:", "tcp:nohost", "ftp://x", "http://h:1/path", "localhost:80"} {
		if _, err := portcullis.NewRemote(bad, portcullis.RemoteOptions{}); !errors.Is(err, portcullis.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// selfSigned writes a throwaway certificate for 127.0.0.1 and its key (PEM) into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "portcullis test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// A round trip over TLS with a bearer token, against a real server's TLS listener.
func TestRemoteOverTLSWithToken(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	policy := filepath.Join(dir, "policy.json")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(policy, []byte(remotePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(verifier(t), "serve", "--policy", policy, "--listen", "tcp:"+addr,
		"--tls-cert", certFile, "--tls-key", keyFile, "--token-file", tokenFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	shell := portcullis.Action{Tool: "shell", Agent: portcullis.Agent{ID: "a"}, Params: map[string]any{"cmd": "ls"}}
	opts := portcullis.RemoteOptions{Timeout: 2 * time.Second, Token: "0123456789abcdef0123",
		TLSConfig: &tls.Config{RootCAs: pool}, BreakerFailures: -1}
	good := NewRemoteOrFail(t, "https://"+addr, opts)
	if d := good.Evaluate(shell); !d.Allowed || d.Policy.Name != "remote-test" {
		t.Fatalf("over TLS with the token: %+v", d)
	}
	noToken := opts
	noToken.Token = ""
	if d := NewRemoteOrFail(t, "https://"+addr, noToken).Evaluate(shell); d.Allowed || d.Code != portcullis.CodeUnavailable || !strings.Contains(d.Reason, "401") {
		t.Errorf("without the token: %+v", d)
	}
	untrusted := opts
	untrusted.TLSConfig = nil // the system roots do not know the test certificate
	if d := NewRemoteOrFail(t, "https://"+addr, untrusted).Evaluate(shell); d.Allowed || d.Code != portcullis.CodeUnavailable {
		t.Errorf("an untrusted certificate: %+v", d)
	}
	if d := NewRemoteOrFail(t, "http://"+addr, opts).Evaluate(shell); d.Allowed || d.Code != portcullis.CodeUnavailable {
		t.Errorf("plain HTTP to a TLS listener: %+v", d)
	}
}

// A kept connection the server closed while idle is not written to: the next
// call dials again and gets its answer (it is not an unavailable deny), and
// every request reaches the server exactly once.
func TestRemoteRedialsAConnectionTheServerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// Answers one request as if keeping the connection, then closes it.
			if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				served.Add(1)
				body := `{"effect": "deny", "allowed": false, "code": "default", "rule": null, "reason": "r",
					"matched": [], "shadow": [], "params": null, "retry_after_ms": null, "action_hash": null,
					"policy": {"name": "p", "version": null}, "eval_ns": 1}`
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}
			conn.Close()
		}
	}()
	r := NewRemoteOrFail(t, "tcp:"+ln.Addr().String(), portcullis.RemoteOptions{Timeout: time.Second})
	defer r.Close()
	for i := 0; i < 3; i++ {
		if d := r.Evaluate(search("a")); d.Code != portcullis.CodeDefault {
			t.Fatalf("call %d: %+v", i, d)
		}
		time.Sleep(20 * time.Millisecond) // the close reaches the client
	}
	if n := served.Load(); n != 3 {
		t.Errorf("the server answered %d requests, want 3", n)
	}
}
