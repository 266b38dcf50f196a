package analysis_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// strategyPlan is a hand-built cloud result: on demand 1000-2000 a month,
// 1-year commitment 700-1400, 3-year 500-1000, self-hosting 2-4 USD per
// million output tokens at 100 million output tokens a month.
func strategyPlan() map[assessment.Family]*inframindv1.AgentResultPublished {
	return planMetrics(map[string]float64{
		analysis.MetricMonthlyCostLow: 1000, analysis.MetricMonthlyCostHigh: 2000,
		analysis.MetricMonthlyCommit1YLow: 700, analysis.MetricMonthlyCommit1YHigh: 1400,
		analysis.MetricMonthlyCommit3YLow: 500, analysis.MetricMonthlyCommit3YHigh: 1000,
		analysis.MetricSelfHostedUSDPerMTokLow: 2, analysis.MetricSelfHostedUSDPerMTokHigh: 4,
		analysis.MetricOutputTokensPerMonth: 100e6,
	}, nil)
}

func strategyRequest(b *inframindv1.Business) *inframindv1.AssessmentRequest {
	if b.Team == nil {
		b.Team = &inframindv1.Team{Engineers: 2, MlEngineers: 1, OpsEngineers: 1, Expertise: "intermediate"}
	}
	return &inframindv1.AssessmentRequest{Business: b, Workloads: []*inframindv1.Workload{
		{Name: "chat", Kind: "llm_serving", PeakRequestsPerSecond: 4, AvgRequestsPerSecond: 2, MeanInputTokens: 500, MeanOutputTokens: 250},
	}}
}

func strategize(t *testing.T, req *inframindv1.AssessmentRequest, up map[assessment.Family]*inframindv1.AgentResultPublished) analysis.Outcome {
	t.Helper()
	o, err := analyzer.Analyze(assessment.FamilyStrategy, req, up)
	require.NoError(t, err)
	return o
}

// TCO by hand. Growth 1 + m/8: sum over m=0..11 of g = 12 + 66/8 = 20.25.
// On demand 1 year: 1000 x 20.25 = 20250. 1-year commitment: 12 x 700 +
// 1000 x sum(m/8) = 8400 + 8250 = 16650. Flat: 3 years on demand 36 x 1000.
func TestStrategyTCOByHand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		growth *inframindv1.Growth
		want   map[string]float64
	}{
		{name: "growth 1x to 4x", growth: growth1to4(), want: map[string]float64{
			"tco_on_demand_1y_usd_low": 20250, "tco_on_demand_1y_usd_high": 40500, "tco_commit_1y_1y_usd_low": 16650,
		}},
		{name: "flat", want: map[string]float64{
			"tco_on_demand_3y_usd_low": 36000, "tco_commit_1y_3y_usd_high": 36 * 1400, "tco_commit_3y_3y_usd_low": 18000, "tco_commit_3y_1y_usd_low": 6000,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := strategize(t, strategyRequest(&inframindv1.Business{Growth: tc.growth}), strategyPlan())
			for name, want := range tc.want {
				require.InDelta(t, want, metricOf(t, o, name, "").GetValue(), 1e-6, name)
			}
			findingWithTitle(t, o, "Cheapest over 3 years: 3-year commitment")
		})
	}
}

// Token mix 500 in / 250 out: 2 input tokens per output token. gpt-4o:
// 10 + 2 x 2.5 = 15 USD per million output tokens; break-even at 2 x 100 / 15
// = 13.33 and 4 x 100 / 15 = 26.67 million output tokens a month.
func TestStrategyBuildVsBuyByHand(t *testing.T) {
	t.Parallel()
	o := strategize(t, strategyRequest(&inframindv1.Business{}), strategyPlan())
	m := metricOf(t, o, "hosted_usd_per_mtok_openai_gpt_4o", "")
	require.InDelta(t, 15, m.GetValue(), 1e-9)
	require.Contains(t, m.GetSource(), "as of 2026-05")
	require.InDelta(t, 200.0/15, metricOf(t, o, "breakeven_mtok_per_month_openai_gpt_4o_low", "").GetValue(), 1e-9)
	require.InDelta(t, 400.0/15, metricOf(t, o, "breakeven_mtok_per_month_openai_gpt_4o_high", "").GetValue(), 1e-9)
	// gpt-4o-mini: 0.6 + 2 x 0.15 = 0.9, below self-hosting's 2 even on the low end.
	require.InDelta(t, 0.9, metricOf(t, o, "hosted_usd_per_mtok_openai_gpt_4o_mini", "").GetValue(), 1e-9)
	// 6 of the 8 catalogued APIs cost more than 4 USD/Mtok in this mix.
	f := findingWithTitle(t, o, "Build vs buy: build (self-host)")
	require.Contains(t, f.GetDetail(), "dearer than openai gpt-4o-mini")
}

func TestStrategyBudgetAlignmentAndRisk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		budget    float64
		wantAlign string
		wantSev   string
		wantRisk  string // "": no budget risk line with that title part
	}{
		// Plan 1000-2000, flat: half the range above 1500 -> P4; overrun 500/1500 = 33% -> I4.
		{name: "at risk", budget: 1500, wantAlign: "Budget alignment: at risk", wantSev: "medium", wantRisk: "Risk: Budget overrun (P4 x I4 = 16)"},
		{name: "within", budget: 1e9, wantAlign: "Budget alignment: within", wantSev: "info", wantRisk: "Risk: Budget overrun (P1 x I1 = 1)"},
		// Whole range above 900 -> P5; overrun 1100/900 > 50% -> I5.
		{name: "over", budget: 900, wantAlign: "Budget alignment: over", wantSev: "high", wantRisk: "Risk: Budget overrun (P5 x I5 = 25)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := strategize(t, strategyRequest(&inframindv1.Business{MonthlyBudgetUsd: tc.budget}), strategyPlan())
			require.Equal(t, tc.wantSev, findingWithTitle(t, o, tc.wantAlign).GetSeverity())
			findingWithTitle(t, o, tc.wantRisk)
		})
	}
}

func TestStrategyRiskRegister(t *testing.T) {
	t.Parallel()
	req := strategyRequest(&inframindv1.Business{
		Team:               &inframindv1.Team{Engineers: 3, Expertise: "beginner"},
		DataCategories:     []string{"health"},
		ProviderExclusions: []string{"aws", "azure"},
		TimelineMonths:     1,
	})
	o := strategize(t, req, strategyPlan())
	// Beginner team with an LLM workload and no ML or ops engineers: P4 x I4.
	require.Equal(t, 16.0, metricOf(t, o, "risk_skills_gap_score", "").GetValue())
	// Health data without a declared regime: P4 x I5.
	require.Equal(t, 20.0, metricOf(t, o, "risk_compliance_gap_score", "").GetValue())
	// Only gcp in scope: P3 x I3.
	require.Equal(t, 9.0, metricOf(t, o, "risk_single_provider_score", "").GetValue())
	// The gcp prices of the pricing calculator (2026-07-30) are 129 days old at collection: P2 x I3.
	require.Equal(t, 6.0, metricOf(t, o, "risk_price_snapshot_age_score", "").GetValue())
	require.Contains(t, metricOf(t, o, "risk_price_snapshot_age_score", "").GetFormula(), "129 days")
	// A one-month timeline cannot hold even the shortest roadmap: P5 x I3.
	require.Equal(t, 15.0, metricOf(t, o, "risk_timeline_score", "").GetValue())
	require.Equal(t, "high", findingWithTitle(t, o, "Risk: Compliance gap").GetSeverity())
	// The register is sorted by score, highest first.
	first := ""
	for _, f := range o.Findings {
		if len(f.GetTitle()) > 5 && f.GetTitle()[:5] == "Risk:" {
			first = f.GetTitle()
			break
		}
	}
	require.Contains(t, first, "Compliance gap")
}

// Roadmap durations: foundation (1-2) + 0.5-1 per regime, waves by their
// longest workload, times the expertise factor.
func TestStrategyRoadmapDurations(t *testing.T) {
	t.Parallel()
	req := strategyRequest(&inframindv1.Business{Compliance: []string{"hipaa", "soc2"}, Team: &inframindv1.Team{Engineers: 2, Expertise: "expert"}})
	req.Workloads = append(req.Workloads, &inframindv1.Workload{Name: "api", Kind: "general"})
	o := strategize(t, req, strategyPlan())
	// One track: foundation (1 + 2 x 0.5)-(2 + 2 x 1) = 2-4, wave 1 llm 1.5-3, wave 2 general 0.5-1.5:
	// 4-8.5 x 0.75 = 3-6.375.
	require.InDelta(t, 3, metricOf(t, o, "roadmap_months_low", "").GetValue(), 1e-9)
	require.InDelta(t, 6.375, metricOf(t, o, "roadmap_months_high", "").GetValue(), 1e-9)
	require.Contains(t, findingWithTitle(t, o, "Phase 1: Foundation, 1.5-3 months").GetDetail(), "hipaa, soc2")
	findingWithTitle(t, o, "Phase 3: Wave 2, 0.38-1.13 months")
}

func TestStrategyMissingContractMetricsGiveFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		up          map[assessment.Family]*inframindv1.AgentResultPublished
		wantFinding string
		wantAbsent  string
	}{
		{name: "no cloud result", wantFinding: "Cloud plan not available", wantAbsent: "tco_on_demand_1y_usd_low"},
		{name: "cloud failed", up: map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: {Status: "failed", Error: "workloads[0].model: unknown"}},
			wantFinding: "Cloud plan failed", wantAbsent: "tco_on_demand_1y_usd_low"},
		{name: "no self-hosted cost", up: cloudUpstream(1000, 2000), wantFinding: "Cloud plan lacks self_hosted_usd_per_mtok_low", wantAbsent: "hosted_usd_per_mtok_openai_gpt_4o"},
		{name: "no commitments", up: cloudUpstream(1000, 2000), wantFinding: "Cloud plan lacks monthly_cost_commit_1y_usd_low", wantAbsent: "tco_commit_1y_1y_usd_low"},
		{name: "no cost at all", up: planMetrics(map[string]float64{analysis.MetricPlanGPUsLow: 1}, nil), wantFinding: "Cloud plan lacks monthly_cost_usd_low", wantAbsent: "tco_on_demand_1y_usd_low"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := strategize(t, strategyRequest(&inframindv1.Business{MonthlyBudgetUsd: 1500}), tc.up)
			findingWithTitle(t, o, tc.wantFinding)
			require.False(t, hasMetric(o, tc.wantAbsent, ""), tc.wantAbsent)
			require.True(t, hasMetric(o, "roadmap_phases", ""), "the roadmap needs no plan")
		})
	}
}

func TestStrategyConsumesTheCloudPlan(t *testing.T) {
	t.Parallel()
	require.Equal(t, []assessment.Family{assessment.FamilyCloud}, analysis.Upstream(assessment.FamilyStrategy))
	_, err := analyzer.Analyze(assessment.FamilyStrategy, strategyRequest(&inframindv1.Business{}), cloudUpstream(3000, 2000))
	require.True(t, errors.Is(err, analysis.ErrUnanalysable))
	require.Contains(t, err.Error(), "monthly_cost_usd_low 3000 exceeds")
}

// Roadmap rule: tracks = max(1, floor(team / 4)); phases = 1 + ceil(workloads / tracks).
func TestStrategyRoadmap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		team         *inframindv1.Team
		workloads    int
		timeline     int32
		budget       float64
		wantTeam     float64
		wantTracks   float64
		wantPhases   float64
		wantPerPhase float64 // 0: no timeline
		wantPerWork  float64 // 0: no budget
		wantFinding  map[string]string
	}{
		{name: "team of 7, 4 workloads", team: &inframindv1.Team{Engineers: 4, MlEngineers: 2, OpsEngineers: 1}, workloads: 4, timeline: 6, budget: 20000,
			wantTeam: 7, wantTracks: 1, wantPhases: 5, wantPerPhase: 1.2, wantPerWork: 5000,
			wantFinding: map[string]string{"Timeline: 6 months for 5 phases": "info", "No business goals stated": "medium"}},
		{name: "team of 8 doubles the tracks", team: &inframindv1.Team{Engineers: 8}, workloads: 4, timeline: 6, budget: 20000,
			wantTeam: 8, wantTracks: 2, wantPhases: 3, wantPerPhase: 2, wantPerWork: 5000},
		{name: "one person, one workload", team: &inframindv1.Team{MlEngineers: 1}, workloads: 1,
			wantTeam: 1, wantTracks: 1, wantPhases: 2,
			wantFinding: map[string]string{"No timeline stated": "low", "No monthly budget stated": "medium"}},
		{name: "too short a timeline", team: &inframindv1.Team{Engineers: 3}, workloads: 5, timeline: 3, budget: 1000,
			wantTeam: 3, wantTracks: 1, wantPhases: 6, wantPerPhase: 0.5, wantPerWork: 200,
			wantFinding: map[string]string{"Timeline: 3 months for 6 phases": "high"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &inframindv1.AssessmentRequest{
				Business:  &inframindv1.Business{Team: tc.team, TimelineMonths: tc.timeline, MonthlyBudgetUsd: tc.budget},
				Workloads: strategyWorkloads(tc.workloads),
			}
			o, err := analyzer.Analyze(assessment.FamilyStrategy, req, nil)
			require.NoError(t, err)
			require.Equal(t, tc.wantTeam, metricOf(t, o, "team_size_total", "").GetValue())
			require.Equal(t, float64(tc.workloads), metricOf(t, o, "workloads_count", "").GetValue())
			require.Equal(t, tc.wantTracks, metricOf(t, o, "delivery_tracks", "").GetValue())
			require.Equal(t, tc.wantPhases, metricOf(t, o, "roadmap_phases", "").GetValue())
			if tc.wantPerPhase > 0 {
				require.InDelta(t, tc.wantPerPhase, metricOf(t, o, "months_per_phase", "").GetValue(), 1e-9)
			} else {
				require.False(t, hasMetric(o, "months_per_phase", ""))
			}
			if tc.wantPerWork > 0 {
				require.InDelta(t, tc.wantPerWork, metricOf(t, o, "budget_per_workload_usd", "").GetValue(), 1e-9)
			} else {
				require.False(t, hasMetric(o, "budget_per_workload_usd", ""))
			}
			for title, sev := range tc.wantFinding {
				require.Equal(t, sev, findingWithTitle(t, o, title).GetSeverity(), title)
			}
		})
	}
}

func TestStrategyGoalsComeFromTheRequest(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{
		Business:  &inframindv1.Business{Team: &inframindv1.Team{Engineers: 2}, Goals: []string{"launch in the EU", " ", "halve support tickets"}},
		Workloads: strategyWorkloads(1),
	}
	o, err := analyzer.Analyze(assessment.FamilyStrategy, req, nil)
	require.NoError(t, err)
	f := findingWithTitle(t, o, "2 business goals")
	require.Contains(t, f.GetDetail(), `"launch in the EU"; "halve support tickets"`)
}

func TestStrategyMoreWorkloadsNeverFewerPhases(t *testing.T) {
	t.Parallel()
	for _, team := range []int32{1, 4, 9, 20} {
		prev := 0.0
		for n := 1; n <= 12; n++ {
			req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: team}}, Workloads: strategyWorkloads(n)}
			o, err := analyzer.Analyze(assessment.FamilyStrategy, req, nil)
			require.NoError(t, err)
			phases := metricOf(t, o, "roadmap_phases", "").GetValue()
			require.GreaterOrEqual(t, phases, prev, "team %d, %d workloads", team, n)
			prev = phases
		}
	}
}

func TestStrategyRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     *inframindv1.AssessmentRequest
		wantMsg string
	}{
		{name: "no business", req: &inframindv1.AssessmentRequest{Workloads: strategyWorkloads(1)}, wantMsg: "business: missing"},
		{name: "no workloads", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 1}}},
			wantMsg: "workloads: at least one workload is required"},
		{name: "no team", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{}, Workloads: strategyWorkloads(1)}, wantMsg: "business.team: no engineers"},
		{name: "negative ops", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 3, OpsEngineers: -1}}, Workloads: strategyWorkloads(1)},
			wantMsg: "business.team.ops_engineers: must be >= 0"},
		{name: "negative budget", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 3}, MonthlyBudgetUsd: -5}, Workloads: strategyWorkloads(1)},
			wantMsg: "business.monthly_budget_usd: must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilyStrategy, tc.req, nil)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable), "%v", err)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func strategyWorkloads(n int) []*inframindv1.Workload {
	ws := make([]*inframindv1.Workload, n)
	for i := range ws {
		ws[i] = &inframindv1.Workload{Kind: "general", PeakRequestsPerSecond: 1}
	}
	return ws
}
