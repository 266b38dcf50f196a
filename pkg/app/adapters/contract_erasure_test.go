package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// erasureStoreHarness is an ErasureStore and the repositories it erases
// from, to set an assessment up and read it back.
type erasureStoreHarness struct {
	erasure app.ErasureStore
	repo    app.Assessments
	reports reportStore
	recs    recommendationStore
	notes   narrativeStore
	hooks   interface {
		webhookStore
		Create(ctx context.Context, w store.Webhook) (store.Webhook, error)
	}
}

// erasureBrokerHarness is an ErasureBroker and a way to publish an
// assessment's events and state through the real paths.
type erasureBrokerHarness struct {
	broker  app.ErasureBroker
	publish func(t *testing.T, tenant, id string, events []string)
}

// cacheForgetter is a report cache that can forget an erased assessment.
type cacheForgetter interface {
	app.ReportCache
	app.ErasureCache
}

// erasureContracts runs the contracts of the erasure's ports on the fakes
// and on st, b and ch.
func erasureContracts(t *testing.T, st *store.Store, b *bus.Bus, ch *cache.Cache) {
	stores := map[string]func() erasureStoreHarness{
		"fake": func() erasureStoreHarness {
			h := erasureStoreHarness{repo: apptest.NewAssessments(), reports: apptest.NewReports(), recs: apptest.NewRecommendations(),
				notes: apptest.NewNarratives(), hooks: apptest.NewWebhooks()}
			h.erasure = &apptest.ErasureStore{Assessments: h.repo.(*apptest.Assessments), Reports: h.reports.(*apptest.Reports),
				Recommendations: h.recs.(*apptest.Recommendations), Narratives: h.notes.(*apptest.Narratives), Webhooks: h.hooks.(*apptest.Webhooks)}
			return h
		},
		"store": func() erasureStoreHarness {
			return erasureStoreHarness{erasure: adapters.StoreErasure{Store: st}, repo: st.Assessments, reports: st.Reports,
				recs: st.Recommendations, notes: st.Narratives, hooks: st.Webhooks}
		},
	}
	for name, h := range stores {
		t.Run("erasure-store/"+name, func(t *testing.T) {
			t.Parallel()
			testErasureStoreContract(t, h())
		})
	}
	jetStream, err := adapters.NewBrokerErasure(context.Background(), b)
	require.NoError(t, err)
	state, err := progress.Open(context.Background(), b.JS)
	require.NoError(t, err)
	fake := apptest.NewBroker()
	brokers := map[string]erasureBrokerHarness{
		"fake": {broker: fake, publish: func(_ *testing.T, tenant, id string, events []string) {
			fake.Published(tenant, id, events, 1, 1)
		}},
		"bus": {broker: jetStream, publish: func(t *testing.T, tenant, id string, events []string) {
			ctx := t.Context()
			for _, ev := range events {
				require.NoError(t, b.Publish(ctx, bus.Message{ID: ev, Type: bus.TypeStatusChanged, Source: "/test",
					Subject: bus.SubjectStatus(tenant, id), Tenant: tenant, CESubject: id, Data: []byte(`{}`)}))
			}
			require.NoError(t, b.Publish(ctx, bus.Message{ID: id + tenant, Type: bus.TypeAssessmentRequested, Source: "/test",
				Subject: bus.SubjectRequested(tenant), Tenant: tenant, CESubject: id, Data: []byte(`{}`)}))
			_, err := state.PutResult(ctx, progress.Result{TenantID: tenant, AssessmentID: id, Family: "cloud", Data: []byte(`{}`)})
			require.NoError(t, err)
		}},
	}
	for name, h := range brokers {
		t.Run("erasure-broker/"+name, func(t *testing.T) {
			t.Parallel()
			testErasureBrokerContract(t, h)
		})
	}
	redisCache, err := adapters.NewRedisReportCache(ch, time.Minute)
	require.NoError(t, err)
	for name, c := range map[string]cacheForgetter{"fake": apptest.NewReportCache(), "redis": redisCache} {
		t.Run("erasure-cache/"+name, func(t *testing.T) {
			t.Parallel()
			testCacheForgetContract(t, c)
		})
	}
}

func testErasureStoreContract(t *testing.T, h erasureStoreHarness) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id, kept := uuid.NewString(), uuid.NewString()
	hook, err := h.hooks.Create(ctx, store.Webhook{TenantID: tenant, ID: uniq("hook"), URL: "https://example.com", EventTypes: []string{"x"}, Secret: "s"})
	require.NoError(t, err)
	seed := func(tenant, id, event string) {
		require.NoError(t, h.repo.Create(ctx, store.Assessment{ID: id, TenantID: tenant, Status: "completed"}))
		require.NoError(t, h.reports.Upsert(ctx, store.Report{TenantID: tenant, AssessmentID: id, Body: `{}`}))
		require.NoError(t, h.recs.Upsert(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id}))
		for _, audience := range []string{"cto", "cfo"} {
			require.NoError(t, h.notes.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: audience, Body: `{}`}))
		}
		require.NoError(t, h.hooks.SaveDelivery(ctx, store.Delivery{ID: store.DeliveryID(tenant, hook.ID, event), TenantID: tenant,
			WebhookID: hook.ID, EventID: event, Status: "succeeded"}))
	}
	seed(tenant, id, "ev-"+id)
	seed(tenant, kept, "ev-"+kept)
	seed(other, id, "ev-"+id)

	ids, err := h.erasure.DeliveryIDs(ctx, tenant, []string{"ev-" + id, "ev-unlogged"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{store.DeliveryID(tenant, hook.ID, "ev-"+id), store.DeliveryID(tenant, hook.ID, "ev-unlogged")}, ids,
		"logged deliveries, and those the tenant's webhooks would have")
	none, err := h.erasure.DeliveryIDs(ctx, tenant, nil)
	require.NoError(t, err)
	require.Empty(t, none)

	n, err := h.erasure.EraseDerived(ctx, tenant, id, []string{"ev-" + id})
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 5, "report, recommendations, two narratives, one delivery record (and a read model's copies)")
	require.NoError(t, h.erasure.Delete(ctx, tenant, id))

	_, err = h.repo.Get(ctx, tenant, id)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = h.reports.Get(ctx, tenant, id)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = h.recs.Get(ctx, tenant, id)
	require.ErrorIs(t, err, store.ErrNotFound)
	notes, err := h.notes.List(ctx, tenant, id)
	require.NoError(t, err)
	require.Empty(t, notes)
	logged, err := h.hooks.ListDeliveries(ctx, tenant, hook.ID)
	require.NoError(t, err)
	require.Len(t, logged, 1)
	require.Equal(t, "ev-"+kept, logged[0].EventID)
	for _, x := range []struct{ tenant, id string }{{tenant, kept}, {other, id}} {
		_, err := h.repo.Get(ctx, x.tenant, x.id)
		require.NoError(t, err, "%s/%s stays", x.tenant, x.id)
		_, err = h.reports.Get(ctx, x.tenant, x.id)
		require.NoError(t, err)
		notes, err := h.notes.List(ctx, x.tenant, x.id)
		require.NoError(t, err)
		require.Len(t, notes, 2)
	}

	n, err = h.erasure.EraseDerived(ctx, tenant, id, []string{"ev-" + id})
	require.NoError(t, err)
	require.Zero(t, n, "erasing again removes nothing and is not an error")
	require.ErrorIs(t, h.erasure.Delete(ctx, tenant, id), store.ErrNotFound)
	require.ErrorIs(t, h.erasure.Delete(ctx, uniq("tenant"), kept), store.ErrNotFound, "another tenant's id is not found")
	_, err = h.erasure.EraseDerived(ctx, "", id, nil)
	require.ErrorIs(t, err, store.ErrInvalid)
}

func testErasureBrokerContract(t *testing.T, h erasureBrokerHarness) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id := uuid.NewString()
	events := []string{uniq("ev"), uniq("ev")}
	h.publish(t, tenant, id, events)
	h.publish(t, other, id, []string{uniq("ev")})

	_, found, err := h.broker.Tombstone(ctx, tenant, id)
	require.NoError(t, err)
	require.False(t, found)
	got, err := h.broker.EventIDs(ctx, tenant, id)
	require.NoError(t, err)
	require.ElementsMatch(t, events, got)

	at := time.Now().UTC().Truncate(time.Millisecond)
	tomb := progress.Tombstone{TenantID: tenant, AssessmentID: id, At: at, Since: at.Add(-time.Hour), EventIDs: got}
	require.NoError(t, h.broker.MarkErased(ctx, tomb))
	back, found, err := h.broker.Tombstone(ctx, tenant, id)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, tomb, back)
	_, found, err = h.broker.Tombstone(ctx, other, id)
	require.NoError(t, err)
	require.False(t, found, "another tenant's assessment is not erased")

	n, err := h.broker.Erase(ctx, tomb, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 4, "two events, the request, the state")
	got, err = h.broker.EventIDs(ctx, tenant, id)
	require.NoError(t, err)
	require.Empty(t, got)
	n, err = h.broker.Erase(ctx, tomb, nil)
	require.NoError(t, err)
	require.Zero(t, n, "erasing again removes nothing")
	kept, err := h.broker.EventIDs(ctx, other, id)
	require.NoError(t, err)
	require.Len(t, kept, 1, "another tenant's events stay")

	listed, err := h.broker.Tombstones(ctx, at)
	require.NoError(t, err)
	require.Contains(t, listed, tomb)
	tomb.Swept = true
	require.NoError(t, h.broker.MarkErased(ctx, tomb))
	listed, err = h.broker.Tombstones(ctx, at)
	require.NoError(t, err)
	require.NotContains(t, listed, tomb)
	for _, l := range listed {
		require.NotEqual(t, id, l.AssessmentID, "a swept tombstone is not listed")
	}
}

func testCacheForgetContract(t *testing.T, c cacheForgetter) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	id, kept := uuid.NewString(), uuid.NewString()
	for _, x := range []struct{ tenant, id string }{{tenant, id}, {tenant, kept}, {other, id}} {
		require.NoError(t, c.Put(ctx, x.tenant, x.id, []byte(`{"n":1}`)))
	}
	require.NoError(t, c.Forget(ctx, tenant, id))
	_, hit, err := c.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.False(t, hit, "the forgotten copy is gone")
	require.NoError(t, c.Put(ctx, tenant, id, []byte(`{"n":2}`)), "a read that began before the erasure puts its copy")
	_, hit, err = c.Get(ctx, tenant, id)
	require.NoError(t, err)
	require.False(t, hit, "and it is not served")
	for _, x := range []struct{ tenant, id string }{{tenant, kept}, {other, id}} {
		_, hit, err := c.Get(ctx, x.tenant, x.id)
		require.NoError(t, err)
		require.True(t, hit, "%s/%s stays cached", x.tenant, x.id)
	}
	require.NoError(t, c.Forget(ctx, tenant, id), "forgetting again is not an error")
}
