package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

func TestValidateFirstFault(t *testing.T) {
	t.Parallel()
	const schema = `{
		"type": "object",
		"required": ["id", "amount"],
		"properties": {
			"id": {"type": "string"},
			"amount": {"type": "integer", "maximum": 9007199254740992},
			"a/b~c": {"type": "boolean"},
			"lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}}
		}
	}`
	sch, err := Compile([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, payload    string
		pointer, keyword string // "" keyword: valid
	}{
		{"valid", `{"id":"x","amount":1}`, "", ""},
		// The maximum is 2^53. 2^53+1 decoded as a float64 rounds to 2^53
		// and would pass; compared exactly, it is past the bound.
		{"big integer at the bound", `{"id":"x","amount":9007199254740992}`, "", ""},
		{"big integer past the bound", `{"id":"x","amount":9007199254740993}`, "/amount", "maximum"},
		{"missing member", `{"id":"x"}`, "", "required"},
		{"wrong type", `{"id":1,"amount":1}`, "/id", "type"},
		{"escaped pointer", `{"id":"x","amount":1,"a/b~c":"no"}`, "/a~1b~0c", "type"},
		{"nested in an array", `{"id":"x","amount":1,"lines":[{"sku":"a"},{}]}`, "/lines/1", "required"},
		{"not an integer", `{"id":"x","amount":1.5}`, "/amount", "type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := validate(sch, "invoice.paid", []byte(tc.payload))
			if tc.keyword == "" {
				if v != nil {
					t.Fatalf("validate(%s) = %v, want valid", tc.payload, v)
				}
				return
			}
			if v == nil {
				t.Fatalf("validate(%s) = valid, want %s at %q", tc.payload, tc.keyword, tc.pointer)
			}
			if v.Pointer != tc.pointer || v.Keyword != tc.keyword {
				t.Fatalf("validate(%s) = %q %q (%s), want %q %q", tc.payload, v.Pointer, v.Keyword, v.Message, tc.pointer, tc.keyword)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		spec   Spec
		fields []string
	}{
		{"minimal", Spec{Name: "invoice.paid"}, nil},
		{"full", Spec{Name: "invoice.paid", Schema: json.RawMessage(`{"type":"object"}`), Example: json.RawMessage(`{}`), Enforce: true}, nil},
		{"bad name", Spec{Name: "invoice.*"}, []string{"name"}},
		{"schema not JSON", Spec{Name: "a", Schema: json.RawMessage(`{`)}, []string{"schema"}},
		{"schema not a schema", Spec{Name: "a", Schema: json.RawMessage(`{"type":"nope"}`)}, []string{"schema"}},
		// No $ref may make the server read a file or the network.
		{"schema refers to a file", Spec{Name: "a", Schema: json.RawMessage(`{"$ref":"file:///etc/passwd"}`)}, []string{"schema"}},
		{"schema refers to a URL", Spec{Name: "a", Schema: json.RawMessage(`{"$ref":"http://127.0.0.1:1/x.json"}`)}, []string{"schema"}},
		{"example breaks the schema", Spec{Name: "a", Schema: json.RawMessage(`{"type":"object"}`), Example: json.RawMessage(`[]`)}, []string{"example"}},
		{"enforce without schema", Spec{Name: "a", Enforce: true}, []string{"enforce"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, f := range rules.Fields(Check(tc.spec)) {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Fatalf("Check fields = %v (%v), want %v", got, Check(tc.spec), tc.fields)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	types := []*store.EventType{{Name: "invoice.paid"}, {Name: "invoice.line.added"}, {Name: "ping"}}
	want := []string{"invoice.*", "invoice.line.*", "invoice.line.added", "invoice.paid", "ping"}
	if got := Filters(types); !reflect.DeepEqual(got, want) {
		t.Fatalf("Filters = %v, want %v", got, want)
	}
}

func TestParseOpenAPI31(t *testing.T) {
	t.Parallel()
	specs := parseFile(t, "openapi31.yaml")
	if len(specs) != 3 {
		t.Fatalf("%d specs, want 3: %+v", len(specs), specs)
	}
	paid, voided, ping := specs[0], specs[1], specs[2]
	if paid.Name != "invoice.paid" || paid.Description != "An invoice was paid." {
		t.Errorf("paid = %q %q", paid.Name, paid.Description)
	}
	// The example keeps its order and its big integer exactly.
	if want := `{"id":"in_1","amount":123456789012345678901234567890,"lines":[{"sku":"a"}]}`; string(paid.Example) != want {
		t.Errorf("paid example = %s, want %s", paid.Example, want)
	}
	if err := Check(paid); err != nil {
		t.Errorf("Check(paid): %v", err)
	}
	// The component references came along: a line without sku breaks it.
	sch, err := Compile(paid.Schema)
	if err != nil {
		t.Fatalf("Compile(%s): %v", paid.Schema, err)
	}
	if v := validate(sch, paid.Name, []byte(`{"id":"x","amount":1,"lines":[{}]}`)); v == nil || v.Pointer != "/lines/0" {
		t.Errorf("validate line without sku = %v, want a fault at /lines/0", v)
	}
	if voided.Description != "An invoice was voided." || !voided.Deprecated || string(voided.Example) != `{"id":"in_2"}` || voided.Schema == nil {
		t.Errorf("voided = %+v", voided)
	}
	if ping.Name != "ping" || ping.Schema != nil || ping.Example != nil {
		t.Errorf("ping = %+v", ping)
	}
}

func TestParseOpenAPI30(t *testing.T) {
	t.Parallel()
	specs := parseFile(t, "openapi30.json")
	if len(specs) != 1 || specs[0].Name != "order.created" {
		t.Fatalf("specs = %+v", specs)
	}
	if want := `{"order":{"id":9007199254740993}}`; string(specs[0].Example) != want {
		t.Errorf("example = %s, want %s", specs[0].Example, want)
	}
	if err := Check(specs[0]); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestParseOpenAPINoWebhooks(t *testing.T) {
	t.Parallel()
	if _, err := ParseOpenAPI([]byte("openapi: 3.1.0\npaths: {}\n")); err == nil {
		t.Fatal("ParseOpenAPI without webhooks: no error")
	}
}

func parseFile(t *testing.T, name string) []Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	specs, err := ParseOpenAPI(b)
	if err != nil {
		t.Fatalf("ParseOpenAPI(%s): %v", name, err)
	}
	return specs
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "test.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCatalog runs the catalog on a real SQLite store: create, enforce,
// change, and put (an import's create-or-update).
func TestCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := New(&Config{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	schema := json.RawMessage(`{"type":"object","required":["id"]}`)
	if _, err := c.Create(ctx, Spec{Name: "invoice.paid", Schema: schema}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := c.Create(ctx, Spec{Name: "invoice.paid"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Create twice: %v, want ErrConflict", err)
	}
	// Not enforced yet: anything goes; unknown types too.
	for _, typ := range []string{"invoice.paid", "unknown"} {
		if err := c.CheckEvent(ctx, typ, []byte(`{}`)); err != nil {
			t.Fatalf("CheckEvent(%s) before enforcement: %v", typ, err)
		}
	}
	if _, err := c.Update(ctx, "invoice.paid", Change{Enforce: new(true)}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	err = c.CheckEvent(ctx, "invoice.paid", []byte(`{}`))
	if v, ok := errors.AsType[*Violation](err); !ok || v.Keyword != "required" || v.Pointer != "" {
		t.Fatalf("CheckEvent = %v, want a required Violation at the root", err)
	}
	if err := c.CheckEvent(ctx, "invoice.paid", []byte(`{"id":1}`)); err != nil {
		t.Fatalf("CheckEvent(valid): %v", err)
	}
	// Clearing the schema of an enforcing type is refused, nothing written.
	_, err = c.Update(ctx, "invoice.paid", Change{Schema: new(json.RawMessage(nil))})
	if fs := rules.Fields(err); len(fs) != 1 || fs[0].Field != "enforce" {
		t.Fatalf("Update clearing the schema: %v, want an enforce field error", err)
	}
	// Put updates an existing type.
	if _, created, err := c.Put(ctx, Spec{Name: "invoice.paid", Description: "paid", Deprecated: true}); err != nil || created {
		t.Fatalf("Put existing: created %v, %v", created, err)
	}
	got, err := c.store.GetEventType(ctx, "invoice.paid")
	if err != nil || got.Description != "paid" || !got.Deprecated || got.Schema != nil || got.Enforce {
		t.Fatalf("after Put: %+v, %v", got, err)
	}
	if _, created, err := c.Put(ctx, Spec{Name: "invoice.voided"}); err != nil || !created {
		t.Fatalf("Put new: created %v, %v", created, err)
	}
}

// TestSendExample: the example goes to the one endpoint named, of its
// tenant, whatever its filter; a type without an example, a disabled
// endpoint and unknown names are the documented errors.
func TestSendExample(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openStore(t)
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	c, err := New(&Config{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, Spec{Name: "invoice.paid", Example: json.RawMessage(`{"n":12345678901234567890}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, Spec{Name: "bare"}); err != nil {
		t.Fatal(err)
	}
	newEndpoint := func(disabled bool) *store.Endpoint {
		e := &store.Endpoint{ID: store.NewID("ep"), Tenant: "acme", URL: "http://127.0.0.1:9/hook", Scheme: "standard",
			EventTypes: []string{"other.*"}, Disabled: disabled,
			Secrets: []store.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	e, off := newEndpoint(false), newEndpoint(true)
	ev, ds, err := SendExample(ctx, st, "invoice.paid", e.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "invoice.paid" || ev.Tenant != "acme" || string(ev.Payload) != `{"n":12345678901234567890}` || len(ds) != 1 || ds[0].EndpointID != e.ID {
		t.Fatalf("sent %+v with %d deliveries", ev, len(ds))
	}
	for _, tc := range []struct {
		name, endpoint string
		want           error
	}{
		{"bare", e.ID, ErrNoExample},
		{"invoice.paid", off.ID, ErrEndpointDisabled},
		{"invoice.paid", "ep_nope", store.ErrNotFound},
		{"nope", e.ID, store.ErrNotFound},
	} {
		if _, _, err := SendExample(ctx, st, tc.name, tc.endpoint, now); !errors.Is(err, tc.want) {
			t.Errorf("SendExample(%s, %s) = %v, want %v", tc.name, tc.endpoint, err, tc.want)
		}
	}
}
