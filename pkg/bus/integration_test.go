//go:build integration

package bus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// natsProcess is a nats-server process owned by one test, so the test can
// stop and restart the broker itself.
type natsProcess struct {
	t      *testing.T
	bin    string
	dir    string
	port   int
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    bytes.Buffer
}

// startNATSProcess runs the nats-server named by IM_TEST_NATS_SERVER_BIN with
// JetStream on a free loopback port and a fresh store directory.
func startNATSProcess(t *testing.T) *natsProcess {
	t.Helper()
	bin := os.Getenv("IM_TEST_NATS_SERVER_BIN")
	if bin == "" {
		t.Fatal("IM_TEST_NATS_SERVER_BIN is not set: it must name a nats-server v2.15.x binary")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	p := &natsProcess{t: t, bin: bin, dir: t.TempDir(), port: port}
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("nats-server output:\n%s", p.out.String())
			p.mu.Unlock()
		}
	})
	return p
}

func (p *natsProcess) url() string { return "nats://127.0.0.1:" + strconv.Itoa(p.port) }

func (p *natsProcess) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "-js", "-sd", p.dir, "-p", strconv.Itoa(p.port), "-a", "127.0.0.1")
	cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.out}
	cmd.Stderr = cmd.Stdout
	require.NoError(p.t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	require.Eventually(p.t, func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.port), 200*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 15*time.Second, 50*time.Millisecond, "nats-server did not listen")
}

// stop sends SIGTERM, as an orchestrator does, and waits for the exit.
func (p *natsProcess) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// connectEventually connects once JetStream answers (it recovers its store
// after the port opens).
func connectEventually(t *testing.T, url string) *bus.Bus {
	t.Helper()
	var b *bus.Bus
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		b, err = bus.Connect(ctx, bus.Config{URL: url, Name: t.Name(), Logger: quietLogger(), ReconnectWait: 100 * time.Millisecond})
		return err == nil
	}, 20*time.Second, 200*time.Millisecond, "connect to %s", url)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// requestAckWait is the AckWait of requestPolicy.
const requestAckWait = time.Second

// requestPolicy consumes assessment requests with short timers; extra
// options follow and override it.
func requestPolicy(extra ...bus.Option) []bus.Option {
	return append([]bus.Option{
		bus.AckWait(requestAckWait), bus.MaxDeliver(10), bus.BackOff(100 * time.Millisecond), bus.DrainTimeout(time.Second),
	}, extra...)
}

func requestMessage(tenant, id string) bus.Message {
	return bus.Message{
		ID:        id,
		Type:      bus.TypeAssessmentRequested,
		Source:    "/services/gateway",
		Subject:   bus.SubjectRequested(tenant),
		Tenant:    tenant,
		CESubject: id,
		Data:      []byte(`{"assessment_id":"` + id + `"}`),
	}
}

// resultOf is what a worker makes of a request: its result under an id
// derived from the request, so a retry lands on the same message.
func resultOf(e *bus.Event) []bus.Message {
	return []bus.Message{{
		ID:        assessment.DeterministicID("result", e.ID, "cloud"),
		Type:      bus.TypeAgentResultPublished,
		Source:    "/services/cloud",
		Subject:   bus.SubjectResult(e.Tenant, "cloud"),
		Tenant:    e.Tenant,
		CESubject: e.ID,
		Data:      &inframindv1.AgentResultPublished{Family: "cloud", Summary: "result for " + e.ID},
	}}
}

func TestIntegrationKilledWorkerLosesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	srv := startNATSProcess(t)
	ctx := context.Background()
	b1 := connectEventually(t, srv.url())
	require.NoError(t, b1.Publish(ctx, requestMessage("t-kill", "req-1")))

	// The first worker's result reaches the stream and the worker dies
	// before acking (the result is published here, as the runner would,
	// and the handler never returns).
	received := make(chan struct{})
	hang := make(chan struct{})
	defer close(hang)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		errc <- b1.Consume(cctx, "cloud", bus.Requests(), func(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
			if err := b1.Publish(ctx, resultOf(e)[0]); err != nil {
				return nil, err
			}
			close(received)
			<-hang
			return nil, nil
		}, requestPolicy(bus.DrainTimeout(time.Millisecond))...)
	}()
	select {
	case <-received:
	case <-time.After(15 * time.Second):
		t.Fatal("first worker got nothing")
	}
	cancel()
	require.NoError(t, <-errc)
	require.NoError(t, b1.Close())

	// A replacement worker on the same durable gets the message after AckWait.
	b2 := connectEventually(t, srv.url())
	var deliveries []uint64
	var mu sync.Mutex
	stop := runConsume(t, b2, "cloud", bus.Requests(), func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
		mu.Lock()
		deliveries = append(deliveries, e.Deliveries)
		mu.Unlock()
		return resultOf(e), nil
	}, requestPolicy()...)
	require.Eventually(t, func() bool {
		info := consumerInfo(t, b2, bus.StreamAssessments, "cloud")
		return info.AckFloor.Stream == 1 && info.NumAckPending == 0
	}, 15*time.Second, 50*time.Millisecond, "redelivered and acked")
	require.NoError(t, stop())
	mu.Lock()
	require.Equal(t, []uint64{2}, deliveries)
	mu.Unlock()
	require.Equal(t, uint64(1), subjectCount(t, b2, bus.StreamResults, bus.SubjectResult("t-kill", "cloud")))
}

func TestIntegrationDuplicatePublishAndRedeliveryYieldOneResult(t *testing.T) {
	t.Parallel()
	srv := startNATSProcess(t)
	ctx := context.Background()
	b := connectEventually(t, srv.url())
	// The gateway retries its publish: one stored request.
	require.NoError(t, b.Publish(ctx, requestMessage("t-dup", "req-1")))
	require.NoError(t, b.Publish(ctx, requestMessage("t-dup", "req-1")))
	require.Equal(t, uint64(1), subjectCount(t, b, bus.StreamAssessments, bus.SubjectRequested("t-dup")))

	var mu sync.Mutex
	var deliveries []uint64
	stop := runConsume(t, b, "cloud", bus.Requests(), func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
		mu.Lock()
		deliveries = append(deliveries, e.Deliveries)
		mu.Unlock()
		if e.Deliveries == 1 {
			time.Sleep(2 * requestAckWait) // outlive AckWait once
		}
		return resultOf(e), nil
	}, requestPolicy(
		// Two workers' worth of slots, so the redelivery is taken while the
		// first, slow delivery is still running.
		bus.Concurrency(2), bus.DrainTimeout(5*time.Second))...)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries) >= 2
	}, 15*time.Second, 50*time.Millisecond, "redelivered after AckWait")
	require.Eventually(t, func() bool {
		info := consumerInfo(t, b, bus.StreamAssessments, "cloud")
		return info.AckFloor.Stream == 1 && info.NumAckPending == 0
	}, 15*time.Second, 50*time.Millisecond, "acked")
	require.NoError(t, stop())
	mu.Lock()
	require.Equal(t, []uint64{1, 2}, deliveries)
	mu.Unlock()
	require.Equal(t, uint64(1), subjectCount(t, b, bus.StreamResults, bus.SubjectResult("t-dup", "cloud")))
}

func TestIntegrationBrokerRestartLosesNothing(t *testing.T) {
	t.Parallel()
	srv := startNATSProcess(t)
	ctx := context.Background()
	b := connectEventually(t, srv.url())

	const perBatch = 10
	var mu sync.Mutex
	handled := map[string]int{}
	var paused atomic.Bool
	gate := make(chan struct{})
	stop := runConsume(t, b, "cloud", bus.Requests(), func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
		if paused.Load() {
			<-gate
		}
		mu.Lock()
		handled[e.ID]++
		mu.Unlock()
		return resultOf(e), nil
	}, requestPolicy(bus.Concurrency(2), bus.DrainTimeout(5*time.Second))...)
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(handled)
	}

	publish := func(from, to int) {
		for i := from; i < to; i++ {
			require.NoError(t, b.Publish(ctx, requestMessage("t-restart", fmt.Sprintf("req-%02d", i))))
		}
	}
	publish(0, perBatch)
	require.Eventually(t, func() bool { return distinct() == perBatch }, 15*time.Second, 50*time.Millisecond)

	// Stored but unprocessed work (two deliveries in flight, the rest
	// waiting) when the broker goes down.
	paused.Store(true)
	publish(perBatch, 2*perBatch)
	srv.stop()
	close(gate)
	srv.start()

	require.Eventually(t, func() bool {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return b.Ping(pctx) == nil
	}, 20*time.Second, 100*time.Millisecond, "bus reconnected")
	// New work after the restart flows too.
	publish(2*perBatch, 3*perBatch)
	require.Eventually(t, func() bool { return distinct() == 3*perBatch }, 30*time.Second, 100*time.Millisecond,
		"handled every request")
	require.Eventually(t, func() bool {
		info := consumerInfo(t, b, bus.StreamAssessments, "cloud")
		return info.NumPending == 0 && info.NumAckPending == 0
	}, 20*time.Second, 100*time.Millisecond, "everything acked")
	require.NoError(t, stop())
	require.Equal(t, uint64(3*perBatch), subjectCount(t, b, bus.StreamAssessments, bus.SubjectRequested("t-restart")))
	require.Equal(t, uint64(3*perBatch), subjectCount(t, b, bus.StreamResults, bus.SubjectResult("t-restart", "cloud")))
}

func TestIntegrationDeadLetters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		data       []byte
		maxDeliver int
		handler    func(context.Context, *bus.Event) error
		reason     string
		deliveries uint64
	}{
		{
			name:       "undecodable",
			data:       []byte(`{"family": 7}`),
			maxDeliver: 5,
			handler: func(_ context.Context, e *bus.Event) error {
				var r inframindv1.AgentResultPublished
				return e.Decode(&r)
			},
			reason:     "undecodable payload",
			deliveries: 1,
		},
		{
			name:       "max deliveries",
			data:       []byte(`{}`),
			maxDeliver: 2,
			handler:    func(context.Context, *bus.Event) error { return errors.New("catalogue unavailable") },
			reason:     "max deliveries (2) exceeded: catalogue unavailable",
			deliveries: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startNATSProcess(t)
			b := connectEventually(t, srv.url())
			m := requestMessage("t-dl", "req-1")
			m.Data = tc.data
			require.NoError(t, b.Publish(context.Background(), m))
			var calls atomic.Int32
			stop := runConsume(t, b, "cloud", bus.Requests(), ok(func(ctx context.Context, e *bus.Event) error {
				calls.Add(1)
				return tc.handler(ctx, e)
			}), requestPolicy(bus.MaxDeliver(tc.maxDeliver))...)
			dlSubject := bus.SubjectDeadLetter(bus.StreamAssessments, "cloud")
			require.Eventually(t, func() bool { return subjectCount(t, b, bus.StreamDeadLetter, dlSubject) == 1 },
				15*time.Second, 50*time.Millisecond)
			time.Sleep(2 * requestAckWait) // a terminated message is not delivered again
			require.NoError(t, stop())
			require.Equal(t, int32(tc.deliveries), calls.Load())
			dl, _ := lastDeadLetter(t, b, bus.StreamAssessments, "cloud")
			require.Contains(t, dl.Reason, tc.reason)
			require.Equal(t, tc.deliveries, dl.Deliveries)
			require.Equal(t, tc.data, dl.Data)
			require.Equal(t, "req-1", dl.Headers["ce-id"])
			info := consumerInfo(t, b, bus.StreamAssessments, "cloud")
			require.Zero(t, info.NumAckPending)
			require.Zero(t, info.NumPending)
		})
	}
}
