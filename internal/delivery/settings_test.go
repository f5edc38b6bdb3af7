package delivery

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, all PEM.
type testPKI struct {
	caPEM               string
	caPool              *x509.CertPool
	serverCert          tls.Certificate
	clientCert, clientK string
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage, ip bool) (string, string) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprint("leaf ", serial)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(k)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	}
	p := &testPKI{caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})), caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	sc, sk := leaf(2, x509.ExtKeyUsageServerAuth, true)
	if p.serverCert, err = tls.X509KeyPair([]byte(sc), []byte(sk)); err != nil {
		t.Fatal(err)
	}
	p.clientCert, p.clientK = leaf(3, x509.ExtKeyUsageClientAuth, false)
	return p
}

// tokenServer is an OAuth2 token endpoint that counts its fetches and
// hands out tok-1, tok-2, ...
type tokenServer struct {
	*httptest.Server
	fetches atomic.Int64
}

func newTokenServer(t *testing.T, clientID, clientSecret string) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			r.ParseForm()
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id != clientID || secret != clientSecret || r.FormValue("grant_type") != "client_credentials" ||
			r.FormValue("audience") != "https://api.example" || r.FormValue("scope") != "hooks:write" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		n := ts.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestEngineEndpointSettings sends one event to endpoints with each
// setting, and receivers on loopback check what arrived.
func TestEngineEndpointSettings(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, Config{AllowPrivateNetworks: true, RequestTimeout: 10 * time.Minute, MaxEndpointTimeout: 10 * time.Minute, Logger: logger})
	const (
		secret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		apiKey      = "sk_live_header_value_1234"
		password    = "basic-password-5678"
		bearer      = "bearer-token-abcdef-9012"
		oauthSecret = "oauth-client-secret-3456"
	)
	scheme, _ := signature.Lookup("standard")
	verified := func(r *http.Request, body []byte) error {
		return scheme.Verify(r.Header, body, []string{secret}, nil)
	}
	type check func(r *http.Request, body []byte) error
	recv := func(c check) (*receiver, *atomic.Int64) {
		var ok atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int, body []byte) {
			if err := errors.Join(verified(r, body), c(r, body)); err != nil {
				t.Logf("%s: %v", r.URL.Path, err)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			ok.Add(1)
		})
		return rc, &ok
	}

	hdr, hdrOK := recv(func(r *http.Request, _ []byte) error {
		if r.Header.Get("X-Api-Key") != apiKey || r.Header.Get("X-Team") != "billing" {
			return fmt.Errorf("headers %v", r.Header)
		}
		return nil
	})
	basic, basicOK := recv(func(r *http.Request, _ []byte) error {
		if u, p, ok := r.BasicAuth(); !ok || u != "hookrelay" || p != password {
			return errors.New("basic credentials")
		}
		return nil
	})
	bear, bearOK := recv(func(r *http.Request, _ []byte) error {
		if r.Header.Get("Authorization") != "Bearer "+bearer {
			return errors.New("bearer token")
		}
		return nil
	})
	tokens := newTokenServer(t, "client-1", oauthSecret)
	oauth, oauthOK := recv(func(r *http.Request, _ []byte) error {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			return fmt.Errorf("oauth2 token %q", r.Header.Get("Authorization"))
		}
		return nil
	})
	// A receiver that refuses the first token: the engine fetches a new
	// one and sends once more, in the same attempt.
	tokens2 := newTokenServer(t, "client-2", oauthSecret)
	oauth401, oauth401OK := recv(func(r *http.Request, _ []byte) error {
		if r.Header.Get("Authorization") != "Bearer tok-2" {
			return errors.New("not the second token")
		}
		return nil
	})

	pki := newPKI(t)
	var mtlsOK atomic.Int64
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "leaf 3" || verified(r, body) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mtlsOK.Add(1)
	}))
	mtls.TLS = &tls.Config{Certificates: []tls.Certificate{pki.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.caPool}
	mtls.Config.ErrorLog = log.New(io.Discard, "", 0)
	mtls.StartTLS()
	t.Cleanup(mtls.Close)

	release := make(chan struct{})
	var slowOnce sync.Once
	t.Cleanup(func() { slowOnce.Do(func() { close(release) }) })
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	failing := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) { w.WriteHeader(500) })

	sign := func(e *store.Endpoint) {
		e.Scheme = "standard"
		e.Secrets = []store.Secret{{Value: secret, CreatedAt: time.Now()}}
	}
	eps := map[string]*store.Endpoint{
		"headers": b.endpoint(t, hdr.URL+"/headers", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.Headers = map[string]string{"x-api-key": apiKey, "X-Team": "billing"}
		}),
		"basic": b.endpoint(t, basic.URL+"/basic", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.Auth = &store.ReceiverAuth{Type: store.AuthBasic, Username: "hookrelay", Password: password}
		}),
		"bearer": b.endpoint(t, bear.URL+"/bearer", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.Auth = &store.ReceiverAuth{Type: store.AuthBearer, Token: bearer}
		}),
		"oauth2-401": b.endpoint(t, oauth401.URL+"/oauth401", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.Auth = &store.ReceiverAuth{Type: store.AuthOAuth2, TokenURL: tokens2.URL + "/token", ClientID: "client-2",
				ClientSecret: oauthSecret, Scopes: []string{"hooks:write"}, Audience: "https://api.example"}
		}),
		"mtls": b.endpoint(t, mtls.URL+"/mtls", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.ClientTLS = &store.ClientTLS{CertPEM: pki.clientCert, KeyPEM: pki.clientK, CAPEM: pki.caPEM}
		}),
		"mtls-nocert": b.endpoint(t, mtls.URL+"/nocert", "", nil, func(e *store.Endpoint) {
			sign(e)
			// Trusts the server but presents no certificate: refused.
			e.ClientTLS = &store.ClientTLS{CAPEM: pki.caPEM}
			e.RetrySchedule = []time.Duration{}
		}),
		"timeout": b.endpoint(t, slow.URL+"/slow", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.Timeout = 200 * time.Millisecond
			e.RetrySchedule = []time.Duration{}
		}),
		"no-retries": b.endpoint(t, failing.URL+"/fail", "", nil, func(e *store.Endpoint) {
			sign(e)
			e.RetrySchedule = []time.Duration{}
		}),
	}
	// Many endpoints with the same OAuth2 credentials: one token fetch.
	const oauthEndpoints = 5
	for i := range oauthEndpoints {
		eps[fmt.Sprint("oauth2-", i)] = b.endpoint(t, fmt.Sprintf("%s/oauth/%d", oauth.URL, i), "", nil, func(e *store.Endpoint) {
			sign(e)
			e.Auth = &store.ReceiverAuth{Type: store.AuthOAuth2, TokenURL: tokens.URL + "/token", ClientID: "client-1",
				ClientSecret: oauthSecret, Scopes: []string{"hooks:write"}, Audience: "https://api.example"}
		})
	}
	b.start(t)
	payload := `{"id":"in_1","amount":4200,"big":12345678901234567890}`
	_, ds := b.accept(t, "invoice.paid", payload)
	byEndpoint := map[string]*store.Delivery{}
	for _, d := range ds {
		byEndpoint[d.EndpointID] = d
	}
	for name, ep := range eps {
		want := store.StatusSucceeded
		switch name {
		case "mtls-nocert", "timeout", "no-retries":
			want = store.StatusFailed
		}
		d := b.waitStatus(t, byEndpoint[ep.ID].ID, want, 30*time.Second)
		if want == store.StatusFailed && d.Attempts != 1 {
			t.Errorf("%s: %d attempts, want 1 (the endpoint's schedule has no retries)", name, d.Attempts)
		}
	}
	for name, n := range map[string]*atomic.Int64{"headers": hdrOK, "basic": basicOK, "bearer": bearOK, "oauth2-401": oauth401OK} {
		if n.Load() != 1 {
			t.Errorf("%s: %d verified requests, want 1", name, n.Load())
		}
	}
	if oauthOK.Load() != oauthEndpoints || tokens.fetches.Load() != 1 {
		t.Errorf("oauth2: %d verified requests with %d token fetches, want %d with 1", oauthOK.Load(), tokens.fetches.Load(), oauthEndpoints)
	}
	if tokens2.fetches.Load() != 2 || oauth401.count() != 2 {
		t.Errorf("oauth2 refused once: %d fetches and %d requests, want 2 and 2", tokens2.fetches.Load(), oauth401.count())
	}
	if mtlsOK.Load() != 1 {
		t.Errorf("mtls: %d requests with the client certificate, want 1", mtlsOK.Load())
	}
	if a := b.attempts(t, byEndpoint[eps["mtls-nocert"].ID].ID); a[0].StatusCode != 0 || !strings.Contains(a[0].Error, "certificate required") {
		t.Errorf("mtls without a certificate: attempt %d %q, want a handshake failure", a[0].StatusCode, a[0].Error)
	}
	// The slow receiver is still blocked (it is released only now): the
	// attempt ended on the endpoint's timeout, not the server's 10 minutes.
	if a := b.attempts(t, byEndpoint[eps["timeout"].ID].ID); !strings.Contains(a[0].Error, "request timeout (200ms) exceeded") {
		t.Errorf("timeout: attempt error %q, want a deadline", a[0].Error)
	}
	slowOnce.Do(func() { close(release) })

	// No secret in clear in the attempt log or the engine's logs.
	secrets := []string{apiKey, password, bearer, oauthSecret, "tok-1", "tok-2", strings.Split(pki.clientK, "\n")[1]}
	var logged strings.Builder
	for _, d := range ds {
		for _, a := range b.attempts(t, d.ID) {
			j, _ := json.Marshal(a)
			logged.Write(j)
		}
	}
	logMu.Lock()
	logged.Write(logs.Bytes())
	logMu.Unlock()
	for _, s := range secrets {
		if strings.Contains(logged.String(), s) {
			t.Errorf("secret %.12q... is in the attempt log or the logs", s)
		}
	}
	if a := b.attempts(t, byEndpoint[eps["headers"].ID].ID); a[0].RequestHeaders["X-Api-Key"] != Redacted {
		t.Errorf("attempt log X-Api-Key = %q, want %q", a[0].RequestHeaders["X-Api-Key"], Redacted)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// connectProxyServer is an HTTP CONNECT proxy on loopback that records
// the targets asked for and tunnels every one to upstream.
type connectProxyServer struct {
	*httptest.Server
	mu      sync.Mutex
	targets []string
}

func newConnectProxy(t *testing.T, upstream string) *connectProxyServer {
	p := &connectProxyServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.targets = append(p.targets, r.Host)
		p.mu.Unlock()
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(up, conn); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *connectProxyServer) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// TestEngineEgressProxy: with --egress-proxy, deliveries go through the
// CONNECT proxy (on loopback: its own address is allowed), to the address
// the guard checked; loopback targets, literal or by name, are refused
// before any CONNECT.
func TestEngineEgressProxy(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	proxy := newConnectProxy(t, rc.Listener.Addr().String())
	pu, _ := url.Parse(proxy.URL)
	b := setup(t, Config{EgressProxy: pu, RetrySchedule: []time.Duration{}})
	// A public address literal, never reached: the proxy routes every
	// tunnel to rc.
	public := b.endpoint(t, "http://93.184.215.14/hook", "", nil, func(e *store.Endpoint) { e.Scheme = "none" })
	literal := b.endpoint(t, rc.URL+"/loop", "", nil, func(e *store.Endpoint) { e.Scheme = "none" })
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	named := b.endpoint(t, "http://localhost:"+port+"/named", "", nil, func(e *store.Endpoint) { e.Scheme = "none" })
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	by := map[string]*store.Delivery{}
	for _, d := range ds {
		by[d.EndpointID] = d
	}
	b.waitStatus(t, by[public.ID].ID, store.StatusSucceeded, 30*time.Second)
	for _, ep := range []*store.Endpoint{literal, named} {
		b.waitStatus(t, by[ep.ID].ID, store.StatusFailed, 30*time.Second)
		if a := b.attempts(t, by[ep.ID].ID); !strings.Contains(a[0].Error, ErrForbiddenAddress.Error()) {
			t.Errorf("%s: attempt error %q, want %v", ep.URL, a[0].Error, ErrForbiddenAddress)
		}
	}
	if got := proxy.seen(); len(got) != 1 || got[0] != "93.184.215.14:80" {
		t.Errorf("proxy saw CONNECT %v, want only 93.184.215.14:80", got)
	}
	if reqs := rc.requests(); len(reqs) != 1 {
		t.Errorf("receiver got %d requests, want 1 (through the proxy)", len(reqs))
	}
}

// TestEngineTokenURLGuarded: the OAuth2 token URL goes through the SSRF
// guard as deliveries do: a token server on loopback is never asked.
func TestEngineTokenURLGuarded(t *testing.T) {
	t.Parallel()
	tokens := newTokenServer(t, "c", "s")
	b := setup(t, Config{RetrySchedule: []time.Duration{}})
	ep := b.endpoint(t, "http://93.184.215.14/hook", "", nil, func(e *store.Endpoint) {
		e.Scheme = "none"
		e.Auth = &store.ReceiverAuth{Type: store.AuthOAuth2, TokenURL: tokens.URL, ClientID: "c", ClientSecret: "s"}
	})
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	if len(ds) != 1 || ds[0].EndpointID != ep.ID {
		t.Fatalf("deliveries %v", ds)
	}
	b.waitStatus(t, ds[0].ID, store.StatusFailed, 30*time.Second)
	if a := b.attempts(t, ds[0].ID); !strings.Contains(a[0].Error, ErrForbiddenAddress.Error()) || tokens.fetches.Load() != 0 {
		t.Errorf("attempt error %q with %d token fetches, want %v and none", a[0].Error, tokens.fetches.Load(), ErrForbiddenAddress)
	}
}

// TestEngineClientTLSGuarded: an endpoint's own client (for its client
// certificate) dials through the SSRF guard like the shared one.
func TestEngineClientTLSGuarded(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	var reached atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.serverCert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	b := setup(t, Config{RetrySchedule: []time.Duration{}})
	ep := b.endpoint(t, srv.URL+"/mtls", "", nil, func(e *store.Endpoint) {
		e.Scheme = "none"
		e.ClientTLS = &store.ClientTLS{CertPEM: pki.clientCert, KeyPEM: pki.clientK, CAPEM: pki.caPEM}
	})
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	if len(ds) != 1 || ds[0].EndpointID != ep.ID {
		t.Fatalf("deliveries %v", ds)
	}
	b.waitStatus(t, ds[0].ID, store.StatusFailed, 30*time.Second)
	if a := b.attempts(t, ds[0].ID); !strings.Contains(a[0].Error, ErrForbiddenAddress.Error()) || reached.Load() != 0 {
		t.Errorf("attempt error %q, %d requests reached the server; want %v and none", a[0].Error, reached.Load(), ErrForbiddenAddress)
	}
}

// TestClientsCache: one client per endpoint and certificate version; a
// changed certificate gets a new client, none the shared one.
func TestClientsCache(t *testing.T) {
	t.Parallel()
	pki, other := newPKI(t), newPKI(t)
	c := newClients(ClientConfig{})
	ep := &store.Endpoint{ID: "ep_1", ClientTLS: &store.ClientTLS{CertPEM: pki.clientCert, KeyPEM: pki.clientK}}
	first, err := c.get(ep)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.get(ep); again != first || first == c.shared {
		t.Errorf("same certificate: a different client (or the shared one)")
	}
	ep.ClientTLS = &store.ClientTLS{CertPEM: other.clientCert, KeyPEM: other.clientK}
	if changed, _ := c.get(ep); changed == first {
		t.Errorf("changed certificate: the old client")
	}
	ep.ClientTLS = nil
	if shared, _ := c.get(ep); shared != c.shared || len(c.own) != 0 {
		t.Errorf("no certificate: not the shared client, or %d own clients kept", len(c.own))
	}
	op := &store.Endpoint{ID: store.OperatorEndpointID, Tenant: store.OperatorTenant}
	if trusted, _ := c.get(op); trusted != c.trusted || trusted == c.shared {
		t.Errorf("operator endpoint: not the trusted client")
	}
	ep.ClientTLS = &store.ClientTLS{CertPEM: pki.clientCert, KeyPEM: other.clientK}
	if _, err := c.get(ep); err == nil {
		t.Errorf("a certificate and another's key: no error")
	}
}
