package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/jsoncanon"
)

// FuzzCreateEvent posts fuzzed bodies to POST /api/v1/events and checks
// that the answer is one the API documents (202, or a 4xx with a JSON
// error), never a 5xx or a panic; and that an accepted event stored its
// payload exactly as sent (the bytes between the envelope's "payload" and
// the next member, whitespace trimmed), a payload that JSON.parse accepts.
// The seed corpus is below and in testdata/fuzz/FuzzCreateEvent.
func FuzzCreateEvent(f *testing.F) {
	for _, seed := range []string{
		`{"type":"invoice.paid","payload":{"id":1,"big":12345678901234567890123}}`,
		`{"type":"a","payload":"\ud800","tenant":"t1","idempotency_key":"k"}`,
		`{"type":"a","payload":[1,2,{"x":null}]}  `,
		`{"type":"a","payload":{"a":1,"a":2}}`,
		`{"type":"","payload":{}}`,
		`{"type":"a"}`,
		`{"type":"a","payload":{}}{"type":"b"}`,
		`{"type":"a","payload":{},"extra":1}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	k, key, err := NewAPIKey("fuzz", "", now)
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateAPIKey(context.Background(), k); err != nil {
		f.Fatal(err)
	}
	h, err := New(Config{Store: st, MaxPayloadBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/events", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code == http.StatusAccepted:
			var out struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.ID == "" {
				t.Fatalf("202 without an event id: %q", w.Body.Bytes())
			}
			ev, err := st.GetEvent(context.Background(), out.ID)
			if err != nil {
				t.Fatalf("accepted event %s not stored: %v", out.ID, err)
			}
			var env struct {
				Payload json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("accepted a body encoding/json refuses: %q: %v", body, err)
			}
			if !bytes.Equal(ev.Payload, bytes.TrimSpace(env.Payload)) {
				t.Fatalf("stored payload %q, sent %q", ev.Payload, env.Payload)
			}
			if _, err := jsoncanon.JS(ev.Payload); err != nil {
				t.Fatalf("accepted a payload JSON.parse refuses: %q: %v", ev.Payload, err)
			}
		case w.Code >= 400 && w.Code < 500:
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d without a JSON error: %q", w.Code, w.Body.Bytes())
			}
		default:
			t.Fatalf("status %d for %q: %q", w.Code, body, w.Body.Bytes())
		}
	})
}
