// Package tracing builds an OpenTelemetry TracerProvider from the standard
// OTEL_* environment variables, for engine.WorkerOptions.TracerProvider and
// engine.ClientOptions.TracerProvider (foreman-engine uses it too).
//
// Tracing is off unless the environment asks for it, so that a process
// that never heard of OpenTelemetry exports nothing and pays nothing:
//
//	OTEL_TRACES_EXPORTER=otlp      OTLP over HTTP/protobuf (the only protocol built in)
//	OTEL_TRACES_EXPORTER=console   spans as JSON lines on standard error
//	OTEL_TRACES_EXPORTER=none      off (also OTEL_SDK_DISABLED=true)
//	unset                          on, as otlp, when OTEL_EXPORTER_OTLP_ENDPOINT or
//	                               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; off otherwise
//
// The OTLP exporter reads its own variables (OTEL_EXPORTER_OTLP_ENDPOINT,
// _HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE and their _TRACES_
// forms), the SDK its sampler (OTEL_TRACES_SAMPLER, _ARG) and batching
// (OTEL_BSP_*); the resource takes OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES.
package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Enabled tells whether the environment turns tracing on, and with which
// exporter ("otlp" or "console").
func Enabled() (exporter string, on bool) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return "", false
	}
	exp := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")))
	switch {
	case exp == "none":
		return "", false
	case exp != "":
		return exp, true
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		return "otlp", true
	}
	return "", false
}

// FromEnv returns a TracerProvider configured by the environment, and the
// function that flushes and stops it (call it before the process exits);
// a nil provider and a no-op shutdown when tracing is off. service is the
// service.name unless OTEL_SERVICE_NAME says otherwise.
func FromEnv(ctx context.Context, service string) (trace.TracerProvider, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	exp, on := Enabled()
	if !on {
		return nil, noop, nil
	}
	var (
		exporter sdktrace.SpanExporter
		err      error
	)
	switch exp {
	case "otlp":
		proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if proto == "" {
			proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if proto != "" && proto != "http/protobuf" {
			return nil, noop, fmt.Errorf("tracing: OTLP protocol %q is not built in: use http/protobuf (a collector's port 4318)", proto)
		}
		exporter, err = otlptracehttp.New(ctx)
	case "console":
		exporter, err = stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
	default:
		return nil, noop, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q: want otlp, console or none", exp)
	}
	if err != nil {
		return nil, noop, fmt.Errorf("tracing: creating the %s exporter: %w", exp, err)
	}
	// Later options win: the environment's service name over service.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID())
	if err != nil {
		return nil, noop, fmt.Errorf("tracing: describing the resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}
