package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ListenAddr resolves a --metrics-listen value: a bare port ("9464" or
// ":9464") means loopback, since the figures name queues and workflow
// types; an address other hosts reach is refused unless insecure (as the
// NATS listener's --insecure: the endpoint has no authentication).
func ListenAddr(addr string, insecure bool) (string, error) {
	a := strings.TrimSpace(addr)
	if !strings.Contains(a, ":") {
		a = ":" + a
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || port == "" {
		return "", fmt.Errorf("--metrics-listen %q: want [host:]port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if !insecure && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("--metrics-listen %s: other hosts could read the engine's metrics (no authentication, no TLS); listen on loopback behind a proxy or pass --insecure", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// Registry returns a registry holding cs and the Go runtime and process
// collectors (memory, GC, CPU, open files of the engine).
func Registry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return reg, nil
}

// Serve serves reg on addr at /metrics until stop is called; it returns
// once the listener is open (a taken port fails the start, not later).
func Serve(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics listener stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, ln.Addr().String(), nil
}
