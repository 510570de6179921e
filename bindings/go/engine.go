package portcullis

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Engine evaluates actions against one policy. It is safe for concurrent use
// by many goroutines; a policy update is atomic for evaluations in flight.
//
// An Engine owns native memory. Call Close when done; a cleanup attached to
// the Engine frees the memory if it becomes unreachable without Close, but
// only at the garbage collector's convenience.
type Engine struct {
	// mu is held for reading by every call that uses handle, and for writing
	// by Close, so Close waits for calls in flight and no call ever sees a
	// freed handle.
	mu      sync.RWMutex
	handle  handle // nil once closed
	cleanup runtime.Cleanup
	// lastPolicy is the policy name and version of the latest decision, whose
	// strings the next decisions of the same policy reuse.
	lastPolicy atomic.Pointer[PolicyInfo]
	// ruleIDs maps the address of each rule id the engine reported (it
	// interns them until it is freed) to its string.
	ruleIDs sync.Map
	// reasons keeps the reasons of recent decisions.
	reasons textCache
}

// Option configures an Engine in New.
type Option func(*options)

type options struct {
	native nativeOptions
	err    error
}

// WithManualClock gives the engine a manual clock that starts at start and
// moves only through SetTime. Time windows, rate limits and approval expiry
// read this clock; use it for tests and simulations. The time is kept in
// whole milliseconds (sub-millisecond parts are truncated).
func WithManualClock(start time.Time) Option {
	return func(o *options) {
		o.native.manual = true
		o.native.startMs = start.UnixMilli()
	}
}

// WithMaxKeysPerLimit sets how many distinct keys each rate_limit rule keeps
// (default 100,000). When a rule holds n keys that all still have admissions
// in their window, an action with a new key is denied with code
// rate_limited. n must be at least 1.
func WithMaxKeysPerLimit(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.err = fmt.Errorf("%w: WithMaxKeysPerLimit needs n >= 1, got %d", ErrInvalidArgument, n)
			return
		}
		o.native.maxKeys = uint64(n)
		o.native.hasMaxKeys = true
	}
}

// WithStateURL keeps the engine's rate-limit admissions and approval grants
// in a shared store instead of in the engine, so every engine (in any process)
// created with the same URL counts each limit and consumes each grant
// together: "redis://[user:password@]host[:port][/db]" or "rediss://..." for
// TLS, with the query parameters of docs/shared-state.md (timeout_ms, prefix,
// cluster, tls_ca). A malformed URL makes New fail with ErrInvalidArgument. A
// store that is down does not: decisions that need it are denied with code
// unavailable until it answers again (reconnection is automatic).
func WithStateURL(url string) Option {
	return func(o *options) {
		if strings.IndexByte(url, 0) >= 0 {
			o.err = fmt.Errorf("%w: WithStateURL: the URL contains a NUL byte", ErrInvalidArgument)
			return
		}
		o.native.stateURL = url
	}
}

// New compiles policy (a JSON policy document, see the policy language spec)
// into an Engine. A policy that does not load returns a *PolicyError naming
// the offending path. New also fails with ErrABIVersion when the linked
// native library has an incompatible C ABI major version.
func New(policy []byte, opts ...Option) (*Engine, error) {
	if err := checkABI(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return nil, o.err
	}
	h, err := newNative(policy, o.native)
	if err != nil {
		return nil, err
	}
	e := &Engine{handle: h}
	// The cleanup gets the handle, not e, so it does not keep e reachable.
	e.cleanup = runtime.AddCleanup(e, freeNative, h)
	return e, nil
}

// Close frees the engine's native memory. It waits for calls in flight on
// other goroutines to finish; calls that start after Close fail closed:
// Evaluate and EvaluateJSON return a deny with code engine_error, the other
// methods return ErrClosed. Close is idempotent and always returns nil.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.handle == nil {
		return nil
	}
	e.cleanup.Stop()
	freeNative(e.handle)
	e.handle = nil
	return nil
}

// UpdatePolicy replaces the policy atomically. Evaluations in flight finish
// on the policy they started with. On error (a *PolicyError) the current
// policy stays in place. Rate-limit counters of unchanged limit rules and
// approval grants survive the update.
func (e *Engine) UpdatePolicy(policy []byte) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return ErrClosed
	}
	return e.nativeUpdatePolicy(policy)
}

// Evaluate decides a. It never panics and never returns an error: an action
// the engine cannot accept (missing tool or agent id, a value that cannot be
// encoded as JSON such as NaN or a channel, invalid UTF-8, nesting deeper
// than 64 levels) gets a deny with code invalid_action and a reason saying
// why. On a closed engine, or if the native engine fails, the decision is a
// deny with code engine_error (fail closed).
func (e *Engine) Evaluate(a Action) Decision {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	buf.b, err = appendAction(buf.b[:0], &a)
	if err != nil {
		return e.invalidAction(err)
	}
	return e.EvaluateJSON(buf.b)
}

// EvaluateJSON decides an action given as JSON text. Text that is not a
// valid action (not JSON, duplicate keys, wrong types, over 1 MiB, ...) gets
// a deny with code invalid_action. On a closed engine, or if the native
// engine fails, the decision is a deny with code engine_error.
func (e *Engine) EvaluateJSON(action []byte) Decision {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return engineErrorDecision(ErrClosed.Error())
	}
	d, err := e.nativeEvaluateDetails(action)
	if err != nil {
		return engineErrorDecision(err.Error())
	}
	return d
}

// EvaluateVerdict decides a like Evaluate but returns only the verdict:
// effect, code, deciding rule, retry delay and counts, without the reason,
// rule lists, rewritten params and action hash of a Decision. It is the
// fastest way to decide (the engine computes no action hash and copies no
// texts), for hosts that act on the effect alone. The decision is the same,
// and counts the same: it consumes rate limits and approval uses, and is
// audited, like Evaluate. Evaluate each action once, with the method whose
// output you need; a host that must show why an action was stopped or run it
// with rewritten params (ParamsModified) needs Evaluate.
//
// An action the engine cannot accept gets a deny with code invalid_action;
// on a closed engine, or if the native engine fails, a deny with code
// engine_error.
func (e *Engine) EvaluateVerdict(a Action) Verdict {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	buf.b, err = appendAction(buf.b[:0], &a)
	if err != nil {
		// Judged as an action that is not an object: the engine denies it as
		// invalid (and audits the deny), as Evaluate does.
		return e.EvaluateVerdictJSON(notAnAction)
	}
	return e.EvaluateVerdictJSON(buf.b)
}

// EvaluateVerdictJSON is EvaluateVerdict for an action given as JSON text.
func (e *Engine) EvaluateVerdictJSON(action []byte) Verdict {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return deniedVerdict(CodeEngineError)
	}
	v, err := e.nativeEvaluate(action)
	if err != nil {
		return deniedVerdict(CodeEngineError)
	}
	return v
}

// ExplainJSON explains the decision for an action given as JSON text and
// returns the explanation as JSON text: the rules the index offered and
// skipped, each rule's match and conditions with the values read, the
// combining steps, and the decision EvaluateJSON would return now (see
// docs/cli/explain.md). It is a dry run: no rate limit is used, no approval
// consumed, no audit record written.
func (e *Engine) ExplainJSON(action []byte) (string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return "", ErrClosed
	}
	return e.nativeExplain(action)
}

// invalidAction returns the engine's own invalid_action decision (with the
// current policy's name and version) with a reason naming the Go-side cause.
func (e *Engine) invalidAction(cause error) Decision {
	d := e.EvaluateJSON(notAnAction)
	if d.Code == CodeInvalidAction {
		d.Reason = cause.Error()
	}
	return d
}

// notAnAction is text the engine always rejects as an action.
var notAnAction = []byte("null")

// Approve grants an approval for the exact action a (its tool, agent id,
// kind, target and params; not context or timestamp) and returns its hash,
// "sha256:<hex>". An action whose outcome would be require_approval and that
// a grant covers is allowed (code approved) while the engine clock reads
// less than the grant time plus ttl and the grant has uses left; each
// allowed action consumes one use. ttl is truncated to whole milliseconds
// and must be at least 1ms; uses must be between 1 and 2^32-1. Errors wrap
// ErrInvalidArgument, ErrInvalidAction or ErrClosed.
func (e *Engine) Approve(a Action, ttl time.Duration, uses int) (string, error) {
	return withActionJSON(&a, func(action []byte) (string, error) { return e.ApproveJSON(action, ttl, uses) })
}

// withActionJSON calls f with a's JSON text (valid only during the call), or
// returns an ErrInvalidAction error when a cannot be encoded.
func withActionJSON(a *Action, f func([]byte) (string, error)) (string, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	buf.b, err = appendAction(buf.b[:0], a)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalidAction, err)
	}
	return f(buf.b)
}

// ApproveJSON is Approve for an action given as JSON text.
func (e *Engine) ApproveJSON(action []byte, ttl time.Duration, uses int) (string, error) {
	ttlMs, nUses, err := grantArgs(ttl, uses)
	if err != nil {
		return "", err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return "", ErrClosed
	}
	return e.nativeApproveAction(action, ttlMs, nUses)
}

// ApproveHash grants an approval for the action whose hash (as in
// Decision.ActionHash: "sha256:" and 64 lowercase hex digits) is given. The
// ttl and uses rules are those of Approve.
func (e *Engine) ApproveHash(hash string, ttl time.Duration, uses int) error {
	ttlMs, nUses, err := grantArgs(ttl, uses)
	if err != nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return ErrClosed
	}
	return e.nativeApproveHash(hash, ttlMs, nUses)
}

// grantArgs converts ttl and uses for the ABI. Values the ABI cannot carry
// are refused here; 0 (and a ttl under 1ms) is passed on for the engine to
// refuse, so the error text is the same in every binding.
func grantArgs(ttl time.Duration, uses int) (uint64, uint32, error) {
	if ttl < 0 {
		return 0, 0, fmt.Errorf("%w: ttl must be at least 1ms, got %s", ErrInvalidArgument, ttl)
	}
	if uses < 0 || uint64(uses) > math.MaxUint32 {
		return 0, 0, fmt.Errorf("%w: uses must be between 1 and %d, got %d", ErrInvalidArgument, uint32(math.MaxUint32), uses)
	}
	return uint64(ttl.Milliseconds()), uint32(uses), nil
}

// SetTime sets the manual clock (in whole milliseconds). It returns
// ErrSystemClock on an engine that reads the system clock.
func (e *Engine) SetTime(t time.Time) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return ErrClosed
	}
	return e.nativeSetTime(t.UnixMilli())
}

// Now returns the engine's clock: the manual time, or the system time.
func (e *Engine) Now() (time.Time, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return time.Time{}, ErrClosed
	}
	ms, err := e.nativeNow()
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}
