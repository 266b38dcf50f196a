package bus_test

import (
	"context"
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
