package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
)

// explain adds the findings that say why a workload has no recommended deployment, or why the
// recommendation is not on a preferred provider.
func explain(wp *WorkloadPlan, cons Constraints) {
	if len(wp.Candidates) == 0 {
		return
	}
	if c, ok := wp.Chosen(); ok {
		if len(cons.Preferred) > 0 && !slices.Contains(cons.Preferred, c.Provider) {
			wp.Findings = append(wp.Findings, Finding{Severity: SeverityMedium, Workload: wp.Label,
				Title:  "No preferred provider can run " + wp.Label,
				Detail: fmt.Sprintf("None of %s has a feasible deployment for %s; the cheapest feasible one is on %s (%s).", strings.Join(cons.Preferred, ", "), wp.Label, c.Provider, c.Instance)})
		}
		return
	}
	var blocked, noFit, unsupported, slo, other []string
	grouped := shapes(wp.Candidates)
	for _, sh := range grouped {
		c, line := sh.first, sh.line()
		switch {
		case strings.HasPrefix(c.Reason, "priced only in"):
			blocked = append(blocked, line)
		case strings.HasPrefix(c.Reason, "does not fit"):
			noFit = append(noFit, line)
		case strings.Contains(c.Reason, "has no FP8 support"):
			unsupported = append(unsupported, line)
		case strings.HasPrefix(c.Reason, "SLO unmet"):
			slo = append(slo, line)
		default:
			other = append(other, line)
		}
	}
	add := func(title, lead string, lines []string) {
		if len(lines) > 3 {
			lines = append(lines[:3:3], fmt.Sprintf("and %d more", len(lines)-3))
		}
		detail := lead
		if len(lines) > 0 {
			detail += " " + strings.Join(lines, "; ") + "."
		}
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityHigh, Workload: wp.Label, Title: title, Detail: detail})
	}
	n := len(grouped)
	switch {
	case len(blocked) == n:
		var missing []string
		for _, p := range cons.Providers {
			if rs := cons.AllowedRegions[p]; len(rs) > 0 {
				missing = append(missing, p+" "+strings.Join(rs, "/"))
			}
		}
		if len(missing) == 0 {
			missing = []string{"the catalogue lists no region in " + strings.Join(cons.Residency, ", ")}
		}
		add("No priced region in "+strings.Join(cons.Residency, ", ")+" for "+wp.Label,
			fmt.Sprintf("Residency (%s) allows only regions in %s, and the catalogue prices every instance outside them; the plan does not price elsewhere. Regional prices needed: %s.",
				cons.ResidencyFrom, strings.Join(cons.Residency, ", "), strings.Join(missing, ", ")), nil)
	case len(noFit)+len(unsupported)+len(blocked) == n && len(noFit) > 0:
		add(wp.Model+" fits no offered GPU for "+wp.Label,
			"No instance's GPUs hold the weights, the runtime overhead and one full-context sequence (largest machines first):", noFit)
	case len(slo)+len(noFit)+len(unsupported)+len(blocked) == n && len(slo) > 0:
		add("No offered hardware meets the SLO of "+wp.Label,
			"Even one request at a time misses the latency target on every instance that holds the model:", slo)
	default:
		all := slices.Concat(slo, other, noFit, unsupported, blocked)
		add("No feasible deployment for "+wp.Label, "Every candidate fails:", all)
	}
}

// totals sums the recommended deployments. Training is a one-off cost; a general service is priced
// on its CPU machine, or named unpriced when no CPU machine in scope holds it.
func totals(ws []WorkloadPlan) Totals {
	var t Totals
	c1, c3, spot := true, true, true
	var sum1, sum3, sumSpot sizing.Range
	var llmCost sizing.Range
	for _, w := range ws {
		c, ok := w.Chosen()
		if !ok {
			if w.Kind != KindGeneral && !(w.Kind == KindRAG && len(w.Candidates) == 0) {
				t.Unpriced = append(t.Unpriced, w.Label)
			}
			if w.Kind == KindGeneral {
				t.Unpriced = append(t.Unpriced, w.Label+" (no priced CPU machine in scope holds it)")
			}
			continue
		}
		if !slices.Contains(t.Sources, c.Source) {
			t.Sources = append(t.Sources, c.Source)
		}
		if c.Training != nil {
			t.OneOffUSD = add(t.OneOffUSD, c.Training.CostUSD)
			addFormula(&t.Working, "one-off %s: %s on %s/%s = %s", w.Label, c.Training.Strategy, c.Provider, c.Instance, dollars(c.Training.CostUSD))
			continue
		}
		t.Priced = append(t.Priced, w.Label)
		t.Monthly.OnDemand = add(t.Monthly.OnDemand, c.Monthly.OnDemand)
		t.GPUs.Low += c.GPUs.Low
		t.GPUs.High += c.GPUs.High
		addFormula(&t.Working, "%s: %s x %s/%s = %s per month on demand, %s",
			w.Label, ints(c.Instances), c.Provider, c.Instance, dollars(c.Monthly.OnDemand), span.Count(c.GPUs.Low, c.GPUs.High, "GPU", "GPUs"))
		c1, sum1 = c1 && c.Monthly.Commit1Y != nil, addPtr(sum1, c.Monthly.Commit1Y)
		c3, sum3 = c3 && c.Monthly.Commit3Y != nil, addPtr(sum3, c.Monthly.Commit3Y)
		spot, sumSpot = spot && c.Monthly.Spot != nil, addPtr(sumSpot, c.Monthly.Spot)
		if w.OutputTokensPerMonth > 0 {
			t.OutputTokensPerMonth += w.OutputTokensPerMonth
			llmCost = add(llmCost, c.Monthly.OnDemand)
		}
	}
	if len(t.Priced) > 0 {
		if c1 {
			t.Monthly.Commit1Y = &sum1
		}
		if c3 {
			t.Monthly.Commit3Y = &sum3
		}
		if spot {
			t.Monthly.Spot = &sumSpot
		}
	}
	if t.OutputTokensPerMonth > 0 {
		t.USDPerMTok = llmCost.Scale(1e6 / t.OutputTokensPerMonth)
		addFormula(&t.Working, "self-hosted cost per million output tokens = %s / %.4g M tokens = %s",
			dollars(llmCost), t.OutputTokensPerMonth/1e6, span.Format("$%.4g", t.USDPerMTok.Low, t.USDPerMTok.High))
	}
	return t
}

// add sums two ranges end by end.
func add(a, b sizing.Range) sizing.Range {
	return sizing.Range{Low: a.Low + b.Low, High: a.High + b.High}
}

// addPtr adds b when it is set.
func addPtr(a sizing.Range, b *sizing.Range) sizing.Range {
	if b == nil {
		return a
	}
	return add(a, *b)
}

// budgetFindings compares the plan with the stated budget: the recommended plan, and the cheapest
// feasible plan (each workload's cheapest feasible candidate) to tell "over budget" from "no plan
// fits the budget".
func budgetFindings(p Plan) []Finding {
	b := p.BudgetUSD
	if b <= 0 || len(p.Totals.Priced) == 0 {
		return nil
	}
	var cheapest sizing.Range
	for _, w := range p.Workloads {
		if _, ok := w.Chosen(); !ok || w.Kind == KindTraining {
			continue
		}
		for _, c := range w.Candidates {
			if c.Feasible {
				cheapest = add(cheapest, c.Monthly.OnDemand)
				break
			}
		}
	}
	rec := p.Totals.Monthly.OnDemand
	best := rec
	for _, r := range []*sizing.Range{p.Totals.Monthly.Commit1Y, p.Totals.Monthly.Commit3Y} {
		if r != nil && r.Low < best.Low {
			best = *r
		}
	}
	switch {
	case cheapest.Low > b && best.Low > b:
		return []Finding{{Severity: SeverityHigh, Title: "Budget below any feasible plan",
			Detail: fmt.Sprintf("The monthly budget is $%.2f; the cheapest feasible plan costs %s a month on demand (each workload on its cheapest feasible instance) and the recommended plan %s. No deployment in the catalogue meets the requirements within budget: relax the SLO, the precision or the traffic, or raise the budget.",
				b, dollars(cheapest), dollars(rec))}}
	case rec.High > b:
		sev := SeverityMedium
		if rec.Low > b {
			sev = SeverityHigh
		}
		return []Finding{{Severity: sev, Title: "Recommended plan may exceed the budget",
			Detail: fmt.Sprintf("The recommended plan costs %s a month on demand against a $%.2f budget; the cheapest feasible plan costs %s. Commitments or spot capacity, where published, lower it.",
				dollars(rec), b, dollars(cheapest))}}
	}
	return nil
}

// failedShape is one machine type of one provider that failed for the same reason in one or more regions:
// a finding names it once, with its regions, instead of once per region.
type failedShape struct {
	first   Candidate
	regions []string
}

func (sh failedShape) line() string {
	name := sh.first.Provider + "/" + sh.first.Instance
	if len(sh.regions) > 1 {
		name += " (" + strings.Join(sh.regions, ", ") + ")"
	}
	return name + ": " + sh.first.Reason
}

// shapes groups candidates by provider, instance and reason, in the order they first appear.
func shapes(cs []Candidate) []failedShape {
	var out []failedShape
	idx := map[[3]string]int{}
	for _, c := range cs {
		k := [3]string{c.Provider, c.Instance, c.Reason}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, failedShape{first: c, regions: []string{c.Region}})
			continue
		}
		if !slices.Contains(out[i].regions, c.Region) {
			out[i].regions = append(out[i].regions, c.Region)
		}
	}
	return out
}
