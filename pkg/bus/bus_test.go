package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func TestStreamConfigsApplyDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      bus.Config
		maxAge   time.Duration
		dlMaxAge time.Duration
		dupes    time.Duration
		replicas int
	}{
		{name: "zero config", maxAge: 7 * 24 * time.Hour, dlMaxAge: 30 * 24 * time.Hour, dupes: 2 * time.Minute, replicas: 1},
		{
			name:   "explicit",
			cfg:    bus.Config{MaxAge: time.Hour, DeadLetterMaxAge: 2 * time.Hour, DuplicateWindow: time.Minute, Replicas: 3},
			maxAge: time.Hour, dlMaxAge: 2 * time.Hour, dupes: time.Minute, replicas: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]jetstream.StreamConfig{}
			for _, sc := range bus.StreamConfigs(tc.cfg) {
				got[sc.Name] = sc
				require.Equal(t, jetstream.FileStorage, sc.Storage)
				require.Equal(t, jetstream.LimitsPolicy, sc.Retention)
				require.Equal(t, tc.dupes, sc.Duplicates)
				require.Equal(t, tc.replicas, sc.Replicas)
			}
			require.Equal(t, []string{"im.assessment.requested.>"}, got[bus.StreamAssessments].Subjects)
			require.Equal(t, []string{"im.agent.result.>"}, got[bus.StreamResults].Subjects)
			require.Equal(t, []string{"im.assessment.status.>", "im.assessment.completed.>", "im.assessment.narrative.>"}, got[bus.StreamEvents].Subjects)
			require.Equal(t, []string{"im.deadletter.>"}, got[bus.StreamDeadLetter].Subjects)
			require.Equal(t, tc.maxAge, got[bus.StreamEvents].MaxAge)
			require.Equal(t, tc.dlMaxAge, got[bus.StreamDeadLetter].MaxAge)
		})
	}
}

func TestConnectDeclaresStreamsIdempotently(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	// A second service starting against the same server, with another
	// retention, updates the declarations instead of failing.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b2, err := bus.Connect(ctx, bus.Config{URL: b.NC.ConnectedUrl(), MaxAge: time.Hour, Logger: quietLogger()})
	require.NoError(t, err)
	defer func() { require.NoError(t, b2.Close()) }()
	for _, name := range []string{bus.StreamAssessments, bus.StreamResults, bus.StreamEvents, bus.StreamDeadLetter} {
		s, err := b.JS.Stream(ctx, name)
		require.NoError(t, err, name)
		if name != bus.StreamDeadLetter {
			require.Equal(t, time.Hour, s.CachedInfo().Config.MaxAge, name)
		}
	}
}

func TestConnectRejectsMissingURL(t *testing.T) {
	t.Parallel()
	_, err := bus.Connect(context.Background(), bus.Config{})
	require.Error(t, err)
}

func TestPingAndClose(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Ping(ctx))
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close is safe to call twice")
	require.Error(t, b.Ping(ctx))
}

func TestPublishValidatesMessage(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	valid := statusMessage("t1", "a1", "id-1", 1)
	tests := []struct {
		name   string
		mutate func(m *bus.Message)
	}{
		{name: "missing id", mutate: func(m *bus.Message) { m.ID = "" }},
		{name: "missing type", mutate: func(m *bus.Message) { m.Type = "" }},
		{name: "missing source", mutate: func(m *bus.Message) { m.Source = "" }},
		{name: "missing subject", mutate: func(m *bus.Message) { m.Subject = "" }},
		{name: "data neither proto nor bytes", mutate: func(m *bus.Message) { m.Data = map[string]int{"a": 1} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := valid
			tc.mutate(&m)
			require.Error(t, b.Publish(context.Background(), m))
		})
	}
	require.Zero(t, subjectCount(t, b, bus.StreamEvents, valid.Subject))
}

func TestPublishConsumeRoundtripCarriesCloudEventsAndTrace(t *testing.T) {
	t.Parallel()
	b := startBus(t)

	traceID, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	require.NoError(t, err)
	spanID, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	require.NoError(t, err)
	ts, err := trace.ParseTraceState("im=1")
	require.NoError(t, err)
	pubCtx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, TraceState: ts,
	}))

	m := statusMessage("acme", "a-42", "status-a-42-1", 3)
	m.Time = time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)
	require.NoError(t, b.Publish(pubCtx, m))

	type got struct {
		ev  *bus.Event
		ctx context.Context
	}
	gotc := make(chan got, 1)
	stop := runConsume(t, b, "roundtrip", statuses(), ok(func(ctx context.Context, e *bus.Event) error {
		gotc <- got{ev: e, ctx: ctx}
		return nil
	}), fast()...)
	var g got
	select {
	case g = <-gotc:
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered")
	}
	e := g.ev
	require.Equal(t, m.ID, e.ID)
	require.Equal(t, bus.TypeStatusChanged, e.Type)
	require.Equal(t, "/services/test", e.Source)
	require.Equal(t, bus.SubjectStatus("acme", "a-42"), e.Subject)
	require.Equal(t, "acme", e.Tenant)
	require.Equal(t, "a-42", e.CESubject)
	require.True(t, m.Time.Equal(e.Time), "ce-time %v", e.Time)
	require.Equal(t, uint64(1), e.Deliveries)
	require.Equal(t, uint64(1), e.StreamSeq)
	require.Equal(t, "1.0", e.Headers.Get("ce-specversion"))
	require.Equal(t, "2025-03-01T12:30:45.123456789Z", e.Headers.Get("ce-time"))
	require.Equal(t, "application/json", e.Headers.Get("content-type"))
	require.Equal(t, m.ID, e.Headers.Get(jetstream.MsgIDHeader))
	require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", e.Headers.Get("traceparent"))
	require.Equal(t, "im=1", e.Headers.Get("tracestate"))

	// The data is JSON with the schema's snake_case names, readable without Go.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(e.Data, &raw))
	require.EqualValues(t, 3, raw["completed_families"])

	var decoded inframindv1.AssessmentStatusChanged
	require.NoError(t, e.Decode(&decoded))
	require.True(t, proto.Equal(m.Data.(proto.Message), &decoded))

	sc := trace.SpanContextFromContext(g.ctx)
	require.Equal(t, traceID, sc.TraceID())
	require.Equal(t, spanID, sc.SpanID())
	require.True(t, sc.IsRemote())

	require.Eventually(t, func() bool {
		info := consumerInfo(t, b, bus.StreamEvents, "roundtrip")
		return info.NumAckPending == 0 && info.AckFloor.Stream == 1
	}, 5*time.Second, 50*time.Millisecond, "message acked")
	require.NoError(t, stop())
}

func TestPublishDeduplicatesByID(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	m := statusMessage("acme", "a-1", "same-id", 1)
	require.NoError(t, b.Publish(ctx, m))
	// A retried publish, even with other data, is absorbed by the dedup window.
	m.Data = []byte(`{"status":"running"}`)
	require.NoError(t, b.Publish(ctx, m))
	require.Equal(t, uint64(1), subjectCount(t, b, bus.StreamEvents, m.Subject))
	require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-1", "other-id", 2)))
	require.Equal(t, uint64(2), subjectCount(t, b, bus.StreamEvents, m.Subject))
}

func TestTransientFailuresAreRetriedThenAckedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(n int) error // handler outcome for attempt n (1-based)
	}{
		{name: "error", fail: func(int) error { return errors.New("store unavailable") }},
		{name: "panic", fail: func(int) error { panic("nil map") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBus(t)
			require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "retry-1", 1)))

			var mu sync.Mutex
			var deliveries []uint64
			var successes atomic.Int32
			stop := runConsume(t, b, "retry", statuses(), ok(func(_ context.Context, e *bus.Event) error {
				mu.Lock()
				deliveries = append(deliveries, e.Deliveries)
				n := len(deliveries)
				mu.Unlock()
				if n < 3 {
					return tc.fail(n)
				}
				successes.Add(1)
				return nil
			}), fast()...)
			require.Eventually(t, func() bool { return successes.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
			// Longer than AckWait: an unacked message would be back by now.
			time.Sleep(1200 * time.Millisecond)
			require.NoError(t, stop())
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []uint64{1, 2, 3}, deliveries)
			require.Equal(t, int32(1), successes.Load())
			info := consumerInfo(t, b, bus.StreamEvents, "retry")
			require.Zero(t, info.NumAckPending)
			require.Equal(t, uint64(1), info.AckFloor.Stream)
			require.Zero(t, subjectCount(t, b, bus.StreamDeadLetter, bus.SubjectDeadLetter(bus.StreamEvents, "retry")))
		})
	}
}

func TestPermanentFailuresAreDeadLettered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    any
		handler func(context.Context, *bus.Event) error
		reason  string
	}{
		{
			name:    "permanent error",
			data:    &inframindv1.AssessmentStatusChanged{Status: "running"},
			handler: func(context.Context, *bus.Event) error { return bus.Permanent(errors.New("unknown tenant")) },
			reason:  "unknown tenant",
		},
		{
			name: "undecodable payload via Decode",
			data: []byte(`{"status": "running", "no_such_field": 1}`),
			handler: func(_ context.Context, e *bus.Event) error {
				var m inframindv1.AssessmentStatusChanged
				if err := e.Decode(&m); err != nil {
					return err
				}
				return nil
			},
			reason: "undecodable payload",
		},
		{
			name: "undecodable reported by the handler",
			data: []byte(`not json`),
			handler: func(_ context.Context, e *bus.Event) error {
				var v struct{ Status string }
				if err := json.Unmarshal(e.Data, &v); err != nil {
					return bus.Undecodable(err)
				}
				return nil
			},
			reason: "undecodable payload",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBus(t)
			m := statusMessage("acme", "a-9", "bad-1", 0)
			m.Data = tc.data
			require.NoError(t, b.Publish(context.Background(), m))

			var calls atomic.Int32
			stop := runConsume(t, b, "dl", statuses(), ok(func(ctx context.Context, e *bus.Event) error {
				calls.Add(1)
				return tc.handler(ctx, e)
			}), fast()...)
			dlSubject := bus.SubjectDeadLetter(bus.StreamEvents, "dl")
			require.Eventually(t, func() bool { return subjectCount(t, b, bus.StreamDeadLetter, dlSubject) == 1 },
				10*time.Second, 20*time.Millisecond)
			time.Sleep(1200 * time.Millisecond) // past AckWait: a terminated message stays away
			require.NoError(t, stop())
			require.Equal(t, int32(1), calls.Load(), "not redelivered")

			dl, raw := lastDeadLetter(t, b, bus.StreamEvents, "dl")
			require.Contains(t, dl.Reason, tc.reason)
			require.Equal(t, bus.StreamEvents, dl.Stream)
			require.Equal(t, "dl", dl.Consumer)
			require.Equal(t, m.Subject, dl.Subject)
			require.Equal(t, uint64(1), dl.StreamSequence)
			require.Equal(t, uint64(1), dl.Deliveries)
			require.Equal(t, "bad-1", dl.Headers["ce-id"])
			require.NotNil(t, dl.Time)
			want, err := bus.EncodeData(tc.data)
			require.NoError(t, err)
			require.Equal(t, want, dl.Data)
			require.Equal(t, bus.TypeDeadLetter, raw.Header.Get("ce-type"))
			require.Equal(t, "acme", raw.Header.Get("ce-tenant"))
			require.Equal(t, bus.DeadLetterID(bus.StreamEvents, "dl", 1), raw.Header.Get(jetstream.MsgIDHeader))
			require.Zero(t, consumerInfo(t, b, bus.StreamEvents, "dl").NumAckPending)
		})
	}
}

func TestMaxDeliverExhaustedIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "flaky-1", 1)))
	var mu sync.Mutex
	var deliveries []uint64
	stop := runConsume(t, b, "exhaust", statuses(), ok(func(_ context.Context, e *bus.Event) error {
		mu.Lock()
		deliveries = append(deliveries, e.Deliveries)
		mu.Unlock()
		return errors.New("model endpoint timed out")
	}), fast(bus.MaxDeliver(3))...)
	dlSubject := bus.SubjectDeadLetter(bus.StreamEvents, "exhaust")
	require.Eventually(t, func() bool { return subjectCount(t, b, bus.StreamDeadLetter, dlSubject) == 1 },
		10*time.Second, 20*time.Millisecond)
	time.Sleep(1200 * time.Millisecond)
	require.NoError(t, stop())
	mu.Lock()
	require.Equal(t, []uint64{1, 2, 3}, deliveries)
	mu.Unlock()
	dl, _ := lastDeadLetter(t, b, bus.StreamEvents, "exhaust")
	require.Equal(t, "max deliveries (3) exceeded: model endpoint timed out", dl.Reason)
	require.Equal(t, uint64(3), dl.Deliveries)
}

func TestCancelDrainsInFlightHandler(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "slow-1", 1)))

	started := make(chan struct{})
	release := make(chan struct{})
	handlerCtxErr := make(chan error, 1)
	stop := runConsume(t, b, "drain", statuses(), func(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
		close(started)
		<-release
		handlerCtxErr <- ctx.Err()
		// The handler's output is still published while the consumer drains.
		return []bus.Message{statusMessage("acme", "a-1", "output-of-slow-1", 2)}, nil
	}, fast(bus.DrainTimeout(10*time.Second))...)
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case <-stopped:
		t.Fatal("Consume returned before its in-flight handler finished")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-stopped)
	require.NoError(t, <-handlerCtxErr, "the handler's context outlives the cancelled Consume context")
	info := consumerInfo(t, b, bus.StreamEvents, "drain")
	require.Zero(t, info.NumAckPending)
	require.Equal(t, uint64(1), info.AckFloor.Stream)
	require.Equal(t, uint64(2), subjectCount(t, b, bus.StreamEvents, bus.SubjectStatus("acme", "a-1")))
}

func TestDrainTimeoutLeavesMessageForRedelivery(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "stuck-1", 1)))

	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	stop := runConsume(t, b, "stuck", statuses(), ok(func(ctx context.Context, _ *bus.Event) error {
		close(started)
		<-release
		return nil
	}), fast(bus.DrainTimeout(time.Millisecond))...)
	<-started
	require.NoError(t, stop(), "returns although the handler is stuck")

	got := make(chan uint64, 1)
	stop2 := runConsume(t, b, "stuck", statuses(), ok(func(_ context.Context, e *bus.Event) error {
		got <- e.Deliveries
		return nil
	}), fast()...)
	select {
	case n := <-got:
		require.Equal(t, uint64(2), n)
	case <-time.After(10 * time.Second):
		t.Fatal("message not redelivered after AckWait")
	}
	require.NoError(t, stop2())
}

func TestConsumeRejectsInvalidSpec(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	h := ok(func(context.Context, *bus.Event) error { return nil })
	tests := []struct {
		name    string
		durable string
		sub     bus.Subscription
		h       bus.Handler
	}{
		{name: "missing stream", durable: "x", h: h},
		{name: "missing durable", sub: statuses(), h: h},
		{name: "dotted durable", durable: "a.b", sub: statuses(), h: h},
		{name: "nil handler", durable: "x", sub: statuses()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, b.Consume(context.Background(), tc.durable, tc.sub, tc.h))
		})
	}
}

func TestReplayFromResumesAfterSequenceAndTails(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	subject := bus.SubjectStatus("acme", "a-7")
	for i, id := range []string{"e1", "e2", "e3"} {
		require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-7", id, int32(i+1))))
		// Another assessment's event interleaved: replay must skip it.
		require.NoError(t, b.Publish(ctx, statusMessage("acme", "other", "x"+id, 1)))
	}
	// Sequences on EVENTS: e1=1, xe1=2, e2=3, xe2=4, e3=5, xe3=6.
	tests := []struct {
		name     string
		afterSeq uint64
		want     []string
	}{
		{name: "from the beginning", afterSeq: 0, want: []string{"e1", "e2", "e3"}},
		{name: "after the first event", afterSeq: 1, want: []string{"e2", "e3"}},
		{name: "after the last event", afterSeq: 5, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			// Each case tails its own live event after the stored ones.
			live := "live-" + tc.name
			seen := make(chan *bus.Event, 16)
			done := make(chan error, 1)
			go func() {
				done <- b.ReplayFrom(rctx, bus.StreamEvents, subject, tc.afterSeq, func(e *bus.Event) error {
					seen <- e
					return nil
				})
			}()
			var got []string
			var lastSeq uint64
			collect := func(n int) {
				for range n {
					select {
					case e := <-seen:
						require.Greater(t, e.StreamSeq, lastSeq, "in order")
						lastSeq = e.StreamSeq
						got = append(got, e.ID)
					case <-time.After(10 * time.Second):
						t.Fatalf("replay stalled after %v", got)
					}
				}
			}
			collect(len(tc.want))
			require.Equal(t, tc.want, got)
			require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-7", live, 9)))
			got = nil
			// Live events of other cases may arrive too; wait for ours.
			require.Eventually(t, func() bool {
				select {
				case e := <-seen:
					return e.ID == live
				default:
					return false
				}
			}, 10*time.Second, 10*time.Millisecond)
			cancel()
			require.NoError(t, <-done)
		})
	}
}

func TestReplayFromStopsOnHandlerError(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	for _, id := range []string{"e1", "e2"} {
		require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-1", id, 1)))
	}
	errStop := errors.New("client went away")
	var n int
	err := b.ReplayFrom(ctx, bus.StreamEvents, bus.SubjectStatus("acme", "a-1"), 0, func(*bus.Event) error {
		n++
		return errStop
	})
	require.ErrorIs(t, err, errStop)
	require.Equal(t, 1, n)
}

func TestUndecodableMatchesPermanent(t *testing.T) {
	t.Parallel()
	err := bus.Undecodable(errors.New("bad json"))
	require.ErrorIs(t, err, bus.ErrPermanent)
	require.ErrorIs(t, err, bus.ErrUndecodable)
	require.Contains(t, err.Error(), "bad json")
	require.ErrorIs(t, bus.Permanent(errors.New("x")), bus.ErrPermanent)
}

func TestEventForMatchesWhatAHandlerReceives(t *testing.T) {
	t.Parallel()
	m := statusMessage("acme", "a-1", "id-1", 2)
	e, err := bus.EventFor(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, "id-1", e.ID)
	require.Equal(t, "acme", e.Tenant)
	require.Equal(t, "1.0", e.Headers.Get("ce-specversion"))
	require.False(t, e.Time.IsZero())
	var got inframindv1.AssessmentStatusChanged
	require.NoError(t, e.Decode(&got))
	require.EqualValues(t, 2, got.CompletedFamilies)
	require.Error(t, e.InProgress())
	_, err = bus.EventFor(context.Background(), bus.Message{})
	require.Error(t, err)
}

func TestInProgressKeepsLongHandlerFromRedelivery(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "long-1", 1)))
	var calls atomic.Int32
	const ackWait = 500 * time.Millisecond
	stop := runConsume(t, b, "long", statuses(), ok(func(_ context.Context, e *bus.Event) error {
		calls.Add(1)
		// Three times AckWait in all, heartbeating at less than half of it.
		for range 8 {
			time.Sleep(ackWait * 3 / 8)
			if err := e.InProgress(); err != nil {
				return err
			}
		}
		return nil
	}), fast(bus.AckWait(ackWait), bus.Concurrency(2), bus.DrainTimeout(5*time.Second))...) // a free slot would take a redelivery at once
	require.Eventually(t, func() bool {
		info := consumerInfo(t, b, bus.StreamEvents, "long")
		return info.AckFloor.Stream == 1 && info.NumAckPending == 0
	}, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, stop())
	require.Equal(t, int32(1), calls.Load())
}

func TestConsumerSpanContinuesTheProducersTrace(t *testing.T) {
	t.Parallel()
	b, rec := startTracedBus(t)

	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	parent := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	pubCtx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: parent, TraceFlags: trace.FlagsSampled,
	}))
	require.NoError(t, b.Publish(pubCtx, bus.Message{
		ID: "span-1", Type: bus.TypeStatusChanged, Source: "/test", Subject: bus.SubjectStatus("acme", "a1"), Tenant: "acme", Data: []byte(`{}`),
	}))
	handled := make(chan trace.SpanContext, 1)
	stop := runConsume(t, b, "spans", bus.AssessmentEvents(),
		ok(func(ctx context.Context, _ *bus.Event) error {
			handled <- trace.SpanContextFromContext(ctx)
			return errors.New("fail once to record an error")
		}), bus.DrainTimeout(time.Second))
	sc := <-handled
	require.Equal(t, traceID, sc.TraceID(), "same trace as the producer")
	require.NotEqual(t, parent, sc.SpanID(), "the handler runs in its own span")
	require.NoError(t, stop())

	var found bool
	for _, s := range rec.Ended() {
		if s.Name() != "process EVENTS/spans" {
			continue
		}
		found = true
		require.Equal(t, trace.SpanKindConsumer, s.SpanKind())
		require.Equal(t, parent, s.Parent().SpanID())
		require.Equal(t, codes.Error, s.Status().Code)
	}
	require.True(t, found, "consumer span recorded")
}

// A consumer's span says where one delivery's time went: when the stream
// stored the message (before the span started), when the handler returned
// and when its outputs were stored, in that order.
func TestConsumerSpanMarksStoredHandledAndPublished(t *testing.T) {
	t.Parallel()
	b, rec := startTracedBus(t)

	require.NoError(t, b.Publish(context.Background(), bus.Message{
		ID: "steps-1", Type: bus.TypeStatusChanged, Source: "/test", Subject: bus.SubjectStatus("acme", "a1"), Tenant: "acme", Data: []byte(`{}`),
	}))
	handled := make(chan struct{}, 1)
	stop := runConsume(t, b, "steps", bus.AssessmentEvents(),
		func(context.Context, *bus.Event) ([]bus.Message, error) {
			time.Sleep(20 * time.Millisecond)
			handled <- struct{}{}
			return []bus.Message{{ID: "steps-out", Type: bus.TypeStatusChanged, Source: "/test",
				Subject: bus.SubjectStatus("acme", "a2"), Tenant: "acme", Data: []byte(`{}`)}}, nil
		}, bus.DrainTimeout(time.Second))
	<-handled
	require.Eventually(t, func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == "process EVENTS/steps" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())

	for _, s := range rec.Ended() {
		if s.Name() != "process EVENTS/steps" {
			continue
		}
		at := map[string]time.Time{}
		for _, e := range s.Events() {
			at[e.Name] = e.Time
		}
		require.Contains(t, at, bus.SpanEventStored)
		require.Contains(t, at, bus.SpanEventHandled)
		require.Contains(t, at, bus.SpanEventPublished)
		require.False(t, at[bus.SpanEventStored].After(s.StartTime()), "stored before the handler's span started")
		require.GreaterOrEqual(t, at[bus.SpanEventHandled].Sub(s.StartTime()), 20*time.Millisecond, "the handler's time")
		require.False(t, at[bus.SpanEventPublished].Before(at[bus.SpanEventHandled]))
		require.False(t, s.EndTime().Before(at[bus.SpanEventPublished]))
		return
	}
	t.Fatal("no consumer span recorded")
}

// A message whose every allowed delivery ends without an outcome (the handler
// hangs past AckWait, as a crashed process would) is dead-lettered on the
// server's one extra delivery, without running the handler again.
func TestDeliveriesThatNeverFinishAreDeadLettered(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	m := statusMessage("acme", "hang", "hang-1", 1)
	require.NoError(t, b.Publish(context.Background(), m))

	var calls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stop := runConsume(t, b, "hangs", bus.AssessmentEvents(), ok(func(ctx context.Context, _ *bus.Event) error {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}), bus.AckWait(300*time.Millisecond), bus.MaxDeliver(2), bus.BackOff(300*time.Millisecond),
		bus.Concurrency(4), bus.DrainTimeout(time.Millisecond))
	require.Eventually(t, func() bool {
		return subjectCount(t, b, bus.StreamDeadLetter, bus.SubjectDeadLetter(bus.StreamEvents, "hangs")) == 1
	}, 10*time.Second, 50*time.Millisecond, "dead-lettered after the allowed deliveries")
	dl, _ := lastDeadLetter(t, b, bus.StreamEvents, "hangs")
	require.Contains(t, dl.GetReason(), "no delivery finished")
	require.EqualValues(t, 3, dl.GetDeliveries())
	require.EqualValues(t, 2, calls.Load(), "the extra delivery does not run the handler")
	require.NoError(t, stop())
}

// TestFinishedReplaysLeaveNoConsumers replays an assessment's events many
// times, as clients opening and closing event streams do: the stream's
// consumers come back to what they were, so a busy gateway does not run
// into the server's limit of consumers per stream.
func TestFinishedReplaysLeaveNoConsumers(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	subject := bus.SubjectStatus("acme", "a-1")
	require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-1", "e1", 1)))
	st, err := b.JS.Stream(ctx, bus.StreamEvents)
	require.NoError(t, err)
	count := func() int {
		info, err := st.Info(ctx)
		require.NoError(t, err)
		return info.State.Consumers
	}
	before := count()
	for range 20 {
		rctx, cancel := context.WithCancel(ctx)
		err := b.ReplayFrom(rctx, bus.StreamEvents, subject, 0, func(*bus.Event) error {
			cancel() // the client went away after the first event
			return nil
		})
		require.NoError(t, err)
	}
	errStop := errors.New("client went away")
	for range 5 {
		err := b.ReplayFrom(ctx, bus.StreamEvents, subject, 0, func(*bus.Event) error { return errStop })
		require.ErrorIs(t, err, errStop)
	}
	require.Equal(t, before, count(), "every finished replay's consumer is deleted")
}

// A stored message reads back by its stream sequence with its attributes
// and data; a sequence the stream does not hold is ErrNotStored.
func TestStoredReadsAMessageBySequence(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	m := statusMessage("acme", "a-1", "stored-1", 3)
	require.NoError(t, b.Publish(ctx, m))
	seq, found, err := b.LastSeq(ctx, bus.StreamEvents, m.Subject)
	require.NoError(t, err)
	require.True(t, found)

	e, err := b.Stored(ctx, bus.StreamEvents, seq)
	require.NoError(t, err)
	require.Equal(t, "stored-1", e.ID)
	require.Equal(t, "acme", e.Tenant)
	require.Equal(t, "a-1", e.CESubject)
	require.Equal(t, m.Subject, e.Subject)
	require.Equal(t, seq, e.StreamSeq)
	require.False(t, e.Time.IsZero())
	var got inframindv1.AssessmentStatusChanged
	require.NoError(t, e.Decode(&got))
	require.EqualValues(t, 3, got.GetCompletedFamilies())

	_, err = b.Stored(ctx, bus.StreamEvents, seq+1000)
	require.ErrorIs(t, err, bus.ErrNotStored)
}
