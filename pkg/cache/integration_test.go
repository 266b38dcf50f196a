//go:build integration

package cache_test

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/cache"
)

// cacheDB is the Redis database index this package's integration tests own.
const cacheDB = "/5"

// TestIntegrationContractRedis runs the contract against the server named by
// IM_TEST_REDIS_URL, in database 5 only, which it flushes afterwards.
func TestIntegrationContractRedis(t *testing.T) {
	raw := os.Getenv("IM_TEST_REDIS_URL")
	if raw == "" {
		t.Fatal("IM_TEST_REDIS_URL is not set")
	}
	u, err := url.Parse(raw)
	require.NoError(t, err, "IM_TEST_REDIS_URL")
	u.Path = cacheDB
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := cache.Connect(ctx, u.String())
	require.NoError(t, err)
	require.Equal(t, 5, c.Client().Options().DB)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		require.NoError(t, c.Client().FlushDB(cctx).Err())
		require.NoError(t, c.Close())
	})

	runContract(t, c)
}
