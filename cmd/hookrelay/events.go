package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/jsoncanon"
)

// maxPayloadInput bounds the payload the CLI reads; the server applies its
// own, usually smaller, limit.
const maxPayloadInput = 64 << 20

var eventCommands = []subcommand{
	{"send", "send an event: the JSON payload on standard input, byte for byte", runEventsSend},
	{"list", "find events by type, tenant, time, endpoint, delivery status and payload field", runEventsList},
	{"get", "show an event and its payload", runEventsGet},
	{"erase", "erase an event's payload and its attempts' headers and bodies, keeping the metadata, and cancel its pending deliveries (GDPR)",
		runEventsErase},
}

func runEvents(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "events", eventCommands, args)
}

func runEventsSend(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("events send", e.stderr)
	typ := fs.String("type", "", "event type, such as invoice.paid (required)")
	tenant := fs.String("tenant", "", "tenant whose endpoints receive it (default: the default tenant)")
	idem := fs.String("idempotency-key", "", "a repeat of this key within 24 hours creates nothing (default: a new key, so that retries of this post are safe)")
	batch := fs.String("batch", "", "send the events of this JSON Lines file (- for standard input), one object per line:\n"+
		"type, payload, tenant and idempotency_key, in requests of up to 1,000 events")
	cf := addClientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay events send --type TYPE [--tenant T] [--idempotency-key K] < payload.json")
		fmt.Fprintln(fs.Output(), "       hookrelay events send --batch FILE.jsonl")
		fmt.Fprintln(fs.Output(), "\nSends the JSON on standard input as the event's payload, exactly as it is.")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *batch != "" {
		if *typ != "" || *tenant != "" || *idem != "" {
			return usagef("--batch takes type, tenant and idempotency key from each line, not from flags")
		}
		c, err := cf.client(e)
		if err != nil {
			return err
		}
		return sendBatchFile(ctx, e, c, *batch, cf.json)
	}
	if *typ == "" {
		return usagef("--type is required")
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	payload, err := readAllLimit(e.stdin, maxPayloadInput)
	if err != nil {
		return err
	}
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 {
		return errNoInput
	}
	if _, err := jsoncanon.JS(payload); err != nil {
		return fmt.Errorf("payload on standard input is not JSON: %w", err)
	}
	ev, err := c.SendEvent(ctx, &client.SendEventParams{Type: *typ, Tenant: *tenant, IdempotencyKey: *idem, Payload: payload})
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ev.Raw)
	}
	if ev.Duplicate {
		fmt.Fprintf(e.stdout, "%s (duplicate: accepted earlier with this idempotency key; nothing created)\n", ev.ID)
		return nil
	}
	n := 0
	if ev.Deliveries != nil {
		n = *ev.Deliveries
	}
	fmt.Fprintf(e.stdout, "%s accepted, %d deliveries\n", ev.ID, n)
	return nil
}

func runEventsGet(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "events get", "event ID", args, nil)
	if err != nil {
		return err
	}
	ev, err := c.GetEvent(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ev.Raw)
	}
	if err := table(e.stdout, nil, [][]string{
		{"id", ev.ID},
		{"type", ev.Type},
		{"tenant", orDash(ev.Tenant)},
		{"idempotency key", orDash(ev.IdempotencyKey)},
		{"created", fmtTime(&ev.CreatedAt)},
		{"erased", fmtTime(ev.ErasedAt)},
	}); err != nil {
		return err
	}
	if ev.ErasedAt != nil {
		return nil
	}
	return printJSON(e.stdout, ev.Payload)
}

func runEventsErase(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "events erase", "event ID", args, nil)
	if err != nil {
		return err
	}
	ev, err := c.EraseEvent(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ev.Raw)
	}
	_, err = fmt.Fprintf(e.stdout, "erased %s at %s\n", ev.ID, fmtTime(ev.ErasedAt))
	return err
}
