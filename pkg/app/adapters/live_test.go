package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// fakeProgress is the pipeline state of a few assessments, by id.
type fakeProgress struct {
	finished map[string]progress.Finish
	marks    map[string]progress.Marks
	reads    int
}

func (f *fakeProgress) Finished(_ context.Context, _, id string) (progress.Finish, bool, error) {
	f.reads++
	fin, ok := f.finished[id]
	return fin, ok, nil
}

func (f *fakeProgress) Marks(_ context.Context, _, id string) (progress.Marks, bool, error) {
	f.reads++
	m, ok := f.marks[id]
	return m, ok, nil
}

// An assessment's document is written when it closes; until then people
// see its progress from the pipeline state: the families that answered, the
// status they make, a deadline that moved, and a close claimed but not yet
// written. A closed document is shown as stored, without reading the state.
func TestLiveAssessmentsShowProgressWhileTheDocumentIsOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	repo := apptest.NewAssessments()
	create := func(status string) store.Assessment {
		fams := map[string]store.FamilyState{}
		for _, f := range assessment.Families() {
			fams[string(f)] = store.FamilyState{Status: store.FamilyPending}
		}
		a := store.Assessment{ID: uuid.NewString(), TenantID: "acme", Status: status, Families: fams,
			CreatedAt: at, UpdatedAt: at, Deadline: at.Add(2 * time.Minute)}
		require.NoError(t, repo.Create(ctx, a))
		return a
	}
	queued, running, claimed, closed := create("queued"), create("queued"), create("queued"), create("completed")
	moved := at.Add(5 * time.Minute)
	state := &fakeProgress{
		marks: map[string]progress.Marks{
			running.ID: {TenantID: "acme", AssessmentID: running.ID, Deadline: moved, UpdatedAt: at.Add(time.Minute),
				Families: map[string]progress.Mark{"cloud": {CompletedAt: at.Add(time.Minute), Summary: "plan ready"}}},
		},
		finished: map[string]progress.Finish{
			claimed.ID: {TenantID: "acme", AssessmentID: claimed.ID, Status: "partial", MissingFamilies: []string{"research"},
				Reason: "deadline passed", At: at.Add(3 * time.Minute),
				Families: map[string]progress.Mark{"cloud": {CompletedAt: at.Add(time.Minute), Summary: "plan ready"}}},
		},
	}
	live, err := adapters.NewLiveAssessments(repo, state)
	require.NoError(t, err)

	got, err := live.Get(ctx, "acme", queued.ID)
	require.NoError(t, err)
	require.Equal(t, "queued", got.Status, "nothing answered yet")

	got, err = live.Get(ctx, "acme", running.ID)
	require.NoError(t, err)
	require.Equal(t, "running", got.Status)
	require.Equal(t, store.FamilyState{Status: store.FamilyCompleted, CompletedAt: at.Add(time.Minute), Summary: "plan ready"}, got.Families["cloud"])
	require.Equal(t, store.FamilyPending, got.Families["mlops"].Status)
	require.True(t, got.Deadline.Equal(moved), "the deadline shown is the moved one: %s", got.Deadline)
	require.True(t, got.UpdatedAt.Equal(at.Add(time.Minute)))

	got, err = live.Get(ctx, "acme", claimed.ID)
	require.NoError(t, err)
	require.Equal(t, "partial", got.Status)
	require.Equal(t, []string{"research"}, got.MissingFamilies)
	require.Equal(t, "deadline passed", got.Reason)
	require.True(t, got.CompletedAt.Equal(at.Add(3*time.Minute)))
	require.Equal(t, store.FamilyCompleted, got.Families["cloud"].Status)

	stored, err := repo.Get(ctx, "acme", running.ID)
	require.NoError(t, err)
	require.Equal(t, store.FamilyPending, stored.Families["cloud"].Status, "the repository's document is left as it is")

	before := state.reads
	got, err = live.Get(ctx, "acme", closed.ID)
	require.NoError(t, err)
	require.Equal(t, "completed", got.Status)
	require.Equal(t, before, state.reads, "a closed document costs no read of the pipeline state")

	page, err := live.List(ctx, "acme", store.ListOptions{})
	require.NoError(t, err)
	statuses := map[string]string{}
	for _, a := range page.Items {
		statuses[a.ID] = a.Status
	}
	require.Equal(t, map[string]string{queued.ID: "queued", running.ID: "running", claimed.ID: "partial", closed.ID: "completed"}, statuses)
}
