package adapters_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/identity/adapters"
	"github.com/infra-mind/infra-mind/pkg/identity/identitytest"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// One contract per port of pkg/identity, run against the in-process fake
// (pkg/identity/identitytest) and the real adapter: the store's repositories
// on FerretDB and the Redis adapters. The identity use cases and the
// gateway's identity handler tests run on the fakes, so the fakes behave as
// production does or these tests fail. contracts_embedded_test.go runs them
// on the embedded servers (pkg/devstack), integration_test.go on FerretDB
// on PostgreSQL and redis-server (scripts/integration.sh).

// backend makes fresh, empty ports of one implementation for each test.
type backend struct {
	name  string
	ports func(t *testing.T) identity.Ports
}

func fakeBackend() backend {
	return backend{name: "fake", ports: func(*testing.T) identity.Ports { return identitytest.Ports(nil) }}
}

// realBackend opens a new database on mongoURI for each test and uses rdb,
// whose keys the tests keep apart with random ids.
func realBackend(mongoURI string, rdb *redis.Client) backend {
	return backend{name: "real", ports: func(t *testing.T) identity.Ports {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := store.Connect(ctx, mongoURI, "idc_"+strings.ReplaceAll(uuid.NewString()[:12], "-", ""))
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			_ = st.Database().Drop(cctx)
			_ = st.Close(cctx)
		})
		p, err := adapters.Ports(st, rdb)
		require.NoError(t, err)
		return p
	}}
}

// runContracts runs every port's contract against each backend.
func runContracts(t *testing.T, backends ...backend) {
	contracts := []struct {
		name string
		run  func(t *testing.T, p identity.Ports)
	}{
		{"users", usersContract},
		{"credentials", credentialsContract},
		{"tenants", tenantsContract},
		{"sessions", sessionsContract},
		{"refresh tokens", refreshContract},
		{"purge", purgeContract},
		{"api keys", apiKeysContract},
		{"attempts", attemptsContract},
		{"one-time codes", codesContract},
		{"revocations", revocationsContract},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range contracts {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, b.ports(t))
				})
			}
		})
	}
}

func id() string { return uuid.NewString() }

// tenantID is a random tenant id (letters, digits, '-').
func tenantID() string { return "t-" + uuid.NewString()[:13] }

// at is a fixed time with a fraction of a millisecond the store drops.
var at = time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)

func user(tenant, email, role string, created time.Time) store.User {
	return store.User{ID: id(), TenantID: tenant, Email: email, Role: role, PasswordHash: "hash-" + email, CreatedAt: created}
}

func usersContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a, b := tenantID(), tenantID()
	first, err := p.Users.Create(ctx, user(a, "one@example.com", "owner", at))
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), first.CreatedAt, "times keep the store's millisecond")
	require.Equal(t, store.UserKey(a, first.ID), first.Key)
	second, err := p.Users.Create(ctx, user(a, "two@example.com", "viewer", at.Add(-time.Hour)))
	require.NoError(t, err)
	_, err = p.Users.Create(ctx, user(a, "one@example.com", "viewer", at))
	require.ErrorIs(t, err, store.ErrConflict, "an email is unique in its tenant")
	other, err := p.Users.Create(ctx, user(b, "one@example.com", "owner", at))
	require.NoError(t, err, "another tenant may use the same email")
	_, err = p.Users.Create(ctx, store.User{ID: id(), TenantID: a, Email: "x@example.com", Role: "viewer"})
	require.ErrorIs(t, err, store.ErrInvalid, "a user without a password hash is refused")

	got, err := p.Users.Get(ctx, a, first.ID)
	require.NoError(t, err)
	require.Equal(t, first, got)
	_, err = p.Users.Get(ctx, b, first.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's user reads like a missing one")
	got, err = p.Users.GetByEmail(ctx, b, "one@example.com")
	require.NoError(t, err)
	require.Equal(t, other.ID, got.ID)
	_, err = p.Users.GetByEmail(ctx, a, "ONE@example.com")
	require.ErrorIs(t, err, store.ErrNotFound, "the email is matched as stored")

	list, err := p.Users.List(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []string{second.ID, first.ID}, userIDs(list), "oldest first, one tenant only")
	list, err = p.Users.List(ctx, tenantID())
	require.NoError(t, err)
	require.NotNil(t, list)
	require.Empty(t, list)

	n, err := p.Users.CountEnabledOwners(ctx, a, "owner")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	u, err := p.Users.SetRole(ctx, a, second.ID, "owner")
	require.NoError(t, err)
	require.Equal(t, "owner", u.Role)
	n, err = p.Users.CountEnabledOwners(ctx, a, "owner")
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	u, err = p.Users.SetDisabled(ctx, a, second.ID, true)
	require.NoError(t, err)
	require.True(t, u.Disabled)
	n, err = p.Users.CountEnabledOwners(ctx, a, "owner")
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "a disabled owner does not count")
	u, err = p.Users.RevokeSessions(ctx, a, first.ID, at)
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), u.SessionsRevokedAt)
	got, err = p.Users.Get(ctx, a, first.ID)
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), got.SessionsRevokedAt)

	for name, call := range map[string]func() error{
		"set role":        func() error { _, err := p.Users.SetRole(ctx, b, first.ID, "viewer"); return err },
		"set disabled":    func() error { _, err := p.Users.SetDisabled(ctx, b, first.ID, true); return err },
		"revoke sessions": func() error { _, err := p.Users.RevokeSessions(ctx, b, first.ID, at); return err },
	} {
		require.ErrorIs(t, call(), store.ErrNotFound, "%s of another tenant's user", name)
	}
	got, err = p.Users.Get(ctx, a, first.ID)
	require.NoError(t, err)
	require.Equal(t, "owner", got.Role, "a refused change changed nothing")
	require.False(t, got.Disabled)
}

func userIDs(us []store.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func credentialsContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a := tenantID()
	u, err := p.Users.Create(ctx, user(a, "c@example.com", "owner", at))
	require.NoError(t, err)

	got, err := p.Credentials.SetPassword(ctx, a, u.ID, "hash-2")
	require.NoError(t, err)
	require.Equal(t, "hash-2", got.PasswordHash)
	_, err = p.Credentials.SetPassword(ctx, tenantID(), u.ID, "hash-x")
	require.ErrorIs(t, err, store.ErrNotFound)
	ok, err := p.Credentials.RehashPassword(ctx, a, u.ID, u.PasswordHash, "hash-3")
	require.NoError(t, err)
	require.False(t, ok, "a rehash of a hash changed meanwhile changes nothing")
	ok, err = p.Credentials.RehashPassword(ctx, a, u.ID, "hash-2", "hash-3")
	require.NoError(t, err)
	require.True(t, ok)
	got, err = p.Users.Get(ctx, a, u.ID)
	require.NoError(t, err)
	require.Equal(t, "hash-3", got.PasswordHash)

	got, err = p.Credentials.SetPendingTOTP(ctx, a, u.ID, "pending-1")
	require.NoError(t, err)
	require.Equal(t, "pending-1", got.TOTPPending)
	require.False(t, got.MFAEnabled, "a pending secret does not turn MFA on")
	ok, err = p.Credentials.ReplaceTOTPSecret(ctx, a, u.ID, store.FieldTOTPPending, "pending-1", "pending-1b")
	require.NoError(t, err)
	require.True(t, ok)
	got, err = p.Credentials.EnableTOTP(ctx, a, u.ID, "pending-1b")
	require.NoError(t, err)
	require.True(t, got.MFAEnabled)
	require.Equal(t, "pending-1b", got.TOTPSecret)
	require.Empty(t, got.TOTPPending, "confirming drops the pending secret")
	ok, err = p.Credentials.ReplaceTOTPSecret(ctx, a, u.ID, store.FieldTOTPSecret, "pending-1", "sealed")
	require.NoError(t, err)
	require.False(t, ok, "only while it still holds prev")
	ok, err = p.Credentials.ReplaceTOTPSecret(ctx, a, u.ID, store.FieldTOTPSecret, "pending-1b", "sealed")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = p.Credentials.ReplaceTOTPSecret(ctx, a, u.ID, "password_hash", "hash-3", "x")
	require.Error(t, err, "only the TOTP fields")
	got, err = p.Users.Get(ctx, a, u.ID)
	require.NoError(t, err)
	require.Equal(t, "sealed", got.TOTPSecret)
	require.Equal(t, "hash-3", got.PasswordHash)

	_, err = p.Credentials.SetPendingTOTP(ctx, a, u.ID, "pending-2")
	require.NoError(t, err)
	got, err = p.Credentials.DisableTOTP(ctx, a, u.ID)
	require.NoError(t, err)
	require.False(t, got.MFAEnabled)
	require.Empty(t, got.TOTPSecret)
	require.Empty(t, got.TOTPPending, "turning MFA off removes both secrets")
	_, err = p.Credentials.DisableTOTP(ctx, tenantID(), u.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func tenantsContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	acme := "acme-corp-" + suffix
	created, err := p.Tenants.Create(ctx, store.Tenant{ID: acme, Name: "Acme", CreatedAt: at})
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), created.CreatedAt)
	_, err = p.Tenants.Create(ctx, store.Tenant{ID: acme, Name: "Acme again"})
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = p.Tenants.Create(ctx, store.Tenant{ID: "acrne_corp-" + suffix, Name: "Look-alike"})
	require.ErrorIs(t, err, store.ErrLookAlike, "an id that reads like an existing one")
	got, err := p.Tenants.Get(ctx, acme)
	require.NoError(t, err)
	require.Equal(t, "Acme", got.Name)
	_, err = p.Tenants.Get(ctx, "missing-"+suffix)
	require.ErrorIs(t, err, store.ErrNotFound)

	older := "older-" + suffix
	_, err = p.Tenants.Create(ctx, store.Tenant{ID: older, Name: "Older", CreatedAt: at.Add(-time.Hour)})
	require.NoError(t, err)
	list, err := p.Tenants.List(ctx)
	require.NoError(t, err)
	var ids []string
	for _, tn := range list {
		if strings.HasSuffix(tn.ID, suffix) {
			ids = append(ids, tn.ID)
		}
	}
	require.Equal(t, []string{older, acme}, ids, "oldest first")

	require.NoError(t, p.Tenants.Delete(ctx, acme))
	require.ErrorIs(t, p.Tenants.Delete(ctx, acme), store.ErrNotFound)
	_, err = p.Tenants.Create(ctx, store.Tenant{ID: acme, Name: "Acme, re-created"})
	require.NoError(t, err, "a deleted tenant's id (and its look-alike claim) is free again")

	platform := "_platform-" + suffix
	require.NoError(t, p.Tenants.Upsert(ctx, store.Tenant{ID: platform, Name: "First", CreatedAt: at}))
	require.NoError(t, p.Tenants.Upsert(ctx, store.Tenant{ID: platform, Name: "Second", CreatedAt: at.Add(time.Hour)}))
	got, err = p.Tenants.Get(ctx, platform)
	require.NoError(t, err)
	require.Equal(t, "Second", got.Name)
	require.True(t, got.CreatedAt.Equal(at.Truncate(time.Millisecond)), "created_at is the first upsert's: %s", got.CreatedAt)
}

func session(tenant, userID string, created time.Time, ttl time.Duration) store.Session {
	return store.Session{ID: id(), TenantID: tenant, UserID: userID, CreatedAt: created, ExpiresAt: created.Add(ttl)}
}

func sessionsContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a, b, u := tenantID(), tenantID(), id()
	now := time.Now().UTC()
	s1, err := p.Sessions.Create(ctx, session(a, u, at, 24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), s1.CreatedAt)
	require.Nil(t, s1.RevokedAt)
	_, err = p.Sessions.Create(ctx, s1)
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = p.Sessions.Create(ctx, store.Session{ID: id(), TenantID: a, UserID: u})
	require.ErrorIs(t, err, store.ErrInvalid, "a session needs its end")
	got, err := p.Sessions.Get(ctx, a, s1.ID)
	require.NoError(t, err)
	require.Equal(t, s1, got)
	_, err = p.Sessions.Get(ctx, b, s1.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.ErrorIs(t, p.Sessions.Revoke(ctx, b, s1.ID, at), store.ErrNotFound)
	require.NoError(t, p.Sessions.Revoke(ctx, a, s1.ID, at))
	require.NoError(t, p.Sessions.Revoke(ctx, a, s1.ID, at.Add(time.Hour)))
	got, err = p.Sessions.Get(ctx, a, s1.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	require.Equal(t, at.Truncate(time.Millisecond), *got.RevokedAt, "the first revocation time is kept")

	keep, err := p.Sessions.Create(ctx, session(a, u, now, time.Hour))
	require.NoError(t, err)
	open1, err := p.Sessions.Create(ctx, session(a, u, now, time.Hour))
	require.NoError(t, err)
	open2, err := p.Sessions.Create(ctx, session(a, u, now, time.Hour))
	require.NoError(t, err)
	_, err = p.Sessions.Create(ctx, session(a, u, now.Add(-2*time.Hour), time.Hour)) // expired
	require.NoError(t, err)
	_, err = p.Sessions.Create(ctx, session(a, id(), now, time.Hour)) // another user's
	require.NoError(t, err)
	foreign, err := p.Sessions.Create(ctx, session(b, u, now, time.Hour)) // the same user id in another tenant
	require.NoError(t, err)

	ids, err := p.Sessions.RevokeUserExcept(ctx, a, u, keep.ID, now)
	require.NoError(t, err)
	slices.Sort(ids)
	want := []string{open1.ID, open2.ID}
	slices.Sort(want)
	require.Equal(t, want, ids, "open, unexpired sessions of the user but the one kept")
	ids, err = p.Sessions.RevokeUser(ctx, a, u, now)
	require.NoError(t, err)
	require.Equal(t, []string{keep.ID}, ids, "revoked ones are not revoked again")
	ids, err = p.Sessions.RevokeUser(ctx, a, u, now)
	require.NoError(t, err)
	require.Empty(t, ids)
	got, err = p.Sessions.Get(ctx, b, foreign.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "another tenant's sessions are untouched")
}

func refreshContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a := tenantID()
	s, err := p.Sessions.Create(ctx, session(a, id(), at, time.Hour))
	require.NoError(t, err)
	tok := store.RefreshToken{ID: id(), TenantID: a, UserID: s.UserID, SessionID: s.ID, CreatedAt: at, ExpiresAt: s.ExpiresAt}
	created, err := p.Sessions.CreateRefresh(ctx, tok)
	require.NoError(t, err)
	require.Nil(t, created.UsedAt)
	_, err = p.Sessions.CreateRefresh(ctx, tok)
	require.ErrorIs(t, err, store.ErrConflict)

	used, err := p.Sessions.UseRefresh(ctx, tok.ID, at.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, s.ID, used.SessionID)
	require.NotNil(t, used.UsedAt)
	require.Equal(t, at.Add(time.Minute).Truncate(time.Millisecond), *used.UsedAt)
	again, err := p.Sessions.UseRefresh(ctx, tok.ID, at.Add(2*time.Minute))
	require.ErrorIs(t, err, store.ErrRefreshUsed, "a token is used once")
	require.Equal(t, a, again.TenantID, "reuse names the token's tenant and session, to revoke it")
	require.Equal(t, s.ID, again.SessionID)
	require.Equal(t, s.UserID, again.UserID)
	_, err = p.Sessions.UseRefresh(ctx, id(), at)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Of many concurrent uses of one token exactly one wins.
	tok2 := tok
	tok2.ID = id()
	_, err = p.Sessions.CreateRefresh(ctx, tok2)
	require.NoError(t, err)
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() { _, err := p.Sessions.UseRefresh(ctx, tok2.ID, at); errs <- err }()
	}
	wins, reuses := 0, 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrRefreshUsed):
			reuses++
		default:
			t.Fatalf("use refresh: %v", err)
		}
	}
	require.Equal(t, 1, wins)
	require.Equal(t, n-1, reuses)
}

func purgeContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a := tenantID()
	cut := at
	old, err := p.Sessions.Create(ctx, session(a, id(), cut.Add(-2*time.Hour), time.Hour))
	require.NoError(t, err)
	live, err := p.Sessions.Create(ctx, session(a, id(), cut.Add(-time.Hour), 2*time.Hour))
	require.NoError(t, err)
	oldTok := store.RefreshToken{ID: id(), TenantID: a, UserID: old.UserID, SessionID: old.ID, CreatedAt: old.CreatedAt, ExpiresAt: old.ExpiresAt}
	_, err = p.Sessions.CreateRefresh(ctx, oldTok)
	require.NoError(t, err)
	_, err = p.Sessions.UseRefresh(ctx, oldTok.ID, old.CreatedAt)
	require.NoError(t, err)
	liveTok := store.RefreshToken{ID: id(), TenantID: a, UserID: live.UserID, SessionID: live.ID, CreatedAt: live.CreatedAt, ExpiresAt: live.ExpiresAt}
	_, err = p.Sessions.CreateRefresh(ctx, liveTok)
	require.NoError(t, err)
	_, err = p.Sessions.UseRefresh(ctx, liveTok.ID, live.CreatedAt)
	require.NoError(t, err)

	_, err = p.Sessions.PurgeExpired(ctx, time.Time{}, 10)
	require.ErrorIs(t, err, store.ErrInvalid)
	c, err := p.Sessions.PurgeExpired(ctx, cut, 10)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{Sessions: 1, RefreshTokens: 1, RefreshUses: 1}, c)
	_, err = p.Sessions.Get(ctx, a, old.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = p.Sessions.Get(ctx, a, live.ID)
	require.NoError(t, err)
	_, err = p.Sessions.UseRefresh(ctx, liveTok.ID, cut)
	require.ErrorIs(t, err, store.ErrRefreshUsed, "an unexpired token's use claim stays, so its reuse is still caught")
	c, err = p.Sessions.PurgeExpired(ctx, cut, 10)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{}, c)

	// Batches: limit of each kind per call, More while some may be left.
	for range 3 {
		_, err := p.Sessions.Create(ctx, session(a, id(), cut.Add(-2*time.Hour), time.Hour))
		require.NoError(t, err)
	}
	c, err = p.Sessions.PurgeExpired(ctx, cut, 2)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{Sessions: 2, More: true}, c)
	c, err = p.Sessions.PurgeExpired(ctx, cut, 2)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{Sessions: 1}, c)
}

func apiKeysContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a, b := tenantID(), tenantID()
	exp := at.Add(time.Hour)
	mk := func(tenant string, created time.Time) store.APIKey {
		return store.APIKey{ID: id(), TenantID: tenant, Name: "ci", Role: "analyst", CreatedBy: "u1",
			CreatedAt: created, ExpiresAt: &exp, SecretSHA256: "sum"}
	}
	k1, err := p.APIKeys.Create(ctx, mk(a, at))
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), k1.CreatedAt)
	require.Equal(t, exp.Truncate(time.Millisecond), *k1.ExpiresAt)
	_, err = p.APIKeys.Create(ctx, k1)
	require.ErrorIs(t, err, store.ErrConflict)
	k0, err := p.APIKeys.Create(ctx, mk(a, at.Add(-time.Minute)))
	require.NoError(t, err)
	kb, err := p.APIKeys.Create(ctx, mk(b, at))
	require.NoError(t, err)

	got, err := p.APIKeys.Get(ctx, a, k1.ID)
	require.NoError(t, err)
	require.Equal(t, k1, got)
	_, err = p.APIKeys.Get(ctx, b, k1.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err = p.APIKeys.Lookup(ctx, kb.ID)
	require.NoError(t, err)
	require.Equal(t, b, got.TenantID, "a presented key is found whatever its tenant")
	_, err = p.APIKeys.Lookup(ctx, id())
	require.ErrorIs(t, err, store.ErrNotFound)

	list, err := p.APIKeys.List(ctx, a)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{k0.ID, k1.ID}, []string{list[0].ID, list[1].ID}, "oldest first")

	_, err = p.APIKeys.Revoke(ctx, b, k1.ID, at)
	require.ErrorIs(t, err, store.ErrNotFound)
	r, err := p.APIKeys.Revoke(ctx, a, k1.ID, at)
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), *r.RevokedAt)
	r, err = p.APIKeys.Revoke(ctx, a, k1.ID, at.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Millisecond), *r.RevokedAt, "the first revocation time is kept")
	got, err = p.APIKeys.Lookup(ctx, k1.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	list, err = p.APIKeys.List(ctx, a)
	require.NoError(t, err)
	require.Len(t, list, 2, "revoked keys are listed")
}

func attemptsContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a, email := tenantID(), "a@example.com"
	const window = time.Minute
	for i := range 3 {
		ok, _, err := p.Attempts.Reserve(ctx, a, email, window, 3)
		require.NoError(t, err)
		require.True(t, ok, "attempt %d of 3", i+1)
	}
	ok, retry, err := p.Attempts.Reserve(ctx, a, email, window, 3)
	require.NoError(t, err)
	require.False(t, ok, "the fourth attempt in the window is refused")
	require.Greater(t, retry, window-10*time.Second)
	require.LessOrEqual(t, retry, window)
	ok, _, err = p.Attempts.Reserve(ctx, a, "b@example.com", window, 3)
	require.NoError(t, err)
	require.True(t, ok, "accounts are counted apart")
	ok, _, err = p.Attempts.Reserve(ctx, tenantID(), email, window, 3)
	require.NoError(t, err)
	require.True(t, ok, "one email in two tenants is two accounts")

	require.NoError(t, p.Attempts.Release(ctx, a, email))
	ok, _, err = p.Attempts.Reserve(ctx, a, email, window, 3)
	require.NoError(t, err)
	require.True(t, ok, "a released attempt is given back")
	ok, _, err = p.Attempts.Reserve(ctx, a, email, window, 3)
	require.NoError(t, err)
	require.False(t, ok)

	require.NoError(t, p.Attempts.Clear(ctx, a, email))
	for range 3 {
		ok, _, err = p.Attempts.Reserve(ctx, a, email, window, 3)
		require.NoError(t, err)
		require.True(t, ok, "a cleared account starts again")
	}
	require.NoError(t, p.Attempts.Release(ctx, a, "never@example.com"), "releasing nothing is no error")

	// The window ends on the clock.
	short := tenantID()
	ok, _, err = p.Attempts.Reserve(ctx, short, email, 300*time.Millisecond, 1)
	require.NoError(t, err)
	require.True(t, ok)
	ok, _, err = p.Attempts.Reserve(ctx, short, email, 300*time.Millisecond, 1)
	require.NoError(t, err)
	require.False(t, ok)
	require.Eventually(t, func() bool {
		ok, _, err := p.Attempts.Reserve(ctx, short, email, 300*time.Millisecond, 1)
		return err == nil && ok
	}, 5*time.Second, 50*time.Millisecond, "a new window after the old one ends")
}

func codesContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a, u := tenantID(), id()
	fresh, err := p.Attempts.UseCode(ctx, a, u, "123456", time.Minute)
	require.NoError(t, err)
	require.True(t, fresh)
	fresh, err = p.Attempts.UseCode(ctx, a, u, "123456", time.Minute)
	require.NoError(t, err)
	require.False(t, fresh, "a code is used once")
	fresh, err = p.Attempts.UseCode(ctx, a, id(), "123456", time.Minute)
	require.NoError(t, err)
	require.True(t, fresh, "another user's code is theirs")
	fresh, err = p.Attempts.UseCode(ctx, a, u, "654321", 300*time.Millisecond)
	require.NoError(t, err)
	require.True(t, fresh)
	require.Eventually(t, func() bool {
		fresh, err := p.Attempts.UseCode(ctx, a, u, "654321", 300*time.Millisecond)
		return err == nil && fresh
	}, 5*time.Second, 50*time.Millisecond, "a code's record ends after its time")
}

func revocationsContract(t *testing.T, p identity.Ports) {
	ctx := t.Context()
	a, sub, jti, sid := tenantID(), id(), id(), id()
	st, err := p.Revocations.Check(ctx, identity.RevocationQuery{TokenID: jti, Session: sid, Tenant: a, Subject: sub})
	require.NoError(t, err)
	require.Equal(t, identity.RevocationState{}, st)
	st, err = p.Revocations.Check(ctx, identity.RevocationQuery{})
	require.NoError(t, err)
	require.Equal(t, identity.RevocationState{}, st)

	require.NoError(t, p.Revocations.RevokeToken(ctx, jti, time.Minute))
	st, err = p.Revocations.Check(ctx, identity.RevocationQuery{TokenID: jti})
	require.NoError(t, err)
	require.True(t, st.Revoked)
	st, err = p.Revocations.Check(ctx, identity.RevocationQuery{TokenID: id(), Session: id()})
	require.NoError(t, err)
	require.False(t, st.Revoked)

	s1, s2 := id(), id()
	require.NoError(t, p.Revocations.RevokeSessions(ctx, []string{s1, s2}, time.Minute))
	require.NoError(t, p.Revocations.RevokeSessions(ctx, nil, time.Minute))
	for _, s := range []string{s1, s2} {
		st, err = p.Revocations.Check(ctx, identity.RevocationQuery{TokenID: id(), Session: s})
		require.NoError(t, err)
		require.True(t, st.Revoked, "a token of a revoked session")
	}

	when := time.Unix(1_790_000_000, 700_000_000)
	s3 := id()
	require.NoError(t, p.Revocations.RevokeSubject(ctx, a, sub, when, []string{s3}, time.Minute))
	got, err := p.Revocations.SubjectRevokedAt(ctx, a, sub)
	require.NoError(t, err)
	require.True(t, got.Equal(time.Unix(1_790_000_000, 0)), "the revocation's whole second: %s", got)
	got, err = p.Revocations.SubjectRevokedAt(ctx, tenantID(), sub)
	require.NoError(t, err)
	require.True(t, got.IsZero(), "the subject of another tenant is another subject")
	st, err = p.Revocations.Check(ctx, identity.RevocationQuery{TokenID: id(), Session: id(), Tenant: a, Subject: sub})
	require.NoError(t, err)
	require.False(t, st.Revoked)
	require.True(t, st.SubjectRevokedAt.Equal(time.Unix(1_790_000_000, 0)))
	st, err = p.Revocations.Check(ctx, identity.RevocationQuery{Subject: sub})
	require.NoError(t, err)
	require.True(t, st.SubjectRevokedAt.IsZero(), "a subject without its tenant is not looked up")
	st, err = p.Revocations.Check(ctx, identity.RevocationQuery{Session: s3})
	require.NoError(t, err)
	require.True(t, st.Revoked, "the subject's sessions are revoked with it")

	short := id()
	require.NoError(t, p.Revocations.RevokeToken(ctx, short, 300*time.Millisecond))
	require.Eventually(t, func() bool {
		st, err := p.Revocations.Check(ctx, identity.RevocationQuery{TokenID: short})
		return err == nil && !st.Revoked
	}, 5*time.Second, 50*time.Millisecond, "an entry ends with the tokens it names")
}
