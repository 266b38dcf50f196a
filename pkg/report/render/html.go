package render

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// templates holds the HTML layout (immutable embedded data).
//
//go:embed templates/report.html.tmpl
var templates embed.FS

// htmlView is what the HTML template reads: the model plus the chart geometry.
type htmlView struct {
	M          report.Model
	S          sectionNames
	Generated  string
	W, H       float64
	Bars       []bar
	YTicksCost []axisTick
	Band       string
	Median     string
	XTicksProj []axisTick
	YTicksProj []axisTick
}

type sectionNames struct {
	Executive, Narrative, Architecture, Cost, Projection, Compliance, MLOps, Roadmap, Risks, Sources string
	// NoNarrative is what the narrative section says without one.
	NoNarrative string
}

// HTML renders the model as one self-contained HTML page: inline CSS and
// inline SVG charts, every text escaped by html/template.
func HTML(m report.Model) ([]byte, error) {
	t, err := template.New("report.html.tmpl").Funcs(template.FuncMap{
		"join":      func(v []string) string { return strings.Join(v, ", ") },
		"money":     money,
		"cost":      costText,
		"rangeText": rangeText,
		"notes":     numberSources,
		"addW":      func(a, b float64) float64 { return a + b },
	}).ParseFS(templates, "templates/report.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse report template: %w", err)
	}
	v := htmlView{
		M: m, Generated: m.GeneratedAt.UTC().Format("2006-01-02 15:04 MST"), W: chartW, H: chartH,
		S: sectionNames{report.SectionExecutive, report.SectionNarrative, report.SectionArchitecture, report.SectionCost, report.SectionProjection,
			report.SectionCompliance, report.SectionMLOps, report.SectionRoadmap, report.SectionRisks, report.SectionSources, report.NoNarrative},
	}
	v.Bars, v.YTicksCost = costBars(m.Cost.ByWorkload)
	v.Band, v.Median, v.XTicksProj, v.YTicksProj = projectionGeometry(m.Projection.Bands)
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render report %s as HTML: %w", m.AssessmentID, err)
	}
	return buf.Bytes(), nil
}
