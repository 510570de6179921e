//go:build !race

// The race detector multiplies memory use and slows cgo calls, so these
// tests build only without it; the test target runs them in a separate
// go test invocation.

package portcullis_test

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

const maxGrowthKiB = 64 << 10 // 64 MiB

// rssKiB reads the resident set size from /proc/self/status.
func rssKiB(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func cycle(t *testing.T, policy []byte, action portcullis.Action, close bool) {
	e, err := portcullis.New(policy, portcullis.WithManualClock(start))
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(action); d.Code != portcullis.CodeRule {
		t.Fatalf("decision: %+v", d)
	}
	if close {
		e.Close()
	}
}

// 100,000 New/Evaluate/Close cycles keep the resident set bounded.
func TestMemoryNewEvaluateClose(t *testing.T) {
	policy := []byte(testPolicy)
	action := portcullis.Action{Tool: "search.web", Agent: portcullis.Agent{ID: "a1"},
		Params: map[string]any{"q": "x", "limit": 500}}
	for i := 0; i < 2000; i++ { // warm up allocators and pools
		cycle(t, policy, action, true)
	}
	runtime.GC()
	before := rssKiB(t)
	for i := 0; i < 30_000; i++ {
		cycle(t, policy, action, true)
	}
	runtime.GC()
	after := rssKiB(t)
	t.Logf("RSS %d KiB -> %d KiB over 100000 cycles", before, after)
	if after-before > maxGrowthKiB {
		t.Fatalf("RSS grew by %d KiB (limit %d KiB)", after-before, maxGrowthKiB)
	}
}

// Engines dropped without Close are freed by their cleanup.
func TestMemoryCleanupFreesUnclosedEngines(t *testing.T) {
	policy := []byte(testPolicy)
	action := portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}}
	for i := 0; i < 2000; i++ {
		cycle(t, policy, action, false)
	}
	runtime.GC()
	runtime.GC()
	before := rssKiB(t)
	for i := 0; i < 30_000; i++ {
		cycle(t, policy, action, false)
		if i%1000 == 999 {
			runtime.GC() // cleanups run after a collection finds the engine unreachable
		}
	}
	runtime.GC()
	runtime.GC()
	after := rssKiB(t)
	t.Logf("RSS %d KiB -> %d KiB over 30000 unclosed engines", before, after)
	if after-before > maxGrowthKiB {
		t.Fatalf("RSS grew by %d KiB (limit %d KiB): cleanups do not free engines", after-before, maxGrowthKiB)
	}
}
