package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

// The queries of ReplayFailedBatch walk the replayable deliveries of an
// endpoint by creation through the partial index deliveries_replayable
// (see the SQLite store's).
const (
	failedCols = `d.id, d.event_type, d.status, d.created_at,
		EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.erased_at IS NOT NULL)`
	failedFirstQuery = `SELECT ` + failedCols + ` FROM deliveries d
		WHERE d.endpoint_id = $1 AND d.status IN ('failed', 'canceled') AND d.created_at >= $2 AND d.created_at < $3
		ORDER BY d.created_at, d.id LIMIT $4`
	failedNextQuery = `SELECT ` + failedCols + ` FROM deliveries d
		WHERE d.endpoint_id = $1 AND d.status IN ('failed', 'canceled') AND (d.created_at, d.id) > ($2, $3) AND d.created_at < $4
		ORDER BY d.created_at, d.id LIMIT $5`
)

func scanFailed(r store.RowScanner) (store.ReplayFailedCandidate, error) {
	var (
		c      store.ReplayFailedCandidate
		status string
	)
	if err := r.Scan(&c.ID, &c.EventType, &status, &c.CreatedAt, &c.Erased); err != nil {
		return c, interpretError(err)
	}
	c.Status = store.DeliveryStatus(status)
	return c, nil
}

// ReplayFailedBatch makes one batch of an endpoint's failed deliveries
// pending again, in one transaction under the endpoint's lock (see
// store.ReplayFailer).
func (s *Store) ReplayFailedBatch(ctx context.Context, p store.ReplayFailedParams) (store.ReplayResult, error) {
	var res store.ReplayResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = replayFailed(ctx, tx, p)
		return err
	})
	if err != nil {
		return store.ReplayResult{}, fmt.Errorf("replay failed deliveries of %s: %w", p.EndpointID, err)
	}
	return res, nil
}

func replayFailed(ctx context.Context, tx pgx.Tx, p store.ReplayFailedParams) (store.ReplayResult, error) {
	if _, err := store.ReplayStatuses(p.Statuses); err != nil {
		return store.ReplayResult{}, err
	}
	afterMS, afterID, ok := store.ParseReplayCursor(p.After)
	if !ok {
		return store.ReplayResult{}, fmt.Errorf("malformed cursor %q", p.After)
	}
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultReplayBatch
	}
	until := int64(math.MaxInt64)
	if !p.Until.IsZero() {
		until = ms(p.Until)
	}
	if err := lockAll(ctx, tx, []xlock{endpointLock(p.EndpointID)}); err != nil {
		return store.ReplayResult{}, err
	}
	var disabled, fifo bool
	if err := tx.QueryRow(ctx, `SELECT disabled, fifo FROM endpoints WHERE id = $1`, p.EndpointID).Scan(&disabled, &fifo); err != nil {
		return store.ReplayResult{}, interpretError(err)
	}
	q, args := failedFirstQuery, []any{p.EndpointID, ms(p.Since), until, batch}
	if p.After != "" {
		q, args = failedNextQuery, []any{p.EndpointID, afterMS, afterID, until, batch}
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return store.ReplayResult{}, interpretError(err)
	}
	looked, err := store.CollectRows(rows, scanFailed)
	rows.Close()
	if err != nil {
		return store.ReplayResult{}, err
	}
	res, ids := store.PlanReplayFailed(p, batch, looked)
	if len(ids) == 0 {
		return res, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, leased_until = NULL,
		completed_at = NULL, updated_at = $1, fifo = $2, hold = $3
		WHERE id = ANY($4::text[]) AND status IN ('failed', 'canceled')`, ms(p.Now), fifo, disabled || fifo, ids)
	if err != nil {
		return store.ReplayResult{}, interpretError(err)
	}
	res.Queued = int(tag.RowsAffected())
	if res.Queued > 0 && fifo && !disabled {
		if err := rehold(ctx, tx, p.EndpointID, false, true, p.Now); err != nil {
			return store.ReplayResult{}, err
		}
	}
	return res, nil
}

// textOrNil is nullString of s made acceptable to a TEXT column.
func textOrNil(s string) *string { return nullString(cleanText(s)) }

// msOrNil is t in milliseconds, or NULL for the zero time.
func msOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	return nullMS(&t)
}

// CreateReplayJob inserts j, queued.
func (s *Store) CreateReplayJob(ctx context.Context, j *store.ReplayJob) error {
	if j.ID == "" || j.CreatedAt.IsZero() {
		return errors.New("create replay job: id and creation time are required")
	}
	var tenant *string
	if j.Tenant != nil {
		tenant = textOrNil(*j.Tenant)
		if tenant == nil {
			tenant = new(string)
		}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO replay_jobs (id, tenant, endpoint_id, kind, since, until, event_types, statuses, rate,
		state, created_at, not_before) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $10)`,
		j.ID, tenant, textOrNil(j.EndpointID), string(j.Kind), ms(j.Since), msOrNil(j.Until),
		cleanText(store.EncodeReplayList(j.EventTypes)), store.EncodeReplayList(j.Statuses), j.Rate, ms(j.CreatedAt)); err != nil {
		return fmt.Errorf("create replay job: %w", interpretError(err))
	}
	j.State, j.NotBefore = store.ReplayQueued, j.CreatedAt
	return nil
}

// GetReplayJob returns the job or ErrNotFound.
func (s *Store) GetReplayJob(ctx context.Context, id string) (*store.ReplayJob, error) {
	j, err := store.ScanReplayJob(s.pool.QueryRow(ctx, `SELECT `+store.ReplayJobCols+` FROM replay_jobs WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get replay job %s: %w", id, interpretError(err))
	}
	return j, nil
}

// ListReplayJobs returns a page of jobs, newest first.
func (s *Store) ListReplayJobs(ctx context.Context, f store.ReplayJobFilter) ([]*store.ReplayJob, string, error) {
	limit := pageLimit(f.Page)
	var (
		where []string
		args  []any
	)
	if f.Tenant != nil {
		where, args = []string{"tenant = $1"}, []any{*f.Tenant}
	}
	q, args := store.IDPageQuery(`SELECT `+store.ReplayJobCols+` FROM replay_jobs`, where, args, f.Cursor, limit, dollar)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list replay jobs: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, store.ScanReplayJob)
	if err != nil {
		return nil, "", fmt.Errorf("list replay jobs: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(j *store.ReplayJob) string { return j.ID })
	return out, next, nil
}

// CancelReplayJob cancels a job that is not done. The job row's lock
// orders it with RunReplayBatch: no batch commits after it.
func (s *Store) CancelReplayJob(ctx context.Context, id string, now time.Time) (*store.ReplayJob, error) {
	var (
		j *store.ReplayJob
		n int64
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE replay_jobs SET state = 'canceled', finished_at = $1, leased_by = NULL, leased_until = NULL
			WHERE id = $2 AND state IN ('queued', 'running')`, ms(now), id)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		j, err = store.ScanReplayJob(tx.QueryRow(ctx, `SELECT `+store.ReplayJobCols+` FROM replay_jobs WHERE id = $1`, id))
		return interpretError(err)
	})
	if err != nil {
		return nil, fmt.Errorf("cancel replay job %s: %w", id, err)
	}
	if n == 0 {
		return j, fmt.Errorf("cancel replay job %s: it is %s already: %w", id, j.State, store.ErrConflict)
	}
	return j, nil
}

// ClaimReplayJob leases the oldest ready job to node; concurrent claims
// of several nodes skip each other's rows.
func (s *Store) ClaimReplayJob(ctx context.Context, node string, now, leaseUntil time.Time) (*store.ReplayJob, error) {
	j, err := store.ScanReplayJob(s.pool.QueryRow(ctx, `UPDATE replay_jobs SET state = 'running', started_at = coalesce(started_at, $1),
			leased_by = $2, leased_until = $3
		WHERE id = (SELECT id FROM replay_jobs
			WHERE state IN ('queued', 'running') AND not_before <= $1
			AND (leased_until IS NULL OR leased_until <= $1 OR leased_by = $2) ORDER BY not_before, id LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+store.ReplayJobCols, ms(now), node, ms(leaseUntil)))
	if err != nil {
		return nil, fmt.Errorf("claim replay job: %w", interpretError(err))
	}
	return j, nil
}

// NextReplayJobAt returns the earliest NotBefore of the jobs not done.
func (s *Store) NextReplayJobAt(ctx context.Context) (time.Time, bool, error) {
	var at *int64
	if err := s.pool.QueryRow(ctx, `SELECT min(not_before) FROM replay_jobs WHERE state IN ('queued', 'running')`).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("next replay job: %w", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return fromMS(*at), true, nil
}

// RunReplayBatch runs one batch of the job and saves its progress in one
// transaction that holds the job's row lock.
func (s *Store) RunReplayBatch(ctx context.Context, p store.ReplayBatchParams) (*store.ReplayJob, error) {
	var j *store.ReplayJob
	err := s.retryMoved(ctx, func(tx pgx.Tx) error {
		var leasedBy *string
		if err := tx.QueryRow(ctx, `SELECT leased_by FROM replay_jobs WHERE id = $1 FOR UPDATE`, p.JobID).Scan(&leasedBy); err != nil {
			return interpretError(err)
		}
		var err error
		j, err = store.ScanReplayJob(tx.QueryRow(ctx, `SELECT `+store.ReplayJobCols+` FROM replay_jobs WHERE id = $1`, p.JobID))
		if err != nil {
			return interpretError(err)
		}
		if j.State != store.ReplayRunning || leasedBy == nil || *leasedBy != p.Node {
			return store.ErrLeaseLost
		}
		if err := store.StepReplayJob(j, txBatcher{s: s, ctx: ctx, tx: tx}, p.Now, p.Batch); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE replay_jobs SET scanned = $1, queued = $2, cursor = $3, state = $4, finished_at = $5,
			not_before = $6, leased_until = $7 WHERE id = $8`,
			j.Scanned, j.Queued, j.Cursor, string(j.State), nullMS(j.FinishedAt), ms(j.NotBefore), ms(p.LeaseUntil), j.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("run replay job %s: %w", p.JobID, err)
	}
	return j, nil
}

// FailReplayJob makes a job that is not done failed.
func (s *Store) FailReplayJob(ctx context.Context, id, reason string, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE replay_jobs SET state = 'failed', error = $1, finished_at = $2, leased_by = NULL, leased_until = NULL
		WHERE id = $3 AND state IN ('queued', 'running')`, cleanText(reason), ms(now), id); err != nil {
		return fmt.Errorf("fail replay job %s: %w", id, err)
	}
	return nil
}

// txBatcher runs the batches of store.StepReplayJob in one transaction.
// It holds ctx for the one call of StepReplayJob it serves.
type txBatcher struct {
	s   *Store
	ctx context.Context
	tx  pgx.Tx
}

func (b txBatcher) NextEndpoint(tenant *string, after string) (string, error) {
	var row pgx.Row
	if tenant == nil {
		row = b.tx.QueryRow(b.ctx, `SELECT id FROM endpoints WHERE id > $1 ORDER BY id LIMIT 1`, after)
	} else {
		row = b.tx.QueryRow(b.ctx, `SELECT id FROM endpoints WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT 1`, *tenant, after)
	}
	var id string
	if err := row.Scan(&id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	return id, nil
}

func (b txBatcher) Failed(p store.ReplayFailedParams) (store.ReplayResult, error) {
	return replayFailed(b.ctx, b.tx, p)
}

func (b txBatcher) Missing(p store.ReplayMissingParams, skipDisabled bool) (store.ReplayMissingResult, error) {
	return b.s.replayMissing(b.ctx, b.tx, p, p.Batch, skipDisabled)
}
