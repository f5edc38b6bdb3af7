package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

func scanEventType(r store.RowScanner) (*store.EventType, error) {
	t, err := store.ScanEventType(r)
	return t, interpretError(err)
}

// CreateEventType inserts t. ErrConflict if its name exists.
func (s *Store) CreateEventType(ctx context.Context, t *store.EventType) error {
	if t.Name == "" {
		return errors.New("create event type: a name is required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO event_types (`+store.EventTypeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		store.EventTypeArgs(t)...)
	if err != nil {
		return fmt.Errorf("create event type %s: %w", t.Name, interpretError(err))
	}
	return nil
}

// GetEventType returns the type called name or ErrNotFound.
func (s *Store) GetEventType(ctx context.Context, name string) (*store.EventType, error) {
	t, err := scanEventType(s.pool.QueryRow(ctx, `SELECT `+store.EventTypeCols+` FROM event_types WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("get event type %s: %w", name, err)
	}
	return t, nil
}

// ListEventTypes returns a page of types in name order.
func (s *Store) ListEventTypes(ctx context.Context, f store.EventTypeFilter) ([]*store.EventType, string, error) {
	limit := pageLimit(store.Page{Limit: f.Limit})
	// The prefix is matched with left(), not LIKE, so that '%' and '_' in
	// it mean themselves; COLLATE "C" orders names bytewise, as SQLite does.
	rows, err := s.pool.Query(ctx, `SELECT `+store.EventTypeCols+` FROM event_types
		WHERE name COLLATE "C" > $1 AND left(name, length($2)) = $2
		ORDER BY name COLLATE "C" LIMIT $3`, f.Cursor, f.Prefix, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list event types: %w", interpretError(err))
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanEventType)
	if err != nil {
		return nil, "", fmt.Errorf("list event types: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(t *store.EventType) string { return t.Name })
	return out, next, nil
}

// UpdateEventType changes the type called name in one transaction: it
// reads the row FOR UPDATE, calls fn, and updates only the columns of fn's
// patch.
func (s *Store) UpdateEventType(ctx context.Context, name string, fn func(*store.EventType) (store.EventTypePatch, error)) (*store.EventType, error) {
	var out *store.EventType
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		cur, err := scanEventType(tx.QueryRow(ctx, `SELECT `+store.EventTypeCols+` FROM event_types WHERE name = $1 FOR UPDATE`, name))
		if err != nil {
			return err
		}
		p, err := fn(cur)
		if err != nil {
			return err
		}
		set := store.EventTypeChanges(p)
		parts := make([]string, len(set))
		args := make([]any, 0, len(set)+1)
		for i, a := range set {
			args = append(args, a.Value)
			parts[i] = a.Column + " = $" + strconv.Itoa(len(args))
		}
		args = append(args, name)
		q := `UPDATE event_types SET ` + strings.Join(parts, ", ") + ` WHERE name = $` + strconv.Itoa(len(args)) +
			` RETURNING ` + store.EventTypeCols
		out, err = scanEventType(tx.QueryRow(ctx, q, args...))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update event type %s: %w", name, err)
	}
	return out, nil
}

// DeleteEventType removes the type called name. ErrNotFound if there is
// none.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM event_types WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete event type %s: %w", name, interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete event type %s: %w", name, store.ErrNotFound)
	}
	return nil
}
