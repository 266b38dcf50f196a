package analysis

import (
	"fmt"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"math"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// peoplePerTrack is the roadmap rule's assumption: a track of this many
// people delivers one workload at a time. It is Infra Mind's planning rule,
// stated in every formula that uses it, not a published figure.
const peoplePerTrack = 4

const srcRoadmapRule = "Infra Mind planning rule (assumption): one foundation phase, then one delivery wave per workload per track of 4 people"

func analyzeStrategy(_ *catalog.Catalog, req *inframindv1.AssessmentRequest) (Outcome, error) {
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

	tracks := max(1, team/peoplePerTrack)
	waves := (workloads + tracks - 1) / tracks
	phases := 1 + waves

	metrics := []*inframindv1.Metric{
		metric("team_size_total", float64(team), "people",
			fmt.Sprintf("%d engineers + %d ML engineers + %d ops engineers = %d", t.GetEngineers(), t.GetMlEngineers(), t.GetOpsEngineers(), team),
			"the request's business.team", ""),
		metric("workloads_count", float64(workloads), "workloads", fmt.Sprintf("%d workloads in the request", workloads), "the request's workloads", ""),
		metric("delivery_tracks", float64(tracks), "tracks",
			fmt.Sprintf("max(1, floor(%d people / %d per track)) = %d", team, peoplePerTrack, tracks), srcRoadmapRule, ""),
		metric("roadmap_phases", float64(phases), "phases",
			fmt.Sprintf("1 foundation phase + ceil(%d workloads / %d tracks) delivery waves = %d", workloads, tracks, phases), srcRoadmapRule, ""),
	}
	var findings []*inframindv1.Finding

	summary := fmt.Sprintf("A team of %d (%s) delivers %s in %s", team, plural(tracks, "track"), plural(workloads, "workload"), plural(phases, "phase"))
	if timeline > 0 {
		perPhase := float64(timeline) / float64(phases)
		metrics = append(metrics, metric("months_per_phase", perPhase, "months",
			fmt.Sprintf("%d months to production / %d phases = %s", timeline, phases, num(perPhase)), "the request's business.timeline_months; "+srcRoadmapRule, ""))
		summary += fmt.Sprintf(" over %d months (%s months a phase)", timeline, num(perPhase))
		sev, note := severityInfo, "each phase has at least a month."
		if perPhase < 1 {
			sev, note = severityHigh, "less than a month a phase: cut scope for the first release, add people, or extend the timeline."
		}
		findings = append(findings, finding(sev, fmt.Sprintf("Timeline: %d months for %d phases", timeline, phases),
			fmt.Sprintf("%d months to production over %d phases (1 foundation + %d delivery waves with %s) gives %s months a phase; %s",
				timeline, phases, waves, plural(tracks, "track"), num(perPhase), note)))
	} else {
		findings = append(findings, finding(severityLow, "No timeline stated",
			fmt.Sprintf("business.timeline_months is not set, so the %d phases cannot be placed in time.", phases)))
	}

	if budget > 0 {
		per := budget / float64(workloads)
		metrics = append(metrics, metric("budget_per_workload_usd", per, "USD/month",
			fmt.Sprintf("%s monthly budget / %d workloads = %s", usd(budget), workloads, usd(per)), "the request's business.monthly_budget_usd", ""))
		summary += fmt.Sprintf("; the %s monthly budget is %s a workload", usd(budget), usd(per))
	} else {
		findings = append(findings, finding(severityMedium, "No monthly budget stated",
			fmt.Sprintf("business.monthly_budget_usd is not set, so the cost of the %s cannot be checked against a budget.", plural(workloads, "workload"))))
	}
	summary += "."

	goals := make([]string, 0, len(b.GetGoals()))
	for _, g := range b.GetGoals() {
		if g = strings.TrimSpace(g); g != "" {
			goals = append(goals, g)
		}
	}
	if len(goals) == 0 {
		findings = append(findings, finding(severityMedium, "No business goals stated",
			"business.goals is empty, so the plan's alignment with what the business wants cannot be checked."))
	} else {
		findings = append(findings, finding(severityInfo, fmt.Sprintf("%s to check the plan against", plural(len(goals), "business goal")),
			fmt.Sprintf("Goals as stated: %s. Each phase's scope should serve at least one of them.", strings.Join(quoteAll(goals), "; "))))
	}
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
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
