package inbound

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Limits and defaults of a source's settings, the same through the API and
// the dashboard (see "Settings" in the package documentation).
const (
	// DefaultDedupeWindow is how long a source remembers message IDs when
	// its settings do not say.
	DefaultDedupeWindow = 24 * time.Hour
	// MaxDedupeWindow and MinDedupeWindow bound a dedupe window.
	MaxDedupeWindow = 30 * 24 * time.Hour
	MinDedupeWindow = time.Minute
	// MaxTolerance bounds a source's replay tolerance.
	MaxTolerance = 24 * time.Hour
	// MaxSecrets is how many secrets a source holds at most.
	MaxSecrets = 10
	// MaxSecretLen bounds one secret, in bytes.
	MaxSecretLen = 1024
	// MaxDestinations is how many destinations one request may create
	// along with a source.
	MaxDestinations = 20
)

// The settings a SettingError names.
const (
	SettingTolerance    = "tolerance"
	SettingDedupeWindow = "dedupe window"
	SettingSecrets      = "secrets"
	SettingSecret       = "secret" // a destination's re-signing secret
)

// SettingError is a source setting that cannot be used. Callers that name
// settings their own way (the API's JSON fields, the dashboard's labels)
// build their message from Setting, Index and Reason; Error joins them.
type SettingError struct {
	// Setting is which: SettingTolerance, SettingDedupeWindow,
	// SettingSecrets or SettingSecret.
	Setting string
	// Index is, for SettingSecrets, the position of the refused secret,
	// newest first; -1 when the list as a whole is refused.
	Index int
	// Reason completes a sentence that starts with the setting's name,
	// such as "must be from 0 (the scheme's own) to 86400 seconds". It
	// never holds a secret.
	Reason string
}

func (e *SettingError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("%s[%d] %s", e.Setting, e.Index, e.Reason)
	}
	return e.Setting + " " + e.Reason
}

// Seconds returns n seconds as a duration, saturated at the bounds of
// time.Duration: a count too large to represent, typed in a form or sent
// in a request, stays out of every range check instead of wrapping around
// into it.
func Seconds(n int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Second)
	return time.Duration(min(max(n, -limit), limit)) * time.Second
}

// CheckWindows checks a source's replay tolerance (0: the scheme's own)
// and dedupe window (0: DefaultDedupeWindow) for scheme, and returns the
// dedupe window to store. The window must cover the tolerance: a verbatim
// replay within the tolerance carries the message ID (or body) of a request
// already accepted, and is recognized as a duplicate only if that ID is
// still remembered. Errors are *SettingError.
func CheckWindows(scheme *signature.Scheme, tolerance, dedupeWindow time.Duration) (time.Duration, error) {
	if tolerance < 0 || tolerance > MaxTolerance {
		return 0, &SettingError{SettingTolerance, -1,
			fmt.Sprintf("must be from 0 (the scheme's own) to %d seconds", int64(MaxTolerance/time.Second))}
	}
	if dedupeWindow < 0 || dedupeWindow > MaxDedupeWindow {
		return 0, &SettingError{SettingDedupeWindow, -1, fmt.Sprintf("must be from 0 (the default, %d) to %d seconds",
			int64(DefaultDedupeWindow/time.Second), int64(MaxDedupeWindow/time.Second))}
	}
	if dedupeWindow == 0 {
		dedupeWindow = DefaultDedupeWindow
	}
	if tolerance == 0 {
		tolerance = scheme.Tolerance()
	}
	if least := max(tolerance, MinDedupeWindow); dedupeWindow < least {
		return 0, &SettingError{SettingDedupeWindow, -1,
			fmt.Sprintf("must be at least %d seconds: the replay tolerance, and at least a minute", int64(least/time.Second))}
	}
	return dedupeWindow, nil
}

// CheckSecrets checks the secrets of a source, newest first, for scheme:
// one at least (a source verifies every request), at most MaxSecrets, each
// one usable by the scheme. It returns them as created at now. Errors are
// *SettingError.
func CheckSecrets(scheme *signature.Scheme, values []string, now time.Time) ([]store.Secret, error) {
	switch {
	case len(values) == 0:
		return nil, &SettingError{SettingSecrets, -1, "must not be empty: a source verifies every request"}
	case len(values) > MaxSecrets:
		return nil, &SettingError{SettingSecrets, -1, fmt.Sprintf("must be at most %d", MaxSecrets)}
	}
	out := make([]store.Secret, len(values))
	for i, v := range values {
		if reason := secretProblem(scheme, v); reason != "" {
			return nil, &SettingError{SettingSecrets, i, reason}
		}
		out[i] = store.Secret{Value: v, CreatedAt: now}
	}
	return out, nil
}

// secretProblem says why scheme cannot use secret, "" if it can. The
// answer never holds the secret.
func secretProblem(scheme *signature.Scheme, secret string) string {
	if len(secret) > MaxSecretLen {
		return fmt.Sprintf("is longer than %d bytes", MaxSecretLen)
	}
	if err := signature.ValidateSecret(scheme, secret); err != nil {
		return fmt.Sprintf("is not valid for scheme %q: %v", scheme.Name(), err)
	}
	return ""
}

// Destination is a destination of a source as an operator describes it:
// an internal service that receives what the source accepts.
type Destination struct {
	URL string
	// Scheme re-signs each forwarded request for the service to verify;
	// nil forwards it unsigned (endpoint scheme delivery.SchemeNone), for
	// a service that trusts the network.
	Scheme *signature.Scheme
	// CustomScheme is the JSON of Scheme when it is a custom scheme; the
	// endpoint is then stored with scheme "custom".
	CustomScheme []byte
	// Secret re-signs; "" generates one. It must be "" when Scheme is nil.
	Secret      string
	Description string
	Disabled    bool
	FIFO        bool
	RateLimit   float64
}

// NewDestination returns the endpoint, not yet stored, that d describes
// in src's tenant, and the re-signing secret to show once ("" for an
// unsigned one). It checks the secret only: callers check the URL (with
// delivery.CheckURL, per their own AllowPrivateNetworks), the description
// and the rate limit as they do for any endpoint. Errors are *SettingError
// or a failure to generate a secret.
func NewDestination(src *store.Source, d Destination, now time.Time) (*store.Endpoint, string, error) {
	ep := &store.Endpoint{
		ID:          store.NewID("ep"),
		Tenant:      src.Tenant(),
		URL:         d.URL,
		Description: d.Description,
		Disabled:    d.Disabled,
		FIFO:        d.FIFO,
		RateLimit:   d.RateLimit,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if d.Disabled {
		ep.DisabledReason = "manual"
	}
	if d.Scheme == nil {
		if d.Secret != "" {
			return nil, "", &SettingError{SettingSecret, -1, fmt.Sprintf("is not taken by scheme %q, which forwards unsigned", delivery.SchemeNone)}
		}
		ep.Scheme = delivery.SchemeNone
		return ep, "", nil
	}
	ep.Scheme = d.Scheme.Name()
	if len(d.CustomScheme) > 0 {
		ep.Scheme, ep.CustomScheme = "custom", d.CustomScheme
	}
	secret := d.Secret
	if secret == "" {
		var err error
		if secret, err = signature.GenerateSecret(d.Scheme); err != nil {
			return nil, "", fmt.Errorf("generate a secret for scheme %s: %w", d.Scheme.Name(), err)
		}
	} else if reason := secretProblem(d.Scheme, secret); reason != "" {
		return nil, "", &SettingError{SettingSecret, -1, reason}
	}
	ep.Secrets = []store.Secret{{Value: secret, CreatedAt: now}}
	return ep, secret, nil
}

// Destinations returns the destinations of src: every endpoint of its
// tenant, newest first.
func Destinations(ctx context.Context, st store.Store, src *store.Source) ([]*store.Endpoint, error) {
	tenant := src.Tenant()
	var out []*store.Endpoint
	f := store.EndpointFilter{Tenant: &tenant, Page: store.Page{Limit: 1000}}
	for {
		eps, next, err := st.ListEndpoints(ctx, f)
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

// DeleteSource deletes src, its rejections and its destinations, which
// cancels their pending deliveries, in one transaction of the store. Its
// events and their history stay. store.ErrNotFound (wrapped) if src no
// longer exists.
func DeleteSource(ctx context.Context, st store.Store, src *store.Source) error {
	if err := st.DeleteSource(ctx, src.ID); err != nil {
		return fmt.Errorf("delete source %s: %w", src.ID, err)
	}
	return nil
}
