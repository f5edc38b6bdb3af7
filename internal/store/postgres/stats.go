package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const (
	attemptCountsQuery = `SELECT count(*),
		count(*) FILTER (WHERE status_code BETWEEN 200 AND 299),
		count(*) FILTER (WHERE status_code > 0 AND status_code NOT BETWEEN 200 AND 299),
		count(*) FILTER (WHERE status_code = 0)
		FROM attempts WHERE endpoint_id = $1 AND started_at >= $2 AND started_at < $3`
	attemptPercentileQuery = `SELECT duration_ns FROM attempts
		WHERE endpoint_id = $1 AND started_at >= $2 AND started_at < $3 ORDER BY duration_ns LIMIT 1 OFFSET $4`
)

// EndpointAttemptStats sums up the endpoint's attempts in [since, until)
// (see store.Stats), from one REPEATABLE READ snapshot, with the same
// nearest-rank percentiles as the SQLite store.
func (s *Store) EndpointAttemptStats(ctx context.Context, endpointID string, since, until time.Time) (store.AttemptStats, error) {
	var st store.AttemptStats
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		st = store.AttemptStats{}
		from, to := ms(since), ms(until)
		if err := tx.QueryRow(ctx, attemptCountsQuery, endpointID, from, to).Scan(&st.Attempts, &st.Succeeded, &st.Failed, &st.Errors); err != nil {
			return err
		}
		if st.Attempts == 0 {
			return nil
		}
		out := []*time.Duration{&st.P50, &st.P95, &st.P99}
		for i, p := range store.Percentiles {
			var ns int64
			if err := tx.QueryRow(ctx, attemptPercentileQuery, endpointID, from, to, store.PercentileOffset(st.Attempts, p)).Scan(&ns); err != nil {
				return fmt.Errorf("p%.0f: %w", p*100, err)
			}
			*out[i] = time.Duration(ns)
		}
		return nil
	})
	if err != nil {
		return store.AttemptStats{}, fmt.Errorf("attempt stats of %s: %w", endpointID, interpretError(err))
	}
	return st, nil
}
