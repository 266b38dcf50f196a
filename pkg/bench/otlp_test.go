package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Spans a service in its own process exports over OTLP/HTTP reach the
// sink with their trace, parent, consumer and events, and only those of
// the traces the benchmark follows.
func TestOTLPReceiverKeepsFollowedTraces(t *testing.T) {
	t.Parallel()
	sink := newSpanSink()
	rcv, err := startOTLPReceiver(sink)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rcv.close(context.Background()) })

	exp, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpoint(rcv.addr), otlptracehttp.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	followed, other := newTraceID(), newTraceID()
	sink.follow(followed)
	stored := time.Now().Add(-time.Millisecond).Truncate(time.Microsecond)
	for _, id := range []trace.TraceID{followed, other} {
		ctx, parent := tp.Tracer("test").Start(withTrace(t.Context(), id), "POST /v1/assessments")
		_, span := tp.Tracer("test").Start(ctx, "process RESULTS/synthesizer",
			trace.WithAttributes(attribute.String(string(consumerAttr), "synthesizer")))
		span.AddEvent("stored", trace.WithTimestamp(stored))
		span.AddEvent("handled")
		span.End()
		parent.End()
	}
	spans := sink.trace(followed)
	require.Len(t, spans, 2)
	require.Empty(t, sink.trace(other), "a trace the benchmark does not follow is dropped")
	var post, proc recordedSpan
	for _, s := range spans {
		if s.Consumer == "" {
			post = s
		} else {
			proc = s
		}
	}
	require.Equal(t, "POST /v1/assessments", post.Name)
	require.Equal(t, "synthesizer", proc.Consumer)
	require.Equal(t, post.ID, proc.Parent)
	require.True(t, stored.Equal(proc.Events["stored"]), "stored at %s, got %s", stored, proc.Events["stored"])
	require.False(t, proc.Events["handled"].Before(proc.Start))
	require.False(t, proc.End.Before(proc.Start))
}
