package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// TestOWASPAPI3MassAssignmentIdentityRoutes is TestOWASPAPI3MassAssignment
// for the routes that sign in and manage people, keys and tenants: an
// otherwise valid body plus one server-set field answers 400 naming it, and
// creates or changes nothing; the same body without the field is accepted.
// The fields a route legitimately takes (tenant at sign-in, role for users
// and keys, id and owner for a new tenant) are not probed.
func TestOWASPAPI3MassAssignmentIdentityRoutes(t *testing.T) {
	t.Parallel()
	e := newFakeIdentityEnv(t, Config{Limits: Limits{AuthRequests: 1000}})
	ctx := context.Background()
	const tenant = "acme-mass-id"
	const password = "correct horse battery staple"
	_, _, _, err := e.ident.CreateTenant(ctx, tenant, "Acme", identity.NewUser{Email: "owner@acme.test", Password: password})
	require.NoError(t, err)
	sess, err := e.ident.Login(ctx, identity.LoginInput{Tenant: tenant, Email: "owner@acme.test", Password: password})
	require.NoError(t, err)
	analyst, _, err := e.ident.CreateUser(ctx, tenant, identity.NewUser{Email: "analyst@acme.test", Role: auth.RoleAnalyst})
	require.NoError(t, err)
	_, opPassword, err := e.ident.CreateOperator(ctx, identity.NewUser{Email: "op@platform.test"})
	require.NoError(t, err)
	op, err := e.ident.Login(ctx, identity.LoginInput{Tenant: auth.PlatformTenant, Email: "op@platform.test", Password: opPassword})
	require.NoError(t, err)

	withField := func(body, field string) string {
		v, err := json.Marshal(field + "-from-client")
		require.NoError(t, err)
		return `{"` + field + `":` + string(v) + `,` + strings.TrimPrefix(body, "{")
	}
	// The refresh probes and the control share one refresh token: the
	// control succeeding proves no refused probe used it.
	routes := []struct {
		name, method, route, path, token, body string
		accepted                               int
	}{
		{"sign-in", http.MethodPost, "/v1/auth/login", "/v1/auth/login", "",
			`{"tenant":"` + tenant + `","email":"owner@acme.test","password":"` + password + `"}`, http.StatusOK},
		{"refresh", http.MethodPost, "/v1/auth/refresh", "/v1/auth/refresh", "",
			`{"refresh_token":"` + sess.RefreshToken + `"}`, http.StatusOK},
		{"new user", http.MethodPost, "/v1/users", "/v1/users", sess.AccessToken,
			`{"email":"new@acme.test","role":"viewer"}`, http.StatusCreated},
		{"user change", http.MethodPatch, "/v1/users/:id", "/v1/users/" + analyst.ID, sess.AccessToken,
			`{"role":"viewer"}`, http.StatusOK},
		{"new API key", http.MethodPost, "/v1/api-keys", "/v1/api-keys", sess.AccessToken,
			`{"name":"ci","role":"viewer"}`, http.StatusCreated},
		{"new tenant", http.MethodPost, "/v1/tenants", "/v1/tenants", op.AccessToken,
			`{"id":"globex-mass","name":"Globex","owner":{"email":"boss@globex.test"}}`, http.StatusCreated},
		{"second factor confirmation", http.MethodPost, "/v1/me/mfa/totp/confirm", "/v1/me/mfa/totp/confirm", sess.AccessToken,
			`{"code":"123456"}`, 0}, // no control: a valid code needs an enrolled app
	}
	call := func(t *testing.T, method, path, token, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}

	var probes atomic.Int64
	t.Run("probes", func(t *testing.T) {
		for _, r := range routes {
			fields := bodyServerFields[routeKey(r.method, r.route)]
			require.NotEmptyf(t, fields, "%s %s has no server-set fields", r.method, r.route)
			for _, field := range fields {
				t.Run(r.name+" with "+field, func(t *testing.T) {
					resp := call(t, r.method, r.path, r.token, withField(r.body, field))
					require.Equal(t, http.StatusBadRequest, resp.StatusCode)
					p := decodeBody[Problem](t, resp)
					require.Equal(t, field+": is set by the server and cannot be sent", p.Detail)
					require.Equal(t, []assessment.FieldError{{Field: field, Reason: reasonServerSet}}, p.Errors)
					probes.Add(1)
				})
			}
		}
	})

	// Nothing refused changed anything: no user, key or tenant was made, the
	// analyst keeps the role, and the refresh token was never used.
	users, err := e.ident.ListUsers(ctx, tenant)
	require.NoError(t, err)
	require.Len(t, users, 2)
	got, err := e.ident.GetUser(ctx, tenant, analyst.ID)
	require.NoError(t, err)
	require.Equal(t, auth.RoleAnalyst, got.Role)
	keys, err := e.ident.ListAPIKeys(ctx, tenant)
	require.NoError(t, err)
	require.Empty(t, keys)
	tenants, err := e.ident.ListTenants(ctx)
	require.NoError(t, err)
	require.Len(t, tenants, 1)

	for _, r := range routes {
		if r.accepted == 0 {
			continue
		}
		resp := call(t, r.method, r.path, r.token, r.body)
		resp.Body.Close()
		require.Equalf(t, r.accepted, resp.StatusCode, "control %s: the body without a server-set field is accepted", r.name)
	}
	t.Logf("OWASP API3:2023 mass assignment on identity routes: %d probes over %d body routes, each refused with 400",
		probes.Load(), len(routes))
}
