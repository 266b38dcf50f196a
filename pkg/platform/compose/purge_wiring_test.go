package compose_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// TestGatewayPurgesExpiredSessions: a gateway with a signing key purges
// expired sign-in sessions while it runs (IM_AUTH_PURGE_INTERVAL), stops
// with its context, and refuses a negative interval.
func TestGatewayPurgesExpiredSessions(t *testing.T) {
	stack, err := devstack.Start(context.Background(), devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	ring, err := auth.NewKeyRing(key)
	require.NoError(t, err)
	build := func(interval time.Duration) (*compose.Platform, error) {
		reg := telemetry.NewRegistry()
		metrics, err := telemetry.NewMetrics(reg)
		require.NoError(t, err)
		cfg := platform.Config{
			Common: platform.Common{NATSURL: stack.NATSURL, StreamReplicas: 1, ShutdownTimeout: 5 * time.Second, Concurrency: 1},
			Store:  platform.StoreConfig{MongoURI: stack.MongoURI, MongoDatabase: "purge"},
			Gateway: platform.GatewayConfig{
				HTTPAddr: "127.0.0.1:0", RedisURL: stack.RedisURL, BodyLimitBytes: 1 << 20,
				AuthIssuer: "infra-mind", AuthAudience: "infra-mind-api",
				AssessmentTimeout: time.Minute, SSEKeepAlive: time.Second, ReportCacheTTL: time.Minute,
				AuthPurgeInterval: interval,
			},
		}
		return compose.New(context.Background(), cfg, compose.Roles{Gateway: true}, compose.Deps{
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Metrics: metrics, Keys: ring,
		})
	}
	_, err = build(-time.Second)
	require.ErrorContains(t, err, "IM_AUTH_PURGE_INTERVAL")

	p, err := build(time.Hour)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close(context.Background()) })
	ctx := context.Background()
	sess, err := p.Store.Sessions.Create(ctx, store.Session{ID: "s-expired", TenantID: "acme", UserID: "u1",
		ExpiresAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	require.Eventually(t, func() bool {
		_, err := p.Store.Sessions.Get(ctx, sess.TenantID, sess.ID)
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "the running gateway purges the expired session")
	cancel()
	require.NoError(t, <-done, "the purge stops with the gateway")
}
