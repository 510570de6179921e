package portcullis_test

import (
	"sort"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

// benchAction is a typical tool call: a few params, one nested object.
var benchAction = portcullis.Action{
	Tool:    "fs.read",
	Agent:   portcullis.Agent{ID: "agent-001"},
	Params:  map[string]any{"path": "/data/reports/q3.csv", "encoding": "utf-8", "options": map[string]any{"limit": 100}},
	Context: map[string]any{"session": "s-42", "tenant": "acme"},
}

var benchActionJSON = []byte(`{"tool":"fs.read","agent":{"id":"agent-001"},` +
	`"params":{"path":"/data/reports/q3.csv","encoding":"utf-8","options":{"limit":100}},` +
	`"context":{"session":"s-42","tenant":"acme"}}`)

func benchEngine(b *testing.B) *portcullis.Engine {
	e := newEngine(b)
	if d := e.Evaluate(benchAction); !d.Allowed {
		b.Fatalf("benchmark action not allowed: %+v", d)
	}
	return e
}

func BenchmarkEvaluate(b *testing.B) {
	e := benchEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		if d := e.Evaluate(benchAction); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkEvaluateJSON(b *testing.B) {
	e := benchEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		if d := e.EvaluateJSON(benchActionJSON); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkEvaluateParallel(b *testing.B) {
	e := benchEngine(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d := e.Evaluate(benchAction); !d.Allowed {
				b.Error(d.Reason)
				return
			}
		}
	})
}

// BenchmarkEvaluateLatency reports the p50 and p99 of single Evaluate calls.
func BenchmarkEvaluateLatency(b *testing.B) {
	e := benchEngine(b)
	samples := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		d := e.Evaluate(benchAction)
		elapsed := time.Since(t0)
		if !d.Allowed {
			b.Fatal(d.Reason)
		}
		if len(samples) < cap(samples) {
			samples = append(samples, elapsed)
		}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	if len(samples) > 0 {
		b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
	}
}

// BenchmarkNewClose measures compiling the test policy and freeing it.
func BenchmarkNewClose(b *testing.B) {
	policy := []byte(testPolicy)
	b.ReportAllocs()
	for b.Loop() {
		e, err := portcullis.New(policy)
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}
