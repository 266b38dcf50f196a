package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// estimateArgs is a small estimate any tenant role that starts computation
// may run: it shows whether the gateway accepts a token.
var estimateArgs = []string{"estimate", "inference", "--model", "llama-3.1-8b", "--gpu", "l4",
	"--input-tokens", "10", "--output-tokens", "10"}

func TestLoginAgainstARunningGateway(t *testing.T) {
	g := startPlatform(t)
	ctx := context.Background()
	const password = "correct horse battery staple"
	_, owner, _, err := g.P.Identity.CreateTenant(ctx, "acme", "Acme", identity.NewUser{Email: "owner@acme.example", Password: password})
	require.NoError(t, err)
	env := map[string]string{"IM_GATEWAY_URL": g.URL, "IM_PASSWORD": password}
	login := []string{"login", "--tenant", "acme", "--email", "owner@acme.example"}

	t.Run("password from IM_PASSWORD: the token works at the gateway", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, login...)
		require.Equal(t, 0, code, errOut)
		token := strings.TrimSpace(out)
		cl := g.verify(t, token)
		require.Equal(t, "acme", cl.Tenant)
		require.Equal(t, owner.ID, cl.Subject)
		require.Equal(t, []string{auth.RoleOwner}, cl.Roles)
		require.NotEmpty(t, cl.Session, "a signed-in token belongs to a session")

		code, out, errOut = run(t, ctx, map[string]string{"IM_GATEWAY_URL": g.URL, "IM_TOKEN": token}, estimateArgs...)
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		require.Contains(t, out, "feasible")
	})

	t.Run("password from stdin, line ending dropped", func(t *testing.T) {
		code, out, errOut := runWithStdin(t, ctx, map[string]string{"IM_GATEWAY_URL": g.URL}, password+"\r\n", login...)
		require.Equal(t, 0, code, errOut)
		require.Equal(t, "acme", g.verify(t, strings.TrimSpace(out)).Tenant)
	})

	t.Run("--json shows the refresh token and the user", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, append(login, "--json")...)
		require.Equal(t, 0, code, errOut)
		var got struct {
			AccessToken  string `json:"access_token"`
			TokenType    string `json:"token_type"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"refresh_token"`
			SessionID    string `json:"session_id"`
			User         struct {
				Email string `json:"email"`
				Role  string `json:"role"`
			} `json:"user"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		require.Equal(t, "Bearer", got.TokenType)
		require.InDelta(t, 15*60, got.ExpiresIn, 5, "the gateway's 15-minute access tokens")
		require.NotEmpty(t, got.RefreshToken)
		require.Equal(t, g.verify(t, got.AccessToken).Session, got.SessionID)
		require.Equal(t, "owner@acme.example", got.User.Email)
		require.Equal(t, auth.RoleOwner, got.User.Role)
		// The fields in the order the gateway sends them, indented, as before
		// the CLI used the generated types (whose fields are alphabetical).
		require.True(t, strings.HasPrefix(out, "{\n  \"access_token\": "), out)
		var order []string
		for _, key := range []string{"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in",
			"session_id", "user", "id", "tenant", "email", "role", "mfa_enabled", "disabled", "created_at"} {
			order = append(order, key)
			require.Containsf(t, out, `"`+key+`": `, "--json shows %s", key)
		}
		require.IsIncreasing(t, func() []int {
			at := make([]int, 0, len(order))
			for _, key := range order {
				at = append(at, strings.Index(out, `"`+key+`": `))
			}
			return at
		}(), out)
	})

	t.Run("a wrong password is refused", func(t *testing.T) {
		_, _, err := g.P.Identity.CreateUser(ctx, "acme", identity.NewUser{Email: "viewer@acme.example", Role: auth.RoleViewer, Password: password})
		require.NoError(t, err)
		code, out, errOut := run(t, ctx, map[string]string{"IM_GATEWAY_URL": g.URL, "IM_PASSWORD": "not the password"},
			"login", "--tenant", "acme", "--email", "viewer@acme.example")
		require.Equal(t, 1, code)
		require.Empty(t, out)
		require.Contains(t, errOut, "401")
		require.Contains(t, errOut, "The tenant, email or password is wrong.")
	})

	t.Run("an account with MFA needs --totp-code", func(t *testing.T) {
		u, _, err := g.P.Identity.CreateUser(ctx, "acme", identity.NewUser{Email: "mfa@acme.example", Role: auth.RoleAnalyst, Password: password})
		require.NoError(t, err)
		en, err := g.P.Identity.EnrollTOTP(ctx, "acme", u.ID, identity.Reauth{Password: password})
		require.NoError(t, err)
		now := time.Now()
		confirm, err := totp.GenerateCode(en.Secret, now)
		require.NoError(t, err)
		require.NoError(t, g.P.Identity.ConfirmTOTP(ctx, "acme", u.ID, confirm))
		mfaLogin := []string{"login", "--tenant", "acme", "--email", "mfa@acme.example"}

		code, out, errOut := run(t, ctx, env, mfaLogin...)
		require.Equal(t, 1, code)
		require.Empty(t, out)
		require.Contains(t, errOut, "--totp-code")

		// A code works once, so sign in with the next period's code, which
		// the gateway's one-period skew accepts and confirming did not use.
		next, err := totp.GenerateCode(en.Secret, now.Add(30*time.Second))
		require.NoError(t, err)
		code, out, errOut = run(t, ctx, env, append(mfaLogin, "--totp-code", next)...)
		require.Equal(t, 0, code, errOut)
		require.Equal(t, []string{auth.RoleAnalyst}, g.verify(t, strings.TrimSpace(out)).Roles)
	})
}

func TestLoginCommandLineMistakes(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		want  string
	}{
		{name: "no tenant", env: map[string]string{"IM_PASSWORD": "x"}, args: []string{"login", "--email", "a@b.example"}, want: "--tenant is required"},
		{name: "no email", env: map[string]string{"IM_PASSWORD": "x"}, args: []string{"login", "--tenant", "acme"}, want: "--email is required"},
		{name: "no password", args: []string{"login", "--tenant", "acme", "--email", "a@b.example"}, want: "no password: set IM_PASSWORD or pipe it on stdin"},
		{name: "empty line on stdin", stdin: "\n", args: []string{"login", "--tenant", "acme", "--email", "a@b.example"}, want: "no password"},
		{name: "password is no flag", args: []string{"login", "--tenant", "acme", "--email", "a@b.example", "--password", "x"}, want: "flag provided but not defined: -password"},
		{name: "bad URL", env: map[string]string{"IM_PASSWORD": "x"}, args: []string{"login", "--url", "localhost", "--tenant", "acme", "--email", "a@b.example"}, want: "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runWithStdin(t, context.Background(), tt.env, tt.stdin, tt.args...)
			require.Equal(t, 2, code)
			require.Empty(t, out)
			require.Contains(t, errOut, tt.want)
		})
	}
}
