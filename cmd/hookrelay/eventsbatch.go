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

// batchResultOut is what the CLI reads of one result of a batch.
type batchResultOut struct {
	Status     int    `json:"status"`
	ID         string `json:"id"`
	Deliveries *int   `json:"deliveries"`
	Duplicate  bool   `json:"duplicate"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// sendBatchFile sends the events of the JSON Lines file name ("-" for
// standard input) in batch requests, each line's object as it is (its
// payload byte for byte), and prints one result per line, in order (with
// asJSON, each result's JSON). A line that is not such an object stops it
// before anything is sent; events the server refuses are reported and
// make it fail once all are sent.
func sendBatchFile(ctx context.Context, e *env, c *apiClient, name string, asJSON bool) error {
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
		for end < len(lines) && end-start < batchEvents && (end == start || size+len(lines[end])+1 <= batchBytes) {
			size += len(lines[end]) + 1
			end++
		}
		body := append([]byte(`{"events":[`), bytes.Join(lines[start:end], []byte(","))...)
		body = append(body, "]}"...)
		b, err := c.do(ctx, "POST", "/api/v1/events/batch", body)
		if err != nil {
			return fmt.Errorf("lines %d to %d: %w", nums[start], nums[end-1], err)
		}
		var resp struct {
			Results []json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(b, &resp); err != nil || len(resp.Results) != end-start {
			return fmt.Errorf("lines %d to %d: unexpected response: %d results, %v", nums[start], nums[end-1], len(resp.Results), err)
		}
		for i, raw := range resp.Results {
			var r batchResultOut
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode result: %w", err)
			}
			line := nums[start+i]
			if r.Error != nil {
				failed++
			} else {
				accepted++
			}
			switch {
			case asJSON:
				fmt.Fprintf(e.stdout, "%s\n", raw)
			case r.Error != nil:
				fmt.Fprintf(e.stdout, "line %d: refused (%d %s): %s\n", line, r.Status, r.Error.Code, r.Error.Message)
			case r.Duplicate:
				fmt.Fprintf(e.stdout, "line %d: %s (duplicate: accepted earlier with this idempotency key; nothing created)\n", line, r.ID)
			default:
				n := 0
				if r.Deliveries != nil {
					n = *r.Deliveries
				}
				fmt.Fprintf(e.stdout, "line %d: %s accepted, %d deliveries\n", line, r.ID, n)
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

// readBatchLines reads the non-blank lines of in, each one JSON object of
// batchLine's members, and returns them trimmed, with their line numbers.
func readBatchLines(in io.Reader) ([][]byte, []int, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, maxPayloadInput)
	var (
		lines [][]byte
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
		lines, nums = append(lines, bytes.Clone(line)), append(nums, n)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("a line is longer than %d bytes", maxPayloadInput)
		}
		return nil, nil, err
	}
	return lines, nums, nil
}
