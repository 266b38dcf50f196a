package identity_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

func TestAPIKeys(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"a key authenticates as its tenant and role", testAPIKeyAuth},
		{"a wrong, malformed or unknown key is invalid credentials", testAPIKeyInvalid},
		{"a revoked key stops working; another tenant cannot revoke it", testAPIKeyRevoke},
		{"a key stops working when it expires", testAPIKeyExpiry},
		{"the store keeps only the secret's hash", testAPIKeyHashed},
		{"a disabled or demoted creator's keys that outrank them stop working", testAPIKeyCreatorRemoved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFakeEnv(t))
		})
	}
}

var apiKeyFormat = regexp.MustCompile(`^imk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$`)

func (e *env) newKey(t *testing.T, tenant, role string, expires time.Time) (identity.APIKey, string) {
	t.Helper()
	k, secret, err := e.svc.CreateAPIKey(context.Background(), tenant,
		identity.NewAPIKey{Name: "ci", Role: role, CreatedBy: "user-1", ExpiresAt: expires})
	require.NoError(t, err)
	return k, secret
}

func testAPIKeyAuth(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	k, key := e.newKey(t, tenant, auth.RoleAnalyst, time.Time{})
	require.Regexp(t, apiKeyFormat, key)
	require.True(t, strings.HasPrefix(key, k.Prefix+"_"), "the prefix shown in lists starts the key")
	require.Equal(t, "imk_"+k.ID, k.Prefix)
	require.Nil(t, k.ExpiresAt)
	require.Equal(t, "user-1", k.CreatedBy)

	cl, err := e.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "apikey:"+k.ID, cl.Subject)
	require.Equal(t, tenant, cl.Tenant)
	require.Equal(t, []string{auth.RoleAnalyst}, cl.Roles)
	require.Empty(t, cl.ID, "nothing to revoke by jti")
	require.Empty(t, cl.Session)
	require.NoError(t, e.svc.CheckRevoked(ctx, cl), "key claims pass the token revocation check")

	list, err := e.svc.ListAPIKeys(ctx, tenant)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, k, list[0])
}

func testAPIKeyInvalid(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	k, key := e.newKey(t, tenant, auth.RoleViewer, time.Time{})
	_, other := e.newKey(t, tenant, auth.RoleViewer, time.Time{})
	otherSecret := other[len("imk_")+12+1:]
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"a refresh token", "imr_" + strings.Repeat("A", 43)},
		{"the id alone", k.Prefix},
		{"the right id with another key's secret", k.Prefix + "_" + otherSecret},
		{"a truncated secret", key[:len(key)-1]},
		{"an unknown id", "imk_aaaaaaaaaaaa_" + otherSecret},
		{"an id with the wrong alphabet", "imk_AAAAAAAAAAAA_" + otherSecret},
	}
	for _, tc := range tests {
		_, err := e.svc.AuthenticateAPIKey(ctx, tc.key)
		require.ErrorIs(t, err, identity.ErrInvalidCredentials, tc.name)
	}
}

func testAPIKeyRevoke(t *testing.T, e *env) {
	ctx := context.Background()
	a, _ := e.newTenant(t)
	b, _ := e.newTenant(t)
	k, key := e.newKey(t, a, auth.RoleAdmin, time.Time{})

	require.ErrorIs(t, e.svc.RevokeAPIKey(ctx, b, k.ID), identity.ErrNotFound)
	listB, err := e.svc.ListAPIKeys(ctx, b)
	require.NoError(t, err)
	require.Empty(t, listB)
	_, err = e.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err, "another tenant's revoke changed nothing")

	require.NoError(t, e.svc.RevokeAPIKey(ctx, a, k.ID))
	_, err = e.svc.AuthenticateAPIKey(ctx, key)
	require.ErrorIs(t, err, identity.ErrInvalidCredentials)
	list, err := e.svc.ListAPIKeys(ctx, a)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NotNil(t, list[0].RevokedAt, "a revoked key is listed as revoked")
	require.NoError(t, e.svc.RevokeAPIKey(ctx, a, k.ID), "revoking twice is harmless")
	require.ErrorIs(t, e.svc.RevokeAPIKey(ctx, a, "nonexistent"), identity.ErrNotFound)
}

func testAPIKeyExpiry(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	exp := e.clock.Now().Add(time.Hour)
	k, key := e.newKey(t, tenant, auth.RoleViewer, exp)
	require.NotNil(t, k.ExpiresAt)
	require.WithinDuration(t, exp, *k.ExpiresAt, time.Millisecond)
	_, err := e.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	_, err = e.svc.AuthenticateAPIKey(ctx, key)
	require.ErrorIs(t, err, identity.ErrInvalidCredentials)
}

func testAPIKeyHashed(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	k, key := e.newKey(t, tenant, auth.RoleViewer, time.Time{})
	stored, err := e.st.APIKeys.Get(ctx, tenant, k.ID)
	require.NoError(t, err)
	secret := key[len("imk_")+12+1:]
	require.Len(t, stored.SecretSHA256, 64)
	require.NotContains(t, stored.SecretSHA256, secret)
	require.NotEqual(t, secret, stored.SecretSHA256)
}

func testAPIKeyCreatorRemoved(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	admin := e.newUser(t, tenant, auth.RoleAdmin)
	mint := func(creator, role string) string {
		_, key, err := e.svc.CreateAPIKey(ctx, tenant, identity.NewAPIKey{Name: role + " key", Role: role, CreatedBy: creator})
		require.NoError(t, err)
		return key
	}
	adminKey, analystKey, viewerKey, otherKey := mint(admin.ID, auth.RoleAdmin), mint(admin.ID, auth.RoleAnalyst),
		mint(admin.ID, auth.RoleViewer), mint("someone-else", auth.RoleAdmin)

	// Demoted to analyst: the admin key goes, keys at or below analyst stay.
	_, err := e.svc.SetRole(ctx, tenant, admin.ID, auth.RoleAnalyst)
	require.NoError(t, err)
	_, err = e.svc.AuthenticateAPIKey(ctx, adminKey)
	require.ErrorIs(t, err, identity.ErrInvalidCredentials, "a demoted admin keeps no admin access through a key")
	for _, k := range []string{analystKey, viewerKey, otherKey} {
		_, err = e.svc.AuthenticateAPIKey(ctx, k)
		require.NoError(t, err)
	}

	// Disabled: every key they made goes; another person's key stays.
	require.NoError(t, e.svc.DisableUser(ctx, tenant, admin.ID))
	for _, k := range []string{analystKey, viewerKey} {
		_, err = e.svc.AuthenticateAPIKey(ctx, k)
		require.ErrorIs(t, err, identity.ErrInvalidCredentials, "a disabled user's keys stop working")
	}
	_, err = e.svc.AuthenticateAPIKey(ctx, otherKey)
	require.NoError(t, err)
}
