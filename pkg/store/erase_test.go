package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// seedDerived writes everything the pipeline, the consultant and the webhook
// dispatcher derive from assessment a, with deliveries of the given events.
func seedDerived(t *testing.T, s *store.Store, a store.Assessment, hookID string, events ...string) {
	t.Helper()
	ctx := t.Context()
	tenant := a.TenantID
	require.NoError(t, s.Reports.Create(ctx, store.Report{TenantID: tenant, AssessmentID: a.ID, Status: "completed", Body: `{"name":"secret plan"}`}))
	require.NoError(t, s.Recommendations.Create(ctx, store.Recommendations{TenantID: tenant, AssessmentID: a.ID, Status: "completed"}))
	for _, audience := range []string{"cto", "cfo"} {
		require.NoError(t, s.Narratives.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: a.ID, Audience: audience, Body: `{}`}))
	}
	require.NoError(t, s.Results.Upsert(ctx, store.Result{TenantID: tenant, AssessmentID: a.ID, Family: "cloud", Data: `{}`}))
	conv := uniq("conversation")
	require.NoError(t, s.Conversations.Create(ctx, store.Conversation{Key: store.ConversationKey(tenant, conv), ConversationID: conv,
		TenantID: tenant, AssessmentID: a.ID, UserID: "u1", Title: "why not H100?",
		Messages: []store.ChatMessage{{Role: "user", Content: "why not H100 for secret plan?", CreatedAt: ms(time.Now())}}, Turns: 1,
		CreatedAt: ms(time.Now()), UpdatedAt: ms(time.Now())}))
	_, _, err := s.Assessments.Finish(ctx, tenant, a.ID, string(assessment.StatusCompleted), nil, "", time.Time{})
	require.NoError(t, err)
	_, err = s.Assessments.ClaimAnnouncement(ctx, tenant, a.ID, "owner", time.Time{})
	require.NoError(t, err)
	for _, e := range events {
		require.NoError(t, s.Webhooks.CreateDelivery(ctx, store.Delivery{ID: store.DeliveryID(tenant, hookID, e), TenantID: tenant,
			WebhookID: hookID, EventID: e, EventType: "assessment.completed", Status: store.DeliverySucceeded}))
	}
}

// requireDerived checks whether a's report, recommendations, narratives,
// conversations and results are readable (want true) or all gone (want false).
func requireDerived(t *testing.T, s *store.Store, a store.Assessment, want bool, msg string) {
	t.Helper()
	ctx := t.Context()
	_, err := s.Reports.Get(ctx, a.TenantID, a.ID)
	require.Equal(t, want, err == nil, "report: %s (%v)", msg, err)
	_, err = s.Recommendations.Get(ctx, a.TenantID, a.ID)
	require.Equal(t, want, err == nil, "recommendations: %s (%v)", msg, err)
	ns, err := s.Narratives.List(ctx, a.TenantID, a.ID)
	require.NoError(t, err)
	require.Equal(t, want, len(ns) == 2, "narratives: %s", msg)
	cs, err := s.Conversations.List(ctx, a.TenantID, "u1", a.ID)
	require.NoError(t, err)
	require.Equal(t, want, len(cs) == 1, "conversations: %s", msg)
	rs, err := s.Results.List(ctx, a.TenantID, a.ID)
	require.NoError(t, err)
	require.Equal(t, want, len(rs) == 1, "results: %s", msg)
	_, err = s.Assessments.Get(ctx, a.TenantID, a.ID)
	require.Equal(t, want, err == nil, "assessment: %s (%v)", msg, err)
}

func testErase(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant, other := uniq("tenant"), uniq("tenant")
	hook, err := s.Webhooks.Create(ctx, store.Webhook{TenantID: tenant, ID: uniq("hook"), URL: "https://example.com/h",
		EventTypes: []string{"assessment.completed"}, Secret: "s"})
	require.NoError(t, err)

	gone := create(t, s, newAssessment(tenant, ms(time.Now())))
	kept := create(t, s, newAssessment(tenant, ms(time.Now())))
	// Another tenant's assessment under the same id: a key mixing tenants
	// would reach it.
	twin := newAssessment(other, ms(time.Now()))
	twin.ID = gone.ID
	twin = create(t, s, twin)
	seedDerived(t, s, gone, hook.ID, "ev-gone-1", "ev-gone-2")
	seedDerived(t, s, kept, hook.ID, "ev-kept")
	seedDerived(t, s, twin, hook.ID, "ev-gone-1")

	ids, err := s.Webhooks.DeliveryIDs(ctx, tenant, []string{"ev-gone-1", "ev-gone-2"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{store.DeliveryID(tenant, hook.ID, "ev-gone-1"), store.DeliveryID(tenant, hook.ID, "ev-gone-2")}, ids)

	// A version of the erased assessment, erased with it by the use case.
	child := newAssessment(tenant, ms(time.Now()))
	child.ParentID, child.Kind, child.Version = gone.ID, store.KindVersion, 2
	child = create(t, s, child)
	kids, err := s.Assessments.Children(ctx, tenant, gone.ID, store.KindVersion)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	_, err = s.EraseDerived(ctx, tenant, child.ID, nil)
	require.NoError(t, err)
	require.NoError(t, s.Assessments.Delete(ctx, tenant, child.ID))

	erased, err := s.EraseDerived(ctx, tenant, gone.ID, []string{"ev-gone-1", "ev-gone-2"})
	require.NoError(t, err)
	if n, ok := erased["read_model"]; ok {
		require.EqualValues(t, 2, n, "the read model's copies of the report and recommendations")
		delete(erased, "read_model")
	}
	require.Equal(t, store.Erased{store.CollReports: 1, store.CollRecommendations: 1, store.CollNarratives: 2, store.CollResults: 1,
		store.CollFinishes: 1, store.CollAnnouncements: 1, store.CollDeliveries: 2, store.CollConversations: 1}, erased)
	require.NoError(t, s.Assessments.Delete(ctx, tenant, gone.ID))

	requireDerived(t, s, gone, false, "the erased assessment")
	kids, err = s.Assessments.Children(ctx, tenant, gone.ID, store.KindVersion)
	require.NoError(t, err)
	require.Empty(t, kids, "the erased version is not listed")
	page, err := s.Assessments.List(ctx, tenant, store.ListOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "the list shows only the tenant's other assessment")
	require.Equal(t, kept.ID, page.Items[0].ID)
	requireDerived(t, s, kept, true, "the tenant's other assessment")
	requireDerived(t, s, twin, true, "another tenant's assessment under the same id")
	logged, err := s.Webhooks.ListDeliveries(ctx, tenant, hook.ID)
	require.NoError(t, err)
	require.Len(t, logged, 1)
	require.Equal(t, "ev-kept", logged[0].EventID, "only the erased assessment's deliveries go")
	_, err = s.Webhooks.GetDelivery(ctx, other, store.DeliveryID(other, hook.ID, "ev-gone-1"))
	require.NoError(t, err, "another tenant's delivery of an event with the same id stays")

	again, err := s.EraseDerived(ctx, tenant, gone.ID, []string{"ev-gone-1"})
	require.NoError(t, err, "erasing again is not an error")
	require.Zero(t, again.Total())
	require.ErrorIs(t, s.Assessments.Delete(ctx, tenant, gone.ID), store.ErrNotFound)
	require.ErrorIs(t, s.Assessments.Delete(ctx, uniq("tenant"), kept.ID), store.ErrNotFound, "another tenant's id is not found")
	requireDerived(t, s, kept, true, "a delete under another tenant touches nothing")
	_, err = s.EraseDerived(ctx, "", gone.ID, nil)
	require.ErrorIs(t, err, store.ErrInvalid)
}
