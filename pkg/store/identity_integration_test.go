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

// TestIntegrationIdentityMongo runs the identity repositories' contract
// against the server named by IM_TEST_MONGO_URI, in a database of its own.
func TestIntegrationIdentityMongo(t *testing.T) {
	uri := os.Getenv("IM_TEST_MONGO_URI")
	if uri == "" {
		t.Fatal("IM_TEST_MONGO_URI is not set")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := store.Connect(ctx, uri, uniq("identity_it"))
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		require.NoError(t, s.Database().Drop(cctx))
		require.NoError(t, s.Close(cctx))
	})
	runIdentityContract(t, s)
}
