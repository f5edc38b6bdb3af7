package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// What both implementations share once a row is read: the SQL differs
// between SQLite and PostgreSQL, the columns and their meaning do not.
// Times are Unix milliseconds in every table.

// RowScanner is one row of a result, as *sql.Row, *sql.Rows, pgx.Row and
// pgx.Rows all are. Both drivers scan NULL into a pointer as nil.
type RowScanner interface {
	Scan(dest ...any) error
}

// AttemptCols are the columns ScanAttempt reads, in order.
const AttemptCols = `id, delivery_id, endpoint_id, event_id, attempt_number, started_at, duration_ns,
	url, request_headers, status_code, error_message, response_body, trigger_kind`

// ScanAttempt reads a row of AttemptCols.
func ScanAttempt(r RowScanner) (*Attempt, error) {
	var (
		a                 Attempt
		started, duration int64
		headers           string
	)
	if err := r.Scan(&a.ID, &a.DeliveryID, &a.EndpointID, &a.EventID, &a.Number, &started, &duration,
		&a.URL, &headers, &a.StatusCode, &a.Error, &a.ResponseBody, &a.Trigger); err != nil {
		return nil, err
	}
	a.StartedAt = time.UnixMilli(started).UTC()
	a.Duration = time.Duration(duration)
	if err := json.Unmarshal([]byte(headers), &a.RequestHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s: decode headers: %w", a.ID, err)
	}
	return &a, nil
}

// RejectionCols are the columns ScanRejection reads, in order.
const RejectionCols = `id, source_id, received_at, reason, detail, remote_addr, headers, body, body_size`

// ScanRejection reads a row of RejectionCols.
func ScanRejection(r RowScanner) (*Rejection, error) {
	var (
		rj       Rejection
		received int64
		headers  string
	)
	if err := r.Scan(&rj.ID, &rj.SourceID, &received, &rj.Reason, &rj.Detail, &rj.RemoteAddr, &headers,
		&rj.Body, &rj.BodySize); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(headers), &rj.Headers); err != nil {
		return nil, fmt.Errorf("rejection %s: decode headers: %w", rj.ID, err)
	}
	if rj.Body == nil {
		rj.Body = []byte{}
	}
	rj.ReceivedAt = time.UnixMilli(received).UTC()
	return &rj, nil
}

// TrimPage takes items read with a LIMIT of limit+1, newest first, and
// returns the page of at most limit items and the cursor of the next page:
// the id of the page's last item, or "" when there is no more.
func TrimPage[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

// IDPageQuery builds the query of a page read newest id first, for
// TrimPage: "SELECT sel", the conditions where (their arguments args,
// placeholders ph(1)... already numbered), "id < cursor" when cursor is
// set, and a LIMIT of limit+1.
func IDPageQuery(sel string, where []string, args []any, cursor string, limit int, ph func(int) string) (string, []any) {
	if cursor != "" {
		args = append(args, cursor)
		where = append(where, "id < "+ph(len(args)))
	}
	q := sel
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	return q + " ORDER BY id DESC LIMIT " + ph(len(args)), args
}

// AddHealth counts one delivery, whose latest attempt started at started,
// into h.
func AddHealth(h *EndpointHealth, status DeliveryStatus, code int, msg string, started time.Time) {
	h.Recent++
	switch status {
	case StatusSucceeded:
		h.Succeeded++
	case StatusFailed:
		h.Failed++
	}
	if h.LastAttemptAt == nil || started.After(*h.LastAttemptAt) {
		h.LastStatus, h.LastError, h.LastAttemptAt = code, msg, &started
	}
}

// HistogramRange checks DeliveryHistogram's arguments and returns the
// range's start and the bucket width, in Unix milliseconds, and the number
// of buckets.
func HistogramRange(f DeliveryFilter, bucket time.Duration) (since, width int64, n int, err error) {
	if f.Since.IsZero() || f.Until.IsZero() {
		return 0, 0, 0, errors.New("since and until are required")
	}
	since, until := f.Since.UnixMilli(), f.Until.UnixMilli()
	width = bucket.Milliseconds()
	if width <= 0 {
		return 0, 0, 0, fmt.Errorf("bucket %v is not a positive number of milliseconds", bucket)
	}
	if until <= since {
		return since, width, 0, nil
	}
	buckets := (until - since + width - 1) / width
	if buckets > MaxHistogramBuckets {
		return 0, 0, 0, fmt.Errorf("%d buckets of %v, more than %d", buckets, bucket, MaxHistogramBuckets)
	}
	return since, width, int(buckets), nil
}

// Rows is a result set, as *sql.Rows and pgx.Rows both are. The caller
// still closes it.
type Rows interface {
	RowScanner
	Next() bool
	Err() error
}

// CollectRows reads every row of rows with scan.
func CollectRows[T any](rows Rows, scan func(RowScanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ImportRecords is the part of Import both stores share. It reads
// records, checks that their kinds come in the order of RecordKinds, turns
// each into a row with row, and hands the rows to flush ImportBatch at a
// time, and at least once (with no rows, for an empty input): first is
// true on the first call, when flush checks that the store is empty. It
// returns how many records it read. Its errors say which record, or which
// records, failed.
func ImportRecords[R any](records iter.Seq2[Record, error], row func(Record) (R, error), flush func(rows []R, first bool) error) (int, error) {
	var (
		batch []R
		n     int
		kind  = -1
		first = true
	)
	send := func() error {
		if err := flush(batch, first); err != nil {
			return fmt.Errorf("import: records up to %d: %w", n, err)
		}
		first = false
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for rec, err := range records {
		if err != nil {
			return n, fmt.Errorf("import: record %d: %w", n+1, err)
		}
		n++
		k := slices.Index(RecordKinds, rec.Kind)
		switch {
		case k < 0:
			return n, fmt.Errorf("import: record %d: unknown kind %q", n, rec.Kind)
		case k < kind:
			return n, fmt.Errorf("import: record %d: a %s record after %s records: records must come in the order %v",
				n, rec.Kind, RecordKinds[kind], RecordKinds)
		}
		kind = k
		r, err := row(rec)
		if err != nil {
			return n, fmt.Errorf("import: record %d: %w", n, err)
		}
		batch = append(batch, r)
		if len(batch) == ImportBatch {
			if err := send(); err != nil {
				return n, err
			}
		}
	}
	if len(batch) > 0 || first {
		if err := send(); err != nil {
			return n, err
		}
	}
	return n, nil
}
