package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// PDF page layout, millimetres on A4 portrait.
const (
	pdfMargin = 15.0
	pdfWidth  = 210.0 - 2*pdfMargin
	pdfLine   = 5.0
)

// pdfWriter wraps fpdf with the report's text translation: the core fonts are
// cp1252, so UTF-8 is translated and runes outside cp1252 are replaced.
type pdfWriter struct {
	f  *fpdf.Fpdf
	tr func(string) string
}

// asciiFallbacks replaces common runes cp1252 lacks before the cp1252 translation.
func asciiFallbacks() *strings.Replacer {
	return strings.NewReplacer("≤", "<=", "≥", ">=", "→", "->", "←", "<-", "≈", "~", "×", "x", "−", "-",
		"✓", "v", "✗", "x", "∞", "inf", "\u00a0", " ", "\u2009", " ", "\u202f", " ")
}

func (p *pdfWriter) text(s string) string { return p.tr(s) }

func (p *pdfWriter) heading(s string, size float64) {
	p.f.Ln(2)
	p.f.SetFont("Helvetica", "B", size)
	p.f.MultiCell(pdfWidth, size*0.5, p.text(s), "", "L", false)
	p.f.Ln(1)
	p.f.SetFont("Helvetica", "", 9)
}

func (p *pdfWriter) para(s string) {
	if s == "" {
		return
	}
	p.f.SetFont("Helvetica", "", 9)
	p.f.MultiCell(pdfWidth, pdfLine-0.8, p.text(s), "", "L", false)
	p.f.Ln(1)
}

func (p *pdfWriter) items(its []report.Item) {
	for _, it := range its {
		sev := ""
		if it.Severity != "" {
			sev = " [" + it.Severity + "]"
		}
		p.f.SetFont("Helvetica", "B", 9)
		p.f.MultiCell(pdfWidth, pdfLine-0.8, p.text("- "+it.Title+sev), "", "L", false)
		p.f.SetFont("Helvetica", "", 8.5)
		if it.Detail != "" {
			p.f.SetX(pdfMargin + 4)
			p.f.MultiCell(pdfWidth-4, pdfLine-1, p.text(it.Detail), "", "L", false)
		}
	}
}

// row writes a table row; widths are fractions of the page width.
func (p *pdfWriter) row(cells []string, widths []float64, bold bool) {
	style := ""
	if bold {
		style = "B"
	}
	p.f.SetFont("Helvetica", style, 8.5)
	// Rows with long text wrap: each cell is a MultiCell started at the row's top.
	_, pageH := p.f.GetPageSize()
	lines := 1
	for i, c := range cells {
		// An estimate from the string width: fpdf's SplitText reads its input as
		// UTF-8 and panics on translated cp1252 bytes. Word wrapping can add a
		// line, hence the +1 for anything that wraps.
		n := int(p.f.GetStringWidth(p.text(c))/(widths[i]*pdfWidth-2)) + 1
		if n > 1 {
			n++
		}
		lines = max(lines, n)
	}
	h := float64(lines) * (pdfLine - 1)
	if p.f.GetY()+h > pageH-pdfMargin {
		p.f.AddPage()
	}
	x, y := p.f.GetX(), p.f.GetY()
	for i, c := range cells {
		w := widths[i] * pdfWidth
		p.f.Rect(x, y, w, h, "D")
		p.f.SetXY(x+1, y)
		p.f.MultiCell(w-2, pdfLine-1, p.text(c), "", "L", false)
		x += w
	}
	p.f.SetXY(pdfMargin, y+h)
}

func (p *pdfWriter) figures(fs []report.Figure) {
	if len(fs) == 0 {
		return
	}
	ws := []float64{0.3, 0.25, 0.45}
	p.row([]string{"figure", "value", "source"}, ws, true)
	for _, f := range fs {
		p.row([]string{f.Label, rangeText(f), f.Source}, ws, false)
	}
	p.f.Ln(2)
}

// costChart draws the by-workload cost bars with fpdf primitives.
func (p *pdfWriter) costChart(lines []report.CostLine) {
	bars, ticks := costBars(lines)
	if len(bars) == 0 {
		return
	}
	const scale = pdfWidth / chartW // chart units to millimetres
	_, pageH := p.f.GetPageSize()
	if p.f.GetY()+chartH*scale > pageH-pdfMargin {
		p.f.AddPage()
	}
	x0, y0 := pdfMargin, p.f.GetY()
	p.f.SetDrawColor(200, 205, 215)
	p.f.Rect(x0, y0, chartW*scale, chartH*scale, "D")
	p.f.SetFont("Helvetica", "", 7)
	for _, t := range ticks {
		p.f.Text(x0+2, y0+t.Y*scale, p.text(t.Label))
	}
	for _, b := range bars {
		p.f.SetFillColor(122, 166, 216)
		p.f.Rect(x0+b.X*scale, y0+b.Y*scale, b.W*scale, b.H*scale, "F")
		p.f.SetDrawColor(28, 63, 110)
		p.f.SetLineWidth(0.6)
		p.f.Line(x0+b.X*scale, y0+b.YLow*scale, x0+(b.X+b.W)*scale, y0+b.YLow*scale)
		p.f.SetLineWidth(0.2)
		p.f.Text(x0+b.X*scale, y0+b.LabelY*scale, p.text(b.Label))
	}
	p.f.SetDrawColor(0, 0, 0)
	p.f.SetXY(pdfMargin, y0+chartH*scale+2)
	p.para("Bar: high estimate; dark line: low estimate (on demand, USD per month).")
}

// projectionChart draws the P10-P90 band and the P50 line.
func (p *pdfWriter) projectionChart(bands []report.Band) {
	if len(bands) == 0 {
		return
	}
	maxV, maxM := 0.0, 0
	for _, b := range bands {
		maxV = max(maxV, b.P90)
		maxM = max(maxM, b.Month)
	}
	if maxV <= 0 {
		return
	}
	const scale = pdfWidth / chartW
	_, pageH := p.f.GetPageSize()
	if p.f.GetY()+chartH*scale > pageH-pdfMargin {
		p.f.AddPage()
	}
	x0, y0 := pdfMargin, p.f.GetY()
	px, py := projector(maxV, maxM)
	var poly []fpdf.PointType
	for _, b := range bands {
		poly = append(poly, fpdf.PointType{X: x0 + px(b.Month)*scale, Y: y0 + py(b.P90)*scale})
	}
	for i := len(bands) - 1; i >= 0; i-- {
		poly = append(poly, fpdf.PointType{X: x0 + px(bands[i].Month)*scale, Y: y0 + py(bands[i].P10)*scale})
	}
	p.f.SetDrawColor(200, 205, 215)
	p.f.Rect(x0, y0, chartW*scale, chartH*scale, "D")
	p.f.SetFillColor(185, 211, 238)
	p.f.Polygon(poly, "F")
	p.f.SetDrawColor(28, 63, 110)
	p.f.SetLineWidth(0.6)
	for i := 1; i < len(bands); i++ {
		p.f.Line(x0+px(bands[i-1].Month)*scale, y0+py(bands[i-1].P50)*scale, x0+px(bands[i].Month)*scale, y0+py(bands[i].P50)*scale)
	}
	p.f.SetLineWidth(0.2)
	p.f.SetDrawColor(0, 0, 0)
	p.f.SetFont("Helvetica", "", 7)
	for _, t := range yTicks(maxV) {
		p.f.Text(x0+2, y0+t.Y*scale, p.text(t.Label))
	}
	for _, b := range bands {
		p.f.Text(x0+px(b.Month)*scale-2, y0+(chartH-chartPadB+16)*scale, fmt.Sprintf("m%d", b.Month))
	}
	p.f.SetXY(pdfMargin, y0+chartH*scale+2)
	p.para("Shaded: P10-P90 of monthly cost; line: P50.")
}

// PDF renders the model as a PDF document with the same sections as the other formats.
func PDF(m report.Model) ([]byte, error) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(true, pdfMargin)
	f.SetTitle("Infra Mind report: "+m.Name, true)
	f.SetCreator("Infra Mind", true)
	tr := f.UnicodeTranslatorFromDescriptor("cp1252")
	repl := asciiFallbacks()
	p := &pdfWriter{f: f, tr: func(s string) string { return tr(repl.Replace(s)) }}
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(func() {
		f.SetY(-10)
		f.SetFont("Helvetica", "", 7)
		f.CellFormat(0, 4, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "C", false, 0, "")
	})
	f.AddPage()

	p.heading("Infra Mind report: "+m.Name, 16)
	p.para(fmt.Sprintf("Assessment %s, status %s, generated %s, catalogue %s.", m.AssessmentID, m.Status,
		m.GeneratedAt.UTC().Format("2006-01-02 15:04 MST"), strings.Join(m.CatalogVersions, ", ")))

	p.heading(report.SectionExecutive, 13)
	p.para(m.Executive.Summary)
	for _, fl := range m.Executive.Families {
		p.para(fmt.Sprintf("%s (%s): %s", fl.Family, fl.Status, fl.Summary))
	}
	p.figures(m.Executive.KeyFigures)
	if len(m.Executive.Attention) > 0 {
		p.heading("Needs attention", 10)
		p.items(m.Executive.Attention)
	}

	p.heading(report.SectionNarrative, 13)
	if len(m.Narratives) == 0 {
		p.para(report.NoNarrative)
	}
	for _, n := range m.Narratives {
		p.para(n.Label())
		p.para(n.Overall.Text)
		if n.Overall.Note != "" {
			p.para(n.Overall.Note)
		}
		for _, s := range n.Families {
			p.heading(s.Family, 10)
			p.para(s.Text)
			if s.Note != "" {
				p.para(s.Note)
			}
		}
	}

	p.heading(report.SectionArchitecture, 13)
	if len(m.Architecture) == 0 {
		p.para("No workload was planned.")
	}
	for _, wl := range m.Architecture {
		p.heading(wl.Name, 10)
		if wl.Recommendation != "" {
			p.para("Recommended: " + wl.Recommendation)
		}
		p.items(wl.Items)
		p.figures(wl.Figures)
	}

	p.heading(report.SectionCost, 13)
	ws := []float64{0.25, 0.3, 0.45}
	p.row([]string{"option", "monthly cost (whole plan)", "source"}, ws, true)
	for _, o := range m.Cost.Options {
		v := "no published price for the chosen instances"
		if o.Available {
			v = costText(o.Low, o.High)
		}
		p.row([]string{o.Option, v, o.Source}, ws, false)
	}
	p.f.Ln(2)
	p.heading("By workload (on demand, USD per month)", 10)
	p.costChart(m.Cost.ByWorkload)
	ws3 := []float64{0.35, 0.2, 0.45}
	p.row([]string{"workload", "provider", "monthly cost"}, ws3, true)
	for _, l := range m.Cost.ByWorkload {
		p.row([]string{l.Name, l.Provider, costText(l.Low, l.High)}, ws3, false)
	}
	p.heading("By provider (on demand, USD per month)", 10)
	ws2 := []float64{0.4, 0.6}
	p.row([]string{"provider", "monthly cost"}, ws2, true)
	for _, l := range m.Cost.ByProvider {
		p.row([]string{l.Name, costText(l.Low, l.High)}, ws2, false)
	}
	if len(m.Cost.OneOff) > 0 {
		p.heading("One-off (training), USD", 10)
		for _, l := range m.Cost.OneOff {
			p.row([]string{l.Name, l.Provider, costText(l.Low, l.High)}, ws3, false)
		}
	}
	if len(m.Cost.Unpriced) > 0 {
		p.heading("Sized but not priced", 10)
		p.items(m.Cost.Unpriced)
	}

	p.heading(report.SectionProjection, 13)
	p.para(m.Projection.Summary)
	p.projectionChart(m.Projection.Bands)
	if len(m.Projection.Bands) > 0 {
		w4 := []float64{0.16, 0.28, 0.28, 0.28}
		p.row([]string{"month", "P10", "P50", "P90"}, w4, true)
		for _, b := range m.Projection.Bands {
			p.row([]string{fmt.Sprint(b.Month), money(b.P10), money(b.P50), money(b.P90)}, w4, false)
		}
		p.para("Source: " + m.Projection.Source)
	}
	p.figures(m.Projection.Figures)
	p.items(m.Projection.Items)

	p.heading(report.SectionCompliance, 13)
	p.para(m.Compliance.Summary)
	p.items(m.Compliance.Items)
	p.heading("Gaps", 10)
	if len(m.Compliance.Gaps) == 0 {
		p.para("None found.")
	}
	p.items(m.Compliance.Gaps)
	p.figures(m.Compliance.Figures)

	p.heading(report.SectionMLOps, 13)
	p.para(m.MLOps.Summary)
	p.items(m.MLOps.Items)
	p.figures(m.MLOps.Figures)

	p.heading(report.SectionRoadmap, 13)
	p.para(m.Roadmap.Summary)
	p.items(m.Roadmap.Items)
	p.figures(m.Roadmap.Figures)

	p.heading(report.SectionRisks, 13)
	wr := []float64{0.2, 0.1, 0.08, 0.32, 0.3}
	p.row([]string{"risk", "severity", "score", "why", "mitigation"}, wr, true)
	for _, r := range m.Risks {
		p.row([]string{r.Title, r.Severity, fmt.Sprint(r.Score), r.Why, r.Mitigation}, wr, false)
	}

	p.heading(report.SectionSources, 13)
	p.para("Catalogue version: " + strings.Join(m.Sources.CatalogVersions, ", "))
	if len(m.Sources.Assumptions) > 0 {
		p.heading("Assumptions", 10)
		for _, a := range m.Sources.Assumptions {
			p.para("- " + a)
		}
	}
	p.heading("Sources of the figures", 10)
	for _, s := range m.Sources.Sources {
		p.para(fmt.Sprintf("- %s (%d figures; %s)", s.Text, s.Figures, strings.Join(s.Families, ", ")))
	}

	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("render report %s as PDF: %w", m.AssessmentID, err)
	}
	return buf.Bytes(), nil
}
