package portcullis

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeDecision parses the engine's decision JSON (the decision object of
// the policy language spec). It copies everything it keeps, so data may be
// native memory. A decision that is not well formed is an error, which
// callers turn into a deny (fail closed).
//
// The decision has a fixed shape, so a small purpose-built parser reads it;
// encoding/json's reflection was most of the binding's own cost per call.
// A test checks it against encoding/json.
func decodeDecision(data []byte) (Decision, error) {
	d, err := parseDecision(data)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: malformed decision from the engine: %v", ErrEngine, err)
	}
	if !validEffect(d.Effect) || d.Allowed != (d.Effect == EffectAllow) || !validCode(d.Code) {
		return Decision{}, fmt.Errorf("%w: inconsistent decision from the engine (effect %q, allowed %t, code %q)",
			ErrEngine, d.Effect, d.Allowed, d.Code)
	}
	return d, nil
}

var errSyntax = errors.New("syntax error")

type scanner struct {
	data []byte
	pos  int
}

func parseDecision(data []byte) (Decision, error) {
	s := scanner{data: data}
	d := Decision{Matched: []string{}, Shadow: []ShadowHit{}}
	var seenEffect, seenAllowed, seenCode bool
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "effect":
			seenEffect = true
			var v []byte
			if v, err = s.stringBytes(); err == nil {
				d.Effect = effectOf(v)
			}
		case "allowed":
			seenAllowed = true
			d.Allowed, err = s.boolean()
		case "code":
			seenCode = true
			var v []byte
			if v, err = s.stringBytes(); err == nil {
				d.Code = codeOf(v)
			}
		case "rule":
			d.Rule, err = s.optString()
		case "reason":
			d.Reason, err = s.string()
		case "matched":
			d.Matched = []string{}
			err = s.array(func() error {
				v, err := s.string()
				d.Matched = append(d.Matched, v)
				return err
			})
		case "shadow":
			d.Shadow = []ShadowHit{}
			err = s.array(func() error {
				var hit ShadowHit
				err := s.object(func(key []byte) error {
					switch string(key) {
					case "rule":
						v, err := s.string()
						hit.Rule = v
						return err
					case "effect":
						v, err := s.stringBytes()
						hit.Effect = effectOf(v)
						return err
					}
					_, err := s.skip()
					return err
				})
				d.Shadow = append(d.Shadow, hit)
				return err
			})
		case "params":
			d.Params, d.RawParams = nil, nil
			var raw []byte
			if raw, err = s.skip(); err == nil && string(raw) != "null" {
				d.RawParams = append(json.RawMessage(nil), raw...)
				if err = json.Unmarshal(d.RawParams, &d.Params); err == nil && d.Params == nil {
					err = errors.New("params is not an object")
				}
			}
		case "retry_after_ms":
			d.RetryAfterMs, err = s.optUint()
		case "action_hash":
			d.ActionHash, err = s.optString()
		case "policy":
			err = s.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "name":
					d.Policy.Name, err = s.string()
				case "version":
					d.Policy.Version, err = s.optString()
				default:
					_, err = s.skip()
				}
				return err
			})
		case "eval_ns":
			d.EvalNs, err = s.uint()
		default:
			_, err = s.skip() // a key added by a later minor version
		}
		return err
	})
	if err != nil {
		return Decision{}, err
	}
	if s.ws(); s.pos != len(s.data) {
		return Decision{}, fmt.Errorf("text after the decision at byte %d", s.pos)
	}
	if !seenEffect || !seenAllowed || !seenCode {
		return Decision{}, errors.New("effect, allowed or code missing")
	}
	return d, nil
}

// effectOf and codeOf return the constant for known names without
// allocating; an unknown name is kept so validation can report it.
func effectOf(v []byte) Effect {
	switch string(v) {
	case string(EffectAllow):
		return EffectAllow
	case string(EffectDeny):
		return EffectDeny
	case string(EffectRequireApproval):
		return EffectRequireApproval
	}
	return Effect(v)
}

func codeOf(v []byte) Code {
	for _, c := range [...]Code{CodeRule, CodeDefault, CodeApproved, CodeRateLimited, CodeApprovalRequired,
		CodeUnknownAgent, CodeInvalidAction, CodeEngineError, CodeUnavailable} {
		if string(v) == string(c) {
			return c
		}
	}
	return Code(v)
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return fmt.Errorf("%w: expected %q at byte %d", errSyntax, c, s.pos)
	}
	s.pos++
	return nil
}

func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

// object calls member for each key, positioned at the key's value.
func (s *scanner) object(member func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.stringBytes()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or '}' at byte %d", errSyntax, s.pos)
		}
	}
}

// array calls element for each element, positioned at it.
func (s *scanner) array(element func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := element(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or ']' at byte %d", errSyntax, s.pos)
		}
	}
}

// stringBytes reads a string. Without escapes the result aliases the input
// (callers copy what they keep); with escapes it is a new slice.
func (s *scanner) stringBytes() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == '"':
			v := s.data[start:s.pos]
			s.pos++
			if !utf8.Valid(v) {
				return nil, errors.New("string is not valid UTF-8")
			}
			return v, nil
		case c == '\\':
			return s.unescape(start)
		case c < 0x20:
			return nil, fmt.Errorf("%w: control character in string at byte %d", errSyntax, s.pos)
		default:
			s.pos++
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errSyntax)
}

// unescape finishes a string that has escapes; s.pos is at the first one.
func (s *scanner) unescape(start int) ([]byte, error) {
	out := append([]byte(nil), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !utf8.Valid(out) {
				return nil, errors.New("string is not valid UTF-8")
			}
			return out, nil
		case c < 0x20:
			return nil, fmt.Errorf("%w: control character in string at byte %d", errSyntax, s.pos)
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			break
		}
		esc := s.data[s.pos+1]
		s.pos += 2
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, fmt.Errorf("%w: bad \\u escape at byte %d", errSyntax, s.pos)
			}
			if utf16.IsSurrogate(r) {
				// A lone surrogate is not a Unicode scalar value.
				if !s.literalRaw(`\u`) {
					return nil, errors.New("lone surrogate in string")
				}
				r2, ok := s.hex4()
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return nil, errors.New("lone surrogate in string")
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, fmt.Errorf("%w: bad escape at byte %d", errSyntax, s.pos-1)
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errSyntax)
}

func (s *scanner) literalRaw(word string) bool {
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.data)-s.pos < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.pos += 4
	return rune(v), true
}

func (s *scanner) string() (string, error) {
	v, err := s.stringBytes()
	return string(v), err
}

func (s *scanner) optString() (*string, error) {
	if s.literal("null") {
		return nil, nil
	}
	v, err := s.string()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func (s *scanner) boolean() (bool, error) {
	switch {
	case s.literal("true"):
		return true, nil
	case s.literal("false"):
		return false, nil
	}
	return false, fmt.Errorf("%w: expected a boolean at byte %d", errSyntax, s.pos)
}

func (s *scanner) uint() (uint64, error) {
	s.ws()
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	v, err := strconv.ParseUint(string(s.data[start:s.pos]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: expected an unsigned integer at byte %d", errSyntax, start)
	}
	return v, nil
}

func (s *scanner) optUint() (*uint64, error) {
	if s.literal("null") {
		return nil, nil
	}
	v, err := s.uint()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// skip passes over any JSON value and returns its text.
func (s *scanner) skip() ([]byte, error) {
	s.ws()
	start := s.pos
	var err error
	switch c := s.peek(); {
	case c == '{':
		err = s.object(func([]byte) error { _, err := s.skip(); return err })
	case c == '[':
		err = s.array(func() error { _, err := s.skip(); return err })
	case c == '"':
		_, err = s.stringBytes()
	case s.literal("null"), s.literal("true"), s.literal("false"):
	case c == '-' || (c >= '0' && c <= '9'):
		for s.pos < len(s.data) && (s.data[s.pos] == '-' || s.data[s.pos] == '+' || s.data[s.pos] == '.' ||
			s.data[s.pos] == 'e' || s.data[s.pos] == 'E' || (s.data[s.pos] >= '0' && s.data[s.pos] <= '9')) {
			s.pos++
		}
		if !validNumber(string(s.data[start:s.pos])) {
			err = fmt.Errorf("%w: bad number at byte %d", errSyntax, start)
		}
	default:
		err = fmt.Errorf("%w: unexpected byte at %d", errSyntax, s.pos)
	}
	if err != nil {
		return nil, err
	}
	return s.data[start:s.pos], nil
}
