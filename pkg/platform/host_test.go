package platform

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// A host closes what it adopted last first (the gateway's keys before the
// cache, the cache before the store, the broker last), and a failing close
// is logged under the connection's name without stopping the others.
func TestHostClosesInReverseOrderOfAdoption(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := &Host{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	var closed []string
	adopt := func(name string, err error) {
		h.Adopt(name, func(context.Context) error { return nil }, func(context.Context) error {
			closed = append(closed, name)
			return err
		})
	}
	adopt("nats", nil)
	adopt("store", errors.New("connection reset"))
	adopt("redis", nil)
	h.OnClose(func(context.Context) { closed = append(closed, "keys") })

	var checks []string
	for _, c := range h.Checks() {
		checks = append(checks, c.Name)
	}
	require.Equal(t, []string{"nats", "store", "redis"}, checks)

	h.Close(context.Background())
	require.Equal(t, []string{"keys", "redis", "store", "nats"}, closed)
	require.Contains(t, logs.String(), `msg="close store" error="connection reset"`)
	h.Close(context.Background())
	require.Len(t, closed, 4, "a second Close releases nothing twice")
}

// The first component to fail stops the others, and Run returns its error.
func TestHostRunStopsAllWhenOneFails(t *testing.T) {
	t.Parallel()
	h := &Host{}
	boom := errors.New("consumer deleted")
	stopped := make(chan struct{})
	h.Go(func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return nil
	})
	h.Go(func(context.Context) error { return boom })
	require.ErrorIs(t, h.Run(context.Background()), boom)
	<-stopped
}
