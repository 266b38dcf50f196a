package adapters_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// The ports the report, webhook and audit use cases read through, with the
// writes the pipeline makes to them (the synthesizer's upserts, the
// dispatcher's delivery log, the audit recorder's appends) so a test can set
// them up the same way on the fake and the store.

type reportStore interface {
	app.ReportStore
	Upsert(ctx context.Context, rep store.Report) error
}

type recommendationStore interface {
	app.RecommendationStore
	Upsert(ctx context.Context, rec store.Recommendations) error
}

type narrativeStore interface {
	app.NarrativeStore
	Get(ctx context.Context, tenant, assessmentID, audience string) (store.Narrative, error)
	Upsert(ctx context.Context, n store.Narrative) error
}

type webhookStore interface {
	app.WebhookStore
	SaveDelivery(ctx context.Context, d store.Delivery) error
}

type auditLog interface {
	app.AuditLog
	Append(ctx context.Context, rec audit.Record) error
}

// readerContracts runs the contracts of the report, webhook and audit ports
// on the fakes and on st and ch.
func readerContracts(t *testing.T, st *store.Store, ch *cache.Cache) {
	redisCache, err := adapters.NewRedisReportCache(ch, time.Minute)
	require.NoError(t, err)
	for name, r := range map[string]reportStore{"fake": apptest.NewReports(), "store": st.Reports} {
		t.Run("reports/"+name, func(t *testing.T) {
			t.Parallel()
			testReportStoreContract(t, r)
		})
	}
	for name, r := range map[string]recommendationStore{"fake": apptest.NewRecommendations(), "store": st.Recommendations} {
		t.Run("recommendations/"+name, func(t *testing.T) {
			t.Parallel()
			testRecommendationStoreContract(t, r)
		})
	}
	for name, n := range map[string]narrativeStore{"fake": apptest.NewNarratives(), "store": st.Narratives} {
		t.Run("narratives/"+name, func(t *testing.T) {
			t.Parallel()
			testNarrativeStoreContract(t, n)
		})
	}
	for name, c := range map[string]app.ReportCache{"fake": apptest.NewReportCache(), "redis": redisCache} {
		t.Run("report-cache/"+name, func(t *testing.T) {
			t.Parallel()
			testReportCacheContract(t, c)
		})
	}
	for name, w := range map[string]webhookStore{"fake": apptest.NewWebhooks(), "store": st.Webhooks} {
		t.Run("webhooks/"+name, func(t *testing.T) {
			t.Parallel()
			testWebhookStoreContract(t, w)
		})
	}
	for name, l := range map[string]auditLog{"fake": apptest.NewAuditLog(), "store": st.Audit} {
		t.Run("audit/"+name, func(t *testing.T) {
			t.Parallel()
			testAuditLogContract(t, l)
		})
	}
}

func testReportStoreContract(t *testing.T, r reportStore) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id := uuid.NewString()
	_, err := r.Get(ctx, tenant, id)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, r.Upsert(ctx, store.Report{TenantID: tenant, AssessmentID: id, Status: "completed", Body: `{"assessment_id":"` + id + `"}`}))
	got, err := r.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.Equal(t, store.ReportID(tenant, id), got.ID, "an empty id becomes ReportID")
	require.Equal(t, `{"assessment_id":"`+id+`"}`, got.Body)
	require.Equal(t, "completed", got.Status)
	require.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)

	require.NoError(t, r.Upsert(ctx, store.Report{TenantID: tenant, AssessmentID: id, Status: "partial", Body: `{"v":2}`}), "upsert replaces")
	got, err = r.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.Equal(t, `{"v":2}`, got.Body)
	require.Equal(t, "partial", got.Status)

	_, err = r.Get(ctx, other, id)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's report reads like a missing one")
	require.ErrorIs(t, r.Upsert(ctx, store.Report{ID: "x", TenantID: tenant, AssessmentID: id}), store.ErrInvalid)
	require.ErrorIs(t, r.Upsert(ctx, store.Report{AssessmentID: id}), store.ErrInvalid)
	_, err = r.Get(ctx, "", id)
	require.ErrorIs(t, err, store.ErrInvalid)
}

func testRecommendationStoreContract(t *testing.T, r recommendationStore) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id := uuid.NewString()
	_, err := r.Get(ctx, tenant, id)
	require.ErrorIs(t, err, store.ErrNotFound)

	set := recommend.Set{
		Recommendations: []recommend.Recommendation{
			{ID: "r1", Category: "cost", Priority: "high", Family: "cloud", Action: "a", Rationale: "b", Effort: "low", Confidence: 0.8,
				MonthlyUSD: &recommend.CostImpact{LowUSD: 10, HighUSD: 20}},
			{ID: "r2", Category: "risk", Priority: "low", Family: "strategy", Action: "c", Rationale: "d", Effort: "high", Confidence: 0.5},
		},
		Resolutions: []recommend.Resolution{}, EffortRule: "e", ConfidenceRule: "c",
	}
	require.NoError(t, r.Upsert(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id, Status: "completed", Set: set}))
	got, err := r.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.Equal(t, store.RecommendationsID(tenant, id), got.ID)
	want, err := json.Marshal(set)
	require.NoError(t, err)
	have, err := json.Marshal(got.Set)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(have), "the list reads back as written, in order")

	_, err = r.Get(ctx, other, id)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's list reads like a missing one")
	require.ErrorIs(t, r.Upsert(ctx, store.Recommendations{ID: store.ReportID(tenant, id), TenantID: tenant, AssessmentID: id}), store.ErrInvalid,
		"the report's id is not the recommendations' id")
}

func testReportCacheContract(t *testing.T, c app.ReportCache) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id := uuid.NewString()
	_, hit, err := c.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.False(t, hit)

	require.NoError(t, c.Put(ctx, tenant, id, []byte(`{"assessment_id": "`+id+`", "n": 1}`)))
	body, hit, err := c.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.True(t, hit)
	require.JSONEq(t, `{"assessment_id":"`+id+`","n":1}`, string(body))

	_, hit, err = c.Get(ctx, other, id)
	require.NoError(t, err)
	require.False(t, hit, "another tenant never reads the cached copy")

	require.NoError(t, c.Put(ctx, tenant, id, []byte(`{"n":2}`)))
	body, hit, err = c.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.True(t, hit)
	require.JSONEq(t, `{"n":2}`, string(body))
}

func testWebhookStoreContract(t *testing.T, w webhookStore) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	mk := func(tenant string, at time.Time) store.Webhook {
		return store.Webhook{ID: uuid.NewString(), TenantID: tenant, URL: "https://hooks.example.com/x",
			EventTypes: []string{"assessment.completed"}, Secret: "whsec_test", CreatedAt: at}
	}

	first := mk(tenant, at.Add(time.Second))
	created, err := w.Create(ctx, first)
	require.NoError(t, err)
	require.Equal(t, store.WebhookKey(tenant, first.ID), created.Key)
	_, err = w.Create(ctx, first)
	require.ErrorIs(t, err, store.ErrConflict)
	second := mk(tenant, at)
	_, err = w.Create(ctx, second)
	require.NoError(t, err)
	_, err = w.Create(ctx, mk(other, at))
	require.NoError(t, err)
	bad := mk(tenant, at)
	bad.EventTypes = nil
	_, err = w.Create(ctx, bad)
	require.ErrorIs(t, err, store.ErrInvalid)

	got, err := w.Get(ctx, tenant, first.ID)
	require.NoError(t, err)
	require.Equal(t, first.URL, got.URL)
	require.Equal(t, "whsec_test", got.Secret)
	require.True(t, got.CreatedAt.Equal(at.Add(time.Second).Truncate(time.Millisecond)), "times keep milliseconds: %v", got.CreatedAt)
	_, err = w.Get(ctx, other, first.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's webhook reads like a missing one")

	list, err := w.List(ctx, tenant)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{second.ID, first.ID}, []string{list[0].ID, list[1].ID}, "oldest first")
	none, err := w.List(ctx, uniq("nobody"))
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	// The delivery log: newest first, per webhook and tenant, kept after the webhook is deleted.
	var want []string
	for i := range 3 {
		ev := uuid.NewString()
		d := store.Delivery{ID: store.DeliveryID(tenant, first.ID, ev), TenantID: tenant, WebhookID: first.ID, EventID: ev,
			EventType: "assessment.completed", Status: store.DeliverySucceeded, CreatedAt: at.Add(time.Duration(i) * time.Minute),
			Attempts: []store.DeliveryAttempt{{Attempt: 1, At: at, StatusCode: 204}}}
		require.NoError(t, w.SaveDelivery(ctx, d))
		want = append([]string{d.ID}, want...)
	}
	ev := uuid.NewString()
	require.NoError(t, w.SaveDelivery(ctx, store.Delivery{ID: store.DeliveryID(tenant, second.ID, ev), TenantID: tenant, WebhookID: second.ID, EventID: ev}))
	require.ErrorIs(t, w.SaveDelivery(ctx, store.Delivery{ID: "x", TenantID: tenant, WebhookID: first.ID, EventID: ev}), store.ErrInvalid)
	deliveries, err := w.ListDeliveries(ctx, tenant, first.ID)
	require.NoError(t, err)
	var ids []string
	for _, d := range deliveries {
		ids = append(ids, d.ID)
	}
	require.Equal(t, want, ids)
	require.Equal(t, 204, deliveries[0].Attempts[0].StatusCode)
	theirs, err := w.ListDeliveries(ctx, other, first.ID)
	require.NoError(t, err)
	require.Empty(t, theirs, "another tenant reads none of the log")

	require.ErrorIs(t, w.Delete(ctx, other, first.ID), store.ErrNotFound, "another tenant cannot delete it")
	require.NoError(t, w.Delete(ctx, tenant, first.ID))
	require.ErrorIs(t, w.Delete(ctx, tenant, first.ID), store.ErrNotFound)
	_, err = w.Get(ctx, tenant, first.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	kept, err := w.ListDeliveries(ctx, tenant, first.ID)
	require.NoError(t, err)
	require.Len(t, kept, 3, "the log outlives the webhook")
}

func testAuditLogContract(t *testing.T, l auditLog) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	rec := func(tenant, action, actor string, at time.Time) audit.Record {
		return audit.Record{ID: uuid.NewString(), Time: at, Tenant: tenant, Actor: actor, Action: action,
			Resource: audit.Resource{Type: "assessment"}, Outcome: audit.Success, Status: 200}
	}
	var all []audit.Record
	for i := range 5 {
		action := "assessment.read"
		if i%2 == 1 {
			action = "assessment.create"
		}
		r := rec(tenant, action, "user-"+string(rune('a'+i%2)), at.Add(time.Duration(i)*time.Second))
		require.NoError(t, l.Append(ctx, r))
		all = append([]audit.Record{r}, all...)
	}
	// Two records in one millisecond page by id.
	same := rec(tenant, "assessment.read", "user-a", at.Add(10*time.Second))
	twin := rec(tenant, "assessment.read", "user-a", at.Add(10*time.Second))
	require.NoError(t, l.Append(ctx, same))
	require.NoError(t, l.Append(ctx, twin))
	require.NoError(t, l.Append(ctx, rec(other, "assessment.read", "user-a", at)))
	require.NoError(t, l.Append(ctx, rec("", "auth.failed", audit.Anonymous, at)), "failed authentications have no tenant")
	err := l.Append(ctx, same)
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorIs(t, err, audit.ErrDuplicate)

	ids := func(rs []audit.Record) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	hi, lo := same.ID, twin.ID
	if lo > hi {
		hi, lo = lo, hi
	}
	want := append([]string{hi, lo}, ids(all)...)
	var got []audit.Record
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := l.List(ctx, tenant, store.AuditQuery{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, want, ids(got), "newest first by (time, id), every record once")
	require.Equal(t, time.UTC, got[0].Time.Location())
	require.True(t, got[len(got)-1].Time.Equal(at.Truncate(time.Millisecond)), "times keep milliseconds")

	page, err := l.List(ctx, tenant, store.AuditQuery{Action: "assessment.create"})
	require.NoError(t, err)
	require.Equal(t, ids([]audit.Record{all[1], all[3]}), ids(page.Items))
	page, err = l.List(ctx, tenant, store.AuditQuery{Actor: "user-b", Action: "assessment.read"})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	page, err = l.List(ctx, tenant, store.AuditQuery{From: at.Add(time.Second), To: at.Add(3 * time.Second)})
	require.NoError(t, err)
	require.Equal(t, ids([]audit.Record{all[2], all[3]}), ids(page.Items), "from is inclusive, to exclusive, both to the millisecond")
	page, err = l.List(ctx, uniq("nobody"), store.AuditQuery{})
	require.NoError(t, err)
	require.NotNil(t, page.Items)
	require.Empty(t, page.Items)
	_, err = l.List(ctx, tenant, store.AuditQuery{Cursor: "not a cursor"})
	require.ErrorIs(t, err, store.ErrBadCursor)
	_, err = l.List(ctx, "", store.AuditQuery{})
	require.ErrorIs(t, err, store.ErrInvalid)
}

func testNarrativeStoreContract(t *testing.T, n narrativeStore) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id := uuid.NewString()
	_, err := n.Get(ctx, tenant, id, "cto")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, n.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: "cto", Body: `{"v":1}`}))
	require.NoError(t, n.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: "cto", Body: `{"v":2}`}), "upsert replaces")
	got, err := n.Get(ctx, tenant, id, "cto")
	require.NoError(t, err)
	require.Equal(t, store.NarrativeID(tenant, id, "cto"), got.ID, "an empty id becomes NarrativeID")
	require.Equal(t, `{"v":2}`, got.Body)
	_, err = n.Get(ctx, tenant, id, "cfo")
	require.ErrorIs(t, err, store.ErrNotFound, "each audience is its own narrative")
	_, err = n.Get(ctx, other, id, "cto")
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's reads as missing")
	require.NoError(t, n.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: "cfo", Body: `{"cfo":1}`}))
	require.NoError(t, n.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: uuid.NewString(), Audience: "cto", Body: `{}`}))
	listed, err := n.List(ctx, tenant, id)
	require.NoError(t, err)
	bodies := map[string]string{}
	for _, l := range listed {
		bodies[l.Audience] = l.Body
	}
	require.Equal(t, map[string]string{"cto": `{"v":2}`, "cfo": `{"cfo":1}`}, bodies, "List returns the assessment's narratives, each audience once")
	listed, err = n.List(ctx, other, id)
	require.NoError(t, err)
	require.Empty(t, listed, "another tenant lists none")
	require.ErrorIs(t, n.Upsert(ctx, store.Narrative{ID: "x", TenantID: tenant, AssessmentID: id, Audience: "cto"}), store.ErrInvalid)
}
