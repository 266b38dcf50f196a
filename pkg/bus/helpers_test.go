package bus_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// quietLogger keeps expected warnings (naks, dead letters) out of test output.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// devstackMu serialises devstack.Start: embedded FerretDB's New writes a
// package variable (ferretdb v1.24.2 ferretdb.go:92), which the race detector
// reports when parallel tests start stacks at the same time.
var devstackMu sync.Mutex

// startBus runs an embedded stack for one test and connects a Bus to it.
func startBus(t testing.TB) *bus.Bus {
	t.Helper()
	return connectWith(t, startNATS(t), nil)
}

// startTracedBus is startBus with a tracer provider whose ended spans the
// returned recorder holds.
func startTracedBus(t testing.TB) (*bus.Bus, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	return connectWith(t, startNATS(t), sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))), rec
}

// startNATS runs an embedded stack for one test and returns its NATS URL.
func startNATS(t testing.TB) string {
	t.Helper()
	return startStack(t, devstack.Config{}).NATSURL
}

// startStack runs an embedded stack configured by cfg (its data folder and
// logger are the test's) for one test.
func startStack(t testing.TB, cfg devstack.Config) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg.DataDir, cfg.Logger = t.TempDir(), quietLogger()
	devstackMu.Lock()
	st, err := devstack.Start(ctx, cfg)
	devstackMu.Unlock()
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return st
}

func connect(t testing.TB, url string) *bus.Bus {
	t.Helper()
	return connectWith(t, url, nil)
}

// connectWith connects a Bus to url, tracing with tp (nil: the default).
func connectWith(t testing.TB, url string, tp trace.TracerProvider) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{URL: url, Name: t.Name(), Logger: quietLogger(), ReconnectWait: 100 * time.Millisecond, TracerProvider: tp})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// runConsume starts Consume in the background and returns a stop function
// that cancels it and returns its error.
func runConsume(t testing.TB, b *bus.Bus, durable string, sub bus.Subscription, h bus.Handler, opts ...bus.Option) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Consume(ctx, durable, sub, h, opts...) }()
	t.Cleanup(cancel)
	// Return once the durable exists, so callers may poll its state at once.
	require.Eventually(t, func() bool {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		_, err := b.JS.Consumer(cctx, sub.Stream, durable)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "consumer %s declared", durable)
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Consume did not return")
			return nil
		}
	}
}

// subjectCount is how many messages stream holds on subject.
func subjectCount(t testing.TB, b *bus.Bus, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.JS.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	return info.State.Subjects[subject]
}

// consumerInfo returns the server's view of a durable consumer.
func consumerInfo(t testing.TB, b *bus.Bus, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.JS.Consumer(ctx, stream, durable)
	require.NoError(t, err)
	info, err := c.Info(ctx)
	require.NoError(t, err)
	return info
}

// lastDeadLetter reads the newest dead letter of a consumer.
func lastDeadLetter(t testing.TB, b *bus.Bus, stream, durable string) (*inframindv1.DeadLetter, *jetstream.RawStreamMsg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.JS.Stream(ctx, bus.StreamDeadLetter)
	require.NoError(t, err)
	raw, err := s.GetLastMsgForSubject(ctx, bus.SubjectDeadLetter(stream, durable))
	require.NoError(t, err)
	dl := &inframindv1.DeadLetter{}
	require.NoError(t, protojson.Unmarshal(raw.Data, dl))
	return dl, raw
}

// statusMessage is a small valid event for tests.
func statusMessage(tenant, assessmentID, id string, completed int32) bus.Message {
	return bus.Message{
		ID:        id,
		Type:      bus.TypeStatusChanged,
		Source:    "/services/test",
		Subject:   bus.SubjectStatus(tenant, assessmentID),
		Tenant:    tenant,
		CESubject: assessmentID,
		Data: &inframindv1.AssessmentStatusChanged{
			Metadata:          &inframindv1.Metadata{EventId: id, TenantId: tenant, AssessmentId: assessmentID},
			Status:            "running",
			CompletedFamilies: completed,
			TotalFamilies:     6,
		},
	}
}

// statuses is a subscription to the status events of every tenant.
func statuses() bus.Subscription {
	return bus.Subscription{Stream: bus.StreamEvents, Subjects: []string{bus.SubjectStatus("*", ">")}}
}

// fast is a policy with short timers so retries happen quickly; extra
// options follow and override it.
func fast(extra ...bus.Option) []bus.Option {
	return append([]bus.Option{
		bus.AckWait(500 * time.Millisecond), bus.MaxDeliver(5), bus.BackOff(50 * time.Millisecond), bus.DrainTimeout(time.Second),
	}, extra...)
}

// ok wraps a handler that publishes nothing.
func ok(h func(ctx context.Context, e *bus.Event) error) bus.Handler {
	return func(ctx context.Context, e *bus.Event) ([]bus.Message, error) { return nil, h(ctx, e) }
}
