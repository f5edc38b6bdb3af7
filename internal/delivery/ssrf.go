package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned (wrapped) by CheckURL, and by requests
// made with a client from NewHTTPClient, when a URL's host is or resolves to
// an address that hookrelay refuses to reach unless private networks are
// allowed: loopback, private, link-local (cloud metadata services live
// there), carrier-grade NAT, unspecified, multicast and reserved ranges, in
// IPv4, IPv6 and IPv4-in-IPv6 forms.
var ErrForbiddenAddress = errors.New("forbidden address")

// ErrBadURL is returned (wrapped) by CheckURL for a URL that is not an
// absolute http or https URL without user information.
var ErrBadURL = errors.New("bad endpoint URL")

// forbiddenPrefixes are the ranges a delivery may not reach. IPv4-mapped,
// IPv4-compatible, NAT64 and 6to4 addresses are checked by the IPv4 address
// they embed (see forbidden).
var forbiddenPrefixes = []netip.Prefix{
	// IPv4
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network", incl. unspecified
	netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, RFC 6598
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, incl. metadata 169.254.169.254
	netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments (incl. 192.0.0.192 Oracle metadata)
	netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, incl. broadcast
	// IPv6
	netip.MustParsePrefix("::/128"),    // unspecified
	netip.MustParsePrefix("::1/128"),   // loopback
	netip.MustParsePrefix("100::/64"),  // discard-only
	netip.MustParsePrefix("fc00::/7"),  // unique local, incl. fd00:ec2::254 (AWS metadata)
	netip.MustParsePrefix("fe80::/10"), // link-local
	netip.MustParsePrefix("fec0::/10"), // deprecated site-local
	netip.MustParsePrefix("ff00::/8"),  // multicast
}

var (
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")
	nat64LocalPfx   = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
	v4CompatPrefix  = netip.MustParsePrefix("::/96")
)

// forbidden reports whether ip is in a refused range, looking through the
// IPv6 forms that embed an IPv4 address.
func forbidden(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return true
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip):
			return forbidden(netip.AddrFrom4([4]byte(b[12:16])))
		case nat64LocalPfx.Contains(ip), v4CompatPrefix.Contains(ip):
			// Local-use NAT64 translates to whatever its operator chose;
			// IPv4-compatible addresses (incl. :: and ::1) are deprecated.
			return true
		case sixToFourPrefix.Contains(ip):
			return forbidden(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL reports whether rawURL may be an endpoint: an absolute http or
// https URL without user information whose host resolves, and, unless
// allowPrivate, every address it resolves to is outside the ranges of
// ErrForbiddenAddress. An IP literal is checked without DNS. It returns an
// error wrapping ErrBadURL or ErrForbiddenAddress, or the resolver's error.
//
// A check at creation time is not enough on its own (DNS can change, or
// answer differently the next time): clients from NewHTTPClient check the
// address actually connected to as well.
func CheckURL(ctx context.Context, rawURL string, allowPrivate bool) error {
	u, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !allowPrivate && forbidden(ip) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
		}
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("resolve %s: no addresses", host)
	}
	if !allowPrivate {
		for _, ip := range addrs {
			if forbidden(ip) {
				return fmt.Errorf("%w: %s resolves to %s", ErrForbiddenAddress, host, ip)
			}
		}
	}
	return nil
}

// parseURL checks the form of an endpoint URL: absolute http or https, a
// host, a valid port if any, no user information.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q is not http or https", ErrBadURL, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user information is not allowed", ErrBadURL)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrBadURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("%w: port %q", ErrBadURL, p)
		}
	}
	return u, nil
}

// checkDialAddress is the dialer's Control function: it refuses to connect
// to a forbidden address, whatever name led there.
func checkDialAddress(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialed address %q", ErrForbiddenAddress, address)
	}
	if forbidden(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// NewHTTPClient returns the client deliveries are made with. Unless
// allowPrivate, its dialer checks the address each connection is actually
// made to (after DNS, so DNS rebinding cannot reach a forbidden address) and
// fails with ErrForbiddenAddress. It follows no redirects (a 3xx response is
// returned as is, and counts as a failed attempt), ignores proxy settings in
// the environment, keeps connections alive with a large idle pool per host,
// and gives up on a request after timeout (0 means no limit). NewClient
// adds an egress proxy and TLS settings.
func NewHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	return NewClient(ClientConfig{AllowPrivateNetworks: allowPrivate, Timeout: timeout})
}
