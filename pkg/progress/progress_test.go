package progress_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/progress"
)

// startBus runs an in-process nats-server with JetStream and connects the
// bus, which declares the bucket.
func startBus(t *testing.T) *bus.Bus {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(ns.Shutdown)
	b, err := bus.Connect(t.Context(), bus.Config{URL: ns.ClientURL(), Name: "progress-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func open(t *testing.T, b *bus.Bus, opts ...progress.Option) *progress.State {
	t.Helper()
	s, err := progress.Open(t.Context(), b.JS, opts...)
	require.NoError(t, err)
	return s
}

func TestResultsAreKeptPerFamilyAndTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, startBus(t))

	first, err := s.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "a1", Family: "mlops", Data: []byte(`{"v":1}`)})
	require.NoError(t, err)
	require.True(t, first)
	first, err = s.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "a1", Family: "mlops", Data: []byte(`{"v":2}`)})
	require.NoError(t, err)
	require.False(t, first, "a redelivery is not the family's first result")
	_, err = s.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "a1", Family: "strategy", Data: []byte(`{}`)})
	require.NoError(t, err)

	got, err := s.Results(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "strategy", got[0].Family, "in the order of assessment.Families")
	require.Equal(t, "mlops", got[1].Family)
	require.JSONEq(t, `{"v":2}`, string(got[1].Data), "the later result replaces the earlier")

	other, err := s.Results(ctx, "globex", "a1")
	require.NoError(t, err)
	require.Empty(t, other, "another tenant's assessment with the same id reads as empty")
}

func TestInvalidArgumentsAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, startBus(t))
	tests := []struct {
		name string
		call func() error
	}{
		{"result without tenant", func() error {
			_, err := s.PutResult(ctx, progress.Result{AssessmentID: "a", Family: "cloud"})
			return err
		}},
		{"result of an unknown family", func() error {
			_, err := s.PutResult(ctx, progress.Result{TenantID: "t", AssessmentID: "a", Family: "astrology"})
			return err
		}},
		{"finish with a running status", func() error {
			_, _, err := s.ClaimFinish(ctx, progress.Finish{TenantID: "t", AssessmentID: "a", Status: "running"})
			return err
		}},
		{"announcement without owner", func() error {
			_, err := s.ClaimAnnouncement(ctx, progress.Announcement{TenantID: "t", AssessmentID: "a"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.call(), progress.ErrInvalid)
		})
	}
}

// TestOneFinishClaimWinsAcrossClients: claims from separate connections (as
// separate processes make them) race; exactly one wins and every caller gets
// the winner's claim.
func TestOneFinishClaimWinsAcrossClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := startBus(t)
	const callers = 8
	states := make([]*progress.State, callers)
	for i := range states {
		other, err := bus.Connect(ctx, bus.Config{URL: b.NC.ConnectedUrl(), Name: "progress-test"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = other.Close() })
		states[i] = open(t, other)
	}
	_, found, err := states[0].Finished(ctx, "acme", "race")
	require.NoError(t, err)
	require.False(t, found)

	type outcome struct {
		won   progress.Finish
		isMe  bool
		err   error
		asked string
	}
	outcomes := make([]outcome, callers)
	var wg sync.WaitGroup
	for i, s := range states {
		wg.Go(func() {
			status := string(assessment.StatusCompleted)
			if i%2 == 1 {
				status = string(assessment.StatusPartial)
			}
			won, isMe, err := s.ClaimFinish(ctx, progress.Finish{TenantID: "acme", AssessmentID: "race", Status: status, At: time.Now()})
			outcomes[i] = outcome{won, isMe, err, status}
		})
	}
	wg.Wait()
	winners := 0
	for _, o := range outcomes {
		require.NoError(t, o.err)
		require.Equal(t, outcomes[0].won.Status, o.won.Status, "every caller gets the one claim that holds")
		if o.isMe {
			winners++
			require.Equal(t, o.asked, o.won.Status)
		}
	}
	require.Equal(t, 1, winners)

	fin, found, err := states[0].Finished(ctx, "acme", "race")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, outcomes[0].won.Status, fin.Status)
	_, found, err = states[0].Finished(ctx, "globex", "race")
	require.NoError(t, err)
	require.False(t, found, "another tenant's assessment is not finished by it")
}

func TestTheFirstAnnouncerHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, startBus(t))
	at := time.Now().UTC().Truncate(time.Millisecond)
	got, err := s.ClaimAnnouncement(ctx, progress.Announcement{TenantID: "acme", AssessmentID: "a1", Owner: "result 1", At: at})
	require.NoError(t, err)
	require.Equal(t, "result 1", got.Owner)
	got, err = s.ClaimAnnouncement(ctx, progress.Announcement{TenantID: "acme", AssessmentID: "a1", Owner: "sweep 2", At: at.Add(time.Second)})
	require.NoError(t, err)
	require.Equal(t, "result 1", got.Owner)
	require.True(t, at.Equal(got.At), "the holder's claim time, for the takeover rule")
}

// TestOpsAreCounted: the counter sees one request per lookup, so a caller
// can show round trips per assessment.
func TestOpsAreCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	ops := map[string]int{}
	s := open(t, startBus(t), progress.CountOps(func(op string) {
		mu.Lock()
		ops[op]++
		mu.Unlock()
	}))
	_, err := s.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud"})
	require.NoError(t, err)
	_, err = s.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud"})
	require.NoError(t, err)
	_, err = s.Results(ctx, "acme", "a1")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"create": 2, "put": 1, "get": len(assessment.Families())}, ops)
}

// Six writers marking the families of one assessment at once (replicas of
// the synthesizer handling its results in parallel) all land: each update is
// a compare-and-set retried on a conflict, never a lost write. A repeated
// mark keeps the first time and summary; a moved deadline only moves later.
func TestConcurrentMarksAllLand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, startBus(t))
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	var wg sync.WaitGroup
	for _, f := range assessment.Families() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.MarkFamily(ctx, "acme", "a1", string(f), string(f)+" done", at)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	m, found, err := s.Marks(ctx, "acme", "a1")
	require.NoError(t, err)
	require.True(t, found)
	require.Len(t, m.Families, len(assessment.Families()))

	again, err := s.MarkFamily(ctx, "acme", "a1", "cloud", "later", at.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, progress.Mark{CompletedAt: at, Summary: "cloud done"}, again.Families["cloud"], "the first mark stays")

	moved, err := s.MoveDeadline(ctx, "acme", "a1", at.Add(5*time.Minute), at)
	require.NoError(t, err)
	require.True(t, moved.Deadline.Equal(at.Add(5*time.Minute)))
	moved, err = s.MoveDeadline(ctx, "acme", "a1", at.Add(time.Minute), at)
	require.NoError(t, err)
	require.True(t, moved.Deadline.Equal(at.Add(5*time.Minute)), "a deadline never moves earlier")
	require.Len(t, moved.Families, len(assessment.Families()), "moving the deadline keeps the marks")

	_, found, err = s.Marks(ctx, "globex", "a1")
	require.NoError(t, err)
	require.False(t, found, "another tenant's assessment with the same id has no marks")
	_, err = s.MarkFamily(ctx, "acme", "a1", "astrology", "", at)
	require.ErrorIs(t, err, progress.ErrInvalid)
}
