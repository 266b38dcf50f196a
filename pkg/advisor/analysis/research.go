package analysis

import (
	"fmt"
	"slices"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// analyzeResearch checks the freshness of every price the request could use,
// compares the accelerator classes it needs across providers, and puts the
// cost per token of a few GPU alternatives next to the hosted APIs'.
func analyzeResearch(cat *catalogueIndex, req *inframindv1.AssessmentRequest) (Outcome, error) {
	b := req.GetBusiness()
	scope, err := catalogueProviderScope(cat, b)
	if err != nil {
		return Outcome{}, err
	}
	var regions []string
	for _, r := range b.GetRegions() {
		if n := norm(r); n != "" {
			regions = appendUnique(regions, n)
		}
	}
	slices.Sort(regions)

	var o Outcome
	excluded := listOrNone(b.GetProviderExclusions())
	o.Metrics = append(o.Metrics,
		metric("providers_in_scope", float64(len(scope)), "providers",
			fmt.Sprintf("catalogue providers {%s}, preference {%s} first, minus exclusions {%s} = {%s}",
				strings.Join(cat.providers, ", "), strings.Join(b.GetProviderPreference(), ", "), strings.Join(b.GetProviderExclusions(), ", "), strings.Join(scope, ", ")),
			"the request's business.provider_preference and provider_exclusions; catalogue data/instances/<provider>.yaml providers, version "+cat.Version, ""),
		metric("regions_count", float64(len(regions)), "regions",
			fmt.Sprintf("distinct regions {%s}", strings.Join(regions, ", ")), "the request's business.regions", ""),
	)
	o.Findings = append(o.Findings, finding(severityInfo, "Providers in scope: "+strings.Join(scope, ", "),
		fmt.Sprintf("Compared in this order (stated preference first): %s. Excluded by the request: %s.", strings.Join(scope, ", "), excluded)))
	if len(regions) == 0 {
		o.Findings = append(o.Findings, regionFinding(severityLow, "No regions stated",
			"business.regions is empty, so regional availability cannot be checked against where users are."))
	}

	// The LLM workloads decide which accelerator classes matter and get a
	// cost-per-token comparison.
	var models []servedModel
	hosted := false
	for i, w := range req.GetWorkloads() {
		if !servesModel(w) {
			continue
		}
		hosted = true
		m, missing, err := resolveServedModel(cat.Catalog, i, w)
		if err != nil {
			return Outcome{}, err
		}
		if missing != nil {
			o.Findings = append(o.Findings, missing)
			continue
		}
		models = append(models, m)
	}

	fresh := researchFreshness(cat, scope, hosted)
	o.Metrics, o.Findings = append(o.Metrics, fresh.metrics...), append(o.Findings, fresh.findings...)

	classes, why := researchClasses(cat, models, scope)
	o.Findings = append(o.Findings, finding(severityInfo, "Accelerator classes compared: "+strings.Join(classes, ", "), why))
	var headline []string
	for _, id := range classes {
		g, _ := cat.GPU(id)
		c := compareClass(cat, g, scope, regions)
		cm, cf := comparisonResults(c)
		o.Metrics, o.Findings = append(o.Metrics, cm...), append(o.Findings, cf...)
		if len(c.onDemand) > 0 {
			lo, hi := c.onDemand[0].perGPU, c.onDemand[0].perGPU
			for _, q := range c.onDemand {
				lo, hi = min(lo, q.perGPU), max(hi, q.perGPU)
			}
			headline = append(headline, g.ID+" "+usdSpan(lo, hi))
		}
	}

	var costs []string
	for _, m := range models {
		tm, tf, err := tokenResults(cat, m, scope)
		if err != nil {
			return Outcome{}, err
		}
		o.Metrics, o.Findings = append(o.Metrics, tm...), append(o.Findings, tf...)
		if low, ok := cheapestTokenCost(tm); ok {
			costs = append(costs, fmt.Sprintf("%s from %s", m.label, usd(low)))
		}
	}

	o.Summary = fmt.Sprintf("%s in scope (%s) across %s.", plural(len(scope), "provider"), strings.Join(scope, ", "), plural(len(regions), "region"))
	if fresh.haveAges {
		o.Summary += fmt.Sprintf(" %s checked: %d to %d days old at catalogue collection (%s); %d stale, %d with a month-only date.",
			plural(fresh.rows, "price row"), fresh.minAge, fresh.maxAge, fresh.collection, fresh.stale, fresh.monthOnly)
	}
	if len(headline) > 0 {
		o.Summary += " On demand per GPU-hour: " + strings.Join(headline, "; ") + "."
	}
	if len(costs) > 0 {
		o.Summary += " Self-hosted USD per million output tokens: " + strings.Join(costs, "; ") + "."
	}
	return o, nil
}

// researchClasses picks the GPU classes to compare: those on which some LLM
// workload's model fits within one in-scope instance at its precision; with
// no LLM workload to size, every class the providers in scope offer.
func researchClasses(cat *catalogueIndex, models []servedModel, scope []string) ([]string, string) {
	var classes, reasons []string
	for _, m := range models {
		fit := neededClasses(cat, m, scope)
		for _, id := range fit {
			classes = appendUnique(classes, id)
		}
		reasons = append(reasons, fmt.Sprintf("%s (%s, %s weights, %d-token context) fits on %s", m.label, m.name, m.weights, m.in+m.out, listOrNone(fit)))
	}
	if len(models) > 0 {
		slices.Sort(classes)
		return classes, "Classes on which a workload's model fits within one in-scope instance (sizing.MinTensorParallel: weights + 20% overhead + one full-context sequence at 0.9 memory utilisation; FP8 needs native FP8): " + strings.Join(reasons, "; ") + "."
	}
	for _, p := range scope {
		for _, id := range cat.classes[p] {
			classes = appendUnique(classes, id)
		}
	}
	slices.Sort(classes)
	return classes, "No LLM workload with a sizable model, so every GPU class the providers in scope offer is compared."
}

// cheapestTokenCost returns the lowest self-hosted cost per million output
// tokens among a workload's metrics.
func cheapestTokenCost(ms []*inframindv1.Metric) (float64, bool) {
	best, ok := 0.0, false
	for _, m := range ms {
		if strings.HasPrefix(m.GetName(), "usd_per_mtok_output_low_") && (!ok || m.GetValue() < best) {
			best, ok = m.GetValue(), true
		}
	}
	return best, ok
}
