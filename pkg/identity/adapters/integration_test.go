//go:build integration

package adapters_test

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestIntegrationContracts runs the contracts against FerretDB v1.24 on
// PostgreSQL and redis-server, named by IM_TEST_MONGO_URI and
// IM_TEST_REDIS_URL (scripts/integration.sh starts them).
func TestIntegrationContracts(t *testing.T) {
	uri, redisURL := os.Getenv("IM_TEST_MONGO_URI"), os.Getenv("IM_TEST_REDIS_URL")
	if uri == "" || redisURL == "" {
		t.Fatal("IM_TEST_MONGO_URI and IM_TEST_REDIS_URL must be set")
	}
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(t.Context()).Err())
	runContracts(t, fakeBackend(), realBackend(uri, rdb))
}
