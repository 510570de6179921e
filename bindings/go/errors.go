package portcullis

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is. Errors that carry details wrap one of
// these.
var (
	// ErrClosed is returned by calls on an Engine after Close.
	ErrClosed = errors.New("portcullis: engine is closed")
	// ErrSystemClock is returned by SetTime on an engine that reads the
	// system clock (created without WithManualClock).
	ErrSystemClock = errors.New("portcullis: the engine reads the system clock; create it WithManualClock to set the time")
	// ErrInvalidArgument wraps errors about a bad ttl, uses count, approval
	// hash or option.
	ErrInvalidArgument = errors.New("portcullis: invalid argument")
	// ErrInvalidAction wraps errors about an action given to Approve or
	// ApproveJSON that is not a valid action.
	ErrInvalidAction = errors.New("portcullis: invalid action")
	// ErrABIVersion is returned by New when the linked native library has an
	// incompatible C ABI.
	ErrABIVersion = errors.New("portcullis: incompatible native library")
	// ErrEngine wraps unexpected failures of the native engine.
	ErrEngine = errors.New("portcullis: engine failure")
	// ErrAudit matches every *AuditError: an audit trail that cannot be
	// opened (New) or written (FlushAudit).
	ErrAudit = errors.New("portcullis: audit trail failure")
	// ErrUnavailable: something the call needed did not answer in time. A
	// RemoteEngine could not reach its server, or the server could not answer
	// (a request that is not a decision failed); or an engine created
	// WithStateURL could not reach its shared store to record an approval
	// (Approve, ApproveJSON, ApproveHash: nothing was granted, retry later).
	ErrUnavailable = errors.New("portcullis: unavailable")
)

// AuditError reports an audit trail that cannot be opened (New with
// WithAudit) or written (FlushAudit). Message names the file and the
// operating system's error. errors.Is(err, ErrAudit) is true for it.
type AuditError struct {
	Message string
}

func (e *AuditError) Error() string {
	return "portcullis: " + e.Message
}

// Unwrap makes errors.Is(err, ErrAudit) true.
func (e *AuditError) Unwrap() error {
	return ErrAudit
}

// PolicyError reports a policy document that does not load. Path names the
// offending value in dotted form with bracketed indexes
// ("rules[3].when.all[1].matches"); it is empty for the document root.
type PolicyError struct {
	Path    string
	Message string
}

func (e *PolicyError) Error() string {
	if e.Path == "" {
		return "portcullis: invalid policy: " + e.Message
	}
	return "portcullis: invalid policy at " + e.Path + ": " + e.Message
}

// DeniedError reports a tool call that the policy did not let run: denied,
// or waiting for an approval. The middleware packages return it (or its
// message) in place of the tool's result.
type DeniedError struct {
	Tool     string
	Decision Decision
}

func (e *DeniedError) Error() string {
	d := e.Decision
	rule := ""
	if d.Rule != nil {
		rule = ", rule " + *d.Rule
	}
	if d.Effect == EffectRequireApproval {
		hash := ""
		if d.ActionHash != nil {
			hash = ", action " + *d.ActionHash
		}
		return fmt.Sprintf("portcullis: call to tool %q needs approval (%s%s%s): %s", e.Tool, d.Code, rule, hash, d.Reason)
	}
	return fmt.Sprintf("portcullis: call to tool %q denied (%s%s): %s", e.Tool, d.Code, rule, d.Reason)
}
