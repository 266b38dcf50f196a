package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/recommend"
)

// MaxMetricChanges caps ReportDiff.Metrics: a change of traffic moves every
// month of the growth projection, and a reader wants the headline, not
// hundreds of rows. The number left out is in ReportDiff.MetricsOmitted.
const MaxMetricChanges = 200

// ReportDiff is what changed between two versions of an assessment's report
// (or between a scenario and its base): cost, every other metric,
// recommendations and findings. Absent figures are nil, never zero.
type ReportDiff struct {
	BaseID  string `json:"base_id"`  // base assessment id
	OtherID string `json:"other_id"` // compared assessment id
	// BaseCatalog and OtherCatalog are the catalogue versions each report's figures come from.
	BaseCatalog  []string       `json:"base_catalog_versions"`
	OtherCatalog []string       `json:"other_catalog_versions"`
	Status       Change[string] `json:"status"`
	// Changed is true when anything below differs.
	Changed bool `json:"changed"`
	// Cost lists the plan-level cost metrics that changed in the contract's
	// order (on demand, commitments, spot, self-hosted cost per million tokens,
	// accelerators), then each workload's replicas and monthly cost, by workload.
	Cost []MetricChange `json:"cost"`
	// Metrics lists every other metric that changed, by family (in the fixed
	// family order), workload and name, at most MaxMetricChanges of them.
	Metrics        []MetricChange `json:"metrics"`
	MetricsOmitted int            `json:"metrics_omitted,omitempty"`
	// The recommendation lists are compared only when both are given.
	RecommendationsCompared bool         `json:"recommendations_compared"`
	RecommendationsAdded    []RecRef     `json:"recommendations_added"`
	RecommendationsRemoved  []RecRef     `json:"recommendations_removed"`
	RecommendationsChanged  []RecChange  `json:"recommendations_changed"`
	Findings                FindingsDiff `json:"findings"`
	// Summary is one paragraph with the headline numbers.
	Summary string `json:"summary"`
}

// Change is a value in the base and in the other report.
type Change[T any] struct {
	Base    T    `json:"base"`
	Other   T    `json:"other"`
	Changed bool `json:"changed"`
}

// MetricChange is one metric in both reports. Base or Other is nil when the
// metric is absent from that report; Delta (Other - Base) needs both, and
// DeltaPct (Delta / Base x 100) also needs a non-zero Base.
type MetricChange struct {
	Family   string   `json:"family"`
	Workload string   `json:"workload,omitempty"`
	Name     string   `json:"name"`
	Unit     string   `json:"unit,omitempty"`
	Base     *float64 `json:"base"`
	Other    *float64 `json:"other"`
	Delta    *float64 `json:"delta"`
	DeltaPct *float64 `json:"delta_pct"`
}

// RecRef names a recommendation.
type RecRef struct {
	ID       string `json:"id"`
	Priority string `json:"priority"`
	Action   string `json:"action"`
}

// RecChange is a recommendation present in both lists (same id, so same
// family, category, workload and action) whose ranking or figures moved.
type RecChange struct {
	ID         string          `json:"id"`
	Action     string          `json:"action"`
	Priority   Change[string]  `json:"priority"`
	Confidence Change[float64] `json:"confidence"`
	// CostImpact compares the monthly cost impact ranges; nil when a list states none.
	CostImpact Change[*recommend.CostImpact] `json:"cost_impact"`
}

// FindingsDiff lists the findings, identified by family and title, that only one report has.
type FindingsDiff struct {
	Added   []FindingRef `json:"added"`
	Removed []FindingRef `json:"removed"`
}

// FindingRef names a finding.
type FindingRef struct {
	Family   string `json:"family"`
	Title    string `json:"title"`
	Severity string `json:"severity,omitempty"`
}

// costPlanMetrics are the cloud family's plan-level cost metrics, in the
// order the diff shows them (analysis contract).
func costPlanMetrics() []string {
	return []string{
		analysis.MetricMonthlyCostLow, analysis.MetricMonthlyCostHigh,
		analysis.MetricMonthlyCommit1YLow, analysis.MetricMonthlyCommit1YHigh,
		analysis.MetricMonthlyCommit3YLow, analysis.MetricMonthlyCommit3YHigh,
		analysis.MetricMonthlySpotLow, analysis.MetricMonthlySpotHigh,
		analysis.MetricSelfHostedUSDPerMTokLow, analysis.MetricSelfHostedUSDPerMTokHigh,
		analysis.MetricPlanGPUsLow, analysis.MetricPlanGPUsHigh,
	}
}

// costWorkloadMetrics are the cloud family's per-workload cost metrics: the
// replicas at peak and the workload's on-demand monthly cost (pkg/advisor/analysis/cloud.go).
func costWorkloadMetrics() []string {
	return []string{analysis.MetricReplicasLow, analysis.MetricReplicasHigh,
		"monthly_on_demand_usd_low", "monthly_on_demand_usd_high"}
}

type metricKey struct{ family, workload, name string }

// Diff compares two stored reports (the JSON the synthesizer stores, see
// Document) and, when both are given, their
// recommendation lists (pkg/recommend.Set JSON as stored; nil or empty when
// there is none). The result is deterministic.
func Diff(baseReport, otherReport []byte, baseRecs, otherRecs []byte) (ReportDiff, error) {
	base, err := decodeStored(baseReport, "base")
	if err != nil {
		return ReportDiff{}, err
	}
	other, err := decodeStored(otherReport, "other")
	if err != nil {
		return ReportDiff{}, err
	}
	d := ReportDiff{
		BaseID: base.AssessmentID, OtherID: other.AssessmentID,
		BaseCatalog: nonNil(base.CatalogVersions), OtherCatalog: nonNil(other.CatalogVersions),
		Status:               Change[string]{Base: base.Status, Other: other.Status, Changed: base.Status != other.Status},
		Cost:                 []MetricChange{},
		Metrics:              []MetricChange{},
		RecommendationsAdded: []RecRef{}, RecommendationsRemoved: []RecRef{}, RecommendationsChanged: []RecChange{},
		Findings: FindingsDiff{Added: []FindingRef{}, Removed: []FindingRef{}},
	}
	bi, oi := metricIndex(base), metricIndex(other)
	diffMetrics(&d, bi, oi)
	d.Findings = diffFindings(base, other)
	if len(bytes.TrimSpace(baseRecs)) > 0 && len(bytes.TrimSpace(otherRecs)) > 0 {
		bs, err := decodeRecs(baseRecs, "base")
		if err != nil {
			return ReportDiff{}, err
		}
		ots, err := decodeRecs(otherRecs, "other")
		if err != nil {
			return ReportDiff{}, err
		}
		d.RecommendationsCompared = true
		diffRecs(&d, bs, ots)
	}
	d.Changed = d.Status.Changed || len(d.Cost) > 0 || len(d.Metrics) > 0 || d.MetricsOmitted > 0 ||
		len(d.RecommendationsAdded) > 0 || len(d.RecommendationsRemoved) > 0 || len(d.RecommendationsChanged) > 0 ||
		len(d.Findings.Added) > 0 || len(d.Findings.Removed) > 0
	d.Summary = summarize(d, bi, oi)
	return d, nil
}

func decodeStored(b []byte, which string) (Document, error) {
	var s Document
	if err := json.Unmarshal(b, &s); err != nil {
		return Document{}, fmt.Errorf("decode %s report: %w", which, err)
	}
	if s.AssessmentID == "" {
		return Document{}, fmt.Errorf("decode %s report: no assessment_id", which)
	}
	return s, nil
}

func decodeRecs(b []byte, which string) (recommend.Set, error) {
	var s recommend.Set
	if err := json.Unmarshal(b, &s); err != nil {
		return recommend.Set{}, fmt.Errorf("decode %s recommendations: %w", which, err)
	}
	return s, nil
}

// metricIndex maps every metric of a report by (family, workload, name); the
// first of duplicates wins, as in the report's own lookups (find).
func metricIndex(s Document) map[metricKey]Metric {
	out := map[metricKey]Metric{}
	for _, f := range s.Families {
		for _, m := range f.Metrics {
			k := metricKey{f.Family, m.Workload, m.Name}
			if _, dup := out[k]; !dup {
				out[k] = m
			}
		}
	}
	return out
}

func diffMetrics(d *ReportDiff, bi, oi map[metricKey]Metric) {
	keys := make([]metricKey, 0, len(bi)+len(oi))
	for k := range bi {
		keys = append(keys, k)
	}
	for k := range oi {
		if _, ok := bi[k]; !ok {
			keys = append(keys, k)
		}
	}
	famRank := func(f string) int {
		if i := slices.Index(assessment.Families(), assessment.Family(f)); i >= 0 {
			return i
		}
		return len(assessment.Families())
	}
	plan, perWorkload := costPlanMetrics(), costWorkloadMetrics()
	isCost := func(k metricKey) (int, bool) {
		if k.family != famCloud {
			return 0, false
		}
		if k.workload == "" {
			i := slices.Index(plan, k.name)
			return i, i >= 0
		}
		i := slices.Index(perWorkload, k.name)
		return i, i >= 0
	}
	slices.SortFunc(keys, func(a, b metricKey) int {
		ca, aCost := isCost(a)
		cb, bCost := isCost(b)
		switch {
		case aCost && bCost:
			// Plan-level first, then by workload, each in the contract's order.
			return cmp.Or(cmp.Compare(a.workload, b.workload), cmp.Compare(ca, cb))
		case aCost != bCost:
			// Cost metrics go to their own list; keeping them apart keeps the order total.
			if aCost {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(famRank(a.family), famRank(b.family)), cmp.Compare(a.family, b.family),
			cmp.Compare(a.workload, b.workload), cmp.Compare(a.name, b.name))
	})
	for _, k := range keys {
		bm, inBase := bi[k]
		om, inOther := oi[k]
		if inBase && inOther && bm.Value == om.Value {
			continue
		}
		mc := MetricChange{Family: k.family, Workload: k.workload, Name: k.name, Unit: om.Unit}
		if inBase {
			mc.Base = ptr(bm.Value)
			mc.Unit = bm.Unit
		}
		if inOther {
			mc.Other = ptr(om.Value)
			if om.Unit != "" {
				mc.Unit = om.Unit
			}
		}
		if inBase && inOther {
			delta := om.Value - bm.Value
			mc.Delta = ptr(delta)
			if bm.Value != 0 {
				// Relative change against the base: (other - base) / |base| x 100.
				pct := delta / abs(bm.Value) * 100
				mc.DeltaPct = &pct
			}
		}
		if _, ok := isCost(k); ok {
			d.Cost = append(d.Cost, mc)
			continue
		}
		if len(d.Metrics) >= MaxMetricChanges {
			d.MetricsOmitted++
			continue
		}
		d.Metrics = append(d.Metrics, mc)
	}
}

func ptr(v float64) *float64 { return &v }

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

type findingKey struct{ family, title string }

func findingIndex(s Document) map[findingKey]Item {
	out := map[findingKey]Item{}
	for _, f := range s.Families {
		for _, it := range f.Findings {
			k := findingKey{f.Family, it.Title}
			if _, dup := out[k]; !dup {
				out[k] = it
			}
		}
	}
	return out
}

func diffFindings(base, other Document) FindingsDiff {
	bi, oi := findingIndex(base), findingIndex(other)
	onlyIn := func(a, b map[findingKey]Item) []FindingRef {
		out := []FindingRef{}
		for k, it := range a {
			if _, ok := b[k]; !ok {
				out = append(out, FindingRef{Family: k.family, Title: k.title, Severity: it.Severity})
			}
		}
		slices.SortFunc(out, func(x, y FindingRef) int {
			return cmp.Or(cmp.Compare(x.Family, y.Family), cmp.Compare(x.Title, y.Title))
		})
		return out
	}
	return FindingsDiff{Added: onlyIn(oi, bi), Removed: onlyIn(bi, oi)}
}

func diffRecs(d *ReportDiff, base, other recommend.Set) {
	bi := map[string]recommend.Recommendation{}
	for _, r := range base.Recommendations {
		bi[r.ID] = r
	}
	oi := map[string]recommend.Recommendation{}
	for _, r := range other.Recommendations {
		oi[r.ID] = r
	}
	byRank := func(x, y RecRef) int {
		return cmp.Or(cmp.Compare(recommend.PriorityRank(x.Priority), recommend.PriorityRank(y.Priority)), cmp.Compare(x.ID, y.ID))
	}
	for id, r := range oi {
		b, ok := bi[id]
		if !ok {
			d.RecommendationsAdded = append(d.RecommendationsAdded, RecRef{ID: id, Priority: r.Priority, Action: r.Action})
			continue
		}
		c := RecChange{ID: id, Action: r.Action,
			Priority:   Change[string]{Base: b.Priority, Other: r.Priority, Changed: b.Priority != r.Priority},
			Confidence: Change[float64]{Base: b.Confidence, Other: r.Confidence, Changed: b.Confidence != r.Confidence},
			CostImpact: Change[*recommend.CostImpact]{Base: b.MonthlyUSD, Other: r.MonthlyUSD, Changed: !sameImpact(b.MonthlyUSD, r.MonthlyUSD)},
		}
		if c.Priority.Changed || c.Confidence.Changed || c.CostImpact.Changed {
			d.RecommendationsChanged = append(d.RecommendationsChanged, c)
		}
	}
	for id, r := range bi {
		if _, ok := oi[id]; !ok {
			d.RecommendationsRemoved = append(d.RecommendationsRemoved, RecRef{ID: id, Priority: r.Priority, Action: r.Action})
		}
	}
	slices.SortFunc(d.RecommendationsAdded, byRank)
	slices.SortFunc(d.RecommendationsRemoved, byRank)
	slices.SortFunc(d.RecommendationsChanged, func(x, y RecChange) int {
		return byRank(RecRef{ID: x.ID, Priority: x.Priority.Other}, RecRef{ID: y.ID, Priority: y.Priority.Other})
	})
}

// sameImpact compares the cost ranges only: the basis is prose that quotes them.
func sameImpact(a, b *recommend.CostImpact) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.LowUSD == b.LowUSD && a.HighUSD == b.HighUSD
}

// fmtRange shows a low/high pair as the report's Markdown does; either end may be absent.
func fmtRange(lo, hi Metric, okLo, okHi bool) string {
	switch {
	case !okLo && !okHi:
		return "none"
	case !okLo:
		lo = hi
	case !okHi:
		hi = lo
	}
	return Figure{Low: lo.Value, High: hi.Value, Unit: cmp.Or(lo.Unit, hi.Unit)}.Text()
}

// rangeLine describes a plan-level low/high pair of the cloud family when either end changed.
func rangeLine(d ReportDiff, bi, oi map[metricKey]Metric, label, low, high string) (string, bool) {
	changed := false
	for _, c := range d.Cost {
		if c.Workload == "" && (c.Name == low || c.Name == high) {
			changed = true
		}
	}
	if !changed {
		return "", false
	}
	kl, kh := metricKey{famCloud, "", low}, metricKey{famCloud, "", high}
	bl, okBL := bi[kl]
	bh, okBH := bi[kh]
	ol, okOL := oi[kl]
	oh, okOH := oi[kh]
	s := fmt.Sprintf("%s %s -> %s", label, fmtRange(bl, bh, okBL, okBH), fmtRange(ol, oh, okOL, okOH))
	if okBL && okBH && okOL && okOH {
		// The midpoints' relative change: ((ol+oh)/2 - (bl+bh)/2) / |(bl+bh)/2| x 100.
		if mb := (bl.Value + bh.Value) / 2; mb != 0 {
			s += fmt.Sprintf(" (midpoint %+.1f%%)", ((ol.Value+oh.Value)/2-mb)/abs(mb)*100)
		}
	}
	return s, true
}

func summarize(d ReportDiff, bi, oi map[metricKey]Metric) string {
	if !d.Changed {
		return fmt.Sprintf("No differences between %s and %s.", d.BaseID, d.OtherID)
	}
	parts := []string{}
	if d.Status.Changed {
		parts = append(parts, fmt.Sprintf("status %s -> %s", d.Status.Base, d.Status.Other))
	}
	for _, l := range []struct{ label, low, high string }{
		{"monthly cost on demand", analysis.MetricMonthlyCostLow, analysis.MetricMonthlyCostHigh},
		{"accelerators at peak", analysis.MetricPlanGPUsLow, analysis.MetricPlanGPUsHigh},
		{"self-hosted cost per million output tokens", analysis.MetricSelfHostedUSDPerMTokLow, analysis.MetricSelfHostedUSDPerMTokHigh},
	} {
		if s, ok := rangeLine(d, bi, oi, l.label, l.low, l.high); ok {
			parts = append(parts, s)
		}
	}
	if n := len(d.Metrics) + d.MetricsOmitted; n > 0 {
		parts = append(parts, fmt.Sprintf("%d other metrics changed", n))
	}
	if d.RecommendationsCompared {
		parts = append(parts, fmt.Sprintf("recommendations: %d added, %d removed, %d changed",
			len(d.RecommendationsAdded), len(d.RecommendationsRemoved), len(d.RecommendationsChanged)))
	}
	if len(d.Findings.Added)+len(d.Findings.Removed) > 0 {
		parts = append(parts, fmt.Sprintf("findings: %d added, %d removed", len(d.Findings.Added), len(d.Findings.Removed)))
	}
	return fmt.Sprintf("Compared with %s, %s: %s.", d.BaseID, d.OtherID, strings.Join(parts, "; "))
}
