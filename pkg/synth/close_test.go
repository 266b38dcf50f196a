package synth_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/synth"
)

// The finish claim is read while the result is being stored, not after:
// the store of a result is held until the read arrives (or a bound passes,
// when the test fails).
func TestAResultIsStoredWhileItsFinishIsRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "synth-overlap"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	s, err := store.Connect(ctx, stack.MongoURI, "synth_overlap")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	var (
		armed      atomic.Bool
		read       = make(chan struct{}, 16)
		overlapped atomic.Bool
	)
	count := func(op string) {
		switch op {
		case "get":
			select {
			case read <- struct{}{}:
			default:
			}
		case "create":
			// The result's store, the first write of the delivery.
			if !armed.CompareAndSwap(true, false) {
				return
			}
			select {
			case <-read:
				overlapped.Store(true)
			case <-time.After(5 * time.Second):
			}
		}
	}
	sy, err := synth.New(ctx, b, s, slog.New(slog.DiscardHandler), synth.Config{Progress: []progress.Option{progress.CountOps(count)}}, nil)
	require.NoError(t, err)
	e := &env{bus: b, store: s, synth: sy}
	e.create(t, "acme", "overlap", time.Now().Add(time.Hour))
	for len(read) > 0 {
		<-read
	}
	armed.Store(true)
	_, err = sy.Handle(ctx, resultEvent(t, "acme", "overlap", assessment.FamilyCloud, "overlap-cloud", 1))
	require.NoError(t, err)
	require.True(t, overlapped.Load(), "the finish is read only after the result is stored")
}
