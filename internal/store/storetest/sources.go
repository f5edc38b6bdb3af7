package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// sourceTests are the tests of store.Sources and of the event fields the
// inbound gateway uses; Run runs them with the others.
var sourceTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"SourceCRUD", testSourceCRUD},
	{"SourceSecrets", testSourceSecrets},
	{"ListSources", testListSources},
	{"Rejections", testRejections},
	{"InboundEvent", testInboundEvent},
}

func newSource(name string) *store.Source {
	n := now()
	return &store.Source{
		ID:           store.NewID("src"),
		Name:         name,
		Description:  "test source",
		Scheme:       "github",
		Secrets:      []store.Secret{{Value: "s3cret-" + randomString(8), CreatedAt: n}},
		DedupeWindow: 24 * time.Hour,
		CreatedAt:    n,
		UpdatedAt:    n,
	}
}

func (h *harness) source(name string, mod func(s *store.Source)) *store.Source {
	h.Helper()
	src := newSource(name)
	if mod != nil {
		mod(src)
	}
	if err := h.s.CreateSource(h.ctx, src, nil); err != nil {
		h.Fatalf("CreateSource: %v", err)
	}
	return src
}

func normSource(s store.Source) store.Source {
	s.CreatedAt, s.UpdatedAt = normTime(s.CreatedAt), normTime(s.UpdatedAt)
	if len(s.CustomScheme) == 0 {
		s.CustomScheme = nil
	}
	var secrets []store.Secret
	for _, sec := range s.Secrets {
		sec.CreatedAt = normTime(sec.CreatedAt)
		sec.ExpiresAt = normTimePtr(sec.ExpiresAt)
		secrets = append(secrets, sec)
	}
	s.Secrets = secrets
	s.ZoomSecret.CreatedAt = normTime(s.ZoomSecret.CreatedAt)
	s.ZoomSecret.ExpiresAt = normTimePtr(s.ZoomSecret.ExpiresAt)
	return s
}

func wantSource(h *harness, what string, got, want *store.Source) {
	h.Helper()
	g, w := normSource(*got), normSource(*want)
	if !reflect.DeepEqual(g, w) {
		h.Fatalf("%s: source mismatch\n got: %s\nwant: %s", what, dumpSource(g), dumpSource(w))
	}
}

func dumpSource(s store.Source) string {
	var secrets []string
	for _, sec := range s.Secrets {
		secrets = append(secrets, fmt.Sprintf("{%q %v %s}", sec.Value, sec.CreatedAt, fmtTimePtr(sec.ExpiresAt)))
	}
	zoom := fmt.Sprintf("{%q %v}", s.ZoomSecret.Value, s.ZoomSecret.CreatedAt)
	s.Secrets, s.ZoomSecret = nil, store.Secret{}
	return fmt.Sprintf("%+v secrets=%v zoom=%s", s, secrets, zoom)
}

func testSourceCRUD(h *harness) {
	src := h.source("github", func(s *store.Source) {
		s.Tolerance = 90 * time.Second
		s.SlackChallenge = true
	})
	got, err := h.s.GetSource(h.ctx, src.ID)
	if err != nil {
		h.Fatalf("GetSource: %v", err)
	}
	wantSource(h, "GetSource", got, src)
	byName, err := h.s.SourceByName(h.ctx, "github")
	if err != nil {
		h.Fatalf("SourceByName: %v", err)
	}
	wantSource(h, "SourceByName", byName, src)
	if got.Tenant() != "source:github" || got.EventType() != "inbound.github" {
		h.Fatalf("Tenant, EventType = %q, %q", got.Tenant(), got.EventType())
	}

	_, err = h.s.GetSource(h.ctx, "src_missing")
	wantErr(h, "GetSource(missing)", err, store.ErrNotFound)
	_, err = h.s.SourceByName(h.ctx, "missing")
	wantErr(h, "SourceByName(missing)", err, store.ErrNotFound)

	sameName := newSource("github")
	wantErr(h, "CreateSource with a taken name", h.s.CreateSource(h.ctx, sameName, nil), store.ErrConflict)
	sameID := newSource("other")
	sameID.ID = src.ID
	wantErr(h, "CreateSource with a taken id", h.s.CreateSource(h.ctx, sameID, nil), store.ErrConflict)

	// A patch of every field it can name writes them, and UpdatedAt; ID,
	// Name and CreatedAt stay.
	upd := *src
	upd.Description = "changed"
	upd.Scheme = "custom"
	upd.CustomScheme = []byte(`{"name":"acme","header":"X-Acme-Signature"}`)
	upd.Tolerance = 0
	upd.DedupeWindow = time.Hour
	upd.SlackChallenge = false
	upd.ZoomSecret = store.Secret{Value: "zoom-token", CreatedAt: now()}
	upd.Secrets = []store.Secret{{Value: "new", CreatedAt: now()}, {Value: "old", CreatedAt: src.CreatedAt}}
	upd.UpdatedAt = now().Add(time.Second)
	var seen *store.Source
	ret, err := h.s.UpdateSource(h.ctx, src.ID, func(cur *store.Source) (store.SourcePatch, error) {
		seen = cur
		return store.SourcePatchOf(&upd), nil
	})
	if err != nil {
		h.Fatalf("UpdateSource: %v", err)
	}
	wantSource(h, "what UpdateSource's fn saw", seen, src)
	wantSource(h, "what UpdateSource returned", ret, &upd)
	got, err = h.s.GetSource(h.ctx, src.ID)
	if err != nil {
		h.Fatalf("GetSource: %v", err)
	}
	wantSource(h, "GetSource after UpdateSource", got, &upd)

	_, err = h.s.UpdateSource(h.ctx, "src_missing", func(*store.Source) (store.SourcePatch, error) {
		h.Errorf("UpdateSource(missing) called fn")
		return store.SourcePatch{}, nil
	})
	wantErr(h, "UpdateSource(missing)", err, store.ErrNotFound)

	if err := h.s.DeleteSource(h.ctx, src.ID); err != nil {
		h.Fatalf("DeleteSource: %v", err)
	}
	_, err = h.s.GetSource(h.ctx, src.ID)
	wantErr(h, "GetSource after DeleteSource", err, store.ErrNotFound)
	wantErr(h, "DeleteSource again", h.s.DeleteSource(h.ctx, src.ID), store.ErrNotFound)
	// The name is free again.
	h.source("github", nil)
}

func testSourceSecrets(h *harness) {
	past := now().Add(-time.Minute)
	future := now().Add(time.Hour)
	src := h.source("stripe", func(s *store.Source) {
		s.Scheme = "stripe"
		s.Secrets = []store.Secret{
			{Value: "whsec_new", CreatedAt: now()},
			{Value: "whsec_rotating", CreatedAt: past, ExpiresAt: &future},
			{Value: "whsec_expired", CreatedAt: past, ExpiresAt: &past},
		}
	})
	got, err := h.s.GetSource(h.ctx, src.ID)
	if err != nil {
		h.Fatalf("GetSource: %v", err)
	}
	want := *src
	want.Secrets = src.Secrets[:2]
	wantSource(h, "GetSource drops expired secrets", got, &want)
	if s := fmt.Sprint(got.Secrets[0]); strings.Contains(s, "whsec_new") {
		h.Fatalf("a secret formats as %q", s)
	}
}

func testListSources(h *harness) {
	var ids []string
	for i := range 5 {
		// Ids made within a millisecond do not sort by creation.
		ids = append(ids, h.source(fmt.Sprintf("src-%d", i), func(s *store.Source) { s.ID = fmt.Sprintf("src_%03d", i) }).ID)
	}
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := h.s.ListSources(h.ctx, store.Page{Limit: 2, Cursor: cursor})
		if err != nil {
			h.Fatalf("ListSources: %v", err)
		}
		for _, s := range page {
			got = append(got, s.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := make([]string, len(ids))
	for i, id := range ids {
		want[len(ids)-1-i] = id
	}
	h.wantIDs("ListSources, all pages", got, want)
}

func testRejections(h *harness) {
	a := h.source("alpha", nil)
	b := h.source("beta", nil)
	big := bytes.Repeat([]byte("x"), store.MaxRejectionBody+100)
	binary := []byte("\x00\xff\xfe not utf-8 \x00")
	seq := 0
	add := func(src *store.Source, at time.Time, body []byte) *store.Rejection {
		h.Helper()
		seq++
		r := &store.Rejection{
			ID:         fmt.Sprintf("rej_%03d", seq), // in order, even within a millisecond
			SourceID:   src.ID,
			ReceivedAt: at,
			Reason:     "signature mismatch",
			Detail:     "1 signature(s) checked against 1 secret(s)",
			RemoteAddr: "192.0.2.1:4242",
			Headers:    map[string]string{"X-Hub-Signature-256": "sha256=00", "Authorization": "[redacted]"},
			Body:       body,
			BodySize:   int64(len(body)),
		}
		if err := h.s.AddRejection(h.ctx, r); err != nil {
			h.Fatalf("AddRejection: %v", err)
		}
		return r
	}
	r1 := add(a, t0, []byte(`{"a":1}`))
	r2 := add(a, t0.Add(time.Hour), big)
	r3 := add(b, t0.Add(2*time.Hour), binary)
	r4 := add(a, t0.Add(3*time.Hour), nil)

	list, next, err := h.s.ListRejections(h.ctx, store.RejectionFilter{SourceID: a.ID})
	if err != nil || next != "" {
		h.Fatalf("ListRejections: %v, next %q", err, next)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	h.wantIDs("ListRejections(alpha)", ids, []string{r4.ID, r2.ID, r1.ID})
	for _, r := range list {
		if r.ID == r2.ID {
			if len(r.Body) != store.MaxRejectionBody || r.BodySize != int64(len(big)) {
				h.Fatalf("long body kept as %d bytes of %d", len(r.Body), r.BodySize)
			}
		}
		if r.ID == r1.ID {
			if string(r.Body) != `{"a":1}` || r.Reason != r1.Reason || r.Detail != r1.Detail || r.RemoteAddr != r1.RemoteAddr ||
				!maps.Equal(r.Headers, r1.Headers) || !r.ReceivedAt.Equal(t0) || r.SourceID != a.ID {
				h.Fatalf("rejection = %+v, want %+v", r, r1)
			}
		}
		if r.ID == r4.ID && (r.Body == nil || len(r.Body) != 0) {
			h.Fatalf("empty body read back as %#v", r.Body)
		}
	}
	all, _, err := h.s.ListRejections(h.ctx, store.RejectionFilter{Page: store.Page{Limit: 2}})
	if err != nil || len(all) != 2 || all[0].ID != r4.ID || all[1].ID != r3.ID {
		h.Fatalf("ListRejections(all, limit 2) = %v, %v", all, err)
	}
	if !bytes.Equal(all[1].Body, binary) {
		h.Fatalf("binary body read back as %q", all[1].Body)
	}

	n, err := h.s.PruneRejections(h.ctx, t0.Add(90*time.Minute))
	if err != nil || n != 2 {
		h.Fatalf("PruneRejections = %d, %v; want 2", n, err)
	}
	list, _, _ = h.s.ListRejections(h.ctx, store.RejectionFilter{})
	ids = ids[:0]
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	h.wantIDs("ListRejections after PruneRejections", ids, []string{r4.ID, r3.ID})

	if err := h.s.DeleteSource(h.ctx, a.ID); err != nil {
		h.Fatalf("DeleteSource: %v", err)
	}
	list, _, _ = h.s.ListRejections(h.ctx, store.RejectionFilter{})
	if len(list) != 1 || list[0].ID != r3.ID {
		h.Fatalf("after DeleteSource, rejections = %v; want only beta's", list)
	}
}

// testInboundEvent: an event with a content type, headers and a payload
// that is not JSON (nor UTF-8) keeps all three through CreateEvent,
// GetEvent, a duplicate and a claim.
func testInboundEvent(h *harness) {
	src := newSource("forms")
	h.endpoint(src.Tenant(), func(e *store.Endpoint) { e.Scheme = "none"; e.Secrets = nil })
	payload := []byte("token=a%20b&text=\x00\xff\xfe&emoji=😀\r\n")
	headers := map[string]string{
		"X-Slack-Signature":      "v0=abc",
		"X-Hookrelay-Source":     "forms",
		"X-Hookrelay-Verified":   "slack",
		"X-Weird":                "a, b; c=\"d\"",
		"X-Unicode-Ǆ-Not-Really": "é",
	}
	ev := &store.Event{
		ID:             store.NewID("evt"),
		Tenant:         src.Tenant(),
		Type:           src.EventType(),
		Payload:        payload,
		IdempotencyKey: "sha256:0123",
		CreatedAt:      t0,
		ContentType:    "application/x-www-form-urlencoded",
		Headers:        headers,
	}
	check := func(what string, got *store.Event) {
		h.Helper()
		if got.ID != ev.ID || !bytes.Equal(got.Payload, payload) || got.ContentType != ev.ContentType ||
			!maps.Equal(got.Headers, headers) || got.IdempotencyKey != ev.IdempotencyKey {
			h.Fatalf("%s = %+v (payload %q)", what, got, got.Payload)
		}
	}
	got, ds, err := h.s.CreateEvent(h.ctx, ev, t0.Add(-time.Hour))
	if err != nil || len(ds) != 1 {
		h.Fatalf("CreateEvent: %v, %d deliveries", err, len(ds))
	}
	check("CreateEvent", got)
	read, err := h.s.GetEvent(h.ctx, ev.ID)
	if err != nil {
		h.Fatalf("GetEvent: %v", err)
	}
	check("GetEvent", read)

	dup := *ev
	dup.ID = store.NewID("evt")
	earlier, _, err := h.s.CreateEvent(h.ctx, &dup, t0.Add(-time.Hour))
	wantErr(h, "CreateEvent(duplicate)", err, store.ErrConflict)
	check("the earlier event of a duplicate", earlier)

	jobs := h.claim(t0, 10)
	if len(jobs) != 1 {
		h.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	check("the claimed job's event", &jobs[0].Event)
	if jobs[0].Endpoint.Scheme != "none" || len(jobs[0].Endpoint.Secrets) != 0 {
		h.Fatalf("job endpoint = %+v", jobs[0].Endpoint)
	}

	// An ordinary event has neither.
	h.endpoint("plain", nil)
	plain, _ := h.event("plain", "invoice.paid", t0)
	read, err = h.s.GetEvent(h.ctx, plain.ID)
	if err != nil || read.ContentType != "" || read.Headers != nil {
		h.Fatalf("plain event = %+v, %v", read, err)
	}
	for _, j := range h.claim(t0, 10) {
		if j.Event.ID == plain.ID && (j.Event.ContentType != "" || j.Event.Headers != nil) {
			h.Fatalf("plain job event = %+v", j.Event)
		}
	}
}
