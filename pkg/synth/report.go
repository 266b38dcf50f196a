package synth

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Report is the document the synthesizer writes for an assessment. Every
// number in it is a family's metric, carried with its formula and source.
type Report struct {
	AssessmentID string    `json:"assessment_id"`
	TenantID     string    `json:"tenant_id"`
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	Summary      string    `json:"summary"`
	Missing      []string  `json:"missing_families,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	GeneratedAt  time.Time `json:"generated_at"`
	// CatalogVersions are the catalogue versions the families used (normally one).
	CatalogVersions []string        `json:"catalog_versions"`
	Families        []FamilySection `json:"families"`
}

// FamilySection is one family's contribution to the report.
type FamilySection struct {
	Family  string `json:"family"`
	Status  string `json:"status"`
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
	// CatalogVersion is the catalogue this family's figures come from.
	CatalogVersion string    `json:"catalog_version,omitempty"`
	Metrics        []Metric  `json:"metrics,omitempty"`
	Findings       []Finding `json:"findings,omitempty"`
	FinishedAt     time.Time `json:"finished_at,omitempty"`
}

// Metric is a computed number with how it was obtained.
type Metric struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit,omitempty"`
	Workload string  `json:"workload,omitempty"`
	Formula  string  `json:"formula,omitempty"`
	Source   string  `json:"source,omitempty"`
}

// Finding is a qualitative result.
type Finding struct {
	Title    string `json:"title"`
	Detail   string `json:"detail,omitempty"`
	Severity string `json:"severity,omitempty"`
}

// decodeResults parses stored results, keyed by family.
func decodeResults(rows []store.Result) (map[string]*inframindv1.AgentResultPublished, error) {
	out := make(map[string]*inframindv1.AgentResultPublished, len(rows))
	for _, r := range rows {
		var res inframindv1.AgentResultPublished
		if err := protojson.Unmarshal([]byte(r.Data), &res); err != nil {
			return nil, fmt.Errorf("decode stored %s result: %w", r.Family, err)
		}
		out[r.Family] = &res
	}
	return out, nil
}

// buildReport assembles the report from the assessment and its results, in
// the fixed family order.
func buildReport(a store.Assessment, results map[string]*inframindv1.AgentResultPublished, at time.Time) Report {
	rep := Report{
		AssessmentID: a.ID,
		TenantID:     a.TenantID,
		Name:         a.Name,
		Status:       a.Status,
		Missing:      a.MissingFamilies,
		Reason:       a.Reason,
		GeneratedAt:  at.UTC(),
	}
	var ok, failed, missing []string
	for _, f := range assessment.Families() {
		res, found := results[string(f)]
		if !found {
			missing = append(missing, string(f))
			rep.Families = append(rep.Families, FamilySection{Family: string(f), Status: "missing"})
			continue
		}
		sec := FamilySection{
			Family:     string(f),
			Status:     res.GetStatus(),
			Summary:    res.GetSummary(),
			Error:      res.GetError(),
			FinishedAt: res.GetFinishedAt().AsTime().UTC(),

			CatalogVersion: res.GetCatalogVersion(),
		}
		for _, m := range res.GetMetrics() {
			sec.Metrics = append(sec.Metrics, Metric{
				Name: m.GetName(), Value: m.GetValue(), Unit: m.GetUnit(), Workload: m.GetWorkload(),
				Formula: m.GetFormula(), Source: m.GetSource(),
			})
		}
		for _, fd := range res.GetFindings() {
			sec.Findings = append(sec.Findings, Finding{Title: fd.GetTitle(), Detail: fd.GetDetail(), Severity: fd.GetSeverity()})
		}
		if slices.Contains(a.MissingFamilies, string(f)) {
			// Arrived after the deadline closed the assessment.
			sec.Status = "late"
		}
		if res.GetStatus() == resultFailed {
			failed = append(failed, string(f))
		} else {
			ok = append(ok, string(f))
		}
		rep.Families = append(rep.Families, sec)
	}
	sort.Strings(missing)
	rep.CatalogVersions = catalogVersions(results)
	parts := []string{fmt.Sprintf("%d of %d families analysed %q", len(ok), len(assessment.Families()), a.Name)}
	if len(failed) > 0 {
		parts = append(parts, "could not analyse: "+strings.Join(failed, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "no result from: "+strings.Join(missing, ", "))
	}
	rep.Summary = strings.Join(parts, "; ") + "."
	return rep
}

func marshalReport(r Report) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode report %s: %w", r.AssessmentID, err)
	}
	return string(b), nil
}

// catalogVersions lists the distinct catalogue versions of results, sorted.
func catalogVersions(results map[string]*inframindv1.AgentResultPublished) []string {
	out := []string{}
	for _, r := range results {
		if v := r.GetCatalogVersion(); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
