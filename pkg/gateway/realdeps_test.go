package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// RealPorts builds the gateway's ports on NATS (b), the document store (st)
// and Redis (c) as the composition root does: it is
// platform/gatewayrole.NewPorts with its defaults (no bound on the
// assessments in flight, a 5-minute report cache). This package's own tests
// cannot import gatewayrole, which imports the gateway, so the external
// test package sets it in TestMain (main_test.go) before any test runs.
var RealPorts func(ctx context.Context, b *bus.Bus, st *store.Store, c *cache.Cache) (Deps, error)

// realDeps are the gateway's ports on real servers (RealPorts), with a
// language model ledger on ch's Redis and no budgets.
func realDeps(t *testing.T, b *bus.Bus, st *store.Store, ch *cache.Cache) Deps {
	t.Helper()
	require.NotNil(t, RealPorts, "RealPorts is set by TestMain in main_test.go")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := RealPorts(ctx, b, st, ch)
	require.NoError(t, err)
	d.LLMBudget, err = budget.New(ch.Client(), budget.Limits{}, nil, budget.Options{})
	require.NoError(t, err)
	return d
}
