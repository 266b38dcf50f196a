package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// TestAScheduledMessageIsPublishedAtItsTimeAndALaterScheduleReplacesIt runs
// the deadline's life on the broker: a schedule, replaced by a later one
// before it fires, is delivered once, at the later time, to the target
// subject with its CloudEvents attributes and data.
func TestAScheduledMessageIsPublishedAtItsTimeAndALaterScheduleReplacesIt(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	got := make(chan *bus.Event, 4)
	runConsume(t, b, "deadlines-test", bus.DeadlinesDue(), func(_ context.Context, e *bus.Event) ([]bus.Message, error) {
		got <- e
		return nil, nil
	})

	schedule := func(id string, at time.Time) {
		t.Helper()
		require.NoError(t, b.Publish(ctx, bus.Message{
			ID: id, Type: "test.deadline", Source: "/test", Tenant: "acme", CESubject: "a1",
			Subject:  bus.SubjectDeadlineSchedule("acme", "a1"),
			Data:     &inframindv1.Metadata{TenantId: "acme", AssessmentId: "a1", EventId: id},
			Schedule: &bus.Schedule{At: at, Target: bus.SubjectDeadlineDue("acme", "a1")},
		}))
	}
	start := time.Now()
	schedule("first", start.Add(time.Second))
	schedule("second", start.Add(3*time.Second))

	var e *bus.Event
	select {
	case e = <-got:
	case <-ctx.Done():
		t.Fatal("the scheduled message was never published")
	}
	// "@at" is to the second, rounded up: not before the later time.
	require.GreaterOrEqual(t, time.Since(start), 3*time.Second, "the first schedule fired although a later one replaced it")
	require.Equal(t, bus.SubjectDeadlineDue("acme", "a1"), e.Subject)
	require.Equal(t, "second", e.ID)
	require.Equal(t, "acme", e.Tenant)
	var md inframindv1.Metadata
	require.NoError(t, e.Decode(&md))
	require.Equal(t, "a1", md.GetAssessmentId())

	select {
	case extra := <-got:
		t.Fatalf("a replaced schedule fired as well: %s", extra.ID)
	case <-time.After(2 * time.Second):
	}
}

func TestAScheduleNeedsATimeAndAnotherSubject(t *testing.T) {
	t.Parallel()
	base := bus.Message{ID: "x", Type: "t", Source: "/s", Subject: "im.deadline.schedule.acme.a"}
	for _, tc := range []struct {
		name string
		s    bus.Schedule
	}{
		{name: "no time", s: bus.Schedule{Target: "im.deadline.due.acme.a"}},
		{name: "no target", s: bus.Schedule{At: time.Now()}},
		{name: "its own subject", s: bus.Schedule{At: time.Now(), Target: base.Subject}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := base
			m.Schedule = &tc.s
			require.Error(t, m.Validate())
		})
	}
}
