package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestUsersAndTenants(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"a tenant is created with its owner, once", testCreateTenant},
		{"tenant ids are lower case and look-alikes are refused", testTenantIDCase},
		{"a generated password is shown once and signs in", testGeneratedPassword},
		{"an email is taken once per tenant", testEmailConflict},
		{"another tenant cannot read, change, disable or revoke a user", testUserIsolation},
		{"the last enabled owner cannot be demoted or disabled", testLastOwner},
		{"disabling a user signs them out and keeps them out", testDisableUser},
		{"invalid input names its field", testFieldErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFakeEnv(t))
		})
	}
}

func testTenantIDCase(t *testing.T, e *env) {
	ctx := context.Background()
	id := uniq("globex-corp") // random hex after it: no letter of it folds
	tn, _, _, err := e.svc.CreateTenant(ctx, strings.ToUpper(id), "Globex", identity.NewUser{Email: "boss@globex.example", Password: testPassword})
	require.NoError(t, err)
	require.Equal(t, id, tn.ID, "the id is stored lower case")

	for _, alike := range []string{id, strings.ToUpper(id), strings.Replace(id, "globex-corp", "gl0bex_corp", 1)} {
		_, _, _, err = e.svc.CreateTenant(ctx, alike, "Impostor", identity.NewUser{Email: "x@y.example", Password: testPassword})
		require.ErrorIs(t, err, identity.ErrConflict, alike)
	}
	_, _, _, err = e.svc.CreateTenant(ctx, strings.Replace(id, "globex-corp", "gl0bex_corp", 1), "Impostor", identity.NewUser{Email: "x@y.example", Password: testPassword})
	require.ErrorContains(t, err, "looks like the existing tenant "+id)
	var ce *identity.ConflictError
	require.ErrorAs(t, err, &ce, "the conflict is typed, so no caller parses its text")
	require.Equal(t, "create tenant", ce.Op)
	require.Equal(t, strings.Replace(id, "globex-corp", "gl0bex_corp", 1)+" looks like the existing tenant "+id, ce.Detail)
	// The platform's own tenant has no name claim (it is upserted, not created); its look-alike is refused too.
	require.NoError(t, e.st.Tenants.Upsert(ctx, store.Tenant{ID: auth.PlatformTenant, Name: "Platform operators"}))
	_, _, _, err = e.svc.CreateTenant(ctx, "-platform", "Impostor", identity.NewUser{Email: "x@y.example", Password: testPassword})
	require.ErrorIs(t, err, identity.ErrConflict)

	// Sign-in takes the id in any case.
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: strings.ToUpper(id), Email: "boss@globex.example", Password: testPassword})
	require.NoError(t, err)
}

func testCreateTenant(t *testing.T, e *env) {
	ctx := context.Background()
	id := uniq("acme")
	tn, owner, pw, err := e.svc.CreateTenant(ctx, id, "Acme Corp", identity.NewUser{Email: "Boss@Acme.example", Name: "Boss", Password: testPassword})
	require.NoError(t, err)
	require.Empty(t, pw)
	require.Equal(t, id, tn.ID)
	require.Equal(t, "Acme Corp", tn.Name)
	require.Equal(t, auth.RoleOwner, owner.Role)
	require.Equal(t, "boss@acme.example", owner.Email, "emails are stored lower-case")
	require.Equal(t, id, owner.Tenant)

	_, _, _, err = e.svc.CreateTenant(ctx, id, "Other", identity.NewUser{Email: "x@y.example", Password: testPassword})
	require.ErrorIs(t, err, identity.ErrConflict)
	require.ErrorIs(t, err, store.ErrConflict, "the gateway's store mapping applies as well")
	users, err := e.svc.ListUsers(ctx, id)
	require.NoError(t, err)
	require.Len(t, users, 1, "a refused create adds no user")

	all, err := e.svc.ListTenants(ctx)
	require.NoError(t, err)
	require.True(t, containsTenant(all, id))

	for _, reserved := range []string{"_platform", "_" + uniq("x")} {
		_, _, _, err = e.svc.CreateTenant(ctx, reserved, "Nope", identity.NewUser{Email: "a@b.example", Password: testPassword})
		requireField(t, err, "tenant")
	}
	_, _, _, err = e.svc.CreateTenant(ctx, uniq("t"), "T", identity.NewUser{Email: "a@b.example", Role: auth.RoleAdmin, Password: testPassword})
	requireField(t, err, "owner.role")
	_, _, _, err = e.svc.CreateTenant(ctx, uniq("t"), "T", identity.NewUser{Email: "not an email", Password: testPassword})
	requireField(t, err, "owner.email")
}

func containsTenant(ts []store.Tenant, id string) bool {
	for _, tn := range ts {
		if tn.ID == id {
			return true
		}
	}
	return false
}

func testGeneratedPassword(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u, pw, err := e.svc.CreateUser(ctx, tenant, identity.NewUser{Email: "gen@example.com", Role: auth.RoleViewer})
	require.NoError(t, err)
	require.Len(t, pw, 20)
	require.Equal(t, -1, strings.IndexFunc(pw, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}), pw)
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: pw})
	require.NoError(t, err)

	_, pw2, err := e.svc.CreateUser(ctx, tenant, identity.NewUser{Email: "gen2@example.com", Role: auth.RoleViewer})
	require.NoError(t, err)
	require.NotEqual(t, pw, pw2)

	_, _, pw3, err := e.svc.CreateTenant(ctx, uniq("t"), "T", identity.NewUser{Email: "o@example.com"})
	require.NoError(t, err)
	require.Len(t, pw3, 20, "a tenant's owner may get a generated password too")
}

func testEmailConflict(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, owner := e.newTenant(t)
	_, _, err := e.svc.CreateUser(ctx, tenant, identity.NewUser{Email: strings.ToUpper(owner.Email), Role: auth.RoleViewer, Password: testPassword})
	require.ErrorIs(t, err, identity.ErrConflict)
	other := e.mustTenant(t)
	_, _, err = e.svc.CreateUser(ctx, other, identity.NewUser{Email: owner.Email, Role: auth.RoleViewer, Password: testPassword})
	require.NoError(t, err, "the same person may belong to two tenants")
	_, _, err = e.svc.CreateUser(ctx, uniq("missing"), identity.NewUser{Email: "a@b.example", Role: auth.RoleViewer, Password: testPassword})
	require.ErrorIs(t, err, identity.ErrNotFound, "no users in a tenant that does not exist")
}

func testUserIsolation(t *testing.T, e *env) {
	ctx := context.Background()
	a, ownerA := e.newTenant(t)
	userA := e.newUser(t, a, auth.RoleAdmin)
	b, _ := e.newTenant(t)
	sessA := e.login(t, userA)

	_, err := e.svc.GetUser(ctx, b, userA.ID)
	require.ErrorIs(t, err, identity.ErrNotFound)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.svc.SetRole(ctx, b, userA.ID, auth.RoleViewer)
	require.ErrorIs(t, err, identity.ErrNotFound)
	require.ErrorIs(t, e.svc.DisableUser(ctx, b, userA.ID), identity.ErrNotFound)
	require.ErrorIs(t, e.svc.RevokeUserSessions(ctx, b, userA.ID), identity.ErrNotFound)
	_, err = e.svc.EnrollTOTP(ctx, b, userA.ID, identity.Reauth{Password: testPassword})
	require.ErrorIs(t, err, identity.ErrNotFound)
	_, err = e.svc.SetRole(ctx, b, ownerA.ID, auth.RoleViewer)
	require.ErrorIs(t, err, identity.ErrNotFound)

	listB, err := e.svc.ListUsers(ctx, b)
	require.NoError(t, err)
	for _, u := range listB {
		require.Equal(t, b, u.Tenant)
		require.NotEqual(t, userA.ID, u.ID)
	}

	got, err := e.svc.GetUser(ctx, a, userA.ID)
	require.NoError(t, err)
	require.Equal(t, auth.RoleAdmin, got.Role)
	require.False(t, got.Disabled)
	require.False(t, got.MFAEnabled)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, sessA.AccessToken)))
	_, err = e.svc.Refresh(ctx, sessA.RefreshToken)
	require.NoError(t, err)

	_, err = e.svc.GetUser(ctx, a, "")
	require.ErrorIs(t, err, identity.ErrNotFound)
}

func testLastOwner(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, o1 := e.newTenant(t)
	_, err := e.svc.SetRole(ctx, tenant, o1.ID, auth.RoleAdmin)
	require.ErrorIs(t, err, identity.ErrConflict)
	require.ErrorIs(t, e.svc.DisableUser(ctx, tenant, o1.ID), identity.ErrConflict)
	got, err := e.svc.GetUser(ctx, tenant, o1.ID)
	require.NoError(t, err)
	require.Equal(t, auth.RoleOwner, got.Role)
	require.False(t, got.Disabled)

	o2 := e.newUser(t, tenant, auth.RoleOwner)
	demoted, err := e.svc.SetRole(ctx, tenant, o1.ID, auth.RoleAdmin)
	require.NoError(t, err, "with a second owner the first may step down")
	require.Equal(t, auth.RoleAdmin, demoted.Role)
	require.ErrorIs(t, e.svc.DisableUser(ctx, tenant, o2.ID), identity.ErrConflict)

	_, err = e.svc.SetRole(ctx, tenant, o1.ID, auth.RoleOwner)
	require.NoError(t, err)
	require.NoError(t, e.svc.DisableUser(ctx, tenant, o2.ID))
	_, err = e.svc.SetRole(ctx, tenant, o1.ID, auth.RoleViewer)
	require.ErrorIs(t, err, identity.ErrConflict, "a disabled owner does not count")

	_, err = e.svc.SetRole(ctx, tenant, o2.ID, auth.RoleViewer)
	require.NoError(t, err, "a disabled owner may be demoted")
	same, err := e.svc.SetRole(ctx, tenant, o1.ID, auth.RoleOwner)
	require.NoError(t, err, "setting the role a user has is a no-op")
	require.Equal(t, auth.RoleOwner, same.Role)
}

func testDisableUser(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	s := e.login(t, u)
	require.NoError(t, e.svc.DisableUser(ctx, tenant, u.ID))
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), identity.ErrRevoked)
	_, err := e.svc.Refresh(ctx, s.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: testPassword})
	require.ErrorIs(t, err, identity.ErrInvalidCredentials)
	got, err := e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)
	require.NoError(t, e.svc.DisableUser(ctx, tenant, u.ID), "disabling twice is harmless")
}

func testFieldErrors(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, owner := e.newTenant(t)
	longName := strings.Repeat("n", 101)
	createUser := func(nu identity.NewUser) error { _, _, err := e.svc.CreateUser(ctx, tenant, nu); return err }
	valid := identity.NewUser{Email: "ok@example.com", Name: "OK", Role: auth.RoleViewer, Password: testPassword}
	with := func(edit func(*identity.NewUser)) identity.NewUser { nu := valid; edit(&nu); return nu }
	login := func(in identity.LoginInput) error { _, err := e.svc.Login(ctx, in); return err }
	goodLogin := identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: testPassword}

	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"email missing", createUser(with(func(n *identity.NewUser) { n.Email = "" })), "email"},
		{"email without domain", createUser(with(func(n *identity.NewUser) { n.Email = "ada" })), "email"},
		{"email with a display name", createUser(with(func(n *identity.NewUser) { n.Email = "Ada <ada@example.com>" })), "email"},
		{"email too long", createUser(with(func(n *identity.NewUser) { n.Email = strings.Repeat("a", 250) + "@b.example" })), "email"},
		{"password too short", createUser(with(func(n *identity.NewUser) { n.Password = "elevenchars" })), "password"},
		{"password too long", createUser(with(func(n *identity.NewUser) { n.Password = strings.Repeat("p", 129) })), "password"},
		{"role missing", createUser(with(func(n *identity.NewUser) { n.Role = "" })), "role"},
		{"role unknown", createUser(with(func(n *identity.NewUser) { n.Role = "superuser" })), "role"},
		{"platform role in a tenant", createUser(with(func(n *identity.NewUser) { n.Role = auth.RoleOperator })), "role"},
		{"name too long", createUser(with(func(n *identity.NewUser) { n.Name = longName })), "name"},
		{"name with control characters", createUser(with(func(n *identity.NewUser) { n.Name = "a\x00b" })), "name"},
		{"user in a reserved tenant", func() error { _, _, err := e.svc.CreateUser(ctx, auth.PlatformTenant, valid); return err }(), "tenant"},
		{"user in a malformed tenant", func() error { _, _, err := e.svc.CreateUser(ctx, "a.b", valid); return err }(), "tenant"},
		{"set an unknown role", func() error { _, err := e.svc.SetRole(ctx, tenant, owner.ID, "root"); return err }(), "role"},
		{"login without tenant", login(identity.LoginInput{Email: owner.Email, Password: testPassword}), "tenant"},
		{"login with a malformed tenant", login(identity.LoginInput{Tenant: "a:b", Email: owner.Email, Password: testPassword}), "tenant"},
		{"login without email", login(identity.LoginInput{Tenant: tenant, Password: testPassword}), "email"},
		{"login without password", login(identity.LoginInput{Tenant: tenant, Email: owner.Email}), "password"},
		{"login with a huge password", login(identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: strings.Repeat("p", 129)}), "password"},
		{"login with a 5-digit code", login(func() identity.LoginInput { in := goodLogin; in.TOTPCode = "12345"; return in }()), "totp_code"},
		{"login with a non-digit code", login(func() identity.LoginInput { in := goodLogin; in.TOTPCode = "12345a"; return in }()), "totp_code"},
		{"tenant without name", func() error {
			_, _, _, err := e.svc.CreateTenant(ctx, uniq("t"), " ", valid)
			return err
		}(), "name"},
		{"tenant with a malformed id", func() error {
			_, _, _, err := e.svc.CreateTenant(ctx, "has space", "T", valid)
			return err
		}(), "tenant"},
		{"api key without name", func() error {
			_, _, err := e.svc.CreateAPIKey(ctx, tenant, identity.NewAPIKey{Role: auth.RoleViewer, CreatedBy: owner.ID})
			return err
		}(), "name"},
		{"api key with an unknown role", func() error {
			_, _, err := e.svc.CreateAPIKey(ctx, tenant, identity.NewAPIKey{Name: "ci", Role: "god", CreatedBy: owner.ID})
			return err
		}(), "role"},
		{"api key expiring in the past", func() error {
			_, _, err := e.svc.CreateAPIKey(ctx, tenant, identity.NewAPIKey{Name: "ci", Role: auth.RoleViewer, CreatedBy: owner.ID,
				ExpiresAt: time.Now().Add(-time.Minute)})
			return err
		}(), "expires_at"},
		{"api key without creator", func() error {
			_, _, err := e.svc.CreateAPIKey(ctx, tenant, identity.NewAPIKey{Name: "ci", Role: auth.RoleViewer})
			return err
		}(), "created_by"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireField(t, tc.err, tc.field)
		})
	}

	// The login field errors above did not count as failed sign-ins.
	e.login(t, owner)
	users, err := e.svc.ListUsers(ctx, tenant)
	require.NoError(t, err)
	require.Len(t, users, 1, "no invalid user was created")
}
