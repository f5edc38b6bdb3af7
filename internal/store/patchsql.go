package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Assignment is one column a patch writes and its new value, for the
// stores' UPDATE statements. Values are string, []byte (nil for NULL),
// bool, float64, int64 or nil (NULL); a store converts them to its
// driver's types.
type Assignment struct {
	Column string
	Value  any
}

// EndpointChange is what an EndpointPatch does to a stored endpoint.
type EndpointChange struct {
	// Set lists the columns written, updated_at last.
	Set []Assignment
	// Disabled and FIFO are the endpoint's flags after the change;
	// Requeue reports whether either changed, so that the store must put
	// the hold flags of its pending deliveries right, and FIFOChanged
	// whether their fifo column must follow.
	Disabled, FIFO       bool
	Requeue, FIFOChanged bool
}

// EndpointChanges turns p into the assignments that apply it to cur, the
// endpoint as stored, read in the same transaction. Enabled counts only
// when it changes cur's state: enabling an enabled endpoint keeps its
// FailingSince, and disabling a disabled one keeps its reason (an
// automatic one stays automatic). Secrets are sealed with c; a zero
// p.UpdatedAt means now.
func EndpointChanges(cur *Endpoint, p EndpointPatch, c Cipher) (EndpointChange, error) {
	ch := EndpointChange{Disabled: cur.Disabled, FIFO: cur.FIFO}
	set := func(col string, v any) { ch.Set = append(ch.Set, Assignment{col, v}) }
	if p.URL != nil {
		set("url", *p.URL)
	}
	if p.Description != nil {
		set("description", *p.Description)
	}
	if p.Scheme != nil {
		set("scheme", *p.Scheme)
	}
	if p.CustomScheme != nil {
		set("custom_scheme", *p.CustomScheme)
	}
	if p.Secrets != nil {
		sealed, err := SealSecrets(c, *p.Secrets)
		if err != nil {
			return ch, err
		}
		set("secrets", sealed)
	}
	if p.EventTypes != nil {
		types := *p.EventTypes
		if types == nil {
			types = []string{}
		}
		b, err := json.Marshal(types)
		if err != nil {
			return ch, fmt.Errorf("encode event types: %w", err)
		}
		set("event_types", string(b))
	}
	if p.Filter != nil {
		if len(*p.Filter) == 0 {
			set("filter", nil)
		} else {
			set("filter", string(*p.Filter))
		}
	}
	if p.FIFO != nil && *p.FIFO != cur.FIFO {
		set("fifo", *p.FIFO)
		ch.FIFO, ch.FIFOChanged, ch.Requeue = *p.FIFO, true, true
	}
	if p.RateLimit != nil {
		set("rate_limit", *p.RateLimit)
	}
	if p.TraceContext != nil {
		set("trace_context", *p.TraceContext)
	}
	if p.Headers != nil || p.Auth != nil || p.ClientTLS != nil {
		// Sealed together: a patch of one writes the others as stored.
		next := *cur
		if p.Headers != nil {
			next.Headers = *p.Headers
		}
		if p.Auth != nil {
			next.Auth = p.Auth
			if p.Auth.Type == "" {
				next.Auth = nil
			}
		}
		if p.ClientTLS != nil {
			next.ClientTLS = p.ClientTLS
			if p.ClientTLS.Empty() {
				next.ClientTLS = nil
			}
		}
		sealed, err := SealSettings(c, &next)
		if err != nil {
			return ch, err
		}
		set("settings", sealed)
	}
	if p.Timeout != nil {
		set("timeout_ms", p.Timeout.Milliseconds())
	}
	if p.RetrySchedule != nil {
		v, err := EncodeSchedule(*p.RetrySchedule)
		if err != nil {
			return ch, err
		}
		set("retry_schedule", v)
	}
	if p.Enabled != nil && *p.Enabled == cur.Disabled {
		if *p.Enabled {
			set("disabled", false)
			set("disabled_reason", "")
			set("failing_since", nil)
		} else {
			set("disabled", true)
			set("disabled_reason", "manual")
		}
		ch.Disabled, ch.Requeue = !*p.Enabled, true
	}
	at := p.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	set("updated_at", at.UnixMilli())
	return ch, nil
}

// SourceChanges turns p into the assignments that apply it to cur, the
// source as stored, read in the same transaction. The secrets and the
// Zoom secret are sealed together, by seal, so a patch of either writes
// both, the other as stored. A zero p.UpdatedAt means now.
func SourceChanges(cur *Source, p SourcePatch, seal func(*Source) ([]byte, error)) ([]Assignment, error) {
	var out []Assignment
	set := func(col string, v any) { out = append(out, Assignment{col, v}) }
	if p.Description != nil {
		set("description", *p.Description)
	}
	if p.Scheme != nil {
		set("scheme", *p.Scheme)
	}
	if p.CustomScheme != nil {
		set("custom_scheme", *p.CustomScheme)
	}
	if p.Secrets != nil || p.ZoomSecret != nil {
		next := *cur
		if p.Secrets != nil {
			next.Secrets = *p.Secrets
		}
		if p.ZoomSecret != nil {
			next.ZoomSecret = *p.ZoomSecret
		}
		sealed, err := seal(&next)
		if err != nil {
			return nil, err
		}
		set("secrets", sealed)
	}
	if p.Tolerance != nil {
		set("tolerance_ms", p.Tolerance.Milliseconds())
	}
	if p.DedupeWindow != nil {
		set("dedupe_ms", p.DedupeWindow.Milliseconds())
	}
	if p.SlackChallenge != nil {
		set("slack_challenge", *p.SlackChallenge)
	}
	at := p.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	set("updated_at", at.UnixMilli())
	return out, nil
}

// PatchOf returns the patch that writes every field of e a patch can name
// but Enabled, and e.UpdatedAt: what a caller that edited a copy of the
// whole endpoint means to write. Enabled is left out because a copy read
// earlier may predate the engine's auto-disable, which it would undo; a
// caller sets it only when the person asked for the change.
func PatchOf(e *Endpoint) EndpointPatch {
	return EndpointPatch{
		URL:           new(e.URL),
		Description:   new(e.Description),
		Scheme:        new(e.Scheme),
		CustomScheme:  new(e.CustomScheme),
		Secrets:       new(e.Secrets),
		EventTypes:    new(e.EventTypes),
		Filter:        new(e.Filter),
		FIFO:          new(e.FIFO),
		RateLimit:     new(e.RateLimit),
		Headers:       new(e.Headers),
		Auth:          authPatch(e.Auth),
		ClientTLS:     tlsPatch(e.ClientTLS),
		Timeout:       new(e.Timeout),
		RetrySchedule: new(e.RetrySchedule),
		TraceContext:  new(e.TraceContext),
		UpdatedAt:     e.UpdatedAt,
	}
}

// SourcePatchOf returns the patch that writes every field of src a patch
// can name, and src.UpdatedAt.
func SourcePatchOf(src *Source) SourcePatch {
	return SourcePatch{
		Description:    new(src.Description),
		Scheme:         new(src.Scheme),
		CustomScheme:   new(src.CustomScheme),
		Secrets:        new(src.Secrets),
		Tolerance:      new(src.Tolerance),
		DedupeWindow:   new(src.DedupeWindow),
		SlackChallenge: new(src.SlackChallenge),
		ZoomSecret:     new(src.ZoomSecret),
		UpdatedAt:      src.UpdatedAt,
	}
}

// authPatch is the patch value that writes a: a zero one clears.
func authPatch(a *ReceiverAuth) *ReceiverAuth {
	if a == nil {
		return &ReceiverAuth{}
	}
	return a
}

// tlsPatch is the patch value that writes t: a zero one clears.
func tlsPatch(t *ClientTLS) *ClientTLS {
	if t == nil {
		return &ClientTLS{}
	}
	return t
}
