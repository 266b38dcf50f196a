package cli_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// A stand-in for the gateway's DELETE route: the first call erases, later
// ones find nothing; "running" is still running.
func erasingGateway(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	erased := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		id := r.URL.Path[len("/v1/assessments/"):]
		w.Header().Set("Content-Type", "application/problem+json")
		switch {
		case id == "running":
			w.Header().Set("Retry-After", "42")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"type":"https://infra-mind.dev/problems/assessment-running","title":"Assessment still running","status":409}`))
		case erased[id]:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"type":"https://infra-mind.dev/problems/not-found","title":"Not found","status":404,"detail":"No such assessment."}`))
		default:
			erased[id] = true
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestDeleteErasesThroughTheGateway(t *testing.T) {
	t.Parallel()
	srv, seen := erasingGateway(t)
	env := map[string]string{"IM_GATEWAY_URL": srv.URL, "IM_TOKEN": "tok"}
	ctx := context.Background()
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{name: "erases", args: []string{"delete", "a1"}, code: 0, out: "erased assessment a1\n"},
		{name: "flags after the id", args: []string{"delete", "a2", "--token", "other"}, code: 0, out: "erased assessment a2\n"},
		{name: "again is not found", args: []string{"delete", "a1"}, code: 1, err: "404 Not found: No such assessment."},
		{name: "running says when to retry", args: []string{"delete", "running"}, code: 1, err: "retry in 42s"},
		{name: "no id", args: []string{"delete"}, code: 2, err: "give exactly one assessment id"},
		{name: "two ids", args: []string{"delete", "a", "b"}, code: 2, err: "give exactly one assessment id"},
	}
	for _, tc := range tests {
		code, out, errOut := run(t, ctx, env, tc.args...)
		require.Equal(t, tc.code, code, "%s: %s", tc.name, errOut)
		require.Equal(t, tc.out, out, tc.name)
		require.Contains(t, errOut, tc.err, tc.name)
	}
	require.Equal(t, "DELETE /v1/assessments/a1 Bearer tok", (*seen)[0])
	require.Equal(t, "DELETE /v1/assessments/a2 Bearer other", (*seen)[1])
	code, _, errOut := run(t, ctx, map[string]string{"IM_GATEWAY_URL": srv.URL}, "delete", "a3")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "no token")
}
