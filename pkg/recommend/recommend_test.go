package recommend_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/recommend"
)

func m(name string, v float64, workload string) *inframindv1.Metric {
	return &inframindv1.Metric{Name: name, Value: v, Workload: workload, Formula: "f(" + name + ")", Source: "src"}
}

func fd(sev, title string) *inframindv1.Finding {
	return &inframindv1.Finding{Severity: sev, Title: title, Detail: "detail of " + title}
}

// deployment is the cloud family's recommended deployment of a workload.
func deployment(workload, provider, instance string) *inframindv1.Finding {
	f := fd("info", "Recommended for "+workload+": "+provider+" "+instance)
	f.Kind, f.Workload, f.Deployment = analysis.KindDeployment, workload, &inframindv1.Deployment{Provider: provider, Instance: instance}
	return f
}

// risk is a strategy risk finding scored probability x impact.
func risk(sev, title string, p, i int32, topic string) *inframindv1.Finding {
	f := fd(sev, "Risk: "+title)
	f.Kind, f.Topic = analysis.KindRisk, topic
	f.Risk = &inframindv1.Risk{Title: title, Probability: p, Impact: i, Score: p * i}
	return f
}

// mlopsStack is the mlops family's stack choice.
func mlopsStack(name string) *inframindv1.Finding {
	f := fd("info", "MLOps stack: "+name)
	f.Kind, f.Subject = analysis.KindMLOpsStack, name
	return f
}

// with sets a finding's kind and topic.
func with(f *inframindv1.Finding, kind, topic string) *inframindv1.Finding {
	f.Kind, f.Topic = kind, topic
	return f
}

func res(status string, metrics []*inframindv1.Metric, findings ...*inframindv1.Finding) *inframindv1.AgentResultPublished {
	return &inframindv1.AgentResultPublished{Status: status, Metrics: metrics, Findings: findings}
}

func cloudPlan() *inframindv1.AgentResultPublished {
	return res("ok", []*inframindv1.Metric{
		m(analysis.MetricMonthlyCostLow, 20000, ""), m(analysis.MetricMonthlyCostHigh, 40000, ""),
		m(analysis.MetricMonthlyCommit1YLow, 14000, ""), m(analysis.MetricMonthlyCommit1YHigh, 28000, ""),
		m(analysis.MetricReplicasLow, 2, "chat"), m(analysis.MetricReplicasHigh, 4, "chat"),
		m(analysis.MetricReplicaMonthlyUSD, 10000, "chat"),
	}, deployment("chat", "azure", "NC80"), fd("info", "Constraints applied"))
}

func find(t *testing.T, set recommend.Set, action string) recommend.Recommendation {
	t.Helper()
	for _, r := range set.Recommendations {
		if r.Action == action {
			return r
		}
	}
	require.Failf(t, "no recommendation", "%q in %+v", action, set.Recommendations)
	return recommend.Recommendation{}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		results map[string]*inframindv1.AgentResultPublished
		check   func(t *testing.T, set recommend.Set)
	}{
		{
			name:    "serving plan priced from replicas x replica price",
			results: map[string]*inframindv1.AgentResultPublished{"cloud": cloudPlan()},
			check: func(t *testing.T, set recommend.Set) {
				r := find(t, set, "Deploy chat on azure NC80")
				require.Equal(t, recommend.CategoryArchitecture, r.Category)
				require.Equal(t, recommend.PriorityHigh, r.Priority)
				require.Equal(t, 20000.0, r.MonthlyUSD.LowUSD)
				require.Equal(t, 40000.0, r.MonthlyUSD.HighUSD)
				require.Equal(t, recommend.EffortL, r.Effort)
				require.InDelta(t, 0.9, r.Confidence, 1e-9)
				require.Contains(t, r.Rationale, "replica_monthly_usd = 10000")
			},
		},
		{
			name:    "commitment saving is on demand minus committed, as a negative range",
			results: map[string]*inframindv1.AgentResultPublished{"cloud": cloudPlan()},
			check: func(t *testing.T, set recommend.Set) {
				r := find(t, set, "Buy a 1-year commitment for the baseline capacity")
				require.Equal(t, -12000.0, r.MonthlyUSD.LowUSD)
				require.Equal(t, -6000.0, r.MonthlyUSD.HighUSD)
				require.Equal(t, recommend.EffortS, r.Effort)
			},
		},
		{
			name: "stale prices lower the confidence of cost figures",
			results: map[string]*inframindv1.AgentResultPublished{
				"cloud":    cloudPlan(),
				"research": res("ok", []*inframindv1.Metric{m("oldest_price_age_days", 630, "")}),
			},
			check: func(t *testing.T, set recommend.Set) {
				require.InDelta(t, 0.75, find(t, set, "Deploy chat on azure NC80").Confidence, 1e-9)
			},
		},
		{
			name: "residency beats a machine outside it, and the resolution is recorded",
			results: map[string]*inframindv1.AgentResultPublished{
				"cloud": res("ok", nil, with(fd("high", "No priced region in eu for tune"), "", analysis.TopicRegion),
					with(fd("medium", "Compute for tune without a priced region"), analysis.KindOutsideResidency, analysis.TopicRegion)),
				"compliance": res("ok", nil, with(fd("high", "No priced GPU instance in the allowed regions"), "", analysis.TopicRegion)),
			},
			check: func(t *testing.T, set recommend.Set) {
				for _, r := range set.Recommendations {
					require.NotContains(t, r.Action, "without a priced region")
				}
				require.Len(t, set.Resolutions, 1)
				require.Equal(t, "residency_over_cost", set.Resolutions[0].Rule)
				require.Equal(t, "compliance", set.Resolutions[0].Winner)
				require.Len(t, set.Resolutions[0].Affected, 1)
				require.Equal(t, recommend.PriorityCritical, set.Recommendations[0].Priority, "an unmet compliance constraint ranks first")
			},
		},
		{
			name: "budget overrun against the SLO: SLO sizing wins and the overrun stays a recommendation",
			results: map[string]*inframindv1.AgentResultPublished{
				"cloud": cloudPlan(),
				"simulation": res("ok", []*inframindv1.Metric{m("budget_exceeded_month_high", 4, ""), m("budget_exceeded_month_low", 10, "")},
					with(fd("high", "Budget exceeded from month 10 even on the low estimate"), "", analysis.TopicBudget)),
				"strategy": res("ok", nil, risk("high", "Budget overrun", 5, 5, analysis.TopicBudget), risk("low", "Single-provider dependency", 2, 3, "")),
			},
			check: func(t *testing.T, set recommend.Set) {
				require.Len(t, set.Resolutions, 1)
				require.Equal(t, "slo_over_budget", set.Resolutions[0].Rule)
				risk := find(t, set, "Mitigate: Budget overrun")
				require.Equal(t, recommend.PriorityCritical, risk.Priority, "score 25 is in the top band")
				sim := find(t, set, "Address: Budget exceeded from month 10 even on the low estimate")
				require.Equal(t, recommend.CategoryScaling, sim.Category)
				require.Contains(t, sim.Rationale, "budget_exceeded_month_low = 10")
				require.Equal(t, recommend.PriorityLow, find(t, set, "Mitigate: Single-provider dependency").Priority)
			},
		},
		{
			name:    "a failed family contributes nothing",
			results: map[string]*inframindv1.AgentResultPublished{"cloud": res("failed", nil, fd("high", "x"))},
			check: func(t *testing.T, set recommend.Set) {
				require.Empty(t, set.Recommendations)
				require.NotNil(t, set.Resolutions)
			},
		},
		{
			name: "info findings are facts, not actions; the MLOps stack is",
			results: map[string]*inframindv1.AgentResultPublished{
				"mlops": res("ok", nil, mlopsStack("open source on EKS"), fd("info", "Serving: vLLM")),
			},
			check: func(t *testing.T, set recommend.Set) {
				require.Len(t, set.Recommendations, 1)
				require.Equal(t, "Adopt the open source on EKS", set.Recommendations[0].Action)
				require.Equal(t, recommend.CategoryMLOps, set.Recommendations[0].Category)
			},
		},
		{
			// Titles are text for people: only the typed fields say what a finding is.
			name: "a title that reads like a risk, a deployment or a region change is a plain finding without its kind",
			results: map[string]*inframindv1.AgentResultPublished{
				"cloud":    res("ok", nil, fd("info", "Recommended for chat: azure NC80")),
				"strategy": res("ok", nil, fd("high", "Risk: Budget overrun (P5 x I5 = 25)")),
				"mlops":    res("ok", nil, fd("medium", "Retraining stays manual for region-router")),
			},
			check: func(t *testing.T, set recommend.Set) {
				require.Len(t, set.Recommendations, 2)
				risk := find(t, set, "Address: Risk: Budget overrun (P5 x I5 = 25)")
				require.Equal(t, recommend.CategoryStrategy, risk.Category)
				require.Equal(t, recommend.PriorityHigh, risk.Priority)
				manual := find(t, set, "Address: Retraining stays manual for region-router")
				require.Equal(t, recommend.EffortM, manual.Effort, "a workload named region-router is not a region change")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, recommend.Build(tt.results))
		})
	}
}

// The same results always give the same list, in the same order, with the same ids.
func TestBuildIsDeterministicAndRanked(t *testing.T) {
	t.Parallel()
	in := map[string]*inframindv1.AgentResultPublished{
		"cloud":      cloudPlan(),
		"compliance": res("ok", nil, fd("high", "CCPA applies but is not declared")),
		"research":   res("ok", nil, fd("medium", "Prices 630 days old"), fd("low", "Month-only date")),
		"strategy":   res("ok", nil, risk("medium", "Timeline slip", 3, 3, "")),
	}
	a, b := recommend.Build(in), recommend.Build(in)
	require.Equal(t, a, b)
	seen := map[string]bool{}
	for i, r := range a.Recommendations {
		require.False(t, seen[r.ID], "duplicate id %s", r.ID)
		seen[r.ID] = true
		if i > 0 {
			require.LessOrEqual(t, recommend.PriorityRank(a.Recommendations[i-1].Priority), recommend.PriorityRank(r.Priority))
		}
	}
}
