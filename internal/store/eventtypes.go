package store

import (
	"context"
	"time"
)

// EventType is an entry of the event catalog: a type of event the
// installation sends, with what its receivers need to know of it.
type EventType struct {
	// Name is the event type ("invoice.paid"), unique, never changed.
	Name        string
	Description string
	// Schema is a JSON Schema (draft 2020-12) of the payload, stored as
	// is; nil for none.
	Schema []byte
	// Example is an example payload, JSON stored as is; nil for none.
	Example []byte
	// Deprecated marks a type still accepted but not to be used anymore.
	Deprecated bool
	// Enforce makes the API refuse an event of this type whose payload
	// does not match Schema.
	Enforce   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EventTypePatch names the fields of an event type that a change writes;
// nil fields stay as stored.
type EventTypePatch struct {
	Description *string
	// Schema and Example, when set, replace the stored JSON; a pointer to
	// nil clears it.
	Schema     *[]byte
	Example    *[]byte
	Deprecated *bool
	Enforce    *bool
	// UpdatedAt is written with any patch; zero means now.
	UpdatedAt time.Time
}

// EventTypeFilter selects event types to list.
type EventTypeFilter struct {
	// Prefix, when set, selects the types whose name starts with it
	// ("invoice." for the invoice group).
	Prefix string
	// Limit bounds the page: 0 means 50, at most 1000.
	Limit int
	// Cursor is the Next of the previous page; "" for the first.
	Cursor string
}

// EventTypes keeps the event catalog. Types are listed by name, in
// ascending order, so that a group of types sharing a prefix is together.
type EventTypes interface {
	// CreateEventType inserts t; Name, CreatedAt and UpdatedAt must be
	// set. ErrConflict if the name exists.
	CreateEventType(ctx context.Context, t *EventType) error
	// GetEventType returns the type called name or ErrNotFound.
	GetEventType(ctx context.Context, name string) (*EventType, error)
	// ListEventTypes returns a page of types in name order and the
	// cursor of the next page ("" at the end).
	ListEventTypes(ctx context.Context, f EventTypeFilter) ([]*EventType, string, error)
	// UpdateEventType changes the type called name in one transaction: it
	// reads it, calls fn with it and writes only the fields of the patch
	// fn returns, and UpdatedAt. fn runs inside the transaction and may
	// run more than once: it must be quick and pure. An error from fn
	// aborts the update and is returned wrapped. ErrNotFound if there is
	// none. It returns the type as stored after the change.
	UpdateEventType(ctx context.Context, name string, fn func(*EventType) (EventTypePatch, error)) (*EventType, error)
	// DeleteEventType removes the type called name; events of that type
	// are kept. ErrNotFound if there is none.
	DeleteEventType(ctx context.Context, name string) error
}

// EventTypeCols are the columns of the event_types table, in the order
// ScanEventType reads them.
const EventTypeCols = `name, description, schema, example, deprecated, enforce, created_at, updated_at`

// EventTypeChanges turns p into the assignments that apply it. Schema and
// example are text columns; a nil []byte is NULL.
func EventTypeChanges(p EventTypePatch) []Assignment {
	var out []Assignment
	set := func(col string, v any) { out = append(out, Assignment{col, v}) }
	if p.Description != nil {
		set("description", *p.Description)
	}
	if p.Schema != nil {
		set("schema", textOrNull(*p.Schema))
	}
	if p.Example != nil {
		set("example", textOrNull(*p.Example))
	}
	if p.Deprecated != nil {
		set("deprecated", *p.Deprecated)
	}
	if p.Enforce != nil {
		set("enforce", *p.Enforce)
	}
	at := p.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	set("updated_at", at.UnixMilli())
	return out
}

// EventTypeArgs returns the values of EventTypeCols for t, schema and
// example as text (nil for NULL), the flags as bools.
func EventTypeArgs(t *EventType) []any {
	return []any{t.Name, t.Description, textOrNull(t.Schema), textOrNull(t.Example), t.Deprecated, t.Enforce,
		t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli()}
}

func textOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// ScanEventType reads a row of EventTypeCols, its flags as either driver
// stores them.
func ScanEventType(r RowScanner) (*EventType, error) {
	var (
		t                   EventType
		schema, example     *string
		deprecated, enforce any
		created, updated    int64
	)
	if err := r.Scan(&t.Name, &t.Description, &schema, &example, &deprecated, &enforce, &created, &updated); err != nil {
		return nil, err
	}
	if schema != nil {
		t.Schema = []byte(*schema)
	}
	if example != nil {
		t.Example = []byte(*example)
	}
	t.Deprecated, t.Enforce = truthy(deprecated), truthy(enforce)
	t.CreatedAt, t.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &t, nil
}

// truthy reads a flag column: a bool (PostgreSQL) or an integer (SQLite).
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v != 0
	}
	return false
}

// EventTypeRecord is the Data of a KindEventType Record: a row of
// EventType, its schema and example as the exact text stored.
type EventTypeRecord struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Schema      *string `json:"schema"`  // null when none
	Example     *string `json:"example"` // null when none
	Deprecated  bool    `json:"deprecated"`
	Enforce     bool    `json:"enforce"`
	CreatedAt   int64   `json:"created_at"`
	UpdatedAt   int64   `json:"updated_at"`
}

// EventTypeRecordOf returns the record of t.
func EventTypeRecordOf(t *EventType) *EventTypeRecord {
	r := &EventTypeRecord{Name: t.Name, Description: t.Description, Deprecated: t.Deprecated, Enforce: t.Enforce,
		CreatedAt: t.CreatedAt.UnixMilli(), UpdatedAt: t.UpdatedAt.UnixMilli()}
	if t.Schema != nil {
		r.Schema = new(string(t.Schema))
	}
	if t.Example != nil {
		r.Example = new(string(t.Example))
	}
	return r
}

// EventType returns the event type r records.
func (r *EventTypeRecord) EventType() *EventType {
	t := &EventType{Name: r.Name, Description: r.Description, Deprecated: r.Deprecated, Enforce: r.Enforce,
		CreatedAt: time.UnixMilli(r.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC()}
	if r.Schema != nil {
		t.Schema = []byte(*r.Schema)
	}
	if r.Example != nil {
		t.Example = []byte(*r.Example)
	}
	return t
}
