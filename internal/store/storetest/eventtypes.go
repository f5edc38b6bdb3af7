package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/hookrelay/hookrelay/internal/store"
)

// catalogTests are the tests of store.EventTypes; Run runs them with the
// others.
var catalogTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"EventTypeCRUD", testEventTypeCRUD},
	{"EventTypePatchWritesOnlyItsFields", testEventTypePatch},
	{"ListEventTypes", testListEventTypes},
}

func newEventType(name string) *store.EventType {
	n := now()
	return &store.EventType{
		Name:        name,
		Description: "an " + name,
		// A big integer and member order must come back byte for byte.
		Schema:    []byte(`{"type":"object","required":["id"],"properties":{"id":{"type":"integer","maximum":123456789012345678901234567890}}}`),
		Example:   []byte(`{"id": 123456789012345678901234567890, "b": 1.0}`),
		CreatedAt: n,
		UpdatedAt: n,
	}
}

func testEventTypeCRUD(h *harness) {
	t := newEventType("invoice.paid")
	if err := h.s.CreateEventType(h.ctx, t); err != nil {
		h.Fatalf("CreateEventType: %v", err)
	}
	if err := h.s.CreateEventType(h.ctx, newEventType("invoice.paid")); !errors.Is(err, store.ErrConflict) {
		h.Fatalf("CreateEventType of an existing name: %v, want ErrConflict", err)
	}
	got, err := h.s.GetEventType(h.ctx, "invoice.paid")
	if err != nil {
		h.Fatalf("GetEventType: %v", err)
	}
	if !reflect.DeepEqual(got, t) {
		h.Fatalf("GetEventType = %+v\nwant %+v", got, t)
	}

	// A type without schema or example keeps them nil, not empty.
	bare := &store.EventType{Name: "user.created", CreatedAt: now(), UpdatedAt: now()}
	if err := h.s.CreateEventType(h.ctx, bare); err != nil {
		h.Fatalf("CreateEventType: %v", err)
	}
	if got, err := h.s.GetEventType(h.ctx, "user.created"); err != nil || got.Schema != nil || got.Example != nil {
		h.Fatalf("GetEventType(bare) = %+v, %v; want no schema or example", got, err)
	}

	if _, err := h.s.GetEventType(h.ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		h.Fatalf("GetEventType(unknown): %v, want ErrNotFound", err)
	}
	if _, err := h.s.UpdateEventType(h.ctx, "nope", func(*store.EventType) (store.EventTypePatch, error) {
		return store.EventTypePatch{}, nil
	}); !errors.Is(err, store.ErrNotFound) {
		h.Fatalf("UpdateEventType(unknown): %v, want ErrNotFound", err)
	}
	if err := h.s.DeleteEventType(h.ctx, "invoice.paid"); err != nil {
		h.Fatalf("DeleteEventType: %v", err)
	}
	if err := h.s.DeleteEventType(h.ctx, "invoice.paid"); !errors.Is(err, store.ErrNotFound) {
		h.Fatalf("DeleteEventType twice: %v, want ErrNotFound", err)
	}
	if _, err := h.s.GetEventType(h.ctx, "invoice.paid"); !errors.Is(err, store.ErrNotFound) {
		h.Fatalf("GetEventType after delete: %v, want ErrNotFound", err)
	}

	// An error from fn aborts the update, wrapped.
	errNo := errors.New("no")
	if _, err := h.s.UpdateEventType(h.ctx, "user.created", func(*store.EventType) (store.EventTypePatch, error) {
		return store.EventTypePatch{Description: new("x")}, errNo
	}); !errors.Is(err, errNo) {
		h.Fatalf("UpdateEventType with a failing fn: %v, want errNo", err)
	}
	if got, _ := h.s.GetEventType(h.ctx, "user.created"); got.Description != "" {
		h.Fatalf("a failed update wrote description %q", got.Description)
	}
}

// testEventTypePatch runs two updates of different fields at once, many
// times: neither may undo the other, as a read-modify-write of every
// column would.
func testEventTypePatch(h *harness) {
	if err := h.s.CreateEventType(h.ctx, newEventType("order.shipped")); err != nil {
		h.Fatalf("CreateEventType: %v", err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := h.s.UpdateEventType(h.ctx, "order.shipped", func(*store.EventType) (store.EventTypePatch, error) {
				return store.EventTypePatch{Description: new(fmt.Sprintf("d%d", i))}, nil
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := h.s.UpdateEventType(h.ctx, "order.shipped", func(*store.EventType) (store.EventTypePatch, error) {
				return store.EventTypePatch{Deprecated: new(true)}, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			h.Fatalf("UpdateEventType: %v", err)
		}
	}
	got, err := h.s.GetEventType(h.ctx, "order.shipped")
	if err != nil {
		h.Fatalf("GetEventType: %v", err)
	}
	if !got.Deprecated || got.Description == "an order.shipped" {
		h.Fatalf("after concurrent patches: deprecated %v, description %q; want both written", got.Deprecated, got.Description)
	}
	want := newEventType("order.shipped")
	if string(got.Schema) != string(want.Schema) || string(got.Example) != string(want.Example) {
		h.Fatalf("patches of other fields changed schema or example: %s %s", got.Schema, got.Example)
	}

	// Clearing the schema writes NULL; the example stays.
	up, err := h.s.UpdateEventType(h.ctx, "order.shipped", func(*store.EventType) (store.EventTypePatch, error) {
		return store.EventTypePatch{Schema: new([]byte(nil)), Enforce: new(true)}, nil
	})
	if err != nil {
		h.Fatalf("UpdateEventType: %v", err)
	}
	if up.Schema != nil || string(up.Example) != string(want.Example) || !up.Enforce {
		h.Fatalf("after clearing the schema: %+v", up)
	}
}

func testListEventTypes(h *harness) {
	names := []string{"a_b.x", "aXb.y", "invoice.created", "invoice.paid", "invoice.voided", "invoicing.z", "user.created"}
	for _, n := range names {
		if err := h.s.CreateEventType(h.ctx, newEventType(n)); err != nil {
			h.Fatalf("CreateEventType(%s): %v", n, err)
		}
	}
	list := func(f store.EventTypeFilter) []string {
		h.Helper()
		var out []string
		for {
			ts, next, err := h.s.ListEventTypes(h.ctx, f)
			if err != nil {
				h.Fatalf("ListEventTypes: %v", err)
			}
			for _, t := range ts {
				out = append(out, t.Name)
			}
			if next == "" {
				return out
			}
			f.Cursor = next
		}
	}
	// Bytewise name order ('X' < '_' < 'i'), in pages of 2.
	want := []string{"aXb.y", "a_b.x", "invoice.created", "invoice.paid", "invoice.voided", "invoicing.z", "user.created"}
	if got := list(store.EventTypeFilter{Limit: 2}); !reflect.DeepEqual(got, want) {
		h.Fatalf("ListEventTypes = %v, want %v", got, want)
	}
	if got := list(store.EventTypeFilter{Prefix: "invoice.", Limit: 2}); !reflect.DeepEqual(got, want[2:5]) {
		h.Fatalf("ListEventTypes(invoice.) = %v, want %v", got, want[2:5])
	}
	// '_' in a prefix is itself, not a LIKE wildcard.
	if got := list(store.EventTypeFilter{Prefix: "a_"}); !reflect.DeepEqual(got, []string{"a_b.x"}) {
		h.Fatalf("ListEventTypes(a_) = %v, want [a_b.x]", got)
	}
}
