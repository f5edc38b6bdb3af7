package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// The queries of ReplayFailedBatch walk the replayable deliveries of an
// endpoint by creation through the partial index deliveries_replayable, so
// that a batch looks at failed and canceled deliveries only, however many
// succeeded in the window.
const (
	failedCols = `d.id, d.event_type, d.status, d.created_at,
		EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.erased_at IS NOT NULL)`
	failedFirstQuery = `SELECT ` + failedCols + ` FROM deliveries d INDEXED BY deliveries_replayable
		WHERE d.endpoint_id = ? AND d.status IN ('failed', 'canceled') AND d.created_at >= ? AND d.created_at < ?
		ORDER BY d.created_at, d.id LIMIT ?`
	failedNextQuery = `SELECT ` + failedCols + ` FROM deliveries d INDEXED BY deliveries_replayable
		WHERE d.endpoint_id = ? AND d.status IN ('failed', 'canceled') AND (d.created_at, d.id) > (?, ?) AND d.created_at < ?
		ORDER BY d.created_at, d.id LIMIT ?`
)

func scanFailed(r scanner) (store.ReplayFailedCandidate, error) {
	var (
		c      store.ReplayFailedCandidate
		status string
		erased int64
	)
	if err := r.Scan(&c.ID, &c.EventType, &status, &c.CreatedAt, &erased); err != nil {
		return c, interpretError(err)
	}
	c.Status, c.Erased = store.DeliveryStatus(status), erased != 0
	return c, nil
}

// ReplayFailedBatch makes one batch of an endpoint's failed deliveries
// pending again, in one transaction of the writer (see store.ReplayFailer).
func (s *Store) ReplayFailedBatch(ctx context.Context, p store.ReplayFailedParams) (store.ReplayResult, error) {
	var res store.ReplayResult
	err := s.write(ctx, func(w *writer) error {
		var err error
		res, err = w.replayFailed(p)
		return err
	})
	if err != nil {
		return store.ReplayResult{}, fmt.Errorf("replay failed deliveries of %s: %w", p.EndpointID, err)
	}
	return res, nil
}

func (w *writer) replayFailed(p store.ReplayFailedParams) (store.ReplayResult, error) {
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
	e, err := w.endpoint(p.EndpointID)
	if err != nil {
		return store.ReplayResult{}, err
	}
	q, args := failedFirstQuery, []any{e.ID, ms(p.Since), until, batch}
	if p.After != "" {
		q, args = failedNextQuery, []any{e.ID, afterMS, afterID, until, batch}
	}
	rows, err := w.query(q, args...)
	if err != nil {
		return store.ReplayResult{}, err
	}
	looked, err := store.CollectRows(rows, scanFailed)
	rows.Close()
	if err != nil {
		return store.ReplayResult{}, err
	}
	res, ids := store.PlanReplayFailed(p, batch, looked)
	now := ms(p.Now)
	hold := boolInt(e.Disabled || e.FIFO)
	if len(ids) > 0 {
		list, err := json.Marshal(ids)
		if err != nil {
			return store.ReplayResult{}, err
		}
		n, err := w.exec(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, leased_until = NULL,
			completed_at = NULL, updated_at = ?, fifo = ?, hold = ?
			WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('failed', 'canceled')`,
			now, now, boolInt(e.FIFO), hold, string(list))
		if err != nil {
			return store.ReplayResult{}, err
		}
		res.Queued = int(n)
	}
	if res.Queued > 0 && e.FIFO && !e.Disabled {
		if err := w.rehold(e.ID, false, true, p.Now); err != nil {
			return store.ReplayResult{}, err
		}
	}
	return res, nil
}

// CreateReplayJob inserts j, queued.
func (s *Store) CreateReplayJob(ctx context.Context, j *store.ReplayJob) error {
	if j.ID == "" || j.CreatedAt.IsZero() {
		return errors.New("create replay job: id and creation time are required")
	}
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO replay_jobs (id, tenant, endpoint_id, kind, since, until, event_types, statuses, rate,
			state, created_at, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
			j.ID, j.Tenant, nullString(j.EndpointID), string(j.Kind), ms(j.Since), nullTime(j.Until),
			store.EncodeReplayList(j.EventTypes), store.EncodeReplayList(j.Statuses), j.Rate, ms(j.CreatedAt), ms(j.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create replay job: %w", err)
	}
	j.State, j.NotBefore = store.ReplayQueued, j.CreatedAt
	return nil
}

func nullTime(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: ms(t), Valid: !t.IsZero()}
}

// GetReplayJob returns the job or ErrNotFound.
func (s *Store) GetReplayJob(ctx context.Context, id string) (*store.ReplayJob, error) {
	row, err := s.queryRow(ctx, `SELECT `+store.ReplayJobCols+` FROM replay_jobs WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get replay job %s: %w", id, err)
	}
	j, err := store.ScanReplayJob(row)
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
		where, args = []string{"tenant = ?"}, []any{*f.Tenant}
	}
	q, args := store.IDPageQuery(`SELECT `+store.ReplayJobCols+` FROM replay_jobs`, where, args, f.Cursor, limit, qmark)
	rows, err := s.query(ctx, q, args...)
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

// CancelReplayJob cancels a job that is not done.
func (s *Store) CancelReplayJob(ctx context.Context, id string, now time.Time) (*store.ReplayJob, error) {
	var (
		j *store.ReplayJob
		n int64
	)
	err := s.write(ctx, func(w *writer) error {
		var err error
		if n, err = w.exec(`UPDATE replay_jobs SET state = 'canceled', finished_at = ?, leased_by = NULL, leased_until = NULL
			WHERE id = ? AND state IN ('queued', 'running')`, ms(now), id); err != nil {
			return err
		}
		j, err = store.ScanReplayJob(w.queryRow(`SELECT `+store.ReplayJobCols+` FROM replay_jobs WHERE id = ?`, id))
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

// ClaimReplayJob leases the oldest ready job to node.
func (s *Store) ClaimReplayJob(ctx context.Context, node string, now, leaseUntil time.Time) (*store.ReplayJob, error) {
	var j *store.ReplayJob
	err := s.write(ctx, func(w *writer) error {
		rows, err := w.queryWrite(`UPDATE replay_jobs SET state = 'running', started_at = coalesce(started_at, ?),
			leased_by = ?, leased_until = ?
			WHERE id = (SELECT id FROM replay_jobs INDEXED BY replay_jobs_active
				WHERE state IN ('queued', 'running') AND not_before <= ?
				AND (leased_until IS NULL OR leased_until <= ? OR leased_by = ?) ORDER BY not_before, id LIMIT 1)
			RETURNING `+store.ReplayJobCols, false, ms(now), node, ms(leaseUntil), ms(now), ms(now), node)
		if err != nil {
			return err
		}
		jobs, err := store.CollectRows(rows, store.ScanReplayJob)
		rows.Close()
		if err != nil {
			return err
		}
		if len(jobs) == 0 {
			j = nil
			return store.ErrNotFound
		}
		j = jobs[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim replay job: %w", err)
	}
	return j, nil
}

// NextReplayJobAt returns the earliest NotBefore of the jobs not done.
func (s *Store) NextReplayJobAt(ctx context.Context) (time.Time, bool, error) {
	row, err := s.queryRow(ctx, `SELECT min(not_before) FROM replay_jobs WHERE state IN ('queued', 'running')`)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next replay job: %w", err)
	}
	var at sql.NullInt64
	if err := row.Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("next replay job: %w", err)
	}
	return fromMS(at.Int64), at.Valid, nil
}

// RunReplayBatch runs one batch of the job and saves its progress, in one
// transaction of the writer.
func (s *Store) RunReplayBatch(ctx context.Context, p store.ReplayBatchParams) (*store.ReplayJob, error) {
	var j *store.ReplayJob
	err := s.write(ctx, func(w *writer) error {
		var leasedBy sql.NullString
		if err := w.queryRow(`SELECT leased_by FROM replay_jobs WHERE id = ?`, p.JobID).Scan(&leasedBy); err != nil {
			return interpretError(err)
		}
		var err error
		j, err = store.ScanReplayJob(w.queryRow(`SELECT `+store.ReplayJobCols+` FROM replay_jobs WHERE id = ?`, p.JobID))
		if err != nil {
			return interpretError(err)
		}
		if j.State != store.ReplayRunning || leasedBy.String != p.Node {
			return store.ErrLeaseLost
		}
		if err := store.StepReplayJob(j, writerBatcher{w}, p.Now, p.Batch); err != nil {
			return err
		}
		_, err = w.exec(`UPDATE replay_jobs SET scanned = ?, queued = ?, cursor = ?, state = ?, finished_at = ?,
			not_before = ?, leased_until = ? WHERE id = ?`,
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
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`UPDATE replay_jobs SET state = 'failed', error = ?, finished_at = ?, leased_by = NULL, leased_until = NULL
			WHERE id = ? AND state IN ('queued', 'running')`, reason, ms(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("fail replay job %s: %w", id, err)
	}
	return nil
}

// writerBatcher runs the batches of store.StepReplayJob on the writer.
type writerBatcher struct{ w *writer }

func (b writerBatcher) NextEndpoint(tenant *string, after string) (string, error) {
	var row *sql.Row
	if tenant == nil {
		row = b.w.queryRow(`SELECT id FROM endpoints WHERE id > ? ORDER BY id LIMIT 1`, after)
	} else {
		row = b.w.queryRow(`SELECT id FROM endpoints INDEXED BY endpoints_tenant WHERE tenant = ? AND id > ? ORDER BY id LIMIT 1`, *tenant, after)
	}
	var id string
	if err := row.Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	return id, nil
}

func (b writerBatcher) Failed(p store.ReplayFailedParams) (store.ReplayResult, error) {
	return b.w.replayFailed(p)
}

func (b writerBatcher) Missing(p store.ReplayMissingParams, skipDisabled bool) (store.ReplayMissingResult, error) {
	return b.w.replayMissing(p, p.Batch, skipDisabled)
}
