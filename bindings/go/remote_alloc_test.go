//go:build !race

package portcullis

import (
	"bytes"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// cannedServer answers every request on its connections with answer,
// allocating nothing per request, so that the allocations counted around a
// call are the client's.
func cannedServer(t *testing.T, answer []byte) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "canned.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveCanned(conn, answer)
		}
	}()
	return socket
}

func serveCanned(conn net.Conn, answer []byte) {
	defer conn.Close()
	buf := make([]byte, 64<<10)
	have := 0
	for {
		n, err := conn.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		for {
			end := bytes.Index(buf[:have], []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			length := 0
			if i := bytes.Index(buf[:end], []byte("Content-Length: ")); i >= 0 {
				for _, c := range buf[i+len("Content-Length: ") : end] {
					if c < '0' || c > '9' {
						break
					}
					length = length*10 + int(c-'0')
				}
			}
			whole := end + 4 + length
			if have < whole {
				break
			}
			if _, err := conn.Write(answer); err != nil {
				return
			}
			have = copy(buf, buf[whole:have])
		}
	}
}

// A call allocates what its decision holds and close to nothing more: the
// answer is read into reused storage, not through net/http (which left about
// fifteen objects per call, and the collections they caused showed in the
// client's tail latency).
func TestMemoryRemoteCallAllocations(t *testing.T) {
	body := []byte(`{"effect":"deny","allowed":false,"code":"rule","rule":"no-rm","reason":"destructive",` +
		`"matched":["no-rm"],"shadow":[],"params":null,"retry_after_ms":null,"action_hash":null,` +
		`"policy":{"name":"p","version":"7"},"eval_ns":1200}`)
	answer := []byte("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
		strconv.Itoa(len(body)) + "\r\ndate: Thu, 03 Dec 2026 18:00:00 GMT\r\n\r\n" + string(body))
	r, err := NewRemote("unix:"+cannedServer(t, answer), RemoteOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	action := []byte(`{"tool":"shell","agent":{"id":"a"},"params":{"cmd":"rm -rf /"}}`)
	if d := r.EvaluateJSON(action); d.Rule == nil || *d.Rule != "no-rm" {
		t.Fatalf("%+v", d)
	}
	decoding := testing.AllocsPerRun(200, func() {
		if _, err := decodeDecision(body); err != nil {
			t.Fatal(err)
		}
	})
	calling := testing.AllocsPerRun(200, func() {
		if d := r.EvaluateJSON(action); d.Code != CodeRule {
			t.Fatalf("%+v", d)
		}
	})
	t.Logf("allocations per call %.1f, of which decoding the decision %.1f", calling, decoding)
	if calling > decoding+2 {
		t.Errorf("a call allocates %.1f objects, decoding its decision %.1f: the round trip adds more than 2",
			calling, decoding)
	}
}
