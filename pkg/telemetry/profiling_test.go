package telemetry_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// Profiles are served only when asked for, and never on the public handler.
func TestServerProfilingIsOptIn(t *testing.T) {
	t.Parallel()
	off := telemetry.NewServer("127.0.0.1:0", nil)
	res, _ := get(t, off.Handler(), "/debug/pprof/")
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	on := telemetry.NewServer("127.0.0.1:0", nil).WithProfiling()
	res, body := get(t, on.Handler(), "/debug/pprof/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "block")
	res, _ = get(t, on.Handler(), "/debug/pprof/block?debug=1")
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = get(t, on.PublicHandler(), "/debug/pprof/")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}
