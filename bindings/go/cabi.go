package portcullis

// This file is the only one that talks to the C ABI. Every call follows the
// same rules:
//   - Go memory passed to C holds no Go pointers and is only borrowed for the
//     duration of the call (the ABI copies what it keeps);
//   - memory returned by C (portcullis_buffer, portcullis_error) is copied into Go values and
//     freed before the function returns;
//   - runtime.KeepAlive(e) follows each call on an engine handle, so the
//     cleanup attached to the Engine cannot free the handle mid-call.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdlib.h>
#include "portcullis.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// abiMajor and abiMinor are the C ABI version this package was written for
// (2.0 is the first under the name portcullis). New refuses a native library with another
// major version or an older minor version.
const (
	abiMajor = 2
	abiMinor = 2
)

// headerABIMajor and headerABIMinor are the version of the header the
// package was compiled against; a test keeps them in step with abiMajor and
// abiMinor.
const (
	headerABIMajor = C.PORTCULLIS_ABI_VERSION_MAJOR
	headerABIMinor = C.PORTCULLIS_ABI_VERSION_MINOR
)

// The ABI's audit constants, for audit.go.
const (
	abiAuditFile     = C.PORTCULLIS_AUDIT_FILE
	abiAuditMemory   = C.PORTCULLIS_AUDIT_MEMORY
	abiOverflowBlock = C.PORTCULLIS_OVERFLOW_BLOCK
	abiOverflowDrop  = C.PORTCULLIS_OVERFLOW_DROP
)

// handle is an owned native engine; freed exactly once, by Close or by the
// cleanup attached in New.
type handle = *C.portcullis_engine

// zero backs the pointer passed for an empty byte slice: the ABI rejects a
// NULL pointer even when the length is 0.
var zero [1]byte

func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&zero[0]))
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

func stringPtr(s string) *C.uint8_t {
	if len(s) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&zero[0]))
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s)))
}

// nativeABIVersion returns the (major, minor) version reported by the linked
// library.
func nativeABIVersion() (uint32, uint32) {
	v := uint32(C.portcullis_abi_version())
	return v >> 16, v & 0xffff
}

// NativeVersion returns the version of the linked portcullis native library.
func NativeVersion() string {
	return C.GoString(C.portcullis_version())
}

func checkABI() error {
	major, minor := nativeABIVersion()
	if major != abiMajor || minor < abiMinor {
		return fmt.Errorf("%w: the linked library speaks C ABI %d.%d, this package needs %d.%d or a later %d.x",
			ErrABIVersion, major, minor, abiMajor, abiMinor, abiMajor)
	}
	return nil
}

func statusName(st C.portcullis_status) string {
	return C.GoString(C.portcullis_status_name(st))
}

// takeError converts an owned portcullis_error (or a bare status when err is NULL)
// into a Go error, and frees it.
func takeError(st C.portcullis_status, cerr *C.portcullis_error, policy bool) error {
	if cerr != nil {
		defer C.portcullis_error_free(cerr)
		st = C.portcullis_error_status(cerr)
	}
	message := statusName(st)
	path := ""
	if cerr != nil {
		message = C.GoString(C.portcullis_error_message(cerr))
		path = C.GoString(C.portcullis_error_path(cerr))
	}
	switch st {
	case C.PORTCULLIS_ERR_POLICY:
		return &PolicyError{Path: path, Message: message}
	case C.PORTCULLIS_ERR_INVALID_UTF8:
		if policy {
			return &PolicyError{Path: path, Message: message}
		}
		return fmt.Errorf("%w: %s", ErrInvalidArgument, message)
	case C.PORTCULLIS_ERR_INVALID_ARGUMENT:
		return fmt.Errorf("%w: %s", ErrInvalidArgument, message)
	case C.PORTCULLIS_ERR_INVALID_ACTION:
		return fmt.Errorf("%w: %s", ErrInvalidAction, message)
	case C.PORTCULLIS_ERR_CLOCK:
		return ErrSystemClock
	case C.PORTCULLIS_ERR_AUDIT:
		return &AuditError{Message: message}
	case C.PORTCULLIS_ERR_UNAVAILABLE:
		return fmt.Errorf("%w: %s", ErrUnavailable, message)
	default:
		return fmt.Errorf("%w: %s (%s)", ErrEngine, message, statusName(st))
	}
}

// takeBuffer copies an owned portcullis_buffer into Go memory and frees it.
func takeBuffer(buf *C.portcullis_buffer) []byte {
	defer C.portcullis_buffer_free(buf)
	return C.GoBytes(unsafe.Pointer(C.portcullis_buffer_data(buf)), C.int(C.portcullis_buffer_len(buf)))
}

type nativeOptions struct {
	manual     bool
	startMs    int64
	maxKeys    uint64
	hasMaxKeys bool
	audit      *nativeAudit // nil: no audit trail
	stateURL   string       // "": limits and grants in this engine
}

// newNative creates a native engine handle.
func newNative(policy []byte, o nativeOptions) (handle, error) {
	var copts C.portcullis_engine_options
	C.portcullis_engine_options_default(&copts)
	if o.manual {
		copts.clock = C.PORTCULLIS_CLOCK_MANUAL
		copts.manual_start_ms = C.int64_t(o.startMs)
	}
	if o.hasMaxKeys {
		copts.max_keys_per_limit = C.uint64_t(o.maxKeys)
	}
	if o.stateURL != "" {
		// The ABI reads the URL only during the call.
		url := C.CString(o.stateURL)
		defer C.free(unsafe.Pointer(url))
		copts.state_url = url
	}
	var handle *C.portcullis_engine
	var cerr *C.portcullis_error
	var st C.portcullis_status
	if o.audit == nil {
		st = C.portcullis_engine_new(bytesPtr(policy), C.size_t(len(policy)), &copts, &handle, &cerr)
	} else {
		var caudit C.portcullis_audit_options
		C.portcullis_audit_options_default(&caudit)
		caudit.sink = C.uint32_t(o.audit.sink)
		if o.audit.path != "" {
			// The ABI reads the path only during the call.
			path := C.CString(o.audit.path)
			defer C.free(unsafe.Pointer(path))
			caudit.path = path
		}
		caudit.max_bytes = C.uint64_t(o.audit.maxBytes)
		caudit.flush_interval_ms = C.uint64_t(o.audit.flushIntervalMs)
		caudit.queue_capacity = C.uint64_t(o.audit.queueCapacity)
		caudit.overflow = C.uint32_t(o.audit.overflow)
		if o.audit.fsync {
			caudit.fsync = 1
		}
		st = C.portcullis_engine_new_audited(bytesPtr(policy), C.size_t(len(policy)), &copts, &caudit, &handle, &cerr)
	}
	runtime.KeepAlive(policy)
	if st != C.PORTCULLIS_OK {
		return nil, takeError(st, cerr, true)
	}
	return handle, nil
}

func freeNative(h handle) {
	C.portcullis_engine_free(h)
}

// The methods below are called with e.mu held (read or write) and e.handle
// non-nil.

func (e *Engine) nativeUpdatePolicy(policy []byte) error {
	var cerr *C.portcullis_error
	st := C.portcullis_engine_update_policy(e.handle, bytesPtr(policy), C.size_t(len(policy)), &cerr)
	runtime.KeepAlive(policy)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		return takeError(st, cerr, true)
	}
	return nil
}

// nativeEvaluateJSON evaluates action text and decodes the decision straight
// from the engine's buffer, which is freed before returning.
func (e *Engine) nativeEvaluateJSON(action []byte) (Decision, error) {
	var buf *C.portcullis_buffer
	st := C.portcullis_engine_evaluate_json(e.handle, bytesPtr(action), C.size_t(len(action)), &buf)
	runtime.KeepAlive(action)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		C.portcullis_buffer_free(buf)
		return Decision{}, fmt.Errorf("%w: evaluate returned %s", ErrEngine, statusName(st))
	}
	defer C.portcullis_buffer_free(buf)
	data := unsafe.Slice((*byte)(unsafe.Pointer(C.portcullis_buffer_data(buf))), int(C.portcullis_buffer_len(buf)))
	// decodeDecision copies everything it keeps out of data.
	return decodeDecision(data)
}

// nativeEvaluate evaluates action text through the plain-struct hot path:
// the verdict only (no reason, lists, params or action hash).
func (e *Engine) nativeEvaluate(action []byte) (Verdict, error) {
	var d C.portcullis_decision
	st := C.portcullis_engine_evaluate(e.handle, bytesPtr(action), C.size_t(len(action)), &d)
	runtime.KeepAlive(action)
	if st != C.PORTCULLIS_OK {
		runtime.KeepAlive(e)
		return Verdict{}, fmt.Errorf("%w: evaluate returned %s", ErrEngine, statusName(st))
	}
	// d.rule points into the engine, which e keeps alive until the copy is made.
	v, err := e.verdictOf(&d)
	runtime.KeepAlive(e)
	return v, err
}

// nativeEvaluateDetails evaluates action text and copies the whole decision
// out of the ABI's plain struct (no JSON is built or parsed, except the
// rewritten params when there are any); the native storage is freed before
// returning.
func (e *Engine) nativeEvaluateDetails(action []byte) (Decision, error) {
	// The struct is pooled: passed to C, it would otherwise escape to the heap
	// on every call.
	d := detailsPool.Get().(*C.portcullis_decision_details)
	defer detailsPool.Put(d)
	st := C.portcullis_engine_evaluate_details(e.handle, bytesPtr(action), C.size_t(len(action)), d)
	runtime.KeepAlive(action)
	if st != C.PORTCULLIS_OK {
		runtime.KeepAlive(e)
		C.portcullis_decision_details_free(d)
		return Decision{}, fmt.Errorf("%w: evaluate returned %s", ErrEngine, statusName(st))
	}
	dec, err := e.decisionOf(d)
	// Also resets every pointer in d to NULL before it goes back to the pool.
	C.portcullis_decision_details_free(d)
	runtime.KeepAlive(e)
	return dec, err
}

var detailsPool = sync.Pool{New: func() any { return new(C.portcullis_decision_details) }}

// abiEffects and abiCodes map the ABI's numbers to the package's names.
var (
	abiEffects     = [...]Effect{EffectAllow, EffectDeny, EffectRequireApproval}
	abiRuleEffects = [...]Effect{EffectAllow, EffectDeny, EffectRequireApproval, "rate_limit"}
	abiCodes       = [...]Code{CodeRule, CodeDefault, CodeApproved, CodeRateLimited, CodeApprovalRequired,
		CodeUnknownAgent, CodeInvalidAction, CodeEngineError, CodeUnavailable}
)

// view is the bytes of a lent string, valid only while its owner is; nil
// when absent.
func view(s C.portcullis_str) []byte {
	if s.ptr == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(s.ptr)), int(s.len))
}

// optString copies a lent string; nil when absent.
func optString(s C.portcullis_str) *string {
	if s.ptr == nil {
		return nil
	}
	v := string(view(s))
	return &v
}

// verdictOf copies a portcullis_decision, refusing values this package does
// not know (fail closed).
func (e *Engine) verdictOf(d *C.portcullis_decision) (Verdict, error) {
	if int(d.effect) >= len(abiEffects) || int(d.code) >= len(abiCodes) || (d.allowed == 1) != (d.effect == C.PORTCULLIS_EFFECT_ALLOW) {
		return Verdict{}, fmt.Errorf("%w: inconsistent decision from the engine (effect %d, allowed %d, code %d)",
			ErrEngine, d.effect, d.allowed, d.code)
	}
	v := Verdict{
		Effect:         abiEffects[d.effect],
		Allowed:        d.allowed == 1,
		Code:           abiCodes[d.code],
		ParamsModified: d.params_modified == 1,
		MatchedCount:   int(d.matched_count),
		ShadowCount:    int(d.shadow_count),
		EvalNs:         uint64(d.eval_ns),
	}
	if d.has_rule == 1 {
		v.Rule = e.ruleID(d.rule, d.rule_len)
	}
	if d.has_retry_after == 1 {
		ms := uint64(d.retry_after_ms)
		v.RetryAfterMs = &ms
	}
	return v, nil
}

// decisionOf copies the details into a Decision.
func (e *Engine) decisionOf(d *C.portcullis_decision_details) (Decision, error) {
	v, err := e.verdictOf(&d.verdict)
	if err != nil {
		return Decision{}, err
	}
	dec := Decision{
		Effect:       v.Effect,
		Allowed:      v.Allowed,
		Code:         v.Code,
		Reason:       e.reasons.text(d.reason),
		Matched:      []string{},
		Shadow:       []ShadowHit{},
		RetryAfterMs: v.RetryAfterMs,
		ActionHash:   actionHash(d.action_hash),
		Policy:       e.policyInfo(view(d.policy_name), d.policy_version),
		EvalNs:       v.EvalNs,
	}
	if d.verdict.has_rule == 1 {
		rule := e.ruleID(d.verdict.rule, d.verdict.rule_len)
		dec.Rule = &rule
	}
	if n := int(d.verdict.matched_count); n > 0 && d.matched != nil {
		dec.Matched = make([]string, n)
		for i, m := range unsafe.Slice(d.matched, n) {
			dec.Matched[i] = e.ruleID(m.ptr, m.len)
		}
	}
	if n := int(d.verdict.shadow_count); n > 0 && d.shadow != nil {
		dec.Shadow = make([]ShadowHit, n)
		for i, hit := range unsafe.Slice(d.shadow, n) {
			if int(hit.effect) >= len(abiRuleEffects) {
				return Decision{}, fmt.Errorf("%w: unknown shadow rule effect %d from the engine", ErrEngine, hit.effect)
			}
			dec.Shadow[i] = ShadowHit{Rule: e.ruleID(hit.rule.ptr, hit.rule.len), Effect: abiRuleEffects[hit.effect]}
		}
	}
	if raw := view(d.params_json); raw != nil {
		dec.RawParams = append(json.RawMessage(nil), raw...)
		// Into a local: &dec.Params would move every Decision to the heap.
		var params map[string]any
		if err := json.Unmarshal(dec.RawParams, &params); err != nil || params == nil {
			return Decision{}, fmt.Errorf("%w: malformed params from the engine: %s", ErrEngine, raw)
		}
		dec.Params = params
	}
	return dec, nil
}

// ruleID returns the rule id at ptr. The engine interns rule ids: one id has
// one address until the engine is freed, so the string is made once per id
// and looked up by address afterwards.
func (e *Engine) ruleID(ptr *C.uint8_t, n C.size_t) string {
	key := unsafe.Pointer(ptr)
	if id, ok := e.ruleIDs.Load(key); ok {
		return id.(string)
	}
	id := string(unsafe.Slice((*byte)(key), int(n)))
	e.ruleIDs.Store(key, id)
	return id
}

// textCache keeps recent texts (decision reasons, which mostly repeat: a
// rule's reason) so that a decision reuses an equal string instead of
// copying it. Slots are chosen by the text's address and checked by content,
// so a freed and reused address can only cost a miss.
type textCache [64]atomic.Pointer[string]

func (c *textCache) text(s C.portcullis_str) string {
	b := view(s)
	slot := &c[(uintptr(unsafe.Pointer(s.ptr))>>4)%uintptr(len(c))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	v := string(b)
	slot.Store(&v)
	return v
}

// hashBox holds an action hash ("sha256:" and 64 hex digits) and the string
// that points at it, so that Decision.ActionHash costs one allocation.
type hashBox struct {
	text  string
	bytes [71]byte
}

// actionHash copies a lent action hash; nil when absent.
func actionHash(s C.portcullis_str) *string {
	b := view(s)
	if b == nil {
		return nil
	}
	if len(b) != len(hashBox{}.bytes) {
		return optString(s)
	}
	box := new(hashBox)
	copy(box.bytes[:], b)
	// box.bytes is never written again, so the string is immutable.
	box.text = unsafe.String(&box.bytes[0], len(box.bytes))
	return &box.text
}

// policyInfo returns the policy name and version, reusing the strings of the
// previous decision while the policy is the same (the usual case), so that
// a decision does not copy them each time.
func (e *Engine) policyInfo(name []byte, version C.portcullis_str) PolicyInfo {
	last := e.lastPolicy.Load()
	ver := view(version)
	if last != nil && last.Name == string(name) && (last.Version == nil) == (ver == nil) &&
		(ver == nil || *last.Version == string(ver)) {
		p := PolicyInfo{Name: last.Name}
		if last.Version != nil {
			v := *last.Version // a pointer of its own, to the shared string
			p.Version = &v
		}
		return p
	}
	p := PolicyInfo{Name: string(name), Version: optString(version)}
	e.lastPolicy.Store(&PolicyInfo{Name: p.Name, Version: optString(version)})
	return p
}

// nativeExplain returns the explanation JSON text (copied out of the buffer).
func (e *Engine) nativeExplain(action []byte) (string, error) {
	var buf *C.portcullis_buffer
	st := C.portcullis_engine_explain(e.handle, bytesPtr(action), C.size_t(len(action)), &buf)
	runtime.KeepAlive(action)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		C.portcullis_buffer_free(buf)
		return "", fmt.Errorf("%w: explain returned %s", ErrEngine, statusName(st))
	}
	if buf == nil {
		return "", fmt.Errorf("%w: explain returned no buffer", ErrEngine)
	}
	return string(takeBuffer(buf)), nil
}

func (e *Engine) nativeApproveAction(action []byte, ttlMs uint64, uses uint32) (string, error) {
	var hash *C.portcullis_buffer
	var cerr *C.portcullis_error
	st := C.portcullis_engine_approve_action(e.handle, bytesPtr(action), C.size_t(len(action)),
		C.uint64_t(ttlMs), C.uint32_t(uses), &hash, &cerr)
	runtime.KeepAlive(action)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		C.portcullis_buffer_free(hash)
		return "", takeError(st, cerr, false)
	}
	if hash == nil {
		return "", fmt.Errorf("%w: approve returned no hash", ErrEngine)
	}
	return string(takeBuffer(hash)), nil
}

func (e *Engine) nativeApproveHash(hash string, ttlMs uint64, uses uint32) error {
	var cerr *C.portcullis_error
	st := C.portcullis_engine_approve_hash(e.handle, stringPtr(hash), C.size_t(len(hash)),
		C.uint64_t(ttlMs), C.uint32_t(uses), &cerr)
	runtime.KeepAlive(hash)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		return takeError(st, cerr, false)
	}
	return nil
}

func (e *Engine) nativeSetTime(unixMs int64) error {
	st := C.portcullis_engine_set_time(e.handle, C.int64_t(unixMs))
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		return takeError(st, nil, false)
	}
	return nil
}

func (e *Engine) nativeNow() (int64, error) {
	var ms C.int64_t
	st := C.portcullis_engine_now(e.handle, &ms)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		return 0, takeError(st, nil, false)
	}
	return int64(ms), nil
}

// nativeDrainAudit copies up to max drained records (newline-terminated JSON
// lines) into Go memory and returns them with their count.
func (e *Engine) nativeDrainAudit(max int) ([]byte, int, error) {
	var buf *C.portcullis_buffer
	var count C.size_t
	st := C.portcullis_engine_drain_audit(e.handle, C.size_t(max), &buf, &count)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		C.portcullis_buffer_free(buf)
		return nil, 0, takeError(st, nil, false)
	}
	if buf == nil {
		return nil, 0, fmt.Errorf("%w: drain returned no buffer", ErrEngine)
	}
	return takeBuffer(buf), int(count), nil
}

func (e *Engine) nativeFlushAudit() error {
	var cerr *C.portcullis_error
	st := C.portcullis_engine_flush_audit(e.handle, &cerr)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		return takeError(st, cerr, false)
	}
	return nil
}

func (e *Engine) nativeAuditStats() (AuditStats, error) {
	var stats C.portcullis_audit_stats
	st := C.portcullis_engine_audit_stats(e.handle, &stats)
	runtime.KeepAlive(e)
	if st != C.PORTCULLIS_OK {
		return AuditStats{}, takeError(st, nil, false)
	}
	return AuditStats{Recorded: uint64(stats.recorded), Dropped: uint64(stats.dropped)}, nil
}
