package adapters

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
)

// A reading of the broker serves the admissions of the next ReadingAge,
// counting every admission since it as in flight: the broker sees nothing
// in flight here (no assessment is queued), yet the fourth admission
// within one reading is refused at a limit of three, and a new reading
// after ReadingAge admits again.
func TestAReadingOfTheBrokerServesTheNextAdmissions(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir(), SkipMongo: true, SkipRedis: true})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "admission"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	a, err := NewBrokerAdmission(b, 3, time.Second)
	require.NoError(t, err)
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return clock }

	for range 3 {
		release, err := a.Admit(ctx)
		require.NoError(t, err)
		release() // queued (or failed): no longer pending
	}
	n, err := a.InFlight(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the broker holds nothing in flight")

	_, err = a.Admit(ctx)
	var busy *app.BusyError
	require.True(t, errors.As(err, &busy), "refused within the reading: %v", err)
	require.Equal(t, 3, busy.InFlight)

	clock = clock.Add(ReadingAge)
	release, err := a.Admit(ctx)
	require.NoError(t, err, "a new reading sees nothing in flight")
	release()
}
