package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const (
	attemptCountsQuery = `SELECT count(*),
		coalesce(sum(status_code BETWEEN 200 AND 299), 0),
		coalesce(sum(status_code > 0 AND status_code NOT BETWEEN 200 AND 299), 0),
		coalesce(sum(status_code = 0), 0)
		FROM attempts INDEXED BY attempts_endpoint WHERE endpoint_id = ? AND started_at >= ? AND started_at < ?`
	attemptPercentileQuery = `SELECT duration_ns FROM attempts INDEXED BY attempts_endpoint
		WHERE endpoint_id = ? AND started_at >= ? AND started_at < ? ORDER BY duration_ns LIMIT 1 OFFSET ?`
)

// EndpointAttemptStats sums up the endpoint's attempts in [since, until)
// (see store.Stats), from one read transaction.
func (s *Store) EndpointAttemptStats(ctx context.Context, endpointID string, since, until time.Time) (store.AttemptStats, error) {
	var st store.AttemptStats
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("attempt stats of %s: %w", endpointID, err)
	}
	defer tx.Rollback()
	from, to := ms(since), ms(until)
	if err := tx.QueryRowContext(ctx, attemptCountsQuery, endpointID, from, to).Scan(&st.Attempts, &st.Succeeded, &st.Failed, &st.Errors); err != nil {
		return st, fmt.Errorf("attempt stats of %s: %w", endpointID, interpretError(err))
	}
	if st.Attempts == 0 {
		return st, nil
	}
	out := []*time.Duration{&st.P50, &st.P95, &st.P99}
	for i, p := range store.Percentiles {
		var ns int64
		if err := tx.QueryRowContext(ctx, attemptPercentileQuery, endpointID, from, to, store.PercentileOffset(st.Attempts, p)).Scan(&ns); err != nil {
			return st, fmt.Errorf("attempt stats of %s: p%.0f: %w", endpointID, p*100, interpretError(err))
		}
		*out[i] = time.Duration(ns)
	}
	return st, nil
}
