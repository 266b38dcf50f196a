package consultant_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// erasedSet is an in-process Erasures: the erased assessments by tenant/id.
type erasedSet map[string]bool

func (s erasedSet) Erased(_ context.Context, tenant, id string) (bool, error) {
	return s[tenant+"/"+id], nil
}

// A completed event of an assessment erased since is acknowledged without a
// narrative; one whose report is missing for another reason is still an
// error, retried and in the end dead-lettered by the runner.
func TestACompletedEventOfAnErasedAssessmentWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, consultant.WriterConfig{})
	narratives := &memNarratives{m: map[string]store.Narrative{}}
	svc, err := consultant.New(nil, memReports{}, narratives, e.writer,
		consultant.Config{Erasures: erasedSet{"acme/gone": true}}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	out, err := svc.Handle(context.Background(), completedEvent(t, "acme", "gone"))
	require.NoError(t, err)
	require.Empty(t, out)
	require.Zero(t, narratives.n, "no narrative stored")
	require.Empty(t, e.fake.Requests(), "no model call")

	_, err = svc.Handle(context.Background(), completedEvent(t, "acme", "missing"))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = svc.Handle(context.Background(), completedEvent(t, "globex", "gone"))
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's assessment under the id is not erased")
}
