package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// tenantGates bounds the posts in flight per tenant. Each tenant has its
// own slots, made when its first delivery waits and dropped when its last
// one leaves, so a tenant whose endpoints hang fills only its own.
type tenantGates struct {
	size int

	mu    sync.Mutex
	gates map[string]*tenantGate
}

type tenantGate struct {
	slots chan struct{}
	users int // deliveries waiting for or holding a slot
}

func newTenantGates(size int) *tenantGates {
	return &tenantGates{size: size, gates: map[string]*tenantGate{}}
}

// acquire waits for one of tenant's slots, calling progress every interval
// while it waits (the delivery stays claimed on the server), and returns the
// function that gives the slot back. It fails when ctx ends first.
func (g *tenantGates) acquire(ctx context.Context, tenant string, every time.Duration, progress func() error) (func(), error) {
	g.mu.Lock()
	gate := g.gates[tenant]
	if gate == nil {
		gate = &tenantGate{slots: make(chan struct{}, g.size)}
		g.gates[tenant] = gate
	}
	gate.users++
	g.mu.Unlock()

	leave := func() {
		g.mu.Lock()
		gate.users--
		if gate.users == 0 {
			delete(g.gates, tenant)
		}
		g.mu.Unlock()
	}
	tick := time.NewTicker(max(every, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case gate.slots <- struct{}{}:
			return func() { <-gate.slots; leave() }, nil
		case <-tick.C:
			// A failed progress report only risks a redelivery, which the
			// delivery record makes harmless.
			_ = progress()
		case <-ctx.Done():
			leave()
			return nil, ctx.Err()
		}
	}
}

// errEndpointFailing is recorded for a delivery not sent because its
// endpoint's circuit breaker is open.
var errEndpointFailing = errors.New("not sent: the endpoint is paused after failing")

// breakers holds one circuit breaker per endpoint (webhook id). They live in
// the process: each replica of the dispatcher learns on its own that an
// endpoint fails, after BreakerFailures attempts.
type breakers struct {
	failures uint32
	open     time.Duration

	mu sync.Mutex
	m  map[string]*gobreaker.CircuitBreaker[int]
}

func newBreakers(failures int, open time.Duration) *breakers {
	return &breakers{failures: uint32(min(failures, 1<<16)), open: open, m: map[string]*gobreaker.CircuitBreaker[int]{}} //nolint:gosec // bounded above
}

func (b *breakers) get(id string) *gobreaker.CircuitBreaker[int] {
	b.mu.Lock()
	defer b.mu.Unlock()
	cb := b.m[id]
	if cb == nil {
		failures := b.failures
		cb = gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
			Name:        id,
			MaxRequests: 1, // one probe when the pause is over
			Timeout:     b.open,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			// A post cut short by shutdown says nothing of the endpoint.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		})
		b.m[id] = cb
	}
	return cb
}

// run posts through id's breaker: when it is open (or its one probe is
// under way) the post is not made and errEndpointFailing is returned.
func (b *breakers) run(id string, post func() (int, error)) (int, error) {
	status, err := b.get(id).Execute(post)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return 0, fmt.Errorf("%w (%d failures in a row; paused for %s)", errEndpointFailing, b.failures, b.open)
	}
	return status, err
}

// forget drops the breaker of a deleted endpoint.
func (b *breakers) forget(id string) {
	b.mu.Lock()
	delete(b.m, id)
	b.mu.Unlock()
}
