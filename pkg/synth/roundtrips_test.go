package synth_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
	"github.com/infra-mind/infra-mind/pkg/synth"
)

// tally counts named operations from several goroutines.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tally) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

// take returns the counts so far and starts again from zero.
func (c *tally) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// TestRoundTripsPerAssessment counts what one assessment costs the
// synthesizer (its six results handled, their outputs published): commands
// to the document store, requests to the pipeline state and messages
// published. The counts are exact, so a change that adds a round trip to the
// hot path fails here and has to say why.
func TestRoundTripsPerAssessment(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "synth-roundtrips"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	commands, kv := &tally{n: map[string]int{}}, &tally{n: map[string]int{}}
	s, err := store.Connect(ctx, stack.MongoURI, "synth_roundtrips", store.WithCommandMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) { commands.add(e.CommandName) },
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// As every service runs it: reads by key come from the read model.
	_, err = readmodel.Use(ctx, b.JS, s, log)
	require.NoError(t, err)
	sy, err := synth.New(ctx, b, s, log, synth.Config{Progress: []progress.Option{progress.CountOps(kv.add)}}, nil)
	require.NoError(t, err)
	e := &env{bus: b, store: s, synth: sy}

	for i, id := range []string{"warm", "counted"} {
		commands.take()
		kv.take()
		e.create(t, "acme", id, time.Now().Add(time.Hour))
		published := 0
		for j, f := range assessment.Families() {
			out, err := sy.Handle(ctx, resultEvent(t, "acme", id, f, id+"-"+string(f), uint64(i*10+j+1)))
			require.NoError(t, err)
			if j == len(assessment.Families())-1 {
				// The closing delivery: the families' progress events may be
				// stored in any order, once each; the terminal status and
				// the completed event after every one of them.
				require.Len(t, out, len(assessment.Families())+2)
				ids := map[string]bool{}
				for k, m := range out {
					require.Equal(t, k < len(out)-2, m.Unordered, "output %d (%s)", k, m.Type)
					require.False(t, ids[m.ID], "output %d repeats %s", k, m.ID)
					ids[m.ID] = true
				}
				require.Equal(t, bus.TypeAssessmentCompleted, out[len(out)-1].Type)
			}
			publishAll(t, b, out)
			published += len(out)
		}
		got, err := s.Assessments.Get(ctx, "acme", id)
		require.NoError(t, err)
		require.Equal(t, string(assessment.StatusCompleted), got.Status)
		if id == "warm" {
			continue // the first assessment also pays for the driver's connection set-up
		}
		docs, state := commands.take(), kv.take()
		t.Logf("one assessment: store commands %v, pipeline state requests %v, messages published %d", docs, state, published)

		// Inserts only, which FerretDB on PostgreSQL serves from the primary
		// key: the gateway's insert of the assessment; the close, an insert of
		// its record (ADR 0040; an update or findAndModify would first read
		// the whole table there); the report and the recommendations. The
		// reads by key (the assessment at its first result and at the close,
		// the test's own read above) come from the read model (ADR 0030).
		// Progress while it runs is not written to the document (ADR 0029).
		require.Equal(t, map[string]int{"insert": 4}, docs)
		// Per result: store it (create), check for a close (get), mark the
		// family (get, then create the marks or update them); after the
		// last, read the six results (6 gets), then the finish and the
		// announcement claims (create each).
		require.Equal(t, map[string]int{"create": 6 + 1 + 2, "update": 5, "get": 6*2 + 6}, state)
		// A progress event per result; the announcer publishes every
		// family's progress again under the same ids (deduplicated by
		// JetStream) but the closing result's own, which its delivery
		// already holds, then the terminal status and the completed event.
		require.Equal(t, 6+5+2, published)
	}
}
