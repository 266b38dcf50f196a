package webhook

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// hangingEndpoints are receivers that hold every request until released,
// as endpoints that accept the connection and never answer.
type hangingEndpoints struct {
	release  chan struct{}
	once     sync.Once
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	entered  atomic.Int64
	answered atomic.Int64
	servers  []*httptest.Server
}

func newHangingEndpoints(t *testing.T, n int) *hangingEndpoints {
	h := &hangingEndpoints{release: make(chan struct{})}
	for range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := h.inFlight.Add(1)
			for {
				seen := h.maxSeen.Load()
				if now <= seen || h.maxSeen.CompareAndSwap(seen, now) {
					break
				}
			}
			h.entered.Add(1)
			defer h.inFlight.Add(-1)
			select {
			case <-h.release:
			case <-r.Context().Done():
				return
			}
			h.answered.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		h.servers = append(h.servers, srv)
	}
	// Released before the servers close: Close waits for their requests.
	t.Cleanup(func() {
		h.open()
		for _, s := range h.servers {
			s.Close()
		}
	})
	return h
}

func (h *hangingEndpoints) open() { h.once.Do(func() { close(h.release) }) }

// One tenant's endpoints that hang must not hold up another tenant's
// deliveries: the healthy tenant's event is delivered while every request to
// the hanging endpoints is still held, and the flooding tenant never has more
// than its share of posts in flight. Before deliveries were bounded per
// tenant, the hanging posts took every worker and the other tenant's
// delivery waited for their timeout.
func TestOneTenantsHangingEndpointsDoNotDelayAnotherTenant(t *testing.T) {
	t.Parallel()
	const tenantSlots = 2
	e := newDispatchEnv(t, Config{
		Policy: Policy{AllowPrivate: true},
		// Longer than the test: a hanging post ends only when released.
		Timeout:           2 * time.Minute,
		BackOff:           []time.Duration{20 * time.Millisecond},
		Concurrency:       4,
		TenantConcurrency: tenantSlots,
	})
	const endpoints, events = 20, 3
	hanging := newHangingEndpoints(t, endpoints)
	var slowHooks []store.Webhook
	for _, srv := range hanging.servers {
		slowHooks = append(slowHooks, e.registerURL(t, "slowco", srv.URL+"/hooks", EventAssessmentCompleted))
	}
	var slowEvents []string
	for range events {
		slowEvents = append(slowEvents, e.publishCompleted(t, "slowco", uuid.NewString()))
	}
	// The flood is under way: the tenant's slots are taken by posts that hang.
	require.Eventually(t, func() bool { return hanging.entered.Load() >= tenantSlots }, 20*time.Second, 10*time.Millisecond)

	healthy := newReceiver(t, 0)
	w := e.register(t, "acme", healthy, EventAssessmentCompleted)
	published := time.Now()
	eventID := e.publishCompleted(t, "acme", uuid.NewString())
	got := e.waitDelivery(t, w, eventID)
	took := time.Since(published)
	require.Equal(t, store.DeliverySucceeded, got.Status)
	require.Zero(t, hanging.answered.Load(), "the other tenant's delivery arrived while every slow post still hung")
	require.Equal(t, int64(tenantSlots), hanging.inFlight.Load(), "the slow tenant holds its share of posts, no more")
	t.Logf("healthy tenant's delivery recorded %s after its event, with %d slow posts hanging", took.Round(time.Millisecond), hanging.inFlight.Load())

	// Released, every delivery of the flooding tenant still arrives once.
	hanging.open()
	for _, h := range slowHooks {
		for _, ev := range slowEvents {
			d := e.waitDelivery(t, h, ev)
			require.Equal(t, store.DeliverySucceeded, d.Status)
			require.Len(t, d.Attempts, 1)
		}
	}
	require.Equal(t, int64(endpoints*events), hanging.answered.Load())
	require.LessOrEqual(t, hanging.maxSeen.Load(), int64(tenantSlots), "never more posts in flight for one tenant than its slots")
}

// An endpoint that keeps failing is paused: after BreakerFailures failures
// in a row its deliveries are recorded as not sent (and retried on the
// usual schedule) instead of posted, while the tenant's other endpoints are
// served as usual.
func TestAFailingEndpointIsPausedByItsBreaker(t *testing.T) {
	t.Parallel()
	e := newDispatchEnv(t, Config{
		Policy:          Policy{AllowPrivate: true},
		Timeout:         5 * time.Second,
		BackOff:         []time.Duration{10 * time.Millisecond},
		MaxAttempts:     5,
		BreakerFailures: 2,
		BreakerOpen:     time.Hour,
	})
	down := newReceiver(t, 1000)
	steady := newReceiver(t, 0)
	wDown := e.register(t, "acme", down, EventAssessmentCompleted)
	wSteady := e.register(t, "acme", steady, EventAssessmentCompleted)
	eventID := e.publishCompleted(t, "acme", uuid.NewString())

	got := e.waitDelivery(t, wDown, eventID)
	require.Equal(t, store.DeliveryFailed, got.Status)
	require.Len(t, got.Attempts, 5, "every attempt is recorded, sent or not")
	requests, _ := down.counts()
	require.Equal(t, 2, requests, "after two failures in a row the endpoint is not posted to")
	for _, a := range got.Attempts[2:] {
		require.Zero(t, a.StatusCode)
		require.Contains(t, a.Error, "not sent: the endpoint is paused after failing")
	}
	require.Equal(t, store.DeliverySucceeded, e.waitDelivery(t, wSteady, eventID).Status)
}

// When the pause is over one delivery probes the endpoint, and an endpoint
// that answers again is posted to as before.
func TestAPausedEndpointIsProbedAfterThePause(t *testing.T) {
	t.Parallel()
	e := newDispatchEnv(t, Config{
		Policy:          Policy{AllowPrivate: true},
		Timeout:         5 * time.Second,
		BackOff:         []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, time.Second},
		MaxAttempts:     5,
		BreakerFailures: 2,
		BreakerOpen:     300 * time.Millisecond,
	})
	recovering := newReceiver(t, 2)
	w := e.register(t, "acme", recovering, EventAssessmentCompleted)
	eventID := e.publishCompleted(t, "acme", uuid.NewString())

	got := e.waitDelivery(t, w, eventID)
	require.Equal(t, store.DeliverySucceeded, got.Status)
	requests, _ := recovering.counts()
	require.Equal(t, 3, requests, "two failures, then the probe after the pause")
	// Attempt 3 is due 10 ms after the breaker opened and is normally not
	// sent; on a stalled machine it may come after the pause and be the probe.
	last := got.Attempts[len(got.Attempts)-1]
	require.Equal(t, http.StatusNoContent, last.StatusCode)
	for _, a := range got.Attempts[2 : len(got.Attempts)-1] {
		require.Contains(t, a.Error, "not sent")
	}

	// Closed again, the endpoint takes the next event at once.
	next := e.publishCompleted(t, "acme", uuid.NewString())
	require.Len(t, e.waitDelivery(t, w, next).Attempts, 1)
}
