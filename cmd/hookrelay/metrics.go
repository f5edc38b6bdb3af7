package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// metricsListener is the listener of --metrics-addr: /metrics alone, on
// an address of its own, so that the public listener need not expose what
// the metrics tell (source names, queue depths, the Go runtime) to anyone
// who asks. Its server has the main one's timeouts.
type metricsListener struct {
	ln  net.Listener
	srv *http.Server
}

// listenMetrics listens on addr for /metrics, served by h; addr "" returns
// nil, and the caller serves /metrics on the main listener as before.
func listenMetrics(addr string, h http.Handler, logger *slog.Logger) (*metricsListener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return &metricsListener{ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}, nil
}
