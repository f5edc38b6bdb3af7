package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/jsoncanon"
)

const (
	// batchEvents is how many events one POST /api/v1/events/batch
	// carries: the server's limit.
	batchEvents = 1000
	// batchBytes bounds one batch request's body below the server's
	// 16 MiB, leaving room for the envelope.
	batchBytes = 16<<20 - 4<<10
)

// batchLine is one line of an events send --batch file.
type batchLine struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	Tenant         *string         `json:"tenant,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// sendBatchFile sends the events of the JSON Lines file name ("-" for
// standard input) in batch requests, each line's object as it is (its
// payload byte for byte), and prints one result per line, in order (with
// asJSON, each result's JSON). A line that is not such an object stops it
// before anything is sent; events the server refuses are reported and
// make it fail once all are sent.
func sendBatchFile(ctx context.Context, e *env, c *client.Client, name string, asJSON bool) error {
	var in io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open batch file: %w", err)
		}
		defer f.Close()
		in = f
	}
	lines, nums, err := readBatchLines(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s: no events", name)
	}
	accepted, failed := 0, 0
	for start := 0; start < len(lines); {
		end, size := start, 0
		for end < len(lines) && end-start < batchEvents && (end == start || size+eventSize(lines[end]) <= batchBytes) {
			size += eventSize(lines[end])
			end++
		}
		// One request: at most client.MaxBatchEvents, and bounded in bytes.
		res, err := c.SendEvents(ctx, lines[start:end])
		if err != nil {
			return fmt.Errorf("lines %d to %d: %w", nums[start], nums[end-1], err)
		}
		for i, r := range res {
			line := nums[start+i]
			if r.Err != nil {
				failed++
			} else {
				accepted++
			}
			switch {
			case asJSON:
				fmt.Fprintf(e.stdout, "%s\n", r.Raw)
			case r.Err != nil:
				fmt.Fprintf(e.stdout, "line %d: refused (%d %s): %s\n", line, r.Status, r.Err.Code, r.Err.Message)
			case r.Event.Duplicate:
				fmt.Fprintf(e.stdout, "line %d: %s (duplicate: accepted earlier with this idempotency key; nothing created)\n", line, r.Event.ID)
			default:
				n := 0
				if r.Event.Deliveries != nil {
					n = *r.Event.Deliveries
				}
				fmt.Fprintf(e.stdout, "line %d: %s accepted, %d deliveries\n", line, r.Event.ID, n)
			}
		}
		start = end
	}
	fmt.Fprintf(e.stderr, "%d events accepted, %d refused\n", accepted, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d events refused", failed, accepted+failed)
	}
	return nil
}

// eventSize bounds the bytes p takes in a batch request's body: its
// fields, their names and quotes, and an idempotency key the client may
// generate.
func eventSize(p *client.SendEventParams) int {
	return len(p.Payload) + len(p.Type) + len(p.Tenant) + len(p.IdempotencyKey) + 128
}

// readBatchLines reads the non-blank lines of in, each one JSON object of
// batchLine's members, and returns them as events to send (each payload
// byte for byte), with their line numbers.
func readBatchLines(in io.Reader) ([]*client.SendEventParams, []int, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, maxPayloadInput)
	var (
		lines []*client.SendEventParams
		nums  []int
	)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l batchLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, nil, fmt.Errorf("line %d: want one JSON object with type, payload, tenant, idempotency_key: %w", n, err)
		}
		if dec.More() {
			return nil, nil, fmt.Errorf("line %d: data after the JSON object", n)
		}
		if l.Type == "" {
			return nil, nil, fmt.Errorf("line %d: type is required", n)
		}
		if len(l.Payload) == 0 {
			return nil, nil, fmt.Errorf("line %d: payload is required", n)
		}
		if _, err := jsoncanon.JS(l.Payload); err != nil {
			return nil, nil, fmt.Errorf("line %d: payload is not JSON: %w", n, err)
		}
		p := &client.SendEventParams{Type: l.Type, IdempotencyKey: l.IdempotencyKey, Payload: bytes.Clone(l.Payload)}
		if l.Tenant != nil {
			p.Tenant = *l.Tenant
		}
		lines, nums = append(lines, p), append(nums, n)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("a line is longer than %d bytes", maxPayloadInput)
		}
		return nil, nil, err
	}
	return lines, nums, nil
}
