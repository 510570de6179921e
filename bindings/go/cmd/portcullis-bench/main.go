// Command portcullis-bench is the Go percentile harness of the cross-language
// benchmark (benches/ and BENCHMARKS.md at the repository root): it times
// single Evaluate calls on the reference workload and prints the common BENCH
// and MIX lines, one each per input mode.
//
//	portcullis-bench [-workload NAME] [-n N] [-warmup W] [-start-ms MS] [-step-ms MS] POLICY.json ACTIONS.json
//
// ACTIONS.json is one JSON array of actions. The engine has a manual clock
// that starts at -start-ms and moves -step-ms after each action (outside the
// timed region). W untimed calls, then N timed calls, replaying the actions in
// order, each mode on a fresh engine:
//
//	NAME-struct  Evaluate(portcullis.Action), decoded from the file before timing
//	NAME-json    EvaluateJSON of the action's compact JSON text
//
// It exits 1 when an evaluation fails (invalid_action or engine_error).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

type mix struct {
	allow, deny, rateLimited, approval, unknownAgent, failed int
}

func (m *mix) add(d portcullis.Decision) {
	switch {
	case d.Code == portcullis.CodeInvalidAction || d.Code == portcullis.CodeEngineError:
		m.failed++
	case d.Code == portcullis.CodeRateLimited:
		m.rateLimited++
	case d.Code == portcullis.CodeUnknownAgent:
		m.unknownAgent++
	case d.Effect == portcullis.EffectRequireApproval:
		m.approval++
	case d.Effect == portcullis.EffectAllow:
		m.allow++
	default:
		m.deny++
	}
}

// rank is the nearest-rank percentile q of sorted samples.
func rank(sorted []int64, q float64) int64 {
	idx := int(q*float64(len(sorted)) + 0.999999999)
	idx = max(1, min(idx, len(sorted)))
	return sorted[idx-1]
}

type config struct {
	workload        string
	n, warmup       int
	startMs, stepMs int64
	remote          string
}

// run times evaluate on a fresh local engine whose manual clock moves
// -step-ms after each call.
func run(cfg config, policy []byte, mode string, evaluate func(e *portcullis.Engine, i int) portcullis.Decision) (int, error) {
	e, err := portcullis.New(policy, portcullis.WithManualClock(time.UnixMilli(cfg.startMs)))
	if err != nil {
		return 0, err
	}
	defer e.Close()
	return measure(cfg, mode, func(i int) portcullis.Decision { return evaluate(e, i) }, func(i int) error {
		return e.SetTime(time.UnixMilli(cfg.startMs + int64(i+1)*cfg.stepMs))
	})
}

// measure makes W untimed then N timed calls of evaluate (after runs outside
// the timed region) and prints the BENCH and MIX lines.
func measure(cfg config, mode string, evaluate func(i int) portcullis.Decision, after func(i int) error) (int, error) {
	samples := make([]int64, cfg.n)
	var m mix
	var wallStart time.Time
	for i := range cfg.warmup + cfg.n {
		if i == cfg.warmup {
			wallStart = time.Now()
		}
		t0 := time.Now()
		d := evaluate(i)
		elapsed := time.Since(t0)
		if i >= cfg.warmup {
			samples[i-cfg.warmup] = elapsed.Nanoseconds()
			m.add(d)
		}
		if err := after(i); err != nil {
			return 0, err
		}
	}
	wall := time.Since(wallStart)
	slices.Sort(samples)
	name := cfg.workload + "-" + mode
	fmt.Printf("BENCH lang=go case=%s n=%d p50=%d p90=%d p99=%d p999=%d ops_per_s=%.0f\n",
		name, cfg.n, rank(samples, 0.5), rank(samples, 0.9), rank(samples, 0.99), rank(samples, 0.999),
		float64(cfg.n)/wall.Seconds())
	fmt.Printf("MIX lang=go case=%s allow=%d deny=%d rate_limited=%d approval=%d unknown_agent=%d failed=%d\n",
		name, m.allow, m.deny, m.rateLimited, m.approval, m.unknownAgent, m.failed)
	return m.failed, nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.workload, "workload", "ref", "workload name used in the case names")
	flag.IntVar(&cfg.n, "n", 200_000, "timed evaluations per mode")
	flag.IntVar(&cfg.warmup, "warmup", 10_000, "untimed evaluations first")
	flag.Int64Var(&cfg.startMs, "start-ms", 1_772_463_600_000, "manual clock start, unix ms")
	flag.Int64Var(&cfg.stepMs, "step-ms", 10, "clock step after each action, ms")
	flag.StringVar(&cfg.remote, "remote", "", "time a RemoteEngine against `portcullis serve` at this endpoint (unix:PATH, tcp:HOST:PORT) instead of a local engine")
	flag.Parse()
	if flag.NArg() != 2 || cfg.n < 1 || cfg.warmup < 0 {
		fmt.Fprintln(os.Stderr, "usage: portcullis-bench [flags] POLICY.json ACTIONS.json")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if err := bench(cfg, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "portcullis-bench:", err)
		os.Exit(1)
	}
}

func bench(cfg config, policyPath, actionsPath string) error {
	policy, err := os.ReadFile(policyPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(actionsPath)
	if err != nil {
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%s: %w", actionsPath, err)
	}
	if len(raw) == 0 {
		return fmt.Errorf("%s: no actions", actionsPath)
	}
	actions := make([]portcullis.Action, len(raw))
	texts := make([][]byte, len(raw))
	for i, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if err := dec.Decode(&actions[i]); err != nil {
			return fmt.Errorf("%s: action %d: %w", actionsPath, i, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, r); err != nil {
			return fmt.Errorf("%s: action %d: %w", actionsPath, i, err)
		}
		texts[i] = compact.Bytes()
	}
	if cfg.remote != "" {
		return benchRemote(cfg, actions, texts)
	}
	failedStruct, err := run(cfg, policy, "struct", func(e *portcullis.Engine, i int) portcullis.Decision {
		return e.Evaluate(actions[i%len(actions)])
	})
	if err != nil {
		return err
	}
	failedJSON, err := run(cfg, policy, "json", func(e *portcullis.Engine, i int) portcullis.Decision {
		return e.EvaluateJSON(texts[i%len(texts)])
	})
	if err != nil {
		return err
	}
	if failed := failedStruct + failedJSON; failed > 0 {
		return fmt.Errorf("%d evaluations failed", failed)
	}
	return nil
}

// benchRemote times round trips to a running server (its own clock and
// policy; POLICY.json is not sent): NAME-remote-struct and NAME-remote-json.
// Unavailable decisions count as failed.
func benchRemote(cfg config, actions []portcullis.Action, texts [][]byte) error {
	r, err := portcullis.NewRemote(cfg.remote, portcullis.RemoteOptions{Timeout: 2 * time.Second, BreakerFailures: -1})
	if err != nil {
		return err
	}
	defer r.Close()
	none := func(int) error { return nil }
	count := func(d portcullis.Decision) portcullis.Decision {
		if d.Code == portcullis.CodeUnavailable {
			d.Code = portcullis.CodeEngineError
		}
		return d
	}
	failedStruct, err := measure(cfg, "remote-struct", func(i int) portcullis.Decision {
		return count(r.Evaluate(actions[i%len(actions)]))
	}, none)
	if err != nil {
		return err
	}
	failedJSON, err := measure(cfg, "remote-json", func(i int) portcullis.Decision {
		return count(r.EvaluateJSON(texts[i%len(texts)]))
	}, none)
	if err != nil {
		return err
	}
	if failed := failedStruct + failedJSON; failed > 0 {
		return fmt.Errorf("%d evaluations failed", failed)
	}
	return nil
}
