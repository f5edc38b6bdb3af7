package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// defaultHealthcheckTimeout bounds one healthcheck, connection included. A
// container runtime runs the check every few seconds, and a check that
// hangs is as bad as one that fails.
const defaultHealthcheckTimeout = 5 * time.Second

// runHealthcheck asks a running serve for /healthz and exits 0 when it
// answers 200. It exists for container images that have no curl: the
// Containerfile's HEALTHCHECK runs "hookrelay healthcheck".
func runHealthcheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("healthcheck", e.stderr)
	rawURL := fs.String("url", "", "URL of serve's /healthz (default: http://127.0.0.1:PORT/healthz, PORT taken from HOOKRELAY_ADDR, else 8080)")
	timeout := fs.Duration("timeout", defaultHealthcheckTimeout, "time limit of the whole check")
	ef := envFlags{fs: fs}
	ef.bind("url", "HOOKRELAY_HEALTHCHECK_URL")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: hookrelay healthcheck [--url http://127.0.0.1:8080/healthz]

Exits 0 when serve's /healthz answers 200 within --timeout, 1 otherwise
(for a container's HEALTHCHECK, where there is no curl).`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := ef.apply(e.getenv); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	target := *rawURL
	if target == "" {
		var err error
		if target, err = healthzURL(e.getenv("HOOKRELAY_ADDR")); err != nil {
			return usagef("HOOKRELAY_ADDR: %v", err)
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--url %q: want an http or https URL", target)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", target, err)
	}
	// A fresh transport: no proxy from the environment (the check is about
	// this machine) and no connection kept for a next time that never comes.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: status %d: %s", target, resp.StatusCode, body)
	}
	if _, err := e.stdout.Write(body); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// healthzURL turns serve's listen address into the URL of its /healthz as
// seen from the same machine: an address on all interfaces (":8080",
// "0.0.0.0:8080", "[::]:8080") becomes 127.0.0.1. An empty address is
// serve's default, 127.0.0.1:8080.
func healthzURL(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/healthz"}).String(), nil
}
