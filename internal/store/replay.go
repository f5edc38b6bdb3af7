package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Matches reports whether ev goes to e at fan-out: the one decision that
// CreateEvent and ReplayMissing make for each enabled endpoint of ev's
// tenant, so that a rule on what an endpoint receives (its event types
// and its payload filter) is written once. It has the whole event, payload
// included; match evaluates e's payload filter on it (FilterCache.ForEvent
// of ev's payload, made once for all of ev's endpoints).
func Matches(e *Endpoint, ev *Event, match *PayloadMatcher) bool {
	return e.Accepts(ev.Type) && match.Matches(e.ID, e.UpdatedAt.UnixMilli(), e.Filter)
}

// DefaultReplayMissingBatch is ReplayMissingParams.Batch's default.
const DefaultReplayMissingBatch = 500

// ReplayMissingParams says which events ReplayMissing looks at.
type ReplayMissingParams struct {
	EndpointID string
	// Since and Until bound the events' creation: [Since, Until); a zero
	// Until means no upper bound.
	Since, Until time.Time
	// EventTypes, when not empty, narrows the events to those it accepts,
	// as an endpoint's filter does ("invoice.*" included), on top of the
	// endpoint's own filter.
	EventTypes []string
	// Now is when the new deliveries are due.
	Now time.Time
	// After continues a replay: the Next of the previous batch; "" for the
	// first.
	After string
	// Batch bounds the events one call looks at; 0 means
	// DefaultReplayMissingBatch.
	Batch int
}

// ReplayMissingResult says what one ReplayMissing batch did.
type ReplayMissingResult struct {
	// Scanned is how many events of the endpoint's tenant in the window
	// the batch looked at, delivered to it or not: at most Batch, so that
	// one transaction stays short however many were delivered already.
	Scanned int
	// Created is how many of them got a delivery (those Matches takes).
	Created int
	// Next continues with the next batch; "" when the window is done.
	Next string
}

// ReplayCandidate is an event a ReplayMissing batch looked at, with
// whether it has a delivery to the endpoint already.
type ReplayCandidate struct {
	Event     *Event
	Delivered bool
}

// PlanReplay decides, for both stores, what a ReplayMissing batch of
// endpoint e does with the events it looked at (oldest first, at most
// batch of them): it returns the batch's Scanned and Next, and the events
// that get a delivery, those without one that Matches e and eventTypes
// (ReplayMissingParams.EventTypes). The caller sets Created.
func PlanReplay(e *Endpoint, eventTypes []string, batch int, looked []ReplayCandidate, filters *FilterCache) (ReplayMissingResult, []*Event) {
	res := ReplayMissingResult{Scanned: len(looked)}
	if len(looked) == batch {
		last := looked[len(looked)-1].Event
		res.Next = ReplayCursor(last.CreatedAt.UnixMilli(), last.ID)
	}
	narrow := &Endpoint{EventTypes: eventTypes}
	var due []*Event
	for _, c := range looked {
		if c.Delivered || !narrow.Accepts(c.Event.Type) || !Matches(e, c.Event, filters.ForEvent(c.Event.Payload)) {
			continue
		}
		due = append(due, c.Event)
	}
	return res, due
}

// Replays is the part of a Store that gives an endpoint what it missed.
type Replays interface {
	// ReplayMissing creates, in one transaction, a pending delivery to
	// the endpoint, due at p.Now, for each event of its tenant created in
	// the window, oldest first, that has no delivery to it yet and that
	// Matches it (and p.EventTypes), looking at p.Batch events at most.
	// Callers repeat it with p.After = Next until Next is "". Run twice,
	// it creates nothing the second time: an event that has a delivery to
	// the endpoint, whatever its status, is skipped, and concurrent calls
	// for one endpoint take turns. A disabled endpoint's new deliveries
	// are held, as its others are. ErrNotFound if there is no such
	// endpoint.
	ReplayMissing(ctx context.Context, p ReplayMissingParams) (ReplayMissingResult, error)
}

// ReplayCursor encodes where a ReplayMissing batch stopped: the creation
// time (Unix milliseconds) and id of the last event it looked at.
func ReplayCursor(createdAt int64, id string) string {
	return strconv.FormatInt(createdAt, 10) + "/" + id
}

// ParseReplayCursor decodes a ReplayCursor; "" is the start, (0, "").
func ParseReplayCursor(s string) (createdAt int64, id string, ok bool) {
	if s == "" {
		return 0, "", true
	}
	ms, id, found := strings.Cut(s, "/")
	if !found || id == "" {
		return 0, "", false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, id, true
}
