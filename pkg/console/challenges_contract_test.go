package console_test

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/console/consoletest"
)

// challengesHarness is a console.Challenges with a way to let time pass on
// the clock its entries expire by.
type challengesHarness struct {
	c       console.Challenges
	advance func(t *testing.T, d time.Duration)
}

// TestChallengesContract runs the sign-in challenges' contract on the fake
// and on RedisChallenges over the embedded Redis-protocol server, whose
// clock moves only when told (integration_test.go runs it on redis-server).
func TestChallengesContract(t *testing.T) {
	t.Parallel()
	fake := consoletest.NewChallenges()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	onRedis, err := console.NewRedisChallenges(rdb)
	require.NoError(t, err)
	runChallengesContract(t, map[string]challengesHarness{
		"fake":      {c: fake, advance: func(_ *testing.T, d time.Duration) { fake.Advance(d) }},
		"miniredis": {c: onRedis, advance: func(_ *testing.T, d time.Duration) { mr.FastForward(d) }},
	})
}

func runChallengesContract(t *testing.T, hs map[string]challengesHarness) {
	t.Helper()
	for name, h := range hs {
		t.Run(name, func(t *testing.T) {
			testChallengesContract(t, h)
		})
	}
}

func newChallengeID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

func testChallengesContract(t *testing.T, h challengesHarness) {
	ctx := t.Context()
	t.Run("a challenge is taken once, as it was put", func(t *testing.T) {
		id := newChallengeID(t)
		require.NoError(t, h.c.Put(ctx, id, []byte(`{"tenant":"acme"}`), time.Minute))
		b, ok, err := h.c.Take(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, `{"tenant":"acme"}`, string(b))
		_, ok, err = h.c.Take(ctx, id)
		require.NoError(t, err)
		require.False(t, ok, "a challenge is used once")
	})
	t.Run("an unknown id is no challenge", func(t *testing.T) {
		b, ok, err := h.c.Take(ctx, newChallengeID(t))
		require.NoError(t, err)
		require.False(t, ok)
		require.Nil(t, b)
	})
	t.Run("a challenge expires after its ttl, not before", func(t *testing.T) {
		early, late := newChallengeID(t), newChallengeID(t)
		require.NoError(t, h.c.Put(ctx, early, []byte("early"), 5*time.Minute))
		require.NoError(t, h.c.Put(ctx, late, []byte("late"), 5*time.Minute))
		h.advance(t, 4*time.Minute)
		b, ok, err := h.c.Take(ctx, early)
		require.NoError(t, err)
		require.True(t, ok, "taken within its ttl")
		require.Equal(t, "early", string(b))
		h.advance(t, 2*time.Minute)
		_, ok, err = h.c.Take(ctx, late)
		require.NoError(t, err)
		require.False(t, ok, "expired")
	})
	t.Run("putting again replaces the challenge", func(t *testing.T) {
		id := newChallengeID(t)
		require.NoError(t, h.c.Put(ctx, id, []byte("first"), time.Minute))
		require.NoError(t, h.c.Put(ctx, id, []byte("second"), time.Minute))
		b, ok, err := h.c.Take(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "second", string(b))
	})
	t.Run("two takers at once: one gets it", func(t *testing.T) {
		id := newChallengeID(t)
		require.NoError(t, h.c.Put(ctx, id, []byte("once"), time.Minute))
		var wg sync.WaitGroup
		got := make(chan bool, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := h.c.Take(ctx, id)
				if err == nil {
					got <- ok
				}
			}()
		}
		wg.Wait()
		close(got)
		n, taken := 0, 0
		for ok := range got {
			n++
			if ok {
				taken++
			}
		}
		require.Equal(t, 8, n)
		require.Equal(t, 1, taken)
	})
}
