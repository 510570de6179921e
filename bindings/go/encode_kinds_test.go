package portcullis_test

import (
	"strings"
	"testing"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

// A deny on "rm -rf" must see every Go kind the way the tool will: values that
// encoding/json would change (base64 bytes, U+FFFD for invalid UTF-8) are
// refused (deny invalid_action), and every other kind is encoded faithfully.
func TestEncodeEveryKind(t *testing.T) {
	const policy = `{"portcullis": 1, "name": "kinds", "default": "allow", "rules": [
	  {"id": "no-rm", "effect": "deny", "when": {"field": "params.v", "contains": "rm -rf"}}]}`
	e, err := portcullis.New([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	type myString string
	type myBytes []byte
	type inner struct {
		Cmd  string
		Data []byte `json:"data"`
		skip []byte
	}
	type withTag struct {
		Cmd    string `json:"cmd"`
		Hidden []byte `json:"-"`
	}
	s := "rm -rf /"
	ps := &s
	tests := []struct {
		name string
		v    any
		want string // "rule", "invalid_action", or "ok" (any other code)
	}{
		{"string", "rm -rf /", "rule"},
		{"named string", myString("rm -rf /"), "rule"},
		{"pointer to string", ps, "rule"},
		{"pointer to pointer", &ps, "rule"},
		{"[]byte", []byte("rm -rf /"), "invalid_action"},
		{"named []byte", myBytes("rm -rf /"), "invalid_action"},
		{"[8]byte", [8]byte{'r', 'm', ' ', '-', 'r', 'f', ' ', '/'}, "invalid_action"},
		{"[][]byte", [][]byte{[]byte("rm -rf /")}, "invalid_action"},
		{"map with []byte", map[string][]byte{"x": []byte("rm -rf /")}, "invalid_action"},
		{"struct with []byte", inner{Cmd: "ls", Data: []byte("rm -rf /")}, "invalid_action"},
		{"struct ignores unexported and json:\"-\"", withTag{Cmd: "ls", Hidden: []byte("x")}, "ok"},
		{"unexported []byte field", inner{Cmd: "ls", skip: []byte("x")}, "ok"},
		{"invalid UTF-8 named string", myString("rm -rf /\xff"), "invalid_action"},
		{"invalid UTF-8 in []string", []string{"ok", "rm -rf \xff"}, "invalid_action"},
		{"invalid UTF-8 in struct", struct{ V string }{"rm -rf \xfe"}, "invalid_action"},
		{"invalid UTF-8 map key", map[string]int{"\xff": 1}, "invalid_action"},
		{"[]string", []string{"ls", "rm -rf /"}, "ok"},
		{"[]myString", []myString{"rm -rf /"}, "ok"},
		{"array of strings", [2]string{"ls", "rm -rf /"}, "ok"},
		{"map[string]myString", map[string]myString{"a": "rm -rf /"}, "ok"},
		{"[]int", []int{1, 2}, "ok"},
		{"[]uint16", []uint16{1, 2}, "ok"},
		{"int8", int8(-3), "ok"},
		{"uintptr", uintptr(7), "ok"},
		{"float32", float32(1.5), "ok"},
		{"bool", true, "ok"},
		{"nil pointer", (*string)(nil), "ok"},
		{"interface holding bytes", []any{any([]byte("rm -rf /"))}, "invalid_action"},
		{"complex", complex(1, 2), "invalid_action"},
		{"func", func() {}, "invalid_action"},
		{"struct", struct{ V string }{"rm -rf /"}, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(portcullis.Action{Tool: "shell", Agent: portcullis.Agent{ID: "a1"},
				Params: map[string]any{"v": tt.v}})
			got := string(d.Code)
			if tt.want == "ok" && got != "invalid_action" {
				got = "ok"
			}
			if got != tt.want {
				t.Fatalf("got %s/%s (%q), want code %s", d.Effect, d.Code, d.Reason, tt.want)
			}
			if tt.want == "invalid_action" && (d.Allowed || !strings.Contains(d.Reason, "params.v")) {
				t.Errorf("decision %+v", d)
			}
		})
	}
}
