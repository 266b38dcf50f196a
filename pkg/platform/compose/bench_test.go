package compose_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

// runOne submits body and waits for the completed event over SSE, returning
// the time from POST to that event.
func runOne(ctx context.Context, b *testing.B, c *client.Client, body []byte) time.Duration {
	start := time.Now()
	acc, err := c.Submit(ctx, body, "application/yaml")
	require.NoError(b, err)
	status := ""
	err = c.Events(ctx, acc.ID, 0, func(e client.Event) error {
		if e.Type == "completed" {
			status = "done"
		}
		return nil
	})
	require.NoError(b, err)
	require.Equal(b, "done", status)
	return time.Since(start)
}

// BenchmarkAssessmentLatency measures POST to completed event for one
// assessment at a time through the whole pipeline (gateway, JetStream, six
// workers, synthesizer, FerretDB, SSE), on the embedded servers.
func BenchmarkAssessmentLatency(b *testing.B) {
	sys := startSystem(b, compose.AllRoles(), time.Minute, unlimited)
	body := example(b, "startup-rag.yaml")
	ctx := context.Background()
	runOne(ctx, b, sys.client, body) // warm-up: streams, consumers, indexes
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		lat = append(lat, runOne(ctx, b, sys.client, body))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, "p99-ms")
}

// BenchmarkAssessmentThroughput keeps 8 assessments in flight and reports
// sustained assessments per second through the real pipeline.
func BenchmarkAssessmentThroughput(b *testing.B) {
	sys := startSystem(b, compose.AllRoles(), 5*time.Minute, unlimited)
	body := example(b, "startup-rag.yaml")
	ctx := context.Background()
	runOne(ctx, b, sys.client, body)
	const inFlight = 8
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				runOne(ctx, b, sys.client, body)
			}
		}()
	}
	for range b.N {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "assessments/s")
}

// unlimited lifts the gateway's request rate limits, as the bench command
// does: one client submits faster than the expensive routes' default of 60
// a minute, and a benchmark that waits out Retry-After measures the
// limiter, not the pipeline.
func unlimited(c *platform.Config) {
	c.Gateway.RateLimitTenant, c.Gateway.RateLimitUser, c.Gateway.RateLimitExpensive = 1e8, 1e8, 1e8
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[min(i, len(sorted)-1)]
}
