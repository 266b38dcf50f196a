package analysis

import (
	"fmt"
	"math"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// peoplePerTrack is the roadmap rule's assumption: a track of this many
// people delivers one workload at a time. It is Infra Mind's planning rule,
// stated in every formula that uses it, not a published figure.
const peoplePerTrack = 4

const srcRoadmapRule = "Infra Mind planning rule (assumption, not a published figure; calibrate with your own delivery history): one foundation phase of 1-2 months plus 0.5-1 month per declared compliance regime, " +
	"then delivery waves of one workload per track of 4 people, each wave as long as its longest workload (llm_serving and rag 1.5-3 months, training and batch_inference 1-2, general 0.5-1.5), " +
	"all times an expertise factor (beginner 1.5, intermediate 1, expert 0.75, unstated 1.25)"

// kindMonths is the planning rule's delivery time per workload kind, low
// and high, in months (srcRoadmapRule).
func kindMonths(kind string) (low, high float64) {
	switch norm(kind) {
	case "llm_serving", "rag":
		return 1.5, 3
	case "training", "batch_inference":
		return 1, 2
	default:
		return 0.5, 1.5
	}
}

// expertiseFactor scales every phase by the team's stated expertise
// (srcRoadmapRule).
func expertiseFactor(expertise string) (float64, string) {
	switch norm(expertise) {
	case "beginner":
		return 1.5, "beginner"
	case "intermediate":
		return 1, "intermediate"
	case "expert":
		return 0.75, "expert"
	default:
		return 1.25, "unstated"
	}
}

// phase is one roadmap phase with its duration range and deliverables.
type phase struct {
	name      string
	low, high float64
	delivers  string
}

// roadmap sizes the phases: a foundation, then waves of `tracks` workloads.
func roadmap(req *inframindv1.AssessmentRequest, tracks int) ([]phase, float64, string) {
	b := req.GetBusiness()
	factor, expertise := expertiseFactor(b.GetTeam().GetExpertise())
	regimes := nonEmpty(b.GetCompliance())
	fLow := (1 + 0.5*float64(len(regimes))) * factor
	fHigh := (2 + 1*float64(len(regimes))) * factor
	delivers := "accounts and landing zone, network, identity and access, CI/CD, observability"
	if len(regimes) > 0 {
		delivers += "; controls for " + strings.Join(regimes, ", ") + " (see the compliance family)"
	}
	phases := []phase{{name: "Foundation", low: fLow, high: fHigh, delivers: delivers}}
	ws := req.GetWorkloads()
	for start, wave := 0, 1; start < len(ws); start, wave = start+tracks, wave+1 {
		end := min(start+tracks, len(ws))
		var lo, hi float64
		var names []string
		for i := start; i < end; i++ {
			l, h := kindMonths(ws[i].GetKind())
			lo, hi = math.Max(lo, l), math.Max(hi, h)
			names = append(names, fmt.Sprintf("%s (%s)", workloadLabel(i, ws[i]), norm(ws[i].GetKind())))
		}
		phases = append(phases, phase{name: fmt.Sprintf("Wave %d", wave), low: lo * factor, high: hi * factor, delivers: strings.Join(names, ", ") + " in production"})
	}
	return phases, factor, expertise
}

// nonEmpty returns the trimmed, non-empty values.
func nonEmpty(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
