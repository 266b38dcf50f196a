// Package render turns a report model into the formats people read:
// Markdown, self-contained HTML with inline SVG charts, and PDF.
package render

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/report"
)

// JSON renders the model as indented JSON.
func JSON(m report.Model) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report %s: %w", m.AssessmentID, err)
	}
	return b, nil
}

// money formats USD with thousands separators.
func money(v float64) string { return report.Money(v) }

// rangeText shows a figure as "low-high unit" (one value when the ends agree).
func rangeText(f report.Figure) string { return f.Text() }

func costText(lo, hi float64) string { return span.Join(money(lo), money(hi), " - ") }

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markdown renders the model as a Markdown document.
func Markdown(m report.Model) []byte {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	items := func(its []report.Item) {
		for _, it := range its {
			sev := ""
			if it.Severity != "" {
				sev = " [" + it.Severity + "]"
			}
			w("- **%s**%s: %s\n", mdCell(it.Title), sev, it.Detail)
		}
	}
	figs := func(fs []report.Figure) {
		if len(fs) == 0 {
			return
		}
		n := numberSources(fs)
		w("\n| figure | value | note |\n|---|---|---|\n")
		for _, r := range n.Rows {
			note := ""
			if r.Note > 0 {
				note = fmt.Sprintf("[%d]", r.Note)
			}
			w("| %s | %s | %s |\n", mdCell(r.Label), mdCell(rangeText(r.Figure)), note)
		}
		if len(n.Notes) > 0 {
			w("\nNotes:\n\n")
			for i, src := range n.Notes {
				w("%d. %s\n", i+1, mdText(src))
			}
		}
	}
	w("# Infra Mind report: %s\n\n", m.Name)
	w("Assessment `%s`, status **%s**, generated %s, catalogue %s.\n\n", m.AssessmentID, m.Status,
		m.GeneratedAt.UTC().Format("2006-01-02 15:04 MST"), strings.Join(m.CatalogVersions, ", "))

	w("## %s\n\n%s\n\n", report.SectionExecutive, m.Executive.Summary)
	for _, f := range m.Executive.Families {
		w("- **%s** (%s): %s\n", f.Family, f.Status, f.Summary)
	}
	figs(m.Executive.KeyFigures)
	if len(m.Executive.Attention) > 0 {
		w("\nNeeds attention:\n\n")
		items(m.Executive.Attention)
	}

	w("\n## %s\n\n", report.SectionNarrative)
	if len(m.Narratives) == 0 {
		w("%s\n", report.NoNarrative)
	}
	for _, n := range m.Narratives {
		w("*%s*\n\n%s\n", n.Label(), mdText(n.Overall.Text))
		if n.Overall.Note != "" {
			w("\n*%s*\n", mdText(n.Overall.Note))
		}
		for _, s := range n.Families {
			w("\n**%s**: %s\n", s.Family, mdText(s.Text))
			if s.Note != "" {
				w("\n*%s*\n", mdText(s.Note))
			}
		}
	}

	w("\n## %s\n\n", report.SectionArchitecture)
	if len(m.Architecture) == 0 {
		w("No workload was planned.\n")
	}
	for _, wl := range m.Architecture {
		w("### %s\n\n", wl.Name)
		if wl.Recommendation != "" {
			w("Recommended: %s\n\n", wl.Recommendation)
		}
		items(wl.Items)
		figs(wl.Figures)
		w("\n")
	}

	w("\n## %s\n\nWhole plan, USD per month (%g hours):\n\n| option | monthly cost | source |\n|---|---|---|\n", report.SectionCost, plan.HoursPerMonth)
	for _, o := range m.Cost.Options {
		v := "no published price for the chosen instances"
		if o.Available {
			v = costText(o.Low, o.High)
		}
		w("| %s | %s | %s |\n", o.Option, v, mdCell(o.Source))
	}
	w("\nBy workload (on demand, USD per month):\n\n| workload | provider | monthly cost |\n|---|---|---|\n")
	for _, l := range m.Cost.ByWorkload {
		w("| %s | %s | %s |\n", mdCell(l.Name), l.Provider, costText(l.Low, l.High))
	}
	w("\nBy provider (on demand, USD per month):\n\n| provider | monthly cost |\n|---|---|\n")
	for _, l := range m.Cost.ByProvider {
		w("| %s | %s |\n", l.Name, costText(l.Low, l.High))
	}
	if len(m.Cost.OneOff) > 0 {
		w("\nOne-off (training), USD:\n\n| workload | provider | cost |\n|---|---|---|\n")
		for _, l := range m.Cost.OneOff {
			w("| %s | %s | %s |\n", mdCell(l.Name), l.Provider, costText(l.Low, l.High))
		}
	}
	if len(m.Cost.Unpriced) > 0 {
		w("\nSized but not priced (the catalogue holds no price for them):\n\n")
		items(m.Cost.Unpriced)
	}

	w("\n## %s\n\n%s\n\n", report.SectionProjection, m.Projection.Summary)
	if len(m.Projection.Bands) > 0 {
		w("Monte Carlo monthly cost (USD per month):\n\n| month | P10 | P50 | P90 |\n|---|---|---|---|\n")
		for _, bd := range m.Projection.Bands {
			w("| %d | %s | %s | %s |\n", bd.Month, money(bd.P10), money(bd.P50), money(bd.P90))
		}
		w("\nSource: %s\n\n", m.Projection.Source)
	}
	if len(m.Projection.Plan) > 0 {
		w("Plan by month, on demand (USD per month):\n\n| month | low | high |\n|---|---|---|\n")
		for _, p := range m.Projection.Plan {
			w("| %d | %s | %s |\n", p.Month, money(p.Low), money(p.High))
		}
	}
	figs(m.Projection.Figures)
	w("\n")
	items(m.Projection.Items)

	topic := func(title string, t report.Topic, gapsTitle string) {
		w("\n## %s\n\n%s\n\n", title, t.Summary)
		items(t.Items)
		if gapsTitle != "" {
			w("\n%s:\n\n", gapsTitle)
			if len(t.Gaps) == 0 {
				w("- none found\n")
			}
			items(t.Gaps)
		}
		figs(t.Figures)
	}
	topic(report.SectionCompliance, m.Compliance, "Gaps")
	topic(report.SectionMLOps, m.MLOps, "")
	topic(report.SectionRoadmap, m.Roadmap, "")

	w("\n## %s\n\n| risk | severity | score | why | mitigation |\n|---|---|---|---|---|\n", report.SectionRisks)
	for _, r := range m.Risks {
		w("| %s | %s | %d | %s | %s |\n", mdCell(r.Title), r.Severity, r.Score, mdCell(r.Why), mdCell(r.Mitigation))
	}

	w("\n## %s\n\nCatalogue version: %s\n\n", report.SectionSources, strings.Join(m.Sources.CatalogVersions, ", "))
	if len(m.Sources.Assumptions) > 0 {
		w("Assumptions:\n\n")
		for _, a := range m.Sources.Assumptions {
			w("- %s\n", a)
		}
		w("\n")
	}
	w("Sources of the figures:\n\n")
	for _, s := range m.Sources.Sources {
		w("- %s (%d figures; %s)\n", s.Text, s.Figures, strings.Join(s.Families, ", "))
	}
	return []byte(b.String())
}

// mdText keeps generated text a paragraph of plain text: no raw HTML, no
// line breaks that would start a heading or a list.
func mdText(s string) string {
	s = strings.NewReplacer("<", "&lt;", ">", "&gt;", "\r", " ", "\n", " ").Replace(s)
	return strings.TrimSpace(s)
}
