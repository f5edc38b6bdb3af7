package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/filter"
)

// Finding events by a payload field
//
// A store indexes the payload fields it was told are searchable (its
// Config.SearchFields, the serve flag --search-field): as it stores an
// event, in the same transaction, it writes one row of the event_fields
// table for each searchable path whose value in the payload is a string, a
// number, a boolean or null, holding the path and the value's FieldKey. A
// FieldMatch on such a path is then an index lookup whatever the number of
// events. A query on a path that is not searchable fails with
// ErrNotSearchable rather than scanning every payload.
//
// Only events stored while a path was searchable are found by it: declaring
// a path later does not index older events (an export and import into a
// store with the path declared does). Erasing an event's payload deletes its
// rows, and so does deleting the event (prune): erased content is not
// searchable. Export does not write the rows; Import makes them again from
// the payloads, with the importing store's paths.

// ErrNotSearchable is returned (wrapped) by ListEvents and ListDeliveries
// for a FieldMatch on a path the store does not index.
var ErrNotSearchable = errors.New("payload path is not searchable")

// MaxSearchFields bounds how many paths a store indexes, and
// MaxFieldMatches how many FieldMatches one query may hold.
const (
	MaxSearchFields = 32
	MaxFieldMatches = 4
)

// maxFieldKey is the longest FieldKey kept as is; a longer one is replaced
// by its SHA-256, so that index entries stay small and lookups exact.
const maxFieldKey = 128

// FieldMatch asks for events whose payload holds a value at Path: a dotted
// path of object members ("order.id"), Key the FieldKey of a JSON value
// (see ParseFieldValue).
type FieldMatch struct {
	Path string
	Key  string
}

// EventFilter selects events to list, newest first (by CreatedAt, then
// ID); empty fields match all.
type EventFilter struct {
	Tenant *string // nil: any tenant
	// Type is an event type, or a prefix ending in ".*" ("invoice.*"
	// matches "invoice.paid" and "invoice.line.added").
	Type       string
	EndpointID string         // events that have a delivery to this endpoint
	Status     DeliveryStatus // events that have a delivery in this status (to EndpointID if set)
	Since      time.Time      // created at or after; zero for no bound
	Until      time.Time      // created before; zero for no bound
	Payload    []FieldMatch   // every match must hold
	Page
}

// EventSearch finds events (search.go).
type EventSearch interface {
	// ListEvents returns a page of the events f selects, newest first, and
	// the cursor of the next page ("" at the end). Erased events are
	// listed (their payload empty) but no FieldMatch finds them.
	// ErrNotSearchable (wrapped) for a FieldMatch on a path the store
	// does not index; an error wrapping ErrBadCursor for a cursor it did
	// not make.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// SearchFields returns the payload paths the store indexes, sorted.
	SearchFields() []string
}

// ErrBadCursor is returned (wrapped) for a page cursor a list did not make.
var ErrBadCursor = errors.New("bad page cursor")

// SearchPaths checks and normalizes a store's searchable paths: each a
// dotted path of non-empty members, at most MaxSearchFields of them,
// returned sorted without duplicates.
func SearchPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := checkPath(p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxSearchFields {
		return nil, fmt.Errorf("%d searchable payload paths: at most %d", len(out), MaxSearchFields)
	}
	return out, nil
}

func checkPath(p string) error {
	if len(p) > 200 {
		return fmt.Errorf("payload path %.40q...: longer than 200 bytes", p)
	}
	for s := range strings.SplitSeq(p, ".") {
		if s == "" {
			return fmt.Errorf("payload path %q has an empty member", p)
		}
	}
	return nil
}

// CheckFieldMatches returns ErrNotSearchable (wrapped, naming the path and
// how to declare it) if a match's path is not one of paths (sorted), and an
// error if there are more than MaxFieldMatches.
func CheckFieldMatches(ms []FieldMatch, paths []string) error {
	if len(ms) > MaxFieldMatches {
		return fmt.Errorf("%d payload conditions: at most %d", len(ms), MaxFieldMatches)
	}
	for _, m := range ms {
		if _, ok := slices.BinarySearch(paths, m.Path); !ok {
			return fmt.Errorf("%w: %q (declare it with the serve flag --search-field %s, or HOOKRELAY_SEARCH_FIELDS; searchable now: %s)",
				ErrNotSearchable, m.Path, m.Path, orNone(paths))
		}
	}
	return nil
}

func orNone(paths []string) string {
	if len(paths) == 0 {
		return "none"
	}
	return strings.Join(paths, ", ")
}

// FieldKey returns the key under which a JSON value is indexed and looked
// up, and false for a value that is not indexed (an object, an array, a
// number with an exponent beyond filter.MaxExponent). Two values have the
// same key when they are equal as the filter package compares them:
// strings by their text ("s:" prefix), numbers by their exact value (123,
// 123.0 and 1.23e2 alike; "n:"), true, false and null. A key longer than
// 128 bytes is the SHA-256 of the long form.
func FieldKey(v any) (string, bool) {
	var k string
	switch v := v.(type) {
	case nil:
		k = "null"
	case bool:
		k = "b:" + strconv.FormatBool(v)
	case string:
		k = "s:" + v
	case json.Number:
		r, ok := exactNumber(string(v))
		if !ok {
			return "", false
		}
		k = "n:" + r.RatString()
	default:
		return "", false
	}
	if len(k) > maxFieldKey {
		sum := sha256.Sum256([]byte(k))
		k = "h:" + hex.EncodeToString(sum[:])
	}
	return k, true
}

// exactNumber parses a JSON number's text to its exact value.
func exactNumber(s string) (*big.Rat, bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > filter.MaxExponent || e < -filter.MaxExponent {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}

// ParseFieldValue returns the FieldKey a query's value text stands for: a
// JSON string in double quotes is that string ("\"123\"" forces a string),
// a JSON number, true, false or null is that value, and any other text is
// a string as given (order.status=paid). Objects and arrays are refused.
func ParseFieldValue(text string) (string, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || d.More() {
		v = text
	}
	k, ok := FieldKey(v)
	if !ok {
		return "", fmt.Errorf("payload value %.40q: want a string, a number, true, false or null", text)
	}
	return k, nil
}

// IndexedField is one row of event_fields: a searchable path and its
// value's key in one event's payload.
type IndexedField struct {
	Path string
	Key  string
}

// PayloadFields returns the rows to index for a payload under the
// searchable paths: none when there are no paths or the payload is not
// JSON. A path reaches through objects only; a path whose value is absent,
// an object or an array has no row.
func PayloadFields(payload []byte, paths []string) []IndexedField {
	if len(paths) == 0 || len(payload) == 0 {
		return nil
	}
	v, err := filter.Decode(payload)
	if err != nil {
		return nil
	}
	var out []IndexedField
	for _, p := range paths {
		cur, ok := v, true
		for s := range strings.SplitSeq(p, ".") {
			o, isObj := cur.(map[string]any)
			if !isObj {
				ok = false
				break
			}
			if cur, ok = o[s]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		if k, ok := FieldKey(cur); ok {
			out = append(out, IndexedField{Path: p, Key: k})
		}
	}
	return out
}

// EventCursor is the cursor of the page after ev in ListEvents' order.
func EventCursor(ev *Event) string {
	return strconv.FormatInt(ev.CreatedAt.UnixMilli(), 10) + "~" + ev.ID
}

// ParseEventCursor reads an EventCursor: the created_at (Unix
// milliseconds) and id of the last event of the previous page.
func ParseEventCursor(c string) (int64, string, error) {
	ts, id, ok := strings.Cut(c, "~")
	at, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", fmt.Errorf("%w: %.40q", ErrBadCursor, c)
	}
	return at, id, nil
}

// TypePrefix returns the prefix a ".*" type filter stands for ("invoice.*"
// is "invoice."), and false for an exact type.
func TypePrefix(t string) (string, bool) {
	p, ok := strings.CutSuffix(t, "*")
	if !ok || !strings.HasSuffix(p, ".") {
		return "", false
	}
	return p, true
}

// PrefixEnd returns the smallest string greater than every string that
// starts with p (p ends in "."), for a range scan: "invoice." gives
// "invoice/".
func PrefixEnd(p string) string {
	return p[:len(p)-1] + string(rune(p[len(p)-1]+1))
}
