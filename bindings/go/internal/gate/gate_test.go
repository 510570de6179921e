package gate

import "testing"

func TestActionJSON(t *testing.T) {
	tests := []struct {
		name string
		call Call
		want string
	}{
		{"no arguments", Call{Tool: "t", Agent: "a"}, `{"tool":"t","agent":{"id":"a"},"params":{}}`},
		{"null arguments", Call{Tool: "t", Agent: "a", Args: []byte(" null ")}, `{"tool":"t","agent":{"id":"a"},"params":{}}`},
		{"arguments kept as sent", Call{Tool: "t", Agent: "a", Args: []byte(`{"n": 12345678901234567890, "n": 1}`)},
			`{"tool":"t","agent":{"id":"a"},"params":{"n": 12345678901234567890, "n": 1}}`},
		{"quoting and context", Call{Tool: `t"x`, Agent: "a\\", Args: []byte(`[]`), Context: map[string]any{"s": 1}},
			`{"tool":"t\"x","agent":{"id":"a\\"},"params":[],"context":{"s":1}}`},
	}
	for _, tt := range tests {
		got, err := ActionJSON(tt.call)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []Call{
		{Tool: "t", Agent: "a", Args: []byte(`{"a":`)},
		{Tool: "t", Agent: "a", Args: []byte(`1} , {"x": 2`)},
		{Tool: "t\xff", Agent: "a"},
		{Tool: "t", Agent: "a\xff"},
		{Tool: "t", Agent: "a", Context: map[string]any{"c": make(chan int)}},
	} {
		if got, err := ActionJSON(bad); err == nil {
			t.Errorf("%+v: accepted as %s", bad, got)
		}
	}
	if _, err := StringArgs("input", "ok\xff"); err == nil {
		t.Error("StringArgs accepted invalid UTF-8")
	}
	if got, err := StringArgs("input", `say "hi"`); err != nil || string(got) != `{"input":"say \"hi\""}` {
		t.Errorf("StringArgs = %s, %v", got, err)
	}
}
