package identity_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

func TestTokens(t *testing.T) {
	st := startStore(t)
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"refresh rotates within the session", testRefreshRotates},
		{"reusing a rotated refresh token revokes the whole family", testRefreshReuse},
		{"two refreshes racing with one token: one wins, the other is reuse", testRefreshRace},
		{"refresh carries the user's current role", testRefreshCurrentRole},
		{"refresh is refused after the session's absolute lifetime", testRefreshExpires},
		{"malformed, unknown and disabled-user refresh tokens are invalid", testRefreshInvalid},
		{"logout revokes the token and its session", testLogout},
		{"revoking a user's sessions kills access and refresh tokens", testRevokeUserSessions},
		{"a revocation check fails closed when Redis is down", testCheckRevokedRedisDown},
		{"a sign-in in the same second as a revocation keeps its tokens", testSignInSameSecondAsRevocation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newEnv(t, st))
		})
	}
}

func testRefreshRotates(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, owner := e.newTenant(t)
	s1 := e.login(t, owner)
	s2, err := e.svc.Refresh(ctx, s1.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, s1.SessionID, s2.SessionID)
	require.NotEqual(t, s1.RefreshToken, s2.RefreshToken)
	require.NotEqual(t, s1.TokenID, s2.TokenID)
	require.Equal(t, s1.RefreshExpiresAt, s2.RefreshExpiresAt, "rotation does not extend the session")
	cl := e.claims(t, s2.AccessToken)
	require.Equal(t, owner.ID, cl.Subject)
	require.Equal(t, tenant, cl.Tenant)
	require.Equal(t, s1.SessionID, cl.Session)
	require.NoError(t, e.svc.CheckRevoked(ctx, cl))

	s3, err := e.svc.Refresh(ctx, s2.RefreshToken)
	require.NoError(t, err, "the newest token of the family rotates again")
	require.Equal(t, s1.SessionID, s3.SessionID)
}

func testRefreshReuse(t *testing.T, e *env) {
	ctx := context.Background()
	_, owner := e.newTenant(t)
	s1 := e.login(t, owner)
	other := e.login(t, owner) // another device: another family
	s2, err := e.svc.Refresh(ctx, s1.RefreshToken)
	require.NoError(t, err)

	_, err = e.svc.Refresh(ctx, s1.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshReused)

	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s2.AccessToken)), identity.ErrRevoked,
		"the family's newest access token is revoked at once")
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s1.AccessToken)), identity.ErrRevoked)
	_, err = e.svc.Refresh(ctx, s2.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid, "the family's newest refresh token is dead too")
	_, err = e.svc.Refresh(ctx, s1.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshReused)

	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, other.AccessToken)), "another session is untouched")
	_, err = e.svc.Refresh(ctx, other.RefreshToken)
	require.NoError(t, err)
}

// testRefreshRace: concurrent uses of one refresh token are reuse, so the
// family is revoked; at most one caller got a new token first, and that
// token is dead too.
func testRefreshRace(t *testing.T, e *env) {
	ctx := context.Background()
	_, owner := e.newTenant(t)
	s := e.login(t, owner)
	const n = 4
	type result struct {
		s   identity.Session
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			got, err := e.svc.Refresh(ctx, s.RefreshToken)
			results <- result{got, err}
		}()
	}
	wins, reuses := 0, 0
	var won identity.Session
	for range n {
		r := <-results
		switch {
		case r.err == nil:
			wins++
			won = r.s
		case errors.Is(r.err, identity.ErrRefreshReused):
			reuses++
		default:
			// The winner lost the race against the revocation.
			require.ErrorIs(t, r.err, identity.ErrRefreshInvalid)
		}
	}
	require.LessOrEqual(t, wins, 1)
	require.Equal(t, n-1, reuses, "every caller but the first to use the token sees reuse")
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), identity.ErrRevoked)
	if wins == 1 {
		_, err := e.svc.Refresh(ctx, won.RefreshToken)
		require.ErrorIs(t, err, identity.ErrRefreshInvalid)
	}
}

func testRefreshCurrentRole(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAdmin)
	s := e.login(t, u)
	_, err := e.svc.SetRole(ctx, tenant, u.ID, auth.RoleViewer)
	require.NoError(t, err)
	require.Equal(t, []string{auth.RoleAdmin}, e.claims(t, s.AccessToken).Roles, "an issued token names the role it was issued with")
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), identity.ErrRevoked,
		"a role change revokes the tokens naming the old role")
	// Tokens carry their issue time in whole seconds (RFC 7519 NumericDate)
	// and the signer reads the wall clock: wait for the next second so the
	// refreshed token is issued after the change, as a client's refresh is.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	s2, err := e.svc.Refresh(ctx, s.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, []string{auth.RoleViewer}, e.claims(t, s2.AccessToken).Roles)
	require.Equal(t, auth.RoleViewer, s2.User.Role)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, s2.AccessToken)), "the refreshed token with the new role works")
}

func testRefreshExpires(t *testing.T, e *env) {
	ctx := context.Background()
	_, owner := e.newTenant(t)
	s := e.login(t, owner)
	e.clock.Advance(identity.DefaultRefreshTTL - time.Minute)
	s2, err := e.svc.Refresh(ctx, s.RefreshToken)
	require.NoError(t, err, "a minute before the end the session still refreshes")
	e.clock.Advance(2 * time.Minute)
	_, err = e.svc.Refresh(ctx, s2.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)
}

func testRefreshInvalid(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	for _, tok := range []string{"", "imr_", "imr_short", "imk_abc_def", "imr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		_, err := e.svc.Refresh(ctx, tok)
		require.ErrorIs(t, err, identity.ErrRefreshInvalid, "token %q", tok)
	}
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	s := e.login(t, u)
	require.NoError(t, e.svc.DisableUser(ctx, tenant, u.ID))
	_, err := e.svc.Refresh(ctx, s.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)
}

func testLogout(t *testing.T, e *env) {
	ctx := context.Background()
	_, owner := e.newTenant(t)
	s := e.login(t, owner)
	other := e.login(t, owner)
	cl := e.claims(t, s.AccessToken)
	require.NoError(t, e.svc.Logout(ctx, cl))

	require.ErrorIs(t, e.svc.CheckRevoked(ctx, cl), identity.ErrRevoked)
	_, err := e.svc.Refresh(ctx, s.RefreshToken)
	require.ErrorIs(t, err, identity.ErrRefreshInvalid)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, other.AccessToken)), "signing out one device keeps the others")

	// The revocation lasts as long as the token could be accepted.
	ttl, err := e.rdb.TTL(ctx, "auth:revoked:jti:"+cl.ID).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, identity.DefaultAccessTTL-time.Minute)
	require.LessOrEqual(t, ttl, identity.DefaultAccessTTL+time.Minute)

	// A token without a session (a development token) is revoked by its jti.
	dev := &auth.Claims{RegisteredClaims: jwt.RegisteredClaims{ID: uniq("dev-jti"), Subject: "dev",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)), IssuedAt: jwt.NewNumericDate(time.Now())}, Tenant: "acme"}
	require.NoError(t, e.svc.CheckRevoked(ctx, dev))
	require.NoError(t, e.svc.Logout(ctx, dev))
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, dev), identity.ErrRevoked)
}

func testRevokeUserSessions(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, owner := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	a, b := e.login(t, u), e.login(t, u)
	bystander := e.login(t, owner)

	other := e.mustTenant(t)
	require.ErrorIs(t, e.svc.RevokeUserSessions(ctx, other, u.ID), identity.ErrNotFound)
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, a.AccessToken)), "another tenant revoked nothing")

	require.NoError(t, e.svc.RevokeUserSessions(ctx, tenant, u.ID))
	for _, s := range []identity.Session{a, b} {
		require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, s.AccessToken)), identity.ErrRevoked)
		_, err := e.svc.Refresh(ctx, s.RefreshToken)
		require.ErrorIs(t, err, identity.ErrRefreshInvalid)
	}
	require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, bystander.AccessToken)))

	// The subject entry covers tokens issued up to and including the
	// revocation's second, whatever their session, and none issued later.
	v, err := e.rdb.Get(ctx, "auth:revoked:sub:"+tenant+":"+u.ID).Result()
	require.NoError(t, err)
	at, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err)
	cl := &auth.Claims{RegisteredClaims: jwt.RegisteredClaims{ID: uniq("jti"), Subject: u.ID,
		IssuedAt: jwt.NewNumericDate(time.Unix(at, 0))}, Tenant: tenant}
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, cl), identity.ErrRevoked)
	cl.IssuedAt = jwt.NewNumericDate(time.Unix(at+1, 0))
	require.NoError(t, e.svc.CheckRevoked(ctx, cl))
	cl.Session = uniq("a-session-open-before")
	cl.IssuedAt = jwt.NewNumericDate(time.Unix(at-1, 0))
	require.ErrorIs(t, e.svc.CheckRevoked(ctx, cl), identity.ErrRevoked)

	// Signing in again starts a session that refreshes.
	c := e.login(t, u)
	_, err = e.svc.Refresh(ctx, c.RefreshToken)
	require.NoError(t, err)
}

func testCheckRevokedRedisDown(t *testing.T, e *env) {
	ctx := context.Background()
	_, owner := e.newTenant(t)
	s := e.login(t, owner)
	cl := e.claims(t, s.AccessToken)
	e.mr.Close()
	err := e.svc.CheckRevoked(ctx, cl)
	require.Error(t, err)
	require.NotErrorIs(t, err, identity.ErrRevoked, "an outage is not a revocation: the gateway answers 503")
	_, err = e.svc.Login(ctx, identity.LoginInput{Tenant: owner.Tenant, Email: owner.Email, Password: testPassword})
	require.Error(t, err, "no sign-in without the lockout counter")
	require.NotErrorIs(t, err, identity.ErrInvalidCredentials)
}

// testSignInSameSecondAsRevocation: "sign out everywhere" followed by a
// fresh sign-in within the same second (token issue times are whole
// seconds) revokes the old sessions' tokens and not the new one's, which
// is issued from the next second.
func testSignInSameSecondAsRevocation(t *testing.T, e *env) {
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)
	for attempt := range 5 {
		before := e.login(t, u)
		// Start at the top of a second, so the revocation and the sign-in
		// (one argon2id hash, tens of milliseconds) fit in it.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		require.NoError(t, e.svc.RevokeUserSessions(ctx, tenant, u.ID))
		after := e.login(t, u)
		done := time.Now().Unix()
		v, err := e.rdb.Get(ctx, "auth:revoked:sub:"+tenant+":"+u.ID).Result()
		require.NoError(t, err)
		at, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		if done != at {
			t.Logf("attempt %d: the sign-in ended in the next second; again", attempt)
			continue
		}
		require.ErrorIs(t, e.svc.CheckRevoked(ctx, e.claims(t, before.AccessToken)), identity.ErrRevoked)
		fresh := e.claims(t, after.AccessToken)
		require.Equal(t, at+1, fresh.IssuedAt.Unix(), "issued from the second after the revocation")
		require.NoError(t, e.svc.CheckRevoked(ctx, fresh), "the sign-in after the revocation, in its second, is not revoked")
		refreshed, err := e.svc.Refresh(ctx, after.RefreshToken)
		require.NoError(t, err)
		require.NoError(t, e.svc.CheckRevoked(ctx, e.claims(t, refreshed.AccessToken)))
		return
	}
	t.Fatal("no sign-in ended in the revocation's second in 5 attempts")
}
