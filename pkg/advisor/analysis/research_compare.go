package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// gpuQuote is one provider's cheapest price per GPU-hour for one GPU class
// under one pricing model, and the instance it comes from.
type gpuQuote struct {
	provider string
	perGPU   float64
	in       *catalog.Instance
	formula  string
}

// classComparison holds the quotes for one GPU class.
type classComparison struct {
	gpu                          catalog.GPU
	onDemand, spot, c1y, c3y     []gpuQuote
	missing                      []string // providers in scope with no instance of the class
	priceRegions, outsideRegions []string
}

// pricingModel is a way to pay for a machine.
type pricingModel int

const (
	onDemandPricing pricingModel = iota
	spotPricing
	commit1YPricing
	commit3YPricing
)

// price is a row's whole-machine hourly price under pm, 0 when the row
// publishes none. Commitments are published per month; dividing by 730 hours
// gives the hourly equivalent (plan.HoursPerMonth, the month the catalogue
// states them for).
func (pm pricingModel) price(in *catalog.Instance) float64 {
	switch pm {
	case spotPricing:
		return in.SpotHourly
	case commit1YPricing:
		return in.Commit1YMonthly / plan.HoursPerMonth
	case commit3YPricing:
		return in.Commit3YMonthly / plan.HoursPerMonth
	default:
		return in.OnDemandHourly
	}
}

// formula says how price was derived; it is written only for the row a
// comparison shows.
func (pm pricingModel) formula(in *catalog.Instance) string {
	switch pm {
	case spotPricing:
		return fmt.Sprintf("%s spot %s/h", in.Name, rate(in.SpotHourly))
	case commit1YPricing:
		return fmt.Sprintf("%s 1-year commitment %s/month / %g h", in.Name, usd(in.Commit1YMonthly), plan.HoursPerMonth)
	case commit3YPricing:
		return fmt.Sprintf("%s 3-year commitment %s/month / %g h", in.Name, usd(in.Commit3YMonthly), plan.HoursPerMonth)
	default:
		return fmt.Sprintf("%s on demand %s/h", in.Name, rate(in.OnDemandHourly))
	}
}

// cheapestPer returns, among rows (one provider's rows of one GPU class),
// the instance with the lowest per-GPU-hour price under pm.
func cheapestPer(rows []*catalog.Instance, p string, pm pricingModel) (gpuQuote, bool) {
	var best *catalog.Instance
	bestPer := 0.0
	for _, in := range rows {
		if in.GPUCount <= 0 {
			continue
		}
		v := pm.price(in)
		if v <= 0 {
			continue
		}
		if per := v / float64(in.GPUCount); best == nil || per < bestPer {
			best, bestPer = in, per
		}
	}
	if best == nil {
		return gpuQuote{}, false
	}
	return gpuQuote{provider: p, perGPU: bestPer, in: best, formula: pm.formula(best)}, true
}

// userServedBy reports whether a catalogue region sits where a request
// region code points: its country, its jurisdiction, or the EU for an EU
// member state.
func userServedBy(code string, r catalog.Region) bool {
	return r.Country == code || r.Jurisdiction == code || (r.Jurisdiction == "eu" && slices.Contains(euMemberStates(), code))
}

// compareClass builds the cross-provider comparison of one GPU class.
func compareClass(cat *catalogueIndex, g catalog.GPU, scope, userRegions []string) classComparison {
	c := classComparison{gpu: g}
	var priced []*classRows // the class's rows of each provider with an on-demand quote
	for _, p := range scope {
		cr := cat.classOf(p, g.ID)
		od, ok := cheapestPer(cr.rows, p, onDemandPricing)
		if !ok {
			c.missing = append(c.missing, p)
			continue
		}
		priced = append(priced, cr)
		c.onDemand = append(c.onDemand, od)
		if q, ok := cheapestPer(cr.rows, p, spotPricing); ok {
			c.spot = append(c.spot, q)
		}
		if q, ok := cheapestPer(cr.rows, p, commit1YPricing); ok {
			c.c1y = append(c.c1y, q)
		}
		if q, ok := cheapestPer(cr.rows, p, commit3YPricing); ok {
			c.c3y = append(c.c3y, q)
		}
		for _, r := range cr.priceRegions {
			c.priceRegions = appendUnique(c.priceRegions, r)
		}
	}
	// Which of the user's regions no priced instance of this class sits in.
	for _, code := range userRegions {
		served := false
		for _, cr := range priced {
			for _, r := range cr.regions {
				if userServedBy(code, r) {
					served = true
				}
			}
		}
		if !served {
			c.outsideRegions = append(c.outsideRegions, code)
		}
	}
	return c
}

// comparisonResults turns a class comparison into metrics and findings.
func comparisonResults(c classComparison) ([]*inframindv1.Metric, []*inframindv1.Finding) {
	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	if len(c.onDemand) == 0 {
		return nil, []*inframindv1.Finding{finding(severityLow, "No priced instance with "+c.gpu.Name,
			fmt.Sprintf("None of the providers in scope (%s) has a catalogue instance with this GPU.", strings.Join(c.missing, ", ")))}
	}
	models := []struct {
		key, words string
		quotes     []gpuQuote
	}{
		{"on_demand", "on demand", c.onDemand}, {"spot", "spot", c.spot},
		{"commit_1y", "1-year commitment", c.c1y}, {"commit_3y", "3-year commitment", c.c3y},
	}
	var lines []string
	for _, m := range models {
		if len(m.quotes) == 0 {
			continue
		}
		qs := slices.Clone(m.quotes)
		slices.SortStableFunc(qs, func(a, b gpuQuote) int {
			switch {
			case a.perGPU < b.perGPU:
				return -1
			case a.perGPU > b.perGPU:
				return 1
			}
			return 0
		})
		var parts []string
		for _, q := range qs {
			metrics = append(metrics, metric(fmt.Sprintf("usd_per_gpu_hour_%s_%s_%s", m.key, c.gpu.ID, q.provider), q.perGPU, "USD/GPU-hour",
				fmt.Sprintf("%s / %s = %s per GPU-hour (%s)", q.formula, plural(q.in.GPUCount, "GPU"), usd(q.perGPU), q.in.PriceRegion),
				rowSource(q.in.Source)+"; GPU "+c.gpu.ID+": "+rowSource(c.gpu.Source), ""))
			parts = append(parts, fmt.Sprintf("%s %s (%s, %s)", q.provider, usd(q.perGPU), q.in.Name, q.in.PriceRegion))
		}
		line := m.words + ": " + strings.Join(parts, ", ")
		if len(qs) > 1 {
			line += fmt.Sprintf(" (dearest %sx the cheapest)", num(qs[len(qs)-1].perGPU/qs[0].perGPU))
		}
		lines = append(lines, line)
	}
	findings = append(findings, finding(severityInfo, c.gpu.Name+" per GPU-hour, cheapest first", strings.Join(lines, "; ")+"."))

	// Availability caveats: where the prices hold, what is not published,
	// and notes the catalogue records (e.g. sizes sold only as spot).
	var caveats []string
	caveats = append(caveats, "priced only in "+strings.Join(c.priceRegions, ", ")+"; the catalogue records no availability elsewhere (offered_in lists only the price region)")
	if len(c.missing) > 0 {
		caveats = append(caveats, "not offered in the catalogue by "+strings.Join(c.missing, ", "))
	}
	for _, q := range c.onDemand {
		var none []string
		if q.in.SpotHourly == 0 {
			none = append(none, "spot")
		}
		if q.in.Commit1YMonthly == 0 && q.in.Commit3YMonthly == 0 {
			none = append(none, "commitment")
		}
		if len(none) > 0 {
			caveats = append(caveats, fmt.Sprintf("%s %s publishes no %s price here", q.provider, q.in.Name, strings.Join(none, " or ")))
		}
		if q.in.Notes != "" {
			caveats = append(caveats, fmt.Sprintf("%s %s: %s", q.provider, q.in.Name, strings.TrimSuffix(q.in.Notes, ".")))
		}
	}
	severity := severityInfo
	if len(c.outsideRegions) > 0 {
		severity = severityMedium
		caveats = append(caveats, fmt.Sprintf("none of these prices is for a region in %s, where the request's users or data are", strings.Join(c.outsideRegions, ", ")))
	}
	findings = append(findings, finding(severity, "Availability caveats for "+c.gpu.Name, strings.Join(caveats, "; ")+"."))
	return metrics, findings
}
