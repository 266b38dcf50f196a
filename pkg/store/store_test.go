package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestContractEmbeddedFerretDB runs the contract against the embedded
// FerretDB (SQLite) that `make run` uses.
func TestContractEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)

	s, err := store.Connect(ctx, stack.MongoURI, "infra_mind_test")
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		require.NoError(t, s.Close(cctx))
	})

	// Indexes are declared idempotently: a second service starting on the
	// same database must not fail.
	other, err := store.Connect(ctx, stack.MongoURI, "infra_mind_test")
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		require.NoError(t, other.Close(cctx))
	})

	runContract(t, s)
	runAcrossProcesses(t, s, other)
}

func TestConnectRefusesEmptyDatabase(t *testing.T) {
	t.Parallel()
	_, err := store.Connect(t.Context(), "mongodb://127.0.0.1:1", "")
	require.ErrorIs(t, err, store.ErrInvalid)
}
