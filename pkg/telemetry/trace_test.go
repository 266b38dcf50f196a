package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// SetupTracing installs process-wide globals, so the tests in this file do not run in parallel.

func TestSetupTracingWithoutEndpoint(t *testing.T) {
	ctx := context.Background()
	// A root ratio of 1 samples nothing without an endpoint to export to.
	tp, shutdown, err := telemetry.SetupTracing(ctx, "strategy", "", 1)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, shutdown(context.Background())) })
	tracer := tp.Tracer("test")

	spanCtx, span := tracer.Start(ctx, "analyse")
	sc := span.SpanContext()
	require.True(t, sc.IsValid(), "span must get real ids so logs correlate")
	require.False(t, sc.IsSampled(), "a trace started here is not sampled when nothing exports it")
	require.True(t, sc.TraceID().IsValid())
	require.True(t, sc.SpanID().IsValid())

	// A child shares the trace, which is what makes a request's log lines findable together.
	_, child := telemetry.ChildTracer(spanCtx, "test").Start(spanCtx, "calculate")
	require.Equal(t, sc.TraceID(), child.SpanContext().TraceID())
	require.NotEqual(t, sc.SpanID(), child.SpanContext().SpanID())
	child.End()
	span.End()

	// The W3C propagator is installed: the trace id crosses a header carrier and back.
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(spanCtx, carrier)
	require.Contains(t, carrier, "traceparent")
	extracted := telemetry.Propagator().Extract(context.Background(), carrier)
	_, remote := tracer.Start(extracted, "remote")
	require.Equal(t, sc.TraceID(), remote.SpanContext().TraceID())
	remote.End()
}

func TestSetupTracingRejectsBadInput(t *testing.T) {
	tests := []struct {
		name     string
		service  string
		endpoint string
		ratio    float64
	}{
		{name: "empty service", service: "", endpoint: ""},
		{name: "no scheme", service: "cloud", endpoint: "otel-collector:4318"},
		{name: "grpc scheme", service: "cloud", endpoint: "grpc://otel-collector:4317"},
		{name: "missing host", service: "cloud", endpoint: "http://"},
		{name: "negative root ratio", service: "cloud", ratio: -0.1},
		{name: "root ratio above one", service: "cloud", ratio: 1.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp, shutdown, err := telemetry.SetupTracing(context.Background(), tc.service, tc.endpoint, tc.ratio)
			require.Error(t, err)
			require.Nil(t, tp)
			require.Nil(t, shutdown)
		})
	}
}

// fakeOTLPCollector is a fake of an OpenTelemetry collector's OTLP/HTTP traces receiver: it decodes each
// export request and records span names per service.
type fakeOTLPCollector struct {
	mu      sync.Mutex
	exports int
	spans   map[string][]string // service.name -> span names
	paths   []string
}

func (c *fakeOTLPCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.paths = append(c.paths, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.exports++
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans[service] = append(c.spans[service], s.GetName())
			}
		}
	}
	c.mu.Unlock()
	resp, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// sampledParent is ctx with a remote parent span whose trace context says
// sampled, as a traced client's (or the benchmark's) traceparent does.
func sampledParent(ctx context.Context, sampled bool) context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, Remote: true,
	})
	if sampled {
		sc = sc.WithTraceFlags(trace.FlagsSampled)
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// TestSetupTracingExportsOnlyWhatIsSampled: under load a service makes
// spans for every message; only the traces a caller asked to sample (and,
// when configured, a share of those it starts itself) may cost an export.
func TestSetupTracingExportsOnlyWhatIsSampled(t *testing.T) {
	tests := []struct {
		name    string
		ratio   float64
		exports []string
	}{
		{name: "roots not sampled at ratio 0", ratio: 0, exports: []string{"followed", "followed step"}},
		{name: "every root sampled at ratio 1, the default", ratio: 1, exports: []string{"followed", "followed step", "root"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			collector := &fakeOTLPCollector{spans: map[string][]string{}}
			srv := httptest.NewServer(collector)
			t.Cleanup(srv.Close)

			ctx := context.Background()
			// The base URL form operators configure; the exporter must add /v1/traces itself.
			tp, shutdown, err := telemetry.SetupTracing(ctx, "simulation", srv.URL, tc.ratio)
			require.NoError(t, err)
			tracer := tp.Tracer("test")

			_, root := tracer.Start(ctx, "root")
			require.True(t, root.SpanContext().IsValid())
			root.End()
			fctx, followed := tracer.Start(sampledParent(ctx, true), "followed")
			_, step := telemetry.ChildTracer(fctx, "test").Start(fctx, "followed step")
			step.End()
			followed.End()
			_, declined := tracer.Start(sampledParent(ctx, false), "declined")
			declined.End()

			// The batch processor holds the spans until its delay elapses; shutdown must flush them.
			shutdownCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, shutdown(shutdownCtx))

			collector.mu.Lock()
			defer collector.mu.Unlock()
			require.GreaterOrEqual(t, collector.exports, 1, "requests seen: %v", collector.paths)
			require.ElementsMatch(t, tc.exports, collector.spans["simulation"])
		})
	}
}
