package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// TestStoreUnavailable fills the database for real (SQLite's
// max_page_count, which fails writes with SQLITE_FULL as a full disk
// does): an event post must then answer 503 with Retry-After and the code
// "unavailable", not 500 "internal", so that senders retry later and
// operators see what is wrong.
func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "full.db"), &sqlite.Config{Cipher: box, MaxPageCount: 200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k, key, err := NewAPIKey("test", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	tb := &testBundle{url: srv.URL, key: key, store: st}

	payload, _ := json.Marshal(strings.Repeat("x", 64<<10))
	body := `{"type":"invoice.paid","payload":` + string(payload) + `}`
	for i := range 100 {
		r := tb.do(t, "POST", "/api/v1/events", body)
		if r.status == 202 {
			continue
		}
		wantError(t, r, 503, CodeUnavailable)
		if ra := r.header.Get("Retry-After"); ra == "" {
			t.Errorf("503 without Retry-After")
		}
		t.Logf("event %d: %s", i, r.body)
		return
	}
	t.Fatal("100 events of 64 KiB fit in 200 pages")
}
