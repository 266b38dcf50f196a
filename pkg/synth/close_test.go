package synth_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/synth"
)

// The report is built while the assessment's close is in flight, from the
// name its results' request carries; the report shows the assessment as
// stored all the same, whether or not the two names agree.
func TestTheReportShowsTheAssessmentAsStored(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	for _, tc := range []struct{ name, id, stored string }{
		{name: "the request's name", id: "same-name", stored: "x"},
		{name: "another name", id: "other-name", stored: "renamed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, e.store.Assessments.Create(ctx, store.Assessment{
				ID: tc.id, TenantID: "acme", Name: tc.stored, Status: string(assessment.StatusQueued), CorrelationID: tc.id,
			}))
			for i, f := range assessment.Families() {
				// Every result's request is named "x" (resultEvent).
				out, err := e.synth.Handle(ctx, resultEvent(t, "acme", tc.id, f, tc.id+string(f), uint64(i+1)))
				require.NoError(t, err)
				require.NotEmpty(t, out)
			}
			rep, err := e.store.Reports.Get(ctx, "acme", tc.id)
			require.NoError(t, err)
			doc, err := report.Decode([]byte(rep.Body))
			require.NoError(t, err)
			require.Equal(t, tc.stored, doc.Name)
			require.Equal(t, string(assessment.StatusCompleted), doc.Status)
			recs, err := e.store.Recommendations.Get(ctx, "acme", tc.id)
			require.NoError(t, err)
			require.Equal(t, string(assessment.StatusCompleted), recs.Status)
		})
	}
}

// An assessment erased while its results were arriving has its close
// refused by the store: the report and recommendations built meanwhile are
// not written.
func TestNothingIsWrittenForAnAssessmentErasedBeforeItsClose(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	const id = "erased-at-close"
	require.NoError(t, e.store.Assessments.Create(ctx, store.Assessment{
		ID: id, TenantID: "acme", Name: "x", Status: string(assessment.StatusQueued), CorrelationID: id,
	}))
	families := assessment.Families()
	for i, f := range families[:len(families)-1] {
		_, err := e.synth.Handle(ctx, resultEvent(t, "acme", id, f, id+string(f), uint64(i+1)))
		require.NoError(t, err)
	}
	require.NoError(t, e.state.MarkErased(ctx, progress.Tombstone{TenantID: "acme", AssessmentID: id, At: time.Now()}))
	require.NoError(t, e.store.Assessments.Delete(ctx, "acme", id))

	out, err := e.synth.Handle(ctx, resultEvent(t, "acme", id, families[len(families)-1], id+"last", uint64(len(families))))
	require.NoError(t, err, "acknowledged, not dead-lettered")
	require.Empty(t, out, "nothing published")
	_, err = e.store.Reports.Get(ctx, "acme", id)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.store.Recommendations.Get(ctx, "acme", id)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// The finish claim is read while the result is being stored, not after:
// the store of a result is held until the read arrives (or a bound passes,
// when the test fails).
func TestAResultIsStoredWhileItsFinishIsRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "synth-overlap"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	s, err := store.Connect(ctx, stack.MongoURI, "synth_overlap")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	var (
		armed      atomic.Bool
		read       = make(chan struct{}, 16)
		overlapped atomic.Bool
	)
	count := func(op string) {
		if !armed.Load() {
			return
		}
		switch op {
		case "get":
			read <- struct{}{}
		case "create":
			// The result's store, the first request of a delivery.
			armed.Store(false)
			select {
			case <-read:
				overlapped.Store(true)
			case <-time.After(5 * time.Second):
			}
		}
	}
	sy, err := synth.New(ctx, b, s, slog.New(slog.DiscardHandler), synth.Config{Progress: []progress.Option{progress.CountOps(count)}}, nil)
	require.NoError(t, err)
	e := &env{bus: b, store: s, synth: sy}
	e.create(t, "acme", "overlap", time.Now().Add(time.Hour))
	armed.Store(true)
	_, err = sy.Handle(ctx, resultEvent(t, "acme", "overlap", assessment.FamilyCloud, "overlap-cloud", 1))
	require.NoError(t, err)
	require.True(t, overlapped.Load(), "the finish is read only after the result is stored")
}
