package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// dataCategories lists the data categories the request format accepts.
const dataCategories = "personal, health, payment_card, financial, children, public"

// regimeID normalises a declared regime name ("PCI-DSS", "soc 2") to the
// catalogue's id, so a loosely spelt declaration still finds its row.
func regimeID(s string) string {
	id := strings.NewReplacer(" ", "_", "-", "_", "/", "_").Replace(norm(s))
	aliases := map[string]string{
		"pci": "pci_dss", "pcidss": "pci_dss", "soc_2": "soc2", "iso_27001": "iso27001",
		"iso27001_2022": "iso27001", "ai_act": "eu_ai_act", "cpra": "ccpa", "ccpa_cpra": "ccpa",
	}
	if a, ok := aliases[id]; ok {
		return a
	}
	return id
}

// regimeShortName is how findings name a regime; the catalogue's full name
// follows in the detail. Ids without a short form are shown as they are.
func regimeShortName(id string) string {
	names := map[string]string{
		"gdpr": "GDPR", "uk_gdpr": "UK GDPR", "hipaa": "HIPAA", "pci_dss": "PCI DSS", "soc2": "SOC 2",
		"iso27001": "ISO 27001", "eu_ai_act": "EU AI Act", "ccpa": "CCPA",
	}
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

// euMemberStates are the 27 EU member states as ISO 3166-1 codes (the
// request's country codes), so a request naming "de" matches a catalogue rule
// or residency requirement written for "eu". Source: European Union, "EU
// countries" (european-union.europa.eu), 27 members since 1 February 2020.
func euMemberStates() []string {
	return []string{"at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie", "it",
		"lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se"}
}

// regionCodeMatches reports whether a request region code falls under a code
// a catalogue rule or residency requirement uses: the same code, or an EU
// member state under "eu".
func regionCodeMatches(ruleCode, requestCode string) bool {
	return ruleCode == requestCode || (ruleCode == "eu" && slices.Contains(euMemberStates(), requestCode))
}

// complianceInput is the part of the request compliance reads, normalised.
type complianceInput struct {
	categories []string
	regions    []string
	industry   string
	residency  []string
	declared   []string
	preferred  []string
	scope      []string
}

func readComplianceInput(cat *catalogueIndex, b *inframindv1.Business) (complianceInput, error) {
	in := complianceInput{industry: norm(b.GetIndustry())}
	allowed := strings.Split(dataCategories, ", ")
	for i, c := range b.GetDataCategories() {
		n := norm(c)
		if !slices.Contains(allowed, n) {
			return in, unanalysable("business.data_categories[%d]: unknown data category %q (one of %s)", i, c, dataCategories)
		}
		in.categories = appendUnique(in.categories, n)
	}
	for i, r := range b.GetRegions() {
		n := norm(r)
		if n == "" {
			return in, unanalysable("business.regions[%d]: empty region code", i)
		}
		in.regions = appendUnique(in.regions, n)
	}
	for i, r := range b.GetDataResidency() {
		n := norm(r)
		if n == "" {
			return in, unanalysable("business.data_residency[%d]: empty region code", i)
		}
		in.residency = appendUnique(in.residency, n)
	}
	for i, d := range b.GetCompliance() {
		id := regimeID(d)
		if id == "" {
			return in, unanalysable("business.compliance[%d]: empty regime name", i)
		}
		in.declared = appendUnique(in.declared, id)
	}
	scope, err := catalogueProviderScope(cat, b)
	if err != nil {
		return in, err
	}
	in.scope = scope
	for _, p := range b.GetProviderPreference() {
		in.preferred = appendUnique(in.preferred, norm(p))
	}
	return in, nil
}

// appendUnique appends v unless s already holds it.
func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// applicableRegime is a regime that applies to the request and why.
type applicableRegime struct {
	id       string
	row      catalog.Regime
	known    bool // the catalogue has a row for it
	declared bool
	// rule says which applies_when lists matched, when the rule fired.
	rule string
	// byData is true when the rule that fired matched a data category.
	byData bool
}

// inferRegime applies a catalogue regime's applies_when rule (catalog
// AppliesWhen: every non-empty list needs a match; all empty means the regime
// is only ever declared). It returns the rule in words when it fires.
func inferRegime(r catalog.Regime, in complianceInput) (string, bool) {
	w := r.AppliesWhen
	if len(w.DataCategories) == 0 && len(w.Regions) == 0 && len(w.Industries) == 0 {
		return "", false
	}
	var parts []string
	if len(w.DataCategories) > 0 {
		var hit []string
		for _, c := range in.categories {
			if slices.Contains(w.DataCategories, c) {
				hit = append(hit, c)
			}
		}
		if len(hit) == 0 {
			return "", false
		}
		parts = append(parts, fmt.Sprintf("data categories [%s] matched %s", strings.Join(w.DataCategories, ", "), strings.Join(hit, ", ")))
	}
	if len(w.Regions) > 0 {
		var hit []string
		for _, reg := range in.regions {
			for _, rule := range w.Regions {
				if regionCodeMatches(rule, reg) {
					hit = appendUnique(hit, reg)
				}
			}
		}
		if len(hit) == 0 {
			return "", false
		}
		parts = append(parts, fmt.Sprintf("regions [%s] matched %s", strings.Join(w.Regions, ", "), strings.Join(hit, ", ")))
	}
	if len(w.Industries) > 0 {
		match := ""
		for _, ind := range w.Industries {
			if in.industry != "" && norm(ind) == in.industry {
				match = in.industry
			}
		}
		if match == "" {
			return "", false
		}
		parts = append(parts, fmt.Sprintf("industries [%s] matched %s", strings.Join(w.Industries, ", "), match))
	}
	return "catalogue rule applies_when: " + strings.Join(parts, "; "), true
}

// applicableRegimes is declared union inferred, sorted by id.
func applicableRegimes(cat *catalog.Catalog, in complianceInput) []applicableRegime {
	var out []applicableRegime
	for _, r := range cat.Regimes {
		a := applicableRegime{id: r.ID, row: r, known: true, declared: slices.Contains(in.declared, r.ID)}
		if rule, ok := inferRegime(r, in); ok {
			a.rule, a.byData = rule, len(r.AppliesWhen.DataCategories) > 0
		}
		if a.declared || a.rule != "" {
			out = append(out, a)
		}
	}
	for _, id := range in.declared {
		if _, ok := cat.Regime(id); !ok {
			out = append(out, applicableRegime{id: id, declared: true})
		}
	}
	slices.SortFunc(out, func(a, b applicableRegime) int { return strings.Compare(a.id, b.id) })
	return out
}

func analyzeCompliance(cat *catalogueIndex, req *inframindv1.AssessmentRequest) (Outcome, error) {
	b := req.GetBusiness()
	if b == nil {
		return Outcome{}, unanalysable("business: missing; compliance needs its regions, data categories and declared regimes")
	}
	in, err := readComplianceInput(cat, b)
	if err != nil {
		return Outcome{}, err
	}
	regimes := applicableRegimes(cat.Catalog, in)
	var o Outcome
	o.Metrics, o.Findings = regimeResults(regimes, in)

	cm, cf := controlResults(regimes)
	o.Metrics, o.Findings = append(o.Metrics, cm...), append(o.Findings, cf...)
	res := residencyResults(cat, regimes, in)
	o.Metrics, o.Findings = append(o.Metrics, res.metrics...), append(o.Findings, res.findings...)
	em, ef := eligibilityResults(cat.Catalog, regimes, in)
	o.Metrics, o.Findings = append(o.Metrics, em...), append(o.Findings, ef...)
	retention, rm, rf := retentionResults(regimes)
	o.Metrics, o.Findings = append(o.Metrics, rm...), append(o.Findings, rf...)

	o.Summary = complianceSummary(regimes, res, retention)
	return o, nil
}

// listOrNone joins s, or says "none".
func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// regimeResults explains which regimes apply and flags those that were not
// declared.
func regimeResults(regimes []applicableRegime, in complianceInput) ([]*inframindv1.Metric, []*inframindv1.Finding) {
	var declared, inferred, undeclared, ids, sources []string
	var findings []*inframindv1.Finding
	for _, a := range regimes {
		ids = append(ids, a.id)
		why := []string{}
		how := "declared"
		if a.declared {
			declared = append(declared, a.id)
			why = append(why, "declared in the request")
		}
		if a.rule != "" {
			inferred = append(inferred, a.id)
			why = append(why, a.rule)
			how = "inferred"
			if a.declared {
				how = "declared and inferred"
			}
		}
		name := regimeShortName(a.id)
		severity, title := severityInfo, fmt.Sprintf("%s applies (%s)", name, how)
		detail := "Why: " + strings.Join(why, "; ") + "."
		if !a.declared {
			undeclared = append(undeclared, a.id)
			// A rule that matched the data the user handles is certain to
			// bind; one that matched only a region or industry depends on
			// what the system does (for example whether an AI system is
			// high-risk), so it is a gap to check rather than a sure breach.
			severity = severityHigh
			detail += " The request does not declare it: add it to business.compliance, or record why it does not apply."
			if !a.byData {
				severity = severityMedium
				detail += " The rule matched only where the business operates, so confirm the regime's scope for this system."
			}
			title = fmt.Sprintf("%s applies but is not declared", name)
		}
		if a.known {
			detail += fmt.Sprintf(" Catalogue row %s (%s, jurisdiction %s): %s.", a.id, a.row.Name, a.row.Jurisdiction, rowSource(a.row.Source))
			if a.row.Notes != "" {
				detail += " " + a.row.Notes
			}
			sources = append(sources, a.id+": "+rowSource(a.row.Source))
		} else {
			severity = severityLow
			detail += " The catalogue has no controls for this regime yet, so none are listed and it sets no residency, eligibility or retention constraint here."
		}
		findings = append(findings, finding(severity, title, detail))
	}
	rules := fmt.Sprintf("catalogue regimes.yaml applies_when rules over data categories {%s}, regions {%s}, industry %q",
		listOrNone(in.categories), listOrNone(in.regions), in.industry)
	src := "request business.compliance, data_categories, regions and industry"
	if len(sources) > 0 {
		src += "; " + strings.Join(sources, "; ")
	}
	metrics := []*inframindv1.Metric{
		metric("compliance_regimes_count", float64(len(ids)), "regimes",
			fmt.Sprintf("declared {%s} union inferred {%s} = {%s}, %d (%s)", listOrNone(declared), listOrNone(inferred), listOrNone(ids), len(ids), rules),
			src, ""),
		metric("undeclared_regimes_count", float64(len(undeclared)), "regimes",
			fmt.Sprintf("inferred but not declared: {%s}", listOrNone(undeclared)), src, ""),
	}
	if len(ids) == 0 {
		findings = append(findings, finding(severityInfo, "No compliance regime applies",
			fmt.Sprintf("No regime is declared, and none of the catalogue's applies_when rules fires for data categories {%s} in regions {%s}.",
				listOrNone(in.categories), listOrNone(in.regions))))
	}
	return metrics, findings
}

// controlResults lists each applicable regime's controls with their concrete
// infrastructure actions, as the catalogue records them.
func controlResults(regimes []applicableRegime) ([]*inframindv1.Metric, []*inframindv1.Finding) {
	var findings []*inframindv1.Finding
	var terms, sources []string
	controls, actions := 0, 0
	for _, a := range regimes {
		if !a.known {
			continue
		}
		var lines []string
		n := 0
		for _, c := range a.row.Controls {
			lines = append(lines, fmt.Sprintf("%s (%s): %s", c.Title, c.Citation, strings.Join(c.Actions, "; ")))
			n += len(c.Actions)
		}
		controls += len(a.row.Controls)
		actions += n
		terms = append(terms, fmt.Sprintf("%s %d controls / %d actions", a.id, len(a.row.Controls), n))
		sources = append(sources, a.id+": "+rowSource(a.row.Source))
		findings = append(findings, finding(severityInfo,
			fmt.Sprintf("%s: %s with %s", regimeShortName(a.id), plural(len(a.row.Controls), "control"), plural(n, "infrastructure action")),
			strings.Join(lines, ". ")+". Source: "+rowSource(a.row.Source)+"."))
	}
	if len(terms) == 0 {
		return nil, findings
	}
	src := "catalogue regimes.yaml controls: " + strings.Join(sources, "; ")
	return []*inframindv1.Metric{
		metric("controls_count", float64(controls), "controls", "sum over applicable regimes: "+strings.Join(terms, ", ")+fmt.Sprintf(" = %d controls", controls), src, ""),
		metric("infrastructure_actions_count", float64(actions), "actions", "sum over applicable regimes: "+strings.Join(terms, ", ")+fmt.Sprintf(" = %d actions", actions), src, ""),
	}, findings
}

// residencyField is the request field that states data residency.
const residencyField = "business.data_residency"

// residencyConstraint is one requirement on where data may sit: a set of
// region codes (any one satisfies it) and who imposes it.
type residencyConstraint struct {
	origin string
	codes  []string
}

// satisfiedBy reports whether a catalogue region meets the constraint: its
// jurisdiction or its country is one of the codes.
func (c residencyConstraint) satisfiedBy(r catalog.Region) bool {
	return slices.ContainsFunc(c.codes, func(code string) bool {
		return code == r.Jurisdiction || code == r.Country
	})
}

// residencyOutcome is what the residency analysis found, for the summary.
type residencyOutcome struct {
	metrics     []*inframindv1.Metric
	findings    []*inframindv1.Finding
	constrained bool
	allowed     map[string][]string // provider -> allowed region ids
}

// residencyConstraints gathers the request's data_residency and every
// applicable regime whose catalogue controls include a residency control
// (the regime's jurisdiction then bounds where data may sit).
func residencyConstraints(regimes []applicableRegime, in complianceInput) []residencyConstraint {
	var out []residencyConstraint
	if len(in.residency) > 0 {
		out = append(out, residencyConstraint{origin: residencyField, codes: in.residency})
	}
	for _, a := range regimes {
		if !a.known || a.row.Jurisdiction == "global" {
			continue
		}
		for _, c := range a.row.Controls {
			if c.ID == "residency" {
				out = append(out, residencyConstraint{
					origin: fmt.Sprintf("%s control %q (%s)", a.id, c.Title, c.Citation),
					codes:  []string{a.row.Jurisdiction},
				})
			}
		}
	}
	return out
}

// residencyResults lists, per provider in scope, the catalogue regions that
// satisfy every residency constraint and whether any GPU instance is priced
// in them.
func residencyResults(cat *catalogueIndex, regimes []applicableRegime, in complianceInput) residencyOutcome {
	out := residencyOutcome{allowed: map[string][]string{}}
	cons := residencyConstraints(regimes, in)
	if len(cons) == 0 {
		out.findings = append(out.findings, finding(severityInfo, "No data residency constraint",
			"The request states no data_residency and no applicable regime has a residency control in the catalogue, so every catalogue region is allowed."))
		return out
	}
	out.constrained = true
	var terms []string
	for _, c := range cons {
		terms = append(terms, fmt.Sprintf("%s: [%s]", c.origin, strings.Join(c.codes, ", ")))
	}
	rule := "region jurisdiction or country in every constraint's codes; constraints " + strings.Join(terms, "; ")

	// A residency code no catalogue region carries can never be met here.
	for _, c := range cons {
		for _, code := range c.codes {
			if !slices.ContainsFunc(cat.Regions, func(r catalog.Region) bool { return r.Jurisdiction == code || r.Country == code }) {
				out.findings = append(out.findings, regionFinding(severityMedium, fmt.Sprintf("No catalogue region in %q", code),
					fmt.Sprintf("%s names %q, but no catalogue region has that jurisdiction or country, so it cannot be met by a listed region; check the provider's region list before committing.", c.origin, code)))
			}
		}
	}

	anyAllowed, anyPriced := false, false
	var lines []string
	for _, p := range in.scope {
		var allowed, priced, srcs []string
		for _, r := range cat.Regions {
			if r.Provider != p || slices.ContainsFunc(cons, func(c residencyConstraint) bool { return !c.satisfiedBy(r) }) {
				continue
			}
			allowed = append(allowed, r.ID)
			srcs = append(srcs, r.ID+": "+rowSource(r.Source))
		}
		seen := map[string]bool{}
		for _, r := range cat.residencyRows[p] {
			if slices.Contains(allowed, r.region) && !seen[r.label] {
				seen[r.label] = true
				priced = append(priced, r.label)
			}
		}
		out.allowed[p] = allowed
		anyAllowed = anyAllowed || len(allowed) > 0
		anyPriced = anyPriced || len(priced) > 0
		src := "catalogue regions.yaml"
		if len(srcs) > 0 {
			src += ": " + strings.Join(srcs, "; ")
		}
		out.metrics = append(out.metrics,
			metric("allowed_regions_count_"+p, float64(len(allowed)), "regions",
				fmt.Sprintf("%s catalogue regions with %s = {%s}", p, rule, listOrNone(allowed)), src, ""),
			metric("priced_gpu_instances_in_allowed_regions_"+p, float64(len(priced)), "instances",
				fmt.Sprintf("%s instances whose price_region is in {%s}: {%s}", p, listOrNone(allowed), listOrNone(priced)),
				"catalogue data/instances/"+p+".yaml price_region of each row; "+src, ""))
		lines = append(lines, fmt.Sprintf("%s: %s", p, listOrNone(allowed)))
	}
	detail := "Data may sit only in regions that satisfy every constraint: " + strings.Join(terms, "; ") + "."
	if slices.ContainsFunc(cons, func(c residencyConstraint) bool { return c.origin != residencyField }) {
		detail += " A regime's residency control may also be met by a lawful transfer mechanism (its title says so where it can); the list assumes none is in place."
	}
	out.findings = append(out.findings, finding(severityInfo, "Allowed regions: "+strings.Join(lines, "; "), detail))
	switch {
	case !anyAllowed:
		out.findings = append(out.findings, regionFinding(severityHigh, "No catalogue region satisfies the residency constraints",
			fmt.Sprintf("No region of %s meets all of: %s. The constraints conflict, or the catalogue lists no region there; resolve before choosing infrastructure.",
				strings.Join(in.scope, ", "), strings.Join(terms, "; "))))
	case !anyPriced:
		out.findings = append(out.findings, regionFinding(severityHigh, "No priced GPU instance in the allowed regions",
			fmt.Sprintf("The catalogue prices GPU instances only in regions outside the allowed ones (%s), so no cost in this report is for a compliant region; get prices for the allowed regions before committing.",
				strings.Join(lines, "; "))))
	}
	for _, p := range in.preferred {
		if slices.Contains(in.scope, p) && len(out.allowed[p]) == 0 && anyAllowed {
			out.findings = append(out.findings, regionFinding(severityMedium, fmt.Sprintf("Preferred provider %s has no allowed region in the catalogue", p),
				fmt.Sprintf("%s is preferred, but none of its catalogue regions meets %s.", p, strings.Join(terms, "; "))))
		}
	}
	return out
}

// eligibilityResults checks, for each applicable regime for which the
// catalogue records provider programmes (such as the HIPAA BAA), which
// providers in scope offer one.
func eligibilityResults(cat *catalog.Catalog, regimes []applicableRegime, in complianceInput) ([]*inframindv1.Metric, []*inframindv1.Finding) {
	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	for _, a := range regimes {
		if !a.known || !slices.ContainsFunc(cat.Eligibility, func(e catalog.Eligibility) bool { return e.Regime == a.id }) {
			continue
		}
		name := regimeShortName(a.id)
		var terms, srcs, have []string
		for _, p := range in.scope {
			var progs []string
			for _, e := range cat.EligibilityFor(p, a.id) {
				srcs = append(srcs, p+" "+e.Program+": "+rowSource(e.Source))
				if e.Available {
					progs = append(progs, e.Program)
					findings = append(findings, finding(severityInfo, fmt.Sprintf("%s %s available from %s", name, e.Program, p),
						fmt.Sprintf("%s Source: %s.", e.Notes, rowSource(e.Source))))
				}
			}
			if len(progs) > 0 {
				have = append(have, p)
				terms = append(terms, fmt.Sprintf("%s %s", p, strings.Join(progs, "+")))
				continue
			}
			terms = append(terms, p+" none")
			severity := severityMedium
			if slices.Contains(in.preferred, p) {
				severity = severityHigh
			}
			findings = append(findings, finding(severity, fmt.Sprintf("No %s programme recorded for %s", name, p),
				fmt.Sprintf("%s applies, and the catalogue records no available provider programme for it at %s (other providers: %s). Do not place regulated data there until one is signed.",
					name, p, listOrNone(have))))
		}
		src := "catalogue eligibility.yaml"
		if len(srcs) > 0 {
			src += ": " + strings.Join(srcs, "; ")
		}
		metrics = append(metrics, metric("eligible_providers_"+a.id, float64(len(have)), "providers",
			fmt.Sprintf("providers in scope with an available %s programme: %s = %d", name, strings.Join(terms, ", "), len(have)), src, ""))
	}
	return metrics, findings
}

// retentionResults finds the longest log or record retention the applicable
// regimes require, with the regime that requires it.
func retentionResults(regimes []applicableRegime) (*applicableRegime, []*inframindv1.Metric, []*inframindv1.Finding) {
	var longest *applicableRegime
	var terms []string
	for i, a := range regimes {
		if !a.known || a.row.LogRetentionDays <= 0 {
			continue
		}
		terms = append(terms, fmt.Sprintf("%s %d days (%s)", a.id, a.row.LogRetentionDays, a.row.LogRetention))
		if longest == nil || a.row.LogRetentionDays > longest.row.LogRetentionDays {
			longest = &regimes[i]
		}
	}
	if longest == nil {
		return nil, nil, nil
	}
	r := longest.row
	m := metric("log_retention_days", float64(r.LogRetentionDays), "days",
		fmt.Sprintf("max(%s) = %d days, required by %s", strings.Join(terms, ", "), r.LogRetentionDays, longest.id),
		"catalogue regimes.yaml log_retention of "+longest.id+": "+rowSource(r.Source), "")
	f := finding(severityInfo, fmt.Sprintf("Keep logs and records %d days (%s)", r.LogRetentionDays, regimeShortName(longest.id)),
		fmt.Sprintf("The longest retention among the applicable regimes is %s's: %s. All required periods: %s. Size log storage and its lifecycle rules for the longest period.",
			regimeShortName(longest.id), r.LogRetention, strings.Join(terms, "; ")))
	return longest, []*inframindv1.Metric{m}, []*inframindv1.Finding{f}
}

func complianceSummary(regimes []applicableRegime, res residencyOutcome, retention *applicableRegime) string {
	if len(regimes) == 0 {
		return "No compliance regime applies from the request."
	}
	var ids, undeclared []string
	for _, a := range regimes {
		ids = append(ids, a.id)
		if !a.declared {
			undeclared = append(undeclared, a.id)
		}
	}
	verb := "apply"
	if len(ids) == 1 {
		verb = "applies"
	}
	s := fmt.Sprintf("%s %s: %s.", plural(len(ids), "compliance regime"), verb, strings.Join(ids, ", "))
	if len(undeclared) > 0 {
		s += " Not declared by the user but inferred from the data and regions: " + strings.Join(undeclared, ", ") + "."
	}
	if res.constrained {
		n := 0
		for _, r := range res.allowed {
			n += len(r)
		}
		s += fmt.Sprintf(" Residency allows %s across the providers in scope.", plural(n, "catalogue region"))
	}
	if retention != nil {
		s += fmt.Sprintf(" Longest retention: %d days (%s).", retention.row.LogRetentionDays, retention.id)
	}
	return s
}
