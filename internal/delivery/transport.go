package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// ClientConfig says how delivery clients connect.
type ClientConfig struct {
	// AllowPrivateNetworks turns the SSRF guard off.
	AllowPrivateNetworks bool
	// Timeout bounds a whole request; 0 means no limit (the engine bounds
	// each attempt with its context instead).
	Timeout time.Duration
	// Proxy, if set, is an HTTP proxy every connection goes through with
	// CONNECT, http and https URLs alike (user information in it is sent
	// as Proxy-Authorization basic credentials). The proxy's own address
	// is allowed whatever it is; the SSRF guard checks the target instead,
	// before the CONNECT: a literal address, or every address its name
	// resolves to, and the CONNECT names the checked address (so the proxy
	// cannot be made to resolve the name again, to somewhere else).
	Proxy *url.URL
	// TLS, if set, is the client's TLS configuration (client certificate,
	// roots); nil means the defaults.
	TLS *tls.Config
}

// NewClient returns a client for deliveries configured by cfg: the SSRF
// guard on the address actually connected to, no redirects followed, no
// proxy from the environment, a large idle pool.
func NewClient(cfg ClientConfig) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if cfg.Timeout > 0 && cfg.Timeout < dialer.Timeout {
		dialer.Timeout = cfg.Timeout
	}
	guarded := *dialer
	if !cfg.AllowPrivateNetworks {
		guarded.Control = checkDialAddress
	}
	dial := guarded.DialContext
	if cfg.Proxy != nil {
		p := &connectProxy{proxy: cfg.Proxy, dialer: dialer, allowPrivate: cfg.AllowPrivateNetworks}
		dial = p.dial
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        cfg.TLS,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4096,
		MaxIdleConnsPerHost:    512,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// connectProxy dials every connection through an HTTP CONNECT proxy.
type connectProxy struct {
	proxy        *url.URL
	dialer       *net.Dialer // unguarded: the proxy is trusted configuration
	allowPrivate bool
}

// dial checks addr against the SSRF guard, resolving it first, and opens
// a tunnel to the checked address through the proxy.
func (p *connectProxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: target %q: %w", addr, err)
	}
	ip, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	target := net.JoinHostPort(ip.String(), port)
	proxyAddr := p.proxy.Host
	if p.proxy.Port() == "" {
		proxyAddr = net.JoinHostPort(p.proxy.Hostname(), "80")
	}
	conn, err := p.dialer.DialContext(ctx, network, proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxyAddr, err)
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if u := p.proxy.User; u != nil {
		pw, _ := u.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)) + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT: %w", proxyAddr, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT: %w", proxyAddr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT %s: %s", proxyAddr, target, resp.Status)
	}
	conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT %s: data before the tunnel opened", proxyAddr, target)
	}
	return conn, nil
}

// resolve returns the address to tunnel to for host: the literal, or the
// first address the name resolves to, every one of them checked unless
// private networks are allowed.
func (p *connectProxy) resolve(ctx context.Context, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !p.allowPrivate && forbidden(ip) {
			return netip.Addr{}, fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
		}
		return ip, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve %s: no addresses", host)
	}
	if !p.allowPrivate {
		for _, ip := range addrs {
			if forbidden(ip) {
				return netip.Addr{}, fmt.Errorf("%w: %s resolves to %s", ErrForbiddenAddress, host, ip)
			}
		}
	}
	return addrs[0].Unmap(), nil
}

// clientTLSConfig is the TLS configuration of an endpoint's client
// certificate and roots.
func clientTLSConfig(t *store.ClientTLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CertPEM != "" {
		cert, err := tls.X509KeyPair([]byte(t.CertPEM), []byte(t.KeyPEM))
		if err != nil {
			return nil, errors.New("client certificate: the certificate and key do not make a pair")
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CAPEM)) {
			return nil, errors.New("client certificate: the CA bundle holds no certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// clients keeps one client per endpoint that has a client certificate,
// for as long as its certificate stays the same (a changed one gets a new
// client, and the old one's idle connections are closed); the operator
// endpoint, whose URL is configuration (SyncOperator), uses the trusted
// client, which neither the private-network guard nor the egress proxy
// applies to; every other endpoint uses the shared client.
type clients struct {
	cfg     ClientConfig
	shared  *http.Client
	trusted *http.Client

	mu  sync.RWMutex
	own map[string]ownClient // by endpoint id
}

type ownClient struct {
	tls    store.ClientTLS // the certificate, key and roots it was made with
	client *http.Client
}

func newClients(cfg ClientConfig) *clients {
	return &clients{
		cfg:     cfg,
		shared:  NewClient(cfg),
		trusted: NewClient(ClientConfig{AllowPrivateNetworks: true, Timeout: cfg.Timeout}),
		own:     make(map[string]ownClient),
	}
}

// get returns the client for ep. It runs on every attempt: the common
// cases (no certificate, or the same one as last time) take only the read
// lock and allocate nothing.
func (c *clients) get(ep *store.Endpoint) (*http.Client, error) {
	if ep.ID == store.OperatorEndpointID && ep.Tenant == store.OperatorTenant {
		return c.trusted, nil
	}
	c.mu.RLock()
	oc, ok := c.own[ep.ID]
	c.mu.RUnlock()
	if ep.ClientTLS == nil {
		if ok {
			// It had a certificate: let its pool go.
			c.mu.Lock()
			if oc, ok := c.own[ep.ID]; ok {
				oc.client.CloseIdleConnections()
				delete(c.own, ep.ID)
			}
			c.mu.Unlock()
		}
		return c.shared, nil
	}
	t := *ep.ClientTLS
	if ok && oc.tls == t {
		return oc.client, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if oc, ok := c.own[ep.ID]; ok {
		if oc.tls == t {
			return oc.client, nil // another attempt made it meanwhile
		}
		oc.client.CloseIdleConnections()
	}
	tcfg, err := clientTLSConfig(&t)
	if err != nil {
		return nil, err
	}
	cfg := c.cfg
	cfg.TLS = tcfg
	cl := NewClient(cfg)
	c.own[ep.ID] = ownClient{tls: t, client: cl}
	return cl, nil
}
