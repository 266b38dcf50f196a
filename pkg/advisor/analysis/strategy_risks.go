package analysis

import (
	"fmt"
	"slices"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// srcRiskRubric is the scale every risk is scored on.
const srcRiskRubric = "consequence/likelihood matrix (IEC 31010:2019, risk assessment techniques), Infra Mind's 1-5 scales: " +
	"probability 1 rare (<10%), 2 unlikely (10-30%), 3 possible (30-50%), 4 likely (50-80%), 5 almost certain (>80%); " +
	"impact 1 negligible, 2 minor (<10% over budget or weeks of delay), 3 moderate (10-25% or a month), 4 major (25-50%, a quarter, or an audit finding), 5 severe (>50%, a regulatory breach or a blocked launch); score = probability x impact"

// risk is one register entry.
// riskBudgetOverrun is the id of the budget risk; readers group it with the other budget findings.
const riskBudgetOverrun = "budget_overrun"

type risk struct {
	id, title           string
	probability, impact int
	why, mitigation     string
}

// probabilityScore maps a probability in [0, 1] to the 1-5 rubric.
func probabilityScore(p float64) int {
	switch {
	case p < 0.1:
		return 1
	case p < 0.3:
		return 2
	case p < 0.5:
		return 3
	case p < 0.8:
		return 4
	default:
		return 5
	}
}

// overrunImpact maps an overrun as a share of the budget to the 1-5 rubric.
func overrunImpact(share float64) int {
	switch {
	case share <= 0:
		return 1
	case share < 0.1:
		return 2
	case share < 0.25:
		return 3
	case share < 0.5:
		return 4
	default:
		return 5
	}
}

// riskInputs are the findings the register is derived from.
type riskInputs struct {
	req            *inframindv1.AssessmentRequest
	cat            *catalogueIndex
	plan           cloudPlanView
	growth         growthCurve
	scope          []string
	roadLow, roadH float64
}

// budgetRisk: the share of the plan's range above the budget at month 12
// (base growth), assuming the true cost is equally likely anywhere in the
// range; impact from the high estimate's overrun as a share of the budget.
func budgetRisk(in riskInputs) (risk, bool) {
	budget := in.req.GetBusiness().GetMonthlyBudgetUsd()
	low, high, ok := in.plan.pair(MetricMonthlyCostLow, MetricMonthlyCostHigh)
	if budget <= 0 || !ok {
		return risk{}, false
	}
	g12 := in.growth.at(12)
	lo, hi := low*g12, high*g12
	p := 0.0
	switch {
	case lo > budget:
		p = 1
	case hi > budget:
		p = (hi - budget) / (hi - lo)
	}
	return risk{id: riskBudgetOverrun, title: "Budget overrun",
		probability: probabilityScore(p), impact: overrunImpact((hi - budget) / budget),
		why: fmt.Sprintf("at month 12 (growth x%s) the plan costs %s a month against the %s budget: %s of the range lies above it",
			num(g12), usdSpan(lo, hi), usd(budget), fmt.Sprintf("%.0f%%", 100*p)),
		mitigation: "commit only today's capacity, cap autoscaling at the budget, review the simulation family's month-by-month range before each capacity step"}, true
}

// providerRisk: one provider carries the whole plan.
func providerRisk(in riskInputs) risk {
	p, why := 2, fmt.Sprintf("the plan runs on one provider; %d providers remain in scope as a fallback", len(in.scope))
	if len(in.scope) == 1 {
		p, why = 3, fmt.Sprintf("only %s is in scope after the stated preferences and exclusions, so there is no priced fallback", in.scope[0])
	}
	return risk{id: "single_provider", title: "Single-provider dependency", probability: p, impact: 3, why: why,
		mitigation: "keep serving portable (containers, an open serving engine, infrastructure as code) and re-run the research family's cross-provider comparison before renewing commitments"}
}

// skillsRisk: ML workloads without ML or ops engineers, or a beginner team.
func skillsRisk(in riskInputs) (risk, bool) {
	t := in.req.GetBusiness().GetTeam()
	ml := 0
	for _, w := range in.req.GetWorkloads() {
		if norm(w.GetKind()) != "general" {
			ml++
		}
	}
	p, why := 1, "an expert team"
	switch norm(t.GetExpertise()) {
	case "beginner":
		p, why = 4, "a beginner team"
	case "intermediate":
		p, why = 2, "an intermediate team"
	case "expert":
	default:
		p, why = 3, "team expertise not stated"
	}
	if ml > 0 && t.GetMlEngineers() == 0 {
		p, why = max(p, 4), why+fmt.Sprintf(" with %s and no ML engineers", plural(ml, "ML workload"))
	}
	if t.GetOpsEngineers() == 0 {
		p, why = max(p, 4), why+" and no ops engineers to run production"
	}
	if p == 1 {
		return risk{}, false
	}
	return risk{id: "skills_gap", title: "Team skills gap", probability: p, impact: 4, why: why,
		mitigation: "start with a managed serving option, pair with an experienced partner for the foundation phase, and fit the MLOps stack to the team (see the mlops family)"}, true
}

// complianceRisk: sensitive data without a declared regime, or declared
// regimes the plan must prove.
func complianceRisk(in riskInputs) (risk, bool) {
	b := in.req.GetBusiness()
	regimes := nonEmpty(b.GetCompliance())
	var sensitive []string
	for _, c := range b.GetDataCategories() {
		if slices.Contains([]string{"health", "payment_card", "children", "financial"}, norm(c)) {
			sensitive = append(sensitive, norm(c))
		}
	}
	switch {
	case len(regimes) == 0 && len(sensitive) > 0:
		return risk{id: "compliance_gap", title: "Compliance gap", probability: 4, impact: 5,
			why:        fmt.Sprintf("the business handles %v data but declares no compliance regime", sensitive),
			mitigation: "confirm which regimes apply with the compliance family's inferred list before the foundation phase"}, true
	case len(regimes) > 0:
		p := 3
		if norm(b.GetTeam().GetExpertise()) == "expert" && b.GetTeam().GetOpsEngineers() > 0 {
			p = 2
		}
		impact := 4
		if len(sensitive) > 0 {
			impact = 5
		}
		return risk{id: "compliance_gap", title: "Compliance gap", probability: p, impact: impact,
			why:        fmt.Sprintf("%s declared (%v) must be evidenced on the chosen services", plural(len(regimes), "regime"), regimes),
			mitigation: "build the compliance family's controls into the foundation phase and use only eligible services (BAA where HIPAA applies)"}, true
	}
	return risk{}, false
}

// priceAgeRisk: the oldest instance price in scope, against the catalogue's
// collection date (never the wall clock, so the analysis stays pure).
func priceAgeRisk(in riskInputs) (risk, bool) {
	row, ok := in.cat.oldestPriceIn(in.scope)
	if !ok {
		return risk{}, false
	}
	oldest, oldestRow := row.days, row.text
	p := 1
	switch {
	case oldest >= 365:
		p = 4
	case oldest >= 180:
		p = 3
	case oldest >= 90:
		p = 2
	}
	return risk{id: "price_snapshot_age", title: "Stale price snapshot", probability: p, impact: 3,
		why:        fmt.Sprintf("the oldest instance price in scope is %d days old at the catalogue's collection (%s): %s", oldest, in.cat.CollectedOn, oldestRow),
		mitigation: "confirm prices with the provider's calculator or a quote before committing"}, true
}

// timelineRisk: the roadmap's duration against the stated timeline.
func timelineRisk(in riskInputs) (risk, bool) {
	timeline := float64(in.req.GetBusiness().GetTimelineMonths())
	if timeline == 0 || in.roadH <= timeline {
		return risk{}, false
	}
	p := 3
	if in.roadLow > timeline {
		p = 5
	}
	return risk{id: "timeline", title: "Timeline slip", probability: p, impact: 3,
		why:        fmt.Sprintf("the roadmap takes %s months against the stated %s", numSpan(in.roadLow, in.roadH), num(timeline)),
		mitigation: "cut the first release to one workload, add a delivery track, or extend the timeline"}, true
}

// riskRegister derives the register and reports it as metrics and findings.
func riskRegister(in riskInputs) ([]*inframindv1.Metric, []*inframindv1.Finding) {
	var risks []risk
	if r, ok := budgetRisk(in); ok {
		risks = append(risks, r)
	}
	risks = append(risks, providerRisk(in))
	for _, f := range []func(riskInputs) (risk, bool){skillsRisk, complianceRisk, priceAgeRisk, timelineRisk} {
		if r, ok := f(in); ok {
			risks = append(risks, r)
		}
	}
	slices.SortStableFunc(risks, func(a, b risk) int { return b.probability*b.impact - a.probability*a.impact })
	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	for _, r := range risks {
		score := r.probability * r.impact
		metrics = append(metrics, metric("risk_"+r.id+"_score", float64(score), "probability x impact",
			fmt.Sprintf("probability %d x impact %d = %d, because %s", r.probability, r.impact, score, r.why), srcRiskRubric, ""))
		sev := severityInfo
		switch {
		case score >= 15:
			sev = severityHigh
		case score >= 8:
			sev = severityMedium
		case score >= 4:
			sev = severityLow
		}
		why, mitigation := r.why+".", r.mitigation+"."
		f := finding(sev, fmt.Sprintf("Risk: %s (P%d x I%d = %d)", r.title, r.probability, r.impact, score),
			"Why: "+why+" Mitigation: "+mitigation)
		f.Kind, f.Subject = KindRisk, r.title
		f.Risk = &inframindv1.Risk{Id: r.id, Title: r.title, Probability: int32(r.probability), Impact: int32(r.impact),
			Score: int32(score), Why: why, Mitigation: mitigation}
		if r.id == riskBudgetOverrun {
			f.Topic = TopicBudget
		}
		findings = append(findings, f)
	}
	return metrics, findings
}
