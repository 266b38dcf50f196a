package gateway

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// newCountingEnv is newEnv with a driver CommandMonitor on the gateway's
// store, counting every command the store sends.
func newCountingEnv(t *testing.T) (*env, *atomic.Int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devstackStart.Lock()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	devstackStart.Unlock()
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	var commands atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		// The audit log's asynchronous inserts are not the request's reads.
		if coll, ok := ev.Command.Lookup(ev.CommandName).StringValueOK(); ok && ev.CommandName == "insert" && coll == store.CollAudit {
			return
		}
		commands.Add(1)
	}}
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "gateway-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	st, err := store.Connect(ctx, stack.MongoURI, "gw_recs", store.WithCommandMonitor(mon))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	ch, err := cache.Connect(ctx, stack.RedisURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	deps := realDeps(t, b, st, ch)
	withTestCatalogue(t, &deps)
	deps.Verifier = auth.NewVerifier(key.Public().(ed25519.PublicKey), testIssuer, testAudience)
	deps.Logger, deps.Metrics, deps.Registry = slog.New(slog.NewTextHandler(io.Discard, nil)), metrics, reg
	srv, err := New(Config{}, deps)
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, http: hs, bus: b, store: st, cache: ch, signer: auth.NewSigner(key, testIssuer, testAudience), key: key}, &commands
}

// hundred builds 100 recommendations cycling through categories, priorities
// and families, with a cost on every other one.
func hundred() recommend.Set {
	fams := []string{"strategy", "cloud", "mlops", "compliance", "research", "simulation"}
	var set recommend.Set
	for i := range 100 {
		r := recommend.Recommendation{
			ID: fmt.Sprintf("rec_%03d", i), Category: recommend.Categories()[i%7], Priority: recommend.Priorities()[i%4],
			Family: fams[i%6], Action: fmt.Sprintf("action %d", i), Rationale: "r", Effort: "M",
			Confidence: float64(i%10) / 10, Risks: []string{},
		}
		if i%2 == 0 {
			r.MonthlyUSD = &recommend.CostImpact{LowUSD: float64(i), HighUSD: float64(i * 2), Basis: "b"}
		}
		set.Recommendations = append(set.Recommendations, r)
	}
	set.Resolutions = []recommend.Resolution{{Rule: "slo_over_budget", Winner: "cloud", Loser: "budget", Detail: "d"}}
	return set
}

func TestRecommendationsServedFromAFixedNumberOfRoundTrips(t *testing.T) {
	e, commands := newCountingEnv(t)
	ctx := context.Background()
	id := e.create(t, "acme", "recs")
	a, err := e.store.Assessments.Get(ctx, "acme", id)
	require.NoError(t, err)
	_, _, err = e.store.Assessments.Finish(ctx, "acme", id, "completed", nil, "", time.Now())
	require.NoError(t, err)
	require.NoError(t, e.store.Recommendations.Upsert(ctx, store.Recommendations{TenantID: a.TenantID, AssessmentID: id, Status: "completed", Set: hundred()}))

	queries := []string{"", "category=cost", "family=cloud&sort=cost", "priority=high&min_confidence=0.3&sort=confidence&order=asc"}
	for _, q := range queries {
		var seen []string
		cursor := ""
		pages := 0
		for {
			path := "/v1/assessments/" + id + "/recommendations?limit=7&" + q
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			before := commands.Load()
			resp := e.do(t, http.MethodGet, path, "acme", "", nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			body := decodeBody[api.RecommendationList](t, resp)
			// Every page, whatever the list's length: one read by key (the
			// monitor does see it, so the bound is not vacuous).
			n := commands.Load() - before
			require.GreaterOrEqual(t, n, int64(1), "the monitor saw the read for %s", path)
			require.LessOrEqual(t, n, int64(2), "database commands for %s", path)
			for _, r := range body.Items {
				seen = append(seen, r.ID)
			}
			pages++
			cursor = val(body.NextCursor)
			if cursor == "" {
				require.Len(t, seen, body.Total, q)
				break
			}
		}
		if q == "" {
			require.Len(t, seen, 100)
			require.Equal(t, 15, pages)
		}
		uniq := map[string]bool{}
		for _, s := range seen {
			require.False(t, uniq[s], "%s twice in %q", s, q)
			uniq[s] = true
		}
	}
}

func TestRecommendationsQueries(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t)
	ctx := context.Background()
	id := e.finished(t, "acme", "recs", "completed")
	pending := e.finished(t, "acme", "pending", "queued")
	require.NoError(t, e.recs.Upsert(ctx, store.Recommendations{TenantID: "acme", AssessmentID: id, Set: hundred()}))
	base := "/v1/assessments/" + id + "/recommendations"

	tests := []struct {
		name, path, tenant string
		status             int
		check              func(t *testing.T, body api.RecommendationList)
		problemField       string
	}{
		{name: "filters combine", path: base + "?category=cost&priority=medium", tenant: "acme", status: 200,
			check: func(t *testing.T, body api.RecommendationList) {
				require.NotEmpty(t, body.Items)
				for _, r := range body.Items {
					require.Equal(t, api.RecommendationCategory("cost"), r.Category)
					require.Equal(t, api.RecommendationPriority("medium"), r.Priority)
				}
				require.Len(t, body.Resolutions, 1)
			}},
		{name: "min confidence", path: base + "?min_confidence=0.85&limit=100", tenant: "acme", status: 200,
			check: func(t *testing.T, body api.RecommendationList) {
				require.Equal(t, 10, body.Total)
				for _, r := range body.Items {
					require.GreaterOrEqual(t, r.Confidence, 0.85)
				}
			}},
		{name: "cost descending puts the largest impact first and unknown costs last", path: base + "?sort=cost&limit=100", tenant: "acme", status: 200,
			check: func(t *testing.T, body api.RecommendationList) {
				require.Equal(t, "rec_098", body.Items[0].ID)
				require.Nil(t, body.Items[99].MonthlyCostImpact)
				require.NotNil(t, body.Items[49].MonthlyCostImpact)
			}},
		{name: "priority ascending is most urgent first", path: base + "?limit=100", tenant: "acme", status: 200,
			check: func(t *testing.T, body api.RecommendationList) {
				require.Equal(t, api.RecommendationPriority("critical"), body.Items[0].Priority)
				require.Equal(t, api.RecommendationPriority("low"), body.Items[99].Priority)
			}},
		{name: "unknown category names the field", path: base + "?category=vibes", tenant: "acme", status: 400, problemField: "category"},
		{name: "bad confidence names the field", path: base + "?min_confidence=2", tenant: "acme", status: 400, problemField: "min_confidence"},
		{name: "bad sort names the field", path: base + "?sort=name", tenant: "acme", status: 400, problemField: "sort"},
		{name: "bad order names the field", path: base + "?order=up", tenant: "acme", status: 400, problemField: "order"},
		{name: "bad limit names the field", path: base + "?limit=0", tenant: "acme", status: 400, problemField: "limit"},
		{name: "forged cursor names the field", path: base + "?cursor=nope", tenant: "acme", status: 400, problemField: "cursor"},
		{name: "another tenant's assessment is not found", path: base, tenant: "globex", status: 404},
		{name: "not ready before the assessment ends", path: "/v1/assessments/" + pending + "/recommendations", tenant: "acme", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(t, http.MethodGet, tt.path, tt.tenant, "", nil, nil)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.check != nil {
				tt.check(t, decodeBody[api.RecommendationList](t, resp))
				return
			}
			p := decodeBody[Problem](t, resp)
			if tt.problemField != "" {
				require.Equal(t, tt.problemField, p.Errors[0].Field)
			}
			if strings.Contains(tt.name, "not ready") {
				require.Equal(t, ProblemRecommendationsNotReady, p.Type)
			}
			if strings.Contains(tt.name, "another tenant") {
				require.Equal(t, ProblemNotFound, p.Type)
			}
		})
	}

	// A cursor is valid only with the query it was issued for.
	resp := e.do(t, http.MethodGet, base+"?limit=5", "acme", "", nil, nil)
	first := decodeBody[api.RecommendationList](t, resp)
	require.NotEmpty(t, val(first.NextCursor))
	resp = e.do(t, http.MethodGet, base+"?limit=5&category=cost&cursor="+url.QueryEscape(*first.NextCursor), "acme", "", nil, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "cursor", decodeBody[Problem](t, resp).Errors[0].Field)
}
