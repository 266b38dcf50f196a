//go:build integration

package ratelimit

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestIntegrationScriptsOnRedis runs the limiter and slot scripts on the
// server named by IM_TEST_REDIS_URL (database 7 only, flushed afterwards):
// the embedded server's Lua is not the real one.
func TestIntegrationScriptsOnRedis(t *testing.T) {
	raw := os.Getenv("IM_TEST_REDIS_URL")
	if raw == "" {
		t.Fatal("IM_TEST_REDIS_URL is not set")
	}
	u, err := url.Parse(raw)
	require.NoError(t, err, "IM_TEST_REDIS_URL")
	u.Path = "/7"
	opt, err := redis.ParseURL(u.String())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		require.NoError(t, rdb.FlushDB(context.Background()).Err())
		require.NoError(t, rdb.Close())
	})

	a, b := NewLimiter(rdb), NewLimiter(rdb)
	lim := Limit{Requests: 2, Window: 24 * time.Hour}
	for i, l := range []*Limiter{a, b, a} {
		r, err := l.Allow(ctx, "im:acme:rl:tenant", lim)
		require.NoError(t, err)
		require.Equal(t, i < 2, r.Allowed, "request %d", i+1)
	}
	ttl, err := rdb.PTTL(ctx, "im:acme:rl:tenant").Result()
	require.NoError(t, err)
	require.Positive(t, ttl, "the window's log expires")

	s := NewSlots(rdb)
	until := time.Now().Add(time.Minute)
	ok, _, err := s.Acquire(ctx, "im:acme:active", "a1", 1, until)
	require.NoError(t, err)
	require.True(t, ok)
	ok, held, err := s.Acquire(ctx, "im:acme:active", "a2", 1, until)
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 1, held)
	require.NoError(t, s.Hold(ctx, "im:acme:active", "a3", until.Add(time.Minute)))
	ttl, err = rdb.PTTL(ctx, "im:acme:active").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Minute, "the set lives as long as its latest holder")
	holders, err := s.Holders(ctx, "im:acme:active")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a1", "a3"}, holders)
}
