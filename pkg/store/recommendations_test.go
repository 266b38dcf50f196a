package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestRecommendationsEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	var finds atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" {
			finds.Add(1)
		}
	}}
	s, err := store.Connect(ctx, stack.MongoURI, "infra_mind_test", store.WithCommandMonitor(mon))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	set := recommend.Set{Recommendations: []recommend.Recommendation{
		{ID: "rec_1", Category: recommend.CategoryCost, Priority: recommend.PriorityHigh, Family: "cloud", Action: "Commit",
			MonthlyUSD: &recommend.CostImpact{LowUSD: -2, HighUSD: -1, Basis: "b"}, Effort: "S", Confidence: 0.9, Risks: []string{"Budget overrun"}},
	}, Resolutions: []recommend.Resolution{{Rule: "slo_over_budget", Winner: "cloud", Loser: "budget", Detail: "d"}}}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"upsert twice keeps one document and reads back the whole set", func(t *testing.T) {
			tenant, id := uniq("t"), uniq("a")
			doc := store.Recommendations{TenantID: tenant, AssessmentID: id, Status: "completed", Set: set}
			require.NoError(t, s.Recommendations.Upsert(ctx, doc))
			require.NoError(t, s.Recommendations.Upsert(ctx, doc))
			got, err := s.Recommendations.Get(ctx, tenant, id)
			require.NoError(t, err)
			require.Equal(t, store.RecommendationsID(tenant, id), got.ID)
			require.Equal(t, set, got.Set)
			n, err := s.Database().Collection(store.CollRecommendations).CountDocuments(ctx, map[string]any{"tenant_id": tenant})
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
		}},
		{"another tenant's assessment is not found", func(t *testing.T) {
			tenant, id := uniq("t"), uniq("a")
			require.NoError(t, s.Recommendations.Upsert(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id, Set: set}))
			_, err := s.Recommendations.Get(ctx, uniq("other"), id)
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"a foreign id is refused", func(t *testing.T) {
			err := s.Recommendations.Upsert(ctx, store.Recommendations{ID: "x", TenantID: uniq("t"), AssessmentID: uniq("a")})
			require.ErrorIs(t, err, store.ErrInvalid)
		}},
		{"get is one find by key", func(t *testing.T) {
			tenant, id := uniq("t"), uniq("a")
			require.NoError(t, s.Recommendations.Upsert(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id, Set: set}))
			before := finds.Load()
			_, err := s.Recommendations.Get(ctx, tenant, id)
			require.NoError(t, err)
			require.Equal(t, int64(1), finds.Load()-before)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}
