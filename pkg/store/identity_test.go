package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestIdentityEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "identity_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	runIdentityContract(t, s)
}

// runIdentityContract is the behaviour of the identity repositories
// (tenants, users, sessions, refresh tokens, API keys) on any server.
func runIdentityContract(t *testing.T, s *store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"a tenant is created once and listed", testTenantCreateList},
		{"two tenant ids that read alike cannot both be created", testTenantLookAlikes},
		{"users stay within their tenant and an email is unique per tenant", testUsersIsolation},
		{"user updates: role, disabled, totp, sessions revoked", testUserUpdates},
		{"identity repositories refuse empty required fields", testIdentityValidation},
		{"sessions are tenant-scoped and revoking keeps the first time", testSessions},
		{"revoking a user's sessions touches only their open ones", testRevokeUserSessions},
		{"a refresh token is used once, then reported as reused", testRefreshUseOnce},
		{"concurrent uses of one refresh token: exactly one wins", testRefreshUseConcurrent},
		{"api keys are tenant-scoped and looked up by id", testAPIKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

func newUser(tenant, email string) store.User {
	return store.User{ID: uniq("u"), TenantID: tenant, Email: email, Name: "Ada", Role: "owner",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
}

func testTenantCreateList(t *testing.T, s *store.Store) {
	ctx := context.Background()
	id := uniq("acme")
	created, err := s.Tenants.Create(ctx, store.Tenant{ID: id, Name: "Acme"})
	require.NoError(t, err)
	require.False(t, created.CreatedAt.IsZero())
	_, err = s.Tenants.Create(ctx, store.Tenant{ID: id, Name: "Acme again"})
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := s.Tenants.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Acme", got.Name, "a conflicting create must not rename")

	all, err := s.Tenants.List(ctx)
	require.NoError(t, err)
	var found bool
	for _, tn := range all {
		found = found || tn.ID == id
	}
	require.True(t, found, "List includes the created tenant")

	require.NoError(t, s.Tenants.Delete(ctx, id))
	_, err = s.Tenants.Get(ctx, id)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.Tenants.Delete(ctx, id), store.ErrNotFound)
}

func testTenantLookAlikes(t *testing.T, s *store.Store) {
	ctx := context.Background()
	id := uniq("acme-corp") // random hex after it: no letter of it folds
	_, err := s.Tenants.Create(ctx, store.Tenant{ID: id, Name: "Acme"})
	require.NoError(t, err)
	for _, alike := range []string{
		strings.ToUpper(id),
		strings.Replace(id, "acme-corp", "acme_corp", 1),
		strings.Replace(id, "acme-corp", "acrne-c0rp", 1),
		strings.Replace(id, "acme-corp", "AcMe_COrp", 1),
	} {
		_, err := s.Tenants.Create(ctx, store.Tenant{ID: alike, Name: "Impostor"})
		require.ErrorIs(t, err, store.ErrLookAlike, alike)
		_, err = s.Tenants.Get(ctx, alike)
		require.ErrorIs(t, err, store.ErrNotFound, "a refused look-alike leaves no tenant")
	}
	_, err = s.Tenants.Create(ctx, store.Tenant{ID: strings.Replace(id, "acme-corp", "acme-co", 1), Name: "Other"})
	require.NoError(t, err, "a different id is not a look-alike")

	// Deleting the tenant releases its name: the undo of a failed create must not block a retry.
	require.NoError(t, s.Tenants.Delete(ctx, id))
	_, err = s.Tenants.Create(ctx, store.Tenant{ID: strings.Replace(id, "acme-corp", "acme_corp", 1), Name: "Acme"})
	require.NoError(t, err)
}

func TestTenantNameKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b string }{
		{"acme", "ACME"}, {"acme-corp", "acme_corp"}, {"google", "g00gle"}, {"paypal", "paypa1"},
		{"modern", "rnodern"}, {"wave", "vvave"}, {"silo", "5ilo"}, {"bill", "biII"},
	} {
		require.Equal(t, store.TenantNameKey(tc.a), store.TenantNameKey(tc.b), "%s ~ %s", tc.a, tc.b)
	}
	require.NotEqual(t, store.TenantNameKey("acme"), store.TenantNameKey("acne"))
}

func testUsersIsolation(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	u, err := s.Users.Create(ctx, newUser(acme, "ada@example.com"))
	require.NoError(t, err)

	_, err = s.Users.Create(ctx, newUser(acme, "ada@example.com"))
	require.ErrorIs(t, err, store.ErrConflict, "one account per email in a tenant")
	_, err = s.Users.Create(ctx, newUser(globex, "ada@example.com"))
	require.NoError(t, err, "the same email may sign in to another tenant")

	got, err := s.Users.Get(ctx, acme, u.ID)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", got.Email)
	require.NotEmpty(t, got.PasswordHash)
	byEmail, err := s.Users.GetByEmail(ctx, acme, "ada@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, byEmail.ID)

	_, err = s.Users.Get(ctx, globex, u.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Users.SetRole(ctx, globex, u.ID, "viewer")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Users.SetDisabled(ctx, globex, u.ID, true)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Users.RevokeSessions(ctx, globex, u.ID, time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Users.GetByEmail(ctx, uniq("nobody"), "ada@example.com")
	require.ErrorIs(t, err, store.ErrNotFound)

	got, err = s.Users.Get(ctx, acme, u.ID)
	require.NoError(t, err)
	require.Equal(t, "owner", got.Role, "another tenant's update changed nothing")
	require.False(t, got.Disabled)

	list, err := s.Users.List(ctx, acme)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, u.ID, list[0].ID)
}

func testUserUpdates(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("acme")
	a, err := s.Users.Create(ctx, newUser(tenant, "a@example.com"))
	require.NoError(t, err)
	b, err := s.Users.Create(ctx, newUser(tenant, "b@example.com"))
	require.NoError(t, err)

	n, err := s.Users.CountEnabledOwners(ctx, tenant, "owner")
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	upd, err := s.Users.SetRole(ctx, tenant, a.ID, "viewer")
	require.NoError(t, err)
	require.Equal(t, "viewer", upd.Role)
	upd, err = s.Users.SetDisabled(ctx, tenant, b.ID, true)
	require.NoError(t, err)
	require.True(t, upd.Disabled)
	n, err = s.Users.CountEnabledOwners(ctx, tenant, "owner")
	require.NoError(t, err)
	require.EqualValues(t, 0, n)

	upd, err = s.Users.SetPendingTOTP(ctx, tenant, a.ID, "PENDINGSECRET")
	require.NoError(t, err)
	require.Equal(t, "PENDINGSECRET", upd.TOTPPending)
	require.False(t, upd.MFAEnabled, "a pending secret does not turn MFA on")
	upd, err = s.Users.EnableTOTP(ctx, tenant, a.ID, "PENDINGSECRET")
	require.NoError(t, err)
	require.True(t, upd.MFAEnabled)
	require.Equal(t, "PENDINGSECRET", upd.TOTPSecret)
	require.Empty(t, upd.TOTPPending)

	at := time.Now().UTC().Truncate(time.Millisecond)
	_, err = s.Users.RevokeSessions(ctx, tenant, a.ID, at)
	require.NoError(t, err)
	got, err := s.Users.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.True(t, at.Equal(got.SessionsRevokedAt))
	require.True(t, got.UpdatedAt.After(got.CreatedAt) || got.UpdatedAt.Equal(got.CreatedAt))

	_, err = s.Users.SetRole(ctx, tenant, "missing", "viewer")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testIdentityValidation(t *testing.T, s *store.Store) {
	ctx := context.Background()
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		call func() error
	}{
		{"tenant without id", func() error { _, err := s.Tenants.Create(ctx, store.Tenant{Name: "x"}); return err }},
		{"tenant without name", func() error { _, err := s.Tenants.Create(ctx, store.Tenant{ID: uniq("t")}); return err }},
		{"user without tenant", func() error { _, err := s.Users.Create(ctx, newUser("", "a@b.c")); return err }},
		{"user with a slash in the tenant", func() error { _, err := s.Users.Create(ctx, newUser("a/b", "a@b.c")); return err }},
		{"user without email", func() error { _, err := s.Users.Create(ctx, newUser(uniq("t"), "")); return err }},
		{"user without password hash", func() error {
			u := newUser(uniq("t"), "a@b.c")
			u.PasswordHash = ""
			_, err := s.Users.Create(ctx, u)
			return err
		}},
		{"set role to empty", func() error { _, err := s.Users.SetRole(ctx, uniq("t"), "u", ""); return err }},
		{"session without user", func() error {
			_, err := s.Sessions.Create(ctx, store.Session{ID: uniq("s"), TenantID: uniq("t"), ExpiresAt: future})
			return err
		}},
		{"session without expiry", func() error {
			_, err := s.Sessions.Create(ctx, store.Session{ID: uniq("s"), TenantID: uniq("t"), UserID: "u"})
			return err
		}},
		{"refresh token without session", func() error {
			_, err := s.Sessions.CreateRefresh(ctx, store.RefreshToken{ID: uniq("h"), TenantID: uniq("t"), UserID: "u", ExpiresAt: future})
			return err
		}},
		{"refresh token without expiry", func() error {
			_, err := s.Sessions.CreateRefresh(ctx, store.RefreshToken{ID: uniq("h"), TenantID: uniq("t"), UserID: "u", SessionID: "s"})
			return err
		}},
		{"api key without secret hash", func() error {
			_, err := s.APIKeys.Create(ctx, store.APIKey{ID: uniq("k"), TenantID: uniq("t"), Name: "ci", Role: "viewer", CreatedBy: "u"})
			return err
		}},
		{"api key lookup without id", func() error { _, err := s.APIKeys.Lookup(ctx, ""); return err }},
	}
	for _, tc := range tests {
		require.ErrorIs(t, tc.call(), store.ErrInvalid, tc.name)
	}
}

func newSession(tenant, user string, expires time.Time) store.Session {
	return store.Session{ID: uniq("s"), TenantID: tenant, UserID: user, ExpiresAt: expires}
}

func testSessions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	sess, err := s.Sessions.Create(ctx, newSession(acme, "u1", time.Now().Add(time.Hour)))
	require.NoError(t, err)
	_, err = s.Sessions.Create(ctx, sess)
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := s.Sessions.Get(ctx, acme, sess.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt)
	require.Equal(t, "u1", got.UserID)

	_, err = s.Sessions.Get(ctx, globex, sess.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.Sessions.Revoke(ctx, globex, sess.ID, time.Time{}), store.ErrNotFound)
	got, err = s.Sessions.Get(ctx, acme, sess.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "another tenant cannot revoke the session")

	first := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, s.Sessions.Revoke(ctx, acme, sess.ID, first))
	require.NoError(t, s.Sessions.Revoke(ctx, acme, sess.ID, first.Add(time.Minute)))
	got, err = s.Sessions.Get(ctx, acme, sess.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	require.True(t, first.Equal(*got.RevokedAt), "a second revoke keeps the first time")
}

func testRevokeUserSessions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	now := time.Now().UTC()
	open1, err := s.Sessions.Create(ctx, newSession(acme, "u1", now.Add(time.Hour)))
	require.NoError(t, err)
	open2, err := s.Sessions.Create(ctx, newSession(acme, "u1", now.Add(time.Hour)))
	require.NoError(t, err)
	revoked, err := s.Sessions.Create(ctx, newSession(acme, "u1", now.Add(time.Hour)))
	require.NoError(t, err)
	earlier := now.Add(-time.Minute).Truncate(time.Millisecond)
	require.NoError(t, s.Sessions.Revoke(ctx, acme, revoked.ID, earlier))
	expired, err := s.Sessions.Create(ctx, newSession(acme, "u1", now.Add(-time.Second)))
	require.NoError(t, err)
	otherUser, err := s.Sessions.Create(ctx, newSession(acme, "u2", now.Add(time.Hour)))
	require.NoError(t, err)
	otherTenant, err := s.Sessions.Create(ctx, newSession(globex, "u1", now.Add(time.Hour)))
	require.NoError(t, err)

	ids, err := s.Sessions.RevokeUser(ctx, acme, "u1", now)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{open1.ID, open2.ID}, ids)

	for _, id := range []string{open1.ID, open2.ID} {
		got, err := s.Sessions.Get(ctx, acme, id)
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
	}
	got, err := s.Sessions.Get(ctx, acme, revoked.ID)
	require.NoError(t, err)
	require.True(t, earlier.Equal(*got.RevokedAt), "an already revoked session keeps its time")
	got, err = s.Sessions.Get(ctx, acme, expired.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt)
	got, err = s.Sessions.Get(ctx, acme, otherUser.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "another user's session stays open")
	got, err = s.Sessions.Get(ctx, globex, otherTenant.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "the same user id in another tenant is another user")
}

func newRefresh(tenant string) store.RefreshToken {
	return store.RefreshToken{ID: uniq("hash"), TenantID: tenant, UserID: "u1", SessionID: uniq("s"),
		ExpiresAt: time.Now().Add(time.Hour)}
}

func testRefreshUseOnce(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tok, err := s.Sessions.CreateRefresh(ctx, newRefresh(uniq("acme")))
	require.NoError(t, err)
	_, err = s.Sessions.CreateRefresh(ctx, tok)
	require.ErrorIs(t, err, store.ErrConflict)

	at := time.Now().UTC().Truncate(time.Millisecond)
	used, err := s.Sessions.UseRefresh(ctx, tok.ID, at)
	require.NoError(t, err)
	require.Equal(t, tok.SessionID, used.SessionID)
	require.NotNil(t, used.UsedAt)

	again, err := s.Sessions.UseRefresh(ctx, tok.ID, at.Add(time.Second))
	require.ErrorIs(t, err, store.ErrRefreshUsed)
	require.Equal(t, tok.SessionID, again.SessionID, "a reused token names its session, so the family can be revoked")
	require.Equal(t, tok.TenantID, again.TenantID)

	stored, err := s.Sessions.GetRefresh(ctx, tok.ID)
	require.NoError(t, err)
	require.NotNil(t, stored.UsedAt)
	require.True(t, at.Equal(*stored.UsedAt))

	_, err = s.Sessions.UseRefresh(ctx, uniq("unknown"), at)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testRefreshUseConcurrent(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tok, err := s.Sessions.CreateRefresh(ctx, newRefresh(uniq("acme")))
	require.NoError(t, err)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Sessions.UseRefresh(ctx, tok.ID, time.Time{})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, store.ErrRefreshUsed)
	}
	require.Equal(t, 1, wins)
}

func testAPIKeys(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	exp := time.Now().Add(24 * time.Hour)
	k, err := s.APIKeys.Create(ctx, store.APIKey{ID: uniq("k"), TenantID: acme, Name: "ci", Role: "analyst",
		CreatedBy: "u1", ExpiresAt: &exp, SecretSHA256: "abc123"})
	require.NoError(t, err)
	_, err = s.APIKeys.Create(ctx, k)
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := s.APIKeys.Get(ctx, acme, k.ID)
	require.NoError(t, err)
	require.Equal(t, "analyst", got.Role)
	require.NotNil(t, got.ExpiresAt)
	require.True(t, exp.Truncate(time.Millisecond).Equal(*got.ExpiresAt))
	looked, err := s.APIKeys.Lookup(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, acme, looked.TenantID)
	require.Equal(t, "abc123", looked.SecretSHA256)
	_, err = s.APIKeys.Lookup(ctx, uniq("missing"))
	require.ErrorIs(t, err, store.ErrNotFound)

	_, err = s.APIKeys.Get(ctx, globex, k.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.APIKeys.Revoke(ctx, globex, k.ID, time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.APIKeys.List(ctx, globex)
	require.NoError(t, err)
	require.Empty(t, list)
	got, err = s.APIKeys.Get(ctx, acme, k.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "another tenant cannot revoke the key")

	first := time.Now().UTC().Truncate(time.Millisecond)
	rev, err := s.APIKeys.Revoke(ctx, acme, k.ID, first)
	require.NoError(t, err)
	require.True(t, first.Equal(*rev.RevokedAt))
	rev, err = s.APIKeys.Revoke(ctx, acme, k.ID, first.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, first.Equal(*rev.RevokedAt), "a second revoke keeps the first time")

	list, err = s.APIKeys.List(ctx, acme)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NotNil(t, list[0].RevokedAt)
}
