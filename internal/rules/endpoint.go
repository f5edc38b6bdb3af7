package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// DefaultMaxEndpointsPerTenant is Config.MaxEndpointsPerTenant's default.
const DefaultMaxEndpointsPerTenant = 1000

// Config configures Rules. Store is required; the zero values of the other
// fields are the documented defaults.
type Config struct {
	Store store.Store
	// AllowPrivateNetworks lets endpoint URLs reach loopback and private
	// addresses (the SSRF guard is off for them).
	AllowPrivateNetworks bool
	// RotationOverlap is how long rotated-out secrets keep signing when
	// a rotation names no overlap; 0 means DefaultRotationOverlap.
	RotationOverlap time.Duration
	// MaxEndpointsPerTenant bounds how many endpoints one tenant may
	// create (a portal session cannot create thousands of endpoints that
	// each receive every event); 0 means DefaultMaxEndpointsPerTenant,
	// negative means no bound. The destinations of a source do not count.
	MaxEndpointsPerTenant int
	// MaxEndpointTimeout is the longest request timeout an endpoint may
	// set; 0 means DefaultMaxEndpointTimeout. The delivery engine must
	// allow as much (delivery.Config.MaxEndpointTimeout).
	MaxEndpointTimeout time.Duration
	// MaxRetrySchedule is how long an endpoint's retry schedule may span
	// (the sum of its delays); 0 means DefaultMaxRetrySchedule.
	MaxRetrySchedule time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Rules applies the rules of endpoints and sources to a store. It is safe
// for concurrent use.
type Rules struct {
	cfg Config
	st  store.Store
}

// New returns the Rules of cfg.
func New(cfg Config) (*Rules, error) {
	if cfg.Store == nil {
		return nil, errors.New("rules: Config.Store is required")
	}
	if cfg.RotationOverlap == 0 {
		cfg.RotationOverlap = DefaultRotationOverlap
	}
	if cfg.RotationOverlap < 0 || cfg.RotationOverlap > MaxRotationOverlap {
		return nil, fmt.Errorf("rules: RotationOverlap must be from 0 to %v", MaxRotationOverlap)
	}
	if cfg.MaxEndpointsPerTenant == 0 {
		cfg.MaxEndpointsPerTenant = DefaultMaxEndpointsPerTenant
	}
	if cfg.MaxEndpointTimeout == 0 {
		cfg.MaxEndpointTimeout = DefaultMaxEndpointTimeout
	}
	if cfg.MaxRetrySchedule == 0 {
		cfg.MaxRetrySchedule = DefaultMaxRetrySchedule
	}
	if cfg.MaxEndpointTimeout < MinEndpointTimeout || cfg.MaxRetrySchedule < 0 {
		return nil, fmt.Errorf("rules: MaxEndpointTimeout must be at least %v and MaxRetrySchedule not negative", MinEndpointTimeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Rules{cfg: cfg, st: cfg.Store}, nil
}

// RotationOverlap returns the overlap of a rotation that names none.
func (r *Rules) RotationOverlap() time.Duration { return r.cfg.RotationOverlap }

// EndpointSpec is an endpoint as a person asks for it.
type EndpointSpec struct {
	Tenant      string
	URL         string
	Description string
	// Scheme is a built-in scheme's name or "custom" with CustomScheme;
	// "" means "standard" (or "custom" when CustomScheme is given).
	Scheme       string
	CustomScheme []byte
	// Secret signs; "" generates one, which Create returns to show once.
	Secret     string
	EventTypes []string
	// Filter is a payload filter (internal/filter's syntax, checked by
	// CheckFilter); nil, empty, null or {} for none.
	Filter    []byte
	Disabled  bool
	FIFO      bool
	RateLimit float64
	// TraceContext sends each delivery attempt's W3C traceparent header
	// to the endpoint (when tracing is on); off by default, since it
	// tells the receiver the sender's trace ids.
	TraceContext bool
	// Headers are static headers sent with every attempt; their values
	// are secrets (sealed, shown masked).
	Headers map[string]string
	// Auth authenticates deliveries to the receiver; nil or a zero Type
	// for none.
	Auth *store.ReceiverAuth
	// ClientTLS is a client certificate for mutual TLS; nil for none.
	ClientTLS *store.ClientTLS
	// Timeout is the endpoint's request timeout, 0 for the server's.
	Timeout time.Duration
	// RetrySchedule replaces the server's retry schedule; nil for the
	// server's, empty for no retries.
	RetrySchedule []time.Duration
}

// SchemeChoices lists the schemes a form may offer for an endpoint of
// tenant: every
// built-in scheme and "custom", and for a source's destination "none"
// first.
func SchemeChoices(tenant string) []string {
	if IsSourceTenant(tenant) {
		return append([]string{schemes.None}, schemes.Names()...)
	}
	return schemes.Names()
}

// CreateEndpoint checks spec and stores the endpoint it describes, in a
// tenant a person may use (not a source's), and returns it with its
// secret, to show once. Errors: FieldErrors for what cannot be used, every
// field checked; store errors wrapped.
func (r *Rules) CreateEndpoint(ctx context.Context, spec EndpointSpec) (*store.Endpoint, string, error) {
	var c collector
	c.add(CheckOwnTenant(spec.Tenant))
	e, secret, err := r.buildEndpoint(ctx, spec, false)
	c.add(err)
	if err := c.err(); err != nil {
		return nil, "", err
	}
	if err := r.checkEndpointCount(ctx, spec.Tenant); err != nil {
		return nil, "", err
	}
	if err := r.st.CreateEndpoint(ctx, e); err != nil {
		return nil, "", fmt.Errorf("create endpoint: %w", err)
	}
	return e, secret, nil
}

// checkEndpointCount refuses one more endpoint for a tenant at its bound.
// It counts before the insert, so concurrent creations may each pass it
// once: the bound holds to within their number.
func (r *Rules) checkEndpointCount(ctx context.Context, tenant string) error {
	limit := r.cfg.MaxEndpointsPerTenant
	if limit < 0 {
		return nil
	}
	n, err := r.st.CountEndpoints(ctx, tenant, limit)
	if err != nil {
		return err
	}
	if n >= limit {
		return fieldError("tenant", "has %d endpoints, the most this server allows per tenant: delete one first", limit)
	}
	return nil
}

// buildEndpoint checks spec and returns the endpoint, not yet stored, and
// its secret. destination allows scheme "none" and makes it the default
// (spec.Tenant is then the source's).
func (r *Rules) buildEndpoint(ctx context.Context, spec EndpointSpec, destination bool) (*store.Endpoint, string, error) {
	var c collector
	now := r.cfg.Now()
	e := &store.Endpoint{
		ID:           store.NewID("ep"),
		Tenant:       spec.Tenant,
		URL:          spec.URL,
		Description:  spec.Description,
		Disabled:     spec.Disabled,
		FIFO:         spec.FIFO,
		RateLimit:    spec.RateLimit,
		CreatedAt:    now,
		TraceContext: spec.TraceContext,
		UpdatedAt:    now,
	}
	if e.Disabled {
		e.DisabledReason = "manual"
	}
	c.add(r.CheckURL(ctx, "url", spec.URL))
	c.add(CheckText("description", spec.Description, MaxDescriptionLen))
	c.add(CheckRateLimit(spec.RateLimit))
	flt, err := CheckFilter(spec.Filter)
	c.add(err)
	e.Filter = flt
	if err := checkAuthForm(spec.Auth); err != nil {
		c.add(err)
	} else {
		c.add(r.checkAuthURL(ctx, spec.Auth))
	}
	c.add(checkClientTLS(spec.ClientTLS, spec.URL, now))
	c.add(r.checkPolicy(&spec.Timeout, &spec.RetrySchedule))
	if len(spec.Headers) > 0 {
		e.Headers = spec.Headers
	}
	if spec.Auth != nil && spec.Auth.Type != "" {
		e.Auth = spec.Auth
	}
	if spec.ClientTLS != nil && !spec.ClientTLS.Empty() {
		e.ClientTLS = spec.ClientTLS
	}
	e.Timeout, e.RetrySchedule = spec.Timeout, spec.RetrySchedule
	types, err := CheckEventTypes(spec.EventTypes)
	c.add(err)
	e.EventTypes = types
	if len(e.EventTypes) == 0 {
		e.EventTypes = nil
	}
	secret := spec.Secret
	if destination && (spec.Scheme == "" || spec.Scheme == schemes.None) && len(spec.CustomScheme) == 0 {
		if secret != "" {
			c.add(fieldError("secret", "is refused: scheme %q forwards unsigned and takes no secret", schemes.None))
		}
		e.Scheme = schemes.None
		c.add(checkHeaders(spec.Headers, nil, e.Auth != nil))
		return e, "", c.err()
	}
	s, name, custom, err := schemes.Parse(spec.Scheme, spec.CustomScheme)
	if err != nil {
		c.add(schemeError(spec.Scheme, err))
		return nil, "", c.err()
	}
	e.Scheme, e.CustomScheme = name, custom
	c.add(checkHeaders(spec.Headers, s, e.Auth != nil))
	if secret == "" {
		if secret, err = newSecret(s); err != nil {
			return nil, "", err
		}
	} else {
		c.add(checkSecret("secret", s, secret))
	}
	e.Secrets = []store.Secret{{Value: secret, CreatedAt: now}}
	if err := c.err(); err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// errNoneRefused refuses scheme "none" for an endpoint that is no
// source's destination.
var errNoneRefused = fieldError("scheme", "%q (forward unsigned) is only for the destinations of inbound sources", schemes.None)

// changedScheme returns the scheme a change asks for, by name and custom
// description: a description alone asks for "custom", and "custom"
// without one keeps the stored description. ok is false when the change
// asks for no scheme.
func changedScheme(name *string, custom, stored []byte) (string, []byte, bool) {
	if name == nil && len(custom) == 0 {
		return "", nil, false
	}
	n := schemes.Custom
	if name != nil {
		n = *name
	}
	if len(custom) == 0 && n == schemes.Custom {
		custom = stored
	}
	return n, custom, true
}

// schemeError names the field a schemes.Parse error is about.
func schemeError(name string, err error) *FieldError {
	if name == schemes.None {
		return errNoneRefused
	}
	field := "custom_scheme"
	if errors.Is(err, schemes.ErrUnknown) {
		field = "scheme"
	}
	return &FieldError{Field: field, Reason: "is refused: " + err.Error()}
}

// EndpointChange names what a person changes of an endpoint; nil fields
// (and a nil CustomScheme) stay as they are.
type EndpointChange struct {
	// Tenant cannot change; a value other than the stored one is refused.
	Tenant      *string
	URL         *string
	Description *string
	// Scheme switches the scheme; CustomScheme alone switches to
	// "custom". Switching keeps the current secrets if the new scheme can
	// use them, else needs Secret; an endpoint that had none (it
	// forwarded unsigned) gets a generated one.
	Scheme       *string
	CustomScheme []byte
	// Secret replaces every secret at once (RotateSecret keeps the old
	// ones signing for a while).
	Secret     *string
	EventTypes *[]string
	// Filter replaces the payload filter; a pointer to an empty text,
	// null or {} removes it.
	Filter    *[]byte
	Enabled   *bool
	FIFO      *bool
	RateLimit *float64
	// TraceContext turns the traceparent header of deliveries on or off.
	TraceContext *bool
	// Headers replaces the static headers; a pointer to an empty map
	// clears them.
	Headers *map[string]string
	// Auth replaces the receiver authentication; a zero Type clears it.
	Auth *store.ReceiverAuth
	// ClientTLS replaces the client certificate; an empty CertPEM clears
	// it.
	ClientTLS *store.ClientTLS
	// Timeout replaces the request timeout (0: the server's).
	Timeout *time.Duration
	// RetrySchedule replaces the retry schedule; a pointer to nil means
	// the server's.
	RetrySchedule *[]time.Duration
}

// UpdateEndpoint applies ch to the endpoint id in one transaction that
// writes only what ch changes. within, when not nil, restricts the change
// to the endpoints of that tenant: another's answers store.ErrNotFound.
// It returns the endpoint as stored and, when the change generated one,
// the new secret to show once. Errors: FieldErrors; store.ErrNotFound.
func (r *Rules) UpdateEndpoint(ctx context.Context, id string, ch EndpointChange, within *string) (*store.Endpoint, string, error) {
	var c collector
	if ch.URL != nil {
		// The DNS lookups happen before the transaction; a URL that did
		// not change is not looked up again.
		if cur, err := r.GetEndpoint(ctx, id, within); err != nil {
			return nil, "", err
		} else if *ch.URL != cur.URL {
			c.add(r.CheckURL(ctx, "url", *ch.URL))
		}
	}
	if ch.Description != nil {
		c.add(CheckText("description", *ch.Description, MaxDescriptionLen))
	}
	if ch.RateLimit != nil {
		c.add(CheckRateLimit(*ch.RateLimit))
	}
	var flt []byte
	if ch.Filter != nil {
		var err error
		flt, err = CheckFilter(*ch.Filter)
		c.add(err)
	}
	var types []string
	if ch.EventTypes != nil {
		var err error
		types, err = CheckEventTypes(*ch.EventTypes)
		c.add(err)
	}
	if ch.Auth != nil {
		if err := checkAuthForm(ch.Auth); err != nil {
			c.add(err)
		} else {
			c.add(r.checkAuthURL(ctx, ch.Auth))
		}
	}
	c.add(r.checkPolicy(ch.Timeout, ch.RetrySchedule))
	if err := c.err(); err != nil {
		return nil, "", err
	}
	now := r.cfg.Now()
	var (
		generated    string
		generatedFor string
		genUsed      bool
	)
	e, err := r.st.UpdateEndpoint(ctx, id, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		genUsed = false
		p := store.EndpointPatch{UpdatedAt: now}
		if within != nil && cur.Tenant != *within {
			return p, store.ErrNotFound
		}
		var c collector
		if ch.Tenant != nil && *ch.Tenant != cur.Tenant {
			c.add(fieldError("tenant", "cannot be changed: create a new endpoint"))
		}
		if ch.URL != nil && *ch.URL != cur.URL {
			p.URL = ch.URL
		}
		p.Description, p.FIFO, p.RateLimit, p.TraceContext = ch.Description, ch.FIFO, ch.RateLimit, ch.TraceContext
		if ch.EventTypes != nil {
			p.EventTypes = &types
		}
		if ch.Filter != nil {
			p.Filter = &flt
		}
		if ch.Enabled != nil && *ch.Enabled == cur.Disabled {
			p.Enabled = ch.Enabled
		}
		scheme, err := schemes.Resolve(cur.Scheme, cur.CustomScheme)
		if err != nil {
			return p, fmt.Errorf("stored scheme of endpoint %s: %w", cur.ID, err)
		}
		switched := false
		if name, custom, ok := changedScheme(ch.Scheme, ch.CustomScheme, cur.CustomScheme); ok {
			if name == schemes.None {
				switch {
				case !IsSourceTenant(cur.Tenant) || len(ch.CustomScheme) > 0:
					c.add(errNoneRefused)
				case ch.Secret != nil && *ch.Secret != "":
					c.add(fieldError("secret", "is refused: scheme %q forwards unsigned and takes no secret", schemes.None))
				default:
					none, noSecrets, noCustom := schemes.None, []store.Secret{}, []byte(nil)
					p.Scheme, p.Secrets, p.CustomScheme = &none, &noSecrets, &noCustom
				}
				c.add(settingsPatch(&p, cur, ch, nil, now))
				return p, c.err()
			}
			s, stored, storedCustom, err := schemes.Parse(name, custom)
			if err != nil {
				c.add(schemeError(name, err))
				return p, c.err()
			}
			scheme, switched = s, true
			p.Scheme, p.CustomScheme = &stored, &storedCustom
		}
		switch {
		case ch.Secret != nil:
			if scheme == nil {
				c.add(fieldError("secret", "is not taken by an endpoint that forwards unsigned (scheme %q): send a scheme with it", schemes.None))
				break
			}
			if err := checkSecret("secret", scheme, *ch.Secret); err != nil {
				c.add(err)
				break
			}
			p.Secrets = &[]store.Secret{{Value: *ch.Secret, CreatedAt: now}}
		case switched && len(cur.Secrets) == 0:
			// It forwarded unsigned and now signs: a secret of its own,
			// the same one if the transaction runs again.
			if generatedFor != scheme.Name() {
				s, err := newSecret(scheme)
				if err != nil {
					return p, err
				}
				generatedFor, generated = scheme.Name(), s
			}
			genUsed = true
			p.Secrets = &[]store.Secret{{Value: generated, CreatedAt: now}}
		case switched:
			for _, s := range cur.Secrets {
				if signature.ValidateSecret(scheme, s.Value) != nil {
					c.add(fieldError("secret", "is needed: the endpoint's current secret is not valid for scheme %q", scheme.Name()))
					break
				}
			}
		}
		c.add(settingsPatch(&p, cur, ch, scheme, now))
		return p, c.err()
	})
	if err != nil {
		return nil, "", fmt.Errorf("update endpoint %s: %w", id, err)
	}
	if !genUsed {
		generated = ""
	}
	return e, generated, nil
}

// GetEndpoint returns the endpoint id; within, when not nil, restricts it
// to that tenant (another's is store.ErrNotFound).
func (r *Rules) GetEndpoint(ctx context.Context, id string, within *string) (*store.Endpoint, error) {
	e, err := r.st.GetEndpoint(ctx, id)
	if err == nil && within != nil && e.Tenant != *within {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", id, err)
	}
	return e, nil
}

// DeleteEndpoint deletes the endpoint id, which cancels its pending
// deliveries; within restricts it as for GetEndpoint.
func (r *Rules) DeleteEndpoint(ctx context.Context, id string, within *string) error {
	if within != nil {
		if _, err := r.GetEndpoint(ctx, id, within); err != nil {
			return err
		}
	}
	if err := r.st.DeleteEndpoint(ctx, id); err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
}

// Rotation is a rotation of an endpoint's secret.
type Rotation struct {
	// Secret is the new secret; "" generates one.
	Secret string
	// Overlap is how long the current secrets keep signing beside the new
	// one, from 0 to MaxRotationOverlap; nil means the server's default.
	Overlap *time.Duration
}

// RotateSecret makes a new secret the endpoint's first, in one
// transaction: the current ones keep signing for the overlap, so that
// receivers switch without missing a delivery, and concurrent rotations
// each keep what the others added (up to MaxSecrets). within restricts it
// as for GetEndpoint. It returns the endpoint as stored and the new
// secret. Errors: FieldErrors ("secret", "overlap_seconds"); ErrUnsigned
// for an endpoint that forwards unsigned; store.ErrNotFound.
func (r *Rules) RotateSecret(ctx context.Context, id string, rot Rotation, within *string) (*store.Endpoint, string, error) {
	overlap := r.cfg.RotationOverlap
	if rot.Overlap != nil {
		overlap = *rot.Overlap
		if overlap < 0 || overlap > MaxRotationOverlap {
			return nil, "", FieldErrors{fieldError("overlap_seconds", "must be from 0 to %d", int64(MaxRotationOverlap/time.Second))}
		}
	}
	now := r.cfg.Now()
	secret, secretFor := rot.Secret, ""
	e, err := r.st.UpdateEndpoint(ctx, id, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		p := store.EndpointPatch{UpdatedAt: now}
		if within != nil && cur.Tenant != *within {
			return p, store.ErrNotFound
		}
		if cur.Scheme == schemes.None {
			return p, ErrUnsigned
		}
		scheme, err := schemes.Resolve(cur.Scheme, cur.CustomScheme)
		if err != nil {
			return p, fmt.Errorf("stored scheme of endpoint %s: %w", cur.ID, err)
		}
		switch {
		case rot.Secret != "":
			if err := checkSecret("secret", scheme, rot.Secret); err != nil {
				return p, err
			}
		case secretFor != scheme.Name():
			if secret, err = newSecret(scheme); err != nil {
				return p, err
			}
			secretFor = scheme.Name()
		}
		secrets := Rotate(cur.Secrets, secret, now, overlap)
		p.Secrets = &secrets
		return p, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("rotate the secret of endpoint %s: %w", id, err)
	}
	return e, secret, nil
}

// Rotate returns the secrets after a rotation to secret at now: the new
// secret first, then the old ones that still sign, each expiring at
// now+overlap at the latest, at most MaxSecrets in all.
func Rotate(old []store.Secret, secret string, now time.Time, overlap time.Duration) []store.Secret {
	out := []store.Secret{{Value: secret, CreatedAt: now}}
	if overlap <= 0 {
		return out
	}
	until := now.Add(overlap)
	for _, s := range old {
		if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
			continue
		}
		if s.ExpiresAt == nil || s.ExpiresAt.After(until) {
			s.ExpiresAt = &until
		}
		out = append(out, s)
	}
	return out[:min(len(out), MaxSecrets)]
}

// LiveSecrets returns the secrets that still sign at now.
func LiveSecrets(ss []store.Secret, now time.Time) []store.Secret {
	out := make([]store.Secret, 0, len(ss))
	for _, s := range ss {
		if s.ExpiresAt == nil || s.ExpiresAt.After(now) {
			out = append(out, s)
		}
	}
	return out
}

// settingsPatch adds ch's delivery settings to p, checked against what
// the endpoint becomes: its scheme (nil: unsigned) for the headers, its
// URL for the client certificate, its auth for an Authorization header.
// The checks that need no I/O run here, inside the transaction, so that a
// change of the scheme or the URL alone is checked against the stored
// settings too.
func settingsPatch(p *store.EndpointPatch, cur *store.Endpoint, ch EndpointChange, scheme *signature.Scheme, now time.Time) error {
	var c collector
	url := cur.URL
	if p.URL != nil {
		url = *p.URL
	}
	headers, auth, ctls := cur.Headers, cur.Auth, cur.ClientTLS
	if ch.Headers != nil {
		headers = *ch.Headers
		p.Headers = ch.Headers
	}
	if ch.Auth != nil {
		auth = ch.Auth
		if auth.Type == "" {
			auth = nil
		}
		p.Auth = ch.Auth
	}
	if ch.ClientTLS != nil {
		ctls = ch.ClientTLS
		p.ClientTLS = ch.ClientTLS
	}
	if ch.Headers != nil || ch.Auth != nil || p.Scheme != nil {
		c.add(checkHeaders(headers, scheme, auth != nil))
	}
	if ch.ClientTLS != nil || (p.URL != nil && ctls != nil) {
		c.add(checkClientTLS(ctls, url, now))
	}
	p.Timeout, p.RetrySchedule = ch.Timeout, ch.RetrySchedule
	return c.err()
}
