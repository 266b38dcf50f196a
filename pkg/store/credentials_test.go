package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestCredentialsEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "credentials_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	runCredentialsContract(t, s)
}

// runCredentialsContract is the behaviour of the credential changes
// (password, second factor, other sessions) on any server.
func runCredentialsContract(t *testing.T, s *store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"a password hash is replaced within the tenant only", testSetPassword},
		{"a rehash replaces only the hash it was made from", testRehashPassword},
		{"turning TOTP off removes both secrets", testDisableTOTP},
		{"revoking a user's other sessions keeps the one named", testRevokeUserExcept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

func testSetPassword(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("acme")
	u, err := s.Users.Create(ctx, newUser(tenant, "a@example.com"))
	require.NoError(t, err)

	_, err = s.Users.SetPassword(ctx, uniq("globex"), u.ID, "$argon2id$other")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Users.SetPassword(ctx, tenant, u.ID, "")
	require.ErrorIs(t, err, store.ErrInvalid)
	got, err := s.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.PasswordHash, got.PasswordHash, "refused changes leave the hash")

	upd, err := s.Users.SetPassword(ctx, tenant, u.ID, "$argon2id$new")
	require.NoError(t, err)
	require.Equal(t, "$argon2id$new", upd.PasswordHash)
	got, err = s.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Equal(t, "$argon2id$new", got.PasswordHash)
}

func testRehashPassword(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("acme")
	u, err := s.Users.Create(ctx, newUser(tenant, "a@example.com"))
	require.NoError(t, err)

	done, err := s.Users.RehashPassword(ctx, uniq("globex"), u.ID, u.PasswordHash, "$argon2id$other")
	require.NoError(t, err)
	require.False(t, done, "another tenant's user is not touched")
	done, err = s.Users.RehashPassword(ctx, tenant, u.ID, "$argon2id$not-the-stored-one", "$argon2id$other")
	require.NoError(t, err)
	require.False(t, done, "a hash changed meanwhile is not overwritten")
	got, err := s.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.PasswordHash, got.PasswordHash)

	done, err = s.Users.RehashPassword(ctx, tenant, u.ID, u.PasswordHash, "$argon2id$rehashed")
	require.NoError(t, err)
	require.True(t, done)
	got, err = s.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Equal(t, "$argon2id$rehashed", got.PasswordHash)
}

func testDisableTOTP(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("acme")
	u, err := s.Users.Create(ctx, newUser(tenant, "a@example.com"))
	require.NoError(t, err)
	_, err = s.Users.EnableTOTP(ctx, tenant, u.ID, "CONFIRMED")
	require.NoError(t, err)
	_, err = s.Users.SetPendingTOTP(ctx, tenant, u.ID, "PENDING")
	require.NoError(t, err)

	_, err = s.Users.DisableTOTP(ctx, uniq("globex"), u.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err := s.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, got.MFAEnabled, "another tenant cannot turn it off")

	upd, err := s.Users.DisableTOTP(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.False(t, upd.MFAEnabled)
	require.Empty(t, upd.TOTPSecret)
	require.Empty(t, upd.TOTPPending)
	got, err = s.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.False(t, got.MFAEnabled)
	require.Empty(t, got.TOTPSecret)
	require.Empty(t, got.TOTPPending)
}

func testRevokeUserExcept(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	now := time.Now().UTC()
	keep, err := s.Sessions.Create(ctx, newSession(acme, "u1", now.Add(time.Hour)))
	require.NoError(t, err)
	other, err := s.Sessions.Create(ctx, newSession(acme, "u1", now.Add(time.Hour)))
	require.NoError(t, err)
	otherUser, err := s.Sessions.Create(ctx, newSession(acme, "u2", now.Add(time.Hour)))
	require.NoError(t, err)
	otherTenant, err := s.Sessions.Create(ctx, newSession(globex, "u1", now.Add(time.Hour)))
	require.NoError(t, err)

	ids, err := s.Sessions.RevokeUserExcept(ctx, acme, "u1", keep.ID, now)
	require.NoError(t, err)
	require.Equal(t, []string{other.ID}, ids)
	for _, c := range []struct {
		tenant, id string
		revoked    bool
	}{
		{acme, keep.ID, false}, {acme, other.ID, true}, {acme, otherUser.ID, false}, {globex, otherTenant.ID, false},
	} {
		got, err := s.Sessions.Get(ctx, c.tenant, c.id)
		require.NoError(t, err)
		require.Equalf(t, c.revoked, got.RevokedAt != nil, "session %s", c.id)
	}

	// Without a session to keep, the kept one goes too.
	ids, err = s.Sessions.RevokeUserExcept(ctx, acme, "u1", "", now)
	require.NoError(t, err)
	require.Equal(t, []string{keep.ID}, ids)
	_, err = s.Sessions.RevokeUserExcept(ctx, acme, "", keep.ID, now)
	require.ErrorIs(t, err, store.ErrInvalid)
}
