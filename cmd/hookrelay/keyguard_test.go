package main

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
)

// startOnce runs serve on dir until it listens, then stops it, and
// returns its exit status and stderr; a serve that refuses to start
// returns at once.
func startOnce(t *testing.T, dir string, vars map[string]string) (int, string) {
	t.Helper()
	e, _, _ := testEnv(vars, "")
	stderr := &notifyBuffer{written: make(chan struct{}, 1)}
	e.stderr = stderr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, e, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn"})
	}()
	for {
		select {
		case code := <-done:
			return code, stderr.String()
		case <-stderr.written:
			if listeningLine.MatchString(stderr.String()) {
				cancel()
				return <-done, stderr.String()
			}
		}
	}
}

// notifyBuffer is a syncBuffer that signals each write on written.
type notifyBuffer struct {
	syncBuffer
	written chan struct{}
}

func (b *notifyBuffer) Write(p []byte) (int, error) {
	n, err := b.syncBuffer.Write(p)
	select {
	case b.written <- struct{}{}:
	default:
	}
	return n, err
}

// addSource puts a source, whose secrets are sealed with the key in dir,
// in dir's database, with serve stopped.
func addSource(t *testing.T, dir string) {
	t.Helper()
	st, err := openStore(context.Background(), dir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	src := &store.Source{ID: store.NewID("src"), Name: "github", Scheme: "github",
		Secrets: []store.Secret{{Value: "s3cret", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateSource(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesLostSecretKey: a database whose sources were sealed
// with a key that is gone used to start with a new key, silently, and then
// answer every inbound request 503. serve must refuse, say what to do, and
// leave no new secret.key behind.
func TestServeRefusesLostSecretKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, out := startOnce(t, dir, nil); code != 0 {
		t.Fatalf("first start: %d %s", code, out)
	}
	addSource(t, dir)
	keyPath := filepath.Join(dir, secretKeyFile)
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	code, out := startOnce(t, dir, nil)
	if code == 0 {
		t.Fatalf("serve started with its secret key lost:\n%s", out)
	}
	for _, want := range []string{"secret.key", "restore", "HOOKRELAY_SECRET_KEY"} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
			t.Errorf("message does not say %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start left a new secret.key behind (%v)", err)
	}
}

// TestServeRefusesWrongSecretKey: a key from the environment that is not
// the database's is refused even when the database holds no secret yet,
// thanks to the key check value.
func TestServeRefusesWrongSecretKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := func() string {
		k := make([]byte, secretbox.KeySize)
		for i := range k {
			k[i] = byte(len(dir) + i)
		}
		return base64.StdEncoding.EncodeToString(k)
	}
	k1 := key()
	if code, out := startOnce(t, dir, map[string]string{"HOOKRELAY_SECRET_KEY": k1}); code != 0 {
		t.Fatalf("first start: %d %s", code, out)
	}
	k2b, _ := base64.StdEncoding.DecodeString(k1)
	k2b[0] ^= 1
	code, out := startOnce(t, dir, map[string]string{"HOOKRELAY_SECRET_KEY": base64.StdEncoding.EncodeToString(k2b)})
	if code == 0 || !strings.Contains(out, "HOOKRELAY_SECRET_KEY") {
		t.Fatalf("serve started with another HOOKRELAY_SECRET_KEY on a database without secrets (%d):\n%s", code, out)
	}
	if code, out := startOnce(t, dir, map[string]string{"HOOKRELAY_SECRET_KEY": k1}); code != 0 {
		t.Fatalf("the right key again: %d %s", code, out)
	}
}

// TestServeRefusesLostDatabase: an empty or missing hookrelay.db next to
// an existing secret.key used to be taken as a fresh install, with a new
// admin key printed. serve must refuse and say what to do.
func TestServeRefusesLostDatabase(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"missing", "empty"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if code, out := startOnce(t, dir, nil); code != 0 {
				t.Fatalf("first start: %d %s", code, out)
			}
			db := filepath.Join(dir, dbFileName)
			for _, p := range []string{db, db + "-wal", db + "-shm"} {
				os.Remove(p)
			}
			if how == "empty" {
				if err := os.WriteFile(db, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, out := startOnce(t, dir, nil)
			if code == 0 {
				t.Fatalf("serve started on a lost database:\n%s", out)
			}
			if strings.Contains(out, "admin API key") {
				t.Errorf("serve printed a new admin key:\n%s", out)
			}
			for _, want := range []string{"hookrelay.db", "secret.key", "restore", "backup"} {
				if !strings.Contains(strings.ToLower(out), want) {
					t.Errorf("message does not say %q:\n%s", want, out)
				}
			}
		})
	}
}
