package progress_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/progress"
)

func TestEraseRemovesTheAssessmentsStateAndLeavesATombstone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, startBus(t))
	for _, owner := range []struct{ tenant, id string }{{"acme", "a1"}, {"acme", "a2"}, {"globex", "a1"}} {
		_, err := s.PutResult(ctx, progress.Result{TenantID: owner.tenant, AssessmentID: owner.id, Family: "cloud", Data: []byte(`{"cost":1}`)})
		require.NoError(t, err)
		_, err = s.PutResult(ctx, progress.Result{TenantID: owner.tenant, AssessmentID: owner.id, Family: "mlops", Data: []byte(`{}`)})
		require.NoError(t, err)
		_, _, err = s.ClaimFinish(ctx, progress.Finish{TenantID: owner.tenant, AssessmentID: owner.id, Status: "completed"})
		require.NoError(t, err)
		_, err = s.ClaimAnnouncement(ctx, progress.Announcement{TenantID: owner.tenant, AssessmentID: owner.id, Owner: "me"})
		require.NoError(t, err)
	}
	erased, err := s.Erased(ctx, "acme", "a1")
	require.NoError(t, err)
	require.False(t, erased)

	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, s.MarkErased(ctx, progress.Tombstone{TenantID: "acme", AssessmentID: "a1", At: at}))
	n, err := s.Erase(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Equal(t, 4, n, "two results, the finish and the announcement claims")

	got, err := s.Results(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Empty(t, got)
	_, closed, err := s.Finished(ctx, "acme", "a1")
	require.NoError(t, err)
	require.False(t, closed)
	erased, err = s.Erased(ctx, "acme", "a1")
	require.NoError(t, err)
	require.True(t, erased, "the tombstone stays")
	for _, owner := range []struct{ tenant, id string }{{"acme", "a2"}, {"globex", "a1"}} {
		got, err := s.Results(ctx, owner.tenant, owner.id)
		require.NoError(t, err)
		require.Len(t, got, 2, "%s/%s keeps its state", owner.tenant, owner.id)
		erased, err := s.Erased(ctx, owner.tenant, owner.id)
		require.NoError(t, err)
		require.False(t, erased)
	}

	n, err = s.Erase(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Zero(t, n, "erasing again finds nothing")
	// A result stored after the erasure (a writer already running) is
	// what the later pass removes; a new one can be stored over a purge.
	first, err := s.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud", Data: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, first)

	tombs, err := s.Tombstones(ctx, at)
	require.NoError(t, err)
	require.Equal(t, []progress.Tombstone{{TenantID: "acme", AssessmentID: "a1", At: at}}, tombs)
	tombs, err = s.Tombstones(ctx, at.Add(-time.Second))
	require.NoError(t, err)
	require.Empty(t, tombs, "a tombstone newer than the bound waits")
	require.NoError(t, s.MarkErased(ctx, progress.Tombstone{TenantID: "acme", AssessmentID: "a1", At: at, Swept: true}))
	tombs, err = s.Tombstones(ctx, at)
	require.NoError(t, err)
	require.Empty(t, tombs, "a swept tombstone is done")
}
