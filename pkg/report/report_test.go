package report_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/report/render"
)

// exampleResults runs the six families' analyses on a bundled example, as
// the workers do (families without upstream first).
func exampleResults(t testing.TB, file string) (*inframindv1.AssessmentRequest, map[string]*inframindv1.AgentResultPublished) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	require.NoError(t, err)
	req, err := assessment.ParseRequest(doc)
	require.NoError(t, err)
	return req, analyse(t, req)
}

// analyse runs the six families' analyses on req.
func analyse(t testing.TB, req *inframindv1.AssessmentRequest) map[string]*inframindv1.AgentResultPublished {
	t.Helper()
	cat, err := catalog.Load()
	require.NoError(t, err)
	an, err := analysis.New(cat)
	require.NoError(t, err)
	order := slices.Clone(assessment.Families())
	slices.SortStableFunc(order, func(a, b assessment.Family) int {
		return len(analysis.Upstream(a)) - len(analysis.Upstream(b))
	})
	up := map[assessment.Family]*inframindv1.AgentResultPublished{}
	all := map[string]*inframindv1.AgentResultPublished{}
	for _, f := range order {
		o, err := an.Analyze(f, req, up)
		res := &inframindv1.AgentResultPublished{Family: string(f), Status: "ok", CatalogVersion: an.CatalogVersion(),
			Summary: o.Summary, Metrics: o.Metrics, Findings: o.Findings, CostBands: o.CostBands}
		if err != nil {
			res = &inframindv1.AgentResultPublished{Family: string(f), Status: "failed", Error: err.Error(), CatalogVersion: an.CatalogVersion()}
		}
		up[f], all[string(f)] = res, res
	}
	return all
}

// storedReport writes the report document of a bundled example as the
// synthesizer does.
func storedReport(t testing.TB, file string) []byte {
	t.Helper()
	req, results := exampleResults(t, file)
	b, err := report.Encode(report.Build(report.Input{AssessmentID: "0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e", TenantID: "acme",
		Name: req.GetName(), Status: "completed", GeneratedAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Results: results}))
	require.NoError(t, err)
	return b
}

// model decodes a stored report document's model.
func model(t testing.TB, b []byte) report.Model {
	t.Helper()
	d, err := report.Decode(b)
	require.NoError(t, err)
	return d.Model
}

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// headings returns the text of every h2 and the ids of every svg in an HTML document.
func headings(t *testing.T, doc []byte) (h2 []string, svgs []string) {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	require.NoError(t, err)
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "h2" && n.FirstChild != nil {
			h2 = append(h2, n.FirstChild.Data)
		}
		if n.Type == html.ElementNode && n.Data == "svg" {
			for _, a := range n.Attr {
				if a.Key == "id" {
					svgs = append(svgs, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return h2, svgs
}

func TestEveryExampleRendersEverySection(t *testing.T) {
	t.Parallel()
	for _, file := range examples(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			m := model(t, storedReport(t, file))

			md := string(render.Markdown(m))
			for _, s := range report.Sections() {
				require.Contains(t, md, "\n## "+s+"\n", "markdown section %q", s)
			}

			doc, err := render.HTML(m)
			require.NoError(t, err)
			h2, svgs := headings(t, doc)
			require.Equal(t, report.Sections(), h2)
			require.ElementsMatch(t, []string{"cost-chart", "projection-chart"}, svgs)

			pdf, err := render.PDF(m)
			require.NoError(t, err)
			require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
			require.Contains(t, string(pdf), "/Type /Pages")
			require.GreaterOrEqual(t, bytes.Count(pdf, []byte("/Type /Page\n")), 2)

			js, err := render.JSON(m)
			require.NoError(t, err)
			var back report.Model
			require.NoError(t, json.Unmarshal(js, &back))
			require.Equal(t, m.AssessmentID, back.AssessmentID)
		})
	}
}

func TestChatbotReportCarriesTheFamiliesFigures(t *testing.T) {
	t.Parallel()
	m := model(t, storedReport(t, "chatbot-70b-hipaa-us.yaml"))

	// Architecture per workload, with the cloud family's choice and provider.
	require.Equal(t, "patient-chat", m.Architecture[0].Name)
	require.Equal(t, "azure", m.Architecture[0].Provider)
	require.Contains(t, m.Architecture[0].Recommendation, "NC80adis_H100_v5")

	// Cost options: on demand is priced; a missing commitment price is shown as
	// unavailable, never as zero.
	require.Equal(t, "On demand", m.Cost.Options[0].Option)
	require.True(t, m.Cost.Options[0].Available)
	require.Less(t, m.Cost.Options[0].Low, m.Cost.Options[0].High)
	for _, o := range m.Cost.Options {
		if !o.Available {
			require.Zero(t, o.Low)
		}
	}
	// The provider breakdown adds up the workloads.
	var wl, pv float64
	for _, l := range m.Cost.ByWorkload {
		wl += l.High
	}
	for _, l := range m.Cost.ByProvider {
		pv += l.High
	}
	require.InDelta(t, wl, pv, 1e-6)
	require.NotEmpty(t, m.Cost.ByWorkload)

	// Projection: P10 <= P50 <= P90 each month, months ascending.
	require.NotEmpty(t, m.Projection.Bands)
	for i, b := range m.Projection.Bands {
		require.LessOrEqual(t, b.P10, b.P50)
		require.LessOrEqual(t, b.P50, b.P90)
		if i > 0 {
			require.Greater(t, b.Month, m.Projection.Bands[i-1].Month)
		}
	}
	// Risk register sorted by score, with a mitigation each.
	require.NotEmpty(t, m.Risks)
	for i, r := range m.Risks {
		require.NotEmpty(t, r.Mitigation, r.Title)
		if i > 0 {
			require.LessOrEqual(t, r.Score, m.Risks[i-1].Score)
		}
	}
	// Every figure's source is listed once, with the catalogue version.
	require.NotEmpty(t, m.Sources.Sources)
	require.NotEmpty(t, m.Sources.CatalogVersions)
	texts := map[string]bool{}
	for _, s := range m.Sources.Sources {
		require.False(t, texts[s.Text], "duplicate source %q", s.Text)
		texts[s.Text] = true
	}
}

func TestTextIsEscapedAndUTF8KeepsThePDFValid(t *testing.T) {
	t.Parallel()
	risk := &inframindv1.Finding{Title: "Risk: <b>bold</b> (P1 x I2 = 2)", Detail: "Why: – “quoted” Mitigation: ✓ done", Kind: analysis.KindRisk,
		Risk: &inframindv1.Risk{Title: "<b>bold</b>", Probability: 1, Impact: 2, Score: 2, Why: "– “quoted”", Mitigation: "✓ done"}}
	b, err := report.Encode(report.Build(report.Input{AssessmentID: "a1", Name: `<script>alert("x")</script> Zürich ≥ 2× → 日本`, Status: "completed",
		Results: map[string]*inframindv1.AgentResultPublished{"strategy": {Family: "strategy", Status: "ok", Findings: []*inframindv1.Finding{risk}}}}))
	require.NoError(t, err)
	m := model(t, b)
	doc, err := render.HTML(m)
	require.NoError(t, err)
	require.NotContains(t, string(doc), "<script>alert")
	require.NotContains(t, string(doc), "<b>bold</b>")
	require.Contains(t, string(doc), "Zürich")
	pdf, err := render.PDF(m)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	require.True(t, strings.HasSuffix(strings.TrimSpace(string(pdf)), "%%EOF"))
}

func TestDecodeRejectsWhatIsNotAReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
	}{
		{"not json", "{"},
		{"no assessment id", `{"name":"x"}`},
		{"no report model", `{"assessment_id":"a1","families":[{"family":"cloud","status":"ok"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := report.Decode([]byte(tc.doc))
			require.Error(t, err)
		})
	}
}

func TestEveryFormatShowsTheNarrativeMarkedAsGenerated(t *testing.T) {
	t.Parallel()
	m := model(t, storedReport(t, "startup-rag.yaml"))
	m.Narratives = []report.Narrative{{Audience: "cto", Provider: "vllm-local", Model: "llama-3.1-8b-instruct",
		Overall: report.NarrativeSection{Text: `Run it on one GPU. <script>alert("x")</script>`, Generated: true},
		Families: []report.NarrativeSection{{Family: "cloud", Text: "The deterministic summary.",
			Note: "The generated text stated numbers that are not in this report (99), twice; the deterministic summary is shown instead."}}}}
	label := "Generated by llama-3.1-8b-instruct (vllm-local) for the CTO"

	md := string(render.Markdown(m))
	require.Contains(t, md, "## Narrative\n\n*"+label)
	require.Contains(t, md, "Run it on one GPU. &lt;script&gt;")
	require.Contains(t, md, "**cloud**: The deterministic summary.")
	require.Contains(t, md, "not in this report (99)")
	require.NotContains(t, md, report.NoNarrative)

	doc, err := render.HTML(m)
	require.NoError(t, err)
	h2, _ := headings(t, doc)
	require.Equal(t, report.Sections(), h2)
	require.Contains(t, string(doc), label)
	require.Contains(t, string(doc), "Run it on one GPU.")
	require.NotContains(t, string(doc), "<script>alert")

	pdf, err := render.PDF(m)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	without, err := render.PDF(model(t, storedReport(t, "startup-rag.yaml")))
	require.NoError(t, err)
	require.Greater(t, len(pdf), len(without), "the narrative adds to the PDF")

	m.Narratives = nil
	html, err := render.HTML(m)
	require.NoError(t, err)
	require.Contains(t, string(html), report.NoNarrative)
	require.Contains(t, string(render.Markdown(m)), report.NoNarrative)
}

// TestEncodeKeepsTheStoredForm holds Encode to the form reports have always
// been stored in: the document encoded, decoded into its top-level fields
// and encoded again (which sorts them), for every example and for one with
// every optional field set and text that JSON escapes.
func TestEncodeKeepsTheStoredForm(t *testing.T) {
	t.Parallel()
	sorted := func(t *testing.T, d report.Document) []byte {
		t.Helper()
		b, err := json.Marshal(d)
		require.NoError(t, err)
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &fields))
		out, err := json.Marshal(fields)
		require.NoError(t, err)
		return out
	}
	for _, file := range examples(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			req, results := exampleResults(t, file)
			d := report.Build(report.Input{AssessmentID: "0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e", TenantID: "acme",
				Name: req.GetName() + ` <b>"&"</b> é`, Status: "partial", Missing: []string{"research"},
				Reason: "deadline passed with no result from: research", GeneratedAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
				Results: results})
			got, err := report.Encode(d)
			require.NoError(t, err)
			require.Equal(t, string(sorted(t, d)), string(got))

			d.Narratives = []report.Narrative{{Audience: "cto", Provider: "p", Model: "m",
				Overall: report.NarrativeSection{Text: "a <b> & c", Generated: true}}}
			got, err = report.Encode(d)
			require.NoError(t, err)
			require.Equal(t, string(sorted(t, d)), string(got))
		})
	}
}
