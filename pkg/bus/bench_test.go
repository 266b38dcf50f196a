package bus_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

// BenchmarkJetStreamPublishConsume is the raw transport baseline: b.N events of
// about 1 KB, each with its own id, published with Publish (waiting for the
// stream's ack) and consumed and double-acked through Consume, on the embedded
// server with file storage. The end-to-end assessment benchmark is read
// against this figure.
func BenchmarkJetStreamPublishConsume(b *testing.B) {
	const workers = 4
	bb := startBus(b)
	payload := []byte(`{"summary":"` + strings.Repeat("x", 1000) + `"}`)

	var handled atomic.Int64
	var once sync.Once
	done := make(chan struct{})
	target := int64(b.N)
	stop := runConsume(b, bb, "bench", bus.Results(), func(context.Context, *bus.Event) ([]bus.Message, error) {
		if handled.Add(1) >= target {
			once.Do(func() { close(done) })
		}
		return nil, nil
	}, bus.Concurrency(workers), bus.DrainTimeout(5*time.Second))

	ctx := context.Background()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < b.N; i += workers {
				err := bb.Publish(ctx, bus.Message{
					ID:      "bench-" + strconv.Itoa(i),
					Type:    bus.TypeAgentResultPublished,
					Source:  "/bench",
					Subject: bus.SubjectResult("bench", "cloud"),
					Tenant:  "bench",
					Data:    payload,
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("consumed %d of %d", handled.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if err := stop(); err != nil {
		b.Error(err)
	}
}

// BenchmarkDeliveryWait is the runner's own share of a message's wait in
// its stream: one message at a time to an idle consumer, from the stream
// storing it (its JetStream timestamp) to the handler starting, on the
// embedded server. The benchmark's per-step breakdown reads the same two
// times; what it shows above this figure is time spent waiting for a CPU.
func BenchmarkDeliveryWait(b *testing.B) {
	bb := startBus(b)
	waits := make(chan time.Duration, 1)
	stop := runConsume(b, bb, "wait", bus.Results(), func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
		waits <- time.Since(e.Stored)
		return nil, nil
	}, bus.Concurrency(4), bus.DrainTimeout(5*time.Second))
	ctx := context.Background()
	all := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		err := bb.Publish(ctx, bus.Message{
			ID: "wait-" + strconv.Itoa(i), Type: bus.TypeAgentResultPublished, Source: "/bench",
			Subject: bus.SubjectResult("bench", "cloud"), Tenant: "bench", Data: []byte(`{}`),
		})
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, <-waits)
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	if err := stop(); err != nil {
		b.Error(err)
	}
}
