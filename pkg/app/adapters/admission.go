package adapters

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
)

// DefaultRetryAfter is the Retry-After of a refused assessment when the
// admission is given none.
const DefaultRetryAfter = 5 * time.Second

// BrokerAdmission is app.Admission measured on the broker: the assessments
// in flight are the most any family's consumer holds unacknowledged
// (requests, or for the families that build on the cloud plan, its
// results), or the synthesizer's results divided among the families,
// whichever is more, plus the admissions of this process not yet queued.
// The broker is the one place every gateway replica and every worker
// agrees on, and reading it is a key lookup per consumer, never a store
// scan.
//
// Admissions in one process are serialized, so a burst cannot slip past
// the limit between two broker reads. Several gateway replicas each do
// this on their own: at most the submissions they run at the same moment
// can pass together.
type BrokerAdmission struct {
	bus        *bus.Bus
	limit      int
	retryAfter time.Duration

	mu      sync.Mutex
	pending int // admitted here, not yet queued
}

// NewBrokerAdmission admits while fewer than limit assessments are in flight;
// a refusal asks the client to retry after retryAfter (DefaultRetryAfter when
// not positive).
func NewBrokerAdmission(b *bus.Bus, limit int, retryAfter time.Duration) (*BrokerAdmission, error) {
	switch {
	case b == nil:
		return nil, errors.New("adapters: admission needs a bus")
	case limit <= 0:
		return nil, errors.New("adapters: admission limit must be positive")
	}
	if retryAfter <= 0 {
		retryAfter = DefaultRetryAfter
	}
	return &BrokerAdmission{bus: b, limit: limit, retryAfter: retryAfter}, nil
}

// Admit implements app.Admission.
func (a *BrokerAdmission) Admit(ctx context.Context) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.InFlight(ctx)
	if err != nil {
		// The broker is unreachable: queueing will fail and say so (503).
		n = 0
	}
	if n+a.pending >= a.limit {
		return nil, &app.BusyError{InFlight: n + a.pending, Limit: a.limit, RetryAfter: a.retryAfter}
	}
	a.pending++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.pending--
			a.mu.Unlock()
		})
	}, nil
}

// InFlight is the broker's count of assessments accepted and not yet
// through the pipeline (see BrokerAdmission). The consumers are asked at
// once: each is a request to the broker, and their answers do not depend
// on each other.
func (a *BrokerAdmission) InFlight(ctx context.Context) (int, error) {
	type ask struct{ stream, durable string }
	asks := make([]ask, 0, len(assessment.Families())+1)
	for _, f := range assessment.Families() {
		stream := bus.StreamAssessments
		if len(analysis.Upstream(f)) > 0 {
			stream = bus.StreamResults
		}
		asks = append(asks, ask{stream, bus.FamilyConsumer(string(f))})
	}
	asks = append(asks, ask{bus.StreamResults, synthesizerConsumer})
	outstanding := make([]uint64, len(asks))
	g, gctx := errgroup.WithContext(ctx)
	for i, q := range asks {
		g.Go(func() error {
			p, _, err := a.bus.ConsumerProgress(gctx, q.stream, q.durable)
			outstanding[i] = p.Outstanding
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	most := uint64(0)
	for _, n := range outstanding[:len(outstanding)-1] {
		most = max(most, n)
	}
	// The synthesizer holds each assessment's results, one per family.
	families := uint64(len(assessment.Families()))
	most = max(most, (outstanding[len(outstanding)-1]+families-1)/families)
	return int(most), nil //nolint:gosec // a queue length fits an int
}

// synthesizerConsumer is the synthesizer's durable on the results
// (synth.DurableName; the gateway does not link the synthesizer).
const synthesizerConsumer = "synthesizer"
