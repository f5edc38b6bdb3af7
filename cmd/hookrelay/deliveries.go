package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

var deliveryCommands = []subcommand{
	{"list", "list deliveries, by endpoint, event or status", runDeliveriesList},
	{"get", "show a delivery and its attempts", runDeliveriesGet},
	{"retry", "attempt a delivery again now", runDeliveriesRetry},
	{"replay", "retry the failed deliveries of an endpoint in a window (by type and status)", runDeliveriesReplay},
	{"replay-missing", "send an endpoint the events of a window it has no delivery for (it was disabled)", runDeliveriesReplayMissing},
}

func runDeliveries(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "deliveries", deliveryCommands, args)
}

// deliveryLatency is the duration of d's latest attempt, "-" for none.
func deliveryLatency(d *client.Delivery) string {
	if d.LastAttempt == nil {
		return "-"
	}
	return fmtMS(d.LastAttempt.DurationMS)
}

func fmtMS(ms float64) string { return strconv.FormatFloat(ms, 'f', 1, 64) + "ms" }

func statusText(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

func runDeliveriesList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deliveries list", e.stderr)
	endpoint := fs.String("endpoint", "", "only this endpoint's deliveries")
	event := fs.String("event", "", "only this event's deliveries")
	status := fs.String("status", "", "only deliveries with this status: pending, succeeded, failed or canceled")
	eventType := fs.String("event-type", "", "only deliveries of this event type")
	since := fs.String("since", "", "only deliveries created since this RFC 3339 time, or this long ago (such as 24h)")
	pf := addPageFlags(fs, "deliveries")
	cf := addClientFlags(fs)
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	filter := &client.DeliveryFilter{EndpointID: *endpoint, EventID: *event, Status: client.DeliveryStatus(*status),
		EventType: *eventType, Limit: pf.limit, Cursor: pf.cursor}
	if *since != "" {
		if filter.Since, err = parseSince(*since, time.Now()); err != nil {
			return err
		}
	}
	page, err := c.ListDeliveries(ctx, filter)
	return printPage(e, cf, page, err,
		[]string{"ID", "EVENT", "ENDPOINT", "TYPE", "STATUS", "ATTEMPTS", "LAST STATUS", "LATENCY", "NEXT ATTEMPT"},
		func(d *client.Delivery) []string {
			next := "-"
			if d.Status == client.StatusPending {
				next = fmtTime(d.NextAttemptAt)
			}
			return []string{d.ID, d.EventID, d.EndpointID, d.EventType, string(d.Status),
				strconv.Itoa(d.AttemptCount), statusText(d.LastStatus), deliveryLatency(d), next}
		})
}

// parseSince reads an RFC 3339 time, or a duration meaning that long before
// now.
func parseSince(s string, now time.Time) (time.Time, error) {
	return parseTimeFlag("since", s, now)
}

// parseTimeFlag is parseSince for the flag called name, which its error
// names.
func parseTimeFlag(name, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (24h)", name, s)
}

// parseWindow reads a replay's required --since and optional --until
// (nil when not given), both relative to one now.
func parseWindow(since, until string) (time.Time, *time.Time, error) {
	now := time.Now()
	from, err := parseTimeFlag("since", since, now)
	if err != nil || until == "" {
		return from, nil, err
	}
	to, err := parseTimeFlag("until", until, now)
	if err != nil {
		return time.Time{}, nil, err
	}
	return from, &to, nil
}

func runDeliveriesGet(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "deliveries get", "delivery ID", args, nil)
	if err != nil {
		return err
	}
	d, err := c.GetDelivery(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, d.Raw)
	}
	if err := table(e.stdout, nil, [][]string{
		{"id", d.ID},
		{"event", d.EventID},
		{"endpoint", d.EndpointID},
		{"type", d.EventType},
		{"tenant", orDash(d.Tenant)},
		{"status", string(d.Status)},
		{"attempts", strconv.Itoa(d.AttemptCount)},
		{"next attempt", fmtTime(d.NextAttemptAt)},
		{"last error", orDash(d.LastError)},
		{"created", fmtTime(&d.CreatedAt)},
		{"completed", fmtTime(d.CompletedAt)},
	}); err != nil {
		return err
	}
	for _, at := range d.Attempts {
		fmt.Fprintf(e.stdout, "\nattempt %d (%s) at %s: status %s, %s", at.Number, at.Trigger, fmtTime(&at.StartedAt), statusText(at.StatusCode), fmtMS(at.DurationMS))
		if at.Error != "" {
			fmt.Fprintf(e.stdout, ", error: %s", at.Error)
		}
		fmt.Fprintln(e.stdout)
		names := make([]string, 0, len(at.RequestHeaders))
		for k := range at.RequestHeaders {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(e.stdout, "  > %s: %s\n", k, at.RequestHeaders[k])
		}
		if at.ResponseBody != "" {
			fmt.Fprintf(e.stdout, "  < %s\n", at.ResponseBody)
		}
	}
	return nil
}

func runDeliveriesRetry(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "deliveries retry", "delivery ID", args, nil)
	if err != nil {
		return err
	}
	d, err := c.RetryDelivery(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, d.Raw)
	}
	fmt.Fprintf(e.stdout, "%s is due now (%s, %d attempts so far)\n", d.ID, d.Status, d.AttemptCount)
	return nil
}

func runDeliveriesReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deliveries replay", e.stderr)
	endpoint := fs.String("endpoint", "", "endpoint whose failed deliveries to retry (required)")
	since := fs.String("since", "", "replay failed deliveries created since this RFC 3339 time, or this long ago such as 24h (required)")
	until := fs.String("until", "", "only deliveries created before this RFC 3339 time, or this long ago (default: no bound)")
	var types, statuses stringList
	fs.Var(&types, "event-type", "only deliveries of this event type or filter (invoice.*), repeatable")
	fs.Var(&statuses, "status", "failed or canceled, repeatable (default failed)")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *endpoint == "" || *since == "" {
		return usagef("--endpoint and --since are required")
	}
	p := &client.ReplayFailedParams{EventTypes: types, Status: statuses}
	if p.Since, p.Until, err = parseWindow(*since, *until); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	// A large window takes several calls: each stops in time and says
	// where to go on (replays create runs one in the background).
	var replayed, scanned int
	for {
		out, err := c.ReplayFailedWindow(ctx, *endpoint, p)
		if err != nil {
			return err
		}
		replayed += out.Replayed
		scanned += out.Scanned
		if out.Complete || out.NextCursor == "" {
			break
		}
		p.After = out.NextCursor
	}
	if cf.json {
		return writeJSONOut(e, map[string]any{"replayed": replayed, "scanned": scanned, "complete": true})
	}
	fmt.Fprintf(e.stdout, "%d failed deliveries are due again\n", replayed)
	return nil
}

func runDeliveriesReplayMissing(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deliveries replay-missing", e.stderr)
	endpoint := fs.String("endpoint", "", "endpoint to give the events it missed (required)")
	since := fs.String("since", "", "events created since this RFC 3339 time, or this long ago such as 24h (required)")
	until := fs.String("until", "", "events created before this RFC 3339 time, or this long ago (default: now)")
	var types stringList
	fs.Var(&types, "event-type", "only events of this type or filter (invoice.*), repeatable")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *endpoint == "" || *since == "" {
		return usagef("--endpoint and --since are required")
	}
	p := &client.ReplayMissingParams{EventTypes: types}
	if p.Since, p.Until, err = parseWindow(*since, *until); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	// A large window takes several calls: each stops in time and says
	// where to go on.
	var created, scanned int
	for {
		out, err := c.ReplayMissing(ctx, *endpoint, p)
		if err != nil {
			return err
		}
		created += out.Created
		scanned += out.Scanned
		if out.Complete || out.NextCursor == "" {
			if cf.json {
				return writeJSONOut(e, map[string]any{"created": created, "scanned": scanned, "complete": true})
			}
			fmt.Fprintf(e.stdout, "%d missed events are on their way (%d looked at)\n", created, scanned)
			return nil
		}
		p.After = out.NextCursor
	}
}
