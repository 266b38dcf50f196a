package analysis_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// planMetrics builds a cloud result by hand from plan-level metrics and
// per-workload metrics, as the metric contract (contract.go) describes.
func planMetrics(plan map[string]float64, workloads map[string]map[string]float64) map[assessment.Family]*inframindv1.AgentResultPublished {
	res := &inframindv1.AgentResultPublished{Family: string(assessment.FamilyCloud), Status: "ok"}
	for name, v := range plan {
		res.Metrics = append(res.Metrics, &inframindv1.Metric{Name: name, Value: v, Unit: "x"})
	}
	for w, ms := range workloads {
		for name, v := range ms {
			res.Metrics = append(res.Metrics, &inframindv1.Metric{Name: name, Value: v, Unit: "x", Workload: w})
		}
	}
	return map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: res}
}

func cloudUpstream(low, high float64) map[assessment.Family]*inframindv1.AgentResultPublished {
	up := planMetrics(map[string]float64{analysis.MetricMonthlyCostLow: low, analysis.MetricMonthlyCostHigh: high}, nil)
	// A workload-level metric of the same name must not be read as the plan's.
	up[assessment.FamilyCloud].Metrics = append(up[assessment.FamilyCloud].Metrics,
		&inframindv1.Metric{Name: analysis.MetricMonthlyCostHigh, Value: 1e9, Workload: "w"})
	return up
}

// tinyPlan is one workload: peak 1 rps, capCap rps per replica, 1000 USD a
// replica, the plan costing exactly its replicas.
// tinyPlan is a one-workload plan whose published replica capacities are
// capLow-capHigh x 1.3: with the planner's headroom taken off (30% on the
// pessimistic side, 20% on the optimistic one) a replica serves capLow rps at
// worst and max(capLow, capHigh x 1.3 / 1.2) at best.
func tinyPlan(capLow, capHigh float64) map[assessment.Family]*inframindv1.AgentResultPublished {
	capLow *= 1 + plan.HeadroomHigh
	capHigh *= 1 + plan.HeadroomHigh // published with the same factor; the optimistic side takes off only 20%
	replicasLow, replicasHigh := 1.0, 1.0
	return planMetrics(map[string]float64{
		analysis.MetricMonthlyCostLow: 1000 * replicasLow, analysis.MetricMonthlyCostHigh: 1000 * replicasHigh,
		analysis.MetricMonthlyCommit1YLow: 600, analysis.MetricMonthlyCommit1YHigh: 600,
		analysis.MetricMonthlyCommit3YLow: 400, analysis.MetricMonthlyCommit3YHigh: 400,
		analysis.MetricMonthlySpotLow: 300, analysis.MetricMonthlySpotHigh: 300,
	}, map[string]map[string]float64{"chat": {
		analysis.MetricPeakRPS: 1, analysis.MetricReplicaCapacityRPSLow: capLow, analysis.MetricReplicaCapacityRPSHigh: capHigh,
		analysis.MetricReplicaMonthlyUSD: 1000, analysis.MetricReplicasLow: replicasLow, analysis.MetricReplicasHigh: replicasHigh,
	}})
}

// growth1to4 is linear from x1 to x4 over 24 months: g(m) = 1 + m/8.
func growth1to4() *inframindv1.Growth {
	return &inframindv1.Growth{Month_6Multiplier: 1.75, Month_12Multiplier: 2.5, Month_24Multiplier: 4}
}

func simulate(t *testing.T, b *inframindv1.Business, up map[assessment.Family]*inframindv1.AgentResultPublished) analysis.Outcome {
	t.Helper()
	o, err := analyzer.Analyze(assessment.FamilySimulation, &inframindv1.AssessmentRequest{Business: b}, up)
	require.NoError(t, err)
	return o
}

// Hand-worked: g(m) = 1 + m/8 to month 24, then 4^(m/24) (the 0-24 average
// compound rate continued). Replicas = ceil(1 x g(m) / 2):
// 2 when g > 2 -> m > 8 -> month 9; 3 when g > 4 -> month 25 (4^(25/24) = 4.24);
// 4 when g > 6 -> m/24 > log4(6) = 1.2925 -> m > 31.02 -> month 32;
// month 36: g = 4^1.5 = 8 -> exactly 4 replicas, not 5.
func TestSimulationCapacityStepsByHand(t *testing.T) {
	t.Parallel()
	// Capacity 2 rps at worst, 2.6 / 1.2 = 2.1667 at best; g(m) = 1 + m/8 to
	// month 24, then x 4^(1/24) a month. Worst: n replicas once g > 2(n-1):
	// months 9, 25 (4 x 1.0595 > 4), 32 (g > 6). Best: g > 2.1667(n-1):
	// months 10 (2.25), 26 (4 x 1.0595^2 = 4.49 > 4.33), 33 (g > 6.5).
	o := simulate(t, &inframindv1.Business{Growth: growth1to4(), MonthlyBudgetUsd: 2500}, tinyPlan(2, 2))
	for n, month := range map[int][2]float64{2: {9, 10}, 3: {25, 26}, 4: {32, 33}} {
		require.Equal(t, month[0], metricOf(t, o, fmt.Sprintf("replica_%d_needed_month_low", n), "chat").GetValue(), "replica %d", n)
		require.Equal(t, month[1], metricOf(t, o, fmt.Sprintf("replica_%d_needed_month_high", n), "chat").GetValue(), "replica %d", n)
	}
	require.False(t, hasMetric(o, "replica_5_needed_month_low", "chat"))
	require.Equal(t, 4.0, metricOf(t, o, "replicas_high_month_36", "chat").GetValue())
	require.InDelta(t, 8, metricOf(t, o, "demand_multiplier_month_36", "").GetValue(), 1e-9)
	require.InDelta(t, 2.5, metricOf(t, o, "demand_multiplier_month_12", "").GetValue(), 1e-9)
	// Cost from the steps: 2 replicas at months 12 and 24, 4 at month 36.
	for m, want := range map[int]float64{0: 1000, 6: 1000, 12: 2000, 24: 2000, 36: 4000} {
		require.InDelta(t, want, metricOf(t, o, fmt.Sprintf("monthly_cost_usd_high_month_%d", m), "").GetValue(), 1e-9, "month %d", m)
	}
	// 3 replicas ($3000) first at month 25 exceed the $2500 budget.
	require.Equal(t, 25.0, metricOf(t, o, "budget_exceeded_month_high", "").GetValue())
	require.Equal(t, 26.0, metricOf(t, o, "budget_exceeded_month_low", "").GetValue())
	// Month 0 has no uncertainty left: no growth yet, no drift yet, one replica.
	for _, p := range []string{"p10", "p50", "p90"} {
		require.InDelta(t, 1000, metricOf(t, o, "monthly_cost_usd_"+p+"_month_0", "").GetValue(), 1e-9)
	}
	// Break-even: 12 x 600 / 1000 = 7.2 months; 36 x 400 / 1000 = 14.4; spot saves 1000 - 300.
	require.InDelta(t, 7.2, metricOf(t, o, "commit_1y_breakeven_months_low", "").GetValue(), 1e-9)
	require.InDelta(t, 14.4, metricOf(t, o, "commit_3y_breakeven_months_high", "").GetValue(), 1e-9)
	require.InDelta(t, 700, metricOf(t, o, "spot_savings_usd_month_low", "").GetValue(), 1e-9)
	require.Contains(t, findingWithTitle(t, o, "Spot saves money").GetDetail(), "two minutes")
}

// With a capacity range, replicas step earlier at the low capacity.
func TestSimulationStepMonthsFormARange(t *testing.T) {
	t.Parallel()
	// Low capacity 1.6: 2 replicas when 1 + m/8 > 1.6 -> m > 4.8 -> month 5.
	// High capacity 2 x 1.3 / 1.2 = 2.1667: m > 9.33 -> month 10.
	o := simulate(t, &inframindv1.Business{Growth: growth1to4()}, tinyPlan(1.6, 2))
	require.Equal(t, 5.0, metricOf(t, o, "replica_2_needed_month_low", "chat").GetValue())
	require.Equal(t, 10.0, metricOf(t, o, "replica_2_needed_month_high", "chat").GetValue())
	findingWithTitle(t, o, "No budget to compare")
	require.False(t, hasMetric(o, "budget_exceeded_probability_24m", ""))
}

// Without per-workload figures the plan's cost scales linearly with demand
// (g linear between months 0, 6, 12 and 24, compounding after 24).
func TestSimulationLinearFallback(t *testing.T) {
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
			// Low: 1000 x g(m) > 5000 -> g > 5 -> 4^(m/24) > 5 -> m > 27.86 -> 28.
			name: "high estimate crosses at month 16", growth: growth, budget: 5000,
			wantMonth24: [2]float64{4000, 8000}, wantOverLow: 28, wantOverHigh: 16, wantSeverity: "high",
		},
		{
			// High: 2000 > 1500 at month 0. Low: g > 1.5 -> month 7 (g = 1.5 + 1/6 x 0.5).
			name: "over budget from the start", growth: growth, budget: 1500,
			wantMonth24: [2]float64{4000, 8000}, wantOverLow: 7, wantOverHigh: 0, wantSeverity: "high",
		},
		{
			// Month 36: 2000 x 4^1.5 = 16000, the peak.
			name: "within budget", growth: growth, budget: 16000,
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
			o := simulate(t, &inframindv1.Business{Growth: tc.growth, MonthlyBudgetUsd: tc.budget}, cloudUpstream(1000, 2000))
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
				if f.GetTitle() == "Within budget through month 36" || len(f.GetTitle()) > 6 && f.GetTitle()[:6] == "Budget" {
					severities = append(severities, f.GetSeverity())
				}
			}
			require.Contains(t, severities, tc.wantSeverity)
			findingWithTitle(t, o, "No per-workload replica figures")
		})
	}
}

func TestSimulationBudgetProbability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		budget   float64
		wantZero bool
		wantOne  bool
	}{
		{name: "huge budget is never exceeded", budget: 1e12, wantZero: true},
		{name: "budget below today's cost is always exceeded", budget: 500, wantOne: true},
		{name: "budget in between", budget: 3500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := simulate(t, &inframindv1.Business{Growth: growth1to4(), MonthlyBudgetUsd: tc.budget}, tinyPlan(1.5, 2.5))
			prev := 0.0
			for _, h := range []int{12, 24, 36} {
				p := metricOf(t, o, fmt.Sprintf("budget_exceeded_probability_%dm", h), "").GetValue()
				require.GreaterOrEqual(t, p, 0.0)
				require.LessOrEqual(t, p, 1.0)
				require.GreaterOrEqual(t, p, prev, "a longer horizon never lowers the probability")
				prev = p
				if tc.wantZero {
					require.Equal(t, 0.0, p)
				}
				if tc.wantOne {
					require.Equal(t, 1.0, p)
				}
			}
			if !tc.wantZero && !tc.wantOne {
				p36 := metricOf(t, o, "budget_exceeded_probability_36m", "").GetValue()
				require.Greater(t, p36, 0.0)
				require.Less(t, p36, 1.0)
			}
		})
	}
}

// More growth never lowers a percentile of the cost nor delays a step.
func TestSimulationMoreGrowthNeverCheaperOrLater(t *testing.T) {
	t.Parallel()
	prevCost := map[string]float64{}
	prevStep := map[string]float64{}
	for m24 := 0.5; m24 <= 8; m24 += 0.5 {
		b := &inframindv1.Business{
			Growth:           &inframindv1.Growth{Month_6Multiplier: 1 + (m24-1)/4, Month_12Multiplier: 1 + (m24-1)/2, Month_24Multiplier: m24},
			MonthlyBudgetUsd: 5000,
		}
		o := simulate(t, b, tinyPlan(1.5, 2.5))
		for _, m := range []int{0, 6, 12, 18, 24, 30, 36} {
			for _, p := range []string{"p10", "p50", "p90"} {
				name := fmt.Sprintf("monthly_cost_usd_%s_month_%d", p, m)
				v := metricOf(t, o, name, "").GetValue()
				require.GreaterOrEqual(t, v, prevCost[name]-1e-9, "%s at month 24 multiplier %v", name, m24)
				prevCost[name] = v
			}
		}
		for n := 2; n <= 6; n++ {
			for _, side := range []string{"low", "high"} {
				name := fmt.Sprintf("replica_%d_needed_month_%s", n, side)
				month := 99.0
				if hasMetric(o, name, "chat") {
					month = metricOf(t, o, name, "chat").GetValue()
				}
				if prev, ok := prevStep[name]; ok {
					require.LessOrEqual(t, month, prev, "%s at month 24 multiplier %v", name, m24)
				}
				prevStep[name] = month
			}
		}
	}
}

func TestSimulationIsDeterministic(t *testing.T) {
	t.Parallel()
	b := &inframindv1.Business{Growth: growth1to4(), MonthlyBudgetUsd: 3500}
	first := simulate(t, b, tinyPlan(1.5, 2.5))
	for range 3 {
		again := simulate(t, b, tinyPlan(1.5, 2.5))
		require.Equal(t, first.Summary, again.Summary)
		require.Len(t, again.Metrics, len(first.Metrics))
		for i := range first.Metrics {
			require.True(t, proto.Equal(first.Metrics[i], again.Metrics[i]), "metric %s", first.Metrics[i].GetName())
		}
	}
}

func TestSimulationMissingContractMetricsGiveFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		up          map[assessment.Family]*inframindv1.AgentResultPublished
		wantFinding string
		wantAbsent  string
		wantPresent string
	}{
		{
			name: "no plan cost",
			up: planMetrics(nil, map[string]map[string]float64{"chat": {
				analysis.MetricPeakRPS: 1, analysis.MetricReplicaCapacityRPSLow: 2, analysis.MetricReplicaCapacityRPSHigh: 2, analysis.MetricReplicaMonthlyUSD: 1000}}),
			wantFinding: "Cloud plan lacks monthly_cost_usd_low, monthly_cost_usd_high",
			wantAbsent:  "monthly_cost_usd_p50_month_24", wantPresent: "demand_multiplier_month_24",
		},
		{
			name:        "no commitment or spot prices",
			up:          cloudUpstream(1000, 2000),
			wantFinding: "Cloud plan lacks monthly_cost_commit_1y_usd_low",
			wantAbsent:  "commit_1y_breakeven_months_low", wantPresent: "monthly_cost_usd_p50_month_24",
		},
		{
			name: "workload without a replica price",
			up: planMetrics(map[string]float64{analysis.MetricMonthlyCostLow: 1000, analysis.MetricMonthlyCostHigh: 1000},
				map[string]map[string]float64{"chat": {analysis.MetricPeakRPS: 1, analysis.MetricReplicaCapacityRPSLow: 2, analysis.MetricReplicaCapacityRPSHigh: 2}}),
			wantFinding: "No capacity steps for chat",
			wantAbsent:  "replicas_low_month_12", wantPresent: "monthly_cost_usd_p90_month_36",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := simulate(t, &inframindv1.Business{Growth: growth1to4(), MonthlyBudgetUsd: 3000}, tc.up)
			findingWithTitle(t, o, tc.wantFinding)
			require.False(t, hasMetric(o, tc.wantAbsent, "") || hasMetric(o, tc.wantAbsent, "chat"), tc.wantAbsent)
			require.True(t, hasMetric(o, tc.wantPresent, ""), tc.wantPresent)
		})
	}
}

func TestSimulationReadsTheCloudPlan(t *testing.T) {
	t.Parallel()
	req := richRequest()
	cloud, err := analyzer.Analyze(assessment.FamilyCloud, req, nil)
	require.NoError(t, err)
	up := map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: {Metrics: cloud.Metrics}}
	o, err := analyzer.Analyze(assessment.FamilySimulation, req, up)
	require.NoError(t, err)
	require.InDelta(t, 4, metricOf(t, o, "demand_multiplier_month_24", "").GetValue(), 1e-9)
	if hasMetric(cloud, analysis.MetricMonthlyCostLow, "") {
		low := metricOf(t, cloud, analysis.MetricMonthlyCostLow, "").GetValue()
		require.InDelta(t, low, metricOf(t, o, "monthly_cost_usd_low_month_0", "").GetValue(), 1e-6*max(1, low))
		require.True(t, hasMetric(o, "monthly_cost_usd_p50_month_24", ""))
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
		{name: "cloud failed", req: okReq,
			upstream: map[assessment.Family]*inframindv1.AgentResultPublished{assessment.FamilyCloud: {Status: "failed", Error: "workloads[0].model: unknown model"}},
			wantMsg:  "upstream cloud result: failed: workloads[0].model: unknown model"},
		{name: "low above high", req: okReq, upstream: cloudUpstream(3000, 2000), wantMsg: "monthly_cost_usd_low 3000 exceeds"},
		{name: "negative cost", req: okReq, upstream: cloudUpstream(-1, 2000), wantMsg: "metric monthly_cost_usd_low is -1"},
		{name: "zero replica capacity", req: okReq, upstream: tinyPlan(0, 2), wantMsg: `replica_capacity_rps_low is 0 (workload "chat")`},
		{name: "partial growth", upstream: cloudUpstream(1, 2),
			req:     &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Growth: &inframindv1.Growth{Month_6Multiplier: 2, Month_24Multiplier: 3}}},
			wantMsg: "business.growth.month_12_multiplier: must be > 0"},
		{name: "negative growth", upstream: cloudUpstream(1, 2),
			req:     &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Growth: &inframindv1.Growth{Month_6Multiplier: -2, Month_12Multiplier: 2, Month_24Multiplier: 3}}},
			wantMsg: "business.growth.month_6_multiplier: must be > 0"},
		{name: "negative budget", upstream: cloudUpstream(1, 2),
			req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{MonthlyBudgetUsd: -1}}, wantMsg: "business.monthly_budget_usd: must be >= 0"},
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
