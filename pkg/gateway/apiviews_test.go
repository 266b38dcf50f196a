package gateway

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/scenario"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// A stored request is protojson, which writes 64-bit integers as strings;
// the API's answer types them as numbers, and a user reads back the number
// they sent.
func TestStoredRequestReadsBackItsNumbers(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{Name: "rag", Workloads: []*inframindv1.Workload{
		{Name: "search", Kind: "rag", VectorCount: 12_000_000, CorpusGb: 1.5},
		{Name: "api", Kind: "web_service"},
	}}
	stored, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(req)
	require.NoError(t, err)
	require.Contains(t, string(stored), `"12000000"`, "protojson quotes int64")

	got, err := assessmentOf(store.Assessment{ID: "a", Request: string(stored)}, true)
	require.NoError(t, err)
	require.NotNil(t, got.Request)
	require.Len(t, got.Request.Workloads, 2)
	require.NotNil(t, got.Request.Workloads[0].VectorCount)
	require.Equal(t, 12_000_000, *got.Request.Workloads[0].VectorCount)
	require.Nil(t, got.Request.Workloads[1].VectorCount)

	list, err := assessmentOf(store.Assessment{ID: "a", Request: string(stored)}, false)
	require.NoError(t, err)
	require.Nil(t, list.Request, "lists leave the request out")
}

// The answers built as the generated types carry every field of what the
// use cases return, with the same JSON values: a field left out of a
// conversion, or a null turned into [] or the reverse, fails here.
func TestGeneratedAnswersKeepEveryValue(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	impact := &recommend.CostImpact{LowUSD: -1200.5, HighUSD: -800, Basis: "cloud family range"}
	d := report.ReportDiff{
		BaseID: "b", OtherID: "o", BaseCatalog: []string{"2026-12-01.1"}, OtherCatalog: []string{"2026-12-06.3"},
		Status:  report.Change[string]{Base: "completed", Other: "partial", Changed: true},
		Changed: true,
		Cost: []report.MetricChange{{Family: "cloud", Name: "monthly_cost_usd_low", Unit: "USD/month", Base: f(100), Other: f(150), Delta: f(50), DeltaPct: f(50)},
			{Family: "cloud", Workload: "chat", Name: "replicas_low", Other: f(2)}},
		Metrics:                 []report.MetricChange{{Family: "strategy", Name: "risk_count", Base: f(0), Other: f(3), Delta: f(3)}},
		MetricsOmitted:          4,
		RecommendationsCompared: true,
		RecommendationsAdded:    []report.RecRef{{ID: "r1", Priority: "high", Action: "Add a replica"}},
		RecommendationsRemoved:  []report.RecRef{},
		RecommendationsChanged: []report.RecChange{{ID: "r2", Action: "Commit for a year",
			Priority:   report.Change[string]{Base: "low", Other: "high", Changed: true},
			Confidence: report.Change[float64]{Base: 0.5, Other: 0.75, Changed: true},
			CostImpact: report.Change[*recommend.CostImpact]{Base: nil, Other: impact, Changed: true}}},
		Findings: report.FindingsDiff{Added: []report.FindingRef{{Family: "compliance", Title: "HIPAA", Severity: "high"}},
			Removed: []report.FindingRef{{Family: "cloud", Title: "GPU scarce"}}},
		Summary: "Cost rises 50%.",
	}
	sameJSON(t, d, reportDiffOf(d))
	// A diff with nothing compared keeps its empty and null lists as they were.
	sameJSON(t, report.ReportDiff{}, reportDiffOf(report.ReportDiff{}))

	r := recommend.Recommendation{ID: "rec_1", Category: "cost", Priority: "high", Family: "cloud", Workload: "chat",
		Action: "Commit", Rationale: "Steady load.", Effort: "S", Confidence: 0.8, Risks: []string{"R1"}, MonthlyUSD: impact,
		Numbers: []recommend.Number{{Name: "n", Value: 0, Unit: "USD", Workload: "chat", Formula: "a x b", Source: "catalogue"}, {Name: "m", Value: 2}}}
	sameJSON(t, r, recommendationOf(r))
	sameJSON(t, recommend.Recommendation{ID: "bare"}, recommendationOf(recommend.Recommendation{ID: "bare"}))
	res := recommend.Resolution{Rule: "compliance wins", Winner: "a", Loser: "b", Detail: "d", Affected: []string{"a", "b"}}
	sameJSON(t, res, resolutionOf(res))

	o := scenario.Overrides{TrafficMultiplier: f(2), Regions: []string{"eu-west-1"}, DataResidency: []string{"EU"}, Precision: "fp8",
		ProviderPreference: []string{"aws"}, ProviderExclusions: []string{"gcp"}, MonthlyBudgetUSD: f(5000)}
	stored, err := json.Marshal(o)
	require.NoError(t, err)
	sc := scenarioOf(store.Assessment{ID: "s", ParentID: "b", Overrides: string(stored)})
	sameJSON(t, o, sc.Overrides)
}

// sameJSON fails unless want and got encode to the same JSON values (key
// order aside).
func sameJSON(t *testing.T, want, got any) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(w), string(g))
}
