package client_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/hookrelay/hookrelay/internal/api"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// testServer is a real API on a real SQLite store behind a real HTTP
// server on loopback.
type testServer struct {
	URL   string
	Key   string
	Store *sqlite.Store
	srv   *httptest.Server
	dir   string
}

// startServer starts an API in a new directory under dir ("" for a
// temporary one of its own), with wrap (nil for none) around its handler
// and mutate (nil for none) applied to its Config.
func startServer(dir string, wrap func(http.Handler) http.Handler, mutate func(*api.Config)) (*testServer, error) {
	own := dir == ""
	if own {
		var err error
		if dir, err = os.MkdirTemp("", "hookrelay-client-"); err != nil {
			return nil, err
		}
	}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "test.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		return nil, err
	}
	k, key, err := api.NewAPIKey("admin", "", time.Now())
	if err != nil {
		return nil, err
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	cfg := api.Config{Store: st, AllowPrivateNetworks: true}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		return nil, err
	}
	var h http.Handler = a
	if wrap != nil {
		h = wrap(h)
	}
	ts := &testServer{Key: key, Store: st, srv: httptest.NewServer(h)}
	ts.URL = ts.srv.URL
	if own {
		ts.dir = dir
	}
	return ts, nil
}

// Close stops the server and closes the store.
func (ts *testServer) Close() {
	ts.srv.Close()
	ts.Store.Close()
	if ts.dir != "" {
		os.RemoveAll(ts.dir)
	}
}
