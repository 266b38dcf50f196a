package compose_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// TestGatewayPurgesExpiredSessionsWhenDueAndNeverOnATimer: a gateway with
// a signing key purges expired sign-in data once at start and then when a
// purge scheduled on the broker falls due (each sign-in schedules one for
// when its session expires, ADR 0041). In between it sends the store
// nothing, however short IM_AUTH_PURGE_INTERVAL is: an hourly timer used to
// read the sessions collection whether anything had expired or not. It
// stops with its context and refuses a negative interval.
func TestGatewayPurgesExpiredSessionsWhenDueAndNeverOnATimer(t *testing.T) {
	stack, err := devstack.Start(context.Background(), devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	ring, err := auth.NewKeyRing(key)
	require.NoError(t, err)
	var reg *prometheus.Registry
	build := func(interval time.Duration) (*compose.Platform, error) {
		reg = telemetry.NewRegistry()
		metrics, err := telemetry.NewMetrics(reg)
		require.NoError(t, err)
		cfg := platform.Config{
			Common: platform.Common{NATSURL: stack.NATSURL, StreamReplicas: 1, ShutdownTimeout: 5 * time.Second, Concurrency: 1},
			Store:  platform.StoreConfig{MongoURI: stack.MongoURI, MongoDatabase: "purge"},
			Gateway: platform.GatewayConfig{
				HTTPAddr: "127.0.0.1:0", RedisURL: stack.RedisURL, BodyLimitBytes: 1 << 20,
				AuthIssuer: "infra-mind", AuthAudience: "infra-mind-api",
				AssessmentTimeout: time.Minute, SSEKeepAlive: time.Second, ReportCacheTTL: time.Minute,
				AuthRefreshTTL: time.Hour, AuthPurgeInterval: interval,
			},
		}
		return compose.New(context.Background(), cfg, compose.Roles{Gateway: true}, compose.Deps{
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Metrics: metrics, Keys: ring,
		})
	}
	_, err = build(-time.Second)
	require.ErrorContains(t, err, "IM_AUTH_PURGE_INTERVAL")

	p, err := build(time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close(context.Background()) })
	ctx := context.Background()
	expired := func(id string) store.Session {
		sess, err := p.Store.Sessions.Create(ctx, store.Session{ID: id, TenantID: "acme", UserID: "u1",
			ExpiresAt: time.Now().Add(-time.Hour)})
		require.NoError(t, err)
		return sess
	}
	gone := func(sess store.Session) func() bool {
		return func() bool {
			_, err := p.Store.Sessions.Get(ctx, sess.TenantID, sess.ID)
			return errors.Is(err, store.ErrNotFound)
		}
	}
	atStart := expired("s-expired-before-start")

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	require.Eventually(t, gone(atStart), 10*time.Second, 20*time.Millisecond, "the gateway purges at start")

	// A sign-in schedules the purge of its session for when it has expired
	// (an hour, plus a minute's grace, rounded up to the interval).
	_, owner, _, err := p.Identity.CreateTenant(ctx, "purge-co", "Purge Co",
		identity.NewUser{Email: "owner@purge.example.com", Name: "Owner", Password: "correct horse battery staple"})
	require.NoError(t, err)
	signedIn, err := p.Identity.Login(ctx, identity.LoginInput{Tenant: owner.Tenant, Email: owner.Email, Password: "correct horse battery staple"})
	require.NoError(t, err)
	due := signedIn.RefreshExpiresAt.Add(time.Minute).Truncate(time.Second)
	if due.Before(signedIn.RefreshExpiresAt.Add(time.Minute)) {
		due = due.Add(time.Second)
	}
	deadlines, err := p.Bus.JS.Stream(ctx, bus.StreamDeadlines)
	require.NoError(t, err)
	scheduled, err := deadlines.GetLastMsgForSubject(ctx, bus.SubjectPurgeSchedule(due))
	require.NoError(t, err, "no purge scheduled at %s for the session of the sign-in", due)
	require.Equal(t, bus.SubjectPurgeDue(), scheduled.Header.Get("Nats-Schedule-Target"))

	// Idle: nothing expires, and the store hears nothing, though the
	// interval passes several times.
	time.Sleep(500 * time.Millisecond) // what the sign-in sent is counted
	before := storeCommands(t, reg)
	time.Sleep(4 * time.Second)
	require.Equal(t, before, storeCommands(t, reg), "an idle gateway sent the store commands")

	// A purge that falls due removes what has expired by then. One due
	// further ahead than a hop fires at the hop first and is scheduled
	// again for its time (here: due in 3 s, first fired after 1 s).
	later := expired("s-expired-later")
	now := time.Now()
	m := bus.PurgeSchedule("/test", now.Add(3*time.Second), now)
	m.Schedule.At, m.ID = now.Add(time.Second).Truncate(time.Second), "purge-at-a-hop"
	require.NoError(t, p.Bus.Publish(ctx, m))
	time.Sleep(time.Until(now.Add(2 * time.Second)))
	require.False(t, gone(later)(), "a purge that fired at a hop waits for its time")
	require.Eventually(t, gone(later), 15*time.Second, 20*time.Millisecond, "the gateway purges when a purge falls due")
	_, err = p.Store.Sessions.Get(ctx, "purge-co", signedIn.SessionID)
	require.NoError(t, err, "a session that has not expired stays")
	cancel()
	require.NoError(t, <-done, "the purge stops with the gateway")
}

// storeCommands sums the commands the store sent (store_commands_total).
func storeCommands(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != telemetry.Namespace+"_store_commands_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "command" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
