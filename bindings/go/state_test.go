package portcullis_test

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

const sharedPolicy = `{"portcullis": 1, "name": "fleet", "default": "allow", "rules": [
  {"id": "cap", "effect": "rate_limit", "match": {"tool": ["send"]},
   "limit": {"max": 5, "window": "1h", "per": []}}]}`

// startRedis runs redis-server (Debian's package; make test-go installs it) on
// a free loopback port without persistence, and stops it when the test ends.
func startRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed (make redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

func TestTwoEnginesOnOneRedisAdmitMaxTogether(t *testing.T) {
	url := startRedis(t)
	a := newEngineWith(t, sharedPolicy, portcullis.WithStateURL(url))
	b := newEngineWith(t, sharedPolicy, portcullis.WithStateURL(url))
	counts := map[portcullis.Code]int{}
	for i := 0; i < 12; i++ {
		e := a
		if i%2 == 1 {
			e = b
		}
		counts[e.EvaluateJSON([]byte(`{"tool": "send", "agent": {"id": "x"}}`)).Code]++
	}
	if counts[portcullis.CodeDefault] != 5 || counts[portcullis.CodeRateLimited] != 7 {
		t.Fatalf("want 5 admitted and 7 limited across both engines, got %v", counts)
	}
}

func TestStateURLDownAndMalformed(t *testing.T) {
	// Nothing listens on this port: the engine is created, limited actions are
	// denied unavailable, the others decided as usual.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	e := newEngineWith(t, sharedPolicy,
		portcullis.WithStateURL(fmt.Sprintf("redis://127.0.0.1:%d/0?timeout_ms=200", port)))
	d := e.EvaluateJSON([]byte(`{"tool": "send", "agent": {"id": "x"}}`))
	if d.Code != portcullis.CodeUnavailable || d.Allowed {
		t.Fatalf("want a deny unavailable, got %+v", d)
	}
	if d := e.EvaluateJSON([]byte(`{"tool": "read", "agent": {"id": "x"}}`)); d.Code != portcullis.CodeDefault {
		t.Fatalf("want default, got %+v", d)
	}

	for _, url := range []string{"http://127.0.0.1:6379", "redis://", "redis://127.0.0.1\x00"} {
		_, err := portcullis.New([]byte(sharedPolicy), portcullis.WithStateURL(url))
		if !errors.Is(err, portcullis.ErrInvalidArgument) {
			t.Fatalf("%q: want ErrInvalidArgument, got %v", url, err)
		}
		if !strings.Contains(err.Error(), "URL") {
			t.Fatalf("%q: the error does not name the URL: %v", url, err)
		}
	}
}

// Approving needs the shared store: when it does not answer, Approve fails
// with ErrUnavailable (not ErrInvalidArgument: the call may be retried) and
// nothing is granted.
func TestApproveWithStoreDownIsUnavailable(t *testing.T) {
	e := newEngineWith(t, `{"portcullis": 1, "name": "p", "rules": [
	  {"id": "pay", "effect": "require_approval", "match": {"tool": ["pay"]}}]}`,
		portcullis.WithStateURL("redis://127.0.0.1:1/0?timeout_ms=200"))
	pay := portcullis.Action{Tool: "pay", Agent: portcullis.Agent{ID: "a"}}
	_, err := e.Approve(pay, time.Minute, 1)
	if !errors.Is(err, portcullis.ErrUnavailable) || errors.Is(err, portcullis.ErrInvalidArgument) {
		t.Fatalf("Approve: want ErrUnavailable, got %v", err)
	}
	hash := "sha256:" + strings.Repeat("0", 64)
	if err := e.ApproveHash(hash, time.Minute, 1); !errors.Is(err, portcullis.ErrUnavailable) {
		t.Fatalf("ApproveHash: want ErrUnavailable, got %v", err)
	}
	if d := e.Evaluate(pay); d.Allowed {
		t.Fatalf("nothing was granted, yet: %+v", d)
	}
}

func newEngineWith(t *testing.T, policy string, opts ...portcullis.Option) *portcullis.Engine {
	t.Helper()
	e, err := portcullis.New([]byte(policy), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
