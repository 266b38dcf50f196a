package client_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/client"
)

// TestEventsAreDeliveredOncePerEventID: delivery is at least once, so the
// same event (same CloudEvent id) can be stored twice under two stream
// positions, or be sent again after a reconnect; fn sees it once.
func TestEventsAreDeliveredOncePerEventID(t *testing.T) {
	t.Parallel()
	var connects atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if connects.Add(1) == 1 {
			fmt.Fprint(w, "id: 1\nevent: status\ndata: {\"metadata\":{\"event_id\":\"queued\"},\"status\":\"queued\"}\n\n")
			fmt.Fprint(w, "id: 2\nevent: status\ndata: {\"metadata\":{\"event_id\":\"cloud\"},\"status\":\"family_completed\"}\n\n")
			return // the connection drops
		}
		require.Equal(t, "2", r.Header.Get("Last-Event-ID"))
		fmt.Fprint(w, "id: 3\nevent: status\ndata: {\"metadata\":{\"event_id\":\"cloud\"},\"status\":\"family_completed\"}\n\n")
		fmt.Fprint(w, "id: 4\nevent: completed\ndata: {\"metadata\":{\"event_id\":\"done\"},\"status\":\"completed\"}\n\n")
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "token", nil)
	require.NoError(t, err)

	var got []uint64
	require.NoError(t, c.Events(t.Context(), "a1", 0, func(e client.Event) error {
		got = append(got, e.ID)
		return nil
	}))
	require.Equal(t, []uint64{1, 2, 4}, got, "the repeat of event id cloud at position 3 is skipped")
}

// TestEventsEndWhenTheStreamHasNothingMore: a 204 means the assessment has
// ended and the stream holds nothing more for this client.
func TestEventsEndWhenTheStreamHasNothingMore(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "token", nil)
	require.NoError(t, err)
	err = c.Events(t.Context(), "a1", 7, func(client.Event) error { return nil })
	require.ErrorIs(t, err, client.ErrNoMoreEvents)
}
