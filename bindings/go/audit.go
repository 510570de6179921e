package portcullis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// AuditSink says where an engine's audit records go.
type AuditSink int

// The audit sinks. The zero value is not a sink: WithAudit refuses it, so a
// forgotten Sink is an error rather than an engine that records nothing.
const (
	// AuditFile appends records to the file AuditConfig.Path, written by a
	// background thread of the engine.
	AuditFile AuditSink = iota + 1
	// AuditMemory keeps records in the engine until DrainAudit takes them.
	AuditMemory
)

// Overflow says what an evaluation does when the audit queue is full.
type Overflow int

// The overflow policies.
const (
	// OverflowBlock makes the evaluation wait for room: no record is ever
	// lost (the default). With AuditMemory, evaluations stop once
	// QueueCapacity records wait and nobody drains them.
	OverflowBlock Overflow = iota
	// OverflowDrop never waits: the record is dropped and counted, and the
	// trail gets a "dropped" record with the count.
	OverflowDrop
)

// AuditConfig configures an engine's audit trail (see WithAudit).
type AuditConfig struct {
	// Sink is AuditFile or AuditMemory (required).
	Sink AuditSink
	// Path is the trail file for AuditFile: created when missing, appended
	// to otherwise (the chain continues from its last record).
	Path string
	// MaxBytes rotates the file once it holds at least this many bytes: it
	// is renamed Path.000001 (then .000002, ...) and a new file continues
	// the chain. 0 never rotates.
	MaxBytes int64
	// FlushInterval is how often, at least, written records reach the file
	// (AuditFile). 0 means the default, 200ms; it is rounded up to whole
	// milliseconds.
	FlushInterval time.Duration
	// QueueCapacity is how many records may wait before Overflow applies. 0
	// means the default, 65,536; at most 1,048,576.
	QueueCapacity int
	// Overflow is OverflowBlock (the default) or OverflowDrop.
	Overflow Overflow
	// Fsync syncs the file to the device after every batch written
	// (AuditFile).
	Fsync bool
}

// AuditStats are an engine's audit counters.
type AuditStats struct {
	// Recorded counts decision records written to the file (AuditFile) or
	// handed out by DrainAudit (AuditMemory).
	Recorded uint64
	// Dropped counts decision records dropped because the queue was full
	// (OverflowDrop).
	Dropped uint64
}

// WithAudit writes every decision the engine makes to an audit trail: one
// JSON line per decision, with seq (1, 2, ... without gaps), type, time,
// agent, kind, tool, target, effect, code, rule, reason, policy,
// action_hash, eval_ns, params (only the paths the policy lists in
// audit.include_params; nothing else of params or context is written), prev
// (the previous record's hash) and hash: a tamper-evident chain that
// `portcullis audit verify` checks.
//
// Evaluate only enqueues a record. With AuditFile, Close writes what is
// still queued; FlushAudit waits until everything so far is written. With
// AuditMemory, call DrainAudit regularly: records not drained when the
// engine is closed are lost, and with OverflowBlock a full queue makes
// evaluations wait for a drain.
//
// New returns an *AuditError (errors.Is(err, ErrAudit)) when the file cannot
// be opened, and an error wrapping ErrInvalidArgument for a bad config. A
// policy that does not load never creates or touches the file.
func WithAudit(cfg AuditConfig) Option {
	return func(o *options) {
		a, err := cfg.native()
		if err != nil {
			o.err = err
			return
		}
		o.native.audit = a
	}
}

// nativeAudit is a validated AuditConfig in the ABI's terms.
type nativeAudit struct {
	sink            uint32
	path            string
	maxBytes        uint64
	flushIntervalMs uint64
	queueCapacity   uint64
	overflow        uint32
	fsync           bool
}

func (c AuditConfig) native() (*nativeAudit, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: WithAudit: "+format, append([]any{ErrInvalidArgument}, args...)...)
	}
	a := &nativeAudit{fsync: c.Fsync}
	switch c.Sink {
	case AuditFile:
		a.sink = abiAuditFile
		switch {
		case c.Path == "":
			return nil, invalid("AuditFile needs a Path")
		case strings.IndexByte(c.Path, 0) >= 0:
			return nil, invalid("Path %q contains a NUL byte", c.Path)
		case !utf8.ValidString(c.Path):
			return nil, invalid("Path %q is not valid UTF-8", c.Path)
		}
		a.path = c.Path
	case AuditMemory:
		a.sink = abiAuditMemory
	default:
		return nil, invalid("Sink is %d; use AuditFile or AuditMemory", int(c.Sink))
	}
	switch c.Overflow {
	case OverflowBlock:
		a.overflow = abiOverflowBlock
	case OverflowDrop:
		a.overflow = abiOverflowDrop
	default:
		return nil, invalid("Overflow is %d; use OverflowBlock or OverflowDrop", int(c.Overflow))
	}
	if c.MaxBytes < 0 {
		return nil, invalid("MaxBytes must not be negative, got %d", c.MaxBytes)
	}
	a.maxBytes = uint64(c.MaxBytes)
	if c.FlushInterval < 0 {
		return nil, invalid("FlushInterval must not be negative, got %s", c.FlushInterval)
	}
	a.flushIntervalMs = uint64((c.FlushInterval + time.Millisecond - 1) / time.Millisecond)
	if c.QueueCapacity < 0 {
		return nil, invalid("QueueCapacity must not be negative, got %d", c.QueueCapacity)
	}
	// An upper bound is the engine's to refuse, so the message is the same
	// in every binding.
	a.queueCapacity = uint64(c.QueueCapacity)
	return a, nil
}

// DrainAudit takes up to max records from the trail of an engine created
// WithAudit(AuditConfig{Sink: AuditMemory}), in chain order, each a JSON
// object without the trailing newline. Records taken are gone from the
// engine: concurrent calls each get a part of the chain and never the same
// record. When records were dropped since the last call (OverflowDrop), a
// "dropped" record with the count comes first and counts toward max. An
// engine with a file sink or without a trail gives no records. max must be
// at least 1. Errors wrap ErrInvalidArgument or ErrClosed.
func (e *Engine) DrainAudit(max int) ([]json.RawMessage, error) {
	if max < 1 {
		return nil, fmt.Errorf("%w: DrainAudit needs max >= 1, got %d", ErrInvalidArgument, max)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return nil, ErrClosed
	}
	lines, count, err := e.nativeDrainAudit(max)
	if err != nil {
		return nil, err
	}
	records := make([]json.RawMessage, 0, count)
	for len(lines) > 0 {
		end := bytes.IndexByte(lines, '\n')
		if end < 0 {
			return nil, fmt.Errorf("%w: an audit record without its newline", ErrEngine)
		}
		// The full slice expression keeps an append to one record from
		// overwriting the next.
		records = append(records, json.RawMessage(lines[:end:end]))
		lines = lines[end+1:]
	}
	if len(records) != count {
		return nil, fmt.Errorf("%w: the engine reported %d audit records and sent %d", ErrEngine, count, len(records))
	}
	return records, nil
}

// FlushAudit waits until every decision made so far is written to the
// audit file and handed to the operating system (and, with Fsync, synced to
// the device). It does nothing for a memory sink or an engine without a
// trail. When the file cannot be written it returns an *AuditError
// (errors.Is(err, ErrAudit)).
func (e *Engine) FlushAudit() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return ErrClosed
	}
	return e.nativeFlushAudit()
}

// AuditStats returns the engine's audit counters (zero without a trail).
// Once every record is written (FlushAudit) or drained, Recorded + Dropped
// is the number of decisions made.
func (e *Engine) AuditStats() (AuditStats, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.handle == nil {
		return AuditStats{}, ErrClosed
	}
	return e.nativeAuditStats()
}
