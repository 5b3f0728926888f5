package tracing

import (
	"context"
	"strings"
	"testing"
)

// fromEnvCases: off unless the environment asks; an endpoint alone asks
// for OTLP; an unknown exporter or the gRPC protocol is refused with what
// to do.
var fromEnvCases = []struct {
	name string
	env  map[string]string
	on   bool
	err  string
}{
	{"nothing set", nil, false, ""},
	{"none", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, false, ""},
	{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
	{"endpoint alone", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, true, ""},
	{"traces endpoint alone", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, true, ""},
	{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, ""},
	{"grpc", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "http/protobuf"},
	{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "want otlp, console or none"},
}

func TestFromEnv(t *testing.T) {
	for _, tc := range fromEnvCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
				t.Setenv(k, tc.env[k])
			}
			tp, shutdown, err := FromEnv(context.Background(), "svc")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(context.Background())
			if (tp != nil) != tc.on {
				t.Fatalf("provider %v, want on=%v", tp, tc.on)
			}
		})
	}
}
