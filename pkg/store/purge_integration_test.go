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

// TestIntegrationPurgeExpiredMongo runs the purge contract against the
// server named by IM_TEST_MONGO_URI, each subtest in a database of its own.
func TestIntegrationPurgeExpiredMongo(t *testing.T) {
	uri := os.Getenv("IM_TEST_MONGO_URI")
	if uri == "" {
		t.Fatal("IM_TEST_MONGO_URI is not set")
	}
	runPurgeContract(t, func(t *testing.T, database string) *store.Store {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s, err := store.Connect(ctx, uri, database)
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			// Two stores may share a database; dropping it twice is fine.
			require.NoError(t, s.Database().Drop(cctx))
			require.NoError(t, s.Close(cctx))
		})
		return s
	})
}
