package analysis

import (
	"fmt"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"slices"
	"sort"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// staleAfterDays is the age beyond which a price snapshot is flagged: prices
// move by large steps (AWS cut P-family on-demand prices by up to 45% in June
// 2025, per the reference figures), so a half-year-old snapshot is suspect.
// The threshold itself is Infra Mind's assumption.
const staleAfterDays = 180

func analyzeResearch(_ *catalog.Catalog, req *inframindv1.AssessmentRequest) (Outcome, error) {
	b := req.GetBusiness()
	scope, err := providerScope(b)
	if err != nil {
		return Outcome{}, err
	}
	var regions []string
	for _, r := range b.GetRegions() {
		if n := norm(r); n != "" && !slices.Contains(regions, n) {
			regions = append(regions, n)
		}
	}
	sort.Strings(regions)

	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	metrics = append(metrics,
		metric("providers_in_scope", float64(len(scope)), "providers",
			fmt.Sprintf("priced providers {%s}, preference {%s} first, minus exclusions {%s} = {%s}",
				strings.Join(providers(), ", "), strings.Join(b.GetProviderPreference(), ", "), strings.Join(b.GetProviderExclusions(), ", "), strings.Join(scope, ", ")),
			"the request's business.provider_preference and provider_exclusions", ""),
		metric("regions_count", float64(len(regions)), "regions",
			fmt.Sprintf("distinct regions {%s}", strings.Join(regions, ", ")), "the request's business.regions", ""),
	)
	excluded := "none"
	if len(b.GetProviderExclusions()) > 0 {
		excluded = strings.Join(b.GetProviderExclusions(), ", ")
	}
	findings = append(findings, finding(severityInfo, "Providers in scope: "+strings.Join(scope, ", "),
		fmt.Sprintf("Compared in this order (stated preference first): %s. Excluded by the request: %s.", strings.Join(scope, ", "), excluded)))
	if len(regions) == 0 {
		findings = append(findings, finding(severityLow, "No regions stated",
			"business.regions is empty, so regional availability and residency cannot be checked; listed prices are for us-east-1, eastus and us-central1."))
	}

	// Freshness of every price source behind the providers in scope, measured
	// against the catalogue's collection date rather than the clock.
	collected := catalogueCollected()
	seen := map[string]priceSource{}
	for _, in := range instances() {
		if slices.Contains(scope, in.provider) {
			seen[in.source.key] = in.source
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	minAge, maxAge := -1, -1
	for _, k := range keys {
		s := seen[k]
		if s.asOf.IsZero() {
			findings = append(findings, finding(severityLow, "Price snapshot without a date: "+s.name,
				fmt.Sprintf("%s is dated only \"%s\", so its age cannot be computed; its prices were checked when the catalogue was collected on %s.", s.name, s.asOfText, collected.Format("2006-01-02"))))
			continue
		}
		age := int(collected.Sub(s.asOf).Hours() / 24)
		if minAge < 0 || age < minAge {
			minAge = age
		}
		if age > maxAge {
			maxAge = age
		}
		metrics = append(metrics, metric("price_age_days_"+k, float64(age), "days",
			fmt.Sprintf("catalogue collected %s - snapshot %s = %d days", collected.Format("2006-01-02"), s.asOfText, age), s.label(), ""))
		if age > staleAfterDays {
			findings = append(findings, finding(severityMedium, fmt.Sprintf("Prices %d days old: %s", age, s.name),
				fmt.Sprintf("The snapshot is dated %s, %d days before the catalogue was collected (flagged beyond %d days, an assumption). Re-check these prices before committing spend.", s.asOfText, age, staleAfterDays)))
		}
	}

	// Cross-provider comparison for the H100 80GB class, per GPU-hour so that
	// 8-GPU machines of different providers compare directly.
	type quote struct {
		provider string
		perGPU   float64
		in       instance
	}
	var quotes []quote
	for _, p := range scope {
		var best *quote
		for _, in := range instances() {
			if in.provider != p || in.gpu.name != "H100 80GB" {
				continue
			}
			q := quote{provider: p, perGPU: in.usdPerHour / float64(in.gpuCount), in: in}
			if best == nil || q.perGPU < best.perGPU {
				best = &q
			}
		}
		if best != nil {
			quotes = append(quotes, *best)
			metrics = append(metrics, metric("h100_usd_per_gpu_hour_"+p, best.perGPU, "USD/GPU-hour",
				fmt.Sprintf("%s %s %s/h / %d GPUs = %s", p, best.in.name, rate(best.in.usdPerHour), best.in.gpuCount, usd(best.perGPU)),
				best.in.source.label(), ""))
		}
	}
	sort.SliceStable(quotes, func(i, j int) bool { return quotes[i].perGPU < quotes[j].perGPU })
	summary := fmt.Sprintf("%s in scope (%s) across %s.", plural(len(scope), "provider"), strings.Join(scope, ", "), plural(len(regions), "region"))
	if minAge >= 0 {
		summary += fmt.Sprintf(" Dated price snapshots are %d to %d days old at catalogue collection (%s).", minAge, maxAge, collected.Format("2006-01-02"))
	}
	if len(quotes) > 0 {
		lines := make([]string, len(quotes))
		for i, q := range quotes {
			lines[i] = fmt.Sprintf("%s %s (%s)", q.provider, usd(q.perGPU), q.in.name)
		}
		cheap, dear := quotes[0], quotes[len(quotes)-1]
		findings = append(findings, finding(severityInfo, "H100 on-demand price per GPU-hour, cheapest first",
			fmt.Sprintf("%s; the dearest is %sx the cheapest.", strings.Join(lines, ", "), num(dear.perGPU/cheap.perGPU))))
		summary += fmt.Sprintf(" H100 on demand runs %s to %s per GPU-hour.", usd(cheap.perGPU), usd(dear.perGPU))
	}
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
}
