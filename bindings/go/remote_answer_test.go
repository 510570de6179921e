package portcullis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// netHTTPAnswer is what the wire read before its own parser: net/http's
// ReadResponse, the body bounded by maxAnswer, and the connection kept unless
// the answer says close.
func netHTTPAnswer(in *bufio.Reader) (int, []byte, bool, error) {
	resp, err := http.ReadResponse(in, nil)
	if err != nil {
		return 0, nil, false, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	if err != nil {
		return 0, nil, false, err
	}
	return resp.StatusCode, body, !resp.Close, nil
}

// Every answer reads as net/http reads it: same status, body, keep-alive,
// same bytes left for the next answer, and an error where net/http has one.
func TestReadAnswerAgreesWithNetHTTP(t *testing.T) {
	const body = `{"effect":"allow","allowed":true,"code":"rule"}`
	bigHead := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("f", 90)+"\r\n", 60) +
		"Content-Length: 2\r\n\r\nok"
	answers := map[string]string{
		"serve":               "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 47\r\ndate: Thu, 03 Dec 2026 18:00:00 GMT\r\n\r\n" + body,
		"no reason":           "HTTP/1.1 200\r\nContent-Length: 47\r\n\r\n" + body,
		"bare LF":             "HTTP/1.1 200 OK\nContent-Length: 47\n\n" + body,
		"error status":        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
		"empty body":          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"connection close":    "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 47\r\n\r\n" + body,
		"close among tokens":  "HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 47\r\n\r\n" + body,
		"http/1.0":            "HTTP/1.0 200 OK\r\nContent-Length: 47\r\n\r\n" + body,
		"http/1.0 keep-alive": "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 47\r\n\r\n" + body,
		"chunked":             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2f\r\n" + body + "\r\n0\r\n\r\n",
		"until close":         "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body,
		"same length twice":   "HTTP/1.1 200 OK\r\nContent-Length: 47\r\nContent-Length: 47\r\n\r\n" + body,
		"two lengths":         "HTTP/1.1 200 OK\r\nContent-Length: 47\r\nContent-Length: 3\r\n\r\n" + body,
		"signed length":       "HTTP/1.1 200 OK\r\nContent-Length: +47\r\n\r\n" + body,
		"folded header":       "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 47\r\n\r\n" + body,
		"head over 4 KiB":     bigHead,
		"no content":          "HTTP/1.1 204 No Content\r\n\r\n",
		"continue":            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"truncated body":      "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" + body,
		"truncated head":      "HTTP/1.1 200 OK\r\nContent-Len",
		"not http":            "SSH-2.0-OpenSSH_9.6\r\n\r\n",
		"http/2 line":         "HTTP/2 200\r\nContent-Length: 2\r\n\r\nok",
		"bad status":          "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
		"nothing":             "",
	}
	// The answers read without net/http (the rest fall back to it).
	fast := map[string]bool{"serve": true, "no reason": true, "bare LF": true, "error status": true,
		"empty body": true, "connection close": true, "close among tokens": true, "http/1.0": true,
		"http/1.0 keep-alive": true, "truncated body": true}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			head, _ := peekHead(bufio.NewReaderSize(strings.NewReader(answer), 4096))
			if _, ok := parseHead(head); ok != fast[name] {
				t.Errorf("read without net/http: %t, want %t", ok, fast[name])
			}
			// A second answer follows: each reader must leave it whole.
			stream := answer + "HTTP/1.1 204 No Content\r\n\r\n"
			wantIn := bufio.NewReaderSize(strings.NewReader(stream), 4096)
			gotIn := bufio.NewReaderSize(strings.NewReader(stream), 4096)
			wantStatus, wantBody, wantKeep, wantErr := netHTTPAnswer(wantIn)
			gotStatus, gotBody, gotKeep, gotErr := readAnswer(gotIn, nil)
			if (wantErr != nil) != (gotErr != nil) {
				t.Fatalf("error %v, net/http's %v", gotErr, wantErr)
			}
			if wantErr != nil {
				return
			}
			if gotStatus != wantStatus || !bytes.Equal(gotBody, wantBody) || gotKeep != wantKeep {
				t.Errorf("got %d %q keep %t, net/http %d %q keep %t", gotStatus, gotBody, gotKeep, wantStatus, wantBody, wantKeep)
			}
			wantRest, _ := io.ReadAll(wantIn)
			gotRest, _ := io.ReadAll(gotIn)
			if !bytes.Equal(gotRest, wantRest) {
				t.Errorf("left %q, net/http left %q", gotRest, wantRest)
			}
		})
	}
}

// The body goes into the caller's storage when it fits, and a body larger
// than maxAnswer is refused before any of it is read.
func TestReadAnswerStorageAndBound(t *testing.T) {
	dst := make([]byte, 0, 256)
	in := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	_, body, _, err := readAnswer(in, dst)
	if err != nil || string(body) != "hello" || &body[0] != &dst[:1][0] {
		t.Errorf("body %q err %v: not read into the caller's storage", body, err)
	}
	huge := "HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n{"
	if _, _, _, err := readAnswer(bufio.NewReader(strings.NewReader(huge)), nil); err == nil ||
		!strings.Contains(err.Error(), "larger than") {
		t.Errorf("a body over 16 MiB: %v", err)
	}
	large := bytes.Repeat([]byte("a"), 100<<10)
	in = bufio.NewReader(io.MultiReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 102400\r\n\r\n"), bytes.NewReader(large)))
	if _, body, keep, err := readAnswer(in, dst); err != nil || !bytes.Equal(body, large) || !keep {
		t.Errorf("a 100 KiB body: %d bytes, keep %t, err %v", len(body), keep, err)
	}
}

// Calls at once on one RemoteEngine each get their own answer, whole: the
// answers' reused storage is never shared between calls in flight.
func TestRemoteConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			Agent struct {
				ID string `json:"id"`
			} `json:"agent"`
		}
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The reason is long enough that a mix-up of two answers shows.
		fmt.Fprintf(w, `{"effect":"deny","allowed":false,"code":"rule","rule":"r","reason":%q,"matched":["r"],"shadow":[]}`,
			strings.Repeat(a.Agent.ID, 40))
	}))
	defer ts.Close()
	r, err := NewRemote(ts.URL, RemoteOptions{Timeout: 10 * time.Second, BreakerFailures: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				agent := fmt.Sprintf("agent-%d-%d.", g, i)
				d := r.EvaluateJSON([]byte(`{"tool":"t","agent":{"id":"` + agent + `"}}`))
				if d.Reason != strings.Repeat(agent, 40) {
					t.Errorf("%s got %+v", agent, d)
					return
				}
			}
		}()
	}
	wg.Wait()
}
