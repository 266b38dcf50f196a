//go:build integration

package console_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/console/consoletest"
)

// TestIntegrationChallengesContract runs the challenges' contract on
// redis-server, named by IM_TEST_REDIS_URL (scripts/integration.sh starts
// it). Redis's clock cannot be moved, so time passes by sleeping past a
// short ttl: advance sleeps d/60 (5 minutes become 5 seconds) and the
// server's entries are put with their ttl divided the same way.
func TestIntegrationChallengesContract(t *testing.T) {
	redisURL := os.Getenv("IM_TEST_REDIS_URL")
	if redisURL == "" {
		t.Fatal("IM_TEST_REDIS_URL must be set")
	}
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(t.Context()).Err())
	onRedis, err := console.NewRedisChallenges(rdb)
	require.NoError(t, err)
	fake := consoletest.NewChallenges()
	runChallengesContract(t, map[string]challengesHarness{
		"fake":         {c: fake, advance: func(_ *testing.T, d time.Duration) { fake.Advance(d) }},
		"redis-server": {c: scaledTTL{onRedis}, advance: func(_ *testing.T, d time.Duration) { time.Sleep(d / 60) }},
	})
}

// scaledTTL puts challenges with a sixtieth of their ttl, the scale the
// redis-server harness's advance sleeps by.
type scaledTTL struct{ console.Challenges }

func (s scaledTTL) Put(ctx context.Context, id string, b []byte, ttl time.Duration) error {
	return s.Challenges.Put(ctx, id, b, ttl/60)
}
