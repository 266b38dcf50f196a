package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/bus"
)

// eventLogHarness is an EventLog and a way to store an event in it as the
// synthesizer does, returning the event's position.
type eventLogHarness struct {
	log    app.EventLog
	append func(t *testing.T, tenant, id string, kind app.EventKind, data []byte) uint64
}

// eventLogHarnesses are the fake and the EVENTS stream of the broker b
// connects to.
func eventLogHarnesses(t *testing.T, b *bus.Bus) map[string]eventLogHarness {
	t.Helper()
	fake := apptest.NewEventLog()
	js, err := adapters.NewJetStreamEvents(b)
	require.NoError(t, err)
	return map[string]eventLogHarness{
		"fake": {log: fake, append: func(_ *testing.T, tenant, id string, kind app.EventKind, data []byte) uint64 {
			return fake.Append(tenant, id, kind, data)
		}},
		"jetstream": {log: js, append: func(t *testing.T, tenant, id string, kind app.EventKind, data []byte) uint64 {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m := bus.Message{ID: uuid.NewString(), Source: "/services/synthesizer", Tenant: tenant, CESubject: id, Time: time.Now(), Data: data}
			switch kind {
			case app.EventStatus:
				m.Type, m.Subject = bus.TypeStatusChanged, bus.SubjectStatus(tenant, id)
			case app.EventCompleted:
				m.Type, m.Subject = bus.TypeAssessmentCompleted, bus.SubjectCompleted(tenant, id)
			default:
				t.Fatalf("no subject for event kind %q", kind)
			}
			require.NoError(t, b.Publish(ctx, m))
			seq, ok, err := js.Last(ctx, tenant, id, kind)
			require.NoError(t, err)
			require.True(t, ok)
			return seq
		}},
	}
}

// runEventLogContracts runs the event log contract on every harness.
func runEventLogContracts(t *testing.T, b *bus.Bus) {
	for name, h := range eventLogHarnesses(t, b) {
		t.Run("eventlog/"+name, func(t *testing.T) {
			t.Parallel()
			testEventLogContract(t, h)
		})
	}
}

// follow collects what Follow hands out until n events arrived, or fails
// after a generous bound (a hang, not a speed check).
func follow(t *testing.T, log app.EventLog, tenant, id string, after uint64, n int, kinds ...app.EventKind) []app.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []app.Event
	done := errors.New("done")
	err := log.Follow(ctx, tenant, id, after, func(e app.Event) error {
		got = append(got, e)
		if len(got) == n {
			return done
		}
		return nil
	}, kinds...)
	require.ErrorIs(t, err, done, "Follow returns fn's error; got %d of %d events", len(got), n)
	return got
}

func testEventLogContract(t *testing.T, h eventLogHarness) {
	ctx := context.Background()
	tenant, other := "t-"+uuid.NewString()[:8], "o-"+uuid.NewString()[:8]
	id, sibling := uuid.NewString(), uuid.NewString()
	data := func(s string) []byte { return []byte(fmt.Sprintf(`{"status":%q}`, s)) }

	_, ok, err := h.log.Last(ctx, tenant, id, app.EventStatus)
	require.NoError(t, err)
	require.False(t, ok, "no event retained yet")

	queued := h.append(t, tenant, id, app.EventStatus, data("queued"))
	h.append(t, other, id, app.EventStatus, data("other tenant, same id"))
	h.append(t, tenant, sibling, app.EventStatus, data("sibling"))
	running := h.append(t, tenant, id, app.EventStatus, data("running"))
	require.Greater(t, running, queued, "positions grow")

	t.Run("last is per tenant, assessment and kind", func(t *testing.T) {
		got, ok, err := h.log.Last(ctx, tenant, id, app.EventStatus)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, running, got)
		_, ok, err = h.log.Last(ctx, tenant, id, app.EventCompleted)
		require.NoError(t, err)
		require.False(t, ok)
		_, ok, err = h.log.Last(ctx, "nobody", id, app.EventStatus)
		require.NoError(t, err)
		require.False(t, ok, "another tenant's events are not this tenant's")
	})

	t.Run("replays the assessment's events in order, data as stored", func(t *testing.T) {
		got := follow(t, h.log, tenant, id, 0, 2)
		require.Equal(t, []app.Event{
			{Seq: queued, Kind: app.EventStatus, Data: data("queued")},
			{Seq: running, Kind: app.EventStatus, Data: data("running")},
		}, got)
	})

	t.Run("replays after a position", func(t *testing.T) {
		got := follow(t, h.log, tenant, id, queued, 1)
		require.Equal(t, running, got[0].Seq)
	})

	t.Run("follows events stored after it started, then ends with its context", func(t *testing.T) {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		events := make(chan app.Event, 8)
		ended := make(chan error, 1)
		go func() {
			ended <- h.log.Follow(fctx, tenant, id, running, func(e app.Event) error {
				events <- e
				return nil
			})
		}()
		// Not a sleep-for-speed check: the event must arrive whether the
		// follower had started reading or not.
		completed := h.append(t, tenant, id, app.EventCompleted, []byte(`{"status":"completed","report_path":"/r"}`))
		select {
		case e := <-events:
			require.Equal(t, app.Event{Seq: completed, Kind: app.EventCompleted, Data: []byte(`{"status":"completed","report_path":"/r"}`)}, e)
		case <-time.After(10 * time.Second):
			t.Fatal("the event stored while following did not arrive")
		}
		cancel()
		select {
		case err := <-ended:
			require.NoError(t, err, "a follow ended by its context is not a failure")
		case <-time.After(10 * time.Second):
			t.Fatal("Follow did not return when its context ended")
		}
		last, ok, err := h.log.Last(ctx, tenant, id, app.EventCompleted)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, completed, last)
	})

	t.Run("filters by kind", func(t *testing.T) {
		got := follow(t, h.log, tenant, id, 0, 2, app.EventStatus)
		for _, e := range got {
			require.Equal(t, app.EventStatus, e.Kind)
		}
		got = follow(t, h.log, tenant, id, 0, 1, app.EventCompleted)
		require.Equal(t, app.EventCompleted, got[0].Kind)
	})

	t.Run("never hands out another tenant's events", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		var got []app.Event
		require.NoError(t, h.log.Follow(ctx, "nobody", id, 0, func(e app.Event) error {
			got = append(got, e)
			return nil
		}))
		require.Empty(t, got)
	})
}
