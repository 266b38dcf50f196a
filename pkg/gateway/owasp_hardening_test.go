package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/identity"
)

// testTOTPKeys is a new TOTP key set for one gateway under test: its users'
// TOTP secrets are sealed at rest, as in production.
func testTOTPKeys(t *testing.T) *identity.TOTPKeyRing {
	t.Helper()
	line, err := identity.NewTOTPKeyLine("test1")
	require.NoError(t, err)
	k, err := identity.ParseTOTPKeys([]byte(line))
	require.NoError(t, err)
	return identity.NewTOTPKeyRing(k)
}

// TestOWASPTOTPSecretsEncryptedAtRest: an authenticator enrolled through the
// API leaves no TOTP secret readable in the store (OWASP API2:2023, broken
// authentication: a copy of the user collection must not yield second
// factors). The pending and the confirmed secret are stored sealed, naming
// their key, and sign-in with a code still works.
func TestOWASPTOTPSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	const tenant, ct = "atrest", echo.MIMEApplicationJSON
	pw := owaspPassword()
	_, owner, _, err := e.ident.CreateTenant(ctx, tenant, "At rest", identity.NewUser{Email: "owner@atrest.test", Password: pw})
	require.NoError(t, err)
	bearer := owaspLogin(t, e, tenant, owner.Email, pw).AccessToken
	var probes int

	enrol := owaspDecode[map[string]string](t, owaspSend(t, e, http.MethodPost, "/v1/me/mfa/totp", bearer, ct,
		owaspJSON(t, map[string]string{"password": pw}), nil), http.StatusCreated)
	secret := enrol["secret"]
	require.NotEmpty(t, secret)
	stored, err := e.store.Users.Get(ctx, tenant, owner.ID)
	require.NoError(t, err)
	probes++
	require.True(t, strings.HasPrefix(stored.TOTPPending, "enc:v1:test1:"), "the pending secret is sealed: %q", stored.TOTPPending)
	require.NotContains(t, stored.TOTPPending, secret)

	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	r := owaspSend(t, e, http.MethodPost, "/v1/me/mfa/totp/confirm", bearer, ct, `{"code":"`+code+`"}`, nil)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	stored, err = e.store.Users.Get(ctx, tenant, owner.ID)
	require.NoError(t, err)
	probes++
	require.True(t, stored.MFAEnabled)
	require.True(t, strings.HasPrefix(stored.TOTPSecret, "enc:v1:test1:"), "the confirmed secret is sealed: %q", stored.TOTPSecret)
	require.NotContains(t, stored.TOTPSecret, secret)
	require.Empty(t, stored.TOTPPending)

	// The sealed secret still checks codes: a sign-in with the next code works.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	probes++
	r = owaspTryLogin(t, e, tenant, owner.Email, pw, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status, "a code is required now")
	r = owaspSend(t, e, http.MethodPost, "/v1/auth/login", "", ct,
		owaspJSON(t, map[string]string{"tenant": tenant, "email": owner.Email, "password": pw, "totp_code": next}), nil)
	probes++
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	t.Logf("OWASP API2 (TOTP secrets at rest): %d probes: the pending and the confirmed secret are stored sealed, and a code signs in", probes)
}
