//go:build integration

package compose_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

// TestIntegrationErasureOnRealServers erases an assessment on the harness's
// nats-server, FerretDB on PostgreSQL and redis-server, and finds nothing of
// it in any of them (checkErasure; no consultant, which needs a provider).
func TestIntegrationErasureOnRealServers(t *testing.T) {
	srv := realServers(t, mustEnv(t, "IM_TEST_NATS_URL"))
	sys := startSystemOn(t, srv, compose.AllRoles(), time.Minute, withPrivateWebhooks)
	checkErasure(t, sys, "t"+uuid.NewString()[:8], false)
}
