package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestReportFormats(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	ctx := context.Background()
	id := f.finished(t, "acme", "chat bot", "completed")
	// The report as the synthesizer writes it: the families' results and the model built from them.
	doc, err := report.Encode(report.Build(report.Input{AssessmentID: id, TenantID: "acme", Name: "Chat bot: 70B", Status: "completed",
		Results: map[string]*inframindv1.AgentResultPublished{"cloud": {Family: "cloud", Status: "ok", CatalogVersion: "v1",
			Metrics: []*inframindv1.Metric{
				{Name: "monthly_cost_usd_low", Value: 10, Unit: "USD/month", Source: "s1"},
				{Name: "monthly_cost_usd_high", Value: 20, Unit: "USD/month", Source: "s1"},
			}}}}))
	require.NoError(t, err)
	body := string(doc)
	require.NoError(t, f.reports.Upsert(ctx, store.Report{
		ID: assessment.DeterministicID("acme", id), TenantID: "acme", AssessmentID: id, Status: "completed", Body: body, CreatedAt: time.Now(),
	}))
	path := "/v1/assessments/" + id + "/report"
	tests := []struct {
		name, query, accept string
		status              int
		contentType         string
		disposition         string
		bodyPrefix          string
	}{
		{name: "default json", status: 200, contentType: "application/json", bodyPrefix: "{"},
		{name: "format json", query: "json", status: 200, contentType: "application/json", bodyPrefix: "{"},
		{name: "format markdown", query: "markdown", status: 200, contentType: "text/markdown",
			disposition: `attachment; filename=infra-mind-chat-bot-70b-` + id + `.md`, bodyPrefix: "# Infra Mind report"},
		{name: "format html", query: "html", status: 200, contentType: "text/html", disposition: "inline; filename=infra-mind-chat-bot-70b-" + id + ".html", bodyPrefix: "<!DOCTYPE html>"},
		{name: "format pdf", query: "pdf", status: 200, contentType: "application/pdf",
			disposition: `attachment; filename=infra-mind-chat-bot-70b-` + id + `.pdf`, bodyPrefix: "%PDF-"},
		{name: "accept pdf", accept: "application/pdf", status: 200, contentType: "application/pdf", bodyPrefix: "%PDF-"},
		{name: "accept markdown", accept: "text/markdown", status: 200, contentType: "text/markdown", bodyPrefix: "# "},
		{name: "accept html from a browser", accept: "text/html,application/xhtml+xml,*/*;q=0.8", status: 200, contentType: "text/html", bodyPrefix: "<!DOCTYPE"},
		{name: "accept q values", accept: "application/json;q=0.2, application/pdf", status: 200, contentType: "application/pdf", bodyPrefix: "%PDF-"},
		{name: "query beats accept", query: "markdown", accept: "application/pdf", status: 200, contentType: "text/markdown", bodyPrefix: "# "},
		{name: "unsupported accept", accept: "image/png", status: 406, contentType: "application/problem+json"},
		{name: "excluded by q=0", accept: "application/json;q=0", status: 406, contentType: "application/problem+json"},
		{name: "bad format", query: "docx", status: 400, contentType: "application/problem+json", bodyPrefix: "{"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.query != "" {
				p += "?format=" + tc.query
			}
			hdr := map[string]string{}
			if tc.accept != "" {
				hdr["Accept"] = tc.accept
			}
			resp := f.do(t, http.MethodGet, p, "acme", "", nil, hdr)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, string(b))
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType), resp.Header.Get("Content-Type"))
			if tc.disposition != "" {
				require.Equal(t, tc.disposition, resp.Header.Get("Content-Disposition"))
			}
			require.True(t, strings.HasPrefix(string(b), tc.bodyPrefix), string(b[:min(len(b), 80)]))
			if tc.status == 400 {
				require.Contains(t, string(b), `"field":"format"`)
			}
			if tc.contentType == "application/json" {
				// The stored document: the families' results and the model's sections.
				require.Contains(t, string(b), `"families"`)
				require.Contains(t, string(b), `"executive_summary"`)
			}
		})
	}

	// Another tenant gets no report in any format.
	resp := f.do(t, http.MethodGet, path+"?format=pdf", "globex", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
}

// A report stored before reports carried their model is served as JSON and,
// in any other format, answers a problem saying so: never a 500.
func TestReportStoredWithoutAModel(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	id := f.finished(t, "acme", "old report", "completed")
	require.NoError(t, f.reports.Upsert(context.Background(), store.Report{TenantID: "acme", AssessmentID: id, Status: "completed",
		Body: `{"assessment_id":"` + id + `","name":"Old report","status":"completed","families":[{"family":"cloud","status":"ok"}]}`}))
	path := "/v1/assessments/" + id + "/report"

	resp := f.do(t, http.MethodGet, path, "acme", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "Old report", decodeBody[map[string]any](t, resp)["name"])
	for _, format := range []string{"markdown", "html", "pdf"} {
		t.Run(format, func(t *testing.T) {
			for _, hdr := range []map[string]string{nil, {"Accept": map[string]string{"markdown": "text/markdown", "html": "text/html", "pdf": "application/pdf"}[format]}} {
				p := path + "?format=" + format
				if hdr != nil {
					p = path
				}
				resp := f.do(t, http.MethodGet, p, "acme", "", nil, hdr)
				require.Equal(t, http.StatusNotAcceptable, resp.StatusCode)
				require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
				prob := decodeBody[Problem](t, resp)
				require.Equal(t, ProblemNotAcceptable, prob.Type)
				require.Contains(t, prob.Detail, "available as JSON")
				require.Contains(t, prob.Detail, path[:len(path)-len("/report")]+"/versions", "the answer says how to get a renderable report")
			}
		})
	}
}

func TestReportFileName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "Patient support chatbot (Llama 3.1 70B)", "infra-mind-patient-support-chatbot-llama-3-1-70b-ID.pdf"},
		{"only symbols", "***", "infra-mind-ID.pdf"},
		{"non-ascii dropped", "Zürich bot", "infra-mind-z-rich-bot-ID.pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, reportFileName(tc.in, "ID", "pdf"))
		})
	}
}
