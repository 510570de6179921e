package portcullis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"unicode/utf8"
)

// maxDepth is the deepest nesting an action may have; the action object is
// level 1 (policy language spec, section 1). Encoding stops there, which
// also stops on cyclic maps and slices.
const maxDepth = 64

// encodeError is a value of an Action that cannot be sent to the engine.
type encodeError struct {
	path string
	msg  string
}

func (e *encodeError) Error() string {
	if e.path == "" {
		return "invalid action: " + e.msg
	}
	return "invalid action: " + e.path + ": " + e.msg
}

// under prefixes err's path with the segment seg (a key or an [index]).
func under(seg string, err error) error {
	var ee *encodeError
	if !errors.As(err, &ee) {
		return err
	}
	switch {
	case ee.path == "":
		ee.path = seg
	case ee.path[0] == '[':
		ee.path = seg + ee.path
	default:
		ee.path = seg + "." + ee.path
	}
	return ee
}

// appendAction appends the compact JSON of a to b. It checks what the Go
// encoder would silently change (invalid UTF-8, NaN) and bounds the depth.
func appendAction(b []byte, a *Action) ([]byte, error) {
	var err error
	b = append(b, '{')
	if a.Kind != "" {
		b = append(b, `"kind":`...)
		if b, err = appendString(b, string(a.Kind)); err != nil {
			return b, under("kind", err)
		}
		b = append(b, ',')
	}
	b = append(b, `"tool":`...)
	if b, err = appendString(b, a.Tool); err != nil {
		return b, under("tool", err)
	}
	b = append(b, `,"agent":{"id":`...)
	if b, err = appendString(b, a.Agent.ID); err != nil {
		return b, under("agent.id", err)
	}
	b = append(b, '}')
	if a.Target != nil {
		b = append(b, `,"target":`...)
		if b, err = appendString(b, *a.Target); err != nil {
			return b, under("target", err)
		}
	}
	if a.Params != nil {
		b = append(b, `,"params":`...)
		if b, err = appendObject(b, a.Params, 2); err != nil {
			return b, under("params", err)
		}
	}
	if a.Context != nil {
		b = append(b, `,"context":`...)
		if b, err = appendObject(b, a.Context, 2); err != nil {
			return b, under("context", err)
		}
	}
	if !a.Timestamp.IsZero() {
		ts, terr := a.Timestamp.MarshalJSON()
		if terr != nil {
			return b, &encodeError{path: "timestamp", msg: terr.Error()}
		}
		b = append(b, `,"timestamp":`...)
		b = append(b, ts...)
	}
	return append(b, '}'), nil
}

// appendValue appends v as JSON; depth is the level v has if it is an
// object or array.
func appendValue(b []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendString(b, v)
	case float64:
		return appendFloat(b, v, 64)
	case float32:
		return appendFloat(b, float64(v), 32)
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case json.Number:
		if !validNumber(string(v)) {
			return b, &encodeError{msg: fmt.Sprintf("json.Number %q is not a JSON number", string(v))}
		}
		return append(b, v...), nil
	case json.RawMessage:
		return appendRaw(b, v, depth)
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendObject(b, v, depth)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendArray(b, v, depth)
	case map[string]string:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendMap(b, v, depth, appendStringValue)
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendList(b, v, depth, appendStringValue)
	default:
		if err := checkFaithful(reflect.ValueOf(v), depth); err != nil {
			return b, err
		}
		raw, err := marshalOther(v)
		if err != nil {
			return b, &encodeError{msg: fmt.Sprintf("%T cannot be encoded as JSON: %v", v, err)}
		}
		return appendRaw(b, raw, depth)
	}
}

// checkFaithful refuses, before encoding/json sees it, any value that
// encoding/json would change: a byte slice or array (it becomes base64, so a
// "contains" deny on its text would never fire) and a string or map key that
// is not valid UTF-8 (it becomes U+FFFD). It walks what encoding/json walks:
// pointers, interfaces, slices, arrays, maps and exported struct fields.
func checkFaithful(v reflect.Value, depth int) error {
	if depth > maxDepth+1 {
		return tooDeep()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkFaithful(v.Elem(), depth)
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return &encodeError{msg: fmt.Sprintf("%s is not valid UTF-8", v.Type())}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil // null, as encoding/json writes it
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return &encodeError{msg: fmt.Sprintf("%s would be sent as base64: convert it to a string", v.Type())}
		}
		for i := 0; i < v.Len(); i++ {
			if err := checkFaithful(v.Index(i), depth+1); err != nil {
				return under("["+strconv.Itoa(i)+"]", err)
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkFaithful(it.Key(), depth+1); err != nil {
				return err
			}
			if err := checkFaithful(it.Value(), depth+1); err != nil {
				return under(fmt.Sprint(it.Key()), err)
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if (!f.IsExported() && !f.Anonymous) || f.Tag.Get("json") == "-" {
				continue
			}
			if err := checkFaithful(v.Field(i), depth+1); err != nil {
				return under(f.Name, err)
			}
		}
	}
	return nil
}

// marshalOther encodes a value of any other type with encoding/json. A
// panicking MarshalJSON method becomes an error: Evaluate never panics.
func marshalOther(v any) (raw []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, fmt.Errorf("panic in MarshalJSON: %v", r)
		}
	}()
	return json.Marshal(v)
}

func tooDeep() error {
	return &encodeError{msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
}

func appendObject(b []byte, m map[string]any, depth int) ([]byte, error) {
	return appendMap(b, m, depth, appendValue)
}

func appendArray(b []byte, s []any, depth int) ([]byte, error) {
	return appendList(b, s, depth, appendValue)
}

// appendStringValue has appendValue's shape for string elements.
func appendStringValue(b []byte, v string, _ int) ([]byte, error) {
	return appendString(b, v)
}

// appendMap appends a JSON object whose values are encoded by elem; the
// object itself is at nesting level depth.
func appendMap[V any](b []byte, m map[string]V, depth int, elem func([]byte, V, int) ([]byte, error)) ([]byte, error) {
	if depth > maxDepth {
		return b, tooDeep()
	}
	var err error
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		if b, err = appendString(b, k); err != nil {
			return b, under(strconv.Quote(k), &encodeError{msg: "key is not valid UTF-8"})
		}
		b = append(b, ':')
		if b, err = elem(b, v, depth+1); err != nil {
			return b, under(k, err)
		}
	}
	return append(b, '}'), nil
}

// appendList appends a JSON array whose elements are encoded by elem.
func appendList[V any](b []byte, s []V, depth int, elem func([]byte, V, int) ([]byte, error)) ([]byte, error) {
	if depth > maxDepth {
		return b, tooDeep()
	}
	var err error
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = elem(b, v, depth+1); err != nil {
			return b, under("["+strconv.Itoa(i)+"]", err)
		}
	}
	return append(b, ']'), nil
}

// appendRaw appends JSON text produced elsewhere, compacted. Its own nesting
// counts from depth.
func appendRaw(b []byte, raw []byte, depth int) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	if !json.Valid(raw) {
		return b, &encodeError{msg: "json.RawMessage is not valid JSON"}
	}
	if depth+rawDepth(raw)-1 > maxDepth {
		return b, tooDeep()
	}
	var out bytes.Buffer
	// Compact cannot fail on valid JSON.
	_ = json.Compact(&out, raw)
	return append(b, out.Bytes()...), nil
}

// rawDepth returns the deepest container nesting of valid JSON text.
func rawDepth(raw []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &encodeError{msg: fmt.Sprintf("number %v is not finite", f)}
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping only what JSON requires.
// Invalid UTF-8 is an error: the Go encoder would replace it with U+FFFD and
// the engine would decide on a string the tool never sees.
func appendString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return b, &encodeError{msg: fmt.Sprintf("string is not valid UTF-8 (byte %d)", i)}
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

// validNumber reports whether s is a JSON number (RFC 8259 grammar).
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// buffer is a reusable encoding buffer.
type buffer struct{ b []byte }

var bufferPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 1024)} }}

func getBuffer() *buffer { return bufferPool.Get().(*buffer) }

func putBuffer(buf *buffer) {
	if cap(buf.b) > 64<<10 {
		return // let large one-off buffers go
	}
	bufferPool.Put(buf)
}
