package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hookrelay/hookrelay/internal/store"
)

func dollar(n int) string { return "$" + strconv.Itoa(n) }

// insertFieldsQuery writes the event_fields rows of event $1, created at
// $2: paths $3 with value keys $4.
const insertFieldsQuery = `INSERT INTO event_fields (event_id, path, value_key, created_at)
	SELECT $1, f.p, f.k, $2 FROM unnest($3::text[], $4::text[]) AS f(p, k)`

// fieldArgs returns the arguments of insertFieldsQuery for an event's
// fields, or nil when it has none.
func fieldArgs(id string, created int64, fs []store.IndexedField) []any {
	if len(fs) == 0 {
		return nil
	}
	paths, keys := make([]string, len(fs)), make([]string, len(fs))
	for i, f := range fs {
		paths[i], keys[i] = f.Path, f.Key
	}
	return []any{id, created, paths, keys}
}

// SearchFields returns the payload paths the store indexes.
func (s *Store) SearchFields() []string { return append([]string(nil), s.searchPaths...) }

// ListEvents returns a page of the events f selects, newest first; see
// store.EventSearch.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, string, error) {
	if err := store.CheckFieldMatches(f.Payload, s.searchPaths); err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	limit := pageLimit(f.Page)
	q, args, err := store.ListEventsQuery(f, eventCols, limit, dollar)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	rows, err := s.pool.Query(ctx, q, args...)
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
