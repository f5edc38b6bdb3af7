package main

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"
)

var deliveryCommands = map[string]subcommand{
	"list":           {"list deliveries, by endpoint, event or status", runDeliveriesList},
	"get":            {"show a delivery and its attempts", runDeliveriesGet},
	"retry":          {"attempt a delivery again now", runDeliveriesRetry},
	"replay":         {"retry every failed delivery of an endpoint since a time", runDeliveriesReplay},
	"replay-missing": {"send an endpoint the events of a window it has no delivery for (it was disabled)", runDeliveriesReplayMissing},
}

func runDeliveries(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "deliveries", deliveryCommands, []string{"list", "get", "retry", "replay", "replay-missing"}, args)
}

// attemptOut is what the CLI reads of an attempt.
type attemptOut struct {
	Number         int               `json:"number"`
	StartedAt      time.Time         `json:"started_at"`
	DurationMS     float64           `json:"duration_ms"`
	URL            string            `json:"url"`
	RequestHeaders map[string]string `json:"request_headers"`
	StatusCode     int               `json:"status_code"`
	Error          string            `json:"error"`
	ResponseBody   string            `json:"response_body"`
	Trigger        string            `json:"trigger"`
}

// deliveryOut is what the CLI reads of a delivery.
type deliveryOut struct {
	ID            string       `json:"id"`
	EventID       string       `json:"event_id"`
	EndpointID    string       `json:"endpoint_id"`
	EventType     string       `json:"event_type"`
	Tenant        string       `json:"tenant"`
	Status        string       `json:"status"`
	AttemptCount  int          `json:"attempt_count"`
	NextAttemptAt *time.Time   `json:"next_attempt_at"`
	LastStatus    int          `json:"last_status"`
	LastError     string       `json:"last_error"`
	CreatedAt     time.Time    `json:"created_at"`
	CompletedAt   *time.Time   `json:"completed_at"`
	LastAttempt   *attemptOut  `json:"last_attempt"`
	Attempts      []attemptOut `json:"attempts"`
}

func (d *deliveryOut) latency() string {
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
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"endpoint_id": *endpoint, "event_id": *event, "status": *status, "event_type": *eventType} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return err
		}
		q.Set("since", t.Format(time.RFC3339Nano))
	}
	return listPage(ctx, e, c, cf, pf, "/api/v1/deliveries", q,
		[]string{"ID", "EVENT", "ENDPOINT", "TYPE", "STATUS", "ATTEMPTS", "LAST STATUS", "LATENCY", "NEXT ATTEMPT"},
		func(d deliveryOut) []string {
			next := "-"
			if d.Status == "pending" {
				next = fmtTime(d.NextAttemptAt)
			}
			return []string{d.ID, d.EventID, d.EndpointID, d.EventType, d.Status,
				strconv.Itoa(d.AttemptCount), statusText(d.LastStatus), d.latency(), next}
		})
}

// parseSince reads an RFC 3339 time, or a duration meaning that long before
// now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (24h)", s)
}

// deliveryByID runs "deliveries VERB ID", calling method on
// /api/v1/deliveries/ID+suffix.
func deliveryByID(ctx context.Context, e *env, verb string, args []string, method, suffix string) error {
	fs := newFlagSet("deliveries "+verb, e.stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "delivery ID"); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	var d deliveryOut
	raw, err := c.call(ctx, method, "/api/v1/deliveries/"+pathEscape(pos[0])+suffix, nil, &d)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	if suffix == "/retry" {
		fmt.Fprintf(e.stdout, "%s is due now (%s, %d attempts so far)\n", d.ID, d.Status, d.AttemptCount)
		return nil
	}
	if err := table(e.stdout, nil, [][]string{
		{"id", d.ID},
		{"event", d.EventID},
		{"endpoint", d.EndpointID},
		{"type", d.EventType},
		{"tenant", orDash(d.Tenant)},
		{"status", d.Status},
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

func runDeliveriesGet(ctx context.Context, e *env, args []string) error {
	return deliveryByID(ctx, e, "get", args, "GET", "")
}

func runDeliveriesRetry(ctx context.Context, e *env, args []string) error {
	return deliveryByID(ctx, e, "retry", args, "POST", "/retry")
}

func runDeliveriesReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deliveries replay", e.stderr)
	endpoint := fs.String("endpoint", "", "endpoint whose failed deliveries to retry (required)")
	since := fs.String("since", "", "replay failed deliveries created since this RFC 3339 time, or this long ago such as 24h (required)")
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
	t, err := parseSince(*since, time.Now())
	if err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	var out struct {
		Replayed int `json:"replayed"`
	}
	raw, err := c.call(ctx, "POST", "/api/v1/endpoints/"+pathEscape(*endpoint)+"/replay",
		map[string]string{"since": t.Format(time.RFC3339Nano)}, &out)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	fmt.Fprintf(e.stdout, "%d failed deliveries are due again\n", out.Replayed)
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
	now := time.Now()
	from, err := parseSince(*since, now)
	if err != nil {
		return err
	}
	body := map[string]any{"since": from.Format(time.RFC3339Nano)}
	if *until != "" {
		to, err := parseSince(*until, now)
		if err != nil {
			return err
		}
		body["until"] = to.Format(time.RFC3339Nano)
	}
	if len(types) > 0 {
		body["event_types"] = []string(types)
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	// A large window takes several calls: each stops in time and says
	// where to go on.
	var created, scanned int
	for {
		var out struct {
			Created    int    `json:"created"`
			Scanned    int    `json:"scanned"`
			Complete   bool   `json:"complete"`
			NextCursor string `json:"next_cursor"`
		}
		_, err := c.call(ctx, "POST", "/api/v1/endpoints/"+pathEscape(*endpoint)+"/replay-missing", body, &out)
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
		body["after"] = out.NextCursor
	}
}
