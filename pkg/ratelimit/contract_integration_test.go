//go:build integration

package ratelimit_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestIntegrationLimitsContract runs the limits' contract on the fakes and
// on redis-server named by IM_TEST_REDIS_URL (database 7, as
// TestIntegrationScriptsOnRedis; its keys carry a prefix of their own).
func TestIntegrationLimitsContract(t *testing.T) {
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
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, rdb.Ping(ctx).Err())
	runLimitsContract(t, map[string]func() limitsHarness{
		"fake":         fakeLimits,
		"redis-server": func() limitsHarness { return redisLimits(rdb, fmt.Sprintf("contract%d:", time.Now().UnixNano())) },
	})
}
