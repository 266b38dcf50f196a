package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// startJetStream runs an in-process nats-server with JetStream only and
// connects a Bus, which declares the streams and buckets.
func startJetStream(t *testing.T) *bus.Bus {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(ns.Shutdown)
	return connect(t, ns.ClientURL())
}

// publishAssessment publishes what the pipeline publishes about one
// assessment (its request, two results, two events, its due deadline), one
// webhook delivery of each event and a dead letter of its request, and returns the events' ids.
func publishAssessment(t *testing.T, b *bus.Bus, tenant, id string) []string {
	t.Helper()
	ctx := t.Context()
	msg := func(msgID, typ, subject, ceSubject string, data any) {
		require.NoError(t, b.Publish(ctx, bus.Message{ID: msgID, Type: typ, Source: "/test", Subject: subject, Tenant: tenant,
			CESubject: ceSubject, Data: data}))
	}
	msg(tenant+id+"req", bus.TypeAssessmentRequested, bus.SubjectRequested(tenant), id, []byte(`{"request":{"name":"secret plan"}}`))
	for _, f := range []string{"cloud", "mlops"} {
		msg(tenant+id+f, bus.TypeAgentResultPublished, bus.SubjectResult(tenant, f), id, []byte(`{"summary":"secret"}`))
	}
	events := []string{tenant + id + "queued", tenant + id + "completed"}
	msg(events[0], bus.TypeStatusChanged, bus.SubjectStatus(tenant, id), id, []byte(`{}`))
	msg(events[1], bus.TypeAssessmentCompleted, bus.SubjectCompleted(tenant, id), id, []byte(`{}`))
	for _, e := range events {
		msg("webhook."+e, "dev.inframind.webhook.delivery.v1", bus.SubjectWebhookDelivery(tenant), e, []byte(`{"body":"secret"}`))
	}
	// The deadline the broker published when the assessment's schedule fell due.
	msg(tenant+id+"deadline", "dev.inframind.assessment.deadline.v1", bus.SubjectDeadlineDue(tenant, id), id, []byte(`{}`))
	msg("dl"+tenant+id, bus.TypeDeadLetter, bus.SubjectDeadLetter(bus.StreamAssessments, "family-cloud"), tenant+id+"req",
		&inframindv1.DeadLetter{Reason: "test", Data: []byte(`{"secret":true}`), Headers: map[string]string{bus.HeaderSubject: id}})
	return events
}

func TestEraseAssessmentRemovesItsMessagesOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := startJetStream(t)
	_, err := b.JS.CreateOrUpdateStream(ctx, bus.WebhookStreamConfig(1, 0))
	require.NoError(t, err)
	deliveries, err := b.JS.CreateOrUpdateKeyValue(ctx, bus.WebhookDeliveriesBucketConfig(1, 0))
	require.NoError(t, err)

	since := time.Now()
	gone := publishAssessment(t, b, "acme", "a1")
	publishAssessment(t, b, "acme", "a2")
	publishAssessment(t, b, "globex", "a1")
	for _, k := range []string{"d-gone", "d-kept"} {
		_, err := deliveries.Put(ctx, k, []byte(`{"attempts":1}`))
		require.NoError(t, err)
	}

	ids, err := b.AssessmentEventIDs(ctx, "acme", "a1")
	require.NoError(t, err)
	require.ElementsMatch(t, gone, ids)

	counts, err := b.EraseAssessment(ctx, bus.Erasure{Tenant: "acme", AssessmentID: "a1", Since: since, EventIDs: ids, DeliveryIDs: []string{"d-gone", "d-missing"}})
	require.NoError(t, err)
	require.Equal(t, map[string]int{bus.StreamEvents: 2, bus.StreamAssessments: 1, bus.StreamResults: 2, bus.StreamWebhooks: 2,
		bus.StreamDeadLetter: 1, bus.BucketWebhookDeliveries: 1, bus.StreamDeadlines: 1}, counts)

	// What is left: each stream's messages with their CloudEvents subject.
	left := func(stream string) []string {
		st, err := b.JS.Stream(ctx, stream)
		require.NoError(t, err)
		info, err := st.Info(ctx)
		require.NoError(t, err)
		var out []string
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted
			}
			out = append(out, m.Header.Get(bus.HeaderTenant)+"/"+m.Header.Get(bus.HeaderSubject))
		}
		return out
	}
	require.ElementsMatch(t, []string{"acme/a2", "globex/a1"}, left(bus.StreamAssessments))
	require.ElementsMatch(t, []string{"acme/a2", "acme/a2", "globex/a1", "globex/a1"}, left(bus.StreamResults))
	require.ElementsMatch(t, []string{"acme/a2", "acme/a2", "globex/a1", "globex/a1"}, left(bus.StreamEvents))
	require.ElementsMatch(t, []string{"acme/acmea2queued", "acme/acmea2completed", "globex/globexa1queued", "globex/globexa1completed"},
		left(bus.StreamWebhooks))
	require.ElementsMatch(t, []string{"acme/acmea2req", "globex/globexa1req"}, left(bus.StreamDeadLetter))
	require.ElementsMatch(t, []string{"acme/a2", "globex/a1"}, left(bus.StreamDeadlines))
	_, err = deliveries.Get(ctx, "d-gone")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
	_, err = deliveries.Get(ctx, "d-kept")
	require.NoError(t, err)

	again, err := b.EraseAssessment(ctx, bus.Erasure{Tenant: "acme", AssessmentID: "a1", Since: since, EventIDs: ids, DeliveryIDs: []string{"d-gone"}})
	require.NoError(t, err, "erasing again is not an error")
	for name, n := range again {
		require.Zero(t, n, "%s: nothing left to erase", name)
	}
	ids, err = b.AssessmentEventIDs(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Empty(t, ids)
}
