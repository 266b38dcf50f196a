package analysis

import (
	"fmt"
	"math"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

const srcTCO = "the cloud family's plan (monthly on-demand and commitment prices); " + srcGrowth +
	"; assumptions: on-demand cost scales with demand; a commitment covers today's capacity for its whole term (paid whether used or not, renewed at the same price) and demand above today's is bought on demand"

// tcoOption is one way of paying for the plan: on demand, or a commitment
// of term months at monthly price committed (low and high sides).
type tcoOption struct {
	key, label           string
	term                 int
	commitLow, commitHi  float64
	onDemandLow, onDemHi float64
}

// total sums the monthly cost over months 0..months-1 on one side:
// on demand, od x growth(m); committed, C + od x max(0, growth(m) - 1)
// (the commitment is owed every month of its term, so a shrink still pays it).
func (o tcoOption) total(months int, g growthCurve, commit, od float64) float64 {
	sum := 0.0
	for m := range months {
		if o.term == 0 {
			sum += od * g.at(m)
			continue
		}
		sum += commit + od*math.Max(0, g.at(m)-1)
	}
	return sum
}

// tco reports total cost of ownership over 1, 2 and 3 years per option.
func tco(plan cloudPlanView, g growthCurve) ([]*inframindv1.Metric, []*inframindv1.Finding) {
	odLow, odHigh, ok := plan.pair(MetricMonthlyCostLow, MetricMonthlyCostHigh)
	if !ok {
		return nil, []*inframindv1.Finding{missingFinding([]string{MetricMonthlyCostLow, MetricMonthlyCostHigh}, "no total cost of ownership can be computed")}
	}
	options := []tcoOption{{key: "on_demand", label: "on demand", onDemandLow: odLow, onDemHi: odHigh}}
	var absent []string
	for _, c := range []struct {
		key, label, low, high string
		term                  int
	}{
		{"commit_1y", "1-year commitment", MetricMonthlyCommit1YLow, MetricMonthlyCommit1YHigh, 12},
		{"commit_3y", "3-year commitment", MetricMonthlyCommit3YLow, MetricMonthlyCommit3YHigh, 36},
	} {
		lo, hi, ok := plan.pair(c.low, c.high)
		if !ok {
			absent = append(absent, c.low+"/"+c.high)
			continue
		}
		options = append(options, tcoOption{key: c.key, label: c.label, term: c.term, commitLow: lo, commitHi: hi, onDemandLow: odLow, onDemHi: odHigh})
	}
	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	best := map[int]string{}
	bestHigh := map[int]float64{}
	for _, o := range options {
		for _, years := range []int{1, 2, 3} {
			months := 12 * years
			lo := o.total(months, g, o.commitLow, o.onDemandLow)
			hi := o.total(months, g, o.commitHi, o.onDemHi)
			formula := func(commit, od, v float64) string {
				if o.term == 0 {
					return fmt.Sprintf("sum over months 0..%d of %s x growth(m) (%s) = %s", months-1, usd(od), g.text(), usd(v))
				}
				return fmt.Sprintf("sum over months 0..%d of %s commitment + %s x max(0, growth(m) - 1) (%s) = %s", months-1, usd(commit), usd(od), g.text(), usd(v))
			}
			metrics = append(metrics,
				rangeEnd(metric(fmt.Sprintf("tco_%s_%dy_usd_low", o.key, years), lo, "USD", formula(o.commitLow, o.onDemandLow, lo), srcTCO, ""),
					fmt.Sprintf("tco_%s_%dy_usd", o.key, years), BoundLow),
				rangeEnd(metric(fmt.Sprintf("tco_%s_%dy_usd_high", o.key, years), hi, "USD", formula(o.commitHi, o.onDemHi, hi), srcTCO, ""),
					fmt.Sprintf("tco_%s_%dy_usd", o.key, years), BoundHigh))
			if cur, seen := bestHigh[years]; !seen || hi < cur {
				best[years], bestHigh[years] = o.label, hi
			}
		}
	}
	for _, o := range options {
		if o.term == 36 {
			findings = append(findings, finding(severityInfo, "A 3-year commitment is owed for 36 months",
				fmt.Sprintf("The 1- and 2-year totals count only the months in that period; leaving early still owes %s a month until month 36.", usdSpan(o.commitLow, o.commitHi))))
		}
	}
	findings = append(findings, finding(severityInfo, fmt.Sprintf("Cheapest over 3 years: %s", best[3]),
		fmt.Sprintf("On the high estimate the cheapest way to pay is %s over 1 year, %s over 2 and %s over 3 years (%s over 3 years), with demand growing %s.",
			best[1], best[2], best[3], usd(bestHigh[3]), g.text())))
	if len(absent) > 0 {
		findings = append(findings, missingFinding(absent, "the matching commitment is left out of the total cost of ownership"))
	}
	return metrics, findings
}
