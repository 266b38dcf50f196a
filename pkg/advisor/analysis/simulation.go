package analysis

import (
	"fmt"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"math"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// horizonMonths is how far the projection runs: the request's growth
// projection ends at month 24.
const horizonMonths = 24

const srcScaling = "the cloud family's plan and the request's business.growth; assumption: cost scales linearly with demand (real capacity comes in whole-GPU steps) and the multiplier is linear between the stated months"

// growthCurve is demand as a multiple of today's at months 0, 6, 12 and 24.
type growthCurve struct {
	months [4]int
	mult   [4]float64
}

// at returns the multiplier at month m, interpolated linearly between the
// stated months.
func (g growthCurve) at(m int) float64 {
	for k := 1; k < len(g.months); k++ {
		if m <= g.months[k] {
			m0, m1 := g.months[k-1], g.months[k]
			f := float64(m-m0) / float64(m1-m0)
			return g.mult[k-1] + f*(g.mult[k]-g.mult[k-1])
		}
	}
	return g.mult[len(g.mult)-1]
}

func (g growthCurve) text() string {
	return fmt.Sprintf("month 0 x1, month 6 x%s, month 12 x%s, month 24 x%s", num(g.mult[1]), num(g.mult[2]), num(g.mult[3]))
}

// readGrowth validates the growth projection. No projection at all means flat
// demand (reported as a finding); a partial one is an error naming the field.
func readGrowth(g *inframindv1.Growth) (growthCurve, bool, error) {
	c := growthCurve{months: [4]int{0, 6, 12, 24}, mult: [4]float64{1, 1, 1, 1}}
	vals := []struct {
		field string
		v     float64
	}{{"month_6_multiplier", g.GetMonth_6Multiplier()}, {"month_12_multiplier", g.GetMonth_12Multiplier()}, {"month_24_multiplier", g.GetMonth_24Multiplier()}}
	if vals[0].v == 0 && vals[1].v == 0 && vals[2].v == 0 {
		return c, true, nil
	}
	for k, v := range vals {
		if !(v.v > 0) || math.IsInf(v.v, 0) {
			return c, false, unanalysable("business.growth.%s: must be > 0 when a growth projection is given, got %v", v.field, v.v)
		}
		c.mult[k+1] = v.v
	}
	return c, false, nil
}

// planMetric returns the plan-level metric name from the cloud result.
func planMetric(cloud *inframindv1.AgentResultPublished, name string) (float64, error) {
	for _, m := range cloud.GetMetrics() {
		if m.GetName() == name && m.GetWorkload() == "" {
			v := m.GetValue()
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, unanalysable("upstream %s result: metric %s is %v, not a cost", assessment.FamilyCloud, name, v)
			}
			return v, nil
		}
	}
	return 0, unanalysable("upstream %s result: metric %s missing", assessment.FamilyCloud, name)
}

// firstMonthOver returns the first month in 0..horizon whose projected cost
// exceeds budget, or -1.
func firstMonthOver(base, budget float64, g growthCurve) int {
	for m := 0; m <= horizonMonths; m++ {
		if base*g.at(m) > budget {
			return m
		}
	}
	return -1
}

func analyzeSimulation(_ *catalog.Catalog, req *inframindv1.AssessmentRequest, cloud *inframindv1.AgentResultPublished) (Outcome, error) {
	if cloud == nil {
		return Outcome{}, unanalysable("upstream %s result: missing; simulation projects the cloud family's monthly cost", assessment.FamilyCloud)
	}
	// A cloud family that could not analyse the request still reports (status
	// "failed" with its reason); pass the reason on rather than a missing metric.
	if cloud.GetStatus() == "failed" {
		return Outcome{}, unanalysable("upstream %s result: failed: %s", assessment.FamilyCloud, cloud.GetError())
	}
	low, err := planMetric(cloud, MetricMonthlyCostLow)
	if err != nil {
		return Outcome{}, err
	}
	high, err := planMetric(cloud, MetricMonthlyCostHigh)
	if err != nil {
		return Outcome{}, err
	}
	if low > high {
		return Outcome{}, unanalysable("upstream %s result: %s %v exceeds %s %v", assessment.FamilyCloud, MetricMonthlyCostLow, low, MetricMonthlyCostHigh, high)
	}
	b := req.GetBusiness()
	g, flat, err := readGrowth(b.GetGrowth())
	if err != nil {
		return Outcome{}, err
	}
	budget := b.GetMonthlyBudgetUsd()
	if budget < 0 || math.IsNaN(budget) || math.IsInf(budget, 0) {
		return Outcome{}, unanalysable("business.monthly_budget_usd: must be >= 0, got %v", budget)
	}

	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	if flat {
		findings = append(findings, finding(severityLow, "No growth projection given",
			"business.growth is empty, so demand is held flat at today's level for 24 months."))
	}
	fields := map[int]string{6: "month_6_multiplier", 12: "month_12_multiplier", 24: "month_24_multiplier"}
	for k, m := range g.months[1:] {
		mult := g.mult[k+1]
		for _, side := range []struct {
			name string
			base float64
		}{{MetricMonthlyCostLow, low}, {MetricMonthlyCostHigh, high}} {
			v := side.base * mult
			metrics = append(metrics, metric(fmt.Sprintf("%s_month_%d", side.name, m), v, "USD/month",
				fmt.Sprintf("%s (cloud %s) x %s (growth %s) = %s", usd(side.base), side.name, num(mult), fields[m], usd(v)),
				srcScaling, ""))
		}
	}

	summary := fmt.Sprintf("Monthly on-demand cost grows from %s-%s now to %s-%s at month 24 (%s).",
		usd(low), usd(high), usd(low*g.mult[3]), usd(high*g.mult[3]), g.text())
	if budget == 0 {
		findings = append(findings, finding(severityLow, "No budget to compare",
			"business.monthly_budget_usd is not set, so no month of budget overrun can be found."))
		return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
	}

	overLow := firstMonthOver(low, budget, g)
	overHigh := firstMonthOver(high, budget, g)
	exceedFormula := func(base float64, side string, m int) string {
		return fmt.Sprintf("first month m in 0..24 where %s (cloud %s) x growth(m) > %s budget, growth linear between %s: month %d x%s = %s",
			usd(base), side, usd(budget), g.text(), m, num(g.at(m)), usd(base*g.at(m)))
	}
	if overHigh >= 0 {
		metrics = append(metrics, metric("budget_exceeded_month_high", float64(overHigh), "month",
			exceedFormula(high, MetricMonthlyCostHigh, overHigh), srcScaling, ""))
	}
	if overLow >= 0 {
		metrics = append(metrics, metric("budget_exceeded_month_low", float64(overLow), "month",
			exceedFormula(low, MetricMonthlyCostLow, overLow), srcScaling, ""))
	}
	switch {
	case overLow >= 0:
		findings = append(findings, finding(severityHigh, fmt.Sprintf("Budget exceeded from month %d even on the low estimate", overLow),
			fmt.Sprintf("At month %d demand is x%s and even the low estimate reaches %s against the %s budget; the high estimate crosses it at month %d.",
				overLow, num(g.at(overLow)), usd(low*g.at(overLow)), usd(budget), overHigh)))
		summary += fmt.Sprintf(" The %s budget is exceeded from month %d on the high estimate and month %d on the low.", usd(budget), overHigh, overLow)
	case overHigh >= 0:
		findings = append(findings, finding(severityMedium, fmt.Sprintf("Budget may be exceeded from month %d", overHigh),
			fmt.Sprintf("At month %d demand is x%s and the high estimate reaches %s against the %s budget; the low estimate stays within it through month 24 (%s at month 24).",
				overHigh, num(g.at(overHigh)), usd(high*g.at(overHigh)), usd(budget), usd(low*g.mult[3]))))
		summary += fmt.Sprintf(" The %s budget is exceeded from month %d on the high estimate only.", usd(budget), overHigh)
	default:
		findings = append(findings, finding(severityInfo, "Within budget through month 24",
			fmt.Sprintf("Even the high estimate stays within the %s budget through month 24 (%s at its peak).", usd(budget), usd(high*maxMult(g)))))
		summary += fmt.Sprintf(" It stays within the %s budget through month 24.", usd(budget))
	}
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
}

// maxMult is the largest multiplier on the curve; with linear segments the
// peak is at one of the stated months.
func maxMult(g growthCurve) float64 {
	out := g.mult[0]
	for _, v := range g.mult[1:] {
		out = math.Max(out, v)
	}
	return out
}
