package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hookrelay/hookrelay/internal/store"
)

// sqliteArgs turns bools into SQLite's integers.
func sqliteArgs(args []any) []any {
	for i, a := range args {
		if b, ok := a.(bool); ok {
			args[i] = boolInt(b)
		}
	}
	return args
}

func scanEventType(r scanner) (*store.EventType, error) {
	t, err := store.ScanEventType(r)
	return t, interpretError(err)
}

// CreateEventType inserts t. ErrConflict if its name exists.
func (s *Store) CreateEventType(ctx context.Context, t *store.EventType) error {
	if t.Name == "" {
		return errors.New("create event type: a name is required")
	}
	args := sqliteArgs(store.EventTypeArgs(t))
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO event_types (`+store.EventTypeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("create event type %s: %w", t.Name, err)
	}
	return nil
}

// GetEventType returns the type called name or ErrNotFound.
func (s *Store) GetEventType(ctx context.Context, name string) (*store.EventType, error) {
	row, err := s.queryRow(ctx, `SELECT `+store.EventTypeCols+` FROM event_types WHERE name = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("get event type %s: %w", name, err)
	}
	t, err := scanEventType(row)
	if err != nil {
		return nil, fmt.Errorf("get event type %s: %w", name, err)
	}
	return t, nil
}

// ListEventTypes returns a page of types in name order.
func (s *Store) ListEventTypes(ctx context.Context, f store.EventTypeFilter) ([]*store.EventType, string, error) {
	limit := pageLimit(store.Page{Limit: f.Limit})
	// The prefix is matched with substr, not LIKE, so that '%' and '_'
	// in it mean themselves; the range on name keeps it on the primary key.
	rows, err := s.query(ctx, `SELECT `+store.EventTypeCols+` FROM event_types
		WHERE name > ? AND name >= ? AND substr(name, 1, length(?)) = ?
		ORDER BY name LIMIT ?`, f.Cursor, f.Prefix, f.Prefix, f.Prefix, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list event types: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanEventType)
	if err != nil {
		return nil, "", fmt.Errorf("list event types: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(t *store.EventType) string { return t.Name })
	return out, next, nil
}

// UpdateEventType changes the type called name in one transaction of the
// writer, writing only the columns of fn's patch.
func (s *Store) UpdateEventType(ctx context.Context, name string, fn func(*store.EventType) (store.EventTypePatch, error)) (*store.EventType, error) {
	var out *store.EventType
	err := s.write(ctx, func(w *writer) error {
		out = nil
		cur, err := scanEventType(w.queryRow(`SELECT `+store.EventTypeCols+` FROM event_types WHERE name = ?`, name))
		if err != nil {
			return err
		}
		p, err := fn(cur)
		if err != nil {
			return &fnError{err}
		}
		set := store.EventTypeChanges(p)
		cols := make([]string, len(set))
		args := make([]any, 0, len(set)+1)
		for i, a := range set {
			cols[i] = a.Column + " = ?"
			args = append(args, bindValue(a))
		}
		rows, err := w.queryWrite(`UPDATE event_types SET `+strings.Join(cols, ", ")+` WHERE name = ? RETURNING `+store.EventTypeCols,
			false, append(args, name)...)
		if err != nil {
			return err
		}
		ts, err := store.CollectRows(rows, scanEventType)
		rows.Close()
		if err != nil {
			return err
		}
		if len(ts) != 1 {
			return fmt.Errorf("%d rows updated, want 1", len(ts))
		}
		out = ts[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update event type %s: %w", name, unwrapFn(err))
	}
	return out, nil
}

// DeleteEventType removes the type called name. ErrNotFound if there is
// none.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	err := s.write(ctx, func(w *writer) error {
		n, err := w.exec(`DELETE FROM event_types WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete event type %s: %w", name, err)
	}
	return nil
}
