package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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
	var custom any
	if src.CustomScheme != nil {
		custom = string(src.CustomScheme)
	}
	return []any{src.Description, src.Scheme, custom, sealed, src.Tolerance.Milliseconds(),
		src.DedupeWindow.Milliseconds(), boolInt(src.SlackChallenge)}, nil
}

// scanSource reads a row of sourceCols; expired secrets are dropped.
func (s *Store) scanSource(r scanner) (*store.Source, error) {
	var (
		src              store.Source
		custom           sql.NullString
		sealed           []byte
		tol, dedupe      int64
		slack            int64
		created, updated int64
	)
	if err := r.Scan(&src.ID, &src.Name, &src.Description, &src.Scheme, &custom, &sealed, &tol, &dedupe,
		&slack, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if custom.Valid {
		src.CustomScheme = []byte(custom.String)
	}
	if err := s.openSource(&src, sealed); err != nil {
		return nil, fmt.Errorf("source %s: %w", src.ID, err)
	}
	src.Secrets = store.LiveSecrets(src.Secrets, time.Now())
	src.Tolerance = time.Duration(tol) * time.Millisecond
	src.DedupeWindow = time.Duration(dedupe) * time.Millisecond
	src.SlackChallenge = slack != 0
	src.CreatedAt, src.UpdatedAt = fromMS(created), fromMS(updated)
	return &src, nil
}

// CreateSource inserts src and its destinations in one transaction of the
// writer; ID, Name, CreatedAt and UpdatedAt must be set, and each
// destination's ID, times and Tenant (src.Tenant()). ErrConflict if the
// source's id or name or a destination's id exists; nothing is written
// then.
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
	err = s.write(ctx, func(w *writer) error {
		if _, err := w.exec(`INSERT INTO sources (`+sourceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return err
		}
		// A destination that fails after the source was inserted makes the
		// writer roll the batch back and run the other operations again
		// without this one: the source is not left behind.
		for i, a := range dests {
			if _, err := w.exec(`INSERT INTO endpoints (`+endpointCols+`)
				VALUES (`+endpointValues+`)`, a...); err != nil {
				return fmt.Errorf("destination %s: %w", destinations[i].ID, err)
			}
			w.forgetEndpoint(destinations[i].ID)
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
	return s.getSource(ctx, "id", id)
}

// SourceByName returns the source called name or ErrNotFound.
func (s *Store) SourceByName(ctx context.Context, name string) (*store.Source, error) {
	return s.getSource(ctx, "name", name)
}

func (s *Store) getSource(ctx context.Context, col, v string) (*store.Source, error) {
	row, err := s.queryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE `+col+` = ?`, v)
	if err != nil {
		return nil, fmt.Errorf("get source %s: %w", v, err)
	}
	src, err := s.scanSource(row)
	if err != nil {
		return nil, fmt.Errorf("get source %s: %w", v, err)
	}
	return src, nil
}

// ListSources returns a page of sources, newest first, and the cursor of the
// next page ("" at the end).
func (s *Store) ListSources(ctx context.Context, p store.Page) ([]*store.Source, string, error) {
	limit := pageLimit(p)
	q, args := `SELECT `+sourceCols+` FROM sources ORDER BY id DESC LIMIT ?`, []any{limit + 1}
	if p.Cursor != "" {
		q, args = `SELECT `+sourceCols+` FROM sources WHERE id < ? ORDER BY id DESC LIMIT ?`, []any{p.Cursor, limit + 1}
	}
	rows, err := s.query(ctx, q, args...)
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

// UpdateSource changes the source id in one transaction of the writer,
// writing only the columns of fn's patch (see store.Sources.UpdateSource).
func (s *Store) UpdateSource(ctx context.Context, id string, fn func(*store.Source) (store.SourcePatch, error)) (*store.Source, error) {
	var out *store.Source
	err := s.write(ctx, func(w *writer) error {
		out = nil
		cur, err := s.scanSource(w.queryRow(`SELECT `+sourceCols+` FROM sources WHERE id = ?`, id))
		if err != nil {
			return err
		}
		p, err := fn(cur)
		if err != nil {
			return &fnError{err}
		}
		set, err := store.SourceChanges(cur, p, s.sealSource)
		if err != nil {
			return err
		}
		cols := make([]string, len(set))
		args := make([]any, 0, len(set)+1)
		for i, a := range set {
			cols[i] = a.Column + " = ?"
			args = append(args, bindValue(a))
		}
		rows, err := w.queryWrite(`UPDATE sources SET `+strings.Join(cols, ", ")+` WHERE id = ? RETURNING `+sourceCols,
			false, append(args, id)...)
		if err != nil {
			return err
		}
		srcs, err := store.CollectRows(rows, s.scanSource)
		rows.Close()
		if err != nil {
			return err
		}
		if len(srcs) != 1 {
			return fmt.Errorf("%d rows updated, want 1", len(srcs))
		}
		out = srcs[0]
		return s.applyDestinations(w, out, p)
	})
	if err != nil {
		return nil, fmt.Errorf("update source %s: %w", id, unwrapFn(err))
	}
	return out, nil
}

// DeleteSource removes the source, its rejections and its destinations,
// canceling their pending deliveries, in one transaction of the writer.
// ErrNotFound if there is none.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	err := s.write(ctx, func(w *writer) error {
		var name string
		if err := w.queryRow(`SELECT name FROM sources WHERE id = ?`, id).Scan(&name); err != nil {
			return interpretError(err)
		}
		tenant := (&store.Source{Name: name}).Tenant()
		now := ms(time.Now())
		if _, err := w.exec(`UPDATE deliveries SET status = 'canceled', hold = 0, leased_until = NULL,
			updated_at = ?, completed_at = ?
			WHERE status = 'pending' AND endpoint_id IN (SELECT id FROM endpoints WHERE tenant = ?)`, now, now, tenant); err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM endpoint_buckets WHERE endpoint_id IN (SELECT id FROM endpoints WHERE tenant = ?)`, tenant); err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM endpoints WHERE tenant = ?`, tenant); err != nil {
			return err
		}
		w.forgetAll()
		if _, err := w.exec(`DELETE FROM sources WHERE id = ?`, id); err != nil {
			return err
		}
		_, err := w.exec(`DELETE FROM inbound_rejections WHERE source_id = ?`, id)
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
func (s *Store) AddRejection(ctx context.Context, r *store.Rejection) error {
	if r.ID == "" {
		return errors.New("add rejection: id is required")
	}
	headers, body, size, err := store.RejectionSize(r)
	if err != nil {
		return fmt.Errorf("add rejection: %w", err)
	}
	err = s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO inbound_rejections (`+store.RejectionCols+`, stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.SourceID, ms(r.ReceivedAt), r.Reason, r.Detail, r.RemoteAddr, headers, body, r.BodySize, size)
		if err != nil {
			return err
		}
		_, err = w.exec(trimRejections, r.SourceID, r.SourceID, store.RejectionBudget)
		return err
	})
	if err != nil {
		return fmt.Errorf("add rejection: %w", err)
	}
	return nil
}

// trimRejections deletes the rejections of a source (the first two
// arguments) past its newest ones that add up to the budget (the third).
const trimRejections = `DELETE FROM inbound_rejections WHERE source_id = ? AND id IN (
	SELECT id FROM (
		SELECT id, SUM(stored_bytes) OVER (ORDER BY id DESC) AS total
		FROM inbound_rejections WHERE source_id = ?
	) WHERE total > ?)`

// ListRejections returns a page of rejections, newest first.
func (s *Store) ListRejections(ctx context.Context, f store.RejectionFilter) ([]*store.Rejection, string, error) {
	limit := pageLimit(f.Page)
	var (
		where []string
		args  []any
	)
	if f.SourceID != "" {
		where = append(where, "source_id = ?")
		args = append(args, f.SourceID)
	}
	q, args := store.IDPageQuery(`SELECT `+store.RejectionCols+` FROM inbound_rejections`, where, args, f.Cursor, limit, qmark)
	rows, err := s.query(ctx, q, args...)
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
	var n int64
	err := s.write(ctx, func(w *writer) error {
		var err error
		n, err = w.exec(`DELETE FROM inbound_rejections WHERE received_at < ?`, ms(before))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune rejections: %w", err)
	}
	return n, nil
}

// applyDestinations adds and removes the destinations p names, in the
// transaction of the update of src.
func (s *Store) applyDestinations(w *writer, src *store.Source, p store.SourcePatch) error {
	tenant := src.Tenant()
	now := ms(p.UpdatedAt)
	for _, id := range p.RemoveDestinations {
		if _, err := w.exec(`UPDATE deliveries SET status = 'canceled', hold = 0, leased_until = NULL,
			updated_at = ?, completed_at = ?
			WHERE status = 'pending' AND endpoint_id = (SELECT id FROM endpoints WHERE id = ? AND tenant = ?)`, now, now, id, tenant); err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM endpoint_buckets WHERE endpoint_id = (SELECT id FROM endpoints WHERE id = ? AND tenant = ?)`, id, tenant); err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM endpoints WHERE id = ? AND tenant = ?`, id, tenant); err != nil {
			return err
		}
		w.forgetEndpoint(id)
	}
	for _, e := range p.AddDestinations {
		if e.ID == "" || e.Tenant != tenant {
			return fmt.Errorf("destination %q: an id and tenant %q are required", e.ID, tenant)
		}
		a, err := s.insertArgs(e)
		if err != nil {
			return fmt.Errorf("destination %s: %w", e.ID, err)
		}
		if _, err := w.exec(`INSERT INTO endpoints (`+endpointCols+`)
			VALUES (`+endpointValues+`)`, a...); err != nil {
			return fmt.Errorf("destination %s: %w", e.ID, interpretError(err))
		}
		w.forgetEndpoint(e.ID)
	}
	return nil
}
