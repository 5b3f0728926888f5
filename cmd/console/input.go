package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// readJSON resolves a JSON argument: inline text, @FILE, or "-" for
// standard input. Malformed JSON is a usage error that names where it went
// wrong (line, column, and the text around it).
func readJSON(flagName, arg string, stdin io.Reader) (json.RawMessage, error) {
	var (
		data []byte
		from = "inline"
		err  error
	)
	switch {
	case arg == "-":
		from = "standard input"
		if data, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("%s: reading standard input: %w", flagName, err)
		}
	case strings.HasPrefix(arg, "@"):
		from = arg[1:]
		if data, err = os.ReadFile(arg[1:]); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, usagef("%s: file %s does not exist", flagName, arg[1:])
			}
			return nil, usagef("%s: %v", flagName, err)
		}
	default:
		data = []byte(arg)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, usagef("%s: empty JSON (%s); pass a value such as '{}' or 'null'", flagName, from)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, usagef("%s: malformed JSON (%s) %s", flagName, from, jsonErrorAt(data, err))
	}
	return json.RawMessage(data), nil
}

// jsonErrorAt describes a decode error by line and column, with the text
// leading up to the offending byte.
func jsonErrorAt(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	default:
		return err.Error()
	}
	off = min(max(off, 0), int64(len(data)))
	// the decoder reports the offset after the bad byte; point at the byte
	pos := off
	if pos > 0 && pos <= int64(len(data)) && !strings.Contains(err.Error(), "end of JSON input") {
		pos--
	}
	line, col := 1, 1
	for _, r := range string(data[:pos]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	start := max(pos-20, 0)
	for start > 0 && !utf8.RuneStart(data[start]) {
		start--
	}
	near := strings.ReplaceAll(string(data[start:pos]), "\n", " ")
	if start > 0 {
		near = "…" + near
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Sprintf("at line %d, column %d (after %q): %s", line, col, near, msg)
}
