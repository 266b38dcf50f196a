package store_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
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

// TestRecommendationsStoredForm: recommendations are stored with their set
// compressed and read back whole, recommendations stored before in the plain
// form still read (from the store and from a read model's copy), and a reader
// from before the compressed form fails on it instead of reading an empty set.
func TestRecommendationsStoredForm(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir(), SkipNATS: true, SkipRedis: true})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "recommendations_form")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	cat, err := catalog.Load()
	require.NoError(t, err)
	_, results := exampleOutputs(t, cat, filepath.Join("..", "..", "examples", "chatbot-70b-hipaa-us.yaml"))
	// As stored: a recommendation's kind is never stored.
	var set recommend.Set
	b, err := bson.Marshal(recommend.Build(results))
	require.NoError(t, err)
	require.NoError(t, bson.Unmarshal(b, &set))
	require.NotEmpty(t, set.Recommendations)
	at := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	coll := s.Database().Collection(store.CollRecommendations)

	// plainForm is a document as stored before the set was compressed.
	plainForm := func(tenant, id string) []byte {
		b, err := bson.Marshal(bson.D{
			{Key: "_id", Value: store.RecommendationsID(tenant, id)}, {Key: "tenant_id", Value: tenant},
			{Key: "assessment_id", Value: id}, {Key: "status", Value: "completed"}, {Key: "set", Value: set},
			{Key: "created_at", Value: at},
		})
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, tenant, id string)
	}{
		{"written compressed, read back whole", func(t *testing.T, tenant, id string) {
			require.NoError(t, s.Recommendations.Create(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id,
				Status: "completed", Set: set, CreatedAt: at}))
			raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: store.RecommendationsID(tenant, id)}}).Raw()
			require.NoError(t, err)
			require.Equal(t, bson.TypeBinary, raw.Lookup("set").Type, "the set is stored compressed")
			require.Less(t, len(raw)*4, len(plainForm(tenant, id)), "stored at less than a quarter of its plain size")
			got, err := s.Recommendations.Get(ctx, tenant, id)
			require.NoError(t, err)
			require.Equal(t, set, got.Set)
			require.Equal(t, "completed", got.Status)
			require.Equal(t, at, got.CreatedAt)
		}},
		{"a document stored before compression still reads", func(t *testing.T, tenant, id string) {
			_, err := coll.InsertOne(ctx, bson.Raw(plainForm(tenant, id)))
			require.NoError(t, err)
			got, err := s.Recommendations.Get(ctx, tenant, id)
			require.NoError(t, err)
			require.Equal(t, set, got.Set)
			require.ErrorIs(t, s.Recommendations.Create(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id, Set: set}),
				store.ErrConflict, "a written set is final")
		}},
		{"a read model's copy in either form reads", func(t *testing.T, tenant, id string) {
			for _, b := range [][]byte{plainForm(tenant, id), mustMarshal(t, store.Recommendations{
				ID: store.RecommendationsID(tenant, id), TenantID: tenant, AssessmentID: id, Status: "completed", Set: set, CreatedAt: at,
			})} {
				got, err := store.UnmarshalRecommendations(b)
				require.NoError(t, err)
				require.Equal(t, set, got.Set)
				require.Equal(t, tenant, got.TenantID)
			}
		}},
		{"a reader from before fails on the compressed form", func(t *testing.T, tenant, id string) {
			var old store.Recommendations
			err := bson.Unmarshal(mustMarshal(t, store.Recommendations{TenantID: tenant, AssessmentID: id, Set: set}), &old)
			require.Error(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, uniq("t"), uniq("a")) })
	}
}

func mustMarshal(t *testing.T, rec store.Recommendations) []byte {
	t.Helper()
	b, err := store.MarshalRecommendations(rec)
	require.NoError(t, err)
	return b
}
