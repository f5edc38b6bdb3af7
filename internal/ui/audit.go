package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/authlimit"
	"github.com/hookrelay/hookrelay/internal/store"
)

// audited wraps a POST handler whose success changes something: once it
// has answered with a status below 400 (the pages redirect on success), it
// records action in the audit log, with the session as the actor, the
// {id} path value as the target, and the tenant of what it changed.
func (u *UI) audited(action string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		// The tenant the change concerns: a portal's own, or for an
		// admin the endpoint's or delivery's, read before the change
		// (a deleted endpoint is gone after it).
		tenant := s.tenantFilter()
		if id := r.PathValue("id"); tenant == nil && id != "" {
			switch {
			case strings.HasPrefix(action, "endpoint.") || strings.HasPrefix(action, "secret."):
				if e, err := u.store.GetEndpoint(r.Context(), id); err == nil {
					tenant = &e.Tenant
				}
			case strings.HasPrefix(action, "event."):
				if ev, err := u.store.GetEvent(r.Context(), id); err == nil {
					tenant = &ev.Tenant
				}
			case strings.HasPrefix(action, "delivery."):
				if d, err := u.store.GetDelivery(r.Context(), id); err == nil {
					tenant = &d.Tenant
				}
			}
		}
		sw := &statusWriter{ResponseWriter: w}
		err := h(sw, r, s)
		if err == nil && sw.status != 0 && sw.status < 400 {
			target := r.PathValue("id")
			if target == "" {
				target = r.PathValue("name") // an event type
			}
			u.auditEntry(r, s, action, tenant, target)
		}
		return err
	}
}

// auditEntry appends an entry for session s. A failure is logged: the
// change is made.
func (u *UI) auditEntry(r *http.Request, s *session, action string, tenant *string, target string) {
	kind, id := store.SessionAdmin, s.keyID
	if s.Kind == kindTenant {
		kind, id = store.SessionTenant, ""
		t := s.Tenant
		tenant = &t
	}
	e := &store.AuditEntry{ID: store.NewID("aud"), At: u.now(), ActorKind: kind, ActorID: id, Tenant: tenant,
		Action: action, Target: target, RemoteAddr: authlimit.Addr(r), Detail: "dashboard"}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := u.store.AddAudit(ctx, e); err != nil {
		u.log.ErrorContext(ctx, "ui: record audit entry", "action", action, "error", err)
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// keyRow is an API key on the keys page.
type keyRow struct {
	K      *store.APIKey
	Tenant string // "" when the key sees every tenant
	All    bool   // the key sees every tenant
}

// listKeys shows the API keys with their tenant, scopes and last use
// (admins only).
func (u *UI) listKeys(w http.ResponseWriter, r *http.Request, s *session) error {
	ks, err := u.store.ListAPIKeys(r.Context())
	if err != nil {
		return fmt.Errorf("list api keys: %w", err)
	}
	rows := make([]keyRow, len(ks))
	for i, k := range ks {
		k.Scopes = store.KeyScopes(k.Scopes)
		rows[i] = keyRow{K: k, All: k.Tenant == nil}
		if k.Tenant != nil {
			rows[i].Tenant = *k.Tenant
		}
	}
	u.render(w, r, s, http.StatusOK, "keys", rows)
	return nil
}

// auditData is the audit page's content.
type auditData struct {
	Entries []*store.AuditEntry
	Next    string
}

// auditPerPage is how many entries the audit page shows at once.
const auditPerPage = 100

// listAudit shows the audit log, newest first (admins only).
func (u *UI) listAudit(w http.ResponseWriter, r *http.Request, s *session) error {
	es, next, err := u.store.ListAudit(r.Context(), store.AuditFilter{Page: store.Page{Limit: auditPerPage, Cursor: r.URL.Query().Get("cursor")}})
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{http.StatusBadRequest, "That page of the list no longer exists. Start again from the first page."}
	}
	if err != nil {
		return fmt.Errorf("list audit log: %w", err)
	}
	u.render(w, r, s, http.StatusOK, "audit", &auditData{Entries: es, Next: next})
	return nil
}
