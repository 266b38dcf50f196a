package platform_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// gauge returns the value of metric name for one consumer, and whether it is exported.
func gauge(t *testing.T, h *platform.Host, name, consumer string) (float64, bool) {
	t.Helper()
	families, err := h.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == consumer {
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// /metrics exports each watched consumer's backlog as the broker counts it:
// messages not yet delivered, and messages delivered but not acknowledged.
func TestHostExportsConsumerBacklog(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(ns.Shutdown)
	require.True(t, ns.ReadyForConnections(10*time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	h, err := platform.NewHost(ctx, platform.Config{Common: platform.Common{NATSURL: ns.ClientURL(), StreamReplicas: 1}},
		platform.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Metrics: metrics})
	require.NoError(t, err)
	t.Cleanup(func() { h.Close(context.Background()) })

	cons, err := h.Bus.JS.CreateOrUpdateConsumer(ctx, bus.StreamAssessments, bus.NewPolicy().ConsumerConfig("family-cloud", bus.Requests()))
	require.NoError(t, err)
	h.WatchConsumer(bus.StreamAssessments, "family-cloud")
	h.WatchConsumer(bus.StreamResults, "family-simulation") // not declared yet: left out, not an error

	for range 7 {
		_, err := h.Bus.JS.Publish(ctx, bus.SubjectRequested("acme"), []byte("{}"))
		require.NoError(t, err)
	}
	// The broker tells a consumer of new messages asynchronously, after it
	// acknowledged the publish: a no-wait pull sent at once can find nothing
	// when the machine is busy (the test failed so under load). A waiting
	// pull gets them once the consumer knows, and the counts settle.
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(10*time.Second))
	require.NoError(t, err)
	fetched := 0
	for range batch.Messages() {
		fetched++
	}
	require.NoError(t, batch.Error())
	require.Equal(t, 3, fetched)

	require.Eventually(t, func() bool {
		pending, ok := gauge(t, h, "inframind_consumer_pending_messages", "family-cloud")
		inFlight, ok2 := gauge(t, h, "inframind_consumer_ack_pending_messages", "family-cloud")
		return ok && ok2 && pending == 4 && inFlight == 3
	}, 10*time.Second, 20*time.Millisecond, "the consumer's backlog is exported: 4 waiting, 3 delivered and unacknowledged")
	_, ok := gauge(t, h, "inframind_consumer_pending_messages", "family-simulation")
	require.False(t, ok)
}
