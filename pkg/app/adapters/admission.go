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
//
// A reading of the broker serves the admissions of the next ReadingAge
// (100 ms): reading it is seven requests to the broker, which made them
// most of the JetStream API requests of an assessment and 0.7 ms of every
// POST. Until the next reading an admission counts every assessment this
// process admitted since the reading as in flight, and every one admitted
// before it and not yet queued then, as the reading could not see those;
// ones that finished since are still counted. So a burst on one replica is
// refused no later than with a reading per admission. What the reading
// cannot know is seen at the next one: other replicas' submissions, so
// replicas can pass together within ReadingAge rather than at the same
// moment, and work moving from one family's queue to a longer one.
type BrokerAdmission struct {
	bus        *bus.Bus
	limit      int
	retryAfter time.Duration
	now        func() time.Time

	mu      sync.Mutex
	pending int // admitted here, not yet queued

	readAt        time.Time // when the broker was last read; zero: never, or the read failed
	reading       int       // the broker's count then
	unseenAtRead  int       // pending when it was read: queued after, or never
	admittedSince int       // admissions since
}

// ReadingAge is how long a reading of the broker serves admissions.
const ReadingAge = 100 * time.Millisecond

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
	return &BrokerAdmission{bus: b, limit: limit, retryAfter: retryAfter, now: time.Now}, nil
}

// Admit implements app.Admission.
func (a *BrokerAdmission) Admit(ctx context.Context) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.pending
	if now := a.now(); a.readAt.IsZero() || now.Sub(a.readAt) >= ReadingAge || now.Before(a.readAt) {
		if read, err := a.InFlight(ctx); err == nil {
			a.readAt, a.reading, a.unseenAtRead, a.admittedSince = now, read, a.pending, 0
		} else {
			// The broker is unreachable: queueing will fail and say so
			// (503). The next admission reads it again.
			a.readAt = time.Time{}
		}
	}
	if !a.readAt.IsZero() {
		n = a.reading + a.unseenAtRead + a.admittedSince
	}
	if n >= a.limit {
		return nil, &app.BusyError{InFlight: n, Limit: a.limit, RetryAfter: a.retryAfter}
	}
	a.pending++
	a.admittedSince++
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
