package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (127.0.0.0/8 is all loopback on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func getWith(t *testing.T, c *http.Client, url, key string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestAuthThrottle: 300 wrong keys from one address get 401 up to the
// limit and then 429 with Retry-After and a JSON error, even with the
// right key; a right key from another address still works; each failure
// is logged with the address and without the key; the address is let in
// again as the injected clock moves on.
func TestAuthThrottle(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	tb := setup(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	attacker, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	url := tb.url + "/api/v1/endpoints"
	const wrong = "hr_wrongwrongwrongwrong"
	var unauthorized, throttled int
	for i := range 300 {
		resp, body := getWith(t, attacker, url, wrong)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			if throttled > 0 {
				t.Fatalf("attempt %d: 401 after a 429", i)
			}
			unauthorized++
		case http.StatusTooManyRequests:
			throttled++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without Retry-After")
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != CodeTooManyRequests {
				t.Fatalf("429 body %s: %v", body, err)
			}
		default:
			t.Fatalf("attempt %d: status %d", i, resp.StatusCode)
		}
	}
	if unauthorized != 10 || throttled != 290 {
		t.Errorf("%d answered 401 and %d 429; want 10 and 290", unauthorized, throttled)
	}
	if resp, _ := getWith(t, attacker, url, tb.key); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right key from the throttled address: %d, want 429", resp.StatusCode)
	}
	if resp, body := getWith(t, other, url, tb.key); resp.StatusCode != http.StatusOK {
		t.Errorf("right key from another address: %d %s, want 200", resp.StatusCode, body)
	}
	tb.clock.Advance(6 * time.Second) // a token back: 10 per minute
	if resp, body := getWith(t, attacker, url, tb.key); resp.StatusCode != http.StatusOK {
		t.Errorf("right key from the first address after 6s: %d %s, want 200", resp.StatusCode, body)
	}
	out := logs.String()
	if strings.Contains(out, wrong) || strings.Contains(out, tb.key) {
		t.Error("a key was logged")
	}
	if n := strings.Count(out, "authentication failed"); n < 10 {
		t.Errorf("%d failures logged, want at least 10:\n%s", n, out)
	}
	if !strings.Contains(out, `"remote_addr":"127.0.0.1"`) {
		t.Errorf("failures logged without the address:\n%s", out)
	}
}

// TestPortalLinkTTLOverflow: a ttl_seconds whose nanoseconds overflow
// int64 is refused like any other over the limit, not wrapped around to a
// small or negative lifetime.
func TestPortalLinkTTLOverflow(t *testing.T) {
	t.Parallel()
	m := &recordingMinter{}
	tb := setup(t, func(c *Config) { c.PortalLinks = m })
	for _, secs := range []int64{9223372037, 18446744074, 9223372036854775807} {
		wantError(t, tb.do(t, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme", "ttl_seconds": secs}),
			http.StatusUnprocessableEntity, CodeValidation)
	}
	if m.tenant != "" {
		t.Errorf("a link was minted with ttl %v", m.ttl)
	}
}
