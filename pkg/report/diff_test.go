package report_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/report"
)

func storedJSON(t *testing.T, s report.Document) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return b
}

func recsJSON(t *testing.T, recs ...recommend.Recommendation) []byte {
	t.Helper()
	b, err := json.Marshal(recommend.Set{Recommendations: recs, Resolutions: []recommend.Resolution{}})
	require.NoError(t, err)
	return b
}

// handReport is a small report with a plan cost, a per-workload figure, a
// simulation metric and a finding.
func handReport(id string, monthlyLow, monthlyHigh float64) report.Document {
	return report.Document{
		Model: report.Model{AssessmentID: id, Status: "completed", CatalogVersions: []string{"2026-11-26"}},
		Families: []report.FamilySection{
			{Family: "cloud", Status: "ok", Metrics: []report.Metric{
				{Name: analysis.MetricMonthlyCostLow, Value: monthlyLow, Unit: "USD/month"},
				{Name: analysis.MetricMonthlyCostHigh, Value: monthlyHigh, Unit: "USD/month"},
				{Name: analysis.MetricReplicasLow, Value: 2, Unit: "replicas", Workload: "chat"},
				{Name: analysis.MetricReplicaCapacityRPSLow, Value: 6, Unit: "req/s", Workload: "chat"},
			}, Findings: []report.Item{{Title: "Recommended for chat: aws p5.48xlarge", Severity: "info"}}},
			{Family: "simulation", Status: "ok", Metrics: []report.Metric{
				{Name: "budget_exceeded_probability_24m", Value: 0.25, Unit: "probability"},
			}},
		},
	}
}

func TestDiffHandMade(t *testing.T) {
	t.Parallel()
	recA := recommend.Recommendation{ID: "rec_a", Priority: recommend.PriorityHigh, Action: "Deploy the plan", Confidence: 0.9,
		MonthlyUSD: &recommend.CostImpact{LowUSD: 1000, HighUSD: 2000, Basis: "plan"}}
	recB := recommend.Recommendation{ID: "rec_b", Priority: recommend.PriorityLow, Action: "Buy a commitment", Confidence: 0.75}
	recC := recommend.Recommendation{ID: "rec_c", Priority: recommend.PriorityMedium, Action: "Declare a budget", Confidence: 0.75}
	recA2 := recA
	recA2.Priority = recommend.PriorityCritical
	recA2.MonthlyUSD = &recommend.CostImpact{LowUSD: 2000, HighUSD: 4000, Basis: "plan"}

	base := handReport("a1", 1000, 1500)
	doubled := handReport("a2", 2000, 3000)
	onlyOne := handReport("a3", 1000, 1500)
	onlyOne.Families[1].Metrics = nil
	onlyOne.Families[0].Metrics = append(onlyOne.Families[0].Metrics, report.Metric{Name: analysis.MetricPlanGPUsLow, Value: 16, Unit: "GPUs"})
	moved := handReport("a4", 1000, 1500)
	moved.Families[0].Findings = []report.Item{{Title: "Recommended for chat: azure ND H100 v5", Severity: "info"}}
	moved.Status = "partial"

	tests := []struct {
		name                string
		other               report.Document
		baseRecs, otherRecs []byte
		check               func(t *testing.T, d report.ReportDiff)
	}{
		{name: "identical reports and recommendations", other: base, baseRecs: recsJSON(t, recA, recB), otherRecs: recsJSON(t, recA, recB),
			check: func(t *testing.T, d report.ReportDiff) {
				require.False(t, d.Changed)
				require.False(t, d.Status.Changed)
				require.Empty(t, d.Cost)
				require.Empty(t, d.Metrics)
				require.Empty(t, d.RecommendationsAdded)
				require.Empty(t, d.RecommendationsRemoved)
				require.Empty(t, d.RecommendationsChanged)
				require.Empty(t, d.Findings.Added)
				require.Empty(t, d.Findings.Removed)
				require.True(t, d.RecommendationsCompared)
				require.Equal(t, "No differences between a1 and a1.", d.Summary)
			}},
		{name: "cost doubles", other: doubled,
			check: func(t *testing.T, d report.ReportDiff) {
				require.True(t, d.Changed)
				require.Len(t, d.Cost, 2)
				lo, hi := d.Cost[0], d.Cost[1]
				require.Equal(t, analysis.MetricMonthlyCostLow, lo.Name)
				require.Equal(t, analysis.MetricMonthlyCostHigh, hi.Name)
				require.Equal(t, "cloud", lo.Family)
				require.Equal(t, 1000.0, *lo.Base)
				require.Equal(t, 2000.0, *lo.Other)
				require.Equal(t, 1000.0, *lo.Delta)
				require.Equal(t, 100.0, *lo.DeltaPct)
				require.Equal(t, 1500.0, *hi.Delta)
				require.Equal(t, 100.0, *hi.DeltaPct)
				require.Empty(t, d.Metrics)
				require.False(t, d.RecommendationsCompared)
				require.Contains(t, d.Summary, "monthly cost on demand $1,000.00 - $1,500.00 /month -> $2,000.00 - $3,000.00 /month (midpoint +100.0%)")
			}},
		{name: "metric only in one side", other: onlyOne,
			check: func(t *testing.T, d report.ReportDiff) {
				require.Len(t, d.Cost, 1)
				gpus := d.Cost[0]
				require.Equal(t, analysis.MetricPlanGPUsLow, gpus.Name)
				require.Nil(t, gpus.Base)
				require.Equal(t, 16.0, *gpus.Other)
				require.Nil(t, gpus.Delta)
				require.Nil(t, gpus.DeltaPct)
				require.Len(t, d.Metrics, 1)
				sim := d.Metrics[0]
				require.Equal(t, "simulation", sim.Family)
				require.Equal(t, "budget_exceeded_probability_24m", sim.Name)
				require.Equal(t, "probability", sim.Unit)
				require.Equal(t, 0.25, *sim.Base)
				require.Nil(t, sim.Other)
				require.Nil(t, sim.Delta)
			}},
		{name: "recommendation added, removed and changed", other: base,
			baseRecs: recsJSON(t, recA, recB), otherRecs: recsJSON(t, recA2, recC),
			check: func(t *testing.T, d report.ReportDiff) {
				require.True(t, d.Changed)
				require.Equal(t, []report.RecRef{{ID: "rec_c", Priority: recommend.PriorityMedium, Action: "Declare a budget"}}, d.RecommendationsAdded)
				require.Equal(t, []report.RecRef{{ID: "rec_b", Priority: recommend.PriorityLow, Action: "Buy a commitment"}}, d.RecommendationsRemoved)
				require.Len(t, d.RecommendationsChanged, 1)
				c := d.RecommendationsChanged[0]
				require.Equal(t, "rec_a", c.ID)
				require.Equal(t, report.Change[string]{Base: recommend.PriorityHigh, Other: recommend.PriorityCritical, Changed: true}, c.Priority)
				require.False(t, c.Confidence.Changed)
				require.True(t, c.CostImpact.Changed)
				require.Equal(t, 4000.0, c.CostImpact.Other.HighUSD)
				require.Contains(t, d.Summary, "recommendations: 1 added, 1 removed, 1 changed")
			}},
		{name: "recommendations skipped when one side has none", other: base, baseRecs: recsJSON(t, recA),
			check: func(t *testing.T, d report.ReportDiff) {
				require.False(t, d.RecommendationsCompared)
				require.False(t, d.Changed)
			}},
		{name: "finding replaced and status changed", other: moved,
			check: func(t *testing.T, d report.ReportDiff) {
				require.Equal(t, report.Change[string]{Base: "completed", Other: "partial", Changed: true}, d.Status)
				require.Equal(t, []report.FindingRef{{Family: "cloud", Title: "Recommended for chat: azure ND H100 v5", Severity: "info"}}, d.Findings.Added)
				require.Equal(t, []report.FindingRef{{Family: "cloud", Title: "Recommended for chat: aws p5.48xlarge", Severity: "info"}}, d.Findings.Removed)
				require.Empty(t, d.Cost)
				require.Contains(t, d.Summary, "status completed -> partial")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := report.Diff(storedJSON(t, base), storedJSON(t, tc.other), tc.baseRecs, tc.otherRecs)
			require.NoError(t, err)
			require.Equal(t, "a1", d.BaseID)
			require.Equal(t, tc.other.AssessmentID, d.OtherID)
			tc.check(t, d)
			// The same inputs give the same diff.
			again, err := report.Diff(storedJSON(t, base), storedJSON(t, tc.other), tc.baseRecs, tc.otherRecs)
			require.NoError(t, err)
			require.Equal(t, d, again)
		})
	}
}

func TestDiffRejectsBadInput(t *testing.T) {
	t.Parallel()
	good, err := json.Marshal(handReport("a1", 1, 2))
	require.NoError(t, err)
	tests := []struct {
		name                       string
		base, other, baseR, otherR []byte
	}{
		{name: "base not JSON", base: []byte("{"), other: good},
		{name: "other without id", base: good, other: []byte(`{"status":"completed"}`)},
		{name: "recommendations not JSON", base: good, other: good, baseR: []byte("[1]"), otherR: []byte("{}")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := report.Diff(tc.base, tc.other, tc.baseR, tc.otherR)
			require.Error(t, err)
		})
	}
}

func TestDiffMetricsCapped(t *testing.T) {
	t.Parallel()
	base, other := handReport("a1", 1, 2), handReport("a2", 1, 2)
	for i := range report.MaxMetricChanges + 5 {
		name := fmt.Sprintf("monthly_cost_usd_p50_month_%03d", i)
		base.Families[1].Metrics = append(base.Families[1].Metrics, report.Metric{Name: name, Value: float64(i)})
		other.Families[1].Metrics = append(other.Families[1].Metrics, report.Metric{Name: name, Value: float64(i + 1)})
	}
	d, err := report.Diff(storedJSON(t, base), storedJSON(t, other), nil, nil)
	require.NoError(t, err)
	require.Len(t, d.Metrics, report.MaxMetricChanges)
	require.Equal(t, 5, d.MetricsOmitted)
	require.True(t, slices.IsSortedFunc(d.Metrics, func(a, b report.MetricChange) int { return strings.Compare(a.Name, b.Name) }))
	require.Contains(t, d.Summary, "205 other metrics changed")
}

// analysed runs the six families on a request as the workers do and returns
// the stored report and the recommendation list the synthesizer would store.
func analysed(t *testing.T, id string, doc []byte) (rep, recs []byte) {
	t.Helper()
	req, err := assessment.ParseRequest(doc)
	require.NoError(t, err)
	all := analyse(t, req)
	rep, err = report.Encode(report.Build(report.Input{AssessmentID: id, TenantID: "acme", Name: req.GetName(), Status: "completed",
		GeneratedAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Results: all}))
	require.NoError(t, err)
	recs, err = json.Marshal(recommend.Build(all))
	require.NoError(t, err)
	return rep, recs
}

// TestDiffChatbotDoubledTraffic compares the bundled chatbot example with the
// same request at twice the traffic: the plan needs more replicas, so the
// on-demand monthly cost must rise.
func TestDiffChatbotDoubledTraffic(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", "chatbot-70b-hipaa-us.yaml"))
	require.NoError(t, err)
	doubled := string(doc)
	for _, r := range []struct{ from, to string }{
		{"peak_requests_per_second: 12\n", "peak_requests_per_second: 24\n"},
		{"avg_requests_per_second: 4\n", "avg_requests_per_second: 8\n"},
		{"queries_per_second: 24\n", "queries_per_second: 48\n"},
	} {
		require.Contains(t, doubled, r.from)
		doubled = strings.ReplaceAll(doubled, r.from, r.to)
	}
	baseRep, baseRecs := analysed(t, "base", doc)
	otherRep, otherRecs := analysed(t, "doubled", []byte(doubled))

	d, err := report.Diff(baseRep, otherRep, baseRecs, otherRecs)
	require.NoError(t, err)
	require.True(t, d.Changed)
	require.False(t, d.Status.Changed)
	require.True(t, d.RecommendationsCompared)
	byName := map[string]report.MetricChange{}
	for _, c := range d.Cost {
		if c.Workload == "" {
			byName[c.Name] = c
		}
	}
	for _, name := range []string{analysis.MetricMonthlyCostLow, analysis.MetricMonthlyCostHigh} {
		c, ok := byName[name]
		require.True(t, ok, name)
		require.NotNil(t, c.Base, name)
		require.NotNil(t, c.Other, name)
		require.Greater(t, *c.Other, *c.Base, name)
		require.InDelta(t, *c.Other-*c.Base, *c.Delta, 1e-9)
		require.Greater(t, *c.DeltaPct, 0.0)
	}
	require.Contains(t, d.Summary, "monthly cost on demand")

	// Reversed, the same changes with the opposite sign.
	back, err := report.Diff(otherRep, baseRep, otherRecs, baseRecs)
	require.NoError(t, err)
	require.Len(t, back.Cost, len(d.Cost))
	require.Len(t, back.RecommendationsAdded, len(d.RecommendationsRemoved))
	require.Len(t, back.Findings.Added, len(d.Findings.Removed))
	for i := range d.Cost {
		if d.Cost[i].Delta != nil {
			require.InDelta(t, -*d.Cost[i].Delta, *back.Cost[i].Delta, 1e-9)
		}
	}
}
