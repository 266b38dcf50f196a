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

// progressEnv is the progress use case on fakes, with a clock the test sets.
type progressEnv struct {
	repo   *apptest.Assessments
	events *apptest.EventLog
	svc    *app.Progress
	now    time.Time
}

func newProgressEnv(t *testing.T) *progressEnv {
	t.Helper()
	e := &progressEnv{repo: apptest.NewAssessments(), events: apptest.NewEventLog(), now: time.Now()}
	svc, err := app.NewProgress(e.repo, e.events, app.ProgressOptions{CompletedWait: 2 * time.Minute, Now: func() time.Time { return e.now }})
	require.NoError(t, err)
	e.svc = svc
	return e
}

// assessment stores an assessment of acme in status, closed at closedAt
// when terminal.
func (e *progressEnv) assessment(t *testing.T, id, status string, closedAt time.Time) {
	t.Helper()
	require.NoError(t, e.repo.Create(context.Background(), store.Assessment{ID: id, TenantID: "acme", Status: status,
		CreatedAt: e.now.Add(-time.Hour), CompletedAt: closedAt}))
}

func (e *progressEnv) status(id, s string) uint64 {
	return e.events.Append("acme", id, app.EventStatus, []byte(`{"status":"`+s+`"}`))
}

func (e *progressEnv) completed(id string) uint64 {
	return e.events.Append("acme", id, app.EventCompleted, []byte(`{"status":"completed","report_path":"/v1/assessments/`+id+`/report"}`))
}

// next returns the stream's next event, failing after a generous bound (a
// hang, not a speed check).
func next(t *testing.T, s *app.Stream) app.Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		require.True(t, ok, "the stream ended early")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return app.Event{}
	}
}

// ends fails unless the stream ends without another event.
func ends(t *testing.T, s *app.Stream) {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		require.False(t, ok, "no event after the stored ones, got %+v", ev)
		require.NoError(t, s.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
}

func TestProgressReplaysThenFollowsUntilCompleted(t *testing.T) {
	t.Parallel()
	e := newProgressEnv(t)
	e.assessment(t, "a", "running", time.Time{})
	queued := e.status("a", "queued")
	e.events.Append("other", "a", app.EventStatus, []byte(`{"status":"another tenant's"}`))
	running := e.status("a", "running")

	s, err := e.svc.Open(context.Background(), "acme", "a", 0)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, queued, next(t, s).Seq)
	require.Equal(t, running, next(t, s).Seq)
	cloud := e.status("a", "family_completed")
	require.Equal(t, cloud, next(t, s).Seq, "a live event arrives")
	done := e.completed("a")
	got := next(t, s)
	require.Equal(t, app.Event{Seq: done, Kind: app.EventCompleted,
		Data: []byte(`{"status":"completed","report_path":"/v1/assessments/a/report"}`)}, got)
	ends(t, s)

	// Resuming after an event replays from the next one.
	s, err = e.svc.Open(context.Background(), "acme", "a", running)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, cloud, next(t, s).Seq)
	require.Equal(t, done, next(t, s).Seq)
	ends(t, s)
}

func TestProgressOfAnotherTenantIsNotFound(t *testing.T) {
	t.Parallel()
	e := newProgressEnv(t)
	e.assessment(t, "a", "running", time.Time{})
	_, err := e.svc.Open(context.Background(), "other", "a", 0)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestProgressWaitsForTheStoredCompletedEvent drives the window between the
// synthesizer closing an assessment and its completed event being stored: a
// client opening the stream then gets what the log holds, then the stored
// completed event with its position, and never one made up from the
// assessment document (ADR 0016).
func TestProgressWaitsForTheStoredCompletedEvent(t *testing.T) {
	t.Parallel()
	e := newProgressEnv(t)
	queued := e.status("a", "queued")
	e.assessment(t, "a", "completed", e.now)

	s, err := e.svc.Open(context.Background(), "acme", "a", 0)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, queued, next(t, s).Seq)
	select {
	case ev := <-s.Events():
		t.Fatalf("nothing is sent before the completed event is stored, got %+v", ev)
	default:
	}
	done := e.completed("a")
	got := next(t, s)
	require.Equal(t, app.EventCompleted, got.Kind)
	require.Equal(t, done, got.Seq, "the client gets the stored event, with its position")
	ends(t, s)

	// Once it is stored, a client that saw it has nothing more to read.
	_, err = e.svc.Open(context.Background(), "acme", "a", done)
	require.ErrorIs(t, err, app.ErrNoMoreEvents)
}

// TestProgressNeverInventsACompletedEvent: past the wait, an assessment
// whose completed event never came gets the status events the log holds,
// and the stream ends; nothing is made up.
func TestProgressNeverInventsACompletedEvent(t *testing.T) {
	t.Parallel()
	e := newProgressEnv(t)
	queued := e.status("a", "queued")
	partial := e.status("a", "partial")
	e.assessment(t, "a", "partial", e.now.Add(-time.Hour))

	s, err := e.svc.Open(context.Background(), "acme", "a", 0)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, queued, next(t, s).Seq)
	require.Equal(t, partial, next(t, s).Seq)
	ends(t, s)

	_, err = e.svc.Open(context.Background(), "acme", "a", partial)
	require.ErrorIs(t, err, app.ErrNoMoreEvents, "a client that saw every stored event is told to stop")

	// Closed with no event at all: nothing to send.
	e.assessment(t, "b", "failed", e.now.Add(-time.Hour))
	_, err = e.svc.Open(context.Background(), "acme", "b", 0)
	require.ErrorIs(t, err, app.ErrNoMoreEvents)
}

// TestProgressWaitEnds: a stream following a closed assessment for its
// completed event ends when the wait runs out, with nothing made up.
func TestProgressWaitEnds(t *testing.T) {
	t.Parallel()
	e := newProgressEnv(t)
	queued := e.status("a", "queued")
	// Closed so that the wait runs out in a moment of real time.
	e.assessment(t, "a", "failed", time.Now().Add(-2*time.Minute+200*time.Millisecond))
	s, err := e.svc.Open(context.Background(), "acme", "a", 0)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, queued, next(t, s).Seq)
	ends(t, s)
}

func TestProgressEndsWithItsContext(t *testing.T) {
	t.Parallel()
	e := newProgressEnv(t)
	e.assessment(t, "a", "running", time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := e.svc.Open(ctx, "acme", "a", 0)
	require.NoError(t, err)
	defer s.Close()
	cancel()
	ends(t, s)
}

// failingLog is an event log whose reads fail.
type failingLog struct{ err error }

func (f failingLog) Last(context.Context, string, string, app.EventKind) (uint64, bool, error) {
	return 0, false, f.err
}

func (f failingLog) Follow(context.Context, string, string, uint64, func(app.Event) error, ...app.EventKind) error {
	return f.err
}

func TestProgressReportsALogFailure(t *testing.T) {
	t.Parallel()
	repo := apptest.NewAssessments()
	require.NoError(t, repo.Create(context.Background(), store.Assessment{ID: "a", TenantID: "acme", Status: "running"}))
	require.NoError(t, repo.Create(context.Background(), store.Assessment{ID: "b", TenantID: "acme", Status: "completed"}))
	broken := errors.New("broker unreachable")
	svc, err := app.NewProgress(repo, failingLog{err: broken}, app.ProgressOptions{})
	require.NoError(t, err)
	s, err := svc.Open(context.Background(), "acme", "a", 0)
	require.NoError(t, err)
	_, ok := <-s.Events()
	require.False(t, ok)
	require.ErrorIs(t, s.Err(), broken, "the stream says why it ended")
	_, err = svc.Open(context.Background(), "acme", "b", 0)
	require.ErrorIs(t, err, broken)
}

func TestNewProgressNeedsItsPorts(t *testing.T) {
	t.Parallel()
	_, err := app.NewProgress(nil, apptest.NewEventLog(), app.ProgressOptions{})
	require.Error(t, err)
	_, err = app.NewProgress(apptest.NewAssessments(), nil, app.ProgressOptions{})
	require.Error(t, err)
}
