package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"a user signs in and gets a session bound to their role", testLoginOK},
		{"passwords are stored as OWASP-parameter argon2id hashes", testPasswordHashed},
		{"unknown tenant, unknown email, wrong password and disabled user look the same", testLoginInvalid},
		{"five wrong passwords lock the account, even against the right password", testLockout},
		{"the lock ends with its window", testLockoutEnds},
		{"an unknown email locks like a known one", testLockoutUnknownEmail},
		{"a successful sign-in clears the failure count", testSuccessClearsFailures},
		{"MFA: enrol, confirm, then a one-time code is required", testMFA},
		{"MFA: wrong codes count towards the lockout, asking for a code does not", testMFALockout},
		{"MFA: confirming needs a pending enrolment and a valid code", testMFAConfirm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFakeEnv(t))
		})
	}
}

func testLoginOK(t *testing.T, e *env) {
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	before := e.clock.Now()
	s, err := e.svc.Login(context.Background(), identity.LoginInput{
		Tenant: tenant, Email: strings.ToUpper(u.Email), Password: testPassword,
	})
	require.NoError(t, err, "the email is matched case-insensitively")
	require.Equal(t, u, s.User)
	require.NotEmpty(t, s.SessionID)
	require.True(t, strings.HasPrefix(s.RefreshToken, "imr_"))
	require.WithinDuration(t, before.Add(identity.DefaultRefreshTTL), s.RefreshExpiresAt, 5*time.Second)
	require.WithinDuration(t, before.Add(identity.DefaultAccessTTL), s.AccessExpiresAt, 5*time.Second)

	cl := e.claims(t, s.AccessToken)
	require.Equal(t, u.ID, cl.Subject)
	require.Equal(t, tenant, cl.Tenant)
	require.Equal(t, []string{auth.RoleAnalyst}, cl.Roles)
	require.Equal(t, s.SessionID, cl.Session)
	require.Equal(t, s.TokenID, cl.ID)
	require.NoError(t, e.svc.CheckRevoked(context.Background(), cl))
}

func testPasswordHashed(t *testing.T, e *env) {
	tenant, owner := e.newTenant(t)
	stored, err := e.st.Users.Get(context.Background(), tenant, owner.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$"), stored.PasswordHash)
	require.NotContains(t, stored.PasswordHash, testPassword)
}

func testLoginInvalid(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, owner := e.newTenant(t)
	disabled := e.newUser(t, tenant, auth.RoleViewer)
	require.NoError(t, e.svc.DisableUser(ctx, tenant, disabled.ID))
	tests := []struct {
		name string
		in   identity.LoginInput
	}{
		{"unknown tenant", identity.LoginInput{Tenant: uniq("nope"), Email: owner.Email, Password: testPassword}},
		{"unknown email", identity.LoginInput{Tenant: tenant, Email: "nobody@example.com", Password: testPassword}},
		{"wrong password", identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: testPassword + "!"}},
		{"disabled user with the right password", identity.LoginInput{Tenant: tenant, Email: disabled.Email, Password: testPassword}},
		{"the right user in another tenant", identity.LoginInput{Tenant: e.mustTenant(t), Email: owner.Email, Password: testPassword}},
	}
	for _, tc := range tests {
		_, err := e.svc.Login(ctx, tc.in)
		require.ErrorIs(t, err, identity.ErrInvalidCredentials, tc.name)
		require.Equal(t, identity.ErrInvalidCredentials.Error(), err.Error(), "%s: nothing tells the cases apart", tc.name)
	}
}

func (e *env) mustTenant(t *testing.T) string {
	t.Helper()
	id, _ := e.newTenant(t)
	return id
}

// failLogins signs in n times with a wrong password and requires each to be
// refused as invalid credentials.
func failLogins(t *testing.T, e *env, tenant, email string, n int) {
	t.Helper()
	for i := range n {
		_, err := e.svc.Login(context.Background(), identity.LoginInput{Tenant: tenant, Email: email, Password: "wrong password " + email})
		require.ErrorIs(t, err, identity.ErrInvalidCredentials, "attempt %d", i+1)
	}
}

func requireLocked(t *testing.T, err error) *identity.LockedError {
	t.Helper()
	require.ErrorIs(t, err, identity.ErrLocked)
	var le *identity.LockedError
	require.True(t, errors.As(err, &le))
	require.Positive(t, le.RetryAfter)
	require.LessOrEqual(t, le.RetryAfter, identity.DefaultLockoutWindow)
	return le
}

func testLockout(t *testing.T, e *env) {
	tenant, owner := e.newTenant(t)
	failLogins(t, e, tenant, owner.Email, identity.DefaultMaxFailures)
	_, err := e.svc.Login(context.Background(), identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: testPassword})
	requireLocked(t, err)
	_, err = e.svc.Login(context.Background(), identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: "still wrong!!"})
	requireLocked(t, err)

	other := e.newUser(t, tenant, auth.RoleViewer)
	e.login(t, other) // the lock is per (tenant, email)
}

func testLockoutEnds(t *testing.T, e *env) {
	tenant, owner := e.newTenant(t)
	failLogins(t, e, tenant, owner.Email, identity.DefaultMaxFailures)
	_, err := e.svc.Login(context.Background(), identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: testPassword})
	le := requireLocked(t, err)

	e.fastForward(le.RetryAfter - time.Second)
	_, err = e.svc.Login(context.Background(), identity.LoginInput{Tenant: tenant, Email: owner.Email, Password: testPassword})
	requireLocked(t, err)
	e.fastForward(time.Second)
	e.login(t, owner)
}

func testLockoutUnknownEmail(t *testing.T, e *env) {
	tenant, _ := e.newTenant(t)
	failLogins(t, e, tenant, "ghost@example.com", identity.DefaultMaxFailures)
	_, err := e.svc.Login(context.Background(), identity.LoginInput{Tenant: tenant, Email: "ghost@example.com", Password: testPassword})
	requireLocked(t, err)

	ghostTenant := uniq("ghost")
	failLogins(t, e, ghostTenant, "a@example.com", identity.DefaultMaxFailures)
	_, err = e.svc.Login(context.Background(), identity.LoginInput{Tenant: ghostTenant, Email: "a@example.com", Password: testPassword})
	requireLocked(t, err)
}

func testSuccessClearsFailures(t *testing.T, e *env) {
	tenant, owner := e.newTenant(t)
	failLogins(t, e, tenant, owner.Email, identity.DefaultMaxFailures-1)
	e.login(t, owner)
	failLogins(t, e, tenant, owner.Email, identity.DefaultMaxFailures-1)
	e.login(t, owner)
}

// enableMFA enrols u and confirms with the current code; it returns the
// secret and moves the clock past that code's validity.
func enableMFA(t *testing.T, e *env, u identity.User) string {
	t.Helper()
	ctx := context.Background()
	enr, err := e.svc.EnrollTOTP(ctx, u.Tenant, u.ID, identity.Reauth{Password: testPassword})
	require.NoError(t, err)
	code, err := totp.GenerateCode(enr.Secret, e.clock.Now())
	require.NoError(t, err)
	require.NoError(t, e.svc.ConfirmTOTP(ctx, u.Tenant, u.ID, code))
	e.clock.Advance(2 * time.Minute)
	return enr.Secret
}

func testMFA(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAdmin)

	enr, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	require.NoError(t, err)
	require.NotEmpty(t, enr.Secret)
	require.True(t, strings.HasPrefix(enr.URL, "otpauth://totp/Infra%20Mind:"), enr.URL)
	require.Contains(t, enr.URL, "secret="+enr.Secret)
	e.login(t, u) // a pending enrolment does not require a code yet
	got, err := e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.False(t, got.MFAEnabled)

	confirmCode, err := totp.GenerateCode(enr.Secret, e.clock.Now())
	require.NoError(t, err)
	require.NoError(t, e.svc.ConfirmTOTP(ctx, tenant, u.ID, confirmCode))
	got, err = e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, got.MFAEnabled)

	in := identity.LoginInput{Tenant: tenant, Email: u.Email, Password: testPassword}
	_, err = e.svc.Login(ctx, in)
	require.ErrorIs(t, err, identity.ErrMFARequired)

	in.TOTPCode = confirmCode
	_, err = e.svc.Login(ctx, in)
	require.ErrorIs(t, err, identity.ErrInvalidMFACode, "the code used to confirm cannot sign in")

	e.clock.Advance(2 * time.Minute)
	in.TOTPCode, err = totp.GenerateCode(enr.Secret, e.clock.Now())
	require.NoError(t, err)
	s, err := e.svc.Login(ctx, in)
	require.NoError(t, err)
	require.True(t, s.User.MFAEnabled)
	_, err = e.svc.Login(ctx, in)
	require.ErrorIs(t, err, identity.ErrInvalidMFACode, "a code is accepted once")

	// One step of clock drift either way is accepted.
	e.clock.Advance(2 * time.Minute)
	in.TOTPCode, err = totp.GenerateCode(enr.Secret, e.clock.Now().Add(-30*time.Second))
	require.NoError(t, err)
	_, err = e.svc.Login(ctx, in)
	require.NoError(t, err)
	in.TOTPCode, err = totp.GenerateCode(enr.Secret, e.clock.Now().Add(-5*time.Minute))
	require.NoError(t, err)
	_, err = e.svc.Login(ctx, in)
	require.ErrorIs(t, err, identity.ErrInvalidMFACode, "a code from five minutes ago is refused")

	in.Password = "the wrong password"
	in.TOTPCode, err = totp.GenerateCode(enr.Secret, e.clock.Now())
	require.NoError(t, err)
	_, err = e.svc.Login(ctx, in)
	require.ErrorIs(t, err, identity.ErrInvalidCredentials, "a right code does not help a wrong password")
}

func testMFALockout(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	secret := enableMFA(t, e, u)

	in := identity.LoginInput{Tenant: tenant, Email: u.Email, Password: testPassword}
	for range identity.DefaultMaxFailures + 2 {
		_, err := e.svc.Login(ctx, in)
		require.ErrorIs(t, err, identity.ErrMFARequired, "the first step of a sign-in is not a failure")
	}
	valid, err := totp.GenerateCode(secret, e.clock.Now())
	require.NoError(t, err)
	wrong := "000000"
	if valid == wrong {
		wrong = "000001"
	}
	in.TOTPCode = wrong
	for i := range identity.DefaultMaxFailures {
		_, err := e.svc.Login(ctx, in)
		require.ErrorIs(t, err, identity.ErrInvalidMFACode, "attempt %d", i+1)
	}
	in.TOTPCode = valid
	_, err = e.svc.Login(ctx, in)
	requireLocked(t, err)
}

func testMFAConfirm(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	err := e.svc.ConfirmTOTP(ctx, tenant, u.ID, "123456")
	require.ErrorIs(t, err, identity.ErrConflict, "nothing to confirm")

	enr, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	require.NoError(t, err)
	valid, err := totp.GenerateCode(enr.Secret, e.clock.Now())
	require.NoError(t, err)
	wrong := "000000"
	if valid == wrong {
		wrong = "000001"
	}
	require.ErrorIs(t, e.svc.ConfirmTOTP(ctx, tenant, u.ID, wrong), identity.ErrInvalidMFACode)
	requireField(t, e.svc.ConfirmTOTP(ctx, tenant, u.ID, "12345"), "totp_code")
	got, err := e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.False(t, got.MFAEnabled, "a wrong code does not turn MFA on")

	// Another tenant cannot enrol or confirm this user.
	other := e.mustTenant(t)
	_, err = e.svc.EnrollTOTP(ctx, other, u.ID, identity.Reauth{Password: testPassword})
	require.ErrorIs(t, err, identity.ErrNotFound)
	require.ErrorIs(t, e.svc.ConfirmTOTP(ctx, other, u.ID, valid), identity.ErrNotFound)

	require.NoError(t, e.svc.ConfirmTOTP(ctx, tenant, u.ID, valid))
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Equal(t, enr.Secret, e.openTOTP(t, tenant, u.ID, stored.TOTPSecret))
	require.Empty(t, stored.TOTPPending)
	require.ErrorIs(t, e.svc.ConfirmTOTP(ctx, tenant, u.ID, valid), identity.ErrConflict, "confirmed: nothing pending")
}
