// Package recommend turns the six families' results for one assessment into
// one ranked list of recommendations, resolving conflicts between families
// explicitly. It is pure: the same results always give the same list.
package recommend

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Categories.
const (
	CategoryArchitecture = "architecture"
	CategoryCost         = "cost"
	CategoryCompliance   = "compliance"
	CategoryScaling      = "scaling"
	CategoryMLOps        = "mlops"
	CategoryStrategy     = "strategy"
	CategoryRisk         = "risk"
)

// Priorities, most urgent first.
const (
	PriorityCritical = "critical"
	PriorityHigh     = "high"
	PriorityMedium   = "medium"
	PriorityLow      = "low"
)

// Efforts.
const (
	EffortS = "S"
	EffortM = "M"
	EffortL = "L"
)

// EffortRule states how effort is assigned: by the kind of change, not guessed per item.
const EffortRule = "S: a setting, purchase or declaration (commitment, budget, scope); " +
	"M: a component or control set to deploy or evidence (MLOps stack, compliance controls, price refresh); " +
	"L: an architecture change (deploying or moving the serving plan, a region or provider change)"

// ConfidenceRule states how confidence is assigned.
const ConfidenceRule = "0.9 when the recommendation follows from computed metrics (a formula over cited figures), " +
	"0.75 when it follows from a rule-based finding; minus 0.15 for a cost figure when the research family reports " +
	"prices older than 180 days (oldest_price_age_days), since list prices drift"

// stalePriceDays is research's own staleness threshold (research_freshness.go flags prices beyond 180 days).
const stalePriceDays = 180

// Categories lists every category in display order.
func Categories() []string {
	return []string{CategoryArchitecture, CategoryCost, CategoryCompliance, CategoryScaling, CategoryMLOps, CategoryStrategy, CategoryRisk}
}

// Priorities lists every priority, most urgent first.
func Priorities() []string {
	return []string{PriorityCritical, PriorityHigh, PriorityMedium, PriorityLow}
}

// PriorityRank orders priorities: 0 is the most urgent; unknown ones sort last.
func PriorityRank(p string) int {
	if i := slices.Index(Priorities(), p); i >= 0 {
		return i
	}
	return len(Priorities())
}

// Number is a figure a rationale quotes, with where it came from.
type Number struct {
	Name     string  `json:"name" bson:"name"`
	Value    float64 `json:"value" bson:"value"`
	Unit     string  `json:"unit,omitempty" bson:"unit,omitempty"`
	Workload string  `json:"workload,omitempty" bson:"workload,omitempty"`
	Formula  string  `json:"formula,omitempty" bson:"formula,omitempty"`
	Source   string  `json:"source,omitempty" bson:"source,omitempty"`
}

// CostImpact is a monthly cost change in USD as a range: positive adds cost,
// negative saves.
type CostImpact struct {
	LowUSD  float64 `json:"low_usd" bson:"low_usd"`
	HighUSD float64 `json:"high_usd" bson:"high_usd"`
	Basis   string  `json:"basis" bson:"basis"`
}

// Recommendation is one action with why, what it costs and how sure we are.
type Recommendation struct {
	ID         string      `json:"id" bson:"id"`
	Category   string      `json:"category" bson:"category"`
	Priority   string      `json:"priority" bson:"priority"`
	Family     string      `json:"family" bson:"family"`
	Workload   string      `json:"workload,omitempty" bson:"workload,omitempty"`
	Action     string      `json:"action" bson:"action"`
	Rationale  string      `json:"rationale" bson:"rationale"`
	Numbers    []Number    `json:"numbers,omitempty" bson:"numbers,omitempty"`
	MonthlyUSD *CostImpact `json:"monthly_cost_impact,omitempty" bson:"monthly_cost_impact,omitempty"`
	Effort     string      `json:"effort" bson:"effort"`
	Confidence float64     `json:"confidence" bson:"confidence"`
	Risks      []string    `json:"risks_addressed,omitempty" bson:"risks_addressed,omitempty"`

	// kind is the kind of the finding it follows from (analysis.Kind*), for
	// conflict resolution; never stored or shown.
	kind string
}

// Resolution records how a conflict between families was settled.
type Resolution struct {
	Rule     string   `json:"rule" bson:"rule"`
	Winner   string   `json:"winner" bson:"winner"`
	Loser    string   `json:"loser" bson:"loser"`
	Detail   string   `json:"detail" bson:"detail"`
	Affected []string `json:"affected_ids,omitempty" bson:"affected_ids,omitempty"`
}

// Set is an assessment's ranked recommendations and the conflicts resolved on the way.
type Set struct {
	Recommendations []Recommendation `json:"recommendations" bson:"recommendations"`
	Resolutions     []Resolution     `json:"resolutions" bson:"resolutions"`
	EffortRule      string           `json:"effort_rule" bson:"effort_rule"`
	ConfidenceRule  string           `json:"confidence_rule" bson:"confidence_rule"`
}

// results indexes the families' results.
type results map[string]*inframindv1.AgentResultPublished

func (r results) metric(family, name, workload string) (*inframindv1.Metric, bool) {
	res, ok := r[family]
	if !ok || res.GetStatus() == "failed" {
		return nil, false
	}
	for _, m := range res.GetMetrics() {
		if m.GetName() == name && m.GetWorkload() == workload {
			return m, true
		}
	}
	return nil, false
}

func (r results) findings(family string) []*inframindv1.Finding {
	res, ok := r[family]
	if !ok || res.GetStatus() == "failed" {
		return nil
	}
	return res.GetFindings()
}

func number(m *inframindv1.Metric) Number {
	return Number{Name: m.GetName(), Value: m.GetValue(), Unit: m.GetUnit(), Workload: m.GetWorkload(), Formula: m.GetFormula(), Source: m.GetSource()}
}

// Build ranks the recommendations that follow from results (keyed by family
// name). Failed or missing families contribute nothing.
func Build(in map[string]*inframindv1.AgentResultPublished) Set {
	r := results(in)
	b := &builder{r: r}
	b.stale = b.stalePrices()
	b.serving()
	b.commitments()
	b.findings()
	b.resolve()
	sortRecs(b.recs)
	set := Set{Recommendations: b.recs, Resolutions: b.res, EffortRule: EffortRule, ConfidenceRule: ConfidenceRule}
	if set.Recommendations == nil {
		set.Recommendations = []Recommendation{}
	}
	if set.Resolutions == nil {
		set.Resolutions = []Resolution{}
	}
	return set
}

type builder struct {
	r     results
	recs  []Recommendation
	res   []Resolution
	stale *inframindv1.Metric // research's oldest price age when beyond the threshold
}

func (b *builder) add(rec Recommendation) {
	rec.ID = recID(rec.Family, rec.Category, rec.Workload, rec.Action)
	if rec.Risks == nil {
		rec.Risks = []string{}
	}
	b.recs = append(b.recs, rec)
}

// recID is deterministic: the same family, category, workload and action
// always give the same id, so a re-synthesis yields identical ids.
func recID(parts ...string) string {
	return "rec_" + assessment.DeterministicID(parts...)[:16]
}

func (b *builder) stalePrices() *inframindv1.Metric {
	if m, ok := b.r.metric(string(assessment.FamilyResearch), "oldest_price_age_days", ""); ok && m.GetValue() > stalePriceDays {
		return m
	}
	return nil
}

// costConfidence applies ConfidenceRule to a cost-bearing recommendation.
func (b *builder) costConfidence(base float64) float64 {
	if b.stale != nil {
		return base - 0.15
	}
	return base
}

func money(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 2, 64) }

func quote(m *inframindv1.Metric) string {
	s := fmt.Sprintf("%s = %s", m.GetName(), strconv.FormatFloat(m.GetValue(), 'f', -1, 64))
	if m.GetUnit() != "" {
		s += " " + m.GetUnit()
	}
	if m.GetFormula() != "" {
		s += " (" + m.GetFormula() + ")"
	}
	return s
}

// serving recommends the cloud family's chosen deployment per workload, with
// its cost as replicas x the on-demand replica price (the cloud family's own
// formula, contract.go).
func (b *builder) serving() {
	cloud := string(assessment.FamilyCloud)
	for _, f := range b.r.findings(cloud) {
		if f.GetKind() != analysis.KindDeployment {
			continue
		}
		wl, d := f.GetWorkload(), f.GetDeployment()
		choice := d.GetProvider() + " " + d.GetInstance()
		rec := Recommendation{
			Category: CategoryArchitecture, Priority: PriorityHigh, Family: cloud, Workload: wl,
			Action:    fmt.Sprintf("Deploy %s on %s", wl, choice),
			Rationale: f.GetDetail(),
			Effort:    EffortL, Confidence: 0.75,
			Risks: []string{"SLO breach at peak demand"},
		}
		lo, okLo := b.r.metric(cloud, analysis.MetricReplicasLow, wl)
		hi, okHi := b.r.metric(cloud, analysis.MetricReplicasHigh, wl)
		price, okP := b.r.metric(cloud, analysis.MetricReplicaMonthlyUSD, wl)
		if okLo && okHi && okP {
			rec.Numbers = []Number{number(lo), number(hi), number(price)}
			rec.MonthlyUSD = &CostImpact{
				LowUSD: lo.GetValue() * price.GetValue(), HighUSD: hi.GetValue() * price.GetValue(),
				Basis: fmt.Sprintf("replicas (%s) x on-demand replica price %s a month (cloud family: %s)",
					span.Text(strconv.FormatFloat(lo.GetValue(), 'f', -1, 64), strconv.FormatFloat(hi.GetValue(), 'f', -1, 64)), money(price.GetValue()), price.GetSource()),
			}
			rec.Rationale += ". Numbers: " + quote(lo) + "; " + quote(hi) + "; " + quote(price)
			rec.Confidence = b.costConfidence(0.9)
		}
		b.add(rec)
	}
}

// commitments recommends a commitment when the cloud plan prices one below on
// demand: the saving is on-demand minus committed, low with low and high with
// high (both from the cloud family's contract metrics).
func (b *builder) commitments() {
	cloud := string(assessment.FamilyCloud)
	odLo, ok1 := b.r.metric(cloud, analysis.MetricMonthlyCostLow, "")
	odHi, ok2 := b.r.metric(cloud, analysis.MetricMonthlyCostHigh, "")
	if !ok1 || !ok2 {
		return
	}
	for _, c := range []struct{ term, lo, hi string }{
		{"1-year", analysis.MetricMonthlyCommit1YLow, analysis.MetricMonthlyCommit1YHigh},
		{"3-year", analysis.MetricMonthlyCommit3YLow, analysis.MetricMonthlyCommit3YHigh},
	} {
		cLo, okL := b.r.metric(cloud, c.lo, "")
		cHi, okH := b.r.metric(cloud, c.hi, "")
		if !okL || !okH || cLo.GetValue() >= odLo.GetValue() {
			continue
		}
		saveLo, saveHi := odLo.GetValue()-cLo.GetValue(), odHi.GetValue()-cHi.GetValue()
		b.add(Recommendation{
			Category: CategoryCost, Priority: PriorityMedium, Family: cloud,
			Action: fmt.Sprintf("Buy a %s commitment for the baseline capacity", c.term),
			Rationale: fmt.Sprintf("The plan costs %s a month on demand and %s with a %s commitment. Numbers: %s; %s; %s; %s",
				span.Text(money(odLo.GetValue()), money(odHi.GetValue())), span.Text(money(cLo.GetValue()), money(cHi.GetValue())), c.term,
				quote(odLo), quote(odHi), quote(cLo), quote(cHi)),
			Numbers: []Number{number(odLo), number(odHi), number(cLo), number(cHi)},
			MonthlyUSD: &CostImpact{LowUSD: -max(saveLo, saveHi), HighUSD: -min(saveLo, saveHi),
				Basis: "on-demand monthly cost minus committed monthly cost (cloud family contract metrics)"},
			Effort: EffortS, Confidence: b.costConfidence(0.9),
			Risks: []string{"Budget overrun"},
		})
	}
}

// familyCategory is the category of a finding-based recommendation.
func familyCategory(family string, f *inframindv1.Finding) string {
	if f.GetKind() == analysis.KindRisk {
		return CategoryRisk
	}
	switch assessment.Family(family) {
	case assessment.FamilyCloud:
		return CategoryArchitecture
	case assessment.FamilyCompliance:
		return CategoryCompliance
	case assessment.FamilyMLOps:
		return CategoryMLOps
	case assessment.FamilyResearch:
		return CategoryCost
	case assessment.FamilySimulation:
		return CategoryScaling
	default:
		return CategoryStrategy
	}
}

// findings turns every finding of severity low or above into a
// recommendation (info findings are facts, reported in the report), plus the
// MLOps stack choice, which is the mlops family's recommendation.
func (b *builder) findings() {
	for _, fam := range assessment.Families() {
		family := string(fam)
		for _, f := range b.r.findings(family) {
			sev := f.GetSeverity()
			stack := fam == assessment.FamilyMLOps && f.GetKind() == analysis.KindMLOpsStack
			if sev != "low" && sev != "medium" && sev != "high" && !stack {
				continue
			}
			cat := familyCategory(family, f)
			rec := Recommendation{
				Category: cat, Family: family, Action: action(cat, f), Rationale: f.GetDetail(),
				Confidence: 0.75, Effort: effort(cat, f), Risks: risks(cat, f), kind: f.GetKind(),
			}
			switch {
			case stack:
				rec.Priority = PriorityMedium
			case sev == "high" && cat == CategoryCompliance:
				// A legal obligation unmet blocks going live.
				rec.Priority = PriorityCritical
			case sev == "high" && cat == CategoryRisk && f.GetRisk().GetScore() >= 20:
				// Risk scores are probability x impact on 1-5 scales (strategy_risks.go); 20+ is the top band.
				rec.Priority = PriorityCritical
			default:
				rec.Priority = sev
			}
			if cat == CategoryScaling || cat == CategoryRisk {
				b.attachBudget(&rec, f)
			}
			b.add(rec)
		}
	}
}

// attachBudget quotes the simulation's budget-crossing months in a budget recommendation.
func (b *builder) attachBudget(rec *Recommendation, f *inframindv1.Finding) {
	if f.GetTopic() != analysis.TopicBudget {
		return
	}
	sim := string(assessment.FamilySimulation)
	var quotes []string
	for _, n := range []string{"budget_exceeded_month_high", "budget_exceeded_month_low"} {
		if m, ok := b.r.metric(sim, n, ""); ok {
			rec.Numbers = append(rec.Numbers, number(m))
			quotes = append(quotes, quote(m))
		}
	}
	if len(quotes) > 0 {
		rec.Rationale += ". Numbers: " + strings.Join(quotes, "; ")
		rec.Confidence = b.costConfidence(0.9)
	}
}

func action(cat string, f *inframindv1.Finding) string {
	switch {
	case cat == CategoryRisk:
		return "Mitigate: " + f.GetRisk().GetTitle()
	case f.GetKind() == analysis.KindMLOpsStack:
		return "Adopt the " + f.GetSubject()
	default:
		return "Address: " + f.GetTitle()
	}
}

func effort(cat string, f *inframindv1.Finding) string {
	switch {
	case cat == CategoryArchitecture || f.GetTopic() == analysis.TopicRegion:
		return EffortL
	case cat == CategoryMLOps || cat == CategoryCompliance || cat == CategoryCost:
		return EffortM
	default:
		return EffortS
	}
}

func risks(cat string, f *inframindv1.Finding) []string {
	switch cat {
	case CategoryRisk:
		return []string{f.GetRisk().GetTitle()}
	case CategoryCompliance:
		return []string{"Compliance gap"}
	case CategoryCost:
		return []string{"Stale price snapshot"}
	case CategoryScaling:
		if f.GetTopic() == analysis.TopicBudget {
			return []string{"Budget overrun"}
		}
		return []string{"Capacity shortfall"}
	case CategoryMLOps:
		return []string{"Team skills gap"}
	default:
		return []string{}
	}
}

// resolve settles conflicts between families and records each settlement.
func (b *builder) resolve() {
	// Residency beats a cheaper region: the cloud family sizes compute on a
	// machine outside the residency when none is priced inside it; that
	// option breaks the compliance constraint, so it is not recommended.
	var dropped []string
	kept := b.recs[:0]
	for _, rec := range b.recs {
		if rec.kind == analysis.KindOutsideResidency {
			dropped = append(dropped, rec.ID)
			continue
		}
		kept = append(kept, rec)
	}
	b.recs = kept
	if len(dropped) > 0 {
		b.res = append(b.res, Resolution{
			Rule: "residency_over_cost", Winner: string(assessment.FamilyCompliance), Loser: string(assessment.FamilyCloud),
			Detail: "The data-residency constraint beats a cheaper or faster machine outside it: compute sized outside " +
				"the allowed regions is not recommended; price an allowed region instead.",
			Affected: dropped,
		})
	}

	// A budget overrun against the SLO: the serving plan keeps the replicas
	// the latency target needs and the overrun is its own recommendation,
	// because an under-sized plan fails every user while a budget can be
	// raised, committed against or phased.
	var budget, slo []string
	for _, rec := range b.recs {
		if slices.Contains(rec.Risks, "Budget overrun") && rec.Category != CategoryCost {
			budget = append(budget, rec.ID)
		}
		if rec.Category == CategoryArchitecture && rec.MonthlyUSD != nil {
			slo = append(slo, rec.ID)
		}
	}
	if len(budget) > 0 && len(slo) > 0 {
		b.res = append(b.res, Resolution{
			Rule: "slo_over_budget", Winner: string(assessment.FamilyCloud), Loser: "budget",
			Detail: "The plan's cost exceeds the budget: the replica counts that hold the latency SLO are kept (an under-sized " +
				"plan fails users at peak); the overrun is addressed by commitments, phasing or a larger budget instead.",
			Affected: append(slo, budget...),
		})
	}
}

func sortRecs(recs []Recommendation) {
	catRank := func(c string) int { return slices.Index(Categories(), c) }
	famRank := func(f string) int { return slices.Index(assessment.Families(), assessment.Family(f)) }
	sort.SliceStable(recs, func(i, j int) bool {
		a, c := recs[i], recs[j]
		if x, y := PriorityRank(a.Priority), PriorityRank(c.Priority); x != y {
			return x < y
		}
		if a.Confidence != c.Confidence {
			return a.Confidence > c.Confidence
		}
		if x, y := catRank(a.Category), catRank(c.Category); x != y {
			return x < y
		}
		if x, y := famRank(a.Family), famRank(c.Family); x != y {
			return x < y
		}
		return a.ID < c.ID
	})
}
