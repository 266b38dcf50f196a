package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	advisorplan "github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// reportMonths are the months whose cost the simulation reports; the
// projection itself runs month by month.
func reportMonths() []int { return []int{0, 6, 12, 18, 24, 30, 36} }

// budgetHorizons are the horizons over which the probability of exceeding
// the budget (in any month up to the horizon) is reported.
func budgetHorizons() []int { return []int{12, 24, 36} }

// maxStepsReported caps the replica steps listed per workload; a workload of
// hundreds of replicas would otherwise list hundreds of months.
const maxStepsReported = 12

// Sources of the commitment and spot comparisons.
const (
	srcCommit = "commitment billed for its whole term whether used or not (Google Cloud, Committed use discounts: 1- or 3-year contracts committing to a minimum usage or spend, docs.cloud.google.com/compute/docs/instances/reservations-with-commitments; Microsoft Learn, Buy an Azure savings plan: an hourly spend committed for one or three years, its total cost paid up front or in 12 or 36 equal monthly payments, learn.microsoft.com/azure/cost-management-billing/savings-plan/buy-savings-plan); prices from the cloud family's plan"
	srcSpot   = "spot price from the cloud family's plan; interruption: AWS issues a Spot interruption notice two minutes before it stops or terminates the instance (docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html)"
)

type simulation struct {
	metrics  []*inframindv1.Metric
	findings []*inframindv1.Finding
	summary  []string
	// bands holds the projected cost per reported month, in reportMonths order.
	bands []*inframindv1.CostBand
}

// band returns the cost band of month m, adding it on first use.
func (s *simulation) band(m int) *inframindv1.CostBand {
	for _, b := range s.bands {
		if int(b.GetMonth()) == m {
			return b
		}
	}
	b := &inframindv1.CostBand{Month: int32(m)}
	s.bands = append(s.bands, b)
	return b
}

func (s *simulation) add(m *inframindv1.Metric)   { s.metrics = append(s.metrics, m) }
func (s *simulation) note(f *inframindv1.Finding) { s.findings = append(s.findings, f) }

func analyzeSimulation(_ *catalog.Catalog, req *inframindv1.AssessmentRequest, cloud *inframindv1.AgentResultPublished) (Outcome, error) {
	plan, err := readCloudPlan(cloud, assessment.FamilySimulation)
	if err != nil {
		return Outcome{}, err
	}
	b := req.GetBusiness()
	g, err := readGrowth(b.GetGrowth())
	if err != nil {
		return Outcome{}, err
	}
	budget := b.GetMonthlyBudgetUsd()
	if budget < 0 || math.IsNaN(budget) || math.IsInf(budget, 0) {
		return Outcome{}, unanalysable("business.monthly_budget_usd: must be >= 0, got %v", budget)
	}

	s := &simulation{}
	s.growthScenarios(g)

	odLow, odHigh, haveCost := plan.pair(MetricMonthlyCostLow, MetricMonthlyCostHigh)
	model := s.buildModel(plan, odLow, odHigh, haveCost)
	s.capacitySteps(model, g)
	if haveCost {
		s.costProjection(model, g, budget)
		s.monteCarlo(model, g, budget)
	} else {
		s.note(missingFinding([]string{MetricMonthlyCostLow, MetricMonthlyCostHigh},
			"no cost projection, Monte Carlo range or budget probability can be computed; the demand scenarios and capacity steps still hold"))
		s.summary = append(s.summary, fmt.Sprintf("Demand grows to x%s by month 24 and x%s by month 36 (%s); the plan's cost is not available.",
			num(g.at(24)), num(g.at(projectionMonths)), g.text()))
	}
	s.breakEven(plan, odLow, odHigh, haveCost)
	return Outcome{Summary: strings.Join(s.summary, " "), Metrics: s.metrics, Findings: s.findings, CostBands: s.bands}, nil
}

// growthScenarios reports demand month by month in the base scenario, and
// the low and high scenarios at the reported months.
func (s *simulation) growthScenarios(g growthCurve) {
	if g.flat {
		s.note(finding(severityLow, "No growth projection given",
			"business.growth is empty, so demand is held flat at today's level for 36 months in every scenario."))
	}
	for m := 0; m <= projectionMonths; m++ {
		s.add(metric(fmt.Sprintf("demand_multiplier_month_%d", m), g.at(m), "x today",
			fmt.Sprintf("growth(%d) with %s = x%s", m, g.text(), num(g.at(m))), srcGrowth, ""))
	}
	for _, m := range reportMonths() {
		for _, sc := range []struct {
			name string
			k    float64
		}{{BoundLow, scenarioLowK}, {BoundHigh, scenarioHighK}} {
			v := g.scenario(m, sc.k)
			s.add(rangeEnd(metric(fmt.Sprintf("demand_multiplier_%s_month_%d", sc.name, m), v, "x today",
				fmt.Sprintf("growth(%d)^%s = %s^%s = x%s (%s scenario: %s the projected change on a log scale)", m, num(sc.k), num(g.at(m)), num(sc.k), num(v), sc.name, num(sc.k)),
				srcGrowth+"; scenario exponents 0.5 and 1.5 are Infra Mind's planning assumption", ""),
				fmt.Sprintf("demand_multiplier_scenario_month_%d", m), sc.name))
		}
	}
	s.findings = append(s.findings, finding(severityInfo, "Growth scenarios",
		fmt.Sprintf("Base: %s, linear between the stated months and compounding at the average rate of months 0-24 after month 24 (x%s at month 36). Low and high scenarios realise half and one and a half times the projected change: x%s and x%s at month 24.",
			g.text(), num(g.at(projectionMonths)), num(g.scenario(24, scenarioLowK)), num(g.scenario(24, scenarioHighK)))))
}

// buildModel splits the plan's cost into stepped workloads (those with the
// replica figures) and the rest, reporting workloads it cannot step.
func (s *simulation) buildModel(plan cloudPlanView, odLow, odHigh float64, haveCost bool) costModel {
	var model costModel
	var stepLow, stepHigh float64
	described := 0
	for _, w := range plan.workloads {
		ok, missing := w.steppable()
		if len(missing) < len(stepInputs()) {
			described++
		}
		if !ok {
			// A workload with none of the step inputs (training, a general
			// service) is simply not stepped; one with some is reported.
			if len(missing) > 0 && len(missing) < len(stepInputs()) {
				s.note(finding(severityLow, "No capacity steps for "+w.name,
					fmt.Sprintf("The cloud plan gives %s no %s, so its replicas are not stepped month by month; its cost stays in the part of the plan that scales linearly with demand.", w.name, strings.Join(missing, ", "))))
			}
			continue
		}
		m := w.metrics
		// Size replicas as the planner does, so month 0 reproduces the plan:
		// the peak plus headroom (30% on the pessimistic side, 20% on the
		// optimistic one) folded into the capacity, so ceil(peak x growth /
		// capacity) stays the formula; the optimistic capacity never below
		// the pessimistic one; never fewer replicas than the plan has today
		// (its high-availability minimum).
		capLow := m[MetricReplicaCapacityRPSLow] / (1 + advisorplan.HeadroomHigh)
		sw := steppedWorkload{
			name:    w.name,
			peak:    m[MetricPeakRPS],
			capLow:  capLow,
			capHigh: math.Max(capLow, m[MetricReplicaCapacityRPSHigh]/(1+advisorplan.HeadroomLow)),
			price:   m[MetricReplicaMonthlyUSD],
			floor:   m[MetricReplicasLow],
		}
		sw.replicasLow = math.Max(sw.floor, replicasAt(sw.peak, 1, sw.capHigh))
		sw.replicasHi = math.Max(sw.floor, replicasAt(sw.peak, 1, sw.capLow))
		stepLow += sw.replicasLow * sw.price
		stepHigh += sw.replicasHi * sw.price
		model.workloads = append(model.workloads, sw)
	}
	if described == 0 {
		s.note(finding(severityLow, "No per-workload replica figures in the cloud plan",
			fmt.Sprintf("The cloud plan carries no %s per workload, so no capacity steps are computed and the whole plan's cost is scaled linearly with demand.", strings.Join(stepInputs(), ", "))))
	}
	if !haveCost {
		return model
	}
	model.restLow, model.restHigh = odLow-stepLow, odHigh-stepHigh
	if model.restLow < 0 || model.restHigh < 0 {
		s.note(finding(severityLow, "Stepped replicas cost more than the plan",
			fmt.Sprintf("ceil(peak / capacity) x replica price sums to %s a month, more than the plan's %s (the plan may count replicas differently); the rest of the plan is taken as 0.",
				span.Text(usd(stepLow), usd(stepHigh)), span.Text(usd(odLow), usd(odHigh)))))
		model.restLow, model.restHigh = math.Max(0, model.restLow), math.Max(0, model.restHigh)
	}
	return model
}

// capacitySteps reports, per stepped workload, the month each added replica
// is first needed in the base scenario: early at the low per-replica
// capacity, late at the high one.
func (s *simulation) capacitySteps(model costModel, g growthCurve) {
	for _, w := range model.workloads {
		formula := func(capName string, capacity float64, m int) string {
			return fmt.Sprintf("first month m where ceil(%s rps peak x growth(m) / %s rps per replica (%s)) reaches the count: month %d, ceil(%s x %s / %s) = %s",
				num(w.peak), num(capacity), capName, m, num(w.peak), num(g.at(m)), num(capacity), num(replicasAt(w.peak, g.at(m), capacity)))
		}
		maxCount := w.replicasHi
		for m := 0; m <= projectionMonths; m++ {
			maxCount = math.Max(maxCount, replicasAt(w.peak, g.at(m), w.capLow))
		}
		reported := 0
		for n := w.replicasLow + 1; n <= maxCount; n++ {
			if reported == maxStepsReported {
				s.note(finding(severityInfo, "More capacity steps for "+w.name,
					fmt.Sprintf("%s reaches %s replicas within 36 months at the low capacity; only the first %d steps are listed.", w.name, num(maxCount), maxStepsReported)))
				break
			}
			early := firstMonthReaching(w.peak, w.capLow, n, g)
			late := firstMonthReaching(w.peak, w.capHigh, n, g)
			if early < 0 {
				break
			}
			reported++
			needed := fmt.Sprintf("replica_%d_needed_month", int(n))
			s.add(rangeEnd(metric(needed+"_low", float64(early), "month",
				formula(MetricReplicaCapacityRPSLow, w.capLow, early), srcReplicas+"; "+srcGrowth, w.name), needed, BoundLow))
			if late >= 0 {
				s.add(rangeEnd(metric(needed+"_high", float64(late), "month",
					formula(MetricReplicaCapacityRPSHigh, w.capHigh, late), srcReplicas+"; "+srcGrowth, w.name), needed, BoundHigh))
			}
		}
		for _, m := range []int{12, 24, 36} {
			for _, side := range []struct {
				name     string
				capacity float64
				capName  string
			}{{BoundLow, w.capHigh, MetricReplicaCapacityRPSHigh}, {BoundHigh, w.capLow, MetricReplicaCapacityRPSLow}} {
				r := replicasAt(w.peak, g.at(m), side.capacity)
				s.add(rangeEnd(metric(fmt.Sprintf("replicas_%s_month_%d", side.name, m), r, "replicas",
					fmt.Sprintf("ceil(%s rps peak x %s (growth month %d) / %s rps per replica (%s)) = %s", num(w.peak), num(g.at(m)), m, num(side.capacity), side.capName, num(r)),
					srcReplicas+"; "+srcGrowth, w.name), fmt.Sprintf("replicas_month_%d", m), side.name))
			}
		}
		s.note(finding(severityInfo, fmt.Sprintf("Capacity steps for %s", w.name),
			fmt.Sprintf("%s starts with %s replicas (peak %s rps, %s rps per replica) and needs %s by month 24 and %s by month 36 in the base scenario.",
				w.name, span.Text(num(w.replicasLow), num(w.replicasHi)), num(w.peak), span.Text(num(w.capLow), num(w.capHigh)),
				span.Text(num(replicasAt(w.peak, g.at(24), w.capHigh)), num(replicasAt(w.peak, g.at(24), w.capLow))),
				span.Text(num(replicasAt(w.peak, g.at(projectionMonths), w.capHigh)), num(replicasAt(w.peak, g.at(projectionMonths), w.capLow))))))
	}
}

// firstMonthReaching returns the first month whose replicas reach n, or -1.
func firstMonthReaching(peak, capacity, n float64, g growthCurve) int {
	for m := 0; m <= projectionMonths; m++ {
		if replicasAt(peak, g.at(m), capacity) >= n {
			return m
		}
	}
	return -1
}

// modelText explains the cost model in a formula.
func (c costModel) text(side string) string {
	if len(c.workloads) == 0 {
		return fmt.Sprintf("plan %s x growth(m)", side)
	}
	names := make([]string, len(c.workloads))
	for i, w := range c.workloads {
		names[i] = w.name
	}
	return fmt.Sprintf("sum over %s of ceil(peak x growth(m) / replica capacity) x replica_monthly_usd + (plan %s - those replicas at month 0) x growth(m)", strings.Join(names, ", "), side)
}

// costProjection reports the base and scenario costs at the reported months
// and the first month the budget is exceeded.
func (s *simulation) costProjection(model costModel, g growthCurve, budget float64) {
	src := srcReplicas + "; " + srcGrowth + "; assumption: the plan's cost outside stepped workloads scales linearly with demand"
	for _, m := range reportMonths() {
		low, high := model.lowCost(g.at(m)), model.highCost(g.at(m))
		b := s.band(m)
		b.LowUsd, b.HighUsd = low, high
		rng := fmt.Sprintf("monthly_cost_usd_month_%d", m)
		s.add(rangeEnd(metric(fmt.Sprintf("monthly_cost_usd_low_month_%d", m), low, "USD/month",
			fmt.Sprintf("%s at growth(%d) = x%s, capacity at its high end = %s", model.text(MetricMonthlyCostLow), m, num(g.at(m)), usd(low)), src, ""), rng, BoundLow))
		s.add(rangeEnd(metric(fmt.Sprintf("monthly_cost_usd_high_month_%d", m), high, "USD/month",
			fmt.Sprintf("%s at growth(%d) = x%s, capacity at its low end = %s", model.text(MetricMonthlyCostHigh), m, num(g.at(m)), usd(high)), src, ""), rng, BoundHigh))
		lowSc, highSc := model.lowCost(g.scenario(m, scenarioLowK)), model.highCost(g.scenario(m, scenarioHighK))
		scRng := fmt.Sprintf("monthly_cost_usd_scenario_month_%d", m)
		s.add(rangeEnd(metric(fmt.Sprintf("monthly_cost_usd_scenario_low_month_%d", m), lowSc, "USD/month",
			fmt.Sprintf("low scenario, low side: demand x%s -> %s", num(g.scenario(m, scenarioLowK)), usd(lowSc)), src, ""), scRng, BoundLow))
		s.add(rangeEnd(metric(fmt.Sprintf("monthly_cost_usd_scenario_high_month_%d", m), highSc, "USD/month",
			fmt.Sprintf("high scenario, high side: demand x%s -> %s", num(g.scenario(m, scenarioHighK)), usd(highSc)), src, ""), scRng, BoundHigh))
	}
	s.summary = append(s.summary, fmt.Sprintf("Monthly on-demand cost goes from %s now to %s at month 24 and %s at month 36 (%s).",
		span.Text(usd(model.lowCost(1)), usd(model.highCost(1))), span.Text(usd(model.lowCost(g.at(24))), usd(model.highCost(g.at(24)))),
		span.Text(usd(model.lowCost(g.at(projectionMonths))), usd(model.highCost(g.at(projectionMonths)))), g.text()))
	if budget == 0 {
		s.note(budgetFinding(severityLow, "No budget to compare",
			"business.monthly_budget_usd is not set, so no month of budget overrun or probability of exceeding it can be given."))
		return
	}
	overLow := firstMonthOver(model.lowCost, budget, g)
	overHigh := firstMonthOver(model.highCost, budget, g)
	exceedFormula := func(side string, cost func(float64) float64, m int) string {
		return fmt.Sprintf("first month m in 0..36 where %s > %s budget: month %d, growth x%s -> %s",
			model.text(side), usd(budget), m, num(g.at(m)), usd(cost(g.at(m))))
	}
	if overHigh >= 0 {
		s.add(rangeEnd(metric("budget_exceeded_month_high", float64(overHigh), "month", exceedFormula(MetricMonthlyCostHigh, model.highCost, overHigh), srcReplicas+"; "+srcGrowth, ""),
			"budget_exceeded_month", BoundHigh))
	}
	if overLow >= 0 {
		s.add(rangeEnd(metric("budget_exceeded_month_low", float64(overLow), "month", exceedFormula(MetricMonthlyCostLow, model.lowCost, overLow), srcReplicas+"; "+srcGrowth, ""),
			"budget_exceeded_month", BoundLow))
	}
	switch {
	case overLow >= 0:
		s.note(budgetFinding(severityHigh, fmt.Sprintf("Budget exceeded from month %d even on the low estimate", overLow),
			fmt.Sprintf("At month %d demand is x%s and even the low estimate reaches %s against the %s budget; the high estimate crosses it at month %d.",
				overLow, num(g.at(overLow)), usd(model.lowCost(g.at(overLow))), usd(budget), overHigh)))
		s.summary = append(s.summary, fmt.Sprintf("The %s budget is exceeded from month %d on the high estimate and month %d on the low.", usd(budget), overHigh, overLow))
	case overHigh >= 0:
		s.note(budgetFinding(severityMedium, fmt.Sprintf("Budget may be exceeded from month %d", overHigh),
			fmt.Sprintf("At month %d demand is x%s and the high estimate reaches %s against the %s budget; the low estimate stays within it through month 36.",
				overHigh, num(g.at(overHigh)), usd(model.highCost(g.at(overHigh))), usd(budget))))
		s.summary = append(s.summary, fmt.Sprintf("The %s budget is exceeded from month %d on the high estimate only.", usd(budget), overHigh))
	default:
		s.note(budgetFinding(severityInfo, "Within budget through month 36",
			fmt.Sprintf("Even the high estimate stays within the %s budget in every month through month 36 in the base scenario.", usd(budget))))
		s.summary = append(s.summary, fmt.Sprintf("It stays within the %s budget through month 36.", usd(budget)))
	}
}

// firstMonthOver returns the first month in 0..36 whose projected cost
// exceeds budget, or -1.
func firstMonthOver(cost func(float64) float64, budget float64, g growthCurve) int {
	for m := 0; m <= projectionMonths; m++ {
		if cost(g.at(m)) > budget {
			return m
		}
	}
	return -1
}

// monteCarlo reports P10/P50/P90 monthly cost and the probability of
// exceeding the budget per horizon.
func (s *simulation) monteCarlo(model costModel, g growthCurve, budget float64) {
	r := monteCarlo(model, g, reportMonths(), budgetHorizons(), budget)
	for _, m := range reportMonths() {
		b := s.band(m)
		b.P10Usd, b.P50Usd, b.P90Usd, b.Source = r.p10[m], r.p50[m], r.p90[m], srcMonteCarlo
		for _, p := range []struct {
			name string
			v    float64
		}{{"p10", r.p10[m]}, {"p50", r.p50[m]}, {"p90", r.p90[m]}} {
			s.add(metric(fmt.Sprintf("monthly_cost_usd_%s_month_%d", p.name, m), p.v, "USD/month",
				fmt.Sprintf("%s of %d simulated month-%d costs, each = price drift^%d x (%s) = %s", strings.ToUpper(p.name), mcRuns, m, m, model.text("cost"), usd(p.v)),
				srcMonteCarlo, ""))
		}
	}
	s.summary = append(s.summary, fmt.Sprintf("Monte Carlo (fixed seed): month 24 costs %s (P10) / %s (P50) / %s (P90).", usd(r.p10[24]), usd(r.p50[24]), usd(r.p90[24])))
	if budget == 0 {
		return
	}
	for _, h := range budgetHorizons() {
		s.add(metric(fmt.Sprintf("budget_exceeded_probability_%dm", h), r.exceed[h], "probability",
			fmt.Sprintf("share of %d runs whose cost exceeds the %s budget in any month 0..%d = %s", mcRuns, usd(budget), h, num(r.exceed[h])),
			srcMonteCarlo, ""))
	}
	sev := severityInfo
	switch {
	case r.exceed[24] >= 0.5:
		sev = severityHigh
	case r.exceed[24] >= 0.1:
		sev = severityMedium
	case r.exceed[24] > 0:
		sev = severityLow
	}
	s.note(budgetFinding(sev, fmt.Sprintf("%.0f%% chance of exceeding the budget within 24 months", 100*r.exceed[24]),
		fmt.Sprintf("Of %d simulated futures, %.1f%% exceed the %s monthly budget in some month within 12 months, %.1f%% within 24 and %.1f%% within 36 (growth, replica capacity and price drift varied; price rises not modelled).",
			mcRuns, 100*r.exceed[12], usd(budget), 100*r.exceed[24], 100*r.exceed[36])))
}

// breakEven compares on-demand with 1- and 3-year commitments and spot.
// A commitment is paid every month of its term, so over a term of T months
// it costs T x C; the same capacity used u months on demand costs u x OD.
// The commitment wins once u > T x C / OD (the break-even months of use).
func (s *simulation) breakEven(plan cloudPlanView, odLow, odHigh float64, haveCost bool) {
	if !haveCost {
		return
	}
	terms := []struct {
		label     string
		low, high string
		months    float64
	}{
		{"1y", MetricMonthlyCommit1YLow, MetricMonthlyCommit1YHigh, 12},
		{"3y", MetricMonthlyCommit3YLow, MetricMonthlyCommit3YHigh, 36},
	}
	var absent []string
	for _, t := range terms {
		cLow, cHigh, ok := plan.pair(t.low, t.high)
		if !ok {
			absent = append(absent, t.low+"/"+t.high)
			continue
		}
		if odLow == 0 || odHigh == 0 {
			continue
		}
		beLow, beHigh := t.months*cLow/odLow, t.months*cHigh/odHigh
		for _, side := range []struct {
			name     string
			be, c, o float64
		}{{BoundLow, beLow, cLow, odLow}, {BoundHigh, beHigh, cHigh, odHigh}} {
			s.add(rangeEnd(metric(fmt.Sprintf("commit_%s_breakeven_months_%s", t.label, side.name), side.be, "months of use",
				fmt.Sprintf("%s-month term x %s commitment / %s on demand = %s months of use", num(t.months), usd(side.c), usd(side.o), num(side.be)),
				srcCommit, ""), fmt.Sprintf("commit_%s_breakeven_months", t.label), side.name))
		}
		lo, hi := math.Min(beLow, beHigh), math.Max(beLow, beHigh)
		sev, verdict := severityInfo, fmt.Sprintf("commit if the capacity will run more than %s of the %s months", span.Text(num(lo), num(hi)), num(t.months))
		if lo >= t.months {
			sev, verdict = severityLow, "the commitment never pays back within its term at these prices"
		}
		s.note(finding(sev, fmt.Sprintf("%s commitment breaks even after %s months of use", t.label, span.Text(num(lo), num(hi))),
			fmt.Sprintf("It costs %s a month for %s months against %s on demand: %s. Growth above today's capacity stays on demand.",
				span.Text(usd(cLow), usd(cHigh)), num(t.months), span.Text(usd(odLow), usd(odHigh)), verdict)))
	}
	if spotLow, spotHigh, ok := plan.pair(MetricMonthlySpotLow, MetricMonthlySpotHigh); ok {
		for _, side := range []struct {
			name    string
			sp, od  float64
			odName  string
			spotKey string
		}{{BoundLow, spotLow, odLow, MetricMonthlyCostLow, MetricMonthlySpotLow}, {BoundHigh, spotHigh, odHigh, MetricMonthlyCostHigh, MetricMonthlySpotHigh}} {
			save := side.od - side.sp
			s.add(rangeEnd(metric("spot_savings_usd_month_"+side.name, save, "USD/month",
				fmt.Sprintf("%s (%s) - %s (%s) = %s", usd(side.od), side.odName, usd(side.sp), side.spotKey, usd(save)), srcSpot, ""),
				"spot_savings_usd_month", side.name))
		}
		s.note(finding(severityMedium, "Spot saves money only for work that tolerates interruption",
			fmt.Sprintf("Spot would cost %s a month against %s on demand, but spot capacity can be reclaimed at short notice (two minutes on AWS), so it suits batch inference, training with checkpoints and replicas above a committed or on-demand floor, not the only replica of a latency SLO.",
				span.Text(usd(spotLow), usd(spotHigh)), span.Text(usd(odLow), usd(odHigh)))))
	} else {
		absent = append(absent, MetricMonthlySpotLow+"/"+MetricMonthlySpotHigh)
	}
	if len(absent) > 0 {
		s.note(missingFinding(absent, "the matching commitment or spot comparison is left out (no published price for the plan's instances)"))
	}
}
