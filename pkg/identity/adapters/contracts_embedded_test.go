package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
)

// TestContracts runs the contracts on the fakes and on the real adapters
// over the embedded servers (FerretDB on SQLite, the embedded Redis-protocol
// server); TestIntegrationContracts runs them on the servers CI uses.
func TestContracts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	opt, err := redis.ParseURL(stack.RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	runContracts(t, fakeBackend(), realBackend(stack.MongoURI, rdb))
}
