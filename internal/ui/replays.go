package ui

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// replaysPerPage is how many replay jobs the list page shows at once.
const replaysPerPage = 50

// replayView is a replay job with how far through its window it is.
type replayView struct {
	J *store.ReplayJob
	// Percent is how much of the window's time the job has walked (of
	// the endpoint it is at, for a job over several), 100 when done.
	Percent int
}

func newReplayView(j *store.ReplayJob, now time.Time) replayView {
	v := replayView{J: j}
	if j.State == store.ReplaySucceeded {
		v.Percent = 100
		return v
	}
	_, inner := store.ParseReplayJobCursor(j.Cursor)
	if j.EndpointID != "" {
		inner = j.Cursor
	}
	at, _, ok := store.ParseReplayCursor(inner)
	end := j.Until
	if end.IsZero() {
		end = j.CreatedAt
	}
	if !ok || at == 0 || !end.After(j.Since) {
		return v
	}
	p := float64(time.UnixMilli(at).Sub(j.Since)) / float64(end.Sub(j.Since)) * 100
	v.Percent = int(min(max(p, 0), 99))
	return v
}

// replayListData is the content of the replay jobs page.
type replayListData struct {
	Jobs []replayView
	Next string
}

// listReplays shows the replay jobs the session sees, newest first, with
// their progress.
func (u *UI) listReplays(w http.ResponseWriter, r *http.Request, s *session) error {
	js, next, err := u.store.ListReplayJobs(r.Context(), store.ReplayJobFilter{Tenant: s.tenantFilter(),
		Page: store.Page{Limit: replaysPerPage, Cursor: r.URL.Query().Get("cursor")}})
	if err != nil {
		return fmt.Errorf("list replay jobs: %w", err)
	}
	d := &replayListData{Next: next}
	for _, j := range js {
		d.Jobs = append(d.Jobs, newReplayView(j, u.now()))
	}
	u.render(w, r, s, http.StatusOK, "replays", d)
	return nil
}

// replayFor loads the job of the {id} path value if the session sees it.
func (u *UI) replayFor(r *http.Request, s *session) (*store.ReplayJob, error) {
	id := r.PathValue("id")
	j, err := u.store.GetReplayJob(r.Context(), id)
	if err != nil {
		return nil, notFoundOr(err, "get replay job", id)
	}
	if j.Tenant == nil && !s.admin() || j.Tenant != nil && !s.sees(*j.Tenant) {
		return nil, errNotFound
	}
	return j, nil
}

func (u *UI) showReplay(w http.ResponseWriter, r *http.Request, s *session) error {
	j, err := u.replayFor(r, s)
	if err != nil {
		return err
	}
	v := newReplayView(j, u.now())
	u.render(w, r, s, http.StatusOK, "replay", &v)
	return nil
}

// cancelReplay cancels a job that is not done.
func (u *UI) cancelReplay(w http.ResponseWriter, r *http.Request, s *session) error {
	j, err := u.replayFor(r, s)
	if err != nil {
		return err
	}
	if _, err := u.store.CancelReplayJob(r.Context(), j.ID, u.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &pageError{http.StatusConflict, "This replay is over already: there is nothing to cancel."}
		}
		return notFoundOr(err, "cancel replay job", j.ID)
	}
	u.redirect(w, r, u.path("/replays/%s", j.ID), "replaycanceled", -1)
	return nil
}
