package bench

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// recordedSpan is one finished span of a traced assessment, as the
// services' OpenTelemetry spans report it.
type recordedSpan struct {
	Trace      trace.TraceID
	ID, Parent trace.SpanID
	Name       string
	Start, End time.Time
	// Consumer is the durable consumer that ran a message's span
	// (messaging.consumer.group.name); empty for other spans.
	Consumer string
	// Events holds the first time of each span event by name.
	Events map[string]time.Time
}

// spanSink keeps the spans of the traces the benchmark follows and drops
// every other.
type spanSink struct {
	mu    sync.Mutex
	want  map[trace.TraceID]bool
	spans map[trace.TraceID][]recordedSpan
}

func newSpanSink() *spanSink {
	return &spanSink{want: map[trace.TraceID]bool{}, spans: map[trace.TraceID][]recordedSpan{}}
}

// follow starts keeping the spans of id.
func (s *spanSink) follow(id trace.TraceID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want[id] = true
}

func (s *spanSink) add(sp recordedSpan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.want[sp.Trace] {
		s.spans[sp.Trace] = append(s.spans[sp.Trace], sp)
	}
}

// trace returns a copy of the spans of id recorded so far.
func (s *spanSink) trace(id trace.TraceID) []recordedSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedSpan(nil), s.spans[id]...)
}

// processor feeds the sink from a tracer provider in this process.
func (s *spanSink) processor() sdktrace.SpanProcessor { return sinkProcessor{s} }

type sinkProcessor struct{ s *spanSink }

func (sinkProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (sinkProcessor) Shutdown(context.Context) error                  { return nil }
func (sinkProcessor) ForceFlush(context.Context) error                { return nil }

func (p sinkProcessor) OnEnd(sp sdktrace.ReadOnlySpan) {
	rs := recordedSpan{
		Trace: sp.SpanContext().TraceID(), ID: sp.SpanContext().SpanID(), Parent: sp.Parent().SpanID(),
		Name: sp.Name(), Start: sp.StartTime(), End: sp.EndTime(), Events: map[string]time.Time{},
	}
	for _, a := range sp.Attributes() {
		if a.Key == consumerAttr {
			rs.Consumer = a.Value.AsString()
		}
	}
	for _, e := range sp.Events() {
		if _, ok := rs.Events[e.Name]; !ok {
			rs.Events[e.Name] = e.Time
		}
	}
	p.s.add(rs)
}

// consumerAttr names the durable consumer on a message's span (the bus's
// OpenTelemetry messaging attributes).
const consumerAttr = attribute.Key("messaging.consumer.group.name")

// tracedSystem is a System whose services' spans reach the benchmark.
type tracedSystem interface {
	spanSink() *spanSink
}

// newTraceID is a random trace id for one followed assessment.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	_, _ = rand.Read(id[:])
	return id
}

// withTrace returns ctx carrying a sampled remote span context of trace id,
// which traceHeaders sends to the gateway as a W3C traceparent: the
// gateway's request span, and every span after it, join that trace.
func withTrace(ctx context.Context, id trace.TraceID) context.Context {
	var span trace.SpanID
	_, _ = rand.Read(span[:])
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: id, SpanID: span, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
}

// traceHeaders adds the request context's trace (withTrace) to each request.
type traceHeaders struct{ next http.RoundTripper }

func (t traceHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	if trace.SpanContextFromContext(req.Context()).IsValid() {
		req = req.Clone(req.Context())
		propagation.TraceContext{}.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
	}
	return t.next.RoundTrip(req)
}
