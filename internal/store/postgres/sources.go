package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const sourceCols = `id, name, description, scheme, custom_scheme, secrets, tolerance_ms, dedupe_ms,
	slack_challenge, created_at, updated_at`

func (s *Store) sealSource(src *store.Source) ([]byte, error) { return store.SealSource(s.cipher, src) }

func (s *Store) openSource(src *store.Source, sealed []byte) error {
	return store.OpenSource(s.cipher, src, sealed)
}

// sourceArgs encodes src's columns from description to slack_challenge.
func (s *Store) sourceArgs(src *store.Source) ([]any, error) {
	sealed, err := s.sealSource(src)
	if err != nil {
		return nil, err
	}
	return []any{src.Description, src.Scheme, src.CustomScheme, sealed, src.Tolerance.Milliseconds(),
		src.DedupeWindow.Milliseconds(), src.SlackChallenge}, nil
}

// scanSource reads a row of sourceCols; expired secrets are dropped.
func (s *Store) scanSource(r store.RowScanner) (*store.Source, error) {
	var (
		src              store.Source
		sealed           []byte
		tol, dedupe      int64
		created, updated int64
	)
	if err := r.Scan(&src.ID, &src.Name, &src.Description, &src.Scheme, &src.CustomScheme, &sealed, &tol, &dedupe,
		&src.SlackChallenge, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if err := s.openSource(&src, sealed); err != nil {
		return nil, fmt.Errorf("source %s: %w", src.ID, err)
	}
	src.Secrets = store.LiveSecrets(src.Secrets, time.Now())
	src.Tolerance = time.Duration(tol) * time.Millisecond
	src.DedupeWindow = time.Duration(dedupe) * time.Millisecond
	src.CreatedAt, src.UpdatedAt = fromMS(created), fromMS(updated)
	return &src, nil
}

// CreateSource inserts src and its destinations in one transaction; ID,
// Name, CreatedAt and UpdatedAt must be set, and each destination's ID,
// times and Tenant (src.Tenant()). ErrConflict if the source's id or name
// or a destination's id exists; nothing is written then.
func (s *Store) CreateSource(ctx context.Context, src *store.Source, destinations []*store.Endpoint) error {
	if src.ID == "" || src.Name == "" {
		return errors.New("create source: id and name are required")
	}
	args, err := s.sourceArgs(src)
	if err != nil {
		return fmt.Errorf("create source %s: %w", src.ID, err)
	}
	args = append([]any{src.ID, src.Name}, args...)
	args = append(args, ms(src.CreatedAt), ms(src.UpdatedAt))
	dests := make([][]any, len(destinations))
	for i, e := range destinations {
		if e.ID == "" || e.Tenant != src.Tenant() {
			return fmt.Errorf("create source %s: destination %d: an id and tenant %q are required", src.ID, i, src.Tenant())
		}
		a, err := s.insertArgs(e)
		if err != nil {
			return fmt.Errorf("create source %s: destination %s: %w", src.ID, e.ID, err)
		}
		dests[i] = a
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sources (`+sourceCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...); err != nil {
			return interpretError(err)
		}
		// No lock, as in CreateEndpoint: new endpoints have no deliveries.
		for i, a := range dests {
			if _, err := tx.Exec(ctx, `INSERT INTO endpoints (`+endpointCols+`)
				VALUES (`+endpointValues+`)`, a...); err != nil {
				return fmt.Errorf("destination %s: %w", destinations[i].ID, interpretError(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create source %s: %w", src.ID, err)
	}
	return nil
}

// GetSource returns the source or ErrNotFound.
func (s *Store) GetSource(ctx context.Context, id string) (*store.Source, error) {
	src, err := s.scanSource(s.pool.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get source %s: %w", id, err)
	}
	return src, nil
}

// SourceByName returns the source called name or ErrNotFound.
func (s *Store) SourceByName(ctx context.Context, name string) (*store.Source, error) {
	src, err := s.scanSource(s.pool.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("get source %s: %w", name, err)
	}
	return src, nil
}

// ListSources returns a page of sources, newest first, and the cursor of the
// next page ("" at the end).
func (s *Store) ListSources(ctx context.Context, p store.Page) ([]*store.Source, string, error) {
	limit := pageLimit(p)
	q, args := `SELECT `+sourceCols+` FROM sources ORDER BY id DESC LIMIT $1`, []any{limit + 1}
	if p.Cursor != "" {
		q, args = `SELECT `+sourceCols+` FROM sources WHERE id < $1 ORDER BY id DESC LIMIT $2`, []any{p.Cursor, limit + 1}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, s.scanSource)
	if err != nil {
		return nil, "", fmt.Errorf("list sources: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(x *store.Source) string { return x.ID })
	return out, next, nil
}

// UpdateSource changes the source id in one transaction: it reads the row
// FOR UPDATE, calls fn, and updates only the columns of fn's patch (see
// store.Sources.UpdateSource).
func (s *Store) UpdateSource(ctx context.Context, id string, fn func(*store.Source) (store.SourcePatch, error)) (*store.Source, error) {
	var out *store.Source
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		cur, err := s.scanSource(tx.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		p, err := fn(cur)
		if err != nil {
			return err
		}
		set, err := store.SourceChanges(cur, p, s.sealSource)
		if err != nil {
			return err
		}
		q, args := updateQuery("sources", set, id, sourceCols)
		if out, err = s.scanSource(tx.QueryRow(ctx, q, args...)); err != nil {
			return err
		}
		return s.applyDestinations(ctx, tx, out, p)
	})
	if err != nil {
		return nil, fmt.Errorf("update source %s: %w", id, err)
	}
	return out, nil
}

// DeleteSource removes the source, its rejections and its destinations,
// canceling their pending deliveries, in one transaction. It takes the
// tenant's lock, so that no event reaches the destinations meanwhile, and
// the endpoint lock of each destination, as DeleteEndpoint does.
// ErrNotFound if there is none.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM sources WHERE id = $1 FOR UPDATE`, id).Scan(&name); err != nil {
			return interpretError(err)
		}
		tenant := (&store.Source{Name: name}).Tenant()
		rows, err := tx.Query(ctx, `SELECT id FROM endpoints WHERE tenant = $1`, tenant)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		locks := []xlock{tenantLock(tenant, false)}
		for _, e := range ids {
			locks = append(locks, endpointLock(e))
		}
		if err := lockAll(ctx, tx, locks); err != nil {
			return err
		}
		// Under the tenant's lock no endpoint moves in and no event is
		// accepted; one created since the read above has no deliveries.
		rows, err = tx.Query(ctx, `DELETE FROM endpoints WHERE tenant = $1 RETURNING id`, tenant)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM endpoint_buckets WHERE endpoint_id = ANY($1)`, ids); err != nil {
			return err
		}
		now := ms(time.Now())
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'canceled', hold = false, leased_until = NULL,
			updated_at = $1, completed_at = $1 WHERE endpoint_id = ANY($2) AND status = 'pending'`, now, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sources WHERE id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM inbound_rejections WHERE source_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete source %s: %w", id, err)
	}
	return nil
}

// AddRejection stores r (r.ID and ReceivedAt must be set), cut to
// store.MaxRejectionBytes, and deletes the source's oldest rejections past
// store.RejectionBudget, in one transaction.
//
// Concurrent additions for one source take turns on an advisory lock of
// the transaction, so that each trim sees the rows the others added.
func (s *Store) AddRejection(ctx context.Context, r *store.Rejection) error {
	if r.ID == "" {
		return errors.New("add rejection: id is required")
	}
	headers, body, size, err := store.RejectionSize(r)
	if err != nil {
		return fmt.Errorf("add rejection: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('hookrelay rejections ' || $1, 0))`, r.SourceID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inbound_rejections (`+store.RejectionCols+`, stored_bytes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			r.ID, r.SourceID, ms(r.ReceivedAt), cleanText(r.Reason), cleanText(r.Detail), cleanText(r.RemoteAddr),
			headers, body, r.BodySize, size); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM inbound_rejections WHERE source_id = $1 AND id IN (
			SELECT id FROM (
				SELECT id, SUM(stored_bytes) OVER (ORDER BY id DESC) AS total
				FROM inbound_rejections WHERE source_id = $1
			) t WHERE total > $2)`, r.SourceID, int64(store.RejectionBudget))
		return err
	})
	if err != nil {
		return fmt.Errorf("add rejection: %w", interpretError(err))
	}
	return nil
}

// ListRejections returns a page of rejections, newest first.
func (s *Store) ListRejections(ctx context.Context, f store.RejectionFilter) ([]*store.Rejection, string, error) {
	limit := pageLimit(f.Page)
	var (
		where []string
		args  []any
	)
	if f.SourceID != "" {
		args = append(args, f.SourceID)
		where = append(where, "source_id = $"+strconv.Itoa(len(args)))
	}
	q, args := store.IDPageQuery(`SELECT `+store.RejectionCols+` FROM inbound_rejections`, where, args, f.Cursor, limit, dollar)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list rejections: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, store.ScanRejection)
	if err != nil {
		return nil, "", fmt.Errorf("list rejections: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(r *store.Rejection) string { return r.ID })
	return out, next, nil
}

// PruneRejections deletes the rejections received before before and
// returns how many.
func (s *Store) PruneRejections(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM inbound_rejections WHERE received_at < $1`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("prune rejections: %w", err)
	}
	return tag.RowsAffected(), nil
}

// applyDestinations adds and removes the destinations p names, in the
// transaction tx of the update of src. Removing takes the tenant's lock and
// each removed endpoint's, as DeleteSource does.
func (s *Store) applyDestinations(ctx context.Context, tx pgx.Tx, src *store.Source, p store.SourcePatch) error {
	tenant := src.Tenant()
	if len(p.RemoveDestinations) > 0 {
		locks := []xlock{tenantLock(tenant, false)}
		for _, id := range p.RemoveDestinations {
			locks = append(locks, endpointLock(id))
		}
		if err := lockAll(ctx, tx, locks); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM endpoints WHERE id = ANY($1) AND tenant = $2 RETURNING id`, p.RemoveDestinations, tenant)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM endpoint_buckets WHERE endpoint_id = ANY($1)`, ids); err != nil {
			return err
		}
		now := ms(p.UpdatedAt)
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'canceled', hold = false, leased_until = NULL,
			updated_at = $1, completed_at = $1 WHERE endpoint_id = ANY($2) AND status = 'pending'`, now, ids); err != nil {
			return err
		}
	}
	for _, e := range p.AddDestinations {
		if e.ID == "" || e.Tenant != tenant {
			return fmt.Errorf("destination %q: an id and tenant %q are required", e.ID, tenant)
		}
		a, err := s.insertArgs(e)
		if err != nil {
			return fmt.Errorf("destination %s: %w", e.ID, err)
		}
		// No lock, as in CreateEndpoint: new endpoints have no deliveries.
		if _, err := tx.Exec(ctx, `INSERT INTO endpoints (`+endpointCols+`)
			VALUES (`+endpointValues+`)`, a...); err != nil {
			return fmt.Errorf("destination %s: %w", e.ID, interpretError(err))
		}
	}
	return nil
}
