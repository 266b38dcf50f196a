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
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
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

// BenchmarkCheckTenant is the runner's tenant check on a family result of
// about 100 KB (a cloud plan's size), protojson-encoded as the workers
// publish it: metadata first, then findings and metrics. Its cost should not
// follow the payload's size.
func BenchmarkCheckTenant(b *testing.B) {
	res := &inframindv1.AgentResultPublished{
		Metadata: &inframindv1.Metadata{EventId: "e-1", TenantId: "acme", AssessmentId: "a-1"},
		Family:   "cloud", Status: "ok", Summary: "plan",
	}
	for i := range 400 {
		res.Findings = append(res.Findings, &inframindv1.Finding{
			Title: "finding " + strconv.Itoa(i), Detail: strings.Repeat("a cited figure with its range; ", 8),
		})
	}
	m := bus.Message{
		ID: "e-1", Type: bus.TypeAgentResultPublished, Source: "/services/cloud", Subject: bus.SubjectResult("acme", "cloud"),
		Tenant: "acme", CESubject: "a-1", Data: res,
	}
	e, err := bus.EventFor(context.Background(), m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(e.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.CheckTenant(e); err != nil {
			b.Fatal(err)
		}
	}
}
