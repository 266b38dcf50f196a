package analysis

import (
	"fmt"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"slices"
	"sort"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// regime is a compliance regime with the infrastructure controls it brings.
type regime struct {
	name     string
	controls string
	source   string
}

// regimes maps regime ids to their controls, as summarised in the reference
// figures (collected 2026-11-26) from the primary texts named in source.
func regimes() map[string]regime {
	return map[string]regime{
		"gdpr": {name: "GDPR",
			controls: "EU data residency or a Chapter V transfer mechanism; encryption, pseudonymisation, resilience and tested restore (Art. 32); records of processing (Art. 30); breach notice within 72 h (Art. 33); processing agreements with providers (Art. 28); impact assessment for high-risk processing (Art. 35); erasure (Art. 17)",
			source:   "Regulation (EU) 2016/679; UK GDPR as retained in UK law"},
		"hipaa": {name: "HIPAA",
			controls: "unique user IDs, emergency access, automatic logoff, audit controls, integrity, entity authentication and transmission security (45 CFR 164.312); encryption at rest and in transit; a signed BAA and only BAA-eligible services; documentation kept 6 years (45 CFR 164.316)",
			source:   "45 CFR Part 164 Subpart C"},
		"pci_dss": {name: "PCI DSS",
			controls: "protect stored card data (Req. 3), strong cryptography in transit (Req. 4), least privilege and MFA (Req. 7, 8), network segmentation (Req. 1), audit logs kept 12 months with the last 3 immediately available (Req. 10.5.1), automated log review (Req. 10.4.1.1)",
			source:   "PCI DSS v4.0.1 (June 2024)"},
		"soc2": {name: "SOC 2",
			controls: "Security criteria CC1-CC9, including logical access (CC6.1), boundary protection (CC6.6), encryption in transit (CC6.7) and monitoring (CC7.1, CC7.2); Availability and Confidentiality criteria when in scope",
			source:   "AICPA Trust Services Criteria (2017, points of focus revised 2022)"},
		"iso27001": {name: "ISO/IEC 27001",
			controls: "93 Annex A controls in 4 themes, including use of cloud services (A.5.23), logging (A.8.15), cryptography (A.8.24) and access control (A.5.15-A.5.18)",
			source:   "ISO/IEC 27001:2022"},
		"eu_ai_act": {name: "EU AI Act",
			controls: "automatic logging over the system's lifetime (Art. 12); deployers keep logs at least 6 months (Art. 26(6)); data governance (Art. 10); human oversight (Art. 14); high-risk duties apply from 2 Aug 2026",
			source:   "Regulation (EU) 2024/1689"},
		"ccpa": {name: "CCPA/CPRA",
			controls: "reasonable security; deletion and opt-out rights; private action for breaches of non-encrypted data ($100-750 per consumer per incident); applies above $25M revenue or 100k consumers",
			source:   "Cal. Civ. Code 1798.100 et seq. (CCPA as amended by CPRA)"},
	}
}

// regimeID normalises a declared regime name ("PCI-DSS", "soc 2") to its id.
func regimeID(s string) string {
	id := strings.NewReplacer(" ", "_", "-", "_", "/", "_").Replace(norm(s))
	aliases := map[string]string{
		"pci": "pci_dss", "pcidss": "pci_dss", "soc_2": "soc2", "iso_27001": "iso27001",
		"iso27001_2022": "iso27001", "ai_act": "eu_ai_act", "cpra": "ccpa", "ccpa_cpra": "ccpa", "uk_gdpr": "gdpr",
	}
	if a, ok := aliases[id]; ok {
		return a
	}
	return id
}

// dataCategories lists the data categories the request format accepts.
const dataCategories = "personal, health, payment_card, financial, children, public"

// gdprRegions returns the region codes where GDPR (or UK GDPR) governs
// personal data: "eu", the EU-27 and the rest of the EEA (Iceland,
// Liechtenstein, Norway; GDPR applies through the EEA Agreement), and the UK.
func gdprRegions() []string {
	return []string{"eu", "eea", "uk", "gb",
		"at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "el", "hu", "ie", "it",
		"lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se",
		"is", "li", "no"}
}

// applicability records why a regime applies.
type applicability struct {
	declared bool
	reasons  []string
}

func analyzeCompliance(_ *catalog.Catalog, req *inframindv1.AssessmentRequest) (Outcome, error) {
	b := req.GetBusiness()
	if b == nil {
		return Outcome{}, unanalysable("business: missing; compliance needs its regions, data categories and declared regimes")
	}
	allowed := strings.Split(dataCategories, ", ")
	cats := make([]string, 0, len(b.GetDataCategories()))
	for i, c := range b.GetDataCategories() {
		n := norm(c)
		if !slices.Contains(allowed, n) {
			return Outcome{}, unanalysable("business.data_categories[%d]: unknown data category %q (one of %s)", i, c, dataCategories)
		}
		cats = append(cats, n)
	}
	regions := make([]string, 0, len(b.GetRegions()))
	for _, r := range b.GetRegions() {
		regions = append(regions, norm(r))
	}

	apply := map[string]*applicability{}
	get := func(id string) *applicability {
		if apply[id] == nil {
			apply[id] = &applicability{}
		}
		return apply[id]
	}
	for i, d := range b.GetCompliance() {
		id := regimeID(d)
		if id == "" {
			return Outcome{}, unanalysable("business.compliance[%d]: empty regime name", i)
		}
		get(id).declared = true
	}

	// Inference rules: each names the data category and region that trigger it.
	if slices.Contains(cats, "health") && slices.Contains(regions, "us") {
		a := get("hipaa")
		a.reasons = append(a.reasons, "health data is handled and users or data are in the us; HIPAA binds covered entities and their business associates (45 CFR 160.103)")
	}
	gdprCats := []string{}
	for _, c := range []string{"personal", "health", "children"} {
		if slices.Contains(cats, c) {
			gdprCats = append(gdprCats, c)
		}
	}
	gdprIn := []string{}
	for _, r := range regions {
		if slices.Contains(gdprRegions(), r) && !slices.Contains(gdprIn, r) {
			gdprIn = append(gdprIn, r)
		}
	}
	if len(gdprCats) > 0 && len(gdprIn) > 0 {
		a := get("gdpr")
		a.reasons = append(a.reasons, fmt.Sprintf("%s data (personal data under GDPR Art. 4(1); health and children's data get extra protection, Art. 8 and 9) is handled in %s",
			strings.Join(gdprCats, " and "), strings.Join(gdprIn, ", ")))
	}
	if slices.Contains(cats, "payment_card") {
		a := get("pci_dss")
		a.reasons = append(a.reasons, "payment card data is handled; PCI DSS applies to every entity that stores, processes or transmits cardholder data")
	}

	ids := make([]string, 0, len(apply))
	for id := range apply {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	catalogue := regimes()
	var findings []*inframindv1.Finding
	var declared, inferred, undeclared []string
	for _, id := range ids {
		a := apply[id]
		r, known := catalogue[id]
		name := id
		if known {
			name = r.name
		}
		why := []string{}
		how := "declared"
		if a.declared {
			declared = append(declared, id)
			why = append(why, "declared in the request")
		}
		if len(a.reasons) > 0 {
			inferred = append(inferred, id)
			why = append(why, a.reasons...)
			how = "inferred"
			if a.declared {
				how = "declared and inferred"
			}
		}
		severity := severityInfo
		title := fmt.Sprintf("%s applies (%s)", name, how)
		if !a.declared {
			undeclared = append(undeclared, id)
			severity = severityHigh
			title = fmt.Sprintf("%s applies but is not declared", name)
		}
		detail := "Why: " + strings.Join(why, "; ") + "."
		if known {
			detail += " Controls: " + r.controls + " (" + r.source + ")."
		} else {
			severity = severityLow
			detail += " The catalogue has no controls for this regime yet, so none are listed."
		}
		findings = append(findings, finding(severity, title, detail))
	}

	list := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	metrics := []*inframindv1.Metric{
		metric("compliance_regimes_count", float64(len(ids)), "regimes",
			fmt.Sprintf("declared {%s} union inferred {%s} = %d (rules: health + us -> hipaa; personal, health or children data + EU/EEA/UK region -> gdpr; payment_card -> pci_dss; data categories {%s}, regions {%s})",
				list(declared), list(inferred), len(ids), list(cats), list(regions)),
			"45 CFR 160.103; GDPR Art. 3 and 4(1); PCI DSS v4.0.1 scope (June 2024)", ""),
		metric("undeclared_regimes_count", float64(len(undeclared)), "regimes",
			fmt.Sprintf("inferred but not declared: {%s}", list(undeclared)),
			"45 CFR 160.103; GDPR Art. 3 and 4(1); PCI DSS v4.0.1 scope (June 2024)", ""),
	}
	verb := "apply"
	if len(ids) == 1 {
		verb = "applies"
	}
	summary := fmt.Sprintf("%s %s: %s.", plural(len(ids), "compliance regime"), verb, list(ids))
	if len(undeclared) > 0 {
		summary += fmt.Sprintf(" Not declared by the user but inferred from the data and regions: %s.", list(undeclared))
	}
	if len(ids) == 0 {
		summary = "No compliance regime applies from the request."
		findings = append(findings, finding(severityInfo, "No compliance regime applies",
			fmt.Sprintf("No regime is declared, and data categories {%s} in regions {%s} trigger none of the rules (health + us -> HIPAA; personal data + EU/EEA/UK -> GDPR; payment_card -> PCI DSS).",
				list(cats), list(regions))))
	}
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
}
