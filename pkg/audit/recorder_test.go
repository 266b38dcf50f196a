package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// memLog is an in-memory Appender for the recorder's own tests. It can hold
// every Append until released and fail a given number of calls.
type memLog struct {
	mu      sync.Mutex
	recs    []Record
	gate    chan struct{} // nil: no wait
	fail    int           // Append calls still to fail
	failErr error
}

func (m *memLog) Append(ctx context.Context, rec Record) error {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return m.failErr
	}
	m.recs = append(m.recs, rec)
	return nil
}

func (m *memLog) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.recs))
	for _, r := range m.recs {
		out = append(out, r.ID)
	}
	return out
}

func rec(t *testing.T, i int) Record {
	t.Helper()
	id, err := NewID()
	require.NoError(t, err)
	return Record{ID: id, Time: time.Now().UTC(), Actor: Anonymous, Action: fmt.Sprintf("test.%d", i)}
}

func count(r *Recorder, result string) int {
	return int(testutil.ToFloat64(r.records.WithLabelValues(result)))
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		want   Outcome
	}{
		{"ok", 200, Success},
		{"created", 201, Success},
		{"accepted", 202, Success},
		{"no content", 204, Success},
		{"not modified", 304, Success},
		{"bad request", 400, Invalid},
		{"unauthenticated", 401, Denied},
		{"forbidden", 403, Denied},
		{"not found", 404, NotFound},
		{"method not allowed", 405, Invalid},
		{"conflict", 409, Invalid},
		{"gone", 410, NotFound},
		{"too large", 413, Invalid},
		{"rate limited", 429, Denied},
		{"internal", 500, Error},
		{"unavailable", 503, Error},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, OutcomeOf(tc.status))
		})
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	long := ""
	for range 100 {
		long += "é€" // 2- and 3-byte runes, so a byte cut would split one
	}
	tests := []struct {
		name string
		in   string
	}{
		{"short is kept", "curl/8.5"},
		{"ascii is cut", string(make([]byte, 1000))},
		{"multibyte is cut on a rune boundary", long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Clip(tc.in)
			require.LessOrEqual(t, len(got), maxFieldLen)
			require.Equal(t, tc.in[:len(got)], got)
			if len(tc.in) <= maxFieldLen {
				require.Equal(t, tc.in, got)
			} else {
				require.Greater(t, len(got), maxFieldLen-utf8.UTFMax, "cut at most one rune short")
			}
			require.True(t, utf8.ValidString(got), "clipped string is not valid UTF-8")
		})
	}
}

func TestNewIDSortsByCreation(t *testing.T) {
	t.Parallel()
	ids := make([]string, 0, 500)
	for range 500 {
		id, err := NewID()
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.True(t, slices.IsSorted(ids), "UUIDv7 strings must sort in creation order")
	require.Len(t, slices.Compact(slices.Clone(ids)), len(ids))
}

func TestCloseDrainsTheQueue(t *testing.T) {
	t.Parallel()
	sink := &memLog{gate: make(chan struct{})}
	r, err := NewRecorder(sink, Options{Buffer: 1000})
	require.NoError(t, err)
	var want []string
	for i := range 1000 {
		x := rec(t, i)
		require.True(t, r.Record(x))
		want = append(want, x.ID)
	}
	close(sink.gate) // the writer was held: all 1000 are still queued or in flight
	require.NoError(t, r.Close(t.Context()))
	require.Equal(t, want, sink.ids(), "every record written, in arrival order, before Close returns")
	require.Equal(t, 1000, count(r, resultWritten))

	require.False(t, r.Record(rec(t, 0)), "a closed recorder accepts nothing")
	require.ErrorIs(t, r.Close(t.Context()), ErrClosed)
}

func TestFullQueueRefusesReservations(t *testing.T) {
	t.Parallel()
	sink := &memLog{gate: make(chan struct{})}
	r, err := NewRecorder(sink, Options{Buffer: 2})
	require.NoError(t, err)
	var held []*Reservation
	for range 2 {
		v := r.Reserve()
		require.NotNil(t, v)
		held = append(held, v)
	}
	require.Nil(t, r.Reserve(), "no place left: the caller must refuse its action")
	require.False(t, r.Record(rec(t, 9)), "nor can a record be queued without a place")
	require.Equal(t, 2, count(r, resultRefused))

	held[0].Cancel()
	v := r.Reserve()
	require.NotNil(t, v, "a cancelled reservation frees its place")
	held[1].Commit(rec(t, 1))
	v.Commit(rec(t, 2))
	// A record being written still holds its place until it is stored.
	require.Nil(t, r.Reserve())
	close(sink.gate)
	require.NoError(t, r.Close(t.Context()))
	require.Len(t, sink.ids(), 2)
}

// fastRetry keeps the backoff of a test's retries short.
var fastRetry = Options{RetryInitial: time.Millisecond, RetryCap: 5 * time.Millisecond}

// TestFailedInsertsAreRetriedUntilStored: a store that fails the first 50
// inserts of a burst of 200 (timeouts under load, a failover) still ends
// with every record stored, each once, in arrival order; nothing is lost.
func TestFailedInsertsAreRetriedUntilStored(t *testing.T) {
	t.Parallel()
	sink := &memLog{fail: 50, failErr: context.DeadlineExceeded}
	opt := fastRetry
	opt.Buffer = 200
	r, err := NewRecorder(sink, opt)
	require.NoError(t, err)
	var want []string
	for i := range 200 {
		x := rec(t, i)
		require.True(t, r.Record(x))
		want = append(want, x.ID)
	}
	require.Eventually(t, func() bool { return len(sink.ids()) == 200 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, want, sink.ids())
	require.Equal(t, 200, count(r, resultWritten))
	require.Equal(t, 50, count(r, resultRetried))
	require.Equal(t, 0, count(r, resultFailed))
	require.NoError(t, r.Close(t.Context()))
}

// TestCloseDrainsThroughRetries: records queued while the store fails are
// all stored by Close, which keeps retrying until they are.
func TestCloseDrainsThroughRetries(t *testing.T) {
	t.Parallel()
	sink := &memLog{fail: 20, failErr: errors.New("connection reset")}
	r, err := NewRecorder(sink, fastRetry)
	require.NoError(t, err)
	var want []string
	for i := range 10 {
		x := rec(t, i)
		require.True(t, r.Record(x))
		want = append(want, x.ID)
	}
	require.NoError(t, r.Close(t.Context()))
	require.Equal(t, want, sink.ids(), "every record stored before Close returns")
	require.Nil(t, r.Reserve(), "a closed recorder takes no reservation")
}

// TestCloseGivesUpAtItsDeadlineAndLogsWhatIsLeft: a store down for good
// cannot take the records; Close returns at its deadline with an error and
// every record left is counted as failed and logged in full.
func TestCloseGivesUpAtItsDeadlineAndLogsWhatIsLeft(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	var mu sync.Mutex
	opt := fastRetry
	opt.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: &logged, mu: &mu}, nil))
	sink := &memLog{fail: 1 << 30, failErr: errors.New("no reachable servers")}
	r, err := NewRecorder(sink, opt)
	require.NoError(t, err)
	late := r.Reserve() // a request still running when the drain gives up
	require.NotNil(t, late)
	var ids []string
	for i := range 3 {
		x := rec(t, i)
		require.True(t, r.Record(x))
		ids = append(ids, x.ID)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.Error(t, r.Close(ctx))
	lateRec := rec(t, 4)
	late.Commit(lateRec)
	ids = append(ids, lateRec.ID)
	require.Empty(t, sink.ids())
	require.Equal(t, 4, count(r, resultFailed))
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		require.Contains(t, logged.String(), id, "a record not stored is kept in the log")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestADuplicateOnTheFirstTryIsNotRetried(t *testing.T) {
	t.Parallel()
	sink := &memLog{fail: 1, failErr: fmt.Errorf("insert: %w", ErrDuplicate)}
	r, err := NewRecorder(sink, fastRetry)
	require.NoError(t, err)
	require.True(t, r.Record(rec(t, 1)))
	require.NoError(t, r.Close(t.Context()))
	require.Empty(t, sink.ids())
	require.Equal(t, 1, count(r, resultFailed), "a colliding fresh id is a bug, reported")
	require.Equal(t, 0, count(r, resultRetried))
}

// dupAfterLostAck stores the record on the first call but reports an
// error, as when the acknowledgement is lost; the retry sees a duplicate.
type dupAfterLostAck struct{ calls int }

func (d *dupAfterLostAck) Append(context.Context, Record) error {
	d.calls++
	if d.calls == 1 {
		return errors.New("i/o timeout")
	}
	return fmt.Errorf("insert: %w", ErrDuplicate)
}

func TestDuplicateOnRetryCountsAsWritten(t *testing.T) {
	t.Parallel()
	sink := &dupAfterLostAck{}
	r, err := NewRecorder(sink, fastRetry)
	require.NoError(t, err)
	require.True(t, r.Record(rec(t, 1)))
	require.NoError(t, r.Close(t.Context()))
	require.Equal(t, 2, sink.calls)
	require.Equal(t, 1, count(r, resultWritten))
	require.Equal(t, 0, count(r, resultFailed))
}

func TestNewRecorder(t *testing.T) {
	t.Parallel()
	_, err := NewRecorder(nil, Options{})
	require.Error(t, err)

	reg := prometheus.NewRegistry()
	a, err := NewRecorder(&memLog{}, Options{Registry: reg})
	require.NoError(t, err)
	b, err := NewRecorder(&memLog{}, Options{Registry: reg})
	require.NoError(t, err, "a second recorder on one registry shares the counter")
	require.True(t, a.Record(rec(t, 1)))
	require.NoError(t, a.Close(t.Context()))
	require.NoError(t, b.Close(t.Context()))
	require.Equal(t, 1, count(b, resultWritten))
}
