package portcullis

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RemoteOptions configures a RemoteEngine. The zero value is usable: a 250 ms
// timeout, no fallback policy, and a circuit breaker that opens after 5
// consecutive failures for 500 ms.
type RemoteOptions struct {
	// Timeout bounds one call: connecting, sending and reading the whole
	// answer. Zero means 250 ms.
	Timeout time.Duration
	// Token is sent as "Authorization: Bearer <Token>" over TCP (never over a
	// Unix socket).
	Token string
	// Fallback, when not nil, decides in-process when the remote engine is
	// unavailable; its decisions are marked Fallback. The RemoteEngine does
	// not close it.
	Fallback *Engine
	// BreakerFailures is the number of consecutive failures (transport
	// errors, timeouts, 5xx answers) that open the circuit breaker. Zero
	// means 5; a negative value never opens it.
	BreakerFailures int
	// BreakerCooldown is how long an open breaker fails calls at once before
	// one caller probes GET /readyz. Zero means 500 ms.
	BreakerCooldown time.Duration
	// TLSConfig is used for https:// endpoints; nil means the system roots.
	TLSConfig *tls.Config
}

// RemoteEngine is a client of `portcullis serve` with the local Engine's
// Evaluate and Approve API. It fails closed: a call that fails (no
// connection, timeout, an error status, an answer that is not a valid
// decision) is a deny with code unavailable and a reason, or, with a
// fallback policy, the fallback engine's decision marked Fallback. A
// decision is never retried, so no action is counted twice against a rate
// limit and no grant is consumed twice. Safe for concurrent use.
type RemoteEngine struct {
	base     string
	unix     bool
	describe string
	client   *http.Client
	wire     *wirePool // plain HTTP/1.1 endpoints; nil for https
	opts     RemoteOptions

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	lastError string
	probing   atomic.Bool
}

// NewRemote returns a client of the server at endpoint: "unix:PATH",
// "tcp:HOST:PORT", "http://HOST:PORT" or "https://HOST:PORT". Nothing is
// connected until the first call.
func NewRemote(endpoint string, opts RemoteOptions) (*RemoteEngine, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 5
	}
	if opts.BreakerCooldown <= 0 {
		opts.BreakerCooldown = 500 * time.Millisecond
	}
	transport := &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     opts.TLSConfig,
		ForceAttemptHTTP2:   false,
	}
	r := &RemoteEngine{opts: opts}
	switch {
	case strings.HasPrefix(endpoint, "unix:"):
		path := strings.TrimPrefix(endpoint, "unix:")
		if path == "" {
			return nil, fmt.Errorf("%w: %q: the socket path is empty", ErrInvalidArgument, endpoint)
		}
		var d net.Dialer
		dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
		r.base, r.unix, r.describe = "http://portcullis", true, endpoint
		r.wire = &wirePool{dial: dial, host: "portcullis"}
	case strings.HasPrefix(endpoint, "tcp:"):
		hostPort := strings.TrimPrefix(endpoint, "tcp:")
		if _, _, err := net.SplitHostPort(hostPort); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidArgument, endpoint, err)
		}
		r.base = "http://" + hostPort
		r.describe = r.base
		r.wire = tcpWire(hostPort)
	case strings.HasPrefix(endpoint, "http://"), strings.HasPrefix(endpoint, "https://"):
		hostPort := endpoint[strings.Index(endpoint, "//")+2:]
		hostPort = strings.TrimSuffix(hostPort, "/")
		if hostPort == "" || strings.Contains(hostPort, "/") {
			return nil, fmt.Errorf("%w: %q: expected scheme://HOST:PORT with no path", ErrInvalidArgument, endpoint)
		}
		r.base = strings.TrimSuffix(endpoint, "/")
		r.describe = r.base
		if strings.HasPrefix(endpoint, "http://") {
			r.wire = tcpWire(hostPort)
		}
	default:
		return nil, fmt.Errorf("%w: %q: expected unix:PATH, tcp:HOST:PORT, http://HOST:PORT or https://HOST:PORT",
			ErrInvalidArgument, endpoint)
	}
	r.client = &http.Client{Transport: transport, Timeout: opts.Timeout}
	return r, nil
}

// tcpWire is the plain-HTTP round trip to hostPort over TCP.
func tcpWire(hostPort string) *wirePool {
	var d net.Dialer
	return &wirePool{
		dial: func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", hostPort) },
		host: hostPort,
	}
}

// Close releases idle connections. The fallback engine stays open.
func (r *RemoteEngine) Close() error {
	r.client.CloseIdleConnections()
	if r.wire != nil {
		r.wire.closeIdle()
	}
	return nil
}

// Evaluate decides a on the remote engine. It never returns an error: see
// RemoteEngine for what a failed call returns. An action that cannot be
// encoded is decided as invalid_action by the remote engine (or, when it is
// unavailable, by the fallback).
func (r *RemoteEngine) Evaluate(a Action) Decision {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	buf.b, err = appendAction(buf.b[:0], &a)
	if err != nil {
		d := r.EvaluateJSON(notAnAction)
		if d.Code == CodeInvalidAction {
			d.Reason = err.Error()
		}
		return d
	}
	return r.EvaluateJSON(buf.b)
}

// EvaluateJSON decides an action given as JSON text on the remote engine.
func (r *RemoteEngine) EvaluateJSON(action []byte) Decision {
	// The answer is read into a pooled buffer: the decision copies what it
	// keeps, so nothing refers to the buffer once it is decoded.
	buf := getBuffer()
	defer putBuffer(buf)
	status, body, err := r.call(http.MethodPost, "/v1/decide", action, buf.b)
	if body != nil {
		buf.b = body[:0]
	}
	if err == nil && status != http.StatusOK {
		err = r.statusError(status, body)
	}
	if err == nil {
		var d Decision
		if d, err = decodeDecision(body); err == nil {
			if d.Fallback {
				err = errors.New("a server never answers a fallback decision")
			} else {
				return d
			}
		}
		err = fmt.Errorf("the answer of %s is not a valid decision: %v", r.describe, err)
		r.failed(err.Error())
	}
	return r.unavailable(action, err)
}

// unavailable is the fail-closed answer for a failed call.
func (r *RemoteEngine) unavailable(action []byte, cause error) Decision {
	if r.opts.Fallback != nil {
		d := r.opts.Fallback.EvaluateJSON(action)
		d.Fallback = true
		return d
	}
	return Decision{
		Effect:  EffectDeny,
		Code:    CodeUnavailable,
		Reason:  "the remote engine is unavailable: " + cause.Error(),
		Matched: []string{},
		Shadow:  []ShadowHit{},
	}
}

// Approve grants an approval for a on the remote engine and returns its hash.
// A grant that could not be made is an error (wrapping ErrUnavailable when
// the server could not be reached).
func (r *RemoteEngine) Approve(a Action, ttl time.Duration, uses int) (string, error) {
	return withActionJSON(&a, func(action []byte) (string, error) { return r.ApproveJSON(action, ttl, uses) })
}

// ApproveJSON is Approve for an action given as JSON text.
func (r *RemoteEngine) ApproveJSON(action []byte, ttl time.Duration, uses int) (string, error) {
	if !json.Valid(action) {
		return "", fmt.Errorf("%w: the action is not valid JSON", ErrInvalidAction)
	}
	return r.approve(json.RawMessage(action), "", ttl, uses)
}

// ApproveHash grants an approval for the action whose hash is given.
func (r *RemoteEngine) ApproveHash(hash string, ttl time.Duration, uses int) error {
	_, err := r.approve(nil, hash, ttl, uses)
	return err
}

func (r *RemoteEngine) approve(action json.RawMessage, hash string, ttl time.Duration, uses int) (string, error) {
	ttlMs, nUses, err := grantArgs(ttl, uses)
	if err != nil {
		return "", err
	}
	req := struct {
		Action     json.RawMessage `json:"action,omitempty"`
		ActionHash string          `json:"action_hash,omitempty"`
		TTLMs      uint64          `json:"ttl_ms"`
		Uses       uint32          `json:"uses"`
	}{action, hash, ttlMs, nUses}
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	status, answer, err := r.call(http.MethodPost, "/v1/approve", body, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if status != http.StatusOK {
		return "", r.refused(status, answer)
	}
	var granted struct {
		ActionHash string `json:"action_hash"`
	}
	if err := json.Unmarshal(answer, &granted); err != nil || !strings.HasPrefix(granted.ActionHash, "sha256:") {
		return "", fmt.Errorf("%w: the answer of %s to an approval is not valid", ErrUnavailable, r.describe)
	}
	return granted.ActionHash, nil
}

// refused turns an error answer into an error the host sees: ErrUnavailable
// for 5xx, otherwise the server's code mapped onto the binding's errors.
func (r *RemoteEngine) refused(status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	msg := e.Error.Message
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if status >= 500 {
		r.failed(fmt.Sprintf("%s answered %d", r.describe, status))
		return fmt.Errorf("%w: %s answered %d: %s", ErrUnavailable, r.describe, status, msg)
	}
	switch e.Error.Code {
	case "invalid_action":
		return fmt.Errorf("%w: %s", ErrInvalidAction, msg)
	case "invalid_argument":
		return fmt.Errorf("%w: %s", ErrInvalidArgument, msg)
	}
	return fmt.Errorf("%w: %s answered %d (%s): %s", ErrInvalidArgument, r.describe, status, e.Error.Code, msg)
}

func (r *RemoteEngine) statusError(status int, body []byte) error {
	err := fmt.Errorf("%s answered %d: %s", r.describe, status, strings.TrimSpace(string(body)))
	if status >= 500 {
		r.failed(err.Error())
	}
	return err
}

// call makes one round trip, sent once. Transport failures count towards the
// circuit breaker; a call while the breaker is open fails at once. The
// answer may be stored in dst's storage.
func (r *RemoteEngine) call(method, path string, body, dst []byte) (int, []byte, error) {
	if err := r.admit(); err != nil {
		return 0, nil, err
	}
	status, answer, err := r.roundTrip(method, path, body, dst)
	if err != nil {
		r.failed(err.Error())
		return 0, nil, err
	}
	if status < 500 {
		r.succeeded()
	}
	return status, answer, nil
}

func (r *RemoteEngine) roundTrip(method, path string, body, dst []byte) (int, []byte, error) {
	if r.wire != nil {
		token := r.opts.Token
		if r.unix {
			token = ""
		}
		status, answer, err := r.wire.roundTrip(method, path, token, body, dst, time.Now().Add(r.opts.Timeout))
		if err != nil {
			return 0, nil, r.transportError(err)
		}
		return status, answer, nil
	}
	req, err := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.opts.Token != "" && !r.unix {
		req.Header.Set("Authorization", "Bearer "+r.opts.Token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, r.transportError(err)
	}
	defer resp.Body.Close()
	// A decision is small; 16 MiB bounds a broken or hostile server.
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read the answer of %s: %v", r.describe, err)
	}
	return resp.StatusCode, answer, nil
}

// transportError says what a failed round trip means for the caller.
func (r *RemoteEngine) transportError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("the remote engine at %s did not answer within %s", r.describe, r.opts.Timeout)
	}
	return fmt.Errorf("cannot reach the remote engine at %s: %v", r.describe, err)
}

// admit fails at once while the breaker is open; when its cooldown is over,
// one caller probes GET /readyz and the breaker closes only if it answers 200.
func (r *RemoteEngine) admit() error {
	if r.opts.BreakerFailures < 0 {
		return nil
	}
	r.mu.Lock()
	open, until, last := r.failures >= r.opts.BreakerFailures, r.openUntil, r.lastError
	r.mu.Unlock()
	if !open {
		return nil
	}
	if time.Now().Before(until) || !r.probing.CompareAndSwap(false, true) {
		return fmt.Errorf("circuit open after %d consecutive failures (last: %s)", r.opts.BreakerFailures, last)
	}
	defer r.probing.Store(false)
	status, _, err := r.roundTrip(http.MethodGet, "/readyz", nil, nil)
	if err == nil && status == http.StatusOK {
		r.succeeded()
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%s is not ready (%d)", r.describe, status)
	}
	r.mu.Lock()
	r.openUntil = time.Now().Add(r.opts.BreakerCooldown)
	r.lastError = err.Error()
	r.mu.Unlock()
	return fmt.Errorf("circuit open; probe failed: %v", err)
}

func (r *RemoteEngine) failed(message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	r.lastError = message
	if r.opts.BreakerFailures > 0 && r.failures >= r.opts.BreakerFailures {
		r.openUntil = time.Now().Add(r.opts.BreakerCooldown)
	}
}

func (r *RemoteEngine) succeeded() {
	r.mu.Lock()
	r.failures = 0
	r.mu.Unlock()
}
