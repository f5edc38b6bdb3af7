package delivery

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	forbiddenURLs := []string{
		// IPv4 loopback, private, link-local, CGNAT, unspecified, multicast, reserved
		"http://127.0.0.1/", "http://127.255.255.254:8080/x",
		"http://10.0.0.1/", "http://10.255.255.255/",
		"http://172.16.0.1/", "http://172.31.255.255/",
		"http://192.168.1.1/",
		"http://169.254.169.254/latest/meta-data/", "http://169.254.0.1/",
		"http://100.64.0.1/", "http://100.127.255.254/",
		"http://0.0.0.0/", "http://0.1.2.3/",
		"http://224.0.0.1/", "http://239.255.255.250/",
		"http://255.255.255.255/", "http://240.0.0.1/",
		"http://192.0.0.192/", "http://198.18.0.1/",
		// IPv6 loopback, unspecified, ULA (incl. AWS metadata), link-local, multicast
		"http://[::1]/", "http://[::]/",
		"http://[fc00::1]/", "http://[fd00:ec2::254]/", "http://[fdff:ffff::1]/",
		"http://[fe80::1]/", "http://[febf::1]/", "http://[fe80::1%25eth0]/",
		"http://[ff02::1]/", "http://[fec0::1]/",
		// IPv4 forms inside IPv6: mapped, compatible, NAT64, 6to4
		"http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:10.0.0.1]/",
		"http://[::ffff:169.254.169.254]/", "http://[::ffff:192.168.0.1]/", "http://[::ffff:100.64.0.1]/",
		"http://[::ffff:0.0.0.0]/",
		"http://[::127.0.0.1]/", "http://[::10.0.0.1]/",
		"http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b:1::1]/",
		"http://[2002:7f00:1::1]/", "http://[2002:a9fe:a9fe::]/",
		// names that resolve to loopback
		"http://localhost/", "https://localhost:8443/hook",
	}
	for _, u := range forbiddenURLs {
		t.Run("forbidden "+u, func(t *testing.T) {
			t.Parallel()
			err := CheckURL(t.Context(), u, false)
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("CheckURL(%q) = %v, want ErrForbiddenAddress", u, err)
			}
			if strings.Contains(u, "localhost") {
				return // resolution is the system's
			}
			if err := CheckURL(t.Context(), u, true); err != nil {
				t.Fatalf("CheckURL(%q, allowPrivate) = %v, want nil", u, err)
			}
		})
	}

	allowed := []string{
		"http://93.184.216.34/",
		"https://93.184.216.34:8443/hooks?x=1",
		"http://8.8.8.8/",
		"http://172.32.0.1/",  // just outside 172.16/12
		"http://100.128.0.1/", // just outside 100.64/10
		"http://[2606:2800:220:1:248:1893:25c8:1946]/",
		"http://[::ffff:93.184.216.34]/",
		"http://[64:ff9b::5db8:d822]/", // NAT64 of a public address
		"http://[2002:5db8:d822::1]/",  // 6to4 of a public address
	}
	for _, u := range allowed {
		t.Run("allowed "+u, func(t *testing.T) {
			t.Parallel()
			if err := CheckURL(t.Context(), u, false); err != nil {
				t.Fatalf("CheckURL(%q) = %v, want nil", u, err)
			}
		})
	}

	bad := []string{
		"ftp://93.184.216.34/",
		"file:///etc/passwd",
		"gopher://93.184.216.34/",
		"javascript:alert(1)",
		"93.184.216.34/path",
		"//93.184.216.34/",
		"http://user:pass@93.184.216.34/",
		"https://user@93.184.216.34/",
		"http:///nohost",
		"http://93.184.216.34:99999/",
		"http://%zz/",
		"",
	}
	for _, u := range bad {
		t.Run("bad "+u, func(t *testing.T) {
			t.Parallel()
			for _, allow := range []bool{false, true} {
				err := CheckURL(t.Context(), u, allow)
				if !errors.Is(err, ErrBadURL) {
					t.Fatalf("CheckURL(%q, %v) = %v, want ErrBadURL", u, allow, err)
				}
			}
		})
	}

	t.Run("unresolvable", func(t *testing.T) {
		t.Parallel()
		err := CheckURL(t.Context(), "http://no-such-host.invalid/", true)
		if err == nil || errors.Is(err, ErrForbiddenAddress) || errors.Is(err, ErrBadURL) {
			t.Fatalf("CheckURL(.invalid) = %v, want a resolver error", err)
		}
	})
}

// TestHTTPClientRefusesAtDialTime checks the second line of defence: a name
// that passes no check at creation but resolves to loopback when connecting
// (as "localhost" does here, and as a DNS rebinding attack would) is refused
// by the dialer, so the receiver never sees a request.
func TestHTTPClientRefusesAtDialTime(t *testing.T) {
	t.Parallel()
	hits := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- struct{}{} }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, host := range []string{"localhost", "127.0.0.1"} {
		u := "http://" + net.JoinHostPort(host, port) + "/"
		client := NewHTTPClient(false, 5*time.Second)
		_, err := Send(t.Context(), client, u, testSigned("{}"))
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("Send(%s) with private networks refused: err = %v, want ErrForbiddenAddress", u, err)
		}
		res, err := Send(t.Context(), NewHTTPClient(true, 5*time.Second), u, testSigned("{}"))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("Send(%s) with private networks allowed: %v, %v", u, res, err)
		}
	}
	if n := len(hits); n != 2 {
		t.Fatalf("receiver got %d requests, want 2 (only the allowed ones)", n)
	}
}

func TestHTTPClientNoRedirectNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	var target int
	dst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { target++ }))
	defer dst.Close()
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, dst.URL, http.StatusTemporaryRedirect)
	}))
	defer src.Close()
	res, err := Send(context.Background(), NewHTTPClient(true, 5*time.Second), src.URL, testSigned("{}"))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusTemporaryRedirect || res == nil {
		t.Fatalf("Send to a redirect: %v, %v; want the 307 as a *HTTPError", res, err)
	}
	if target != 0 {
		t.Fatal("redirect was followed")
	}
}
