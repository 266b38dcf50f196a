package analysis

import (
	"fmt"
	"slices"
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

// key names the group in metric names.
func (g priceGroup) key() string {
	return g.kind + "_" + g.provider + "_" + g.src.AsOf
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

// priceGroups gathers the price rows a request could use: every instance of
// the providers in scope and, when a workload serves a model, every hosted
// API (the build-vs-buy comparison). Groups keep catalogue order.
func priceGroups(cat *researchCatalog, scope []string, hosted bool) []priceGroup {
	var groups []priceGroup
	add := func(kind, provider, row string, src catalog.Source) {
		for i := range groups {
			g := &groups[i]
			if g.kind == kind && g.provider == provider && g.src == src {
				g.rows = append(g.rows, row)
				return
			}
		}
		groups = append(groups, priceGroup{kind: kind, provider: provider, src: src, rows: []string{row}})
	}
	for _, p := range scope {
		for _, in := range cat.InstancesOf(p) {
			add("instances", p, in.Name, in.Source)
		}
	}
	if hosted {
		for _, h := range cat.HostedAPIs {
			add("hosted_api", h.Provider, h.Model, h.Source)
		}
	}
	return groups
}

// researchFreshness measures the age of every price the request could use
// against the catalogue's collection date, never the clock, so the analysis
// stays a pure function of its inputs: age = collected_on - as_of in days.
// A month-only as-of date gives a range: from its last day (youngest) to its
// first (oldest).
func researchFreshness(cat *researchCatalog, scope []string, hosted bool) freshnessResult {
	res := freshnessResult{collection: cat.CollectedOn}
	collected, err := time.Parse(time.DateOnly, cat.CollectedOn)
	if err != nil {
		res.findings = append(res.findings, finding(severityMedium, "Catalogue collection date unreadable",
			fmt.Sprintf("The catalogue's collected_on %q is not YYYY-MM-DD, so no price age can be computed.", cat.CollectedOn)))
		return res
	}
	src := func(g priceGroup) string { return rowSource(g.src) + "; catalogue collected_on " + cat.CollectedOn }
	for _, g := range priceGroups(cat, scope, hosted) {
		res.rows += len(g.rows)
		label := fmt.Sprintf("%s %s (%s)", g.provider, strings.ReplaceAll(g.kind, "_", " "), strings.Join(g.rows, ", "))
		asOf, err := parseAsOf(g.src.AsOf)
		if err != nil {
			res.findings = append(res.findings, finding(severityMedium, "Price without a readable date: "+label,
				fmt.Sprintf("%s; its age cannot be computed. Source: %s.", err, g.src.Source)))
			continue
		}
		young, old := daysBetween(asOf.last, collected), daysBetween(asOf.first, collected)
		if young < 0 {
			res.findings = append(res.findings, finding(severityLow, "Price dated after the catalogue's collection: "+label,
				fmt.Sprintf("As of %s is after collected_on %s; the row's date or the catalogue's is wrong.", g.src.AsOf, cat.CollectedOn)))
		}
		if !res.haveAges || young < res.minAge {
			res.minAge = young
		}
		if !res.haveAges || old > res.maxAge {
			res.maxAge = old
		}
		res.haveAges = true
		if asOf.monthOnly {
			res.monthOnly += len(g.rows)
			res.metrics = append(res.metrics,
				rangeEnd(metric("price_age_days_low_"+g.key(), float64(young), "days",
					fmt.Sprintf("%s - %s (last day of %s) = %d days; %s", cat.CollectedOn, asOf.last.Format(time.DateOnly), g.src.AsOf, young, label), src(g), ""),
					"price_age_days_"+g.key(), BoundLow),
				rangeEnd(metric("price_age_days_high_"+g.key(), float64(old), "days",
					fmt.Sprintf("%s - %s (first day of %s) = %d days; %s", cat.CollectedOn, asOf.first.Format(time.DateOnly), g.src.AsOf, old, label), src(g), ""),
					"price_age_days_"+g.key(), BoundHigh))
			res.findings = append(res.findings, finding(severityLow, fmt.Sprintf("Month-only date (%s): %s", g.src.AsOf, label),
				fmt.Sprintf("The source gives only the month, so the prices are %d to %d days old at collection. Source: %s.", young, old, g.src.Source)))
		} else {
			res.metrics = append(res.metrics, metric("price_age_days_"+g.key(), float64(old), "days",
				fmt.Sprintf("%s - %s = %d days; %s", cat.CollectedOn, g.src.AsOf, old, label), src(g), ""))
		}
		switch {
		case young > staleAfterDays:
			res.stale += len(g.rows)
			res.findings = append(res.findings, finding(severityMedium, fmt.Sprintf("Prices %d days old: %s", old, label),
				fmt.Sprintf("As of %s, %d days before the catalogue was collected on %s (flagged beyond %d days, an assumption: AWS cut P-family prices by up to 45%% in June 2025). Re-check these prices before committing spend. Source: %s.",
					g.src.AsOf, old, cat.CollectedOn, staleAfterDays, g.src.Source)))
		case old > staleAfterDays:
			res.findings = append(res.findings, finding(severityLow, fmt.Sprintf("Prices may be stale (%s days old): %s", span.Format("%d", young, old), label),
				fmt.Sprintf("As of %s: past the %d-day threshold if dated early in the month. Source: %s.", g.src.AsOf, staleAfterDays, g.src.Source)))
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
