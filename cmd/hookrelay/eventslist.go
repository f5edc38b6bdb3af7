package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// payloadFlags reads repeated --payload PATH=VALUE flags.
func payloadFlags(list stringList) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(list))
	for _, kv := range list {
		path, v, ok := strings.Cut(kv, "=")
		if !ok || path == "" {
			return nil, usagef("--payload %q: want PATH=VALUE, such as order.id=123", kv)
		}
		out[path] = v
	}
	return out, nil
}

func runEventsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("events list", e.stderr)
	typ := fs.String("type", "", "only events of this type, or of a prefix ending in .* (invoice.*)")
	tenant := fs.String("tenant", "", "only this tenant's events")
	endpoint := fs.String("endpoint", "", "only events with a delivery to this endpoint")
	status := fs.String("status", "", "only events with a delivery in this status: pending, succeeded, failed or canceled")
	since := fs.String("since", "", "only events created since this RFC 3339 time, or this long ago (such as 24h)")
	until := fs.String("until", "", "only events created before this RFC 3339 time, or this long ago")
	var payload stringList
	fs.Var(&payload, "payload", "PATH=VALUE: only events whose payload holds VALUE at PATH (order.id=123; a number compares by exact value, "+
		`'"123"' in double quotes is a string); repeatable; PATH must be a serve --search-field`)
	pf := addPageFlags(fs, "events")
	cf := addClientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay events list [--type T] [--payload PATH=VALUE]... [--since 24h] [flags]")
		fmt.Fprintln(fs.Output(), "\nLists events newest first, without their payloads (events get shows one).")
		fs.PrintDefaults()
	}
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	f := &client.EventFilter{Type: *typ, EndpointID: *endpoint, Status: client.DeliveryStatus(*status), Limit: pf.limit, Cursor: pf.cursor}
	if f.Payload, err = payloadFlags(payload); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "tenant" {
			f.Tenant = tenant
		}
	})
	now := time.Now()
	if *since != "" {
		if f.Since, err = parseSince(*since, now); err != nil {
			return err
		}
	}
	if *until != "" {
		if f.Until, err = parseTimeFlag("until", *until, now); err != nil {
			return err
		}
	}
	page, err := c.ListEvents(ctx, f)
	return printPage(e, cf, page, err, []string{"ID", "TENANT", "TYPE", "CREATED"},
		func(ev *client.Event) []string {
			return []string{ev.ID, ev.Tenant, ev.Type, fmtTime(&ev.CreatedAt)}
		})
}
