// Package gate holds what the middleware packages share: building an action
// from a tool call's raw JSON arguments, and describing a refusal.
package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

// Call is one tool call as a middleware sees it.
type Call struct {
	Tool  string
	Agent string
	// Args is the call's arguments as JSON text; empty means {}.
	Args []byte
	// Context is host metadata for the action; nil means {}.
	Context map[string]any
}

// ActionJSON returns the action for c as JSON text. The arguments go to the
// engine as the client sent them, so what the engine checks (duplicate keys,
// exact numbers) is what the tool receives.
func ActionJSON(c Call) ([]byte, error) {
	if !utf8.ValidString(c.Tool) || !utf8.ValidString(c.Agent) {
		return nil, errors.New("tool name or agent id is not valid UTF-8")
	}
	args := bytes.TrimSpace(c.Args)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		args = []byte("{}")
	}
	if !json.Valid(args) {
		return nil, errors.New("tool arguments are not valid JSON")
	}
	tool, _ := json.Marshal(c.Tool)
	agent, _ := json.Marshal(c.Agent)
	var b bytes.Buffer
	b.WriteString(`{"tool":`)
	b.Write(tool)
	b.WriteString(`,"agent":{"id":`)
	b.Write(agent)
	b.WriteString(`},"params":`)
	b.Write(args)
	if c.Context != nil {
		ctx, err := json.Marshal(c.Context)
		if err != nil {
			return nil, fmt.Errorf("action context: %w", err)
		}
		b.WriteString(`,"context":`)
		b.Write(ctx)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Evaluate decides c. A call that cannot even be put into an action is
// denied with code invalid_action by the engine, with the cause as reason.
func Evaluate(e *portcullis.Engine, c Call) portcullis.Decision {
	action, err := ActionJSON(c)
	if err != nil {
		return Invalid(e, err)
	}
	return e.EvaluateJSON(action)
}

// Invalid returns the engine's invalid_action decision with cause as reason.
func Invalid(e *portcullis.Engine, cause error) portcullis.Decision {
	d := e.EvaluateJSON([]byte("null"))
	if d.Code == portcullis.CodeInvalidAction {
		d.Reason = "invalid action: " + cause.Error()
	}
	return d
}

// StringArgs returns {"<key>": value} as JSON text; value must be valid
// UTF-8 (encoding/json would silently replace the bad bytes).
func StringArgs(key, value string) ([]byte, error) {
	if !utf8.ValidString(value) {
		return nil, fmt.Errorf("params.%s is not valid UTF-8", key)
	}
	return json.Marshal(map[string]string{key: value})
}
