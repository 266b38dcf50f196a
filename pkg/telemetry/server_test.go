package telemetry_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// readyBody mirrors the JSON of /healthz and /readyz.
type readyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

func okCheck(name string) telemetry.Check {
	return telemetry.Check{Name: name, Fn: func(context.Context) error { return nil }}
}

func TestServerReadyz(t *testing.T) {
	t.Parallel()

	secretErr := errors.New("dial tcp 10.1.2.3:27017: auth failed for admin:hunter2")
	tests := []struct {
		name       string
		checks     []telemetry.Check
		wantCode   int
		wantStatus string
		wantChecks map[string]string
	}{
		{
			name:       "no checks",
			wantCode:   http.StatusOK,
			wantStatus: "ready",
		},
		{
			name:       "all pass",
			checks:     []telemetry.Check{okCheck("nats"), okCheck("store"), okCheck("redis")},
			wantCode:   http.StatusOK,
			wantStatus: "ready",
			wantChecks: map[string]string{"nats": "ok", "store": "ok", "redis": "ok"},
		},
		{
			name: "plain error is reported without its text",
			checks: []telemetry.Check{okCheck("nats"), {Name: "store", Fn: func(context.Context) error {
				return secretErr
			}}},
			wantCode:   http.StatusServiceUnavailable,
			wantStatus: "unavailable",
			wantChecks: map[string]string{"nats": "ok", "store": "unavailable"},
		},
		{
			name: "check error shows its public message only",
			checks: []telemetry.Check{{Name: "nats", Fn: func(context.Context) error {
				return &telemetry.CheckError{Message: "not connected", Err: secretErr}
			}}},
			wantCode:   http.StatusServiceUnavailable,
			wantStatus: "unavailable",
			wantChecks: map[string]string{"nats": "not connected"},
		},
		{
			name: "hung check times out",
			checks: []telemetry.Check{okCheck("store"), {Name: "redis", Fn: func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			}}},
			wantCode:   http.StatusServiceUnavailable,
			wantStatus: "unavailable",
			wantChecks: map[string]string{"store": "ok", "redis": "timeout"},
		},
		{
			name:       "nil check function fails",
			checks:     []telemetry.Check{{Name: "cache"}},
			wantCode:   http.StatusServiceUnavailable,
			wantStatus: "unavailable",
			wantChecks: map[string]string{"cache": "not configured"},
		},
		{
			name: "panicking check fails without crashing",
			checks: []telemetry.Check{{Name: "llm", Fn: func(context.Context) error {
				panic("boom at 10.1.2.3")
			}}},
			wantCode:   http.StatusServiceUnavailable,
			wantStatus: "unavailable",
			wantChecks: map[string]string{"llm": "check failed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := telemetry.NewServer("127.0.0.1:0", telemetry.NewRegistry(), tc.checks...)
			res, body := get(t, s.Handler(), "/readyz")
			require.Equal(t, tc.wantCode, res.StatusCode, body)
			require.Equal(t, "application/json", res.Header.Get("Content-Type"))
			var got readyBody
			require.NoError(t, json.Unmarshal([]byte(body), &got))
			require.Equal(t, tc.wantStatus, got.Status)
			if tc.wantChecks == nil {
				require.Empty(t, got.Checks)
			} else {
				require.Equal(t, tc.wantChecks, got.Checks)
			}
			require.NotContains(t, body, "10.1.2.3")
			require.NotContains(t, body, "hunter2")
		})
	}
}

func TestServerHealthzAlwaysOK(t *testing.T) {
	t.Parallel()
	failing := telemetry.Check{Name: "nats", Fn: func(context.Context) error { return errors.New("down") }}
	s := telemetry.NewServer("127.0.0.1:0", telemetry.NewRegistry(), failing)

	res, body := get(t, s.Handler(), "/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var got readyBody
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, "ok", got.Status)
}

func TestServerMetrics(t *testing.T) {
	t.Parallel()
	reg := telemetry.NewRegistry()
	m, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	m.MessagesHandled.WithLabelValues("cloud", telemetry.OutcomeAck).Inc()
	m.MessagesHandled.WithLabelValues("cloud", telemetry.OutcomeAck).Inc()
	m.HTTPRequests.WithLabelValues("POST", "/v1/assessments", "202").Inc()
	m.HandlerSeconds.WithLabelValues("cloud").Observe(0.02)

	s := telemetry.NewServer("127.0.0.1:0", reg)
	res, body := get(t, s.Handler(), "/metrics")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, `inframind_messages_handled_total{consumer="cloud",outcome="ack"} 2`)
	require.Contains(t, body, `inframind_http_requests_total{code="202",method="POST",route="/v1/assessments"} 1`)
	require.Contains(t, body, `inframind_handler_duration_seconds_count{consumer="cloud"} 1`)
	// The Go and process collectors from NewRegistry are exposed too.
	require.Contains(t, body, "go_goroutines")
	require.Contains(t, body, "process_")
}

func TestNewMetricsSharesRegistry(t *testing.T) {
	t.Parallel()
	reg := telemetry.NewRegistry()
	first, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	// The all-in-one binary builds metrics for several services on one registry.
	second, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)

	first.AssessmentsFinished.WithLabelValues("completed").Inc()
	second.AssessmentsFinished.WithLabelValues("completed").Inc()

	families, err := reg.Gather()
	require.NoError(t, err)
	var total float64
	for _, f := range families {
		if f.GetName() == "inframind_assessments_finished_total" {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	require.InDelta(t, 2, total, 0)

	_, err = telemetry.NewMetrics(nil)
	require.Error(t, err)
}

func TestServerRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	s := telemetry.NewServer("127.0.0.1:0", telemetry.NewRegistry(), okCheck("nats"))
	require.NoError(t, s.Listen())
	addr := s.Addr()
	require.False(t, strings.HasSuffix(addr, ":0"), "Addr must report the bound port, got %s", addr)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	client := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/readyz", nil)
	require.NoError(t, err)
	res, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context was canceled")
	}

	// The port is released: a new request fails.
	req, err = http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/healthz", nil)
	require.NoError(t, err)
	_, err = client.Do(req)
	require.Error(t, err)
}

func TestServerRunAndErrors(t *testing.T) {
	t.Parallel()

	t.Run("serve before listen", func(t *testing.T) {
		t.Parallel()
		s := telemetry.NewServer("127.0.0.1:0", telemetry.NewRegistry())
		require.Error(t, s.Serve(context.Background()))
	})
	t.Run("address in use", func(t *testing.T) {
		t.Parallel()
		first := telemetry.NewServer("127.0.0.1:0", telemetry.NewRegistry())
		require.NoError(t, first.Listen())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- first.Serve(ctx) }()

		second := telemetry.NewServer(first.Addr(), telemetry.NewRegistry())
		require.Error(t, second.Run(context.Background()))
		cancel()
		require.NoError(t, <-done)
	})
	t.Run("run returns nil after cancel", func(t *testing.T) {
		t.Parallel()
		s := telemetry.NewServer("127.0.0.1:0", telemetry.NewRegistry())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.NoError(t, s.Run(ctx))
	})
}

// The public readiness answers ready or unavailable and nothing about the dependencies, and the public
// handler serves no metrics.
func TestPublicHandlerHidesTheDependencies(t *testing.T) {
	t.Parallel()
	reg := telemetry.NewRegistry()
	failing := telemetry.Check{Name: "redis", Fn: func(context.Context) error {
		return &telemetry.CheckError{Message: "redis down at 10.0.0.7:6379", Err: errors.New("dial tcp 10.0.0.7:6379")}
	}}
	for _, tc := range []struct {
		name   string
		checks []telemetry.Check
		code   int
		body   string
	}{
		{"ready", []telemetry.Check{okCheck("nats"), okCheck("store")}, http.StatusOK, `{"status":"ready"}`},
		{"a dependency down", []telemetry.Check{okCheck("nats"), failing}, http.StatusServiceUnavailable, `{"status":"unavailable"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := telemetry.NewServer("", reg, tc.checks...).PublicHandler()
			res, body := get(t, h, "/readyz")
			require.Equal(t, tc.code, res.StatusCode)
			require.JSONEq(t, tc.body, body)
			res, _ = get(t, h, "/metrics")
			require.Equal(t, http.StatusNotFound, res.StatusCode)
		})
	}
}
