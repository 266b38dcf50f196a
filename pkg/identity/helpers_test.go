package identity_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/identity"
	identityadapters "github.com/infra-mind/infra-mind/pkg/identity/adapters"
	"github.com/infra-mind/infra-mind/pkg/identity/identitytest"
	"github.com/infra-mind/infra-mind/pkg/store"
)

const (
	issuer   = "infra-mind-test"
	audience = "infra-mind-api"
)

// startStore runs the embedded FerretDB (devstack) for one top-level test;
// its subtests share it and keep apart by using their own tenants.
func startStore(t *testing.T) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	st, err := store.Connect(ctx, stack.MongoURI, "identity_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// clock is the service's clock: the wall clock (which the token signer and
// the verifier also use) plus an offset a test moves forward to reach an
// expiry the application checks.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// repos are the repositories behind a service, which a test reads and
// writes directly: the store's, or the identitytest fakes.
type repos struct {
	Users interface {
		identity.Users
		identity.Credentials
	}
	Tenants  identity.Tenants
	Sessions identity.Sessions
	APIKeys  identity.APIKeys
}

// storeRepos are the store's repositories.
func storeRepos(st *store.Store) repos {
	return repos{Users: st.Users, Tenants: st.Tenants, Sessions: st.Sessions, APIKeys: st.APIKeys}
}

// env is one service. On the real adapters it has its own Redis-protocol
// server (miniredis, the server devstack embeds) so a test can move Redis's
// clock (fastForward) to reach a TTL-driven expiry such as the end of a
// lockout; on the fakes (newFakeEnv) the fakes' own clock moves instead.
type env struct {
	svc *identity.Service
	st  repos
	rdb *redis.Client
	mr  *miniredis.Miniredis
	// expiry is the fakes' Redis clock (nil on the real adapters).
	expiry   *redisClock
	verifier *auth.Verifier
	clock    *clock
	totpKeys *identity.TOTPKeyRing
	// totpLines are the key lines the test made, by id.
	totpLines map[string]string
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	e := newEnvWith(t, st, rdb)
	e.mr = mr
	return e
}

// newEnvWith is an env on a given Redis; mr stays nil, so tests that move
// Redis's clock or stop it cannot run on it.
func newEnvWith(t *testing.T, st *store.Store, rdb *redis.Client) *env {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	c := &clock{}
	// Every test's TOTP secrets are sealed, as in production.
	k1 := totpKeyLines(t, "k1")
	parsed, err := identity.ParseTOTPKeys([]byte(k1))
	require.NoError(t, err)
	keys := identity.NewTOTPKeyRing(parsed)
	svc, err := identity.New(realPorts(t, st, rdb), auth.NewSigner(priv, issuer, audience), identity.Options{Now: c.Now, TOTPKeys: keys})
	require.NoError(t, err)
	return &env{svc: svc, st: storeRepos(st), rdb: rdb,
		verifier: auth.NewVerifier(pub, issuer, audience), clock: c, totpKeys: keys, totpLines: map[string]string{"k1": k1}}
}

// newFakeEnv is an env on the identitytest fakes of every port, without
// servers; adapters' contract suites keep the fakes and the real adapters
// in agreement. The sign-in lockout and the revocations expire on their
// own clock, as Redis's keys do on Redis's.
func newFakeEnv(t *testing.T) *env {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	c, expiry := &clock{}, &redisClock{at: time.Now()}
	k1 := totpKeyLines(t, "k1")
	parsed, err := identity.ParseTOTPKeys([]byte(k1))
	require.NoError(t, err)
	keys := identity.NewTOTPKeyRing(parsed)
	users := identitytest.NewUsers()
	r := repos{Users: users, Tenants: identitytest.NewTenants(), Sessions: identitytest.NewSessions(), APIKeys: identitytest.NewAPIKeys()}
	ports := identity.Ports{Users: users, Credentials: users, Tenants: r.Tenants, Sessions: r.Sessions, APIKeys: r.APIKeys,
		Attempts: identitytest.NewAttempts(expiry.Now), Revocations: identitytest.NewRevocations(expiry.Now)}
	svc, err := identity.New(ports, auth.NewSigner(priv, issuer, audience), identity.Options{Now: c.Now, TOTPKeys: keys})
	require.NoError(t, err)
	return &env{svc: svc, st: r, verifier: auth.NewVerifier(pub, issuer, audience), clock: c, expiry: expiry,
		totpKeys: keys, totpLines: map[string]string{"k1": k1}}
}

// redisClock is the time the fakes' keys expire on. Like miniredis's, it
// stands still unless a test moves it, so a test that waits out a TTL it
// was told (a lockout's retry-after) reaches it exactly.
type redisClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *redisClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *redisClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// fastForward moves the clock Redis's keys expire on by d.
func (e *env) fastForward(d time.Duration) {
	if e.mr != nil {
		e.mr.FastForward(d)
		return
	}
	e.expiry.Advance(d)
}

// realPorts are the service's ports on st and rdb.
func realPorts(t *testing.T, st *store.Store, rdb *redis.Client) identity.Ports {
	t.Helper()
	p, err := identityadapters.Ports(st, rdb)
	require.NoError(t, err)
	return p
}

// newTOTPKeys is a key set of new keys with the given ids, the first encrypting.
func newTOTPKeys(t *testing.T, ids ...string) *identity.TOTPKeys {
	t.Helper()
	k, err := identity.ParseTOTPKeys([]byte(totpKeyLines(t, ids...)))
	require.NoError(t, err)
	return k
}

// totpKeyLines makes one new key line per id.
func totpKeyLines(t *testing.T, ids ...string) string {
	t.Helper()
	var text string
	for _, id := range ids {
		line, err := identity.NewTOTPKeyLine(id)
		require.NoError(t, err)
		text += line + "\n"
	}
	return text
}

// uniq returns prefix plus random hex, so subtests sharing a database never meet.
func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

const testPassword = "correct horse battery staple"

// newTenant creates a tenant whose owner has testPassword and returns both.
func (e *env) newTenant(t *testing.T) (string, identity.User) {
	t.Helper()
	id := uniq("t")
	_, owner, pw, err := e.svc.CreateTenant(context.Background(), id, "Tenant "+id,
		identity.NewUser{Email: "owner@" + id + ".example.com", Name: "Owner", Password: testPassword})
	require.NoError(t, err)
	require.Empty(t, pw, "no password is generated when one is given")
	return id, owner
}

// newUser adds a user with role and testPassword to tenant.
func (e *env) newUser(t *testing.T, tenant, role string) identity.User {
	t.Helper()
	u, _, err := e.svc.CreateUser(context.Background(), tenant,
		identity.NewUser{Email: uniq("u") + "@example.com", Name: "User", Role: role, Password: testPassword})
	require.NoError(t, err)
	return u
}

func (e *env) login(t *testing.T, u identity.User) identity.Session {
	t.Helper()
	s, err := e.svc.Login(context.Background(), identity.LoginInput{Tenant: u.Tenant, Email: u.Email, Password: testPassword})
	require.NoError(t, err)
	return s
}

// claims verifies an access token as the gateway does.
func (e *env) claims(t *testing.T, token string) *auth.Claims {
	t.Helper()
	cl, err := e.verifier.Verify(token)
	require.NoError(t, err)
	return cl
}

// requireField asserts err is a *FieldError naming field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *identity.FieldError
	require.True(t, errors.As(err, &fe), "want a FieldError for %s, got %v", field, err)
	require.Equal(t, field, fe.Field, "reason: %s", fe.Reason)
	require.NotEmpty(t, fe.Reason)
}

// openTOTP reads a stored TOTP secret of one of tenant's users back with the
// env's keys.
func (e *env) openTOTP(t *testing.T, tenant, userID, stored string) string {
	t.Helper()
	plain, err := identity.OpenTOTP(e.totpKeys.Keys(), tenant, userID, stored)
	require.NoError(t, err)
	return plain
}
