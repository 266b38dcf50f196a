package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Constraints are the user's constraints as the planner applies them.
type Constraints struct {
	// Providers is the scope: preference order first, then the other catalogue providers, without
	// exclusions and without providers lacking a programme a declared regime needs.
	Providers []string
	// Preferred is the stated preference that survived the exclusions, best first.
	Preferred []string
	// Residency holds the codes data must stay in (jurisdiction or country codes); empty means none.
	Residency []string
	// ResidencyFrom says where the residency came from (the request, or a regime's control).
	ResidencyFrom string
	// AllowedRegions maps provider to its catalogue regions inside the residency (nil without one).
	AllowedRegions map[string][]string
	// Excluded lists each provider left out and why.
	Excluded []string
	// NearUsers maps provider to its catalogue regions where the request's users and data are
	// (business.regions: a region whose country or jurisdiction is one of the codes). Not a
	// constraint: the recommendation prefers these regions when one of them has a feasible deployment.
	NearUsers map[string][]string
}

// nearUsers reports whether provider's region is where the request's users are.
func (c Constraints) nearUsers(provider, region string) bool {
	return slices.Contains(c.NearUsers[provider], region)
}

// regionAllowed reports whether provider's region satisfies the residency.
func (c Constraints) regionAllowed(provider, region string) bool {
	if len(c.Residency) == 0 {
		return true
	}
	return slices.Contains(c.AllowedRegions[provider], region)
}

// norm lower-cases and trims a user-supplied code so "AWS " and "aws" match.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// catalogueProviders lists the providers with instances in rows (the catalogue's, sorted by provider).
func catalogueProviders(rows []*catalog.Instance) []string {
	var out []string
	for _, in := range rows {
		if !slices.Contains(out, in.Provider) {
			out = append(out, in.Provider)
		}
	}
	return out
}

// constraintsFor derives the constraints from the business block; known are the catalogue's providers
// (catalogueProviders). Unknown provider names and exclusions that leave nothing are findings: the
// plan then says what it could not do.
func constraintsFor(cat *catalog.Catalog, known []string, b *inframindv1.Business) (Constraints, []Finding) {
	var c Constraints
	var fs []Finding
	pick := func(field string, names []string) []string {
		var out []string
		for _, n := range names {
			p := norm(n)
			if !slices.Contains(known, p) {
				fs = append(fs, Finding{Severity: SeverityLow, Title: "Unknown provider " + n,
					Detail: fmt.Sprintf("business.%s names %q, which has no instances in the catalogue (known: %s); it is ignored.", field, n, strings.Join(known, ", "))})
				continue
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out
	}
	pref := pick("provider_preference", b.GetProviderPreference())
	excl := pick("provider_exclusions", b.GetProviderExclusions())
	for _, p := range excl {
		c.Excluded = append(c.Excluded, p+": excluded by the request")
	}

	// A declared regime that needs a provider programme (a HIPAA BAA) rules out providers whose
	// programme the catalogue records as unavailable (data/eligibility.yaml).
	var needs []string
	for _, r := range b.GetCompliance() {
		needs = append(needs, norm(r))
	}
	ineligible := map[string]string{}
	for _, p := range known {
		for _, r := range needs {
			es := cat.EligibilityFor(p, r)
			if len(es) == 0 {
				continue
			}
			if !slices.ContainsFunc(es, func(e catalog.Eligibility) bool { return e.Available }) {
				ineligible[p] = fmt.Sprintf("%s: no %s %s programme (%s, as of %s)", p, r, es[0].Program, es[0].Source.Source, es[0].AsOf)
			}
		}
	}
	for _, p := range append(pref, known...) {
		if slices.Contains(excl, p) || slices.Contains(c.Providers, p) {
			continue
		}
		if why, bad := ineligible[p]; bad {
			if !slices.Contains(c.Excluded, why) {
				c.Excluded = append(c.Excluded, why)
			}
			continue
		}
		c.Providers = append(c.Providers, p)
		if slices.Contains(pref, p) {
			c.Preferred = append(c.Preferred, p)
		}
	}
	if len(c.Providers) == 0 {
		fs = append(fs, Finding{Severity: SeverityHigh, Title: "No provider left to plan on",
			Detail: fmt.Sprintf("The catalogue prices %s; all are ruled out (%s), so no workload can be placed.", strings.Join(known, ", "), strings.Join(c.Excluded, "; "))})
	}

	// Residency: the request's data_residency; without it, a declared regime whose controls include
	// residency (GDPR Chapter V) confines data to the regime's jurisdiction, since the plan cannot
	// assume a transfer mechanism is in place.
	for _, r := range b.GetDataResidency() {
		if n := norm(r); n != "" && !slices.Contains(c.Residency, n) {
			c.Residency = append(c.Residency, n)
		}
	}
	if len(c.Residency) > 0 {
		c.ResidencyFrom = "business.data_residency"
	} else {
		for _, id := range needs {
			reg, ok := cat.Regime(id)
			if !ok || reg.Jurisdiction == "" || reg.Jurisdiction == "global" {
				continue
			}
			for _, ctl := range reg.Controls {
				if ctl.ID == "residency" && !slices.Contains(c.Residency, reg.Jurisdiction) {
					c.Residency = append(c.Residency, reg.Jurisdiction)
					c.ResidencyFrom = fmt.Sprintf("%s control %q (%s)", reg.Name, ctl.Title, ctl.Citation)
				}
			}
		}
		if len(c.Residency) > 0 {
			fs = append(fs, Finding{Severity: SeverityLow, Title: "Residency assumed from " + strings.Join(c.Residency, ", ") + " compliance",
				Detail: fmt.Sprintf("No data_residency is stated, but %s applies; the plan keeps data in %s. A documented transfer mechanism would lift this; state data_residency to decide it explicitly.",
					c.ResidencyFrom, strings.Join(c.Residency, ", "))})
		}
	}
	for _, code := range b.GetRegions() {
		code = norm(code)
		for _, r := range cat.Regions {
			if (r.Country == code || r.Jurisdiction == code) && !slices.Contains(c.NearUsers[r.Provider], r.ID) {
				if c.NearUsers == nil {
					c.NearUsers = map[string][]string{}
				}
				c.NearUsers[r.Provider] = append(c.NearUsers[r.Provider], r.ID)
			}
		}
	}
	if len(c.Residency) > 0 {
		c.AllowedRegions = map[string][]string{}
		for _, r := range cat.Regions {
			if slices.Contains(c.Residency, r.Jurisdiction) || slices.Contains(c.Residency, r.Country) {
				c.AllowedRegions[r.Provider] = append(c.AllowedRegions[r.Provider], r.ID)
			}
		}
	}
	return c, fs
}

// offer is one instance in one region it is offered in, with its GPU row. It points into the
// catalogue: a plan reads thousands of offers, and copying each row into its offer was a large part of
// building the pool.
type offer struct {
	inst *catalog.Instance
	gpu  *catalog.GPU
	// region is where the price applies (the instance's price region).
	region string
	// blocked is non-empty when the residency rules the offer out; it names the missing regional price.
	blocked string
	// source names the catalogue rows behind the offer (sourceOf for a GPU offer, cpuSourceOf for a CPU
	// machine).
	source string
}

// eligibleInstances lists the GPU offers among the planner's rows in the provider scope, in scope order
// then name. An instance is offered only in the regions the catalogue names (offered_in) and priced only
// in its price region, so an offer outside the residency is kept, blocked, to say which regional price
// is missing.
func (pl *Planner) eligibleInstances(c Constraints) []offer {
	out := make([]offer, 0, pl.gpuRows)
	blocked := pl.blockedMemo(c)
	for _, p := range c.Providers {
		r := pl.byProvider[p]
		for i := r[0]; i < r[1]; i++ {
			if g := pl.gpuOf[i]; g != nil {
				in := pl.rows[i]
				out = append(out, offer{inst: in, gpu: g, region: in.PriceRegion, blocked: blocked(i), source: pl.sources[i]})
			}
		}
	}
	return out
}

// cpuOffers lists the CPU machines (general-purpose families priced for services) among the planner's
// rows in the provider scope, in scope order then name, blocked like eligibleInstances outside the
// residency.
func (pl *Planner) cpuOffers(c Constraints) []offer {
	out := make([]offer, 0, pl.cpuRows)
	blocked := pl.blockedMemo(c)
	for _, p := range c.Providers {
		r := pl.byProvider[p]
		for i := r[0]; i < r[1]; i++ {
			if in := pl.rows[i]; !in.HasGPU() {
				out = append(out, offer{inst: in, region: in.PriceRegion, blocked: blocked(i), source: pl.sources[i]})
			}
		}
	}
	return out
}

// cpuSourceOf names the catalogue row behind a CPU machine with its as-of date.
func cpuSourceOf(in *catalog.Instance) string {
	return "catalogue instance " + in.Provider + "/" + in.Name + ": " + in.Source.Source + ", as of " + in.AsOf
}

// blockedMemo is blocked for the planner's row i, deciding each provider and price region once: a
// catalogue prices many machines in one region.
func (pl *Planner) blockedMemo(c Constraints) func(i int) string {
	const (
		unknown = iota
		allowed
		ruledOut
	)
	state := make([]int8, len(pl.places))
	why := make([]string, len(pl.places))
	return func(i int) string {
		k := pl.place[i]
		if state[k] == unknown {
			state[k] = ruledOut
			if p := pl.places[k]; c.regionAllowed(p[0], p[1]) {
				state[k] = allowed
			}
		}
		if state[k] == allowed && pl.offered[i] {
			return ""
		}
		if why[k] == "" {
			p := pl.places[k]
			why[k] = c.blockedIn(p[0], p[1])
		}
		return why[k]
	}
}

// blockedIn says why the residency rules out an instance's price of provider p in region, where it is
// not offered or the residency does not allow: the reason depends on the provider and the price region
// only.
func (c Constraints) blockedIn(p, region string) string {
	allowed := c.AllowedRegions[p]
	want := "no catalogued region of " + p + " is in " + strings.Join(c.Residency, ", ")
	if len(allowed) > 0 {
		want = "a price in " + strings.Join(allowed, " or ")
	}
	return fmt.Sprintf("priced only in %s, outside the residency (%s); needs %s", region, strings.Join(c.Residency, ", "), want)
}
