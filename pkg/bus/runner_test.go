package bus_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func TestPolicyDefaultsAndOptions(t *testing.T) {
	t.Parallel()
	defaults := bus.Policy{
		AckWait: 30 * time.Second, MaxDeliver: 5, Concurrency: 1, DrainTimeout: 15 * time.Second,
		BackOff: []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second},
	}
	tests := []struct {
		name string
		opts []bus.Option
		want bus.Policy
	}{
		{name: "no options", want: defaults},
		{
			name: "zero values keep the defaults",
			opts: []bus.Option{bus.AckWait(0), bus.MaxDeliver(0), bus.BackOff(), bus.BackOff(0, -time.Second),
				bus.Concurrency(0), bus.DrainTimeout(0), bus.MaxAckPending(0), nil},
			want: defaults,
		},
		{
			name: "every option",
			opts: []bus.Option{bus.AckWait(time.Minute), bus.MaxDeliver(8), bus.BackOff(time.Second, 0, time.Hour),
				bus.Concurrency(4), bus.DrainTimeout(time.Second), bus.MaxAckPending(100)},
			want: bus.Policy{AckWait: time.Minute, MaxDeliver: 8, BackOff: []time.Duration{time.Second, time.Hour},
				Concurrency: 4, DrainTimeout: time.Second, MaxAckPending: 100},
		},
		{name: "unlimited deliveries", opts: []bus.Option{bus.MaxDeliver(-1)}, want: func() bus.Policy {
			p := defaults
			p.MaxDeliver = -1
			return p
		}()},
		{name: "a later option wins", opts: []bus.Option{bus.Concurrency(2), bus.Concurrency(3)}, want: func() bus.Policy {
			p := defaults
			p.Concurrency = 3
			return p
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, bus.NewPolicy(tc.opts...))
		})
	}
}

func TestPolicyConsumerConfigAndRetryDelay(t *testing.T) {
	t.Parallel()
	p := bus.NewPolicy(bus.AckWait(2*time.Second), bus.MaxDeliver(3), bus.BackOff(time.Second, 10*time.Second, time.Minute, time.Hour))
	cc := p.ConsumerConfig("family-cloud", bus.Requests())
	require.Equal(t, "family-cloud", cc.Durable)
	require.Equal(t, []string{"im.assessment.requested.>"}, cc.FilterSubjects)
	require.Equal(t, jetstream.AckExplicitPolicy, cc.AckPolicy)
	require.Equal(t, 2*time.Second, cc.AckWait)
	require.Equal(t, 4, cc.MaxDeliver, "one extra delivery lets the runner dead-letter a message no delivery finished")
	require.Equal(t, []time.Duration{2 * time.Second, 10 * time.Second, time.Minute}, cc.BackOff,
		"at most MaxDeliver entries, none below AckWait")
	require.Equal(t, time.Second, p.RetryDelay(1))
	require.Equal(t, 10*time.Second, p.RetryDelay(2))
	require.Equal(t, time.Hour, p.RetryDelay(9), "the last entry repeats")
}

// A consumer declared without options gets the bus's policy on the server,
// and its handler sees the policy's retry schedule.
func TestConsumeAppliesDefaultPolicy(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "defaults-1", 1)))
	seen := make(chan *bus.Event, 1)
	stop := runConsume(t, b, "defaults", statuses(), ok(func(_ context.Context, e *bus.Event) error {
		seen <- e
		return nil
	}))
	var e *bus.Event
	select {
	case e = <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
	require.Equal(t, time.Second, e.RetryDelay())
	require.False(t, e.LastDelivery())
	require.NoError(t, stop())

	info := consumerInfo(t, b, bus.StreamEvents, "defaults")
	require.Equal(t, bus.DefaultAckWait, info.Config.AckWait)
	require.Equal(t, bus.DefaultMaxDeliver+1, info.Config.MaxDeliver)
	require.Equal(t, []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}, info.Config.BackOff)
	require.Equal(t, jetstream.AckExplicitPolicy, info.Config.AckPolicy)
}

// A message whose tenants disagree is dead-lettered once, with the reason,
// and no handler ever sees it.
func TestTenantMismatchIsDeadLetteredWithoutCallingTheHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(m *bus.Message)
		reason string
	}{
		{
			name:   "header names another tenant than the subject",
			mutate: func(m *bus.Message) { m.Tenant = "globex" },
			reason: `ce-tenant "globex" does not match the subject "im.assessment.status.acme.a-1"`,
		},
		{
			name:   "no tenant header",
			mutate: func(m *bus.Message) { m.Tenant = "" },
			reason: "has no ce-tenant",
		},
		{
			name: "payload names another tenant",
			mutate: func(m *bus.Message) {
				m.Data = &inframindv1.AssessmentStatusChanged{Metadata: &inframindv1.Metadata{TenantId: "globex", AssessmentId: "a-1"}}
			},
			reason: `metadata.tenant_id "globex" does not match the event's tenant "acme"`,
		},
		{
			name:   "payload metadata without a tenant",
			mutate: func(m *bus.Message) { m.Data = []byte(`{"metadata":{"assessment_id":"a-1"}}`) },
			reason: `metadata.tenant_id "" does not match`,
		},
		{
			name:   "payload tenant under its JSON name",
			mutate: func(m *bus.Message) { m.Data = []byte(`{"metadata":{"tenantId":"globex"}}`) },
			reason: `metadata.tenant_id "globex" does not match`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBus(t)
			m := statusMessage("acme", "a-1", "mixed-1", 1)
			tc.mutate(&m)
			require.NoError(t, b.Publish(context.Background(), m))
			var calls atomic.Int32
			stop := runConsume(t, b, "tenants", statuses(), ok(func(context.Context, *bus.Event) error {
				calls.Add(1)
				return nil
			}), fast()...)
			dlSubject := bus.SubjectDeadLetter(bus.StreamEvents, "tenants")
			require.Eventually(t, func() bool { return subjectCount(t, b, bus.StreamDeadLetter, dlSubject) == 1 },
				10*time.Second, 20*time.Millisecond)
			time.Sleep(1200 * time.Millisecond) // past AckWait: a terminated message stays away
			require.NoError(t, stop())
			require.Zero(t, calls.Load(), "the handler never runs")
			require.Equal(t, uint64(1), subjectCount(t, b, bus.StreamDeadLetter, dlSubject), "dead-lettered once")
			dl, _ := lastDeadLetter(t, b, bus.StreamEvents, "tenants")
			require.Contains(t, dl.GetReason(), "tenant mismatch")
			require.Contains(t, dl.GetReason(), tc.reason)
			require.EqualValues(t, 1, dl.GetDeliveries())
			info := consumerInfo(t, b, bus.StreamEvents, "tenants")
			require.Zero(t, info.NumAckPending)
			require.Zero(t, info.NumPending)
		})
	}
}

func TestCheckTenantAcceptsAgreeingTenants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data any
	}{
		{name: "payload with metadata", data: statusMessage("acme", "a-1", "x", 1).Data},
		{name: "payload without metadata", data: []byte(`{"webhook_id":"w"}`)},
		{name: "payload that is not an object is left to the handler", data: []byte(`not json`)},
		{name: "no payload", data: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := statusMessage("acme", "a-1", "x", 1)
			m.Data = tc.data
			e, err := bus.EventFor(context.Background(), m)
			require.NoError(t, err)
			require.NoError(t, bus.CheckTenant(e))
		})
	}
}

// The payload's tenant is read from its top-level metadata wherever the
// member stands, and only that member is taken: a payload whose metadata
// comes last is checked as one whose metadata comes first, a metadata
// member nested inside another member is not the payload's, and one that
// names metadata or its tenant twice is refused.
func TestCheckTenantReadsTheTopLevelMetadataOnly(t *testing.T) {
	t.Parallel()
	big := `"findings":[` + strings.Repeat(`{"title":"x","detail":"y"},`, 2000) + `{}]`
	tests := []struct {
		name   string
		data   string
		reason string // empty: accepted
	}{
		{name: "metadata first", data: `{"metadata":{"tenant_id":"globex"},` + big + `}`, reason: `metadata.tenant_id "globex"`},
		{name: "metadata after a large member", data: `{` + big + `,"metadata":{"tenant_id":"globex"}}`, reason: `metadata.tenant_id "globex"`},
		{name: "metadata after a large member, agreeing", data: `{` + big + `,"metadata":{"tenant_id":"acme"}}`},
		{name: "metadata nested in another member only", data: `{"result":{"metadata":{"tenant_id":"globex"}}}`},
		{name: "metadata that is not an object", data: `{"metadata":"globex"}`},
		{name: "metadata first, then a payload that is not JSON", data: `{"metadata":{"tenant_id":"globex"},"x":nope}`, reason: `metadata.tenant_id "globex"`},
		// A reader that takes the last of two (a webhook subscriber's JSON
		// parser) would see another tenant than the first.
		{name: "metadata twice", data: `{"metadata":{"tenant_id":"acme"},` + big + `,"metadata":{"tenant_id":"globex"}}`, reason: "names metadata 2 times"},
		{name: "metadata twice, the first null", data: `{"metadata":null,"metadata":{"tenant_id":"globex"}}`, reason: "names metadata 2 times"},
		{name: "metadata under another spelling", data: `{"metadata":{"tenant_id":"acme"},"Metadata":{"tenant_id":"globex"}}`, reason: "names metadata 2 times"},
		{name: "only another spelling", data: `{"Metadata":{"tenant_id":"globex"}}`, reason: `metadata.tenant_id "globex"`},
		{name: "the tenant twice", data: `{"metadata":{"tenant_id":"acme","tenantId":"globex"}}`, reason: "names its tenant 2 times"},
		{name: "a tenant that is not a string", data: `{"metadata":{"tenant_id":7}}`, reason: `metadata.tenant_id "7"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := statusMessage("acme", "a-1", "x", 1)
			m.Data = []byte(tc.data)
			e, err := bus.EventFor(context.Background(), m)
			require.NoError(t, err)
			err = bus.CheckTenant(e)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, bus.ErrTenantMismatch)
			require.ErrorIs(t, err, bus.ErrPermanent)
			require.ErrorContains(t, err, tc.reason)
		})
	}
}

// The runner publishes what the handler returns and only then acks: a
// publish that fails leaves the message unacked, and it comes back.
func TestOutputsArePublishedBeforeTheAck(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "in-1", 1)))

	first := statusMessage("acme", "a-1", "out-1", 2)
	// No stream holds this subject, so publishing it fails.
	unroutable := statusMessage("acme", "a-1", "out-2", 3)
	unroutable.Subject = "im.nowhere.acme.a-1"
	second := statusMessage("acme", "a-1", "out-2", 3)

	var mu sync.Mutex
	var deliveries []uint64
	var acked []uint64 // the consumer's ack floor each time the handler starts
	stop := runConsume(t, b, "outputs", bus.Subscription{Stream: bus.StreamEvents, Subjects: []string{"im.assessment.status.*.a-1"}},
		func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
			if e.ID != "in-1" {
				return nil, nil // the outputs land on the same subject
			}
			mu.Lock()
			defer mu.Unlock()
			deliveries = append(deliveries, e.Deliveries)
			acked = append(acked, consumerInfo(t, b, bus.StreamEvents, "outputs").AckFloor.Stream)
			if e.Deliveries == 1 {
				return []bus.Message{first, unroutable}, nil
			}
			return []bus.Message{first, second}, nil
		}, fast()...)
	require.Eventually(t, func() bool {
		return subjectCount(t, b, bus.StreamEvents, bus.SubjectStatus("acme", "a-1")) == 3
	}, 10*time.Second, 20*time.Millisecond, "the input and both outputs stored")
	require.Eventually(t, func() bool {
		info := consumerInfo(t, b, bus.StreamEvents, "outputs")
		return info.NumAckPending == 0 && info.NumPending == 0
	}, 10*time.Second, 20*time.Millisecond, "everything acked")
	require.NoError(t, stop())

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []uint64{1, 2}, deliveries, "the failed publish made the runner nak, not ack")
	require.Equal(t, []uint64{0, 0}, acked, "not acked before the retry")
	require.Zero(t, subjectCount(t, b, bus.StreamDeadLetter, bus.SubjectDeadLetter(bus.StreamEvents, "outputs")))
	// out-1 was stored on the first delivery and deduplicated on the second.
	require.Equal(t, uint64(3), subjectCount(t, b, bus.StreamEvents, bus.SubjectStatus("acme", "a-1")))
}

// A run of Unordered outputs is published at once, and the message after
// it is stored only once the whole run is: on the first delivery one
// message of the run cannot be stored, and the ordered message after the
// run is not stored until the redelivery's run is.
func TestAnUnorderedRunIsStoredBeforeTheMessageAfterIt(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-1", "in-1", 1)))

	run := func(ids ...string) []bus.Message {
		var out []bus.Message
		for i, id := range ids {
			m := statusMessage("acme", "a-1", id, int32(i+2)) //nolint:gosec // a few messages
			m.Unordered = true
			out = append(out, m)
		}
		return out
	}
	unroutable := statusMessage("acme", "a-1", "u-bad", 9)
	unroutable.Subject = "im.nowhere.acme.a-1"
	unroutable.Unordered = true
	last := statusMessage("acme", "a-1", "last", 10)

	var deliveries atomic.Int32
	stop := runConsume(t, b, "unordered", bus.Subscription{Stream: bus.StreamEvents, Subjects: []string{"im.assessment.status.*.a-1"}},
		func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
			if e.ID != "in-1" {
				return nil, nil
			}
			if deliveries.Add(1) == 1 {
				return append(append(run("u-1", "u-2"), unroutable), last), nil
			}
			return append(run("u-1", "u-2", "u-3", "u-4"), last), nil
		}, fast()...)
	require.Eventually(t, func() bool {
		return subjectCount(t, b, bus.StreamEvents, bus.SubjectStatus("acme", "a-1")) == 6
	}, 10*time.Second, 20*time.Millisecond, "the input, four of the run and the last stored")
	require.NoError(t, stop())
	require.EqualValues(t, 2, deliveries.Load(), "the failed run made the runner nak")

	// The last message is the subject's last: after every message of the run.
	lastSeq, found, err := b.LastSeq(ctx, bus.StreamEvents, bus.SubjectStatus("acme", "a-1"))
	require.NoError(t, err)
	require.True(t, found)
	e, err := b.Stored(ctx, bus.StreamEvents, lastSeq)
	require.NoError(t, err)
	require.Equal(t, "last", e.ID)
}

// What a handler returns together with an error is not published.
func TestOutputsOfAFailedHandlerAreNotPublished(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	require.NoError(t, b.Publish(context.Background(), statusMessage("acme", "a-1", "in-1", 1)))
	done := make(chan struct{})
	stop := runConsume(t, b, "failed", bus.AssessmentEvents(), func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
		defer close(done)
		return []bus.Message{statusMessage("acme", "other", "out-1", 2)}, bus.Permanent(context.DeadlineExceeded)
	}, fast()...)
	<-done
	require.Eventually(t, func() bool {
		return subjectCount(t, b, bus.StreamDeadLetter, bus.SubjectDeadLetter(bus.StreamEvents, "failed")) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, stop())
	require.Zero(t, subjectCount(t, b, bus.StreamEvents, bus.SubjectStatus("acme", "other")))
}

func TestSubjectsCarryTheTenantWhereTheRunnerLooks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		tenant  string
		ok      bool
	}{
		{name: "requested", subject: bus.SubjectRequested("acme"), tenant: "acme", ok: true},
		{name: "result", subject: bus.SubjectResult("acme", "cloud"), tenant: "acme", ok: true},
		{name: "status", subject: bus.SubjectStatus("acme", "a-1"), tenant: "acme", ok: true},
		{name: "completed", subject: bus.SubjectCompleted("acme", "a-1"), tenant: "acme", ok: true},
		{name: "webhook delivery", subject: bus.SubjectWebhookDelivery("acme"), tenant: "acme", ok: true},
		{name: "too short", subject: "im.assessment.requested", ok: false},
		{name: "not ours", subject: "other.assessment.requested.acme", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := bus.TenantOfSubject(tc.subject)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.tenant, got)
		})
	}
	require.Equal(t, "im.assessment.*.acme.a-1", bus.SubjectAssessmentEvents("acme", "a-1"))
	require.Equal(t, bus.Subscription{Stream: bus.StreamResults, Subjects: []string{"im.agent.result.*.cloud"}}, bus.Results("cloud"))
	require.Equal(t, bus.Subscription{Stream: bus.StreamResults, Subjects: []string{"im.agent.result.>"}}, bus.Results())
	require.Equal(t, []string{"im.webhook.delivery.>"}, bus.WebhookStreamConfig(0, 0).Subjects)
	require.Equal(t, bus.DefaultMaxAge, bus.WebhookStreamConfig(0, 0).MaxAge)
	require.Equal(t, time.Minute, bus.WebhookStreamConfig(3, time.Minute).Duplicates, "dedup window within retention")
}
