package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A history file is a run's events as `foreman history -o json` prints
// them: what the replayer reads and the test environment records.

// ReadHistoryJSON reads a history as `foreman history -o json` prints it (a
// JSON array of events) or as -o jsonl does (one event per line).
func ReadHistoryJSON(rd io.Reader) ([]Event, error) {
	br := bufio.NewReader(rd)
	first, err := firstNonSpace(br)
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	dec := json.NewDecoder(br)
	var events []Event
	if first == '[' {
		if err := dec.Decode(&events); err != nil {
			return nil, fmt.Errorf("reading history: %w", err)
		}
		return events, nil
	}
	for {
		var e Event
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading history event %d: %w", len(events)+1, err)
		}
		events = append(events, e)
	}
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		if !bytes.ContainsAny(b, " \t\r\n") {
			return b[0], nil
		}
		_, _ = br.ReadByte()
	}
}

// WriteHistoryJSON writes events as `foreman history -o json` prints them,
// the format ReplayWorkflowHistoryFromJSONFile reads.
func WriteHistoryJSON(w io.Writer, events []Event) error {
	if events == nil {
		events = []Event{}
	}
	b, err := json.MarshalIndent(events, "", "  ")
	if err != nil {
		return fmt.Errorf("writing history: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
