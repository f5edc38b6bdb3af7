package authlimit

import (
	"net/http"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(&Config{Failures: 3, Window: 30 * time.Second, Now: func() time.Time { return now }})
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.Fail("a")
	}
	ok, wait := l.Allow("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("after 3 failures: %v, %v; want refused for 10s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another address is refused")
	}
	now = now.Add(9 * time.Second)
	if ok, wait := l.Allow("a"); ok || wait != time.Second {
		t.Errorf("after 9s: %v, %v; want refused for 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("refused after a token came back")
	}
}

func TestMaxClients(t *testing.T) {
	t.Parallel()
	l := New(&Config{MaxClients: 100})
	for i := range 1000 {
		l.Fail(string(rune('a' + i)))
		if len(l.buckets) > 100 {
			t.Fatalf("%d addresses tracked, want at most 100", len(l.buckets))
		}
	}
}

func TestAddr(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:4242", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:1", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"@", "@"},
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}}
		if got := Addr(r); got != c.want {
			t.Errorf("Addr(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}
