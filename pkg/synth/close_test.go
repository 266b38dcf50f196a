package synth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
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
