package cache_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/cache"
)

// runContract is the behaviour every Redis-protocol server behind Cache must show.
func runContract(t *testing.T, c *cache.Cache) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, c *cache.Cache)
	}{
		{"ping", func(t *testing.T, c *cache.Cache) { require.NoError(t, c.Ping(t.Context())) }},
		{"roundtrip", testRoundtrip},
		{"miss returns false", testMiss},
		{"delete", testDelete},
		{"ttl is set and expires", testTTL},
		{"undecodable value is an error", testUndecodable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, c)
		})
	}
}

// tenant returns a fresh tenant id, so tests sharing a server never meet.
func tenant() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "tenant-" + hex.EncodeToString(b)
}

type summary struct {
	Name     string   `json:"name"`
	Families []string `json:"families"`
	Cost     float64  `json:"cost"`
}

func testRoundtrip(t *testing.T, c *cache.Cache) {
	ctx := t.Context()
	key := cache.Key(tenant(), "assessment", "a1")
	in := summary{Name: "Serve a 70B model", Families: []string{"cloud", "simulation"}, Cost: 12345.5}
	require.NoError(t, c.SetJSON(ctx, key, in, time.Minute))
	var out summary
	ok, err := c.GetJSON(ctx, key, &out)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, in, out)

	// Overwrite replaces.
	in.Cost = 1
	require.NoError(t, c.SetJSON(ctx, key, in, time.Minute))
	ok, err = c.GetJSON(ctx, key, &out)
	require.NoError(t, err)
	require.True(t, ok)
	require.InDelta(t, 1.0, out.Cost, 0)
}

func testMiss(t *testing.T, c *cache.Cache) {
	out := summary{Name: "untouched"}
	ok, err := c.GetJSON(t.Context(), cache.Key(tenant(), "assessment", "missing"), &out)
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, "untouched", out.Name)
}

func testDelete(t *testing.T, c *cache.Cache) {
	ctx := t.Context()
	tn := tenant()
	k1, k2 := cache.Key(tn, "a"), cache.Key(tn, "b")
	require.NoError(t, c.SetJSON(ctx, k1, 1, time.Minute))
	require.NoError(t, c.SetJSON(ctx, k2, 2, time.Minute))
	require.NoError(t, c.Delete(ctx, k1, k2, cache.Key(tn, "never-set")))
	require.NoError(t, c.Delete(ctx))
	for _, k := range []string{k1, k2} {
		var v int
		ok, err := c.GetJSON(ctx, k, &v)
		require.NoError(t, err)
		require.False(t, ok, k)
	}
}

func testTTL(t *testing.T, c *cache.Cache) {
	ctx := t.Context()
	tn := tenant()
	forever := cache.Key(tn, "forever")
	require.NoError(t, c.SetJSON(ctx, forever, "x", 0))
	require.Equal(t, time.Duration(-1), c.Client().PTTL(ctx, forever).Val(), "ttl 0 keeps the key")
	require.Error(t, c.SetJSON(ctx, forever, "x", -time.Second))

	key := cache.Key(tn, "short")
	require.NoError(t, c.SetJSON(ctx, key, "x", 1100*time.Millisecond))
	pttl := c.Client().PTTL(ctx, key).Val()
	require.Positive(t, pttl)
	require.LessOrEqual(t, pttl, 1100*time.Millisecond)
	// The one sleeping test: the key must be gone after its ttl on wall-clock time.
	time.Sleep(1300 * time.Millisecond)
	var v string
	ok, err := c.GetJSON(ctx, key, &v)
	require.NoError(t, err)
	require.False(t, ok, "key outlived its ttl")
}

func testUndecodable(t *testing.T, c *cache.Cache) {
	ctx := t.Context()
	key := cache.Key(tenant(), "raw")
	require.NoError(t, c.Client().Set(ctx, key, "not json", time.Minute).Err())
	var v summary
	ok, err := c.GetJSON(ctx, key, &v)
	require.Error(t, err)
	require.False(t, ok)
}
