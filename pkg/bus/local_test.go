package bus

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func localResult(summary string) *inframindv1.AgentResultPublished {
	return &inframindv1.AgentResultPublished{
		Metadata: &inframindv1.Metadata{EventId: "a1/cloud", TenantId: "acme", AssessmentId: "a1"},
		Family:   "cloud", Summary: summary,
		Metrics: []*inframindv1.Metric{{Name: "replicas", Value: 3, Source: "Little 1961"}},
	}
}

func TestLocalCopies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, c *localCopies)
	}{{
		name: "the bytes published under the id give a copy equal to decoding them",
		run: func(t *testing.T, c *localCopies) {
			sent := localResult("three replicas")
			data := mustEncode(t, sent)
			c.put("a1/cloud", data, sent)
			sent.Summary = "changed by the publisher afterwards"

			var got inframindv1.AgentResultPublished
			require.True(t, c.copyInto("a1/cloud", data, &got))
			ev := &Event{ID: "a1/cloud", Data: data}
			var decoded inframindv1.AgentResultPublished
			require.NoError(t, ev.Decode(&decoded))
			require.True(t, proto.Equal(&decoded, &got), "copy %v, decoded %v", &got, &decoded)
			require.Equal(t, "three replicas", got.GetSummary())
		},
	}, {
		name: "a consumer changing its copy changes no other copy",
		run: func(t *testing.T, c *localCopies) {
			sent := localResult("three replicas")
			data := mustEncode(t, sent)
			c.put("a1/cloud", data, sent)
			var first, second inframindv1.AgentResultPublished
			require.True(t, c.copyInto("a1/cloud", data, &first))
			first.Metrics[0].Value = 99
			first.Summary = "mutated"
			require.True(t, c.copyInto("a1/cloud", data, &second))
			require.Equal(t, "three replicas", second.GetSummary())
			require.InDelta(t, 3.0, second.GetMetrics()[0].GetValue(), 0)
		},
	}, {
		name: "other bytes under the same id (what the stream kept of an earlier publish) are decoded",
		run: func(t *testing.T, c *localCopies) {
			kept := mustEncode(t, localResult("what the stream stored first"))
			retry := localResult("a retry's other bytes")
			c.put("a1/cloud", mustEncode(t, retry), retry)
			var got inframindv1.AgentResultPublished
			require.False(t, c.copyInto("a1/cloud", kept, &got))
			ev := &Event{ID: "a1/cloud", Data: kept, local: c}
			require.NoError(t, ev.Decode(&got))
			require.Equal(t, "what the stream stored first", got.GetSummary())
		},
	}, {
		name: "another message type is decoded",
		run: func(t *testing.T, c *localCopies) {
			sent := localResult("three replicas")
			data := mustEncode(t, sent)
			c.put("a1/cloud", data, sent)
			var other inframindv1.AssessmentCompleted
			require.False(t, c.copyInto("a1/cloud", data, &other))
		},
	}, {
		name: "the oldest entries leave when the budget is spent",
		run: func(t *testing.T, c *localCopies) {
			var sent [][]byte
			for i := range 40 {
				m := localResult(string(rune('a' + i%26)))
				m.Metadata.EventId = string(rune('A' + i))
				data := mustEncode(t, m)
				sent = append(sent, data)
				c.put(m.Metadata.EventId, data, m)
			}
			require.LessOrEqual(t, c.size, c.budget)
			var got inframindv1.AgentResultPublished
			require.False(t, c.copyInto("A", sent[0], &got), "the first entry is gone")
			require.True(t, c.copyInto(string(rune('A'+39)), sent[39], &got), "the last one is kept")
		},
	}, {
		name: "a second publish under an id replaces the first",
		run: func(t *testing.T, c *localCopies) {
			first, second := localResult("first"), localResult("second")
			d1, d2 := mustEncode(t, first), mustEncode(t, second)
			c.put("a1/cloud", d1, first)
			c.put("a1/cloud", d2, second)
			var got inframindv1.AgentResultPublished
			require.False(t, c.copyInto("a1/cloud", d1, &got))
			require.True(t, c.copyInto("a1/cloud", d2, &got))
			require.Equal(t, "second", got.GetSummary())
			require.Equal(t, len(d2), c.size)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Room for about 12 of the small results above.
			tt.run(t, newLocalCopies(12*len(mustEncode(t, localResult("x")))))
		})
	}
}

func mustEncode(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := EncodeData(m)
	require.NoError(t, err)
	return b
}

// TestNoLocalCopiesDecodes holds that a Bus keeping none decodes as before.
func TestNoLocalCopiesDecodes(t *testing.T) {
	t.Parallel()
	require.Nil(t, newLocalCopies(0))
	var c *localCopies
	sent := localResult("three replicas")
	c.put("a1/cloud", mustEncode(t, sent), sent)
	var got inframindv1.AgentResultPublished
	require.False(t, c.copyInto("a1/cloud", mustEncode(t, sent), &got))
}

// TestConsumersOnThePublishingBusCopy runs the whole way on a broker: a Bus
// keeping local copies publishes a result, and two consumers on it receive
// equal copies from the kept value (no JSON decoded), each its own.
func TestConsumersOnThePublishingBusCopy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir(), SkipMongo: true, SkipRedis: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	b, err := Connect(ctx, Config{URL: st.NATSURL, Name: t.Name(), LocalCopies: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	sent := localResult("three replicas")
	got := make(chan *inframindv1.AgentResultPublished, 2)
	for _, durable := range []string{"first", "second"} {
		go func() {
			_ = b.Consume(ctx, durable, Results("cloud"), func(_ context.Context, e *Event) ([]Message, error) {
				var res inframindv1.AgentResultPublished
				if err := e.Decode(&res); err != nil {
					return nil, err
				}
				got <- proto.CloneOf(&res)
				res.Summary = "changed by " + durable
				return nil, nil
			})
		}()
	}
	require.Eventually(t, func() bool {
		_, err1 := b.JS.Consumer(ctx, StreamResults, "first")
		_, err2 := b.JS.Consumer(ctx, StreamResults, "second")
		return err1 == nil && err2 == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, b.Publish(ctx, Message{ID: "a1/cloud", Type: TypeAgentResultPublished, Source: "/services/cloud",
		Subject: SubjectResult("acme", "cloud"), Tenant: "acme", Data: sent}))
	for range 2 {
		select {
		case res := <-got:
			require.Equal(t, "three replicas", res.GetSummary())
			require.True(t, proto.Equal(sent, res))
		case <-ctx.Done():
			t.Fatal("a consumer received nothing")
		}
	}
	require.Equal(t, uint64(2), b.local.hits.Load())
	require.Zero(t, b.local.misses.Load())
}
