// Package report turns the synthesizer's stored report into the document people
// read: one Model organised in the report's sections, rendered as JSON,
// Markdown, self-contained HTML and PDF. Every figure keeps its source.
package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Section titles, in the order every format shows them.
const (
	SectionExecutive    = "Executive summary"
	SectionArchitecture = "Recommended architecture"
	SectionCost         = "Cost"
	SectionProjection   = "Growth and scaling projection"
	SectionCompliance   = "Compliance controls and gaps"
	SectionMLOps        = "MLOps stack"
	SectionRoadmap      = "Roadmap"
	SectionRisks        = "Risk register"
	SectionSources      = "Assumptions and sources"
)

// Sections lists the section titles in order.
func Sections() []string {
	return []string{SectionExecutive, SectionArchitecture, SectionCost, SectionProjection,
		SectionCompliance, SectionMLOps, SectionRoadmap, SectionRisks, SectionSources}
}

// Stored is the report document the synthesizer writes (pkg/synth.Report).
type Stored struct {
	AssessmentID    string         `json:"assessment_id"`
	TenantID        string         `json:"tenant_id"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	Summary         string         `json:"summary"`
	Missing         []string       `json:"missing_families,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	GeneratedAt     time.Time      `json:"generated_at"`
	CatalogVersions []string       `json:"catalog_versions"`
	Families        []StoredFamily `json:"families"`
}

// StoredFamily is one family's section of the stored report.
type StoredFamily struct {
	Family         string         `json:"family"`
	Status         string         `json:"status"`
	Summary        string         `json:"summary,omitempty"`
	Error          string         `json:"error,omitempty"`
	CatalogVersion string         `json:"catalog_version,omitempty"`
	Metrics        []StoredMetric `json:"metrics,omitempty"`
	Findings       []Item         `json:"findings,omitempty"`
}

// StoredMetric is a computed number with its formula and source.
type StoredMetric struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit,omitempty"`
	Workload string  `json:"workload,omitempty"`
	Formula  string  `json:"formula,omitempty"`
	Source   string  `json:"source,omitempty"`
}

// Item is a qualitative result (a family's finding).
type Item struct {
	Title    string `json:"title"`
	Detail   string `json:"detail,omitempty"`
	Severity string `json:"severity,omitempty"`
}

// Figure is a number as a low/high range (equal ends for a single value) with its source.
type Figure struct {
	Label    string  `json:"label"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
	Unit     string  `json:"unit,omitempty"`
	Workload string  `json:"workload,omitempty"`
	Source   string  `json:"source,omitempty"`
}

// Model is the report organised in its sections; every renderer reads it.
type Model struct {
	AssessmentID    string     `json:"assessment_id"`
	TenantID        string     `json:"tenant_id"`
	Name            string     `json:"name"`
	Status          string     `json:"status"`
	GeneratedAt     time.Time  `json:"generated_at"`
	CatalogVersions []string   `json:"catalog_versions"`
	Missing         []string   `json:"missing_families,omitempty"`
	Reason          string     `json:"reason,omitempty"`
	Executive       Executive  `json:"executive_summary"`
	Architecture    []Workload `json:"architecture"`
	Cost            Cost       `json:"cost"`
	Projection      Projection `json:"projection"`
	Compliance      Topic      `json:"compliance"`
	MLOps           Topic      `json:"mlops"`
	Roadmap         Topic      `json:"roadmap"`
	Risks           []Risk     `json:"risks"`
	Sources         Sources    `json:"assumptions_and_sources"`
}

// Executive is the summary a CTO reads first.
type Executive struct {
	Summary    string       `json:"summary"`
	Families   []FamilyLine `json:"families"`
	KeyFigures []Figure     `json:"key_figures"`
	// Attention lists the high-severity findings of every family.
	Attention []Item `json:"attention,omitempty"`
}

// FamilyLine is one family's status and one-line summary.
type FamilyLine struct {
	Family  string `json:"family"`
	Status  string `json:"status"`
	Summary string `json:"summary,omitempty"`
}

// Workload is the recommended architecture of one workload.
type Workload struct {
	Name           string   `json:"name"`
	Recommendation string   `json:"recommendation,omitempty"`
	Provider       string   `json:"provider,omitempty"`
	Items          []Item   `json:"items,omitempty"`
	Figures        []Figure `json:"figures,omitempty"`
}

// Cost is the plan's cost by payment option, by workload and by provider.
type Cost struct {
	// Options compares on demand, 1- and 3-year commitments and spot for the whole plan.
	Options    []CostOption `json:"options"`
	ByWorkload []CostLine   `json:"by_workload"`
	ByProvider []CostLine   `json:"by_provider"`
	// OneOff are one-off costs (training jobs), USD.
	OneOff []CostLine `json:"one_off,omitempty"`
	// Unpriced are components the plan sizes but the catalogue holds no price for.
	Unpriced []Item `json:"unpriced_components,omitempty"`
}

// CostOption is the whole plan's monthly cost under one way of paying.
type CostOption struct {
	Option    string  `json:"option"`
	Available bool    `json:"available"`
	Low       float64 `json:"low_usd_month,omitempty"`
	High      float64 `json:"high_usd_month,omitempty"`
	Source    string  `json:"source,omitempty"`
}

// CostLine is a cost range for one workload or provider, USD.
type CostLine struct {
	Name     string  `json:"name"`
	Provider string  `json:"provider,omitempty"`
	Low      float64 `json:"low_usd"`
	High     float64 `json:"high_usd"`
	Source   string  `json:"source,omitempty"`
}

// Projection is the growth simulation's cost over time.
type Projection struct {
	Summary string `json:"summary,omitempty"`
	// Bands are the Monte Carlo percentiles of monthly cost, by month.
	Bands []Band `json:"bands,omitempty"`
	// Plan is the deterministic low/high monthly cost, by month.
	Plan    []PlanPoint `json:"plan,omitempty"`
	Figures []Figure    `json:"figures,omitempty"`
	Items   []Item      `json:"items,omitempty"`
	Source  string      `json:"source,omitempty"`
}

// Band is the P10/P50/P90 monthly cost at a month, USD.
type Band struct {
	Month int     `json:"month"`
	P10   float64 `json:"p10"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
}

// PlanPoint is the deterministic low/high monthly cost at a month, USD.
type PlanPoint struct {
	Month int     `json:"month"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// Topic is a family's qualitative section: its summary, findings and figures.
type Topic struct {
	Summary string   `json:"summary,omitempty"`
	Items   []Item   `json:"items,omitempty"`
	Gaps    []Item   `json:"gaps,omitempty"`
	Figures []Figure `json:"figures,omitempty"`
}

// Risk is one row of the risk register.
type Risk struct {
	Title      string `json:"title"`
	Severity   string `json:"severity,omitempty"`
	Score      int    `json:"score,omitempty"`
	Why        string `json:"why,omitempty"`
	Mitigation string `json:"mitigation,omitempty"`
}

// Sources lists the catalogue versions, the dated sources of the figures and the assumptions.
type Sources struct {
	CatalogVersions []string `json:"catalog_versions"`
	Sources         []Source `json:"sources"`
	Assumptions     []string `json:"assumptions,omitempty"`
}

// Source is one cited source and which families' figures use it.
type Source struct {
	Text     string   `json:"text"`
	Families []string `json:"families"`
	Figures  int      `json:"figures"`
}

// Family names as the synthesizer writes them.
const (
	famStrategy   = "strategy"
	famCloud      = "cloud"
	famMLOps      = "mlops"
	famCompliance = "compliance"
	famResearch   = "research"
	famSimulation = "simulation"
)

// FromJSON builds the model from a stored report document.
func FromJSON(b []byte) (Model, error) {
	var s Stored
	if err := json.Unmarshal(b, &s); err != nil {
		return Model{}, fmt.Errorf("decode stored report: %w", err)
	}
	if s.AssessmentID == "" {
		return Model{}, fmt.Errorf("decode stored report: no assessment_id")
	}
	return Build(s), nil
}

// Build organises a stored report into the model's sections.
func Build(s Stored) Model {
	fams := map[string]StoredFamily{}
	for _, f := range s.Families {
		fams[f.Family] = f
	}
	m := Model{
		AssessmentID: s.AssessmentID, TenantID: s.TenantID, Name: s.Name, Status: s.Status,
		GeneratedAt: s.GeneratedAt, CatalogVersions: nonNil(s.CatalogVersions), Missing: s.Missing, Reason: s.Reason,
	}
	m.Executive = buildExecutive(s, fams)
	m.Architecture = buildArchitecture(fams)
	m.Cost = buildCost(fams, m.Architecture)
	m.Projection = buildProjection(fams[famSimulation])
	m.Compliance = buildCompliance(fams[famCompliance])
	mf := fams[famMLOps]
	m.MLOps = Topic{Summary: mf.Summary, Items: mf.Findings, Figures: figures(mf.Metrics, "")}
	m.Roadmap, m.Risks = buildStrategy(fams[famStrategy])
	m.Sources = buildSources(s)
	return m
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func buildExecutive(s Stored, fams map[string]StoredFamily) Executive {
	e := Executive{Summary: s.Summary, KeyFigures: []Figure{}}
	for _, f := range s.Families {
		sum := f.Summary
		if sum == "" {
			sum = f.Error
		}
		e.Families = append(e.Families, FamilyLine{Family: f.Family, Status: f.Status, Summary: sum})
		for _, it := range f.Findings {
			if it.Severity == "high" || it.Severity == "critical" {
				e.Attention = append(e.Attention, Item{Title: f.Family + ": " + it.Title, Detail: it.Detail, Severity: it.Severity})
			}
		}
	}
	add := func(fam, base, label string) {
		if fig, ok := rangeOf(fams[fam].Metrics, base, ""); ok {
			fig.Label = label
			e.KeyFigures = append(e.KeyFigures, fig)
		}
	}
	add(famCloud, "monthly_cost_usd", "Monthly cost, on demand")
	add(famCloud, "plan_gpus", "Accelerators at peak")
	add(famCloud, "self_hosted_usd_per_mtok", "Self-hosted cost per million output tokens")
	add(famStrategy, "tco_on_demand_3y_usd", "3-year total cost of ownership, on demand")
	add(famSimulation, "budget_exceeded_probability_24m", "Probability of exceeding the budget within 24 months")
	return e
}

// rangeOf returns base_low/base_high (or base alone) as a figure.
func rangeOf(ms []StoredMetric, base, workload string) (Figure, bool) {
	lo, okLo := find(ms, base+"_low", workload)
	hi, okHi := find(ms, base+"_high", workload)
	if okLo && okHi {
		return Figure{Label: label(base), Low: lo.Value, High: hi.Value, Unit: lo.Unit, Workload: workload, Source: lo.Source}, true
	}
	if one, ok := find(ms, base, workload); ok {
		return Figure{Label: label(base), Low: one.Value, High: one.Value, Unit: one.Unit, Workload: workload, Source: one.Source}, true
	}
	return Figure{}, false
}

func find(ms []StoredMetric, name, workload string) (StoredMetric, bool) {
	for _, m := range ms {
		if m.Name == name && m.Workload == workload {
			return m, true
		}
	}
	return StoredMetric{}, false
}

func label(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// figures pairs a workload's name_low/name_high metrics into ranges, in order.
func figures(ms []StoredMetric, workload string) []Figure {
	var out []Figure
	seen := map[string]bool{}
	for _, m := range ms {
		if m.Workload != workload {
			continue
		}
		base := m.Name
		if b, ok := strings.CutSuffix(m.Name, "_low"); ok {
			base = b
		} else if b, ok := strings.CutSuffix(m.Name, "_high"); ok {
			base = b
		}
		if seen[base] {
			continue
		}
		seen[base] = true
		if f, ok := rangeOf(ms, base, workload); ok {
			out = append(out, f)
		} else {
			out = append(out, Figure{Label: label(m.Name), Low: m.Value, High: m.Value, Unit: m.Unit, Workload: workload, Source: m.Source})
		}
	}
	return out
}

// workloads lists the workload names the cloud family reports on, in order.
func workloads(ms []StoredMetric) []string {
	var out []string
	for _, m := range ms {
		if m.Workload != "" && !contains(out, m.Workload) {
			out = append(out, m.Workload)
		}
	}
	return out
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// mentions reports whether a finding's title names the workload as a whole word.
func mentions(title, w string) bool {
	for i := 0; ; {
		j := strings.Index(title[i:], w)
		if j < 0 {
			return false
		}
		end := i + j + len(w)
		if end == len(title) || strings.ContainsRune(" :,.)", rune(title[end])) {
			return true
		}
		i = end
	}
}

func buildArchitecture(fams map[string]StoredFamily) []Workload {
	cloud := fams[famCloud]
	out := []Workload{}
	for _, w := range workloads(cloud.Metrics) {
		wl := Workload{Name: w, Figures: figures(cloud.Metrics, w)}
		for _, it := range cloud.Findings {
			if !mentions(it.Title, w) {
				continue
			}
			// The cloud family names its choice "Recommended for <workload>: <provider> <instance>".
			if rest, ok := strings.CutPrefix(it.Title, "Recommended for "+w+": "); ok {
				wl.Recommendation = rest + ". " + it.Detail
				wl.Provider, _, _ = strings.Cut(rest, " ")
				continue
			}
			wl.Items = append(wl.Items, it)
		}
		for _, it := range fams[famMLOps].Findings {
			if mentions(it.Title, w) {
				wl.Items = append(wl.Items, it)
			}
		}
		out = append(out, wl)
	}
	return out
}

func buildCost(fams map[string]StoredFamily, arch []Workload) Cost {
	cloud := fams[famCloud]
	c := Cost{ByWorkload: []CostLine{}, ByProvider: []CostLine{}}
	for _, opt := range []struct{ name, base string }{
		{"On demand", "monthly_cost_usd"},
		{"1-year commitment", "monthly_cost_commit_1y_usd"},
		{"3-year commitment", "monthly_cost_commit_3y_usd"},
		{"Spot / preemptible", "monthly_cost_spot_usd"},
	} {
		f, ok := rangeOf(cloud.Metrics, opt.base, "")
		// A metric the plan cannot support is absent, never zero (analysis contract).
		c.Options = append(c.Options, CostOption{Option: opt.name, Available: ok, Low: f.Low, High: f.High, Source: f.Source})
	}
	byProv := map[string]*CostLine{}
	var provs []string
	for _, w := range arch {
		if f, ok := rangeOf(cloud.Metrics, "monthly_on_demand_usd", w.Name); ok {
			c.ByWorkload = append(c.ByWorkload, CostLine{Name: w.Name, Provider: w.Provider, Low: f.Low, High: f.High, Source: f.Source})
			p := w.Provider
			if p == "" {
				p = "unspecified"
			}
			if byProv[p] == nil {
				byProv[p] = &CostLine{Name: p}
				provs = append(provs, p)
			}
			byProv[p].Low += f.Low
			byProv[p].High += f.High
		}
		if f, ok := rangeOf(cloud.Metrics, "training_cost_usd", w.Name); ok {
			c.OneOff = append(c.OneOff, CostLine{Name: w.Name, Provider: w.Provider, Low: f.Low, High: f.High, Source: f.Source})
		}
	}
	sort.Strings(provs)
	for _, p := range provs {
		c.ByProvider = append(c.ByProvider, *byProv[p])
	}
	for _, it := range cloud.Findings {
		if strings.Contains(it.Detail, "not priced") {
			c.Unpriced = append(c.Unpriced, it)
		}
	}
	return c
}

// monthMetric parses "<prefix><month>" names such as monthly_cost_usd_p50_month_12.
func monthMetric(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

func buildProjection(sim StoredFamily) Projection {
	p := Projection{Summary: sim.Summary, Items: sim.Findings}
	bands := map[int]*Band{}
	plan := map[int]*PlanPoint{}
	for _, m := range sim.Metrics {
		for _, q := range []string{"p10", "p50", "p90"} {
			if mo, ok := monthMetric(m.Name, "monthly_cost_usd_"+q+"_month_"); ok {
				if bands[mo] == nil {
					bands[mo] = &Band{Month: mo}
				}
				switch q {
				case "p10":
					bands[mo].P10 = m.Value
				case "p50":
					bands[mo].P50 = m.Value
				default:
					bands[mo].P90 = m.Value
				}
				p.Source = m.Source
			}
		}
		for _, end := range []string{"low", "high"} {
			if mo, ok := monthMetric(m.Name, "monthly_cost_usd_"+end+"_month_"); ok {
				if plan[mo] == nil {
					plan[mo] = &PlanPoint{Month: mo}
				}
				if end == "low" {
					plan[mo].Low = m.Value
				} else {
					plan[mo].High = m.Value
				}
			}
		}
		if strings.HasPrefix(m.Name, "budget_exceeded") {
			p.Figures = append(p.Figures, Figure{Label: label(m.Name), Low: m.Value, High: m.Value, Unit: m.Unit, Source: m.Source})
		}
	}
	for _, b := range bands {
		p.Bands = append(p.Bands, *b)
	}
	sort.Slice(p.Bands, func(i, j int) bool { return p.Bands[i].Month < p.Bands[j].Month })
	for _, pt := range plan {
		p.Plan = append(p.Plan, *pt)
	}
	sort.Slice(p.Plan, func(i, j int) bool { return p.Plan[i].Month < p.Plan[j].Month })
	return p
}

func buildCompliance(f StoredFamily) Topic {
	t := Topic{Summary: f.Summary, Figures: figures(f.Metrics, "")}
	for _, it := range f.Findings {
		// The compliance family marks what the user must still act on as medium or high.
		if it.Severity == "high" || it.Severity == "medium" || it.Severity == "critical" {
			t.Gaps = append(t.Gaps, it)
		} else {
			t.Items = append(t.Items, it)
		}
	}
	return t
}

// buildStrategy splits the strategy family's findings into the roadmap and the risk register.
func buildStrategy(f StoredFamily) (Topic, []Risk) {
	road := Topic{Summary: f.Summary}
	risks := []Risk{}
	for _, it := range f.Findings {
		switch {
		case strings.HasPrefix(it.Title, "Risk: "):
			risks = append(risks, parseRisk(it))
		case strings.HasPrefix(it.Title, "Phase ") || strings.HasPrefix(it.Title, "Timeline"):
			road.Items = append(road.Items, it)
		}
	}
	for _, name := range []string{"roadmap_phases", "roadmap_months", "months_per_phase", "delivery_tracks", "team_size_total"} {
		if fig, ok := rangeOf(f.Metrics, name, ""); ok {
			road.Figures = append(road.Figures, fig)
		}
	}
	sort.SliceStable(risks, func(i, j int) bool { return risks[i].Score > risks[j].Score })
	return road, risks
}

// parseRisk reads "Risk: <title> (P<p> x I<i> = <score>)" and "Why: ... Mitigation: ...".
func parseRisk(it Item) Risk {
	r := Risk{Title: strings.TrimPrefix(it.Title, "Risk: "), Severity: it.Severity, Why: it.Detail}
	if i := strings.LastIndex(r.Title, " = "); i >= 0 && strings.HasSuffix(r.Title, ")") {
		if n, err := strconv.Atoi(r.Title[i+3 : len(r.Title)-1]); err == nil {
			r.Score = n
		}
	}
	if why, mit, ok := strings.Cut(it.Detail, "Mitigation: "); ok {
		r.Why = strings.TrimSpace(strings.TrimPrefix(why, "Why: "))
		r.Mitigation = strings.TrimSpace(mit)
	} else {
		r.Why = strings.TrimPrefix(it.Detail, "Why: ")
	}
	return r
}

// buildSources collects the distinct source of every figure, with the
// families that use it; sources that declare themselves assumptions are listed
// as assumptions too.
func buildSources(s Stored) Sources {
	out := Sources{CatalogVersions: nonNil(s.CatalogVersions), Sources: []Source{}}
	idx := map[string]int{}
	for _, f := range s.Families {
		for _, m := range f.Metrics {
			if m.Source == "" {
				continue
			}
			i, ok := idx[m.Source]
			if !ok {
				i = len(out.Sources)
				idx[m.Source] = i
				out.Sources = append(out.Sources, Source{Text: m.Source})
				if strings.Contains(m.Source, "assumption") {
					out.Assumptions = append(out.Assumptions, m.Source)
				}
			}
			src := &out.Sources[i]
			src.Figures++
			if !contains(src.Families, f.Family) {
				src.Families = append(src.Families, f.Family)
			}
		}
	}
	return out
}
