package bus_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

// pullRequestLife is how long the runner's pull request lives at the broker
// (fetchWait in consume.go). A stop that waited the request out took up to
// this long; the bound below sits well above what a prompt stop takes and
// well below it.
const pullRequestLife = 5 * time.Second

// TestStopReturnsWithoutWaitingOutThePullRequest stops an idle consumer
// whose pull request the broker holds: a service's SIGTERM, or a test that
// stops a dispatcher, must not wait for that request to expire.
func TestStopReturnsWithoutWaitingOutThePullRequest(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	const durable = "idle"
	stop := runConsume(t, b, durable, statuses(), ok(func(context.Context, *bus.Event) error { return nil }),
		bus.DrainTimeout(10*time.Second))
	require.Eventually(t, func() bool { return consumerInfo(t, b, bus.StreamEvents, durable).NumWaiting > 0 },
		10*time.Second, 10*time.Millisecond, "the pull request reached the broker")

	start := time.Now()
	require.NoError(t, stop())
	took := time.Since(start)
	require.Less(t, took, pullRequestLife/2, "stop waited for the pending pull request (%s)", took)
}

// TestAMessageSentAfterTheConsumerStopsGoesToTheNextOne stops an idle
// consumer, whose pull request the broker held, and publishes at once: the
// request was withdrawn with the stop, so the broker keeps the message for
// the next consumer, which gets it on its first delivery well within
// AckWait (30 s here), and the stopped consumer never runs it.
func TestAMessageSentAfterTheConsumerStopsGoesToTheNextOne(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	const durable = "stopping"
	var ran atomic.Int32
	stop := runConsume(t, b, durable, statuses(), ok(func(context.Context, *bus.Event) error {
		ran.Add(1)
		return nil
	}), bus.AckWait(30*time.Second), bus.DrainTimeout(time.Second))
	require.Eventually(t, func() bool { return consumerInfo(t, b, bus.StreamEvents, durable).NumWaiting > 0 },
		10*time.Second, 10*time.Millisecond)

	require.NoError(t, stop())
	require.NoError(t, b.Publish(ctx, statusMessage("acme", "a1", "late-1", 1)))
	require.Zero(t, ran.Load(), "a stopped consumer runs nothing")

	got := make(chan *bus.Event, 1)
	runConsume(t, b, durable, statuses(), ok(func(_ context.Context, e *bus.Event) error {
		got <- e
		return nil
	}), bus.AckWait(30*time.Second))
	select {
	case e := <-got:
		require.Equal(t, "late-1", e.ID)
		require.EqualValues(t, 1, e.Deliveries, "the stopped consumer's request was still served")
	case <-time.After(10 * time.Second):
		t.Fatal("the message sent after the stop was not delivered within 10 s (AckWait is 30 s)")
	}
}

// TestStopsAndRestartsLoseAndRepeatNothing publishes a steady stream of
// messages while the consumer is stopped and started again and again, with
// handlers in flight at each stop: every message is handled, and exactly
// once. A message the broker sent in the instant a request was withdrawn
// comes back after AckWait (short here), unhandled the first time.
func TestStopsAndRestartsLoseAndRepeatNothing(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx := context.Background()
	const durable, total, restarts = "restarts", 400, 8

	var mu sync.Mutex
	handled := map[string]int{}
	handler := ok(func(_ context.Context, e *bus.Event) error {
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) //nolint:gosec // test jitter
		mu.Lock()
		handled[e.ID]++
		mu.Unlock()
		return nil
	})
	opts := []bus.Option{bus.AckWait(time.Second), bus.Concurrency(4), bus.DrainTimeout(5 * time.Second)}

	published := make(chan error, 1)
	go func() {
		for i := range total {
			if err := b.Publish(ctx, statusMessage("acme", "a1", fmt.Sprintf("m-%03d", i), 1)); err != nil {
				published <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		published <- nil
	}()
	for range restarts {
		stop := runConsume(t, b, durable, statuses(), handler, opts...)
		time.Sleep(time.Duration(30+rand.IntN(50)) * time.Millisecond) //nolint:gosec // test jitter
		require.NoError(t, stop())
	}
	require.NoError(t, <-published)
	stop := runConsume(t, b, durable, statuses(), handler, opts...)
	defer func() { require.NoError(t, stop()) }()

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == total
	}, 20*time.Second, 20*time.Millisecond, "every message handled")
	// Anything still to come would be a repeat.
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range handled {
		require.Equal(t, 1, n, "message %s handled %d times", id, n)
	}
}
