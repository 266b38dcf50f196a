//go:build integration

package adapters_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

// TestIntegrationEventLogContract runs the event log contract against the
// pinned nats-server the integration harness starts (IM_TEST_NATS_URL), as
// well as the fake.
func TestIntegrationEventLogContract(t *testing.T) {
	url := os.Getenv("IM_TEST_NATS_URL")
	if url == "" {
		t.Fatal("IM_TEST_NATS_URL is not set: run through scripts/integration.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{URL: url, Name: "app-eventlog-contract"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	runEventLogContracts(t, b)
}
