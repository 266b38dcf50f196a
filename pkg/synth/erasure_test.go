package synth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/progress"
)

// A result that arrives after its assessment was erased is dropped with
// the state it stored; one of an assessment that never existed is still a
// permanent failure (dead-lettered by the runner).
func TestALateResultOfAnErasedAssessmentLeavesNothing(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	require.NoError(t, e.state.MarkErased(ctx, progress.Tombstone{TenantID: "acme", AssessmentID: "gone", At: time.Now()}))

	out, err := e.synth.Handle(ctx, resultEvent(t, "acme", "gone", assessment.FamilyCloud, "r-gone", 1))
	require.NoError(t, err, "acknowledged, not dead-lettered")
	require.Empty(t, out, "nothing published")
	rows, err := e.state.Results(ctx, "acme", "gone")
	require.NoError(t, err)
	require.Empty(t, rows, "the result stored on arrival is removed")
	_, err = e.store.Reports.Get(ctx, "acme", "gone")
	require.Error(t, err)

	_, err = e.synth.Handle(ctx, resultEvent(t, "acme", "never", assessment.FamilyCloud, "r-never", 1))
	require.ErrorIs(t, err, bus.ErrPermanent)
	_, err = e.synth.Handle(ctx, resultEvent(t, "globex", "gone", assessment.FamilyCloud, "r-globex", 1))
	require.ErrorIs(t, err, bus.ErrPermanent, "another tenant's assessment under the id is not erased")
}

// A replica closing an assessment whose results it never handled reads
// them from the RESULTS stream. When a referenced message is gone because
// the assessment was erased meanwhile, the work is dropped, leaving
// nothing; when it is gone otherwise (past the streams' retention), the
// delivery fails for good instead of being retried.
func TestAResultGoneFromTheStreamIsDroppedOrRefused(t *testing.T) {
	for _, erased := range []bool{true, false} {
		e := start(t, false)
		ctx := context.Background()
		id := "gone-ref"
		e.create(t, "acme", id, time.Now().Add(time.Hour))
		families := assessment.Families()
		var cloudSeq uint64
		for _, f := range families[:len(families)-1] {
			ev := storedResultEvent(t, e.bus, "acme", id, f, "r-"+string(f))
			if f == assessment.FamilyCloud {
				cloudSeq = ev.StreamSeq
			}
			out, err := e.synth.Handle(ctx, ev)
			require.NoError(t, err)
			publishAll(t, e.bus, out)
		}
		st, err := e.bus.JS.Stream(ctx, bus.StreamResults)
		require.NoError(t, err)
		require.NoError(t, st.DeleteMsg(ctx, cloudSeq))
		if erased {
			require.NoError(t, e.state.MarkErased(ctx, progress.Tombstone{TenantID: "acme", AssessmentID: id, At: time.Now()}))
		}

		last := storedResultEvent(t, e.bus, "acme", id, families[len(families)-1], "r-last")
		out, err := e.replica(t).Handle(ctx, last)
		if erased {
			require.NoError(t, err, "acknowledged, not dead-lettered")
			require.Empty(t, out)
			rows, err := e.state.Results(ctx, "acme", id)
			require.NoError(t, err)
			require.Empty(t, rows, "the results stored are removed")
			continue
		}
		require.ErrorIs(t, err, bus.ErrPermanent)
		require.ErrorContains(t, err, "no longer in the RESULTS stream")
		_, err = e.store.Reports.Get(ctx, "acme", id)
		require.Error(t, err, "no report from five results")
	}
}
