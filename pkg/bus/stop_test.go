package bus_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

// TestAMessageSentAsTheConsumerStopsIsReleasedAtOnce stops an idle
// consumer, whose pull request the broker still holds, and publishes at
// once: the broker hands the message to that request, and the stopped
// consumer releases it instead of leaving it unseen for AckWait (30 s
// here), so the next consumer gets it within seconds and it never ran twice.
func TestAMessageSentAsTheConsumerStopsIsReleasedAtOnce(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	const durable = "stopping"
	var ran atomic.Int32
	stop := runConsume(t, b, durable, statuses(), ok(func(context.Context, *bus.Event) error {
		ran.Add(1)
		return nil
	}), bus.AckWait(30*time.Second), bus.DrainTimeout(time.Second))
	// Let the first pull request reach the broker.
	require.Eventually(t, func() bool { return consumerInfo(t, b, bus.StreamEvents, durable).NumWaiting > 0 },
		10*time.Second, 10*time.Millisecond)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// The consumer is stopping; its request is still waiting at the broker.
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, b.Publish(ctx, statusMessage("acme", "a1", "late-1", 1)))
	require.NoError(t, <-stopped)
	require.Zero(t, ran.Load(), "a stopped consumer runs nothing")

	got := make(chan *bus.Event, 1)
	runConsume(t, b, durable, statuses(), ok(func(_ context.Context, e *bus.Event) error {
		got <- e
		return nil
	}), bus.AckWait(30*time.Second))
	select {
	case e := <-got:
		require.Equal(t, "late-1", e.ID)
		// The broker did send it to the stopping consumer's request (the
		// case this test is about): this is its second delivery.
		require.EqualValues(t, 2, e.Deliveries)
	case <-time.After(10 * time.Second):
		t.Fatal("the message sent as the consumer stopped was not delivered again within 10 s (AckWait is 30 s)")
	}
}
