//go:build integration

package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestIntegrationContractMongo runs the contract against the server named by
// IM_TEST_MONGO_URI (FerretDB v1.24 on PostgreSQL in CI), in a database of
// its own that is dropped afterwards.
func TestIntegrationContractMongo(t *testing.T) {
	uri := os.Getenv("IM_TEST_MONGO_URI")
	if uri == "" {
		t.Fatal("IM_TEST_MONGO_URI is not set")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db := uniq("store_it")
	s, err := store.Connect(ctx, uri, db)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		require.NoError(t, s.Database().Drop(cctx))
		require.NoError(t, s.Close(cctx))
	})

	// A second service on the same database: indexes are declared idempotently.
	other, err := store.Connect(ctx, uri, db)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		require.NoError(t, other.Close(cctx))
	})

	runContract(t, s)
	runAcrossProcesses(t, s, other)
}
