package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/internal/catalog"
)

var eventTypeCommands = []subcommand{
	{"create", "add an event type to the catalog", runEventTypesCreate},
	{"list", "list the catalog, in name order (--prefix for a group)", runEventTypesList},
	{"get", "show an event type, its schema and example", runEventTypesGet},
	{"update", "change an event type (only the flags given)", runEventTypesUpdate},
	{"delete", "remove an event type from the catalog", runEventTypesDelete},
	{"send-example", "send a type's example payload to one endpoint", runEventTypesSendExample},
	{"import", "create or update types from an OpenAPI 3.1 webhooks (3.0 x-webhooks) document, YAML or JSON", runEventTypesImport},
}

func runEventTypes(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "event-types", eventTypeCommands, args)
}

// eventTypeFlags are the flags that describe an event type's fields.
type eventTypeFlags struct {
	fs                           *flag.FlagSet
	description, schema, example string
	deprecated, enforce          bool
}

func (f *eventTypeFlags) define(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.description, "description", "", "description")
	fs.StringVar(&f.schema, "schema", "", `JSON Schema (2020-12) of the payload, or @FILE to read it from FILE; "null" clears it`)
	fs.StringVar(&f.example, "example", "", `example payload as JSON, or @FILE; "null" clears it`)
	fs.BoolVar(&f.deprecated, "deprecated", false, "mark the type deprecated")
	fs.BoolVar(&f.enforce, "enforce", false, "refuse events whose payload breaks the schema")
}

// params returns the fields of the flags that were set, and whether any
// was.
func (f *eventTypeFlags) params() (*client.EventTypeParams, bool, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	p := &client.EventTypeParams{}
	if set["description"] {
		p.Description = &f.description
	}
	for _, j := range []struct {
		name, v string
		dst     *json.RawMessage
	}{{"schema", f.schema, &p.Schema}, {"example", f.example, &p.Example}} {
		if !set[j.name] {
			continue
		}
		raw, err := jsonArg(j.name, j.v)
		if err != nil {
			return nil, false, err
		}
		*j.dst = raw
	}
	if set["deprecated"] {
		p.Deprecated = &f.deprecated
	}
	if set["enforce"] {
		p.Enforce = &f.enforce
	}
	return p, len(set) > 0, nil
}

// jsonArg reads a flag's JSON, given inline or as @FILE.
func jsonArg(name, v string) (json.RawMessage, error) {
	raw := []byte(v)
	if file, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if raw, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("read --%s: %w", name, err)
		}
	}
	if !json.Valid(raw) {
		return nil, usagef("--%s is not valid JSON", name)
	}
	return raw, nil
}

// printEventType prints t, or returns err, the error of getting it: as
// the API's JSON with --json, else as name-value lines.
func printEventType(e *env, cf *clientFlags, t *client.EventType, err error) error {
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, t.Raw)
	}
	rows := [][]string{
		{"name", t.Name},
		{"group", orDash(t.Group)},
		{"description", orDash(t.Description)},
		{"deprecated", strconv.FormatBool(t.Deprecated)},
		{"enforce", strconv.FormatBool(t.Enforce)},
		{"schema", orDash(nullDash(t.Schema))},
		{"example", orDash(nullDash(t.Example))},
		{"created", fmtTime(&t.CreatedAt)},
		{"updated", fmtTime(&t.UpdatedAt)},
	}
	return table(e.stdout, nil, rows)
}

func nullDash(b json.RawMessage) string {
	if string(b) == "null" {
		return ""
	}
	return string(b)
}

func runEventTypesCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("event-types create", e.stderr)
	name := fs.String("name", "", "the type's name, such as invoice.paid")
	var tf eventTypeFlags
	tf.define(fs)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	p, _, err := tf.params()
	if err != nil {
		return err
	}
	p.Name = *name
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	t, err := c.CreateEventType(ctx, p)
	return printEventType(e, cf, t, err)
}

func runEventTypesList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("event-types list", e.stderr)
	prefix := fs.String("prefix", "", "only types whose name starts with this, such as invoice.")
	pf := addPageFlags(fs, "event types")
	cf := addClientFlags(fs)
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	page, err := c.ListEventTypes(ctx, &client.EventTypeFilter{Prefix: *prefix, Limit: pf.limit, Cursor: pf.cursor})
	return printPage(e, cf, page, err,
		[]string{"NAME", "GROUP", "SCHEMA", "ENFORCE", "DEPRECATED", "DESCRIPTION"},
		func(t *client.EventType) []string {
			schema := "no"
			if nullDash(t.Schema) != "" {
				schema = "yes"
			}
			return []string{t.Name, orDash(t.Group), schema, strconv.FormatBool(t.Enforce), strconv.FormatBool(t.Deprecated), orDash(t.Description)}
		})
}

func runEventTypesGet(ctx context.Context, e *env, args []string) error {
	c, name, cf, err := idArgs(e, "event-types get", "event type name", args, nil)
	if err != nil {
		return err
	}
	t, err := c.GetEventType(ctx, name)
	return printEventType(e, cf, t, err)
}

func runEventTypesUpdate(ctx context.Context, e *env, args []string) error {
	var tf eventTypeFlags
	c, name, cf, err := idArgs(e, "event-types update", "event type name", args, tf.define)
	if err != nil {
		return err
	}
	p, changed, err := tf.params()
	if err != nil {
		return err
	}
	if !changed {
		return usagef("nothing to change: give --description, --schema, --example, --deprecated or --enforce")
	}
	t, err := c.UpdateEventType(ctx, name, p)
	return printEventType(e, cf, t, err)
}

func runEventTypesDelete(ctx context.Context, e *env, args []string) error {
	c, name, _, err := idArgs(e, "event-types delete", "event type name", args, nil)
	if err != nil {
		return err
	}
	if err := c.DeleteEventType(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", name)
	return nil
}

func runEventTypesSendExample(ctx context.Context, e *env, args []string) error {
	var endpoint string
	c, name, cf, err := idArgs(e, "event-types send-example", "event type name", args, func(fs *flag.FlagSet) {
		fs.StringVar(&endpoint, "endpoint", "", "id of the endpoint to send it to")
	})
	if err != nil {
		return err
	}
	if endpoint == "" {
		return usagef("--endpoint is required")
	}
	ev, err := c.SendExample(ctx, name, endpoint)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ev.Raw)
	}
	n := 0
	if ev.Deliveries != nil {
		n = *ev.Deliveries
	}
	fmt.Fprintf(e.stdout, "event %s: %d delivery to %s\n", ev.ID, n, endpoint)
	return nil
}

func runEventTypesImport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("event-types import", e.stderr)
	enforce := fs.Bool("enforce", false, "turn enforcement on for the imported types that have a schema")
	dryRun := fs.Bool("dry-run", false, "list what the document holds, change nothing")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "FILE"); err != nil {
		return err
	}
	doc, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", pos[0], err)
	}
	specs, err := catalog.ParseOpenAPI(doc)
	if err != nil {
		return err
	}
	var c *client.Client
	if !*dryRun {
		if c, err = cf.client(e); err != nil {
			return err
		}
	}
	var rows [][]string
	var failed int
	for _, s := range specs {
		p := &client.EventTypeParams{Description: &s.Description, Deprecated: &s.Deprecated,
			Schema: rawOrNull(s.Schema), Example: rawOrNull(s.Example), Enforce: new(*enforce && s.Schema != nil)}
		if *dryRun {
			rows = append(rows, []string{s.Name, "would import", orDash(s.Description)})
			continue
		}
		action := "created"
		p.Name = s.Name
		_, err := c.CreateEventType(ctx, p)
		if errors.Is(err, client.ErrConflict) {
			action = "updated"
			_, err = c.UpdateEventType(ctx, s.Name, p)
		}
		if err != nil {
			failed++
			rows = append(rows, []string{s.Name, "failed", err.Error()})
			continue
		}
		rows = append(rows, []string{s.Name, action, orDash(s.Description)})
	}
	if err := table(e.stdout, []string{"NAME", "RESULT", "DETAIL"}, rows); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d event types not imported", failed, len(specs))
	}
	return nil
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}
