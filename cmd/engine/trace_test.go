package main_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

// otlpSpan is a span as an OTLP receiver got it from another process.
type otlpSpan struct {
	name, traceID, spanID, parentID, service string
	attrs                                    map[string]string
}

// otlpReceiver is an OTLP/HTTP collector's traces endpoint, in the test.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []otlpSpan
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var msg coltracepb.ExportTraceServiceRequest
	if req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &msg) != nil {
		http.Error(w, "not an OTLP traces export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := otlpSpan{name: s.GetName(), traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					parentID: hex.EncodeToString(s.GetParentSpanId()), service: service, attrs: map[string]string{}}
				for _, kv := range s.GetAttributes() {
					sp.attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
				}
				r.spans = append(r.spans, sp)
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *otlpReceiver) snapshot() []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otlpSpan(nil), r.spans...)
}

// One run's trace crosses processes: the client here starts the run in a
// span (in-memory exporter); foreman-engine, configured by nothing but
// the standard OTEL_* variables, runs its workflow tasks and activities
// and exports their spans over OTLP/HTTP. The tree: the start, under it
// every workflow task of the run, under each workflow task the activities
// and the child workflow it started (the child's tasks, their
// activities); all in one trace.
func TestEngineTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()

	ctx, store, logs := runExamplesEngine(t, []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL,
		"OTEL_SERVICE_NAME=engine-under-test", "OTEL_BSP_SCHEDULE_DELAY=100"})
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	defer tp.Shutdown(context.Background())
	c := engine.NewClient(store, engine.ClientOptions{Identity: "ops", TracerProvider: tp})
	run, err := c.Start(ctx, engine.StartOptions{ID: "order-traced", TaskQueue: examples.OrderQueue}, examples.OrderFulfillment, examples.OrderInput{OrderID: "traced", Amount: 10})
	if err != nil {
		t.Fatal(err)
	}
	var tracking string
	if err := c.GetResult(ctx, "order-traced", "", &tracking); err != nil {
		t.Fatal(err)
	}
	starts := mem.GetSpans()
	if len(starts) != 1 || starts[0].Name != "StartWorkflow:OrderFulfillment" {
		t.Fatalf("client spans %v, want one StartWorkflow:OrderFulfillment", starts)
	}
	root := starts[0].SpanContext
	traceID, rootID := root.TraceID().String(), root.SpanID().String()

	// The worker's spans arrive in batches (100 ms): wait for the order's
	// workflow tasks and activities and its Shipment child's.
	var tasks, childTasks, acts []otlpSpan
	for {
		tasks, childTasks, acts = nil, nil, nil
		for _, s := range recv.snapshot() {
			switch {
			case s.name == "WorkflowTask:OrderFulfillment":
				tasks = append(tasks, s)
			case s.name == "WorkflowTask:Shipment":
				childTasks = append(childTasks, s)
			case strings.HasPrefix(s.name, "Activity:"):
				acts = append(acts, s)
			}
		}
		if len(tasks) >= 3 && len(childTasks) >= 2 && len(acts) >= 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("got %d order workflow task spans, %d shipment ones and %d activity spans, want 3, 2 and 3\n%s", len(tasks), len(childTasks), len(acts), logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The order's workflow tasks hang under the start; the Shipment
	// child's under the order's task that started it.
	orderTasks, allTasks := map[string]bool{}, map[string]bool{}
	for _, s := range tasks {
		if s.traceID != traceID || s.parentID != rootID {
			t.Errorf("%s: trace %s parent %s, want the start's (%s, %s)", s.name, s.traceID, s.parentID, traceID, rootID)
		}
		if s.attrs["foreman.run_id"] != run.RunID || s.attrs["foreman.workflow_id"] != "order-traced" {
			t.Errorf("workflow task span %s %v: want the run's id and run id", s.name, s.attrs)
		}
		if s.service != "engine-under-test" {
			t.Errorf("span of service %q, want OTEL_SERVICE_NAME's", s.service)
		}
		orderTasks[s.spanID], allTasks[s.spanID] = true, true
	}
	for _, s := range childTasks {
		if s.traceID != traceID || !orderTasks[s.parentID] || s.attrs["foreman.workflow_id"] != "order-traced/shipment" {
			t.Errorf("%s %v: trace %s parent %s, want an order workflow task of trace %s", s.name, s.attrs, s.traceID, s.parentID, traceID)
		}
		allTasks[s.spanID] = true
	}
	names := map[string]bool{}
	for _, s := range acts {
		if s.traceID != traceID || !allTasks[s.parentID] {
			t.Errorf("%s: trace %s parent %s, want a workflow task of trace %s", s.name, s.traceID, s.parentID, traceID)
		}
		names[s.name] = true
	}
	if !names["Activity:ReserveInventory"] || !names["Activity:ChargePayment"] || !names["Activity:Ship"] {
		t.Errorf("activity spans %v, want ReserveInventory, ChargePayment and Ship", names)
	}
}
