package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// erasureWorld is every fake an erasure reaches, and the use cases reading them.
type erasureWorld struct {
	repo    *apptest.Assessments
	reports *apptest.Reports
	recs    *apptest.Recommendations
	notes   *apptest.Narratives
	hooks   *apptest.Webhooks
	broker  *apptest.Broker
	cache   *apptest.ReportCache
	store   *apptest.ErasureStore
	now     time.Time
	erasure *app.Erasure
	read    *app.Reports
}

func newErasureWorld(t *testing.T) *erasureWorld {
	t.Helper()
	w := &erasureWorld{repo: apptest.NewAssessments(), reports: apptest.NewReports(), recs: apptest.NewRecommendations(),
		notes: apptest.NewNarratives(), hooks: apptest.NewWebhooks(), broker: apptest.NewBroker(), cache: apptest.NewReportCache(),
		now: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	w.store = &apptest.ErasureStore{Assessments: w.repo, Reports: w.reports, Recommendations: w.recs, Narratives: w.notes, Webhooks: w.hooks}
	w.erasure = w.newErasure(t, w.store)
	var err error
	w.read, err = app.NewReports(app.ReportDeps{Assessments: w.repo, Reports: w.reports, Recommendations: w.recs, Cache: w.cache, Narratives: w.notes})
	require.NoError(t, err)
	return w
}

func (w *erasureWorld) newErasure(t *testing.T, st app.ErasureStore) *app.Erasure {
	t.Helper()
	e, err := app.NewErasure(app.ErasureDeps{Assessments: w.repo, Store: st, Broker: w.broker, Cache: w.cache, Now: func() time.Time { return w.now }})
	require.NoError(t, err)
	return e
}

// finished stores a finished assessment with everything derived from it: a
// report (read once, so cached), recommendations, a narrative, two events
// delivered to the tenant's webhook, other messages and pipeline state.
func (w *erasureWorld) finished(t *testing.T, tenant, id, parent, kind string) store.Assessment {
	t.Helper()
	ctx := context.Background()
	a := store.Assessment{ID: id, TenantID: tenant, Name: "secret plan", Status: "completed", ParentID: parent, Kind: kind,
		CreatedAt: w.now.Add(-time.Hour)}
	require.NoError(t, w.repo.Create(ctx, a))
	require.NoError(t, w.reports.Upsert(ctx, store.Report{TenantID: tenant, AssessmentID: id, Status: "completed", Body: `{"name":"secret plan"}`}))
	require.NoError(t, w.recs.Upsert(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id, Status: "completed"}))
	require.NoError(t, w.notes.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: "cto", Body: `{}`}))
	_, err := w.read.Report(ctx, tenant, id, app.FormatJSON)
	require.NoError(t, err)
	hooks, err := w.hooks.List(ctx, tenant)
	require.NoError(t, err)
	if len(hooks) == 0 {
		h, err := w.hooks.Create(ctx, store.Webhook{TenantID: tenant, ID: "hook-" + tenant, URL: "https://example.com", EventTypes: []string{"x"}, Secret: "s"})
		require.NoError(t, err)
		hooks = append(hooks, h)
	}
	events := []string{tenant + id + "-queued", tenant + id + "-completed"}
	for _, ev := range events {
		d := store.Delivery{ID: store.DeliveryID(tenant, hooks[0].ID, ev), TenantID: tenant, WebhookID: hooks[0].ID, EventID: ev, Status: "succeeded"}
		require.NoError(t, w.hooks.SaveDelivery(ctx, d))
		w.broker.DeliveryState(d.ID)
	}
	w.broker.Published(tenant, id, events, 7, 8)
	return a
}

// seeded is what finished stores: 17 broker entries (2 events, 7 other
// messages, 8 state keys), the document, report, recommendations, narrative
// and cached report, and 2 delivery states and records.
const seeded = 17 + 5 + 4

// readable counts what can still be read of tenant's assessment id.
func (w *erasureWorld) readable(t *testing.T, tenant, id string) int {
	t.Helper()
	ctx := context.Background()
	n := w.broker.Holds(tenant, id)
	if _, err := w.repo.Get(ctx, tenant, id); err == nil {
		n++
	}
	if _, err := w.reports.Get(ctx, tenant, id); err == nil {
		n++
	}
	if _, err := w.recs.Get(ctx, tenant, id); err == nil {
		n++
	}
	notes, err := w.notes.List(ctx, tenant, id)
	require.NoError(t, err)
	n += len(notes)
	if _, hit, _ := w.cache.Get(ctx, tenant, id); hit {
		n++
	}
	for _, ev := range []string{"-queued", "-completed"} {
		d := store.DeliveryID(tenant, "hook-"+tenant, tenant+id+ev)
		if w.broker.HoldsDelivery(d) {
			n++
		}
		logged, err := w.hooks.ListDeliveries(ctx, tenant, "hook-"+tenant)
		require.NoError(t, err)
		for _, x := range logged {
			if x.ID == d {
				n++
			}
		}
	}
	return n
}

func TestEraseRemovesTheAssessmentItsChildrenAndAllTheyDerived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newErasureWorld(t)
	w.finished(t, "acme", "base", "", store.KindBase)
	w.finished(t, "acme", "v2", "base", store.KindVersion)
	w.finished(t, "acme", "s1", "base", store.KindScenario)
	w.finished(t, "acme", "other", "", store.KindBase)
	w.finished(t, "globex", "base", "", store.KindBase)
	for _, id := range []string{"base", "v2", "s1"} {
		require.Equal(t, seeded, w.readable(t, "acme", id), "%s is there before", id)
	}

	got, err := w.erasure.Delete(ctx, "acme", "base")
	require.NoError(t, err)
	require.Equal(t, []string{"v2", "s1", "base"}, got.IDs, "children first, the base last")
	// Per assessment: 17 broker entries, 2 delivery states, report,
	// recommendations, narrative, 2 delivery records, the document.
	require.Equal(t, 3*(17+2+3+2+1), got.Removed)
	for _, id := range []string{"base", "v2", "s1"} {
		require.Zero(t, w.readable(t, "acme", id), "nothing of %s is left", id)
		_, err := w.read.Report(ctx, "acme", id, app.FormatJSON)
		require.ErrorIs(t, err, store.ErrNotFound, "the cached report of %s is not served", id)
	}
	require.Equal(t, seeded, w.readable(t, "acme", "other"), "the tenant's other assessment stays")
	require.Equal(t, seeded, w.readable(t, "globex", "base"), "another tenant's assessment with the same id stays")

	// The report read before the erasure, cached after it, is not served.
	require.NoError(t, w.cache.Put(ctx, "acme", "base", []byte(`{"name":"secret plan"}`)))
	_, hit, err := w.cache.Get(ctx, "acme", "base")
	require.NoError(t, err)
	require.False(t, hit)

	_, err = w.erasure.Delete(ctx, "acme", "base")
	require.ErrorIs(t, err, store.ErrNotFound, "a second delete finds nothing")
}

func TestEraseIsRefusedForAnotherTenantOrWhileRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newErasureWorld(t)
	w.finished(t, "acme", "base", "", store.KindBase)
	deadline := w.now.Add(time.Minute)
	require.NoError(t, w.repo.Create(ctx, store.Assessment{ID: "s1", TenantID: "acme", Status: "running", ParentID: "base",
		Kind: store.KindScenario, Deadline: deadline}))
	require.NoError(t, w.repo.Create(ctx, store.Assessment{ID: "queued", TenantID: "acme", Status: "queued", Deadline: deadline}))

	tests := []struct {
		name, tenant, id string
		running          string
	}{
		{name: "another tenant's id is not found", tenant: "globex", id: "base"},
		{name: "a missing id is not found", tenant: "acme", id: "nope"},
		{name: "a base with a running scenario waits for it", tenant: "acme", id: "base", running: "s1"},
		{name: "a queued assessment waits", tenant: "acme", id: "queued", running: "queued"},
		{name: "a running scenario waits", tenant: "acme", id: "s1", running: "s1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.erasure.Delete(ctx, tc.tenant, tc.id)
			if tc.running == "" {
				require.ErrorIs(t, err, store.ErrNotFound)
				return
			}
			var re *app.RunningError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.running, re.ID)
			require.True(t, deadline.Equal(re.Deadline))
		})
	}
	require.Equal(t, seeded, w.readable(t, "acme", "base"), "a refused erasure removes nothing")
	_, err := w.erasure.Delete(ctx, "", "base")
	require.ErrorIs(t, err, app.ErrNoTenant)
}

// failingDelete fails the first n deletes of the assessment document.
type failingDelete struct {
	*apptest.ErasureStore
	n int
}

func (f *failingDelete) Delete(ctx context.Context, tenant, id string) error {
	if f.n > 0 {
		f.n--
		return errors.New("store unreachable")
	}
	return f.ErasureStore.Delete(ctx, tenant, id)
}

func TestAnErasureThatStoppedIsFinishedByARetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newErasureWorld(t)
	w.finished(t, "acme", "a1", "", store.KindBase)
	flaky := w.newErasure(t, &failingDelete{ErasureStore: w.store, n: 1})
	_, err := flaky.Delete(ctx, "acme", "a1")
	require.Error(t, err)
	_, err = w.repo.Get(ctx, "acme", "a1")
	require.NoError(t, err, "the document goes last: the assessment is still there to retry on")

	// The events are gone from the broker, yet the retry still finds their
	// deliveries: the tombstone kept their ids.
	hook := "hook-acme"
	require.NoError(t, w.hooks.SaveDelivery(ctx, store.Delivery{ID: store.DeliveryID("acme", hook, "acmea1-completed"), TenantID: "acme",
		WebhookID: hook, EventID: "acmea1-completed", Status: "pending"}))
	got, err := flaky.Delete(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Equal(t, []string{"a1"}, got.IDs)
	require.Zero(t, w.readable(t, "acme", "a1"))
}

func TestSweepErasesWhatWritersStoredAfterTheErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newErasureWorld(t)
	w.finished(t, "acme", "a1", "", store.KindBase)
	w.finished(t, "acme", "again", "", store.KindBase)
	_, err := w.erasure.Delete(ctx, "acme", "a1")
	require.NoError(t, err)
	_, err = w.erasure.Delete(ctx, "acme", "again")
	require.NoError(t, err)

	// A consultant that was already writing stores its narrative, and a
	// late result lands in the pipeline state, after the erasure.
	require.NoError(t, w.notes.Upsert(ctx, store.Narrative{TenantID: "acme", AssessmentID: "a1", Audience: "cfo", Body: `{}`}))
	w.broker.Published("acme", "a1", nil, 0, 1)
	// "again" is submitted again under its idempotency key: a new assessment.
	require.NoError(t, w.repo.Create(ctx, store.Assessment{ID: "again", TenantID: "acme", Status: "completed", CreatedAt: w.now.Add(time.Second)}))
	w.broker.Published("acme", "again", nil, 0, 1)

	n, err := w.erasure.Sweep(ctx, time.Minute)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is swept before its grace")
	w.now = w.now.Add(2 * time.Minute)
	n, err = w.erasure.Sweep(ctx, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Zero(t, w.readable(t, "acme", "a1"), "the stragglers are gone")
	_, err = w.repo.Get(ctx, "acme", "again")
	require.NoError(t, err, "an assessment created again under the id is left alone")
	require.Equal(t, 1, w.broker.Holds("acme", "again"))
	n, err = w.erasure.Sweep(ctx, time.Minute)
	require.NoError(t, err)
	require.Zero(t, n, "each erasure is swept once")
}
