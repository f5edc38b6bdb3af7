// Package catalog is the event catalog: the event types an installation
// sends, each with a description, an optional JSON Schema (draft 2020-12)
// of its payload, an example payload and a deprecated flag. It is the one
// home of the catalog's rules, which the API, the dashboard and the CLI
// call: what a type may hold (Check), how an event's payload is checked
// against its type's schema (Catalog.CheckEvent), and how an OpenAPI
// document's webhooks become types (ParseOpenAPI).
//
// # Validation
//
// Payloads are validated as the exact JSON text received: numbers are
// decoded as json.Number, so that an integer beyond 2^53 is compared with
// the schema's bounds exactly, not as a rounded float64. A payload that
// breaks its schema gets a *Violation naming the JSON Pointer of the first
// fault (RFC 6901) and the schema keyword it broke.
//
// Schemas are compiled with no loader: a "$ref" may name a part of the
// schema itself ("#/$defs/address") but never a file or a URL, so that a
// schema given over the API cannot make the server read its disk or the
// network.
//
// # Caching
//
// Events read their type through a cache in the Catalog: a type (or its
// absence) read from the store is used for Config.CacheFor (1 s by
// default) before it is read again. Writes through this Catalog (Create,
// Update, Put, Delete) apply to the next event at once; a change another
// node makes to the same database applies on this node within that bound.
package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Limits of an event type's fields.
const (
	MaxSchemaBytes  = 256 << 10
	MaxExampleBytes = 256 << 10
)

// Spec is an event type as a person or an import describes it.
type Spec struct {
	Name        string
	Description string
	// Schema is the JSON Schema of the payload; nil for none.
	Schema json.RawMessage
	// Example is an example payload; nil for none. It must match Schema.
	Example    json.RawMessage
	Deprecated bool
	// Enforce refuses events whose payload breaks Schema; it needs one.
	Enforce bool
}

// Change names the fields of an event type to change; nil fields stay.
// A Schema or Example pointing to nil clears it.
type Change struct {
	Description *string
	Schema      *json.RawMessage
	Example     *json.RawMessage
	Deprecated  *bool
	Enforce     *bool
}

// Violation is a payload that breaks its event type's schema.
type Violation struct {
	// Type is the event type.
	Type string
	// Pointer is the JSON Pointer (RFC 6901) of the first value at fault
	// in the payload, "" for the whole payload.
	Pointer string
	// Keyword is the schema keyword the value broke ("required",
	// "maximum", "type").
	Keyword string
	// Message says how, in English.
	Message string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("payload does not match the schema of %s: at %q: %s: %s", v.Type, v.Pointer, v.Keyword, v.Message)
}

// Config configures a Catalog.
type Config struct {
	// Store keeps the types. Required.
	Store store.EventTypes
	// Now is the clock. nil: time.Now.
	Now func() time.Time
	// CacheFor is how long an event type read from the store (or its
	// absence) is used for events before it is read again: the bound on
	// how late this process sees a change another node made. This
	// process's own writes through the Catalog apply at once. 0:
	// DefaultCacheFor; negative: no cache, every request reads the store.
	CacheFor time.Duration
}

// DefaultCacheFor is Config.CacheFor's default.
const DefaultCacheFor = time.Second

// maxCachedTypes bounds the event types (and absences) cached; a full
// cache is emptied, so that events of ever new types cannot grow it.
const maxCachedTypes = 4096

// cachedType is an event type as read at a time; t is nil for a type not
// in the catalog.
type cachedType struct {
	t  *store.EventType
	at time.Time
}

// Catalog applies the catalog's rules to a store's event types. It is safe
// for concurrent use.
type Catalog struct {
	store store.EventTypes
	now   func() time.Time

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema // by schema text

	cacheFor time.Duration
	typesMu  sync.Mutex
	types    map[string]cachedType
	flights  map[string]*flight // reads in progress, by name
	// gen counts this process's writes: a read that began before a write
	// is not cached after it.
	gen uint64
}

// maxCompiled bounds the compiled schemas kept.
const maxCompiled = 512

// New returns a Catalog on cfg.Store.
func New(cfg *Config) (*Catalog, error) {
	if cfg == nil || cfg.Store == nil {
		return nil, errors.New("catalog: Config.Store is nil")
	}
	c := &Catalog{store: cfg.Store, now: cfg.Now, compiled: map[string]*jsonschema.Schema{},
		cacheFor: cfg.CacheFor, types: map[string]cachedType{}, flights: map[string]*flight{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cacheFor == 0 {
		c.cacheFor = DefaultCacheFor
	}
	return c, nil
}

// Check returns every field of s that cannot be used, as rules.FieldErrors
// named as the REST API's JSON names them, or nil.
func Check(s Spec) error {
	var es rules.FieldErrors
	add := func(err error) {
		es = append(es, rules.Fields(err)...)
	}
	add(rules.CheckEventType("name", s.Name))
	add(rules.CheckText("description", s.Description, rules.MaxDescriptionLen))
	sch, err := compileField(s.Schema)
	add(err)
	if s.Example != nil {
		if err := checkJSON("example", s.Example, MaxExampleBytes); err != nil {
			add(err)
		} else if sch != nil {
			if v := validate(sch, s.Name, s.Example); v != nil {
				add(&rules.FieldError{Field: "example", Reason: fmt.Sprintf("does not match the schema: at %q: %s: %s", v.Pointer, v.Keyword, v.Message)})
			}
		}
	}
	if s.Enforce && s.Schema == nil {
		add(&rules.FieldError{Field: "enforce", Reason: "needs a schema"})
	}
	if len(es) == 0 {
		return nil
	}
	return es
}

func checkJSON(field string, b []byte, max int) error {
	switch {
	case len(b) > max:
		return &rules.FieldError{Field: field, Reason: fmt.Sprintf("is longer than %d bytes", max)}
	case !json.Valid(b):
		return &rules.FieldError{Field: field, Reason: "is not valid JSON"}
	}
	return nil
}

// compileField compiles the schema of a Spec, nil for none.
func compileField(schema []byte) (*jsonschema.Schema, error) {
	if schema == nil {
		return nil, nil
	}
	if err := checkJSON("schema", schema, MaxSchemaBytes); err != nil {
		return nil, err
	}
	sch, err := Compile(schema)
	if err != nil {
		return nil, &rules.FieldError{Field: "schema", Reason: "is not a usable JSON Schema: " + err.Error()}
	}
	return sch, nil
}

// noLoader refuses to load any schema a "$ref" names outside the schema.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: schemas may refer only to their own parts", url)
}

// schemaURL names the schema being compiled.
const schemaURL = "urn:hookrelay:event-type"

// Compile compiles a JSON Schema, draft 2020-12 unless its "$schema" says
// otherwise, with formats asserted and no loader (see the package
// documentation).
func Compile(schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

// english prints the validator's messages.
var english = message.NewPrinter(language.English)

// validate checks payload against sch, and returns its first fault.
func validate(sch *jsonschema.Schema, typ string, payload []byte) *Violation {
	// UnmarshalJSON decodes numbers as json.Number: big integers stay exact.
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return &Violation{Type: typ, Keyword: "json", Message: err.Error()}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := errors.AsType[*jsonschema.ValidationError](err)
	if !ok {
		return &Violation{Type: typ, Keyword: "schema", Message: err.Error()}
	}
	return firstFault(typ, ve)
}

// firstFault descends to the first leaf of a validation error's causes:
// the deepest, first fault in document order of the schema.
func firstFault(typ string, ve *jsonschema.ValidationError) *Violation {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	var kw string
	if path := ve.ErrorKind.KeywordPath(); len(path) > 0 {
		kw = path[len(path)-1]
	}
	return &Violation{Type: typ, Pointer: pointer(ve.InstanceLocation), Keyword: kw, Message: ve.ErrorKind.LocalizedString(english)}
}

// pointer writes a location as a JSON Pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(esc.Replace(t))
	}
	return b.String()
}

// schema returns the compiled form of a stored schema, compiling it once.
func (c *Catalog) schema(text []byte) (*jsonschema.Schema, error) {
	c.mu.Lock()
	sch, ok := c.compiled[string(text)]
	c.mu.Unlock()
	if ok {
		return sch, nil
	}
	sch, err := Compile(text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.compiled) >= maxCompiled {
		clear(c.compiled)
	}
	c.compiled[string(text)] = sch
	c.mu.Unlock()
	return sch, nil
}

// eventType returns the type called name, nil if the catalog has none,
// from the cache while it is fresh (Config.CacheFor). Concurrent misses
// for one name share one read of the store, so that a popular type's
// expiry costs one read, not one per request in flight.
func (c *Catalog) eventType(ctx context.Context, name string) (*store.EventType, error) {
	for {
		now := c.now()
		c.typesMu.Lock()
		if e, ok := c.types[name]; ok && now.Sub(e.at) < c.cacheFor && !now.Before(e.at) {
			c.typesMu.Unlock()
			return e.t, nil
		}
		if f := c.flights[name]; f != nil {
			c.typesMu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && ctx.Err() == nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
				continue // the reader's request went away, not ours
			}
			return f.t, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.flights[name] = f
		gen := c.gen
		c.typesMu.Unlock()

		f.t, f.err = c.store.GetEventType(ctx, name)
		if errors.Is(f.err, store.ErrNotFound) {
			f.t, f.err = nil, nil
		}
		c.typesMu.Lock()
		if c.flights[name] == f {
			delete(c.flights, name)
		}
		if f.err == nil && c.cacheFor > 0 && c.gen == gen {
			if len(c.types) >= maxCachedTypes {
				clear(c.types)
			}
			c.types[name] = cachedType{t: f.t, at: now}
		}
		c.typesMu.Unlock()
		close(f.done)
		return f.t, f.err
	}
}

// flight is a read of one event type in progress.
type flight struct {
	done chan struct{} // closed once t and err are set
	t    *store.EventType
	err  error
}

// forget drops the cached type called name after this process writes it,
// so that the next event sees the write: the cached entry, and any read in
// flight, which may have begun before the write.
func (c *Catalog) forget(name string) {
	c.typesMu.Lock()
	delete(c.types, name)
	delete(c.flights, name)
	c.gen++
	c.typesMu.Unlock()
}

// CheckEvent checks an event's payload against its type: nil if the type
// is not in the catalog, has no schema or does not enforce it, or if the
// payload matches; a *Violation if it does not.
func (c *Catalog) CheckEvent(ctx context.Context, typ string, payload []byte) error {
	return c.Checker().CheckEvent(ctx, typ, payload)
}

// Checker returns a Checker for the events of one request.
func (c *Catalog) Checker() *Checker { return &Checker{c: c} }

// A Checker checks the events of one request (a batch) against the
// catalog, reading each event type once however many events have it (from
// the Catalog's cache while it is fresh). It is not safe for concurrent
// use.
type Checker struct {
	c     *Catalog
	types map[string]*store.EventType // nil for a type not in the catalog
}

// CheckEvent is Catalog.CheckEvent, with the types read for earlier events
// of the request.
func (k *Checker) CheckEvent(ctx context.Context, typ string, payload []byte) error {
	t, ok := k.types[typ]
	if !ok {
		var err error
		if t, err = k.c.eventType(ctx, typ); err != nil {
			return fmt.Errorf("check event against the catalog: %w", err)
		}
		if k.types == nil {
			k.types = make(map[string]*store.EventType)
		}
		k.types[typ] = t
	}
	if t == nil || !t.Enforce || t.Schema == nil {
		return nil
	}
	sch, err := k.c.schema(t.Schema)
	if err != nil {
		return fmt.Errorf("event type %s: stored schema: %w", typ, err)
	}
	if v := validate(sch, typ, payload); v != nil {
		return v
	}
	return nil
}

// Create checks s and adds it to the catalog. ErrConflict (wrapped) if a
// type has its name; rules.FieldErrors if a field cannot be used.
func (c *Catalog) Create(ctx context.Context, s Spec) (*store.EventType, error) {
	if err := Check(s); err != nil {
		return nil, err
	}
	now := c.now()
	t := &store.EventType{
		Name: s.Name, Description: s.Description, Schema: nilIfNull(s.Schema), Example: nilIfNull(s.Example),
		Deprecated: s.Deprecated, Enforce: s.Enforce, CreatedAt: now, UpdatedAt: now,
	}
	defer c.forget(s.Name)
	if err := c.store.CreateEventType(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Delete removes the type called name from the catalog; its events are
// kept. ErrNotFound (wrapped) if there is none.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	defer c.forget(name)
	return c.store.DeleteEventType(ctx, name)
}

// nilIfNull keeps JSON null as no value.
func nilIfNull(b json.RawMessage) []byte {
	if b == nil || string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	return bytes.TrimSpace(b)
}

// Update applies ch to the type called name, checking the type as it would
// be after the change, and writes only the fields ch names. ErrNotFound
// (wrapped) if there is none; rules.FieldErrors if a field cannot be used.
func (c *Catalog) Update(ctx context.Context, name string, ch Change) (*store.EventType, error) {
	defer c.forget(name)
	return c.store.UpdateEventType(ctx, name, func(cur *store.EventType) (store.EventTypePatch, error) {
		next := Spec{Name: cur.Name, Description: cur.Description, Schema: cur.Schema, Example: cur.Example,
			Deprecated: cur.Deprecated, Enforce: cur.Enforce}
		p := store.EventTypePatch{UpdatedAt: c.now()}
		if ch.Description != nil {
			next.Description, p.Description = *ch.Description, ch.Description
		}
		if ch.Schema != nil {
			b := nilIfNull(*ch.Schema)
			next.Schema, p.Schema = b, &b
		}
		if ch.Example != nil {
			b := nilIfNull(*ch.Example)
			next.Example, p.Example = b, &b
		}
		if ch.Deprecated != nil {
			next.Deprecated, p.Deprecated = *ch.Deprecated, ch.Deprecated
		}
		if ch.Enforce != nil {
			next.Enforce, p.Enforce = *ch.Enforce, ch.Enforce
		}
		if err := Check(next); err != nil {
			return p, err
		}
		return p, nil
	})
}

// Put creates the type s names, or changes the existing one to s, as an
// import does. created reports which.
func (c *Catalog) Put(ctx context.Context, s Spec) (t *store.EventType, created bool, err error) {
	t, err = c.Create(ctx, s)
	if !errors.Is(err, store.ErrConflict) {
		return t, err == nil, err
	}
	schema, example := json.RawMessage(nilIfNull(s.Schema)), json.RawMessage(nilIfNull(s.Example))
	t, err = c.Update(ctx, s.Name, Change{Description: &s.Description, Schema: &schema, Example: &example,
		Deprecated: &s.Deprecated, Enforce: &s.Enforce})
	return t, false, err
}

// Group returns the group of an event type: its name up to the last dot
// ("invoice" for "invoice.paid"), "" for a name without one.
func Group(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return ""
}

// Filters returns what an endpoint's event type filter may offer from
// types: every name, and for each group the prefix filter ("invoice.*"),
// in name order, each once.
func Filters(types []*store.EventType) []string {
	seen := map[string]bool{}
	var out []string
	addOnce := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, t := range types {
		for g := Group(t.Name); g != ""; g = Group(g) {
			addOnce(g + ".*")
		}
		addOnce(t.Name)
	}
	slices.Sort(out)
	return out
}

// Errors of SendExample.
var (
	// ErrNoExample is a type without an example payload.
	ErrNoExample = errors.New("catalog: the event type has no example")
	// ErrEndpointDisabled is an endpoint that is disabled, or was deleted
	// while the example was being sent.
	ErrEndpointDisabled = errors.New("catalog: the endpoint is disabled")
	// ErrNoType is a type not in the catalog; it is a store.ErrNotFound,
	// told apart from the endpoint's.
	ErrNoType = fmt.Errorf("catalog: no such event type: %w", store.ErrNotFound)
)

// ExampleStore is what SendExample needs of a store.
type ExampleStore interface {
	GetEventType(ctx context.Context, name string) (*store.EventType, error)
	GetEndpoint(ctx context.Context, id string) (*store.Endpoint, error)
	CreateEventFor(ctx context.Context, ev *store.Event, endpointIDs []string) (*store.Event, []*store.Delivery, error)
}

// SendExample sends the example payload of the type called name to one
// endpoint, as an event of that type and of the endpoint's tenant,
// whatever the endpoint's event type filter: a delivery signed, recorded
// and retried like any other. It returns the event and its one delivery.
// ErrNoType for an unknown type, ErrNotFound (wrapped) for an unknown
// endpoint (ErrNoType is one too), ErrNoExample,
// ErrEndpointDisabled. The caller wakes the delivery engine.
func SendExample(ctx context.Context, st ExampleStore, name, endpointID string, now time.Time) (*store.Event, []*store.Delivery, error) {
	t, err := st.GetEventType(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNoType
	}
	if err != nil {
		return nil, nil, fmt.Errorf("event type %s: %w", name, err)
	}
	if t.Example == nil {
		return nil, nil, fmt.Errorf("event type %s: %w", name, ErrNoExample)
	}
	e, err := st.GetEndpoint(ctx, endpointID)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint %s: %w", endpointID, err)
	}
	if e.Disabled {
		return nil, nil, fmt.Errorf("endpoint %s: %w", e.ID, ErrEndpointDisabled)
	}
	ev := &store.Event{ID: store.NewID("evt"), Tenant: e.Tenant, Type: t.Name, Payload: t.Example, CreatedAt: now}
	_, ds, err := st.CreateEventFor(ctx, ev, []string{e.ID})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("endpoint %s: %w", e.ID, ErrEndpointDisabled) // or deleted, since it was read
	}
	if err != nil {
		return nil, nil, fmt.Errorf("send example of %s to %s: %w", name, e.ID, err)
	}
	return ev, ds, nil
}
