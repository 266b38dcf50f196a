package bus_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

// embeddedBroker is an in-process nats-server the test can restart on the
// same port and store, as an operator restarts the broker.
type embeddedBroker struct {
	t    *testing.T
	port int
	dir  string
	srv  *server.Server
}

func startEmbeddedBroker(t *testing.T) *embeddedBroker {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	e := &embeddedBroker{t: t, port: port, dir: t.TempDir()}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *embeddedBroker) start() {
	e.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir, NoSigs: true, NoLog: true,
	})
	require.NoError(e.t, err)
	srv.Start()
	require.True(e.t, srv.ReadyForConnections(10*time.Second), "broker ready")
	e.srv = srv
}

func (e *embeddedBroker) stop() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.srv = nil
	}
}

func (e *embeddedBroker) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", e.port) }

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// After a broker restart the consumer asks for new messages while the ones
// it fetched before the restart are still waiting for a free worker. None
// may be dropped by the client ("slow consumer"): a dropped message sits out
// its 30 s ack deadline before the broker sends it again.
func TestBrokerRestartDropsNoFetchedMessage(t *testing.T) {
	t.Parallel()
	broker := startEmbeddedBroker(t)
	var logs syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{
		URL: broker.url(), Name: t.Name(), ReconnectWait: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	const workers, total = 4, 60
	gate := make(chan struct{})
	var started atomic.Int32
	var mu sync.Mutex
	handled := map[string]bool{}
	// The default ack deadline (30 s): a dropped message would come back
	// only after it.
	stop := runConsume(t, b, "restart", statuses(), ok(func(_ context.Context, e *bus.Event) error {
		started.Add(1)
		<-gate
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		handled[e.ID] = true
		mu.Unlock()
		return nil
	}), bus.Concurrency(workers), bus.DrainTimeout(5*time.Second))
	for i := range total {
		require.NoError(t, b.Publish(ctx, statusMessage("acme", "a-1", fmt.Sprintf("m-%02d", i), 1)))
	}
	// Every worker busy, and more messages fetched behind them.
	require.Eventually(t, func() bool { return started.Load() == workers }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)

	broker.stop()
	broker.start()
	require.Eventually(t, func() bool {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		defer pcancel()
		return b.Ping(pctx) == nil
	}, 10*time.Second, 20*time.Millisecond, "bus reconnected")
	close(gate)

	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(handled)
	}
	if !assert.Eventually(t, func() bool { return count() == total }, 15*time.Second, 20*time.Millisecond,
		"every message handled well within the 30 s ack deadline") {
		t.Fatalf("handled %d of %d; logs:\n%s", count(), total, logs.String())
	}
	require.NoError(t, stop())
	require.NotContains(t, logs.String(), "slow consumer")
}
