package identity_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// pastExpiry moves a clock beyond the default session lifetime and the
// minute a purge waits past an expiry.
const pastExpiry = identity.DefaultRefreshTTL + 2*time.Minute

// A purge spans every tenant, so each test here has a store of its own:
// another test's expired documents would change the counts.

func TestPurgeKeepsReuseDetectionForTokensThatCanStillBePresented(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, startStore(t))
	_, owner := e.newTenant(t)

	// A session from a month ago, rotated once: both its tokens expired.
	old := e.login(t, owner)
	oldNext, err := e.svc.Refresh(ctx, old.RefreshToken)
	require.NoError(t, err)
	e.clock.Advance(pastExpiry)
	// A live session, rotated once: its first token can still be presented.
	live := e.login(t, owner)
	liveNext, err := e.svc.Refresh(ctx, live.RefreshToken)
	require.NoError(t, err)

	c, err := e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{Sessions: 1, RefreshTokens: 2, RefreshUses: 1}, c,
		"the old session, its two tokens and the claim of the one it rotated")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"the old session's rotated token is simply invalid", old.RefreshToken, identity.ErrRefreshInvalid},
		{"the old session's last token is invalid", oldNext.RefreshToken, identity.ErrRefreshInvalid},
		{"the live session's rotated token is still caught as reuse", live.RefreshToken, identity.ErrRefreshReused},
		{"and that reuse revoked the live session", liveNext.RefreshToken, identity.ErrRefreshInvalid},
	}
	for _, tc := range tests { // in order: the last depends on the one before
		_, err := e.svc.Refresh(ctx, tc.token)
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, liveNext.AccessToken)), identity.ErrRevoked,
		"the access token of the reused session is revoked too")

	again, err := e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{}, again, "the revoked live session stays until it expires")
}

func TestPurgeDrainsABacklogLargerThanOneBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := startStore(t)
	e := newEnv(t, st)
	tenant := uniq("t")
	// More expired tokens than one store call removes.
	const n = store.DefaultPurgeLimit + 3
	sess, err := st.Sessions.Create(ctx, store.Session{ID: uniq("s"), TenantID: tenant, UserID: "u1",
		ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	for range n {
		_, err := st.Sessions.CreateRefresh(ctx, store.RefreshToken{ID: uniq("h"), TenantID: tenant, UserID: "u1",
			SessionID: sess.ID, ExpiresAt: sess.ExpiresAt})
		require.NoError(t, err)
	}
	e.clock.Advance(time.Hour + 2*time.Minute)

	c, err := e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{Sessions: 1, RefreshTokens: n}, c)
}

// records keeps a logger's records so a test can see what was logged.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// count returns how many records at level have message msg.
func (r *records) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(r.recs), func(rec slog.Record) bool {
		return rec.Level != level || rec.Message != msg
	}))
}

// attr returns the value of key in the first record with message msg.
func (r *records) attr(msg, key string) slog.Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Message != msg {
			continue
		}
		var v slog.Value
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value
				return false
			}
			return true
		})
		return v
	}
	return slog.Value{}
}

// loggedService is a service on st whose log is kept in the returned records.
func loggedService(t *testing.T, st *store.Store) (*identity.Service, *clock, *records) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	c, recs := &clock{}, &records{}
	svc, err := identity.New(realPorts(t, st, rdb), auth.NewSigner(priv, issuer, audience),
		identity.Options{Now: c.Now, Logger: slog.New(recs)})
	require.NoError(t, err)
	return svc, c, recs
}

func TestPurgeRemovesWhatExpiredAndLogsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := startStore(t)
	svc, clk, recs := loggedService(t, st)
	sess, err := st.Sessions.Create(ctx, store.Session{ID: uniq("s"), TenantID: uniq("t"), UserID: "u1",
		ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	clk.Advance(time.Hour + 2*time.Minute)

	require.NoError(t, svc.Purge(ctx))
	_, err = st.Sessions.Get(ctx, sess.TenantID, sess.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Equal(t, 1, recs.count(slog.LevelInfo, "purged expired sessions"))
	require.Equal(t, int64(1), recs.attr("purged expired sessions", "sessions").Int64(), "the log says what was removed")
}

func TestPurgeLogsAndReturnsAFailure(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	st, err := store.Connect(ctx, stack.MongoURI, "identity_test")
	require.NoError(t, err)
	// A closed store fails every call, as a lost database would.
	require.NoError(t, st.Close(ctx))
	svc, _, recs := loggedService(t, st)

	require.Error(t, svc.Purge(ctx), "the caller retries a failed purge")
	require.Equal(t, 1, recs.count(slog.LevelWarn, "purge of expired sessions failed"))
}

// schedules records the purges a service asks for.
type schedules struct {
	mu   sync.Mutex
	at   []time.Time
	fail error
}

func (s *schedules) SchedulePurge(_ context.Context, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.at = append(s.at, at)
	return nil
}

// A sign-in asks for a purge when its session (and with it every refresh
// token of the session and their use claims) has expired, plus the grace
// that lets a replica whose clock is behind still catch a token's reuse. A
// schedule that fails does not fail the sign-in.
func TestASignInSchedulesThePurgeOfItsSession(t *testing.T) {
	t.Parallel()
	st := startStore(t)
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	purges := &schedules{}
	svc, err := identity.New(realPorts(t, st, rdb), auth.NewSigner(priv, issuer, audience),
		identity.Options{Purges: purges, RefreshTTL: time.Hour})
	require.NoError(t, err)
	e := &env{svc: svc, st: storeRepos(st), rdb: rdb}
	_, owner := e.newTenant(t)
	sess := e.login(t, owner)
	require.Equal(t, []time.Time{sess.RefreshExpiresAt.Add(time.Minute)}, purges.at)

	purges.fail = errors.New("broker down")
	e.login(t, owner)
}
