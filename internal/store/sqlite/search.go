package sqlite

import (
	"context"
	"fmt"

	"github.com/hookrelay/hookrelay/internal/store"
)

func qmark(int) string { return "?" }

// SearchFields returns the payload paths the store indexes.
func (s *Store) SearchFields() []string { return append([]string(nil), s.searchPaths...) }

// ListEvents returns a page of the events f selects, newest first; see
// store.EventSearch.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, string, error) {
	if err := store.CheckFieldMatches(f.Payload, s.searchPaths); err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	limit := pageLimit(f.Page)
	q, args, err := store.ListEventsQuery(f, eventCols, limit, qmark)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, next := store.TrimPage(out, limit, store.EventCursor)
	return out, next, nil
}
