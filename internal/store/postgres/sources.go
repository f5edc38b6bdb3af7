package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const sourceCols = `id, name, description, scheme, custom_scheme, secrets, tolerance_ms, dedupe_ms,
	slack_challenge, created_at, updated_at`

// sealedSource is how a source's secrets are serialized before sealing (the
// same JSON as the SQLite store's).
type sealedSource struct {
	Secrets []store.SealedSecret `json:"secrets"`
	Zoom    *store.SealedSecret  `json:"zoom,omitempty"`
}

func (s *Store) sealSource(src *store.Source) ([]byte, error) {
	var v sealedSource
	v.Secrets = make([]store.SealedSecret, len(src.Secrets))
	for i, sec := range src.Secrets {
		v.Secrets[i] = store.ToSealed(sec)
	}
	if z := src.ZoomSecret; z.Value != "" {
		sz := store.ToSealed(z)
		v.Zoom = &sz
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode secrets: %w", err)
	}
	sealed, err := s.cipher.Seal(b)
	if err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	return sealed, nil
}

func (s *Store) openSource(src *store.Source, sealed []byte) error {
	b, err := s.cipher.Open(sealed)
	if err != nil {
		return fmt.Errorf("open secrets: %w", err)
	}
	var v sealedSource
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode secrets: %w", err)
	}
	src.Secrets = nil
	for _, sec := range v.Secrets {
		src.Secrets = append(src.Secrets, store.FromSealed(sec))
	}
	if z := v.Zoom; z != nil {
		src.ZoomSecret = store.FromSealed(*z)
	}
	return nil
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

// CreateSource inserts src; ID, Name, CreatedAt and UpdatedAt must be set.
// ErrConflict if the id or the name exists.
func (s *Store) CreateSource(ctx context.Context, src *store.Source) error {
	if src.ID == "" || src.Name == "" {
		return errors.New("create source: id and name are required")
	}
	args, err := s.sourceArgs(src)
	if err != nil {
		return fmt.Errorf("create source %s: %w", src.ID, err)
	}
	args = append([]any{src.ID, src.Name}, args...)
	args = append(args, ms(src.CreatedAt), ms(src.UpdatedAt))
	if _, err := s.pool.Exec(ctx, `INSERT INTO sources (`+sourceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...); err != nil {
		return fmt.Errorf("create source %s: %w", src.ID, interpretError(err))
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

// UpdateSource replaces every field of the stored source src.ID but ID,
// Name and CreatedAt. ErrNotFound if there is none.
func (s *Store) UpdateSource(ctx context.Context, src *store.Source) error {
	args, err := s.sourceArgs(src)
	if err != nil {
		return fmt.Errorf("update source %s: %w", src.ID, err)
	}
	args = append(args, ms(src.UpdatedAt), src.ID)
	tag, err := s.pool.Exec(ctx, `UPDATE sources SET description = $1, scheme = $2, custom_scheme = $3, secrets = $4,
		tolerance_ms = $5, dedupe_ms = $6, slack_challenge = $7, updated_at = $8 WHERE id = $9`, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("update source %s: %w", src.ID, interpretError(err))
	}
	return nil
}

// DeleteSource removes the source and its rejections. ErrNotFound if there
// is none.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sources WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
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
	if f.Cursor != "" {
		args = append(args, f.Cursor)
		where = append(where, "id < $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + store.RejectionCols + ` FROM inbound_rejections`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	q += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
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
