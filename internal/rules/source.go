package rules

import (
	"context"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Limits and defaults of a source's settings.
const (
	// DefaultDedupeWindow is how long a source remembers message IDs when
	// its settings do not say (longer when its tolerance needs it).
	DefaultDedupeWindow = 24 * time.Hour
	// MaxDedupeWindow and MinDedupeWindow bound a dedupe window.
	MaxDedupeWindow = 30 * 24 * time.Hour
	MinDedupeWindow = time.Minute
	// MaxTolerance bounds a source's replay tolerance.
	MaxTolerance = 24 * time.Hour
	// MaxDestinations is how many destinations one change may add.
	MaxDestinations = 20
)

// SourceSpec is a source as a person asks for it.
type SourceSpec struct {
	Name         string
	Description  string
	Scheme       string // required: a built-in scheme, or "custom" with CustomScheme
	CustomScheme []byte
	// Secrets verify requests, newest first; none generates one, which
	// CreateSource returns to show once.
	Secrets []string
	// Tolerance is how far a signed timestamp may be from now; 0 means
	// the scheme's own.
	Tolerance time.Duration
	// DedupeWindow is how long message IDs are remembered; 0 means
	// DefaultDedupeWindow, or twice the tolerance if that is longer.
	DedupeWindow   time.Duration
	SlackChallenge bool
	// ZoomSecret is a Zoom app's Secret Token, for Zoom's URL
	// validation handshake; "" for none.
	ZoomSecret   string
	Destinations []DestinationSpec
}

// DestinationSpec is a destination of a source: an endpoint of the
// source's tenant that receives what the source accepts. Scheme "" or
// "none" forwards unsigned; any other re-signs with Secret (generated when
// "").
type DestinationSpec struct {
	URL          string
	Scheme       string
	CustomScheme []byte
	Secret       string
	Description  string
	Disabled     bool
	FIFO         bool
	RateLimit    float64
	TraceContext bool
}

// NewSource is what CreateSource made.
type NewSource struct {
	Source *store.Source
	// Secret is the secret generated for the source, "" if the spec gave
	// its secrets.
	Secret string
	// Destinations and their re-signing secrets ("" for unsigned ones),
	// in the order of the spec.
	Destinations       []*store.Endpoint
	DestinationSecrets []string
}

// CreateSource checks spec and stores the source and its destinations in
// one transaction. Errors: FieldErrors (destinations' fields as
// "destinations[i].url"); store.ErrConflict if the name is taken.
func (r *Rules) CreateSource(ctx context.Context, spec SourceSpec) (*NewSource, error) {
	var c collector
	now := r.cfg.Now()
	src := &store.Source{
		ID: store.NewID("src"), Name: spec.Name, Description: spec.Description,
		SlackChallenge: spec.SlackChallenge, CreatedAt: now, UpdatedAt: now,
	}
	out := &NewSource{Source: src}
	if !store.ValidSourceName(spec.Name) {
		c.add(fieldError("name", "%q: want 1 to 63 lowercase letters, digits and hyphens, not starting with a hyphen", spec.Name))
	}
	c.add(CheckText("description", spec.Description, MaxDescriptionLen))
	if spec.ZoomSecret != "" {
		c.add(CheckText("zoom_secret", spec.ZoomSecret, MaxSecretLen))
		src.ZoomSecret = store.Secret{Value: spec.ZoomSecret, CreatedAt: now}
	}
	var scheme *signature.Scheme
	if spec.Scheme == "" && len(spec.CustomScheme) == 0 {
		c.add(fieldError("scheme", "is required: one of %v", schemes.Names()))
	} else if s, name, custom, err := schemes.Parse(spec.Scheme, spec.CustomScheme); err != nil {
		c.add(schemeError(spec.Scheme, err))
	} else {
		scheme, src.Scheme, src.CustomScheme = s, name, custom
	}
	if scheme != nil {
		values := spec.Secrets
		if len(values) == 0 {
			secret, err := newSecret(scheme)
			if err != nil {
				return nil, err
			}
			out.Secret, values = secret, []string{secret}
		}
		secrets, err := checkSourceSecrets(scheme, values, nil, now)
		c.add(err)
		src.Secrets = secrets
		dedupe, err := CheckWindows(scheme, spec.Tolerance, spec.DedupeWindow)
		c.add(err)
		src.Tolerance, src.DedupeWindow = spec.Tolerance, dedupe
	}
	dests, secrets, err := r.destinations(ctx, src, spec.Destinations)
	c.add(err)
	if err := c.err(); err != nil {
		return nil, err
	}
	if err := r.st.CreateSource(ctx, src, dests); err != nil {
		return nil, fmt.Errorf("create source %s: %w", src.Name, err)
	}
	out.Destinations, out.DestinationSecrets = dests, secrets
	return out, nil
}

// destinations checks the specs of new destinations of src.
func (r *Rules) destinations(ctx context.Context, src *store.Source, specs []DestinationSpec) ([]*store.Endpoint, []string, error) {
	if len(specs) > MaxDestinations {
		return nil, nil, fieldError("destinations", "must be at most %d at once", MaxDestinations)
	}
	var c collector
	eps := make([]*store.Endpoint, 0, len(specs))
	secrets := make([]string, 0, len(specs))
	for i, d := range specs {
		e, secret, err := r.buildEndpoint(ctx, d.endpoint(src), true)
		if err != nil {
			c.add(prefixed(fmt.Sprintf("destinations[%d].", i), err))
			continue
		}
		eps, secrets = append(eps, e), append(secrets, secret)
	}
	return eps, secrets, c.err()
}

// endpoint is the endpoint spec of d as a destination of src.
func (d DestinationSpec) endpoint(src *store.Source) EndpointSpec {
	return EndpointSpec{
		Tenant: src.Tenant(), URL: d.URL, Description: d.Description, Scheme: d.Scheme,
		CustomScheme: d.CustomScheme, Secret: d.Secret, Disabled: d.Disabled, FIFO: d.FIFO, RateLimit: d.RateLimit,
		TraceContext: d.TraceContext,
	}
}

// AddDestination checks d and stores it as a new destination of the
// source id, returning it with its re-signing secret ("" if unsigned).
func (r *Rules) AddDestination(ctx context.Context, sourceID string, d DestinationSpec) (*store.Endpoint, string, error) {
	src, err := r.st.GetSource(ctx, sourceID)
	if err != nil {
		return nil, "", fmt.Errorf("source %s: %w", sourceID, err)
	}
	e, secret, err := r.buildEndpoint(ctx, d.endpoint(src), true)
	if err != nil {
		return nil, "", err
	}
	if err := r.st.CreateEndpoint(ctx, e); err != nil {
		return nil, "", fmt.Errorf("add a destination to source %s: %w", src.Name, err)
	}
	return e, secret, nil
}

// SourceChange names what a person changes of a source; nil fields (and a
// nil CustomScheme) stay as they are.
type SourceChange struct {
	// Name cannot change; a value other than the stored one is refused.
	Name        *string
	Description *string
	// Scheme switches the scheme (CustomScheme alone switches to
	// "custom"); the current secrets must then suit it, or Secrets be
	// given.
	Scheme       *string
	CustomScheme []byte
	// Secrets replaces the secrets, newest first. A value that is already
	// one of the source's secrets keeps its times: list the old ones after
	// the new one to keep accepting them during a rotation.
	Secrets      *[]string
	Tolerance    *time.Duration
	DedupeWindow *time.Duration
	// SlackChallenge turns Slack's url_verification handshake on or off.
	SlackChallenge *bool
	// ZoomSecret sets the Zoom secret token; "" turns the handshake off.
	ZoomSecret *string
	// AddDestinations and RemoveDestinations (endpoint ids) change the
	// destinations in the same transaction.
	AddDestinations    []DestinationSpec
	RemoveDestinations []string
	// IfUpdatedAt, when set, makes the change apply only if the source
	// was last changed then (a form's version): else ErrChanged.
	IfUpdatedAt *time.Time
}

// UpdateSource applies ch to the source id in one transaction that writes
// only what ch changes, destinations included. Errors: FieldErrors;
// ErrChanged; store.ErrNotFound.
func (r *Rules) UpdateSource(ctx context.Context, id string, ch SourceChange) (*store.Source, error) {
	var c collector
	if ch.Description != nil {
		c.add(CheckText("description", *ch.Description, MaxDescriptionLen))
	}
	if ch.ZoomSecret != nil {
		c.add(CheckText("zoom_secret", *ch.ZoomSecret, MaxSecretLen))
	}
	var add []*store.Endpoint
	if len(ch.AddDestinations) > 0 {
		cur, err := r.st.GetSource(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", id, err)
		}
		var err2 error
		add, _, err2 = r.destinations(ctx, cur, ch.AddDestinations)
		c.add(err2)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	now := r.cfg.Now()
	src, err := r.st.UpdateSource(ctx, id, func(cur *store.Source) (store.SourcePatch, error) {
		p := store.SourcePatch{UpdatedAt: now, AddDestinations: add, RemoveDestinations: ch.RemoveDestinations}
		if ch.IfUpdatedAt != nil && !ch.IfUpdatedAt.Equal(cur.UpdatedAt) {
			return p, ErrChanged
		}
		var c collector
		if ch.Name != nil && *ch.Name != cur.Name {
			c.add(fieldError("name", "cannot be changed: it is the source's ingest path and the tenant of its destinations"))
		}
		p.Description, p.SlackChallenge = ch.Description, ch.SlackChallenge
		if ch.ZoomSecret != nil {
			z := store.Secret{}
			if *ch.ZoomSecret != "" {
				z = cur.ZoomSecret
				if z.Value != *ch.ZoomSecret {
					z = store.Secret{Value: *ch.ZoomSecret, CreatedAt: now}
				}
			}
			p.ZoomSecret = &z
		}
		scheme, err := schemes.Resolve(cur.Scheme, cur.CustomScheme)
		if err != nil {
			return p, fmt.Errorf("stored scheme of source %s: %w", cur.ID, err)
		}
		switched := false
		if name, custom, ok := changedScheme(ch.Scheme, ch.CustomScheme, cur.CustomScheme); ok {
			s, stored, storedCustom, err := schemes.Parse(name, custom)
			if err != nil {
				c.add(schemeError(name, err))
				return p, c.err()
			}
			scheme, switched = s, true
			p.Scheme, p.CustomScheme = &stored, &storedCustom
		}
		if ch.Secrets != nil {
			secrets, err := checkSourceSecrets(scheme, *ch.Secrets, cur.Secrets, now)
			c.add(err)
			p.Secrets = &secrets
		} else if switched {
			// The current secrets must suit the new scheme.
			values := make([]string, len(cur.Secrets))
			for i, s := range cur.Secrets {
				values[i] = s.Value
			}
			_, err := checkSourceSecrets(scheme, values, cur.Secrets, now)
			c.add(err)
		}
		if ch.Tolerance != nil || ch.DedupeWindow != nil || switched {
			tol, dedupe := cur.Tolerance, cur.DedupeWindow
			if ch.Tolerance != nil {
				tol = *ch.Tolerance
			}
			if ch.DedupeWindow != nil {
				dedupe = *ch.DedupeWindow
			}
			d, err := CheckWindows(scheme, tol, dedupe)
			c.add(err)
			p.Tolerance, p.DedupeWindow = &tol, &d
		}
		return p, c.err()
	})
	if err != nil {
		return nil, fmt.Errorf("update source %s: %w", id, err)
	}
	return src, nil
}

// DeleteSource deletes the source id, its rejections and its destinations
// (canceling their pending deliveries) in one transaction. Its events and
// their history stay.
func (r *Rules) DeleteSource(ctx context.Context, id string) error {
	if err := r.st.DeleteSource(ctx, id); err != nil {
		return fmt.Errorf("delete source %s: %w", id, err)
	}
	return nil
}

// Destinations returns the destinations of src: every endpoint of its
// tenant, newest first.
func (r *Rules) Destinations(ctx context.Context, src *store.Source) ([]*store.Endpoint, error) {
	tenant := src.Tenant()
	var out []*store.Endpoint
	f := store.EndpointFilter{Tenant: &tenant, Page: store.Page{Limit: 1000}}
	for {
		eps, next, err := r.st.ListEndpoints(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("destinations of source %s: %w", src.ID, err)
		}
		out = append(out, eps...)
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}

// CheckWindows checks a source's replay tolerance (0: the scheme's own)
// and dedupe window (0: the default) for scheme, and returns the dedupe
// window to store. The window must be at least twice the tolerance: a
// request signed at T is accepted from T-tolerance (a sender's clock
// ahead) to T+tolerance, and a verbatim replay within that span is
// recognized as a duplicate only if its message ID (or body) is still
// remembered when it comes. A zero window defaults to DefaultDedupeWindow,
// or twice the tolerance when that is longer. Errors are FieldErrors.
func CheckWindows(scheme *signature.Scheme, tolerance, dedupeWindow time.Duration) (time.Duration, error) {
	if tolerance < 0 || tolerance > MaxTolerance {
		return 0, FieldErrors{fieldError("tolerance_seconds", "must be from 0 (the scheme's own) to %d seconds", int64(MaxTolerance/time.Second))}
	}
	if dedupeWindow < 0 || dedupeWindow > MaxDedupeWindow {
		return 0, FieldErrors{fieldError("dedupe_window_seconds", "must be from 0 (the default, %d) to %d seconds",
			int64(DefaultDedupeWindow/time.Second), int64(MaxDedupeWindow/time.Second))}
	}
	if tolerance == 0 {
		tolerance = scheme.Tolerance()
	}
	least := max(2*tolerance, MinDedupeWindow)
	if dedupeWindow == 0 {
		return max(DefaultDedupeWindow, least), nil
	}
	if dedupeWindow < least {
		return 0, FieldErrors{fieldError("dedupe_window_seconds",
			"must be at least %d seconds: twice the replay tolerance, and at least a minute", int64(least/time.Second))}
	}
	return dedupeWindow, nil
}

// checkSourceSecrets checks the secrets of a source, newest first, for
// scheme: one at least (a source verifies every request), at most
// MaxSecrets, each one usable by the scheme. A value among old keeps its
// times; the others are created at now.
func checkSourceSecrets(scheme *signature.Scheme, values []string, old []store.Secret, now time.Time) ([]store.Secret, error) {
	switch {
	case len(values) == 0:
		return nil, FieldErrors{fieldError("secrets", "must not be empty: a source verifies every request")}
	case len(values) > MaxSecrets:
		return nil, FieldErrors{fieldError("secrets", "must be at most %d", MaxSecrets)}
	}
	var c collector
	out := make([]store.Secret, len(values))
	for i, v := range values {
		c.add(checkSecret(fmt.Sprintf("secrets[%d]", i), scheme, v))
		out[i] = store.Secret{Value: v, CreatedAt: now}
		for _, o := range old {
			if o.Value == v {
				out[i] = o
			}
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return out, nil
}
