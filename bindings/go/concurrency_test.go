package portcullis_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

// Close while other goroutines evaluate: every decision is either the real
// one (before Close) or the fail-closed engine_error deny (after), and once
// Close has returned no call gets anything else.
func TestCloseDuringEvaluate(t *testing.T) {
	for round := 0; round < 20; round++ {
		e, err := portcullis.New([]byte(`{"portcullis": 1, "name": "open", "default": "allow"}`))
		if err != nil {
			t.Fatal(err)
		}
		action := portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}}
		var closed atomic.Bool
		var wrong atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					wasClosed := closed.Load()
					d := e.Evaluate(action)
					switch {
					case d.Allowed && d.Code == portcullis.CodeDefault && !wasClosed:
					case !d.Allowed && d.Code == portcullis.CodeEngineError:
					default:
						wrong.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		closed.Store(true)
		wg.Wait()
		if n := wrong.Load(); n > 0 {
			t.Fatalf("round %d: %d decisions were neither a real one before Close nor engine_error", round, n)
		}
	}
}

// N goroutines racing on a limit of max admit exactly max.
func TestConcurrentRateLimitIsExact(t *testing.T) {
	e, err := portcullis.New([]byte(`{"portcullis": 1, "name": "p", "default": "allow", "rules": [
		{"id": "cap", "effect": "rate_limit", "limit": {"max": 100, "window": "1h", "per": []}}]}`),
		portcullis.WithManualClock(start))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var allowed, limited atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				d := e.Evaluate(portcullis.Action{Tool: "t", Agent: portcullis.Agent{ID: fmt.Sprintf("a%d", g)}})
				switch {
				case d.Allowed:
					allowed.Add(1)
				case d.Code == portcullis.CodeRateLimited:
					limited.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if allowed.Load() != 100 || limited.Load() != 300 {
		t.Fatalf("allowed %d, rate limited %d; want 100 and 300", allowed.Load(), limited.Load())
	}
}

// Evaluations racing with policy updates see one policy or the other,
// never a mix: the allow-all policy is named "open", the deny-all "shut".
func TestUpdateDuringEvaluate(t *testing.T) {
	open := []byte(`{"portcullis": 1, "name": "open", "default": "allow"}`)
	shut := []byte(`{"portcullis": 1, "name": "shut", "default": "deny"}`)
	e, err := portcullis.New(open)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	stop := make(chan struct{})
	var updates sync.WaitGroup
	updates.Add(1)
	go func() {
		defer updates.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := open
			if i%2 == 1 {
				p = shut
			}
			if err := e.UpdatePolicy(p); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	var mixed atomic.Int64
	seen := [2]atomic.Int64{}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				d := e.Evaluate(portcullis.Action{Tool: "t", Agent: portcullis.Agent{ID: "a"}})
				switch {
				case d.Policy.Name == "open" && d.Allowed:
					seen[0].Add(1)
				case d.Policy.Name == "shut" && !d.Allowed && d.Code == portcullis.CodeDefault:
					seen[1].Add(1)
				default:
					mixed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	updates.Wait()
	if mixed.Load() != 0 {
		t.Fatalf("%d decisions mixed the two policies", mixed.Load())
	}
	if seen[0].Load()+seen[1].Load() != 4000 {
		t.Fatalf("decisions: %d open, %d shut", seen[0].Load(), seen[1].Load())
	}
}
