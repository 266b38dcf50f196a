package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// staleAfterDays is the age beyond which a price is flagged: prices move by
// large steps (AWS cut P-family on-demand prices by up to 45% in June 2025,
// per the reference figures collected 2026-11-26), so a half-year-old price
// is suspect. The threshold itself is Infra Mind's assumption.
const staleAfterDays = 180

// priceGroup is the catalogue price rows that share a kind, provider, source
// and as-of date: their age is one figure.
type priceGroup struct {
	kind     string // "instances" or "hosted_api"
	provider string
	src      catalog.Source
	rows     []string
}

// key names the group in metric names. Two groups of one kind, provider
// and date from different sources (two datasets of one provider collected
// the same day) would share it; groupKeys tells them apart.
func (g priceGroup) key() string {
	return g.kind + "_" + g.provider + "_" + g.src.AsOf
}

// groupKeys names each group in metric names, unique within a result: a key
// a group before it already took gets the suffix _2, _3, ... in catalogue
// order, so a reader finding a figure by name gets each group's own.
func groupKeys(groups []priceGroup) []string {
	keys := make([]string, len(groups))
	taken := make(map[string]int, len(groups))
	for i, pg := range groups {
		k := pg.key()
		taken[k]++
		if n := taken[k]; n > 1 {
			k += "_" + strconv.Itoa(n)
		}
		keys[i] = k
	}
	return keys
}

// freshnessResult is what the freshness check found, for the summary.
type freshnessResult struct {
	metrics    []*inframindv1.Metric
	findings   []*inframindv1.Finding
	rows       int
	stale      int
	monthOnly  int
	minAge     int
	maxAge     int
	haveAges   bool
	collection string
}

// agedPriceGroup is a price group with its label and its age at the
// catalogue's collection, and the metrics and findings that age gives: all
// fixed by the catalogue, so worked out once (newCatalogueIndex) and only
// gathered per analysis.
type agedPriceGroup struct {
	priceGroup
	// dated is false when the group's as-of date cannot be read.
	dated      bool
	monthOnly  bool
	young, old int
	metrics    []metricText
	findings   []findingText
}

// metricText is a metric's fields, to make a fresh message from.
type metricText struct {
	name, unit, formula, source string
	value                       float64
	rng, bound                  string
}

func (m metricText) metric() *inframindv1.Metric {
	out := metric(m.name, m.value, m.unit, m.formula, m.source, "")
	out.Range, out.Bound = m.rng, m.bound
	return out
}

// findingText is a finding's fields, to make a fresh message from.
type findingText struct {
	severity, title, detail string
}

func (f findingText) finding() *inframindv1.Finding {
	return finding(f.severity, f.title, f.detail)
}

// agePriceGroups works out each group's age against the catalogue's
// collection date (collectedErr when collectedOn does not read), never the
// clock, so the analysis stays a pure function of its inputs: age =
// collected_on - as_of in days. A month-only as-of date gives a range: from
// its last day (youngest) to its first (oldest).
func agePriceGroups(groups []priceGroup, collected time.Time, collectedErr error, collectedOn string) []agedPriceGroup {
	out := make([]agedPriceGroup, 0, len(groups))
	keys := groupKeys(groups)
	for i, pg := range groups {
		key := keys[i]
		g := agedPriceGroup{priceGroup: pg}
		out = append(out, g)
		if collectedErr != nil {
			continue
		}
		a := &out[len(out)-1]
		label := labelOf(pg)
		src := rowSource(pg.src) + "; catalogue collected_on " + collectedOn
		asOf, err := parseAsOf(pg.src.AsOf)
		if err != nil {
			a.findings = append(a.findings, findingText{severityMedium, "Price without a readable date: " + label,
				fmt.Sprintf("%s; its age cannot be computed. Source: %s.", err, pg.src.Source)})
			continue
		}
		young, old := daysBetween(asOf.last, collected), daysBetween(asOf.first, collected)
		a.dated, a.monthOnly, a.young, a.old = true, asOf.monthOnly, young, old
		if young < 0 {
			a.findings = append(a.findings, findingText{severityLow, "Price dated after the catalogue's collection: " + label,
				fmt.Sprintf("As of %s is after collected_on %s; the row's date or the catalogue's is wrong.", pg.src.AsOf, collectedOn)})
		}
		if asOf.monthOnly {
			a.metrics = append(a.metrics,
				metricText{name: "price_age_days_low_" + key, value: float64(young), unit: "days",
					formula: fmt.Sprintf("%s - %s (last day of %s) = %d days; %s", collectedOn, asOf.last.Format(time.DateOnly), pg.src.AsOf, young, label),
					source:  src, rng: "price_age_days_" + key, bound: BoundLow},
				metricText{name: "price_age_days_high_" + key, value: float64(old), unit: "days",
					formula: fmt.Sprintf("%s - %s (first day of %s) = %d days; %s", collectedOn, asOf.first.Format(time.DateOnly), pg.src.AsOf, old, label),
					source:  src, rng: "price_age_days_" + key, bound: BoundHigh})
			a.findings = append(a.findings, findingText{severityLow, fmt.Sprintf("Month-only date (%s): %s", pg.src.AsOf, label),
				fmt.Sprintf("The source gives only the month, so the prices are %d to %d days old at collection. Source: %s.", young, old, pg.src.Source)})
		} else {
			a.metrics = append(a.metrics, metricText{name: "price_age_days_" + key, value: float64(old), unit: "days",
				formula: fmt.Sprintf("%s - %s = %d days; %s", collectedOn, pg.src.AsOf, old, label), source: src})
		}
		switch {
		case young > staleAfterDays:
			a.findings = append(a.findings, findingText{severityMedium, fmt.Sprintf("Prices %d days old: %s", old, label),
				fmt.Sprintf("As of %s, %d days before the catalogue was collected on %s (flagged beyond %d days, an assumption: AWS cut P-family prices by up to 45%% in June 2025). Re-check these prices before committing spend. Source: %s.",
					pg.src.AsOf, old, collectedOn, staleAfterDays, pg.src.Source)})
		case old > staleAfterDays:
			a.findings = append(a.findings, findingText{severityLow, fmt.Sprintf("Prices may be stale (%s days old): %s", span.Format("%d", young, old), label),
				fmt.Sprintf("As of %s: past the %d-day threshold if dated early in the month. Source: %s.", pg.src.AsOf, staleAfterDays, pg.src.Source)})
		}
	}
	return out
}

// priceGroups gathers the price rows a request could use: every instance of
// the providers in scope and, when a workload serves a model, every hosted
// API (the build-vs-buy comparison). Groups keep catalogue order; a group
// never spans two providers or kinds, so each provider's are its own.
func priceGroups(cat *catalogueIndex, scope []string, hosted bool) []agedPriceGroup {
	var groups []agedPriceGroup
	for _, p := range scope {
		groups = append(groups, cat.priceGroups[p]...)
	}
	if hosted {
		groups = append(groups, cat.priceGroups[hostedGroupsKey]...)
	}
	return groups
}

// researchFreshness gathers the age of every price the request could use
// (agePriceGroups) and counts the rows checked, stale and month-only.
func researchFreshness(cat *catalogueIndex, scope []string, hosted bool) freshnessResult {
	res := freshnessResult{collection: cat.CollectedOn}
	if cat.collectedErr != nil {
		res.findings = append(res.findings, finding(severityMedium, "Catalogue collection date unreadable",
			fmt.Sprintf("The catalogue's collected_on %q is not YYYY-MM-DD, so no price age can be computed.", cat.CollectedOn)))
		return res
	}
	for _, g := range priceGroups(cat, scope, hosted) {
		res.rows += len(g.rows)
		for _, m := range g.metrics {
			res.metrics = append(res.metrics, m.metric())
		}
		for _, f := range g.findings {
			res.findings = append(res.findings, f.finding())
		}
		if !g.dated {
			continue
		}
		if !res.haveAges || g.young < res.minAge {
			res.minAge = g.young
		}
		if !res.haveAges || g.old > res.maxAge {
			res.maxAge = g.old
		}
		res.haveAges = true
		if g.monthOnly {
			res.monthOnly += len(g.rows)
		}
		if g.young > staleAfterDays {
			res.stale += len(g.rows)
		}
	}
	checked := fmt.Sprintf("instance rows of {%s}", strings.Join(scope, ", "))
	if hosted {
		checked += " + every hosted-API row (a workload serves a model)"
	}
	res.metrics = append(res.metrics,
		metric("prices_checked_count", float64(res.rows), "price rows", checked,
			"catalogue data/instances/<provider>.yaml and hosted_apis.yaml, version "+cat.Version, ""),
		metric("stale_price_rows_count", float64(res.stale), "price rows",
			fmt.Sprintf("rows whose youngest possible age exceeds %d days", staleAfterDays), "Infra Mind's staleness threshold (assumption) over the catalogue's as-of dates", ""),
		metric("month_only_price_rows_count", float64(res.monthOnly), "price rows",
			"rows whose as_of is YYYY-MM", "catalogue as_of convention (pkg/advisor/catalog README)", ""),
	)
	if res.haveAges {
		res.metrics = append(res.metrics, metric("oldest_price_age_days", float64(res.maxAge), "days",
			fmt.Sprintf("max over the price rows of collected_on %s - as_of (first day of a month-only date)", cat.CollectedOn),
			"catalogue as_of dates, version "+cat.Version, ""))
	}
	slices.SortStableFunc(res.findings, func(a, b *inframindv1.Finding) int {
		return severityRank(b.GetSeverity()) - severityRank(a.GetSeverity())
	})
	return res
}

// severityRank orders severities so the worst findings come first.
func severityRank(s string) int {
	return map[string]int{severityInfo: 0, severityLow: 1, severityMedium: 2, severityHigh: 3}[s]
}
