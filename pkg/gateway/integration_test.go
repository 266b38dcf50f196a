//go:build integration

package gateway

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: the integration suite needs the real servers", name)
	}
	return v
}

// TestIntegrationGatewayOnRealServers runs the submit, read and follow path
// against the harness's nats-server, FerretDB on PostgreSQL and redis-server.
func TestIntegrationGatewayOnRealServers(t *testing.T) {
	e := newEnvAt(t, Config{KeepAlive: time.Hour},
		requireEnv(t, "IM_TEST_NATS_URL"), requireEnv(t, "IM_TEST_MONGO_URI"), requireEnv(t, "IM_TEST_REDIS_URL"))
	// A tenant of its own keeps this run apart from other tests sharing the servers.
	tenant := "it-" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	id := e.create(t, tenant, "integration run")

	ev := firstOnSubject(t, e.bus, bus.StreamAssessments, bus.SubjectRequested(tenant))
	require.Equal(t, id, ev.ID)

	resp := e.do(t, http.MethodGet, "/v1/assessments/"+id, tenant, "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/v1/assessments/"+id, "other-"+tenant, "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", tenant, "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, ProblemReportNotReady, decodeBody[Problem](t, resp).Type)

	publishStatus(t, e.bus, tenant, id, "family_completed", "cloud")
	publishCompleted(t, e.bus, tenant, id)
	_, s := openStream(t, e, "/v1/assessments/"+id+"/events", tenant, nil)
	require.Equal(t, "queued/", statusOf(t, s.next(t)))
	second := s.next(t)
	require.Equal(t, "family_completed/cloud", statusOf(t, second))
	require.Equal(t, "completed", s.next(t).Event)

	_, again := openStream(t, e, "/v1/assessments/"+id+"/events", tenant, map[string]string{"Last-Event-ID": second.ID})
	require.Equal(t, "completed", again.next(t).Event)
}
