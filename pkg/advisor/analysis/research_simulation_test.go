package analysis_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func TestResearchScopeAndFreshness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		business    *inframindv1.Business
		wantScope   string // finding title
		wantRegions float64
		// price-age metrics expected present (value in days) and absent.
		wantAges   map[string]float64
		wantNoAges []string
		wantH100   map[string]float64
		wantStale  bool
	}{
		{
			name:        "everything in scope",
			business:    &inframindv1.Business{Regions: []string{"US", "us", "eu"}},
			wantScope:   "Providers in scope: aws, azure, gcp",
			wantRegions: 2,
			// 2026-11-26 minus 2026-11-09 = 17 days; minus 2025-03-06 = 630 days.
			wantAges:  map[string]float64{"price_age_days_datareceipts": 17, "price_age_days_cyclenerd_gcp": 630},
			wantH100:  map[string]float64{"aws": 6.88, "azure": 12.29, "gcp": 11.06125},
			wantStale: true,
		},
		{
			name:        "preference first, gcp excluded",
			business:    &inframindv1.Business{ProviderPreference: []string{"Azure"}, ProviderExclusions: []string{"gcp"}},
			wantScope:   "Providers in scope: azure, aws",
			wantRegions: 0,
			wantAges:    map[string]float64{"price_age_days_datareceipts": 17},
			wantNoAges:  []string{"price_age_days_cyclenerd_gcp"},
			wantH100:    map[string]float64{"aws": 6.88, "azure": 12.29},
		},
		{
			name:        "gcp only",
			business:    &inframindv1.Business{Regions: []string{"eu"}, ProviderExclusions: []string{"aws", "azure"}},
			wantScope:   "Providers in scope: gcp",
			wantRegions: 1,
			wantAges:    map[string]float64{"price_age_days_cyclenerd_gcp": 630},
			wantNoAges:  []string{"price_age_days_datareceipts"},
			wantH100:    map[string]float64{"gcp": 11.06125},
			wantStale:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := analyzer.Analyze(assessment.FamilyResearch, &inframindv1.AssessmentRequest{Business: tc.business}, nil)
			require.NoError(t, err)
			findingWithTitle(t, o, tc.wantScope)
			require.Equal(t, tc.wantRegions, metricOf(t, o, "regions_count", "").GetValue())
			for name, days := range tc.wantAges {
				require.Equal(t, days, metricOf(t, o, name, "").GetValue(), name)
			}
			for _, name := range tc.wantNoAges {
				require.False(t, hasMetric(o, name, ""), name)
			}
			require.Equal(t, float64(len(tc.wantH100)), metricOf(t, o, "providers_in_scope", "").GetValue())
			for p, price := range tc.wantH100 {
				require.InDelta(t, price, metricOf(t, o, "h100_usd_per_gpu_hour_"+p, "").GetValue(), 1e-9, p)
			}
			stale := false
			for _, f := range o.Findings {
				if f.GetSeverity() == "medium" && f.GetTitle() == "Prices 630 days old: Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml" {
					stale = true
				}
			}
			require.Equal(t, tc.wantStale, stale)
		})
	}
}

func TestResearchRejectsUnknownProvider(t *testing.T) {
	t.Parallel()
	_, err := analyzer.Analyze(assessment.FamilyResearch, &inframindv1.AssessmentRequest{
		Business: &inframindv1.Business{ProviderExclusions: []string{"aws", "amazon"}},
	}, nil)
	require.True(t, errors.Is(err, analysis.ErrUnanalysable))
	require.Contains(t, err.Error(), `business.provider_exclusions[1]: unknown provider "amazon"`)
}

func cloudUpstream(low, high float64) map[assessment.Family]*inframindv1.AgentResultPublished {
	return map[assessment.Family]*inframindv1.AgentResultPublished{
		assessment.FamilyCloud: {Family: string(assessment.FamilyCloud), Metrics: []*inframindv1.Metric{
			{Name: analysis.MetricMonthlyCostLow, Value: low, Unit: "USD/month"},
			{Name: analysis.MetricMonthlyCostHigh, Value: high, Unit: "USD/month"},
			// A workload-level metric of the same name must not be read as the plan's.
			{Name: analysis.MetricMonthlyCostHigh, Value: 1e9, Workload: "w"},
		}},
	}
}

// Growth is linear between months 0 (x1), 6, 12 and 24; the budget is first
// exceeded at the first whole month whose projected cost is above it.
func TestSimulationProjection(t *testing.T) {
	t.Parallel()
	growth := &inframindv1.Growth{Month_6Multiplier: 1.5, Month_12Multiplier: 2, Month_24Multiplier: 4}
	tests := []struct {
		name         string
		growth       *inframindv1.Growth
		budget       float64
		wantMonth24  [2]float64 // low, high
		wantOverLow  float64    // -1: not exceeded
		wantOverHigh float64
		wantSeverity string
	}{
		{
			// High: 2000 x g(m) > 5000 -> g > 2.5 -> 2 + (m-12)/12 x 2 > 2.5 -> m > 15 -> 16.
			// Low: 1000 x g(m) <= 4000 < 5000 throughout.
			name: "high estimate crosses at month 16", growth: growth, budget: 5000,
			wantMonth24: [2]float64{4000, 8000}, wantOverLow: -1, wantOverHigh: 16, wantSeverity: "medium",
		},
		{
			// High: 2000 > 1500 at month 0. Low: g > 1.5 -> month 7 (g = 1.5 + 1/6 x 0.5).
			name: "over budget from the start", growth: growth, budget: 1500,
			wantMonth24: [2]float64{4000, 8000}, wantOverLow: 7, wantOverHigh: 0, wantSeverity: "high",
		},
		{
			name: "within budget", growth: growth, budget: 8000,
			wantMonth24: [2]float64{4000, 8000}, wantOverLow: -1, wantOverHigh: -1, wantSeverity: "info",
		},
		{
			name: "cost equal to the budget is not an overrun", budget: 2000,
			wantMonth24: [2]float64{1000, 2000}, wantOverLow: -1, wantOverHigh: -1, wantSeverity: "info",
		},
		{
			name: "no growth given holds demand flat", budget: 1999.5,
			wantMonth24: [2]float64{1000, 2000}, wantOverLow: -1, wantOverHigh: 0, wantSeverity: "medium",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Growth: tc.growth, MonthlyBudgetUsd: tc.budget}}
			o, err := analyzer.Analyze(assessment.FamilySimulation, req, cloudUpstream(1000, 2000))
			require.NoError(t, err)
			require.InDelta(t, tc.wantMonth24[0], metricOf(t, o, "monthly_cost_usd_low_month_24", "").GetValue(), 1e-9)
			require.InDelta(t, tc.wantMonth24[1], metricOf(t, o, "monthly_cost_usd_high_month_24", "").GetValue(), 1e-9)
			for name, want := range map[string]float64{"budget_exceeded_month_low": tc.wantOverLow, "budget_exceeded_month_high": tc.wantOverHigh} {
				if want < 0 {
					require.False(t, hasMetric(o, name, ""), name)
				} else {
					require.Equal(t, want, metricOf(t, o, name, "").GetValue(), name)
				}
			}
			var severities []string
			for _, f := range o.Findings {
				severities = append(severities, f.GetSeverity())
			}
			require.Contains(t, severities, tc.wantSeverity)
		})
	}
}

func TestSimulationFormulasShowTheirInputs(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{
		Growth:           &inframindv1.Growth{Month_6Multiplier: 1.5, Month_12Multiplier: 2, Month_24Multiplier: 4},
		MonthlyBudgetUsd: 5000,
	}}
	o, err := analyzer.Analyze(assessment.FamilySimulation, req, cloudUpstream(1000, 2000))
	require.NoError(t, err)
	require.Equal(t, "$1000.00 (cloud monthly_cost_usd_low) x 1.5 (growth month_6_multiplier) = $1500.00",
		metricOf(t, o, "monthly_cost_usd_low_month_6", "").GetFormula())
	require.Contains(t, metricOf(t, o, "budget_exceeded_month_high", "").GetFormula(), "month 16 x2.67 = $5333.33")
}

func TestSimulationReadsTheCloudPlan(t *testing.T) {
	t.Parallel()
	req := richRequest()
	cloud, err := analyzer.Analyze(assessment.FamilyCloud, req, nil)
	require.NoError(t, err)
	low := metricOf(t, cloud, analysis.MetricMonthlyCostLow, "").GetValue()
	up := map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: {Metrics: cloud.Metrics}}
	o, err := analyzer.Analyze(assessment.FamilySimulation, req, up)
	require.NoError(t, err)
	require.Greater(t, low, 0.0)
	require.InDelta(t, low*4, metricOf(t, o, "monthly_cost_usd_low_month_24", "").GetValue(), 1e-6)
}

func TestSimulationMoreGrowthNeverLaterOverrun(t *testing.T) {
	t.Parallel()
	prev := 25.0
	for m24 := 1.0; m24 <= 10; m24 += 0.5 {
		req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{
			Growth:           &inframindv1.Growth{Month_6Multiplier: 1 + (m24-1)/4, Month_12Multiplier: 1 + (m24-1)/2, Month_24Multiplier: m24},
			MonthlyBudgetUsd: 5000,
		}}
		o, err := analyzer.Analyze(assessment.FamilySimulation, req, cloudUpstream(1000, 2000))
		require.NoError(t, err)
		month := 25.0
		if hasMetric(o, "budget_exceeded_month_high", "") {
			month = metricOf(t, o, "budget_exceeded_month_high", "").GetValue()
		}
		require.LessOrEqual(t, month, prev, "month 24 multiplier %v", m24)
		prev = month
	}
}

func TestSimulationRejects(t *testing.T) {
	t.Parallel()
	okReq := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{MonthlyBudgetUsd: 100}}
	tests := []struct {
		name     string
		req      *inframindv1.AssessmentRequest
		upstream map[assessment.Family]*inframindv1.AgentResultPublished
		wantMsg  string
	}{
		{name: "no cloud upstream", req: okReq, wantMsg: "upstream cloud result: missing"},
		{name: "cloud result without the plan metric", req: okReq,
			upstream: map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: {Metrics: []*inframindv1.Metric{{Name: analysis.MetricMonthlyCostLow, Value: 1}}}},
			wantMsg:  "metric monthly_cost_usd_high missing"},
		{name: "cloud failed", req: okReq,
			upstream: map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: {Status: "failed", Error: "workloads[0].model: unknown model"}},
			wantMsg:  "upstream cloud result: failed: workloads[0].model: unknown model"},
		{name: "low above high", req: okReq, upstream: cloudUpstream(3000, 2000), wantMsg: "monthly_cost_usd_low 3000 exceeds"},
		{name: "negative cost", req: okReq, upstream: cloudUpstream(-1, 2000), wantMsg: "metric monthly_cost_usd_low is -1"},
		{name: "partial growth", upstream: cloudUpstream(1, 2),
			req:     &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Growth: &inframindv1.Growth{Month_6Multiplier: 2, Month_24Multiplier: 3}}},
			wantMsg: "business.growth.month_12_multiplier: must be > 0"},
		{name: "negative growth", upstream: cloudUpstream(1, 2),
			req:     &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Growth: &inframindv1.Growth{Month_6Multiplier: -2, Month_12Multiplier: 2, Month_24Multiplier: 3}}},
			wantMsg: "business.growth.month_6_multiplier: must be > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilySimulation, tc.req, tc.upstream)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable), "%v", err)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
