package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// TestAccountRecovery covers what a user does to their own credentials
// (replace or turn off the second factor, change the password) and what an
// owner or admin does for a user who lost theirs.
func TestAccountRecovery(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"MFA on: replacing the authenticator needs a current, unused code", testReenrollNeedsCode},
		{"MFA off: enrolling needs the password, not a code", testEnrollWithoutMFA},
		{"MFA off: an access token alone cannot enrol; wrong passwords lock", testFirstEnrollNeedsPassword},
		{"turning MFA off with a current code", testDisableTOTPWithCode},
		{"turning MFA off with the password, under the sign-in lockout", testDisableTOTPWithPassword},
		{"turning MFA off: the proof is checked before anything changes", testDisableTOTPRefusals},
		{"an admin resets a lost authenticator and the user's sessions", testResetMFA},
		{"changing the password keeps this session and ends the others", testChangePassword},
		{"a wrong current password counts towards the sign-in lockout", testChangePasswordLockout},
		{"a new password follows the policy; refusals change nothing", testChangePasswordRefusals},
		{"an admin resets a password: generated or given, sessions and lockout cleared", testResetPassword},
		{"a commonly breached password is refused wherever one is set", testBreachedPasswordRefused},
		{"passwords are compared in NFKC form; one stored as typed still signs in, once rehashed", testPasswordNormalised},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFakeEnv(t))
		})
	}
}

// codeAt is secret's code at the service's time plus offset.
func codeAt(t *testing.T, e *env, secret string, offset time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, e.clock.Now().Add(offset))
	require.NoError(t, err)
	return code
}

// notCode returns six digits that differ from every code valid now.
func notCode(t *testing.T, e *env, secret string) string {
	t.Helper()
	valid := map[string]bool{}
	for _, off := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		valid[codeAt(t, e, secret, off)] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// signIn signs u in with password and, when secret is set, a fresh code.
func signIn(t *testing.T, e *env, u identity.User, password, secret string) (identity.Session, error) {
	t.Helper()
	in := identity.LoginInput{Tenant: u.Tenant, Email: u.Email, Password: password}
	if secret != "" {
		in.TOTPCode = codeAt(t, e, secret, 0)
	}
	return e.svc.Login(context.Background(), in)
}

func testReenrollNeedsCode(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	oldSecret := enableMFA(t, e, u)

	// An access token alone (no code) cannot replace the authenticator,
	// nor can the password: the authenticator in use is the proof asked for.
	_, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{})
	require.ErrorIs(t, err, identity.ErrMFARequired)
	_, err = e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	require.ErrorIs(t, err, identity.ErrMFARequired)
	requireField(t, func() error {
		_, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Code: "12345"})
		return err
	}(), "code")

	// A wrong code is refused and stores nothing; it counts towards the
	// account's lockout (below), and the right code clears the count.
	wrong := notCode(t, e, oldSecret)
	_, err = e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Code: wrong})
	require.ErrorIs(t, err, identity.ErrInvalidMFACode)
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Empty(t, stored.TOTPPending, "a refused re-enrolment stores nothing")

	// The current code of the authenticator in use starts a new enrolment;
	// until it is confirmed the old authenticator stays the one sign-in
	// asks for.
	code := codeAt(t, e, oldSecret, 0)
	enr, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Code: code})
	require.NoError(t, err)
	require.NotEqual(t, oldSecret, enr.Secret)
	stored, err = e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, stored.MFAEnabled)
	require.Equal(t, oldSecret, e.openTOTP(t, tenant, u.ID, stored.TOTPSecret))
	require.Equal(t, enr.Secret, e.openTOTP(t, tenant, u.ID, stored.TOTPPending))

	// That code was used up: it neither signs in nor enrols again.
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: testPassword, TOTPCode: code})
	require.ErrorIs(t, err, identity.ErrInvalidMFACode, "the re-enrolment's code is not replayable at sign-in")
	_, err = e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Code: code})
	require.ErrorIs(t, err, identity.ErrInvalidMFACode, "nor for another re-enrolment")
	// The right code cleared the count; the two replays since are counted,
	// below the lockout.
	e.clock.Advance(time.Minute)
	_, err = signIn(t, e, u, testPassword, oldSecret)
	require.NoError(t, err)

	// Confirming switches to the new authenticator.
	e.clock.Advance(time.Minute)
	require.NoError(t, e.svc.ConfirmTOTP(ctx, tenant, u.ID, codeAt(t, e, enr.Secret, 0)))
	e.clock.Advance(time.Minute)
	_, err = signIn(t, e, u, testPassword, oldSecret)
	require.ErrorIs(t, err, identity.ErrInvalidMFACode, "the replaced authenticator no longer signs in")
	e.clock.Advance(time.Minute)
	_, err = signIn(t, e, u, testPassword, enr.Secret)
	require.NoError(t, err)

	// Another tenant cannot replace this user's authenticator.
	_, err = e.svc.EnrollTOTP(ctx, e.mustTenant(t), u.ID, identity.Reauth{Code: codeAt(t, e, enr.Secret, 30*time.Second)})
	require.ErrorIs(t, err, identity.ErrNotFound)
}

func testEnrollWithoutMFA(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	tests := []struct {
		name  string
		proof identity.Reauth
	}{
		{"the password", identity.Reauth{Password: testPassword}},
		{"the password and a code, which there is nothing to check against", identity.Reauth{Password: testPassword, Code: "123456"}},
	}
	for _, tc := range tests {
		enr, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, tc.proof)
		require.NoError(t, err, tc.name)
		require.NotEmpty(t, enr.Secret, tc.name)
	}
	requireField(t, func() error {
		_, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword, Code: "abcdef"})
		return err
	}(), "code")
}

// testFirstEnrollNeedsPassword: an access token alone cannot enrol the
// first authenticator (a thief holding one would lock the owner out): the
// password is required, and wrong ones lock the account like failed
// sign-ins.
func testFirstEnrollNeedsPassword(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)

	for _, proof := range []identity.Reauth{{}, {Code: "123456"}} {
		requireField(t, func() error { _, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, proof); return err }(), "password")
	}
	for range identity.DefaultMaxFailures {
		_, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: "a guess at the password"})
		require.ErrorIs(t, err, identity.ErrInvalidCredentials)
	}
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Empty(t, stored.TOTPPending, "a refused enrolment stores nothing")
	// Locked now: even the right password is refused, here and at sign-in.
	_, err = e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	requireLocked(t, err)
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: testPassword})
	requireLocked(t, err)

	// Once the lockout ends, the password enrols.
	e.fastForward(identity.DefaultLockoutWindow)
	enr, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	require.NoError(t, err)
	require.NotEmpty(t, enr.Secret)
}

func testDisableTOTPWithCode(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	secret := enableMFA(t, e, u)
	// A pending re-enrolment goes with the second factor.
	_, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Code: codeAt(t, e, secret, 0)})
	require.NoError(t, err)

	// Wrong codes count towards the sign-in lockout, so a stolen access
	// token cannot guess them: after five even the right code is refused,
	// here and at sign-in.
	wrong := notCode(t, e, secret)
	for range identity.DefaultMaxFailures {
		require.ErrorIs(t, e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Code: wrong}), identity.ErrInvalidMFACode)
	}
	requireLocked(t, e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Code: codeAt(t, e, secret, 0)}))
	_, err = signIn(t, e, u, testPassword, secret)
	requireLocked(t, err)
	got, err := e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, got.MFAEnabled, "a wrong code changes nothing")
	e.fastForward(identity.DefaultLockoutWindow)

	code := codeAt(t, e, secret, 30*time.Second)
	require.NoError(t, e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Code: code}))
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.False(t, stored.MFAEnabled)
	require.Empty(t, stored.TOTPSecret, "the secret is gone, not just unused")
	require.Empty(t, stored.TOTPPending)

	// Sign-in needs the password alone again (the lock has ended and the
	// right code cleared the count).
	s := e.login(t, u)
	require.False(t, s.User.MFAEnabled)
	// Nothing is left to turn off.
	err = e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Code: codeAt(t, e, secret, 0)})
	require.ErrorIs(t, err, identity.ErrConflict)
}

func testDisableTOTPWithPassword(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAdmin)
	secret := enableMFA(t, e, u)

	// Wrong passwords here and at sign-in share one count.
	for range identity.DefaultMaxFailures - 1 {
		err := e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Password: "not the password at all"})
		require.ErrorIs(t, err, identity.ErrInvalidCredentials)
	}
	failLogins(t, e, tenant, u.Email, 1)
	requireLocked(t, e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword}))
	_, err := signIn(t, e, u, testPassword, secret)
	requireLocked(t, err)
	got, err := e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, got.MFAEnabled, "a locked account keeps its second factor")

	// Once the lock ends, the right password turns MFA off.
	e.fastForward(identity.DefaultLockoutWindow)
	require.NoError(t, e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword}))
	s := e.login(t, u)
	require.False(t, s.User.MFAEnabled)
}

func testDisableTOTPRefusals(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	secret := enableMFA(t, e, u)
	code := codeAt(t, e, secret, 0)
	tests := []struct {
		name  string
		proof identity.Reauth
		field string
	}{
		{"no proof", identity.Reauth{}, "code"},
		{"both proofs", identity.Reauth{Code: code, Password: testPassword}, "password"},
		{"five digits", identity.Reauth{Code: "12345"}, "code"},
		{"letters", identity.Reauth{Code: "abcdef"}, "code"},
		{"a password over the cap", identity.Reauth{Password: strings.Repeat("p", 129)}, "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireField(t, e.svc.DisableTOTP(ctx, tenant, u.ID, tc.proof), tc.field)
		})
	}
	require.ErrorIs(t, e.svc.DisableTOTP(ctx, e.mustTenant(t), u.ID, identity.Reauth{Code: code}), identity.ErrNotFound)
	got, err := e.svc.GetUser(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, got.MFAEnabled)
	// The refused requests used up no code.
	require.NoError(t, e.svc.DisableTOTP(ctx, tenant, u.ID, identity.Reauth{Code: code}))
}

func testResetMFA(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	secret := enableMFA(t, e, u)
	s, err := signIn(t, e, u, testPassword, secret)
	require.NoError(t, err)
	bystander := e.newUser(t, tenant, auth.RoleAnalyst)
	bs := e.login(t, bystander)

	require.ErrorIs(t, e.svc.ResetMFA(ctx, e.mustTenant(t), u.ID), identity.ErrNotFound, "another tenant's admin")
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)))

	require.NoError(t, e.svc.ResetMFA(ctx, tenant, u.ID))
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.False(t, stored.MFAEnabled)
	require.Empty(t, stored.TOTPSecret)
	// Whoever held the user's session is out: access and refresh token.
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), identity.ErrRevoked)
	_, err = e.svc.Refresh(ctx, s.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, bs.AccessToken)), "other users keep their sessions")

	// The user signs in with the password alone and may enrol again.
	again := e.login(t, u)
	require.False(t, again.User.MFAEnabled)
	_, err = e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	require.NoError(t, err)
	// Resetting a user without MFA is allowed (and still signs them out).
	require.NoError(t, e.svc.ResetMFA(ctx, tenant, u.ID))
	stored, err = e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.Empty(t, stored.TOTPPending, "a pending enrolment is reset too")
}

func testChangePassword(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	here := e.login(t, u)
	elsewhere := e.login(t, u)
	const next = "a brand new passphrase"

	require.NoError(t, e.svc.ChangePassword(ctx, tenant, u.ID, here.SessionID, testPassword, next))

	// This session goes on; the other one is out, access and refresh token.
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, here.AccessToken)))
	refreshed, err := e.svc.Refresh(ctx, here.RefreshToken)
	require.NoError(t, err)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, refreshed.AccessToken)))
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, elsewhere.AccessToken)), identity.ErrRevoked)
	_, err = e.svc.Refresh(ctx, elsewhere.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)

	// The old password is refused, the new one signs in, stored as argon2id.
	_, err = signIn(t, e, u, testPassword, "")
	require.ErrorIs(t, err, identity.ErrInvalidCredentials)
	_, err = signIn(t, e, u, next, "")
	require.NoError(t, err)
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$"), stored.PasswordHash)

	// Without a session to keep, every session ends.
	s2, err := signIn(t, e, u, next, "")
	require.NoError(t, err)
	require.NoError(t, e.svc.ChangePassword(ctx, tenant, u.ID, "", next, testPassword))
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s2.AccessToken)), identity.ErrRevoked)
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, refreshed.AccessToken)), identity.ErrRevoked)
}

func testChangePasswordLockout(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	s := e.login(t, u)
	for i := range identity.DefaultMaxFailures {
		err := e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, "a guess at the password", "the thief's new password")
		require.ErrorIs(t, err, identity.ErrInvalidCredentials, "attempt %d", i+1)
	}
	// Locked: the right password is refused here and at sign-in.
	requireLocked(t, e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, testPassword, "another new password"))
	_, err := signIn(t, e, u, testPassword, "")
	requireLocked(t, err)

	e.fastForward(identity.DefaultLockoutWindow)
	require.NoError(t, e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, testPassword, "another new password"))
	// A right password clears the count, as a sign-in does.
	failLogins(t, e, tenant, u.Email, identity.DefaultMaxFailures-1)
	require.NoError(t, e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, "another new password", testPassword))
	failLogins(t, e, tenant, u.Email, identity.DefaultMaxFailures-1)
	e.login(t, u)
}

func testChangePasswordRefusals(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	s := e.login(t, u)
	tests := []struct {
		name, current, next, field string
	}{
		{"no current password", "", "a brand new passphrase", "current_password"},
		{"current password over the cap", strings.Repeat("c", 129), "a brand new passphrase", "current_password"},
		{"no new password", testPassword, "", "new_password"},
		{"new password too short", testPassword, "elevenchars", "new_password"},
		{"new password too long", testPassword, strings.Repeat("n", 129), "new_password"},
		{"new password not UTF-8", testPassword, "twelve bytes\xff\xfe", "new_password"},
	}
	// More refusals than the lockout allows failures: none is counted, and
	// none checks the password.
	for range 2 {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				requireField(t, e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, tc.current, tc.next), tc.field)
			})
		}
	}
	_, err := signIn(t, e, u, testPassword, "")
	require.NoError(t, err, "the refusals did not lock the account")
	requireField(t, e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, testPassword, testPassword), "new_password")
	err = e.svc.ChangePassword(ctx, e.mustTenant(t), u.ID, "", testPassword, "a brand new passphrase")
	require.ErrorIs(t, err, identity.ErrNotFound)
	// Twelve characters is enough, counted as characters, not bytes.
	require.NoError(t, e.svc.ChangePassword(ctx, tenant, u.ID, s.SessionID, testPassword, "ÿÿÿÿÿÿÿÿÿÿÿÿ"))
	_, err = signIn(t, e, u, "ÿÿÿÿÿÿÿÿÿÿÿÿ", "")
	require.NoError(t, err)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)))
}

func testResetPassword(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	s := e.login(t, u)
	// The user forgot the password and locked the account guessing.
	failLogins(t, e, tenant, u.Email, identity.DefaultMaxFailures)

	requireField(t, func() error { _, err := e.svc.ResetPassword(ctx, tenant, u.ID, "short"); return err }(), "new_password")
	_, err := e.svc.ResetPassword(ctx, e.mustTenant(t), u.ID, "")
	require.ErrorIs(t, err, identity.ErrNotFound)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), "refused resets change nothing")

	pw, err := e.svc.ResetPassword(ctx, tenant, u.ID, "")
	require.NoError(t, err)
	require.Len(t, pw, 20, "a generated password")
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), identity.ErrRevoked)
	_, err = e.svc.Refresh(ctx, s.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)
	// The lockout is cleared: the new password works at once; the old fails.
	_, err = signIn(t, e, u, pw, "")
	require.NoError(t, err)
	_, err = signIn(t, e, u, testPassword, "")
	require.ErrorIs(t, err, identity.ErrInvalidCredentials)

	// A given password is used as it is and not returned.
	const chosen = "chosen by the admin"
	got, err := e.svc.ResetPassword(ctx, tenant, u.ID, chosen)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = signIn(t, e, u, chosen, "")
	require.NoError(t, err)
}

func testBreachedPasswordRefused(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleViewer)
	const breached = "Qwerty123456" // on the list in lower case
	const reason = "is in a list of commonly breached passwords"
	requireReason := func(t *testing.T, err error, field string) {
		t.Helper()
		requireField(t, err, field)
		require.EqualError(t, err, field+": "+reason)
	}

	_, _, err := e.svc.CreateUser(ctx, tenant, identity.NewUser{Email: uniq("u") + "@example.com", Role: auth.RoleViewer, Password: breached})
	requireReason(t, err, "password")
	_, _, _, err = e.svc.CreateTenant(ctx, uniq("t"), "T", identity.NewUser{Email: "o@example.com", Password: "ＱＷＥＲＴＹ１２３４５６"})
	requireReason(t, err, "owner.password")
	requireReason(t, e.svc.ChangePassword(ctx, tenant, u.ID, "", testPassword, breached), "new_password")
	_, err = e.svc.ResetPassword(ctx, tenant, u.ID, breached)
	requireReason(t, err, "new_password")
	// Nothing changed: the password in use still signs in.
	e.login(t, u)
}

func testPasswordNormalised(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)

	// Set as "ﬁ" (a ligature) and an "e" with a combining accent; signs in
	// typed with plain letters and a precomposed "é", and the other way.
	const typed, other = "\ufb01ne cafe\u0301 passphrase", "fine caf\u00e9 passphrase"
	u, _, err := e.svc.CreateUser(ctx, tenant, identity.NewUser{Email: uniq("u") + "@example.com", Role: auth.RoleViewer, Password: typed})
	require.NoError(t, err)
	for _, pw := range []string{typed, other} {
		_, err := e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: pw})
		require.NoError(t, err)
	}
	requireField(t, e.svc.ChangePassword(ctx, tenant, u.ID, "", other, typed), "new_password")

	// A password stored before normalisation was hashed as typed: it still
	// signs in as typed, and that sign-in stores the normalised form's hash,
	// so from then on any form of it signs in.
	legacy, err := argon2id.CreateHash(typed, argon2id.DefaultParams)
	require.NoError(t, err)
	_, err = e.st.Users.SetPassword(ctx, tenant, u.ID, legacy)
	require.NoError(t, err)
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: other})
	require.ErrorIs(t, err, identity.ErrInvalidCredentials, "the hash is of the typed form only")
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: typed})
	require.NoError(t, err)
	stored, err := e.st.Users.Get(ctx, tenant, u.ID)
	require.NoError(t, err)
	require.NotEqual(t, legacy, stored.PasswordHash, "rehashed")
	ok, err := argon2id.ComparePasswordAndHash(other, stored.PasswordHash)
	require.NoError(t, err)
	require.True(t, ok, "the new hash is of the normalised form")
	for _, pw := range []string{typed, other} {
		_, err := e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: pw})
		require.NoError(t, err)
	}
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: tenant, Email: u.Email, Password: "fine cafe passphrase"})
	require.ErrorIs(t, err, identity.ErrInvalidCredentials, "an accent is not dropped")
}
