package portcullis

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxAnswer bounds the body of an answer: a decision is small, and a broken
// or hostile server must not make the client hold more.
const maxAnswer = 16 << 20

// readAnswer reads one HTTP/1.1 answer from in: its status, its body
// appended to dst, and whether the connection may carry another request.
//
// The usual answer of `portcullis serve` (a status line, a few headers, a
// Content-Length body) is read here straight from the read buffer, with no
// allocation beyond the body's storage: net/http's ReadResponse built a
// header map and several readers for every call, and the garbage they left
// made collections frequent enough to show in the client's tail latency.
// Any other answer (chunked, no length, a head larger than the read buffer,
// an unusual status line) is left whole in the buffer for net/http to read,
// as before.
func readAnswer(in *bufio.Reader, dst []byte) (int, []byte, bool, error) {
	head, err := peekHead(in)
	if err != nil {
		return 0, nil, false, err
	}
	h, ok := parseHead(head)
	if !ok {
		return readAnswerSlow(in, dst)
	}
	if _, err := in.Discard(len(head)); err != nil {
		return 0, nil, false, err
	}
	if h.length > maxAnswer {
		return 0, nil, false, fmt.Errorf("the answer's body of %d bytes is larger than %d", h.length, maxAnswer)
	}
	body, err := readBody(in, dst, int(h.length))
	if err != nil {
		return 0, nil, false, fmt.Errorf("reading the answer: %w", err)
	}
	return h.status, body, h.keepAlive, nil
}

// readAnswerSlow reads an answer through net/http.
func readAnswerSlow(in *bufio.Reader, dst []byte) (int, []byte, bool, error) {
	resp, err := http.ReadResponse(in, nil)
	if err != nil {
		return 0, nil, false, err
	}
	buf := bytes.NewBuffer(dst)
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	if err != nil {
		return 0, nil, false, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, buf.Bytes(), !resp.Close, nil
}

// readBody appends n bytes of in to dst. A small body is read into storage
// sized at once; a large one grows only as its bytes come, so a length the
// server announces but does not send costs nothing.
func readBody(in *bufio.Reader, dst []byte, n int) ([]byte, error) {
	if n <= 64<<10 {
		if cap(dst) < n {
			dst = make([]byte, 0, n)
		}
		body := dst[:n]
		if _, err := io.ReadFull(in, body); err != nil {
			return nil, unexpectedEOF(err)
		}
		return body, nil
	}
	buf := bytes.NewBuffer(dst)
	got, err := buf.ReadFrom(io.LimitReader(in, int64(n)))
	if err != nil {
		return nil, err
	}
	if got < int64(n) {
		return nil, io.ErrUnexpectedEOF
	}
	return buf.Bytes(), nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// peekHead returns the answer's head, up to and including the empty line that
// ends it, without consuming it. It is nil when the head does not fit the read
// buffer (net/http reads it then).
func peekHead(in *bufio.Reader) ([]byte, error) {
	want := 1
	for {
		if _, err := in.Peek(want); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, nil
			}
			return nil, unexpectedEOF(err)
		}
		buffered, _ := in.Peek(in.Buffered())
		if end := headEnd(buffered); end > 0 {
			return buffered[:end], nil
		}
		if len(buffered) >= in.Size() {
			return nil, nil
		}
		want = len(buffered) + 1
	}
}

// headEnd is the length of the head at the start of b (through the first
// empty line, ended by CRLF or LF), or 0 when b does not hold all of it.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return i
		}
	}
	return 0
}

// answerHead is what the fast path needs from a head.
type answerHead struct {
	status    int
	length    int64
	keepAlive bool
}

// parseHead reads a head of the usual form: "HTTP/1.1 NNN reason" (or 1.0),
// then "Name: value" lines with exactly one Content-Length and no
// Transfer-Encoding, and a status that has a body. ok is false for any other
// head, which net/http then reads (and refuses where it is malformed).
func parseHead(head []byte) (h answerHead, ok bool) {
	line, rest := nextLine(head)
	var minor byte
	if h.status, minor, ok = parseStatusLine(line); !ok {
		return h, false
	}
	if h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified {
		return h, false
	}
	h.keepAlive = minor == '1'
	seenLength := false
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			return h, false // folded or malformed
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if seenLength {
				return h, false
			}
			seenLength = true
			if h.length, ok = parseLength(value); !ok {
				return h, false
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return h, false
		case bytes.EqualFold(name, []byte("Connection")):
			if hasToken(value, "close") {
				h.keepAlive = false
			} else if minor == '0' && hasToken(value, "keep-alive") {
				h.keepAlive = true
			}
		}
	}
	return h, seenLength
}

// nextLine splits the first line (CRLF or LF ended, without its end) off b.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// parseStatusLine reads "HTTP/1.x NNN" and an optional reason.
func parseStatusLine(line []byte) (status int, minor byte, ok bool) {
	const proto = "HTTP/1."
	if len(line) < len(proto)+5 || string(line[:len(proto)]) != proto {
		return 0, 0, false
	}
	minor = line[len(proto)]
	code := line[len(proto)+2 : len(proto)+5]
	if (minor != '0' && minor != '1') || line[len(proto)+1] != ' ' {
		return 0, 0, false
	}
	if len(line) > len(proto)+5 && line[len(proto)+5] != ' ' {
		return 0, 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		status = status*10 + int(c-'0')
	}
	return status, minor, status >= 100
}

// parseLength reads a Content-Length value: decimal digits only.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether the comma-separated header value holds token
// (case-insensitive).
func hasToken(value []byte, token string) bool {
	for len(value) > 0 {
		var item []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			item, value = value[:i], value[i+1:]
		} else {
			item, value = value, nil
		}
		if bytes.EqualFold(bytes.Trim(item, " \t"), []byte(token)) {
			return true
		}
	}
	return false
}
