package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// withReadModel connects a store on uri and database that keeps the read
// model on the broker at natsURL.
func withReadModel(ctx context.Context, t *testing.T, natsURL, uri, database string) *store.Store {
	t.Helper()
	b, err := bus.Connect(ctx, bus.Config{URL: natsURL, Name: "store-read-model-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	rm, err := readmodel.Open(ctx, b.JS)
	require.NoError(t, err)
	s, err := store.Connect(ctx, uri, database)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		require.NoError(t, s.Close(cctx))
	})
	return s.UseReadModel(rm, nil)
}

// TestContractEmbeddedWithReadModel runs the contract on the embedded
// FerretDB with the read model on the embedded JetStream: two stores, as
// two services would be, share both.
func TestContractEmbeddedWithReadModel(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)

	s := withReadModel(ctx, t, stack.NATSURL, stack.MongoURI, "infra_mind_read_model")
	other := withReadModel(ctx, t, stack.NATSURL, stack.MongoURI, "infra_mind_read_model")
	runContract(t, s)
	runAcrossProcesses(t, s, other)
	t.Run("reads come from the read model and fall back to the store", func(t *testing.T) {
		testReadModelFallback(t, stack.NATSURL, stack.MongoURI)
	})
}

// testReadModelFallback: an assessment, report and recommendations stored
// before the read model existed are read from the store, copied into the
// read model, and listed from then on; another tenant still reads nothing.
func testReadModelFallback(t *testing.T, natsURL, uri string) {
	ctx := t.Context()
	plain, err := store.Connect(ctx, uri, "infra_mind_read_model")
	require.NoError(t, err)
	t.Cleanup(func() { _ = plain.Close(context.Background()) })
	tenant := uniq("tenant")
	a := create(t, plain, newAssessment(tenant, ms(time.Now())))
	require.NoError(t, plain.Reports.Create(ctx, store.Report{TenantID: tenant, AssessmentID: a.ID, Status: "completed", Body: `{"v":1}`}))
	require.NoError(t, plain.Recommendations.Create(ctx, store.Recommendations{TenantID: tenant, AssessmentID: a.ID, Status: "completed"}))

	s := withReadModel(ctx, t, natsURL, uri, "infra_mind_read_model")
	page, err := s.Assessments.List(ctx, tenant, store.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Items, "not in the read model yet")

	got, err := s.Assessments.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	page, err = s.Assessments.List(ctx, tenant, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "the read copied it into the read model")
	rep, err := s.Reports.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"v":1}`, rep.Body)
	rec, err := s.Recommendations.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, "completed", rec.Status)

	other := uniq("other")
	_, err = s.Assessments.Get(ctx, other, a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Reports.Get(ctx, other, a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Recommendations.Get(ctx, other, a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	page, err = s.Assessments.List(ctx, other, store.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Items)
}

// TestMergeAssessmentIsOrderFree: the read model's copy of an assessment
// is the same whatever order the store's writes reach it in.
func TestMergeAssessmentIsOrderFree(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	created := store.Assessment{ID: "a1", TenantID: "acme", Name: "n", Status: string(assessment.StatusQueued),
		Families:  map[string]store.FamilyState{"cloud": {Status: store.FamilyPending}, "mlops": {Status: store.FamilyPending}},
		CreatedAt: t0, UpdatedAt: t0, Deadline: t0.Add(time.Minute)}
	cloud := created
	cloud.Status = string(assessment.StatusRunning)
	cloud.Families = map[string]store.FamilyState{"cloud": {Status: store.FamilyCompleted, Summary: "c", CompletedAt: t0.Add(time.Second)}, "mlops": {Status: store.FamilyPending}}
	cloud.UpdatedAt = t0.Add(time.Second)
	extended := created
	extended.Deadline = t0.Add(3 * time.Minute)
	extended.UpdatedAt = t0.Add(2 * time.Second)
	closed := cloud
	closed.Status = string(assessment.StatusPartial)
	closed.MissingFamilies = []string{"mlops"}
	closed.Reason = "deadline passed"
	closed.CompletedAt = t0.Add(3 * time.Second)
	closed.UpdatedAt = t0.Add(3 * time.Second)
	// A family mark the store wrote after the close (it writes running).
	late := closed
	late.Status = string(assessment.StatusRunning)
	late.Families = map[string]store.FamilyState{"cloud": closed.Families["cloud"], "mlops": {Status: store.FamilyCompleted, Summary: "m", CompletedAt: t0.Add(4 * time.Second)}}
	late.UpdatedAt = t0.Add(4 * time.Second)

	want := store.Assessment{}
	for _, w := range []store.Assessment{created, cloud, extended, closed, late} {
		want = store.MergeAssessment(want, w)
	}
	require.Equal(t, string(assessment.StatusPartial), want.Status)
	require.Equal(t, "deadline passed", want.Reason)
	require.True(t, want.Deadline.Equal(t0.Add(3*time.Minute)))
	require.Equal(t, store.FamilyCompleted, want.Families["mlops"].Status)
	orders := [][]store.Assessment{
		{late, closed, extended, cloud, created},
		{closed, created, late, cloud, extended},
		{extended, late, created, closed, cloud, closed},
	}
	for _, order := range orders {
		got := store.Assessment{}
		for _, w := range order {
			got = store.MergeAssessment(got, w)
		}
		require.Equal(t, want, got)
	}
}
