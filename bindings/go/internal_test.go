package portcullis

import (
	"errors"
	"testing"
	"time"
)

func TestHeaderMatchesPackageABI(t *testing.T) {
	if headerABIMajor != abiMajor || headerABIMinor < abiMinor {
		t.Fatalf("include/portcullis.h declares ABI %d.%d, the package is written for %d.%d",
			headerABIMajor, headerABIMinor, abiMajor, abiMinor)
	}
	if err := checkABI(); err != nil {
		t.Fatal(err)
	}
}

// Close waits for calls in flight. A call in flight holds e.mu for reading
// for as long as it uses the handle; the test holds it the same way.
func TestCloseWaitsForCallsInFlight(t *testing.T) {
	e, err := New([]byte(`{"portcullis": 1, "name": "p"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.mu.RLock() // a call in flight
	done := make(chan struct{})
	go func() {
		e.Close()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Close returned while a call was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	if e.handle == nil {
		t.Fatal("handle freed while a call was in flight")
	}
	e.mu.RUnlock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the call finished")
	}
	if e.handle != nil {
		t.Fatal("handle not released by Close")
	}
}

func TestDecodeDecisionFailsClosedOnMalformedInput(t *testing.T) {
	good := `{"effect":"deny","allowed":false,"code":"rule","rule":"r","reason":"x","matched":["r"],"shadow":[],` +
		`"params":null,"retry_after_ms":null,"action_hash":"sha256:00","policy":{"name":"p","version":null},"eval_ns":1}`
	if _, err := decodeDecision([]byte(good)); err != nil {
		t.Fatalf("well-formed decision refused: %v", err)
	}
	for _, bad := range []string{
		``,
		`{"effect":"deny","allowed":true,"code":"rule"}`,
		`{"effect":"allow","allowed":false,"code":"rule"}`,
		`{"effect":"maybe","allowed":false,"code":"rule"}`,
		`{"effect":"allow","allowed":true,"code":"whatever"}`,
		`{"effect":"allow","allowed":true,"code":"rule","params":[1]}`,
		`{"effect":"allow","allowed":true,"code":"rule","params":"x"}`,
	} {
		if _, err := decodeDecision([]byte(bad)); !errors.Is(err, ErrEngine) {
			t.Errorf("%s: got %v, want ErrEngine", bad, err)
		}
	}
}

func TestValidNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.5": true, "-1.5e10": true, "1E+2": true, "1e-2": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "+1": false,
		"NaN": false, "1,2": false, "0x10": false, " 1": false,
	} {
		if got := validNumber(s); got != want {
			t.Errorf("validNumber(%q) = %t, want %t", s, got, want)
		}
	}
}

func TestRawDepth(t *testing.T) {
	for s, want := range map[string]int{
		`1`: 0, `{}`: 1, `[[]]`: 2, `{"a":[{"b":"]]]{{"}]}`: 3, `"{\"["`: 0, `[{"\\":"["}]`: 2,
	} {
		if got := rawDepth([]byte(s)); got != want {
			t.Errorf("rawDepth(%s) = %d, want %d", s, got, want)
		}
	}
}
