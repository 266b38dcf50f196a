package client_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/client"
)

// busyThen answers 429 with retryAfter (when set) refused times, then 202,
// recording when each submission arrived and what it carried.
func busyThen(t *testing.T, refused int, retryAfter string) (*httptest.Server, func() ([]time.Time, []string)) {
	t.Helper()
	var mu sync.Mutex
	var at []time.Time
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		at = append(at, time.Now())
		bodies = append(bodies, string(b))
		n := len(at)
		mu.Unlock()
		if n <= refused {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"type":"https://infra-mind.dev/problems/pipeline-busy","title":"Too many assessments in flight","status":429}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"a1","status":"queued","status_url":"/s","events_url":"/e","report_url":"/r"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() ([]time.Time, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), at...), append([]string(nil), bodies...)
	}
}

// A submission refused with 429 and Retry-After is sent again, the same
// body, after the wait the gateway named.
func TestSubmitWaitsOutRetryAfter(t *testing.T) {
	t.Parallel()
	srv, calls := busyThen(t, 1, "1")
	c, err := client.New(srv.URL, "token", nil)
	require.NoError(t, err)
	acc, err := c.Submit(t.Context(), []byte(`{"name":"x"}`), "application/json")
	require.NoError(t, err)
	require.Equal(t, "a1", acc.ID)
	at, bodies := calls()
	require.Len(t, at, 2)
	require.GreaterOrEqual(t, at[1].Sub(at[0]), time.Second, "waited the Retry-After")
	require.Equal(t, []string{`{"name":"x"}`, `{"name":"x"}`}, bodies)
}

func TestBusyRefusalsThatDoNotEndAreReturned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		opts       []client.Option
		wantCalls  int
	}{
		{name: "without Retry-After the refusal is returned at once", wantCalls: 1},
		{name: "retries are bounded", retryAfter: "1", opts: []client.Option{client.BusyRetries(1)}, wantCalls: 2},
		{name: "retries can be turned off", retryAfter: "1", opts: []client.Option{client.BusyRetries(0)}, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, calls := busyThen(t, 100, tc.retryAfter)
			c, err := client.New(srv.URL, "token", nil, tc.opts...)
			require.NoError(t, err)
			_, err = c.Submit(t.Context(), []byte(`{}`), "application/json")
			var p *client.Problem
			require.True(t, errors.As(err, &p), "a Problem: %v", err)
			require.Equal(t, http.StatusTooManyRequests, p.Status)
			at, _ := calls()
			require.Len(t, at, tc.wantCalls)
		})
	}
}
