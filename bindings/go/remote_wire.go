package portcullis

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// wirePool makes plain-HTTP/1.1 round trips (Unix socket, tcp:, http://) on
// the calling goroutine over kept-alive connections. net/http's transport
// hands every call to a connection's own read and write goroutines, which
// costs more than the decision itself over a local socket; this path writes
// the request and reads the answer where the caller runs. HTTPS stays on
// net/http.
type wirePool struct {
	dial func(ctx context.Context) (net.Conn, error)
	host string

	mu   sync.Mutex
	idle []*wireConn
}

// wireConn is one kept-alive connection, its read buffer and the reused
// request buffer. One call at a time uses it (it is out of the pool meanwhile).
type wireConn struct {
	conn  net.Conn
	in    *bufio.Reader
	out   []byte
	check *idleCheck // nil where an idle connection cannot be checked
}

// maxIdleWire bounds the connections kept for reuse.
const maxIdleWire = 64

// take returns an idle connection the server has not closed, or a new one.
func (p *wirePool) take(deadline time.Time) (*wireConn, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if w.open() {
			return w, nil
		}
		_ = w.conn.Close()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	conn, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &wireConn{conn: conn, in: bufio.NewReaderSize(conn, 4096), check: newIdleCheck(conn)}, nil
}

// open reports whether the server still keeps the connection: nothing to
// read (an idle HTTP/1.1 connection is silent) and no end of stream. A
// connection the server closed while idle is never written to, so a request
// is never sent on a connection that cannot answer it, and none is retried.
func (w *wireConn) open() bool {
	return w.in.Buffered() == 0 && w.check.silent()
}

// give keeps w for the next call.
func (p *wirePool) give(w *wireConn) {
	p.mu.Lock()
	if len(p.idle) < maxIdleWire {
		p.idle = append(p.idle, w)
		w = nil
	}
	p.mu.Unlock()
	if w != nil {
		_ = w.conn.Close()
	}
}

// closeIdle closes the kept connections.
func (p *wirePool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		_ = w.conn.Close()
	}
}

// roundTrip sends one request and reads its whole answer before deadline.
// The answer's body is appended to dst[:0] (the caller may reuse that
// storage once it is done with the answer). Errors wrap a net.Error when the
// deadline passed.
func (p *wirePool) roundTrip(method, path, token string, body, dst []byte, deadline time.Time) (int, []byte, error) {
	w, err := p.take(deadline)
	if err != nil {
		return 0, nil, err
	}
	if err := w.conn.SetDeadline(deadline); err != nil {
		_ = w.conn.Close()
		return 0, nil, err
	}
	w.out = appendRequest(w.out[:0], method, path, p.host, token, body)
	if _, err := w.conn.Write(w.out); err != nil {
		_ = w.conn.Close()
		return 0, nil, err
	}
	status, answer, keep, err := readAnswer(w.in, dst[:0])
	if err != nil {
		_ = w.conn.Close()
		return 0, nil, err
	}
	if keep && w.in.Buffered() == 0 {
		p.give(w)
	} else {
		_ = w.conn.Close()
	}
	return status, answer, nil
}

// appendRequest writes an HTTP/1.1 request with a JSON body (none for GET).
func appendRequest(b []byte, method, path, host, token string, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	if token != "" {
		b = append(b, "\r\nAuthorization: Bearer "...)
		b = append(b, token...)
	}
	if method != http.MethodGet {
		b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
	}
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}
