package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// analyzeStrategy advises on the plan as a whole: total cost of ownership,
// build vs buy, alignment with the budget and goals, a roadmap and a risk
// register. It reads the cloud family's plan; without one (not delivered, or
// failed) it still sizes the roadmap and risks and says what is missing.
func analyzeStrategy(cat *catalogueIndex, req *inframindv1.AssessmentRequest, cloud *inframindv1.AgentResultPublished) (Outcome, error) {
	b := req.GetBusiness()
	if b == nil {
		return Outcome{}, unanalysable("business: missing; strategy needs the team, budget, timeline and goals")
	}
	workloads := len(req.GetWorkloads())
	if workloads == 0 {
		return Outcome{}, unanalysable("workloads: at least one workload is required")
	}
	t := b.GetTeam()
	if err := validateTeam(t); err != nil {
		return Outcome{}, err
	}
	team := int(t.GetEngineers() + t.GetMlEngineers() + t.GetOpsEngineers())
	if team == 0 {
		return Outcome{}, unanalysable("business.team: no engineers, ml_engineers or ops_engineers; the roadmap is sized by the team")
	}
	budget := b.GetMonthlyBudgetUsd()
	if budget < 0 || math.IsNaN(budget) || math.IsInf(budget, 0) {
		return Outcome{}, unanalysable("business.monthly_budget_usd: must be >= 0, got %v", budget)
	}
	timeline := int(b.GetTimelineMonths())
	if timeline < 0 {
		return Outcome{}, unanalysable("business.timeline_months: must be >= 0, got %d", timeline)
	}
	g, err := readGrowth(b.GetGrowth())
	if err != nil {
		return Outcome{}, err
	}
	scope, err := catalogueProviderScope(cat, b)
	if err != nil {
		return Outcome{}, err
	}

	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	plan := cloudPlanView{plan: map[string]float64{}}
	havePlan := false
	switch {
	case cloud == nil:
		findings = append(findings, finding(severityMedium, "Cloud plan not available",
			"No cloud family result was given, so total cost of ownership, build vs buy and budget alignment are left out; the roadmap and risks below do not need it."))
	case cloud.GetStatus() == "failed":
		findings = append(findings, finding(severityHigh, "Cloud plan failed",
			fmt.Sprintf("The cloud family could not plan the request (%s), so total cost of ownership, build vs buy and budget alignment are left out.", cloud.GetError())))
	default:
		if plan, err = readCloudPlan(cloud, assessment.FamilyStrategy); err != nil {
			return Outcome{}, err
		}
		havePlan = true
	}

	// Roadmap: tracks = max(1, floor(team / 4)); phases = 1 + ceil(workloads / tracks).
	tracks := max(1, team/peoplePerTrack)
	waves := (workloads + tracks - 1) / tracks
	phases := 1 + waves
	metrics = append(metrics,
		metric("team_size_total", float64(team), "people",
			fmt.Sprintf("%d engineers + %d ML engineers + %d ops engineers = %d", t.GetEngineers(), t.GetMlEngineers(), t.GetOpsEngineers(), team),
			"the request's business.team", ""),
		metric("workloads_count", float64(workloads), "workloads", fmt.Sprintf("%d workloads in the request", workloads), "the request's workloads", ""),
		metric("delivery_tracks", float64(tracks), "tracks",
			fmt.Sprintf("max(1, floor(%d people / %d per track)) = %d", team, peoplePerTrack, tracks), srcRoadmapRule, ""),
		metric("roadmap_phases", float64(phases), "phases",
			fmt.Sprintf("1 foundation phase + ceil(%d workloads / %d tracks) delivery waves = %d", workloads, tracks, phases), srcRoadmapRule, ""),
	)
	plist, factor, expertise := roadmap(req, tracks)
	var roadLow, roadHigh float64
	for i, p := range plist {
		roadLow += p.low
		roadHigh += p.high
		findings = append(findings, kind(finding(severityInfo, fmt.Sprintf("Phase %d: %s, %s months", i+1, p.name, numSpan(p.low, p.high)),
			fmt.Sprintf("Delivers: %s. Duration from the planning rule with the %s expertise factor x%s.", p.delivers, expertise, num(factor))), KindRoadmap))
	}
	metrics = append(metrics,
		rangeEnd(metric("roadmap_months_low", roadLow, "months", fmt.Sprintf("sum of %d phases' low durations x expertise %s = %s", len(plist), num(factor), num(roadLow)), srcRoadmapRule, ""), "roadmap_months", BoundLow),
		rangeEnd(metric("roadmap_months_high", roadHigh, "months", fmt.Sprintf("sum of %d phases' high durations x expertise %s = %s", len(plist), num(factor), num(roadHigh)), srcRoadmapRule, ""), "roadmap_months", BoundHigh))
	summary := fmt.Sprintf("A team of %d (%s) delivers %s in %s over %s months", team, plural(tracks, "track"), plural(workloads, "workload"), plural(phases, "phase"), numSpan(roadLow, roadHigh))

	if timeline > 0 {
		perPhase := float64(timeline) / float64(phases)
		metrics = append(metrics, metric("months_per_phase", perPhase, "months",
			fmt.Sprintf("%d months to production / %d phases = %s", timeline, phases, num(perPhase)), "the request's business.timeline_months; "+srcRoadmapRule, ""))
		sev, note := severityInfo, "each phase has at least a month."
		if perPhase < 1 {
			sev, note = severityHigh, "less than a month a phase: cut scope for the first release, add people, or extend the timeline."
		}
		findings = append(findings, kind(finding(sev, fmt.Sprintf("Timeline: %d months for %d phases", timeline, phases),
			fmt.Sprintf("%d months to production over %d phases (1 foundation + %d delivery waves with %s) gives %s months a phase; the sized roadmap needs %s months; %s",
				timeline, phases, waves, plural(tracks, "track"), num(perPhase), numSpan(roadLow, roadHigh), note)), KindRoadmap))
	} else {
		findings = append(findings, finding(severityLow, "No timeline stated",
			fmt.Sprintf("business.timeline_months is not set, so the %d phases (%s months) cannot be checked against a date.", phases, numSpan(roadLow, roadHigh))))
	}

	if budget > 0 {
		per := budget / float64(workloads)
		metrics = append(metrics, metric("budget_per_workload_usd", per, "USD/month",
			fmt.Sprintf("%s monthly budget / %d workloads = %s", usd(budget), workloads, usd(per)), "the request's business.monthly_budget_usd", ""))
	} else {
		findings = append(findings, topic(finding(severityMedium, "No monthly budget stated",
			fmt.Sprintf("business.monthly_budget_usd is not set, so the cost of the %s cannot be checked against a budget.", plural(workloads, "workload"))), TopicBudget))
	}

	if havePlan {
		ms, fs := tco(plan, g)
		metrics, findings = append(metrics, ms...), append(findings, fs...)
		ms, fs, verdict := buildVsBuy(cat.Catalog, req, plan)
		metrics, findings = append(metrics, ms...), append(findings, fs...)
		if verdict != "" {
			summary += "; build vs buy: " + verdict
		}
		if status, f, ok := budgetAlignment(plan, budget); ok {
			findings = append(findings, f)
			summary += "; the plan is " + status + " the budget"
		}
	}
	summary += "."

	goals := nonEmpty(b.GetGoals())
	if len(goals) == 0 {
		findings = append(findings, finding(severityMedium, "No business goals stated",
			"business.goals is empty, so the plan's alignment with what the business wants cannot be checked."))
	} else {
		findings = append(findings, finding(severityInfo, fmt.Sprintf("%s to check the plan against", plural(len(goals), "business goal")),
			fmt.Sprintf("Goals as stated: %s. Each phase's scope should serve at least one of them.", strings.Join(quoteAll(goals), "; "))))
	}

	ms, fs := riskRegister(riskInputs{req: req, cat: cat, plan: plan, growth: g, scope: scope, roadLow: roadLow, roadH: roadHigh})
	metrics, findings = append(metrics, ms...), append(findings, fs...)
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
}

// budgetAlignment places the budget against the plan's monthly on-demand
// range today: within (high <= budget), at risk (low <= budget < high) or
// over (budget < low).
func budgetAlignment(plan cloudPlanView, budget float64) (string, *inframindv1.Finding, bool) {
	low, high, ok := plan.pair(MetricMonthlyCostLow, MetricMonthlyCostHigh)
	if !ok || budget == 0 {
		return "", nil, false
	}
	status, sev := "within", severityInfo
	switch {
	case budget < low:
		status, sev = "over", severityHigh
	case budget < high:
		status, sev = "at risk against", severityMedium
	}
	return status, topic(finding(sev, "Budget alignment: "+strings.TrimSuffix(status, " against"),
		fmt.Sprintf("The plan costs %s a month on demand today against a %s budget: within when the high estimate fits, at risk when only the low one does, over when neither does. The simulation family projects it with growth.",
			usdSpan(low, high), usd(budget))), TopicBudget), true
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// validateTeam rejects negative head counts, naming the field.
func validateTeam(t *inframindv1.Team) error {
	counts := []struct {
		field string
		v     int32
	}{{"engineers", t.GetEngineers()}, {"ml_engineers", t.GetMlEngineers()}, {"ops_engineers", t.GetOpsEngineers()}}
	for _, c := range counts {
		if c.v < 0 {
			return unanalysable("business.team.%s: must be >= 0, got %d", c.field, c.v)
		}
	}
	return nil
}
