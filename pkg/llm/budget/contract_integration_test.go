//go:build integration

package budget_test

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestIntegrationLedgerContract runs the ledger's contract on the fake and
// on redis-server named by IM_TEST_REDIS_URL (database 7; every run's
// tenants carry a prefix of their own), whose Lua is the real one.
func TestIntegrationLedgerContract(t *testing.T) {
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
	runLedgerContract(t, map[string]newContractLedger{"fake": fakeContractLedger, "redis-server": redisContractLedger(rdb)})
}
