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
