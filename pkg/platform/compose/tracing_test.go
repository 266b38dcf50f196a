package compose_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/synth"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

// One assessment is one trace: the gateway's request span, and a span of
// every family's worker and of the synthesizer, joined through the W3C trace
// context the bus carries in each message's headers. In production each
// service is its own process and exports under its own service name; here
// they share a process, so a span's service is the consumer that ran it.
//
// Not parallel: it installs the process's global tracer provider.
func TestOneTraceFollowsAnAssessmentThroughEveryService(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	previous := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(previous)
		_ = tp.Shutdown(context.Background())
	})

	sys := startSystem(t, compose.AllRoles(), time.Minute)
	acc, err := sys.client.Submit(context.Background(), example(t, "startup-rag.yaml"), "application/yaml")
	require.NoError(t, err)
	_, completed := follow(t, sys.client, acc.ID)
	require.Equal(t, "completed", completed["status"])

	want := []string{"gateway", synth.DurableName}
	for _, f := range assessment.Families() {
		want = append(want, worker.DurableName(f))
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		spans := exporter.GetSpans()
		var root trace.TraceID
		for _, s := range spans {
			if s.Name == "POST /v1/assessments" {
				root = s.SpanContext.TraceID()
			}
		}
		if !assert.True(c, root.IsValid(), "no span of the request that created the assessment") {
			return
		}
		seen := map[string]int{}
		for _, s := range spans {
			if s.SpanContext.TraceID() != root {
				continue
			}
			if s.InstrumentationScope.Name == "gateway" {
				seen["gateway"]++
			}
			for _, a := range s.Attributes {
				if a.Key == attribute.Key("messaging.consumer.group.name") {
					seen[a.Value.AsString()]++
				}
			}
		}
		for _, w := range want {
			assert.Positive(c, seen[w], "the assessment's trace has no span of %s (spans by service: %v)", w, seen)
		}
	}, 10*time.Second, 100*time.Millisecond)
}
