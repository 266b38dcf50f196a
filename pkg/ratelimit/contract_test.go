package ratelimit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/ratelimit"
	"github.com/infra-mind/infra-mind/pkg/ratelimit/ratelimittest"
)

// limiter and slots are what the gateway takes (gateway.Limiter and
// gateway.Slots); both the Redis types and the fakes are checked here.
type limiter interface {
	Allow(ctx context.Context, key string, lim ratelimit.Limit) (ratelimit.Result, error)
	Spend(ctx context.Context, checks ...ratelimit.Check) ([]ratelimit.Result, error)
}

type slots interface {
	Acquire(ctx context.Context, key, member string, capacity int, until time.Time) (bool, int, error)
	Hold(ctx context.Context, key, member string, until time.Time, release ...string) error
	Release(ctx context.Context, key string, members ...string) error
	Holders(ctx context.Context, key string) ([]string, error)
}

// contractClock is a clock the suite moves by hand.
type contractClock struct{ ms atomic.Int64 }

func (c *contractClock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *contractClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// limitsHarness is one implementation of both ports on one clock; keys are
// prefixed so runs on one server never share a key.
type limitsHarness struct {
	lim   limiter
	slots slots
	clock *contractClock
	key   func(string) string
}

func fakeLimits() limitsHarness {
	c := &contractClock{}
	c.ms.Store(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).UnixMilli())
	return limitsHarness{lim: ratelimittest.NewLimiter(c.now), slots: ratelimittest.NewSlots(c.now), clock: c,
		key: func(k string) string { return k }}
}

// redisLimits is the Redis-backed pair on rdb. Their clock is the suite's:
// the scripts take the time from the caller, and the keys' own expiry (on
// the server's clock) lies beyond what the suite moves to.
func redisLimits(rdb redis.Cmdable, prefix string) limitsHarness {
	c := &contractClock{}
	c.ms.Store(time.Now().UnixMilli())
	l, s := ratelimit.NewLimiter(rdb), ratelimit.NewSlots(rdb)
	ratelimit.SetClock(l, s, c.now)
	return limitsHarness{lim: l, slots: s, clock: c, key: func(k string) string { return prefix + k }}
}

// TestLimitsContract runs the limits' contract on the fakes and on the
// Redis types over the embedded Redis-protocol server
// (integration_test.go runs it on redis-server, whose Lua is the real one).
func TestLimitsContract(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	runLimitsContract(t, map[string]func() limitsHarness{
		"fake":      fakeLimits,
		"miniredis": func() limitsHarness { return redisLimits(rdb, fmt.Sprintf("c%d:", time.Now().UnixNano())) },
	})
}

func runLimitsContract(t *testing.T, harnesses map[string]func() limitsHarness) {
	t.Helper()
	for name, newHarness := range harnesses {
		t.Run(name, func(t *testing.T) {
			for _, tc := range limitsCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newHarness()) })
			}
		})
	}
}

var limitsCases = []struct {
	name string
	run  func(t *testing.T, h limitsHarness)
}{
	{"admits the limit per window, then refuses until the oldest leaves", func(t *testing.T, h limitsHarness) {
		ctx, key, lim := t.Context(), h.key("im:acme:rl:tenant"), ratelimit.Limit{Requests: 3, Window: time.Minute}
		for i := range 3 {
			r, err := h.lim.Allow(ctx, key, lim)
			require.NoError(t, err)
			require.True(t, r.Allowed, "request %d", i+1)
			require.Equal(t, 3, r.Limit)
			require.Equal(t, 2-i, r.Remaining)
			h.clock.advance(10 * time.Second)
		}
		r, err := h.lim.Allow(ctx, key, lim)
		require.NoError(t, err)
		require.False(t, r.Allowed)
		require.Equal(t, 0, r.Remaining)
		require.Equal(t, 30*time.Second, r.Reset, "the first request leaves the window a minute after it was made")
		h.clock.advance(29 * time.Second)
		r, err = h.lim.Allow(ctx, key, lim)
		require.NoError(t, err)
		require.False(t, r.Allowed, "refused requests are not counted, so the reset did not move")
		require.Equal(t, time.Second, r.Reset)
		h.clock.advance(time.Second)
		r, err = h.lim.Allow(ctx, key, lim)
		require.NoError(t, err)
		require.True(t, r.Allowed, "the first request has left the window")
		require.Equal(t, 0, r.Remaining)
	}},
	{"keys count apart", func(t *testing.T, h limitsHarness) {
		ctx, lim := t.Context(), ratelimit.Limit{Requests: 1, Window: time.Minute}
		r, err := h.lim.Allow(ctx, h.key("im:acme:rl:tenant"), lim)
		require.NoError(t, err)
		require.True(t, r.Allowed)
		r, err = h.lim.Allow(ctx, h.key("im:acme-corp:rl:tenant"), lim)
		require.NoError(t, err)
		require.True(t, r.Allowed, "a look-alike key has its own count")
	}},
	{"an invalid limit is an error", func(t *testing.T, h limitsHarness) {
		for _, lim := range []ratelimit.Limit{{Requests: 0, Window: time.Minute}, {Requests: 1, Window: time.Millisecond}} {
			_, err := h.lim.Allow(t.Context(), h.key("im:acme:rl:bad"), lim)
			require.Error(t, err)
		}
	}},
	{"slots cap the holders; a holder acquires again without a second slot", func(t *testing.T, h limitsHarness) {
		ctx, key := t.Context(), h.key("im:acme:active")
		until := h.clock.now().Add(time.Minute)
		for i, m := range []string{"a", "b"} {
			ok, held, err := h.slots.Acquire(ctx, key, m, 2, until)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, i+1, held)
		}
		ok, held, err := h.slots.Acquire(ctx, key, "c", 2, until)
		require.NoError(t, err)
		require.False(t, ok, "the cap is reached")
		require.Equal(t, 2, held)
		ok, held, err = h.slots.Acquire(ctx, key, "a", 2, until.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "a holder keeps its slot")
		require.Equal(t, 2, held)
		require.NoError(t, h.slots.Release(ctx, key, "b", "never-held"))
		ok, held, err = h.slots.Acquire(ctx, key, "c", 2, until)
		require.NoError(t, err)
		require.True(t, ok, "a released slot is free")
		require.Equal(t, 2, held)
	}},
	{"a lapsed hold frees its slot and leaves the holders", func(t *testing.T, h limitsHarness) {
		ctx, key := t.Context(), h.key("im:acme:sse:tenant")
		start := h.clock.now()
		_, _, err := h.slots.Acquire(ctx, key, "late", 5, start.Add(2*time.Minute))
		require.NoError(t, err)
		_, _, err = h.slots.Acquire(ctx, key, "early", 5, start.Add(time.Minute))
		require.NoError(t, err)
		got, err := h.slots.Holders(ctx, key)
		require.NoError(t, err)
		require.Equal(t, []string{"early", "late"}, got, "soonest to lapse first")
		h.clock.advance(time.Minute)
		got, err = h.slots.Holders(ctx, key)
		require.NoError(t, err)
		require.Equal(t, []string{"late"}, got, "a hold ending now has lapsed")
		ok, held, err := h.slots.Acquire(ctx, key, "new", 2, h.clock.now().Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, 2, held, "the lapsed holder is not counted")
	}},
	{"hold takes a slot past the cap", func(t *testing.T, h limitsHarness) {
		ctx, key := t.Context(), h.key("im:acme:active")
		until := h.clock.now().Add(time.Minute)
		_, _, err := h.slots.Acquire(ctx, key, "reservation", 1, until)
		require.NoError(t, err)
		require.NoError(t, h.slots.Hold(ctx, key, "assessment", until))
		got, err := h.slots.Holders(ctx, key)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"reservation", "assessment"}, got)
		ok, held, err := h.slots.Acquire(ctx, key, "next", 1, until)
		require.NoError(t, err)
		require.False(t, ok)
		require.Equal(t, 2, held)
	}},
	{"spending several limits stops at the first that refuses", func(t *testing.T, h limitsHarness) {
		ctx := t.Context()
		tenant, user, addr := h.key("im:acme:rl:tenant"), h.key("im:acme:rl:user:u1"), h.key("im:acme:rl:addr:a1")
		checks := []ratelimit.Check{
			{Key: tenant, Limit: ratelimit.Limit{Requests: 5, Window: time.Minute}},
			{Key: user, Limit: ratelimit.Limit{Requests: 2, Window: time.Minute}},
			{Key: addr, Limit: ratelimit.Limit{Requests: 3, Window: time.Minute}},
		}
		for i := range 2 {
			rs, err := h.lim.Spend(ctx, checks...)
			require.NoError(t, err)
			require.Len(t, rs, 3)
			require.Equal(t, []int{4 - i, 1 - i, 2 - i}, []int{rs[0].Remaining, rs[1].Remaining, rs[2].Remaining})
			for _, r := range rs {
				require.True(t, r.Allowed)
			}
			h.clock.advance(10 * time.Second)
		}
		rs, err := h.lim.Spend(ctx, checks...)
		require.NoError(t, err)
		require.Len(t, rs, 2, "the address limit after the refusing user limit is not reached")
		require.True(t, rs[0].Allowed, "the tenant limit before it was spent")
		require.False(t, rs[1].Allowed)
		require.Equal(t, 40*time.Second, rs[1].Reset)
		r, err := h.lim.Allow(ctx, addr, checks[2].Limit)
		require.NoError(t, err)
		require.Equal(t, 0, r.Remaining, "the refused request did not spend the address limit: this is its third")
		r, err = h.lim.Allow(ctx, tenant, checks[0].Limit)
		require.NoError(t, err)
		require.Equal(t, 1, r.Remaining, "the refused request spent the tenant limit before the refusal: this is its fourth")
		_, err = h.lim.Spend(ctx, ratelimit.Check{Key: tenant, Limit: checks[0].Limit}, ratelimit.Check{Key: addr})
		require.Error(t, err, "an invalid limit anywhere spends nothing")
		r, err = h.lim.Allow(ctx, tenant, checks[0].Limit)
		require.NoError(t, err)
		require.True(t, r.Allowed, "the invalid spend did not count")
	}},
	{"hold hands a reservation's slot over in one step", func(t *testing.T, h limitsHarness) {
		ctx, key := t.Context(), h.key("im:acme:active")
		until := h.clock.now().Add(time.Minute)
		ok, _, err := h.slots.Acquire(ctx, key, "req-1", 1, until)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, h.slots.Hold(ctx, key, "assessment", until, "req-1", "never-held"))
		got, err := h.slots.Holders(ctx, key)
		require.NoError(t, err)
		require.Equal(t, []string{"assessment"}, got, "the reservation's slot is the assessment's")
		require.NoError(t, h.slots.Hold(ctx, key, "assessment", until.Add(time.Minute), "assessment"))
		got, err = h.slots.Holders(ctx, key)
		require.NoError(t, err)
		require.Equal(t, []string{"assessment"}, got, "releasing the holder it adds keeps it")
	}},
	{"bad slot arguments are errors", func(t *testing.T, h limitsHarness) {
		ctx, key := t.Context(), h.key("im:acme:active")
		_, _, err := h.slots.Acquire(ctx, key, "a", 0, h.clock.now().Add(time.Minute))
		require.Error(t, err, "capacity 0")
		_, _, err = h.slots.Acquire(ctx, key, "a", 1, h.clock.now())
		require.Error(t, err, "a hold ending now")
	}},
}
