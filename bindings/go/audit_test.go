package portcullis_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

const auditPolicy = `{"portcullis": 1, "name": "audited", "version": "3",
  "audit": {"include_params": ["params.table"]},
  "rules": [
    {"id": "reads", "effect": "allow", "match": {"tool": ["db.read"]}},
    {"id": "no-drop", "effect": "deny", "match": {"tool": ["db.drop"]}, "reason": "never"}]}`

const genesis = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// auditActions are decided in turn: an allow whose params hold a secret that
// is not in include_params, a deny, and a malformed action.
var auditActions = []struct {
	action       portcullis.Action
	tool         any // nil for the malformed action
	effect, code string
}{
	{portcullis.Action{Tool: "db.read", Agent: portcullis.Agent{ID: "a1"},
		Params:  map[string]any{"table": "users", "password": "hunter2-secret"},
		Context: map[string]any{"token": "ctx-secret"}}, "db.read", "allow", "rule"},
	{portcullis.Action{Tool: "db.drop", Agent: portcullis.Agent{ID: "a2"},
		Params: map[string]any{"table": "t"}}, "db.drop", "deny", "rule"},
	{portcullis.Action{Agent: portcullis.Agent{ID: "a3"}}, nil, "deny", "invalid_action"},
}

func evaluateAudited(t testing.TB, e *portcullis.Engine, n int) {
	t.Helper()
	for i := range n {
		want := auditActions[i%len(auditActions)]
		if d := e.Evaluate(want.action); string(d.Effect) != want.effect || string(d.Code) != want.code {
			t.Fatalf("decision %d: %s/%s, want %s/%s", i, d.Effect, d.Code, want.effect, want.code)
		}
	}
}

func newAudited(t testing.TB, cfg portcullis.AuditConfig) *portcullis.Engine {
	t.Helper()
	e, err := portcullis.New([]byte(auditPolicy), portcullis.WithManualClock(start), portcullis.WithAudit(cfg))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

type auditRecord struct {
	Seq    uint64          `json:"seq"`
	Type   string          `json:"type"`
	Time   string          `json:"time"`
	Agent  any             `json:"agent"`
	Tool   any             `json:"tool"`
	Effect string          `json:"effect"`
	Code   string          `json:"code"`
	Rule   *string         `json:"rule"`
	Policy json.RawMessage `json:"policy"`
	Params json.RawMessage `json:"params"`
	Prev   string          `json:"prev"`
	Hash   string          `json:"hash"`
	// Dropped is set on "dropped" records.
	Dropped uint64 `json:"dropped"`
}

var hashPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkChain checks that records are a whole trail: seq 1, 2, ..., each
// linked to the one before. With decisions, they are those of
// evaluateAudited and their fields are checked too.
func checkChain(t *testing.T, records []json.RawMessage, decisions bool) {
	t.Helper()
	prev := genesis
	for i, raw := range records {
		var r auditRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("record %d: %v: %s", i+1, err, raw)
		}
		if r.Seq != uint64(i+1) || r.Prev != prev || !hashPattern.MatchString(r.Hash) || r.Type != "decision" {
			t.Fatalf("record %d: seq %d, prev %s (want %s), hash %s, type %s", i+1, r.Seq, r.Prev, prev, r.Hash, r.Type)
		}
		prev = r.Hash
		if !decisions {
			continue
		}
		want := auditActions[i%len(auditActions)]
		if r.Tool != want.tool || r.Effect != want.effect || r.Code != want.code ||
			r.Time != "2026-05-22T12:00:00.000Z" || string(r.Policy) != `{"name":"audited","version":"3"}` {
			t.Errorf("record %d: %s", i+1, raw)
		}
		switch i % len(auditActions) {
		case 0:
			if string(r.Params) != `{"params.table":"users"}` || r.Rule == nil || *r.Rule != "reads" {
				t.Errorf("record %d: params %s rule %v", i+1, r.Params, r.Rule)
			}
		case 2:
			if r.Params != nil || r.Agent != nil {
				t.Errorf("record %d of a malformed action: %s", i+1, raw)
			}
		}
	}
}

// assertRedacted fails when text holds a parameter or context value that
// audit.include_params does not list.
func assertRedacted(t *testing.T, text []byte) {
	t.Helper()
	for _, secret := range []string{"hunter2-secret", "ctx-secret", "password", "token"} {
		if bytes.Contains(text, []byte(secret)) {
			t.Errorf("the trail holds %q", secret)
		}
	}
}

// verifier returns the path of the portcullis command line tool (built by `make tools`).
func verifier(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PORTCULLIS_BIN")
	if path == "" {
		path = filepath.Join("..", "..", "target", "release", "portcullis")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the audit verifier is missing (run make tools, or set PORTCULLIS_BIN): %v", err)
	}
	return path
}

// verify runs the verifier on files and returns its output and whether it
// accepted the trail.
func verify(t *testing.T, files ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command(verifier(t), append([]string{"audit", "verify"}, files...)...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the verifier: %v", err)
	}
	return string(out), err == nil
}

func joinLines(records []json.RawMessage) []byte {
	var b bytes.Buffer
	for _, r := range records {
		b.Write(r)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestAuditMemoryDrainsOneChain(t *testing.T) {
	const n = 60
	e := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditMemory})
	evaluateAudited(t, e, n)

	first, err := e.DrainAudit(25)
	if err != nil || len(first) != 25 {
		t.Fatalf("first drain: %d records, %v", len(first), err)
	}
	rest, err := e.DrainAudit(1000)
	if err != nil || len(rest) != n-25 {
		t.Fatalf("second drain: %d records, %v", len(rest), err)
	}
	if again, err := e.DrainAudit(1000); err != nil || len(again) != 0 {
		t.Fatalf("third drain: %d records, %v; want none", len(again), err)
	}
	all := append(first, rest...)
	checkChain(t, all, true)
	assertRedacted(t, joinLines(all))
	if stats, err := e.AuditStats(); err != nil || stats != (portcullis.AuditStats{Recorded: n}) {
		t.Errorf("stats = %+v, %v", stats, err)
	}

	// Written out in order, the drained records are a trail the verifier accepts.
	path := filepath.Join(t.TempDir(), "drained.log")
	if err := os.WriteFile(path, joinLines(all), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(t, path); !ok || !strings.HasPrefix(out, fmt.Sprintf("ok: %d records verify", n)) {
		t.Errorf("verifier: %s", out)
	}
}

func TestAuditFileSinkVerifies(t *testing.T) {
	const n = 40
	path := filepath.Join(t.TempDir(), "audit.log")
	e := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: path,
		FlushInterval: time.Minute, Fsync: true})
	evaluateAudited(t, e, n)
	if err := e.FlushAudit(); err != nil {
		t.Fatalf("FlushAudit: %v", err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(text, []byte("\n"))
	if last := lines[len(lines)-1]; len(last) == 0 {
		lines = lines[:len(lines)-1]
	}
	var records []json.RawMessage
	for _, l := range lines {
		records = append(records, bytes.TrimSuffix(l, []byte("\n")))
	}
	if len(records) != n {
		t.Fatalf("the file has %d lines after FlushAudit, want %d", len(records), n)
	}
	checkChain(t, records, true)
	assertRedacted(t, text)
	if out, ok := verify(t, path); !ok || !strings.HasPrefix(out, "ok: 40 records verify (40 decisions, 0 dropped)") {
		t.Errorf("verifier: %s", out)
	}
	if stats, err := e.AuditStats(); err != nil || stats != (portcullis.AuditStats{Recorded: n}) {
		t.Errorf("stats = %+v, %v", stats, err)
	}
	if got, err := e.DrainAudit(10); err != nil || len(got) != 0 {
		t.Errorf("a file sink drained %d records, %v", len(got), err)
	}

	// Close writes what is still queued; a new engine continues the chain.
	evaluateAudited(t, e, 2)
	e.Close()
	e2 := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: path})
	evaluateAudited(t, e2, 3)
	e2.Close()
	if out, ok := verify(t, path); !ok || !strings.HasPrefix(out, "ok: 45 records verify") {
		t.Errorf("verifier after reopening: %s", out)
	}

	// An edited record fails verification.
	text, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(text, []byte(`"effect":"deny"`), []byte(`"effect":"allow"`), 1)
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(t, path); ok || !strings.Contains(out, "FAIL") {
		t.Errorf("an edited trail verified: %s", out)
	}
}

func TestAuditRotationKeepsTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	e := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: path, MaxBytes: 1500})
	for range 30 {
		evaluateAudited(t, e, 1)
		if err := e.FlushAudit(); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	rotated, err := filepath.Glob(path + ".*")
	if err != nil || len(rotated) < 2 {
		t.Fatalf("MaxBytes 1500 rotated into %v (%v)", rotated, err)
	}
	// Glob sorts the six-digit suffixes oldest first.
	if out, ok := verify(t, append(rotated, path)...); !ok || !strings.HasPrefix(out, "ok: 30 records verify") {
		t.Errorf("verifier: %s", out)
	}
}

func TestAuditDropOverflowCounts(t *testing.T) {
	const n, capacity = 20, 4
	e := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditMemory, QueueCapacity: capacity,
		Overflow: portcullis.OverflowDrop})
	evaluateAudited(t, e, n)
	if stats, err := e.AuditStats(); err != nil || stats != (portcullis.AuditStats{Dropped: n - capacity}) {
		t.Errorf("stats before draining = %+v, %v", stats, err)
	}
	records, err := e.DrainAudit(100)
	if err != nil || len(records) != capacity+1 {
		t.Fatalf("drained %d records (%v), want a dropped record and %d decisions", len(records), err, capacity)
	}
	var dropped auditRecord
	if err := json.Unmarshal(records[0], &dropped); err != nil || dropped.Type != "dropped" || dropped.Dropped != n-capacity {
		t.Errorf("first record %s (%v), want a dropped record counting %d", records[0], err, n-capacity)
	}
	stats, err := e.AuditStats()
	if err != nil || stats != (portcullis.AuditStats{Recorded: capacity, Dropped: n - capacity}) {
		t.Errorf("stats after draining = %+v, %v", stats, err)
	}
	if stats.Recorded+stats.Dropped != n {
		t.Errorf("recorded %d + dropped %d != %d decisions", stats.Recorded, stats.Dropped, n)
	}
}

func TestAuditRedactsParamsNotIncluded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	file := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: path})
	memory := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditMemory})
	secret := portcullis.Action{Tool: "db.read", Agent: portcullis.Agent{ID: "a1"},
		Params:  map[string]any{"table": "users", "password": "hunter2-secret", "nested": map[string]any{"token": "x"}},
		Context: map[string]any{"token": "ctx-secret"}}
	for _, e := range []*portcullis.Engine{file, memory} {
		if d := e.Evaluate(secret); !d.Allowed {
			t.Fatalf("decision = %+v", d)
		}
		if d := e.EvaluateJSON([]byte(`{"tool": "db.read", "agent": {"id": "a1"}, "params": {"password": "hunter2-secret"}}`)); !d.Allowed {
			t.Fatalf("decision = %+v", d)
		}
	}
	if err := file.FlushAudit(); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drained, err := memory.DrainAudit(10)
	if err != nil || len(drained) != 2 {
		t.Fatalf("drained %d (%v)", len(drained), err)
	}
	for name, trail := range map[string][]byte{"file": text, "memory": joinLines(drained)} {
		assertRedacted(t, trail)
		if !bytes.Contains(trail, []byte(`"params":{"params.table":"users"}`)) ||
			!bytes.Contains(trail, []byte(`"params":{}`)) {
			t.Errorf("%s trail: only params.table, when present: %s", name, trail)
		}
	}
}

// Many goroutines evaluate into a small blocking queue while one drains:
// nothing is lost, and the records form one chain. Run with -race.
func TestAuditConcurrentEvaluateAndDrain(t *testing.T) {
	const workers, each = 8, 200
	e := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditMemory, QueueCapacity: 16})
	read := auditActions[0].action
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if d := e.Evaluate(read); !d.Allowed {
					t.Errorf("decision = %+v", d)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var all []json.RawMessage
	deadline := time.After(2 * time.Minute)
	for len(all) < workers*each {
		got, err := e.DrainAudit(7)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got...)
		if len(got) == 0 {
			select {
			case <-deadline:
				t.Fatalf("%d records after two minutes, want %d", len(all), workers*each)
			case <-time.After(100 * time.Microsecond):
			}
		}
	}
	<-done
	if extra, err := e.DrainAudit(100); err != nil || len(extra) != 0 {
		t.Errorf("%d records beyond the decisions (%v)", len(extra), err)
	}
	checkChain(t, all, false)
	if stats, err := e.AuditStats(); err != nil || stats != (portcullis.AuditStats{Recorded: workers * each}) {
		t.Errorf("stats = %+v, %v", stats, err)
	}
}

func TestAuditErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "audit.log")
	_, err := portcullis.New([]byte(auditPolicy), portcullis.WithAudit(portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: missing}))
	var auditErr *portcullis.AuditError
	if !errors.As(err, &auditErr) || !errors.Is(err, portcullis.ErrAudit) || !strings.Contains(auditErr.Message, missing) {
		t.Errorf("unopenable file: %v", err)
	}
	if _, err := portcullis.New([]byte(auditPolicy), portcullis.WithAudit(portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: dir})); !errors.Is(err, portcullis.ErrAudit) {
		t.Errorf("a directory as the file: %v", err)
	}

	// A bad policy is a *PolicyError and never creates the file.
	path := filepath.Join(dir, "audit.log")
	_, err = portcullis.New([]byte(`{"portcullis": 1, "name": "p", "audit": {"include": []}}`),
		portcullis.WithAudit(portcullis.AuditConfig{Sink: portcullis.AuditFile, Path: path}))
	var policyErr *portcullis.PolicyError
	if !errors.As(err, &policyErr) || policyErr.Path != "audit" {
		t.Errorf("bad policy: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a bad policy created the trail file: %v", err)
	}

	for name, cfg := range map[string]portcullis.AuditConfig{
		"no sink":            {},
		"unknown sink":       {Sink: 9},
		"file without path":  {Sink: portcullis.AuditFile},
		"NUL in path":        {Sink: portcullis.AuditFile, Path: "a\x00b"},
		"path not UTF-8":     {Sink: portcullis.AuditFile, Path: "/tmp/\xff.log"},
		"negative MaxBytes":  {Sink: portcullis.AuditFile, Path: path, MaxBytes: -1},
		"negative interval":  {Sink: portcullis.AuditFile, Path: path, FlushInterval: -time.Second},
		"negative capacity":  {Sink: portcullis.AuditMemory, QueueCapacity: -1},
		"capacity too large": {Sink: portcullis.AuditMemory, QueueCapacity: 1<<20 + 1},
		"unknown overflow":   {Sink: portcullis.AuditMemory, Overflow: 5},
	} {
		if _, err := portcullis.New([]byte(auditPolicy), portcullis.WithAudit(cfg)); !errors.Is(err, portcullis.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused config created the trail file: %v", err)
	}

	e := newAudited(t, portcullis.AuditConfig{Sink: portcullis.AuditMemory})
	if _, err := e.DrainAudit(0); !errors.Is(err, portcullis.ErrInvalidArgument) {
		t.Errorf("DrainAudit(0): %v", err)
	}
	e.Close()
	if _, err := e.DrainAudit(1); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("DrainAudit after Close: %v", err)
	}
	if err := e.FlushAudit(); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("FlushAudit after Close: %v", err)
	}
	if _, err := e.AuditStats(); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("AuditStats after Close: %v", err)
	}
}

func TestNoAuditTrail(t *testing.T) {
	e := newEngine(t)
	e.Evaluate(portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"}})
	if got, err := e.DrainAudit(10); err != nil || len(got) != 0 {
		t.Errorf("DrainAudit = %d records, %v", len(got), err)
	}
	if err := e.FlushAudit(); err != nil {
		t.Errorf("FlushAudit = %v", err)
	}
	if stats, err := e.AuditStats(); err != nil || stats != (portcullis.AuditStats{}) {
		t.Errorf("AuditStats = %+v, %v", stats, err)
	}
}
