// Package report builds the report of a closed assessment from its families'
// typed results: one Model organised in the report's sections, stored with the
// results as a Document, and compared between versions (Diff). Every figure
// keeps its source. Rendering to Markdown, HTML and PDF is package render, so
// the synthesizer, which only builds, links no renderer.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
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
	return []string{SectionExecutive, SectionNarrative, SectionArchitecture, SectionCost, SectionProjection,
		SectionCompliance, SectionMLOps, SectionRoadmap, SectionRisks, SectionSources}
}

// Document is the stored report: the families' results as they arrived and
// the model built from them once, when the assessment closes. Readers decode
// it and render; nothing rebuilds it.
type Document struct {
	Model
	// Summary says how many families answered and which did not.
	Summary  string          `json:"summary"`
	Families []FamilySection `json:"families"`
}

// FamilySection is one family's result as the report keeps it.
type FamilySection struct {
	Family  string `json:"family"`
	Status  string `json:"status"`
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
	// CatalogVersion is the catalogue this family's figures come from.
	CatalogVersion string    `json:"catalog_version,omitempty"`
	Metrics        []Metric  `json:"metrics,omitempty"`
	Findings       []Item    `json:"findings,omitempty"`
	FinishedAt     time.Time `json:"finished_at,omitempty"`
}

// Metric is a computed number with its formula and source.
type Metric struct {
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

// Text shows a figure as "low-high unit" (one value when the ends agree),
// USD with thousands separators.
func (f Figure) Text() string {
	var s string
	if strings.HasPrefix(f.Unit, "USD") {
		s = span.Join(Money(f.Low), Money(f.High), " - ")
		return strings.TrimSpace(s + " " + strings.TrimPrefix(strings.TrimPrefix(f.Unit, "USD"), " "))
	}
	p := message.NewPrinter(language.English)
	s = span.Join(p.Sprintf("%.4g", f.Low), p.Sprintf("%.4g", f.High), " - ")
	return strings.TrimSpace(s + " " + f.Unit)
}

// Money formats USD with cents and thousands separators.
func Money(v float64) string {
	return message.NewPrinter(language.English).Sprintf("$%.2f", v)
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
	// Narratives are the consultant's, attached when the report is served
	// (the stored report never holds them); none shows NoNarrative.
	Narratives []Narrative `json:"narratives,omitempty"`
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
	famSimulation = "simulation"
)

// Family statuses a report shows besides a result's own (ok, failed).
const (
	// StatusMissing: no result arrived before the assessment closed.
	StatusMissing = "missing"
	// StatusLate: the result arrived after the deadline closed the assessment.
	StatusLate = "late"

	resultFailed = "failed"
)

// Input is what the synthesizer knows when an assessment closes.
type Input struct {
	AssessmentID string
	TenantID     string
	Name         string
	// Status is the assessment's terminal status.
	Status string
	// Missing are the families the deadline closed the assessment without.
	Missing     []string
	Reason      string
	GeneratedAt time.Time
	// Results are the families' results by family name.
	Results map[string]*inframindv1.AgentResultPublished
}

// family is one family's stored section and its typed result (nil when missing).
type family struct {
	sec FamilySection
	res *inframindv1.AgentResultPublished
}

// findings are the family's typed findings, in order.
func (f family) findings() []*inframindv1.Finding { return f.res.GetFindings() }

// Build writes the report of a closed assessment from its families' typed
// results, in the fixed family order. It is pure: the same input always gives
// the same document.
func Build(in Input) Document {
	d := Document{Model: Model{
		AssessmentID: in.AssessmentID, TenantID: in.TenantID, Name: in.Name, Status: in.Status,
		GeneratedAt: in.GeneratedAt.UTC(), CatalogVersions: CatalogVersions(in.Results), Missing: in.Missing, Reason: in.Reason,
	}}
	fams := map[string]family{}
	var answered, failed, missing []string
	for _, f := range assessment.Families() {
		name := string(f)
		res, found := in.Results[name]
		if !found {
			missing = append(missing, name)
			sec := FamilySection{Family: name, Status: StatusMissing}
			d.Families = append(d.Families, sec)
			fams[name] = family{sec: sec}
			continue
		}
		sec := FamilySection{
			Family: name, Status: res.GetStatus(), Summary: res.GetSummary(), Error: res.GetError(),
			CatalogVersion: res.GetCatalogVersion(), FinishedAt: res.GetFinishedAt().AsTime().UTC(),
		}
		for _, m := range res.GetMetrics() {
			sec.Metrics = append(sec.Metrics, Metric{Name: m.GetName(), Value: m.GetValue(), Unit: m.GetUnit(),
				Workload: m.GetWorkload(), Formula: m.GetFormula(), Source: m.GetSource()})
		}
		for _, fd := range res.GetFindings() {
			sec.Findings = append(sec.Findings, Item{Title: fd.GetTitle(), Detail: fd.GetDetail(), Severity: fd.GetSeverity()})
		}
		if slices.Contains(in.Missing, name) {
			sec.Status = StatusLate
		}
		if res.GetStatus() == resultFailed {
			failed = append(failed, name)
		} else {
			answered = append(answered, name)
		}
		d.Families = append(d.Families, sec)
		fams[name] = family{sec: sec, res: res}
	}
	sort.Strings(missing)
	parts := []string{fmt.Sprintf("%d of %d families analysed %q", len(answered), len(assessment.Families()), in.Name)}
	if len(failed) > 0 {
		parts = append(parts, "could not analyse: "+strings.Join(failed, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "no result from: "+strings.Join(missing, ", "))
	}
	d.Summary = strings.Join(parts, "; ") + "."

	m := &d.Model
	m.Executive = buildExecutive(d, fams)
	m.Architecture = buildArchitecture(fams)
	m.Cost = buildCost(fams, m.Architecture)
	m.Projection = buildProjection(fams[famSimulation])
	m.Compliance = buildCompliance(fams[famCompliance])
	mf := fams[famMLOps].sec
	m.MLOps = Topic{Summary: mf.Summary, Items: mf.Findings, Figures: figures(fams[famMLOps].res.GetMetrics(), "")}
	m.Roadmap, m.Risks = buildStrategy(fams[famStrategy])
	m.Sources = buildSources(d)
	return d
}

// CatalogVersions lists the distinct catalogue versions of results, sorted.
func CatalogVersions(results map[string]*inframindv1.AgentResultPublished) []string {
	out := []string{}
	for _, r := range results {
		if v := r.GetCatalogVersion(); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// Encode is the stored form of a document: JSON with its top-level fields in
// name order, as readers have always received it. It is encoded once, from
// storedDocument, whose fields are in that order; TestEncodeKeepsTheStoredForm
// holds it to the form written before (encoded, decoded into a map, encoded
// again).
func Encode(d Document) ([]byte, error) {
	b, err := json.Marshal(storedDocument{
		Architecture: d.Architecture, AssessmentID: d.AssessmentID, Sources: d.Sources,
		CatalogVersions: d.CatalogVersions, Compliance: d.Compliance, Cost: d.Cost, Executive: d.Executive,
		Families: d.Families, GeneratedAt: d.GeneratedAt, Missing: d.Missing, MLOps: d.MLOps, Name: d.Name,
		Narratives: d.Narratives, Projection: d.Projection, Reason: d.Reason, Risks: d.Risks, Roadmap: d.Roadmap,
		Status: d.Status, Summary: d.Summary, TenantID: d.TenantID,
	})
	if err != nil {
		return nil, fmt.Errorf("encode report %s: %w", d.AssessmentID, err)
	}
	return b, nil
}

// storedDocument is a Document's fields in the order of their JSON names,
// with the same names and options, so one encoding writes the stored form.
type storedDocument struct {
	Architecture    []Workload      `json:"architecture"`
	AssessmentID    string          `json:"assessment_id"`
	Sources         Sources         `json:"assumptions_and_sources"`
	CatalogVersions []string        `json:"catalog_versions"`
	Compliance      Topic           `json:"compliance"`
	Cost            Cost            `json:"cost"`
	Executive       Executive       `json:"executive_summary"`
	Families        []FamilySection `json:"families"`
	GeneratedAt     time.Time       `json:"generated_at"`
	Missing         []string        `json:"missing_families,omitempty"`
	MLOps           Topic           `json:"mlops"`
	Name            string          `json:"name"`
	Narratives      []Narrative     `json:"narratives,omitempty"`
	Projection      Projection      `json:"projection"`
	Reason          string          `json:"reason,omitempty"`
	Risks           []Risk          `json:"risks"`
	Roadmap         Topic           `json:"roadmap"`
	Status          string          `json:"status"`
	Summary         string          `json:"summary"`
	TenantID        string          `json:"tenant_id"`
}

// ErrNoModel marks a stored report written before reports carried their
// model: it can be served as stored JSON but not rendered.
var ErrNoModel = errors.New("stored report has no report model")

// Decode reads a stored report document. A document written before reports
// carried their model decodes with an error wrapping ErrNoModel.
func Decode(b []byte) (Document, error) {
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return Document{}, fmt.Errorf("decode stored report: %w", err)
	}
	if d.AssessmentID == "" {
		return Document{}, fmt.Errorf("decode stored report: no assessment_id")
	}
	// Every built model lists every family in its executive summary.
	if len(d.Executive.Families) == 0 {
		return Document{}, fmt.Errorf("decode stored report %s: %w", d.AssessmentID, ErrNoModel)
	}
	return d, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func buildExecutive(d Document, fams map[string]family) Executive {
	e := Executive{Summary: d.Summary, KeyFigures: []Figure{}}
	for _, f := range d.Families {
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
		if fig, ok := rangeOf(fams[fam].res.GetMetrics(), base, ""); ok {
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

// rangeOf returns the range named base (its two ends, paired by the metrics'
// typed range and bound fields), or the single metric named base, as a figure.
func rangeOf(ms []*inframindv1.Metric, base, workload string) (Figure, bool) {
	lo, okLo := rangeEnd(ms, base, analysis.BoundLow, workload)
	hi, okHi := rangeEnd(ms, base, analysis.BoundHigh, workload)
	if okLo && okHi {
		return Figure{Label: label(base), Low: lo.GetValue(), High: hi.GetValue(), Unit: lo.GetUnit(), Workload: workload, Source: lo.GetSource()}, true
	}
	for _, m := range ms {
		if m.GetName() == base && m.GetWorkload() == workload {
			return Figure{Label: label(base), Low: m.GetValue(), High: m.GetValue(), Unit: m.GetUnit(), Workload: workload, Source: m.GetSource()}, true
		}
	}
	return Figure{}, false
}

// rangeEnd finds the bound end of the range rng for workload.
func rangeEnd(ms []*inframindv1.Metric, rng, bound, workload string) (*inframindv1.Metric, bool) {
	for _, m := range ms {
		if m.GetRange() == rng && m.GetBound() == bound && m.GetWorkload() == workload {
			return m, true
		}
	}
	return nil, false
}

func label(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// figures turns a workload's metrics into figures, in order: a range's two
// ends (by their typed range and bound) become one figure, anything else one
// figure of its own.
func figures(ms []*inframindv1.Metric, workload string) []Figure {
	var out []Figure
	seen := map[string]bool{}
	for _, m := range ms {
		if m.GetWorkload() != workload {
			continue
		}
		base := m.GetName()
		if m.GetBound() != "" {
			base = m.GetRange()
		}
		if seen[base] {
			continue
		}
		seen[base] = true
		if f, ok := rangeOf(ms, base, workload); ok {
			out = append(out, f)
		} else {
			out = append(out, Figure{Label: label(m.GetName()), Low: m.GetValue(), High: m.GetValue(), Unit: m.GetUnit(), Workload: workload, Source: m.GetSource()})
		}
	}
	return out
}

// workloads lists the workload names the cloud family reports on, in order.
func workloads(ms []Metric) []string {
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

func buildArchitecture(fams map[string]family) []Workload {
	cloud := fams[famCloud]
	out := []Workload{}
	for _, w := range workloads(cloud.sec.Metrics) {
		wl := Workload{Name: w, Figures: figures(cloud.res.GetMetrics(), w)}
		for _, f := range cloud.findings() {
			if f.GetWorkload() != w {
				continue
			}
			if f.GetKind() == analysis.KindDeployment {
				d := f.GetDeployment()
				wl.Recommendation = d.GetProvider() + " " + d.GetInstance() + ". " + f.GetDetail()
				wl.Provider = d.GetProvider()
				continue
			}
			wl.Items = append(wl.Items, item(f))
		}
		for _, f := range fams[famMLOps].findings() {
			if f.GetWorkload() == w {
				wl.Items = append(wl.Items, item(f))
			}
		}
		out = append(out, wl)
	}
	return out
}

func item(f *inframindv1.Finding) Item {
	return Item{Title: f.GetTitle(), Detail: f.GetDetail(), Severity: f.GetSeverity()}
}

func buildCost(fams map[string]family, arch []Workload) Cost {
	cloud := fams[famCloud].res.GetMetrics()
	c := Cost{ByWorkload: []CostLine{}, ByProvider: []CostLine{}}
	for _, opt := range []struct{ name, base string }{
		{"On demand", "monthly_cost_usd"},
		{"1-year commitment", "monthly_cost_commit_1y_usd"},
		{"3-year commitment", "monthly_cost_commit_3y_usd"},
		{"Spot / preemptible", "monthly_cost_spot_usd"},
	} {
		f, ok := rangeOf(cloud, opt.base, "")
		// A metric the plan cannot support is absent, never zero (analysis contract).
		c.Options = append(c.Options, CostOption{Option: opt.name, Available: ok, Low: f.Low, High: f.High, Source: f.Source})
	}
	byProv := map[string]*CostLine{}
	var provs []string
	for _, w := range arch {
		if f, ok := rangeOf(cloud, "monthly_on_demand_usd", w.Name); ok {
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
		if f, ok := rangeOf(cloud, "training_cost_usd", w.Name); ok {
			c.OneOff = append(c.OneOff, CostLine{Name: w.Name, Provider: w.Provider, Low: f.Low, High: f.High, Source: f.Source})
		}
	}
	sort.Strings(provs)
	for _, p := range provs {
		c.ByProvider = append(c.ByProvider, *byProv[p])
	}
	for _, f := range fams[famCloud].findings() {
		if f.GetKind() == analysis.KindUnpriced {
			c.Unpriced = append(c.Unpriced, item(f))
		}
	}
	return c
}

func buildProjection(sim family) Projection {
	p := Projection{Summary: sim.sec.Summary, Items: sim.sec.Findings}
	for _, b := range sim.res.GetCostBands() {
		p.Bands = append(p.Bands, Band{Month: int(b.GetMonth()), P10: b.GetP10Usd(), P50: b.GetP50Usd(), P90: b.GetP90Usd()})
		p.Plan = append(p.Plan, PlanPoint{Month: int(b.GetMonth()), Low: b.GetLowUsd(), High: b.GetHighUsd()})
		p.Source = b.GetSource()
	}
	for _, m := range sim.sec.Metrics {
		if strings.HasPrefix(m.Name, "budget_exceeded") {
			p.Figures = append(p.Figures, Figure{Label: label(m.Name), Low: m.Value, High: m.Value, Unit: m.Unit, Source: m.Source})
		}
	}
	return p
}

func buildCompliance(fam family) Topic {
	f := fam.sec
	t := Topic{Summary: f.Summary, Figures: figures(fam.res.GetMetrics(), "")}
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
func buildStrategy(f family) (Topic, []Risk) {
	road := Topic{Summary: f.sec.Summary}
	risks := []Risk{}
	for _, fd := range f.findings() {
		switch fd.GetKind() {
		case analysis.KindRisk:
			r := fd.GetRisk()
			risks = append(risks, Risk{
				Title:    fmt.Sprintf("%s (P%d x I%d = %d)", r.GetTitle(), r.GetProbability(), r.GetImpact(), r.GetScore()),
				Severity: fd.GetSeverity(), Score: int(r.GetScore()), Why: r.GetWhy(), Mitigation: r.GetMitigation(),
			})
		case analysis.KindRoadmap:
			road.Items = append(road.Items, item(fd))
		}
	}
	for _, name := range []string{"roadmap_phases", "roadmap_months", "months_per_phase", "delivery_tracks", "team_size_total"} {
		if fig, ok := rangeOf(f.res.GetMetrics(), name, ""); ok {
			road.Figures = append(road.Figures, fig)
		}
	}
	sort.SliceStable(risks, func(i, j int) bool { return risks[i].Score > risks[j].Score })
	return road, risks
}

// buildSources collects the distinct source of every figure, with the
// families that use it; sources that declare themselves assumptions are listed
// as assumptions too.
func buildSources(d Document) Sources {
	out := Sources{CatalogVersions: nonNil(d.CatalogVersions), Sources: []Source{}}
	idx := map[string]int{}
	for _, f := range d.Families {
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
