package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hookrelay/hookrelay/client"
)

var replayCommands = []subcommand{
	{"create", "start a bulk replay job that runs in the background under a rate cap", runReplaysCreate},
	{"list", "list replay jobs with their progress, newest first", runReplaysList},
	{"get", "show a replay job and its progress", runReplaysGet},
	{"cancel", "cancel a replay job that is not done", runReplaysCancel},
}

func runReplays(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "replays", replayCommands, args)
}

func runReplaysCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("replays create", e.stderr)
	kind := fs.String("kind", "failed", "failed: make failed deliveries due again; missing: create the deliveries endpoints missed")
	endpoint := fs.String("endpoint", "", "the one endpoint to replay to (default: every endpoint of --tenant, or of the key's tenant)")
	tenant := fs.String("tenant", "", "without --endpoint, the tenant whose endpoints to replay to (an admin key without it: every endpoint)")
	since := fs.String("since", "", "what was created since this RFC 3339 time, or this long ago such as 24h (required)")
	until := fs.String("until", "", "what was created before this RFC 3339 time, or this long ago (default: no bound)")
	rate := fs.Int("rate", 0, "deliveries per second at most (default: the server's --max-replay-rate)")
	var types, statuses stringList
	fs.Var(&types, "event-type", "only this event type or filter (invoice.*), repeatable")
	fs.Var(&statuses, "status", "for --kind failed: failed or canceled, repeatable (default failed)")
	cf := addClientFlags(fs)
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	if *since == "" {
		return usagef("--since is required")
	}
	p := &client.ReplayParams{Kind: *kind, EndpointID: *endpoint, EventTypes: types, Status: statuses, Rate: *rate}
	if p.Since, p.Until, err = parseWindow(*since, *until); err != nil {
		return err
	}
	if *tenant != "" {
		p.Tenant = tenant
	}
	j, err := c.CreateReplay(ctx, p)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, j.Raw)
	}
	fmt.Fprintf(e.stdout, "replay job %s is %s (hookrelay replays get %s)\n", j.ID, j.State, j.ID)
	return nil
}

func runReplaysList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("replays list", e.stderr)
	tenant := fs.String("tenant", "", "only this tenant's jobs")
	pf := addPageFlags(fs, "replay jobs")
	cf := addClientFlags(fs)
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	f := &client.ReplayFilter{Limit: pf.limit, Cursor: pf.cursor}
	if *tenant != "" {
		f.Tenant = tenant
	}
	page, err := c.ListReplays(ctx, f)
	return printPage(e, cf, page, err, []string{"ID", "KIND", "STATE", "ENDPOINT", "SCANNED", "QUEUED", "RATE", "CREATED"},
		func(j *client.ReplayJob) []string {
			return []string{j.ID, j.Kind, j.State, orDash(j.EndpointID), strconv.Itoa(j.Counts.Scanned), strconv.Itoa(j.Counts.Queued),
				strconv.Itoa(j.Rate) + "/s", fmtTime(&j.CreatedAt)}
		})
}

func printReplay(e *env, cf *clientFlags, j *client.ReplayJob) error {
	if cf.json {
		return printJSON(e.stdout, j.Raw)
	}
	tenant := "(every tenant)"
	if j.Tenant != nil {
		tenant = *j.Tenant
	}
	return table(e.stdout, nil, [][]string{
		{"id", j.ID},
		{"kind", j.Kind},
		{"state", j.State},
		{"tenant", tenant},
		{"endpoint", orDash(j.EndpointID)},
		{"since", fmtTime(&j.Since)},
		{"until", fmtTime(j.Until)},
		{"rate", strconv.Itoa(j.Rate) + "/s"},
		{"scanned", strconv.Itoa(j.Counts.Scanned)},
		{"queued", strconv.Itoa(j.Counts.Queued)},
		{"cursor", orDash(j.Cursor)},
		{"error", orDash(j.Error)},
		{"created", fmtTime(&j.CreatedAt)},
		{"started", fmtTime(j.StartedAt)},
		{"finished", fmtTime(j.FinishedAt)},
	})
}

func runReplaysGet(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "replays get", "replay job ID", args, nil)
	if err != nil {
		return err
	}
	j, err := c.GetReplay(ctx, id)
	if err != nil {
		return err
	}
	return printReplay(e, cf, j)
}

func runReplaysCancel(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "replays cancel", "replay job ID", args, nil)
	if err != nil {
		return err
	}
	j, err := c.CancelReplay(ctx, id)
	if err != nil {
		return err
	}
	return printReplay(e, cf, j)
}
