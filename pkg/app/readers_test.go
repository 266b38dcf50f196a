package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// fixedPolicy accepts every URL as it is, or refuses each with refuse.
type fixedPolicy struct{ refuse error }

func (p fixedPolicy) CheckURL(_ context.Context, raw string) (string, error) {
	if p.refuse != nil {
		return "", p.refuse
	}
	return raw, nil
}

func TestReportsDiffNeedsBothReports(t *testing.T) {
	t.Parallel()
	repo, reports, recs := apptest.NewAssessments(), apptest.NewReports(), apptest.NewRecommendations()
	svc, err := app.NewReports(app.ReportDeps{Assessments: repo, Reports: reports, Recommendations: recs})
	require.NoError(t, err)
	base := store.Assessment{ID: "a", TenantID: "acme", Status: "completed"}
	other := store.Assessment{ID: "b", TenantID: "acme", Status: "running"}
	body := `{"assessment_id":"a","name":"n","status":"completed","families":[]}`
	require.NoError(t, reports.Upsert(ctx, store.Report{TenantID: "acme", AssessmentID: "a", Body: body}))

	_, err = svc.Diff(ctx, base, other)
	var nc *app.NotComparableError
	require.ErrorAs(t, err, &nc)
	require.Equal(t, "b", nc.ID)
	require.Equal(t, "running", nc.Status)

	require.NoError(t, reports.Upsert(ctx, store.Report{TenantID: "acme", AssessmentID: "b", Body: `{"assessment_id":"b","name":"n","status":"completed","families":[]}`}))
	d, err := svc.Diff(ctx, base, other)
	require.NoError(t, err, "reports without recommendations compare")
	require.Equal(t, "a", d.BaseID)
	require.Equal(t, "b", d.OtherID)
}

func TestWebhooksCreate(t *testing.T) {
	t.Parallel()
	hooks := apptest.NewWebhooks()
	secrets := 0
	newSvc := func(p app.URLPolicy) *app.Webhooks {
		svc, err := app.NewWebhooks(app.WebhookDeps{Store: hooks, Policy: p, EventTypes: []string{"assessment.completed", "assessment.status"},
			NewSecret: func() (string, error) { secrets++; return fmt.Sprintf("whsec_%d", secrets), nil }})
		require.NoError(t, err)
		return svc
	}
	svc := newSvc(fixedPolicy{})

	w, err := svc.Create(ctx, "acme", app.NewWebhook{URL: "https://example.com/h", EventTypes: []string{"assessment.status", "assessment.status"}})
	require.NoError(t, err)
	require.Equal(t, []string{"assessment.status"}, w.EventTypes, "duplicates dropped")
	require.Equal(t, "whsec_1", w.Secret)

	var fe *app.FieldError
	_, err = svc.Create(ctx, "acme", app.NewWebhook{URL: "https://example.com/h", EventTypes: []string{"assessment.deleted"}})
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "event_types", fe.Field)
	_, err = newSvc(fixedPolicy{refuse: fmt.Errorf("must use https")}).Create(ctx, "acme", app.NewWebhook{URL: "http://x", EventTypes: []string{"assessment.status"}})
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "url", fe.Field)
	require.Equal(t, "must use https", fe.Reason)

	for range app.MaxWebhooksPerTenant - 1 {
		_, err := svc.Create(ctx, "acme", app.NewWebhook{URL: "https://example.com/h", EventTypes: []string{"assessment.status"}})
		require.NoError(t, err)
	}
	_, err = svc.Create(ctx, "acme", app.NewWebhook{URL: "https://example.com/h", EventTypes: []string{"assessment.status"}})
	require.ErrorIs(t, err, app.ErrTooManyWebhooks)
	_, err = svc.Create(ctx, "globex", app.NewWebhook{URL: "https://example.com/h", EventTypes: []string{"assessment.status"}})
	require.NoError(t, err, "the cap is per tenant")

	require.ErrorIs(t, svc.Delete(ctx, "globex", w.ID), app.ErrNoWebhook, "another tenant's webhook is not found")
	_, err = svc.Deliveries(ctx, "globex", w.ID)
	require.ErrorIs(t, err, app.ErrNoWebhook)
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	svc, err := app.NewAudit(apptest.NewAuditLog())
	require.NoError(t, err)
	_, err = svc.List(ctx, "", store.AuditQuery{})
	require.ErrorIs(t, err, app.ErrNoTenant, "records of failed sign-ins have no tenant and are nobody's to read")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = svc.List(ctx, "acme", store.AuditQuery{From: at, To: at})
	var fe *app.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "to", fe.Field)
	page, err := svc.List(ctx, "acme", store.AuditQuery{From: at, To: at.Add(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, page.Items)
}

func TestReportsShowTheStoredNarrativesOrSayNoneWasRequested(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, reports, recs, narratives := apptest.NewAssessments(), apptest.NewReports(), apptest.NewRecommendations(), apptest.NewNarratives()
	svc, err := app.NewReports(app.ReportDeps{Assessments: repo, Reports: reports, Recommendations: recs, Narratives: narratives})
	require.NoError(t, err)
	require.NoError(t, repo.Create(ctx, store.Assessment{ID: "a", TenantID: "acme", Status: "completed", Name: "n"}))
	body := `{"assessment_id":"a","name":"n","status":"completed","executive_summary":{"summary":"s","families":[{"family":"cloud","status":"ok"}],"key_figures":[]},"families":[]}`
	require.NoError(t, reports.Upsert(ctx, store.Report{TenantID: "acme", AssessmentID: "a", Body: body}))

	none, err := svc.Report(ctx, "acme", "a", app.FormatJSON)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(none.Body, &got))
	require.Equal(t, report.NoNarrative, got["narrative_note"])
	require.Nil(t, got["narratives"])
	md, err := svc.Report(ctx, "acme", "a", app.FormatMarkdown)
	require.NoError(t, err)
	require.Contains(t, string(md.Body), "## Narrative\n\n"+report.NoNarrative)

	n := report.Narrative{Audience: "cfo", Provider: "azure-eu", Model: "gpt-4o",
		Overall:  report.NarrativeSection{Text: "It costs what the report says.", Generated: true},
		Families: []report.NarrativeSection{{Family: "cloud", Text: "Sized on aws.", Note: "a note"}}}
	b, err := json.Marshal(n)
	require.NoError(t, err)
	require.NoError(t, narratives.Upsert(ctx, store.Narrative{TenantID: "acme", AssessmentID: "a", Audience: "cfo", Body: string(b)}))
	// Another tenant's narrative of an assessment with the same id is not shown.
	require.NoError(t, narratives.Upsert(ctx, store.Narrative{TenantID: "globex", AssessmentID: "a", Audience: "cto", Body: `{"audience":"cto"}`}))

	withOne, err := svc.Report(ctx, "acme", "a", app.FormatJSON)
	require.NoError(t, err)
	got = nil
	require.NoError(t, json.Unmarshal(withOne.Body, &got))
	require.Nil(t, got["narrative_note"])
	list, ok := got["narratives"].([]any)
	require.True(t, ok, "narratives: %v", got["narratives"])
	require.Len(t, list, 1)
	require.Equal(t, "azure-eu", list[0].(map[string]any)["provider"])
	require.True(t, strings.HasPrefix(string(withOne.Body), body[:len(body)-1]), "the stored fields are kept as stored")

	md, err = svc.Report(ctx, "acme", "a", app.FormatMarkdown)
	require.NoError(t, err)
	require.Contains(t, string(md.Body), "*Generated by gpt-4o (azure-eu) for the CFO; every number in it was checked against this report.*")
	require.Contains(t, string(md.Body), "It costs what the report says.")
	require.Contains(t, string(md.Body), "**cloud**: Sized on aws.")
	require.NotContains(t, string(md.Body), report.NoNarrative)
}
