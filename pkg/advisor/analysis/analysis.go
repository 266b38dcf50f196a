// Package analysis holds the analysis each agent family runs on an assessment
// request: pure functions of the request, the results of upstream families and
// a small set of cited figures, so the same input always gives the same answer.
package analysis

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Outcome is one family's analysis.
type Outcome struct {
	// Summary is one or two sentences built from the computed values.
	Summary string
	// Metrics are the computed numbers, each with its formula (in words, with
	// the actual inputs) and the source of every figure it used.
	Metrics []*inframindv1.Metric
	// Findings are qualitative results derived from the request.
	Findings []*inframindv1.Finding
	// CostBands are the projected monthly costs by month (simulation only);
	// each value is also one of Metrics.
	CostBands []*inframindv1.CostBand
}

// ErrUnanalysable marks input a family cannot analyse; retrying cannot help,
// so the worker treats it as permanent. Errors wrap it with the field at fault.
var ErrUnanalysable = errors.New("request cannot be analysed")

// Finding severities, as the Finding message documents them.
const (
	severityInfo   = "info"
	severityLow    = "low"
	severityMedium = "medium"
	severityHigh   = "high"
)

// Analyzer runs the families' analyses over one catalogue version.
type Analyzer struct {
	cat *catalog.Catalog
	// idx is cat looked up by the families beside the plan.
	idx *catalogueIndex
	// planner is cat prepared for the cloud family's plans.
	planner *plan.Planner
}

// New returns an analyzer over c (catalog.Load gives the embedded one),
// which must not change afterwards.
func New(c *catalog.Catalog) (*Analyzer, error) {
	if c == nil {
		return nil, errors.New("analysis: catalogue is required")
	}
	planner, err := plan.NewPlanner(c)
	if err != nil {
		return nil, fmt.Errorf("analysis: %w", err)
	}
	return &Analyzer{cat: c, idx: newCatalogueIndex(c), planner: planner}, nil
}

// CatalogVersion is the version of the catalogue every figure comes from;
// results record it.
func (a *Analyzer) CatalogVersion() string { return a.cat.Version }

// Analyze runs family on req. upstream holds the results of the families this
// one depends on (see Upstream); a missing required upstream result is an
// error wrapping ErrUnanalysable.
func (a *Analyzer) Analyze(family assessment.Family, req *inframindv1.AssessmentRequest, upstream map[assessment.Family]*inframindv1.AgentResultPublished) (Outcome, error) {
	if req == nil {
		return Outcome{}, unanalysable("request: missing")
	}
	switch family {
	case assessment.FamilyStrategy:
		return analyzeStrategy(a.idx, req, upstream[assessment.FamilyCloud])
	case assessment.FamilyCloud:
		return analyzeCloud(a.planner, req)
	case assessment.FamilyMLOps:
		return analyzeMLOps(a.idx, req)
	case assessment.FamilyCompliance:
		return analyzeCompliance(a.idx, req)
	case assessment.FamilyResearch:
		return analyzeResearch(a.idx, req)
	case assessment.FamilySimulation:
		return analyzeSimulation(a.cat, req, upstream[assessment.FamilyCloud])
	default:
		return Outcome{}, unanalysable("family %q: unknown agent family", family)
	}
}

// Upstream returns the families whose results family consumes: simulation
// projects the cloud family's plan and strategy prices it over time and
// against hosted APIs; every other family reads only the request.
func Upstream(family assessment.Family) []assessment.Family {
	switch family {
	case assessment.FamilySimulation, assessment.FamilyStrategy:
		return []assessment.Family{assessment.FamilyCloud}
	default:
		return nil
	}
}

// unanalysable builds an error wrapping ErrUnanalysable whose message names
// the field at fault.
func unanalysable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnanalysable, fmt.Sprintf(format, args...))
}

func metric(name string, value float64, unit, formula, source, workload string) *inframindv1.Metric {
	return &inframindv1.Metric{
		Name:     name,
		Value:    value,
		Unit:     unit,
		Formula:  formula,
		Source:   source,
		Workload: workload,
	}
}

// rangeEnd marks m as the bound (BoundLow or BoundHigh) end of the range
// named rng, so readers pair the ends by these fields, not by m's name.
func rangeEnd(m *inframindv1.Metric, rng, bound string) *inframindv1.Metric {
	m.Range, m.Bound = rng, bound
	return m
}

// rangeMetrics returns rng_low and rng_high, each marked as its end of rng.
func rangeMetrics(rng string, low, high float64, unit, formula, source, workload string) []*inframindv1.Metric {
	return []*inframindv1.Metric{
		rangeEnd(metric(rng+"_low", low, unit, formula, source, workload), rng, BoundLow),
		rangeEnd(metric(rng+"_high", high, unit, formula, source, workload), rng, BoundHigh),
	}
}

func finding(severity, title, detail string) *inframindv1.Finding {
	return &inframindv1.Finding{Title: title, Detail: detail, Severity: severity}
}

// Finding kinds and topics, as the Finding message documents them: readers
// branch on these, never on a finding's title.
const (
	KindDeployment       = "deployment"
	KindRisk             = "risk"
	KindRoadmap          = "roadmap"
	KindMLOpsStack       = "mlops_stack"
	KindUnpriced         = "unpriced"
	KindOutsideResidency = "outside_residency"

	TopicBudget = "budget"
	TopicRegion = "region"
)

// about sets the workload a finding is about.
func about(f *inframindv1.Finding, workload string) *inframindv1.Finding {
	f.Workload = workload
	return f
}

// budgetFinding is a finding about the plan's cost against the stated budget.
func budgetFinding(severity, title, detail string) *inframindv1.Finding {
	return topic(finding(severity, title, detail), TopicBudget)
}

// regionFinding is a finding whose remedy is another region or provider.
func regionFinding(severity, title, detail string) *inframindv1.Finding {
	return topic(finding(severity, title, detail), TopicRegion)
}

// kind sets what a finding is.
func kind(f *inframindv1.Finding, k string) *inframindv1.Finding {
	f.Kind = k
	return f
}

// topic sets what acting on a finding concerns.
func topic(f *inframindv1.Finding, t string) *inframindv1.Finding {
	f.Topic = t
	return f
}

// num formats v for formulas and summaries: at most two decimals, no
// trailing zeros, so "140" and "168.05" read as a person would write them.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// usd formats a dollar amount with cents.
func usd(v float64) string {
	return "$" + strconv.FormatFloat(v, 'f', 2, 64)
}

// usdSpan is a dollar range, one amount when both ends read the same.
func usdSpan(lo, hi float64) string { return span.Text(usd(lo), usd(hi)) }

// numSpan is a range of num figures, one figure when both ends read the same.
func numSpan(lo, hi float64) string { return span.Text(num(lo), num(hi)) }

// rate formats an hourly price exactly as listed, so formulas can be checked
// against the source.
func rate(v float64) string {
	return "$" + strconv.FormatFloat(v, 'f', -1, 64)
}

// norm lower-cases and trims a user-supplied code so "AWS " and "aws" match.
func norm(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// workloadLabel names workload i in metrics and findings: its name, or its
// position when the user gave none.
func workloadLabel(i int, w *inframindv1.Workload) string {
	if name := strings.TrimSpace(w.GetName()); name != "" {
		return name
	}
	return fmt.Sprintf("workloads[%d]", i)
}

// plural returns "1 workload" or "3 workloads".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
