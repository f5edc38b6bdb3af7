package main

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
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// TestHealthzStoreCannotWrite fills the database for real (SQLite's
// max_page_count gives SQLITE_FULL, as a full disk does): /healthz must
// then answer 503 and say that the store cannot write, where it used to
// answer 200 because the database still answered reads.
func TestHealthzStoreCannotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "full.db"), &sqlite.Config{Cipher: box, MaxPageCount: 200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(healthz(st))
	t.Cleanup(srv.Close)
	get := func() (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	if code, body := get(); code != 200 || body["store"] != "ok" {
		t.Fatalf("healthz of a fresh store: %d %v", code, body)
	}
	payload := bytes.Repeat([]byte("x"), 64<<10)
	for range 100 {
		ev := &store.Event{ID: store.NewID("evt"), Type: "t", Payload: payload, CreatedAt: time.Now()}
		if _, _, err = st.CreateEvent(ctx, ev, time.Time{}); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("the database did not fill up")
	}
	code, body := get()
	if code != http.StatusServiceUnavailable || body["status"] != "unavailable" || body["store"] != "cannot_write" {
		t.Errorf("healthz of a store that cannot write: %d %v, want 503 unavailable cannot_write", code, body)
	}
}
