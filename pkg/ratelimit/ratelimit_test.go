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

func TestLimiterCountsPerKeyAcrossReplicas(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	start := time.Now().Truncate(time.Minute).Add(10 * time.Second)
	now, set := fixedClock(start)
	a, b := NewLimiter(rdb), NewLimiter(rdb) // two replicas, one Redis
	a.now, b.now = now, now
	lim := Limit{Requests: 3, Window: time.Minute}
	ctx := context.Background()

	for i, l := range []*Limiter{a, b, a} {
		set(start.Add(time.Duration(i) * time.Second))
		r, err := l.Allow(ctx, "im:acme:rl:tenant", lim)
		require.NoError(t, err)
		require.True(t, r.Allowed, "request %d", i+1)
		require.Equal(t, 3-(i+1), r.Remaining)
	}
	set(start.Add(20 * time.Second))
	r, err := b.Allow(ctx, "im:acme:rl:tenant", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed, "the fourth request across both replicas is over the limit")
	require.Equal(t, 0, r.Remaining)
	require.Equal(t, 40*time.Second, r.Reset, "the first request leaves the window a minute after it was made")
	require.Equal(t, 40, r.ResetSeconds())

	other, err := a.Allow(ctx, "im:globex:rl:tenant", lim)
	require.NoError(t, err)
	require.True(t, other.Allowed, "another key has its own count")

	set(start.Add(time.Minute))
	r, err = a.Allow(ctx, "im:acme:rl:tenant", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed, "the first request has left the window")
	r, err = a.Allow(ctx, "im:acme:rl:tenant", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed, "the second is still in it")
	require.Equal(t, time.Second, r.Reset)
}

// TestLimiterBurstStraddlingTheWindowEdge sends a full burst just before a
// minute boundary and another just after it, then steady traffic, and checks
// that no interval of one window, wherever it starts, admitted more than the
// limit. A fixed window counted per aligned minute admits both bursts: twice
// the limit within two seconds.
func TestLimiterBurstStraddlingTheWindowEdge(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	edge := time.Now().Truncate(time.Minute).Add(time.Minute)
	now, set := fixedClock(edge)
	l := NewLimiter(rdb)
	l.now = now
	lim := Limit{Requests: 10, Window: time.Minute}
	ctx := context.Background()

	var sent []time.Time
	for i := range 20 {
		sent = append(sent, edge.Add(-time.Second+time.Duration(i)*100*time.Millisecond)) // edge-1s .. edge+0.9s
	}
	for i := range 150 { // then one request every second for 150 s
		sent = append(sent, edge.Add(time.Second+time.Duration(i)*time.Second))
	}
	var admitted []time.Time
	for _, at := range sent {
		set(at)
		r, err := l.Allow(ctx, "im:acme:rl:user:ann", lim)
		require.NoError(t, err)
		if r.Allowed {
			admitted = append(admitted, at)
		}
	}
	require.Len(t, admitted[:10], 10, "the first burst is within the limit")
	for i := range admitted {
		// Every interval of one window starting at an admitted request.
		in := 0
		for _, at := range admitted[i:] {
			if at.Sub(admitted[i]) < lim.Window {
				in++
			}
		}
		require.LessOrEqual(t, in, lim.Requests, "window starting %s admitted %d", admitted[i].Sub(edge), in)
	}
	// The limit is used, not just refused: 10 per minute over 2.5 minutes.
	require.GreaterOrEqual(t, len(admitted), 30)
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
