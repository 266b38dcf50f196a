package cli_test

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
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// The issuer and audience of the test gateway's tokens.
const (
	testIssuer   = "infra-mind"
	testAudience = "infra-mind-api"
	testDatabase = "cli"
)

// testGateway is a gateway that signs users in, on embedded servers.
type testGateway struct {
	URL   string
	Stack *devstack.Stack
	P     *compose.Platform
	Ring  *auth.KeyRing
}

// startPlatform runs a platform hosting the gateway, with a key ring of a
// freshly generated key (so it signs users in and has an identity service),
// until the test ends.
func startPlatform(t *testing.T) *testGateway {
	t.Helper()
	return startPlatformWith(t, nil)
}

// startPlatformWith is startPlatform with the configuration changed by with.
func startPlatformWith(t *testing.T, with func(*platform.Config)) *testGateway {
	t.Helper()
	stack, err := devstack.Start(context.Background(), devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)

	key, err := auth.GenerateKey()
	require.NoError(t, err)
	ring, err := auth.NewKeyRing(key)
	require.NoError(t, err)
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	cfg := platform.Config{
		Common: platform.Common{NATSURL: stack.NATSURL, StreamReplicas: 1, ShutdownTimeout: 5 * time.Second, Concurrency: 2},
		Store:  platform.StoreConfig{MongoURI: stack.MongoURI, MongoDatabase: testDatabase},
		Gateway: platform.GatewayConfig{
			HTTPAddr: "127.0.0.1:0", RedisURL: stack.RedisURL, BodyLimitBytes: 1 << 20,
			AuthIssuer: testIssuer, AuthAudience: testAudience, AuthAccessTTL: 15 * time.Minute, AuthRefreshTTL: time.Hour,
			// Every sign-in of the tests comes from 127.0.0.1.
			RateLimitAuth: 1000,
		},
	}
	if with != nil {
		with(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := compose.New(ctx, cfg, compose.Roles{Gateway: true}, compose.Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Metrics: metrics, Keys: ring,
	})
	require.NoError(t, err)
	require.NotNil(t, p.Identity)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		p.Close(context.Background())
	})
	return &testGateway{URL: "http://" + p.GatewayAddr(), Stack: stack, P: p, Ring: ring}
}

// verify checks an access token as the gateway does (signature, issuer,
// audience, expiry) and returns its claims.
func (g *testGateway) verify(t *testing.T, token string) *auth.Claims {
	t.Helper()
	cl, err := auth.NewRingVerifier(g.Ring, testIssuer, testAudience).Verify(token)
	require.NoError(t, err)
	return cl
}
