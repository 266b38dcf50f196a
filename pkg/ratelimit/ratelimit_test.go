package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fixedClock returns a settable clock.
func fixedClock(at time.Time) (func() time.Time, func(time.Time)) {
	cur := at
	return func() time.Time { return cur }, func(t time.Time) { cur = t }
}

func TestLimiterCountsPerWindowAndKey(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	// Near the real time: Redis expires keys by its own clock.
	start := time.Now().Truncate(time.Minute).Add(10 * time.Second) // 10s into a minute window
	now, set := fixedClock(start)
	a, b := NewLimiter(rdb), NewLimiter(rdb) // two replicas, one Redis
	a.now, b.now = now, now
	lim := Limit{Requests: 3, Window: time.Minute}
	ctx := context.Background()

	for i, l := range []*Limiter{a, b, a} {
		r, err := l.Allow(ctx, "im:acme:rl:tenant", lim)
		require.NoError(t, err)
		require.True(t, r.Allowed, "request %d", i+1)
		require.Equal(t, 3-(i+1), r.Remaining)
	}
	r, err := b.Allow(ctx, "im:acme:rl:tenant", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed, "the fourth request across both replicas is over the limit")
	require.Equal(t, 0, r.Remaining)
	require.Equal(t, 50*time.Second, r.Reset)
	require.Equal(t, 50, r.ResetSeconds())

	other, err := a.Allow(ctx, "im:globex:rl:tenant", lim)
	require.NoError(t, err)
	require.True(t, other.Allowed, "another key has its own count")

	set(start.Add(time.Minute))
	r, err = a.Allow(ctx, "im:acme:rl:tenant", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed, "a new window starts a new count")
}

func TestLimiterRejectsInvalidLimitsAndReportsRedisErrors(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	tests := []struct {
		name string
		rdb  *redis.Client
		lim  Limit
	}{
		{"zero requests", rdb, Limit{Requests: 0, Window: time.Minute}},
		{"sub-second window", rdb, Limit{Requests: 1, Window: time.Millisecond}},
		{"redis unreachable", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), Limit{Requests: 1, Window: time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewLimiter(tc.rdb).Allow(context.Background(), "im:acme:rl:x", tc.lim)
			require.Error(t, err)
		})
	}
}

func TestResetSecondsRoundsUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reset time.Duration
		want  int
	}{
		{"zero is one second", 0, 1},
		{"part of a second", 300 * time.Millisecond, 1},
		{"just over", 2*time.Second + time.Millisecond, 3},
		{"exact", 4 * time.Second, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Result{Reset: tc.reset}.ResetSeconds())
		})
	}
}

func TestSlotsCapHolders(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	start := time.Now() // near the real time: Redis expires keys by its own clock
	now, set := fixedClock(start)
	s := NewSlots(rdb)
	s.now = now
	ctx := context.Background()
	key := "im:acme:active"
	until := start.Add(2 * time.Minute)

	for i, m := range []string{"a1", "a2"} {
		ok, held, err := s.Acquire(ctx, key, m, 2, until)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, i+1, held)
	}
	ok, held, err := s.Acquire(ctx, key, "a3", 2, until)
	require.NoError(t, err)
	require.False(t, ok, "the cap is reached")
	require.Equal(t, 2, held)

	ok, _, err = s.Acquire(ctx, key, "a2", 2, until)
	require.NoError(t, err)
	require.True(t, ok, "a holder asking again keeps its slot")

	ok, _, err = s.Acquire(ctx, "im:globex:active", "b1", 2, until)
	require.NoError(t, err)
	require.True(t, ok, "another tenant has its own slots")

	require.NoError(t, s.Release(ctx, key, "a1"))
	ok, _, err = s.Acquire(ctx, key, "a3", 2, until)
	require.NoError(t, err)
	require.True(t, ok, "a released slot is free again")

	holders, err := s.Holders(ctx, key)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a2", "a3"}, holders)

	require.NoError(t, s.Hold(ctx, key, "a4", start.Add(5*time.Minute)))
	set(until) // a2 and a3 expire; a4 holds on
	holders, err = s.Holders(ctx, key)
	require.NoError(t, err)
	require.Equal(t, []string{"a4"}, holders)
	ok, held, err = s.Acquire(ctx, key, "a5", 2, until.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "expired holders free their slots")
	require.Equal(t, 2, held)
}

func TestSlotsRejectBadArguments(t *testing.T) {
	t.Parallel()
	s := NewSlots(newRedis(t))
	_, _, err := s.Acquire(context.Background(), "k", "m", 0, time.Now().Add(time.Minute))
	require.Error(t, err)
	_, _, err = s.Acquire(context.Background(), "k", "m", 1, time.Now().Add(-time.Minute))
	require.Error(t, err)
}
