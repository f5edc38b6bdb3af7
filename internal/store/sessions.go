package store

import (
	"context"
	"time"
)

// Kinds of Session.
const (
	// SessionAdmin is a session opened with an API key: it sees every
	// tenant, and ends when its key is revoked.
	SessionAdmin = "admin"
	// SessionTenant is a session opened through a portal link: it sees
	// one tenant.
	SessionTenant = "tenant"
)

// Session is a signed-in session of the dashboard. The browser's cookie
// holds a random token; the store keeps only its SHA-256, so that neither
// the cookie nor the database holds anything derived from an API key, and
// a copy of the database opens no session. Deleting the row ends the
// session at once (logout).
type Session struct {
	// TokenHash is the SHA-256 of the cookie's token: the key.
	TokenHash []byte
	Kind      string // SessionAdmin or SessionTenant
	// KeyID is the id of the API key an admin session was opened with;
	// "" for a tenant session.
	KeyID string
	// Tenant is the only tenant a tenant session sees; "" for an admin
	// session.
	Tenant    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions is the part of a Store that keeps the dashboard's sessions.
type Sessions interface {
	// CreateSession inserts s; TokenHash, Kind and ExpiresAt must be set.
	// ErrConflict if a session with the same TokenHash exists.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session whose TokenHash is hash, if it has
	// not expired at now and, for an admin session, its API key exists and
	// is not revoked; ErrNotFound otherwise. Revoking a key thus ends its
	// sessions at once.
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	// DeleteSession deletes the session whose TokenHash is hash; deleting
	// one that does not exist is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// PruneSessions deletes the sessions expired at now and the admin
	// sessions whose API key is revoked or gone, and returns how many.
	PruneSessions(ctx context.Context, now time.Time) (int64, error)
}
