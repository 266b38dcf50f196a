package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
)

// allRoles are the five roles a token can carry.
var allRoles = []string{auth.RoleOwner, auth.RoleAdmin, auth.RoleAnalyst, auth.RoleViewer, auth.RoleOperator}

// tenantFor is the tenant a token of role is issued in: the platform
// operator's tokens name the platform tenant.
func tenantFor(role, tenant string) string {
	if role == auth.RoleOperator {
		return auth.PlatformTenant
	}
	return tenant
}

func TestAccessMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	// Routes are read without dependencies; no handler runs.
	e := (&Server{}).routes()
	for _, r := range e.Routes() {
		_, ok := RouteRoles(r.Method, r.Path)
		require.Truef(t, ok, "route %s %s is missing from the access matrix (access.go); authorize refuses it", r.Method, r.Path)
	}

	for _, row := range AccessMatrix() {
		name := row.Method + " " + row.Route
		a := row.Access
		switch a.Kind {
		case AccessPublic, AccessAuthenticated:
			require.Emptyf(t, a.Roles, "%s: roles only mean something for AccessRoles", name)
		case AccessRoles:
			require.NotEmptyf(t, a.Roles, "%s: a role-limited route needs roles", name)
			for _, r := range a.Roles {
				require.Containsf(t, allRoles, r, "%s: unknown role %q", name, r)
			}
			if slices.Contains(a.Roles, auth.RoleOperator) {
				require.Equalf(t, []string{auth.RoleOperator}, a.Roles, "%s: the operator shares no route with tenant roles", name)
				require.Truef(t, strings.HasPrefix(row.Route, "/v1/tenants"), "%s: the operator reaches no tenant data", name)
			}
		default:
			t.Fatalf("%s: unknown access kind %d", name, a.Kind)
		}
		if a.Kind == AccessPublic && strings.HasPrefix(row.Route, "/v1/") {
			require.Containsf(t, []string{"POST /v1/auth/login", "POST /v1/auth/refresh"}, name,
				"%s: the only public /v1 routes are sign-in and refresh", name)
		}
	}

	// The matrix hands out copies: a caller cannot widen it.
	a, ok := RouteRoles(http.MethodGet, "/v1/audit")
	require.True(t, ok)
	a.Roles[0] = auth.RoleViewer
	again, _ := RouteRoles(http.MethodGet, "/v1/audit")
	require.Equal(t, []string{auth.RoleOwner, auth.RoleAdmin}, again.Roles)
}

// bareAuthorize serves method path through authorize on a bare echo, with
// claims cl (nil: none) set as authenticate would.
func bareAuthorize(t *testing.T, method, route, path string, cl *auth.Claims) *httptest.ResponseRecorder {
	t.Helper()
	s := &Server{log: slog.New(slog.DiscardHandler)}
	e := echo.New()
	e.HTTPErrorHandler = s.handleError
	setClaims := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cl != nil {
				c.Set(claimsKey, cl)
			}
			return next(c)
		}
	}
	e.Add(method, route, func(c echo.Context) error { return c.String(http.StatusOK, "data") }, setClaims, s.authorize)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func claims(tenant string, roles ...string) *auth.Claims {
	return &auth.Claims{Tenant: tenant, Roles: roles}
}

// TestAuthorize covers the rules that do not depend on a handler: routes
// not in the matrix, the routes the identity work adds, and tokens whose
// role does not fit their tenant.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		method, route string
		cl            *auth.Claims
		want          int
	}{
		{"route missing from the matrix", http.MethodGet, "/v1/unlisted", claims("acme", auth.RoleOwner), http.StatusForbidden},
		{"operator lists tenants", http.MethodGet, "/v1/tenants", claims(auth.PlatformTenant, auth.RoleOperator), http.StatusOK},
		{"operator creates a tenant", http.MethodPost, "/v1/tenants", claims(auth.PlatformTenant, auth.RoleOperator), http.StatusOK},
		{"owner cannot list tenants", http.MethodGet, "/v1/tenants", claims("acme", auth.RoleOwner), http.StatusForbidden},
		{"operator role outside the platform tenant", http.MethodGet, "/v1/tenants", claims("acme", auth.RoleOperator), http.StatusForbidden},
		{"tenant role inside the platform tenant", http.MethodGet, "/v1/assessments", claims(auth.PlatformTenant, auth.RoleOwner), http.StatusForbidden},
		{"operator role ignored beside a tenant role", http.MethodGet, "/v1/assessments", claims("acme", auth.RoleOperator, auth.RoleViewer), http.StatusOK},
		{"operator reads no users", http.MethodGet, "/v1/users", claims(auth.PlatformTenant, auth.RoleOperator), http.StatusForbidden},
		{"admin manages users", http.MethodPatch, "/v1/users/:id", claims("acme", auth.RoleAdmin), http.StatusOK},
		{"analyst cannot manage users", http.MethodPost, "/v1/users/:id/revoke-sessions", claims("acme", auth.RoleAnalyst), http.StatusForbidden},
		{"viewer cannot create API keys", http.MethodPost, "/v1/api-keys", claims("acme", auth.RoleViewer), http.StatusForbidden},
		{"viewer enrols a second factor", http.MethodPost, "/v1/me/mfa/totp", claims("acme", auth.RoleViewer), http.StatusOK},
		{"operator enrols a second factor", http.MethodPost, "/v1/me/mfa/totp/confirm", claims(auth.PlatformTenant, auth.RoleOperator), http.StatusOK},
		{"operator reads itself", http.MethodGet, "/v1/me", claims(auth.PlatformTenant, auth.RoleOperator), http.StatusOK},
		{"a token without roles reads itself", http.MethodGet, "/v1/me", claims("acme"), http.StatusOK},
		{"a token without roles logs out", http.MethodPost, "/v1/auth/logout", claims("acme"), http.StatusOK},
		{"no claims on an authenticated route", http.MethodGet, "/v1/me", nil, http.StatusUnauthorized},
		{"sign-in needs no token", http.MethodPost, "/v1/auth/login", nil, http.StatusOK},
		{"refresh needs no token", http.MethodPost, "/v1/auth/refresh", nil, http.StatusOK},
		{"keys need no token", http.MethodGet, "/.well-known/jwks.json", nil, http.StatusOK},
		{"an unknown role", http.MethodGet, "/v1/assessments", claims("acme", "superuser"), http.StatusForbidden},
		{"no roles", http.MethodGet, "/v1/assessments", claims("acme"), http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := strings.ReplaceAll(tc.route, ":id", "u1")
			rec := bareAuthorize(t, tc.method, tc.route, path, tc.cl)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == http.StatusOK {
				require.Equal(t, "data", rec.Body.String())
				return
			}
			require.Equal(t, contentTypeProblem, rec.Header().Get("Content-Type"))
			if tc.want == http.StatusForbidden {
				require.Contains(t, rec.Body.String(), ProblemForbidden)
			}
		})
	}
}

// wantRoles is the policy for the registered routes, written out apart from
// the matrix so a change to the matrix has to be made here as well.
var wantRoles = func() map[string][]string {
	const (
		o, a, n, v, p = auth.RoleOwner, auth.RoleAdmin, auth.RoleAnalyst, auth.RoleViewer, auth.RoleOperator
	)
	everyone := []string{o, a, n, v, p}
	readers, writers, managers, operator := []string{o, a, n, v}, []string{o, a, n}, []string{o, a}, []string{p}
	return map[string][]string{
		"GET /healthz":                             everyone,
		"GET /readyz":                              everyone,
		"GET /openapi.json":                        everyone,
		"GET /v1/assessments":                      readers,
		"GET /v1/assessments/:id":                  readers,
		"GET /v1/assessments/:id/report":           readers,
		"GET /v1/assessments/:id/events":           readers,
		"GET /v1/assessments/:id/recommendations":  readers,
		"GET /v1/assessments/:id/versions":         readers,
		"GET /v1/assessments/:id/versions/diff":    readers,
		"GET /v1/catalogue/versions/:version/diff": readers,
		"GET /v1/assessments/:id/scenarios":        readers,
		"GET /v1/assessments/:id/scenarios/:sid":   readers,
		"DELETE /v1/assessments/:id":               managers,
		// Chatting: every reader; the tools follow their routes' policy.
		"GET /v1/assessments/:id/conversations":                readers,
		"POST /v1/assessments/:id/conversations":               readers,
		"GET /v1/assessments/:id/conversations/:cid":           readers,
		"POST /v1/assessments/:id/conversations/:cid/messages": readers,
		"POST /v1/assessments":                                 writers,
		"POST /v1/assessments/:id/versions":                    writers,
		"POST /v1/assessments/:id/scenarios":                   writers,
		"POST /v1/estimates/inference":                         writers,
		"POST /v1/estimates/training":                          writers,
		"POST /v1/webhooks":                                    managers,
		"GET /v1/webhooks":                                     managers,
		"DELETE /v1/webhooks/:id":                              managers,
		"GET /v1/webhooks/:id/deliveries":                      managers,
		"GET /v1/audit":                                        managers,
		"GET /v1/usage/llm":                                    managers,

		// Signing in and verifying tokens: no token needed.
		"GET /.well-known/jwks.json": everyone,
		"POST /v1/auth/login":        everyone,
		"POST /v1/auth/refresh":      everyone,
		// The caller's own session, identity and second factor, whatever
		// its role (operators included).
		"POST /v1/auth/logout":         everyone,
		"GET /v1/me":                   everyone,
		"POST /v1/me/mfa/totp":         everyone,
		"POST /v1/me/mfa/totp/confirm": everyone,
		"DELETE /v1/me/mfa/totp":       everyone,
		"POST /v1/me/password":         everyone,
		// People and machine keys of the tenant.
		"GET /v1/users":                      managers,
		"POST /v1/users":                     managers,
		"GET /v1/users/:id":                  managers,
		"PATCH /v1/users/:id":                managers,
		"POST /v1/users/:id/revoke-sessions": managers,
		"POST /v1/users/:id/mfa/reset":       managers,
		"POST /v1/users/:id/password":        managers,
		"GET /v1/api-keys":                   managers,
		"POST /v1/api-keys":                  managers,
		"DELETE /v1/api-keys/:id":            managers,
		// The operator provisions tenants and reaches nothing of theirs.
		"GET /v1/tenants":  operator,
		"POST /v1/tenants": operator,
	}
}()

// TestOWASPAPI5RoleMatrix checks OWASP API5:2023 (broken function level
// authorization) cell by cell: every registered route against a token of
// each of the five roles. A role the policy admits must get past
// authorization (not 401, not 403); any other gets a 403 problem naming
// the roles that may call the route, and no data. Ids in paths are random
// and bodies empty, so an admitted cell may well end in 400 or 404: it
// only has to tell a refusal by role from anything else.
func TestOWASPAPI5RoleMatrix(t *testing.T) {
	t.Parallel()
	// The sign-in and refresh cells (5 roles each) all come from one
	// address: give them room so each is answered by its handler.
	e := newEnv(t, Config{Limits: Limits{AuthRequests: 100}})
	const tenant = "acme-rbac"
	id := e.create(t, tenant, "role matrix")
	fill := strings.NewReplacer(":sid", uuid.NewString(), ":cid", uuid.NewString(), ":id", id)
	// Webhook ids are not assessment ids: a random one is a 404 once past
	// authorization.
	fillWebhook := strings.NewReplacer(":id", uuid.NewString())

	var cells, refused atomic.Int64
	t.Run("cells", func(t *testing.T) {
		for _, r := range e.srv.echo.Routes() {
			access, ok := RouteRoles(r.Method, r.Path)
			require.Truef(t, ok, "%s %s is not in the matrix", r.Method, r.Path)
			want, ok := wantRoles[r.Method+" "+r.Path]
			require.Truef(t, ok, "%s %s is a new route: add its policy to wantRoles", r.Method, r.Path)
			path := fill.Replace(r.Path)
			if strings.HasPrefix(r.Path, "/v1/webhooks/") {
				path = fillWebhook.Replace(r.Path)
			}
			for _, role := range allRoles {
				t.Run(r.Method+" "+r.Path+" as "+role, func(t *testing.T) {
					t.Parallel()
					tok, err := e.signer.Issue("user-"+role, tenantFor(role, tenant), []string{role}, time.Hour)
					require.NoError(t, err)
					var body io.Reader
					if r.Method == http.MethodPost || r.Method == http.MethodPatch {
						body = strings.NewReader(`{}`)
					}
					req, err := http.NewRequest(r.Method, e.http.URL+path, body)
					require.NoError(t, err)
					req.Header.Set("Authorization", "Bearer "+tok)
					if body != nil {
						req.Header.Set("Content-Type", "application/json")
					}
					resp, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					defer resp.Body.Close() // also ends an event stream
					cells.Add(1)

					if slices.Contains(want, role) {
						require.NotEqual(t, http.StatusForbidden, resp.StatusCode)
						require.NotEqual(t, http.StatusUnauthorized, resp.StatusCode)
						return
					}
					require.Equal(t, http.StatusForbidden, resp.StatusCode)
					refused.Add(1)
					require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
					p := decodeBody[Problem](t, resp)
					require.Equal(t, ProblemForbidden, p.Type)
					require.Empty(t, p.Errors)
					for _, want := range access.Roles {
						require.Contains(t, p.Detail, want, "the refusal names who may call the route")
					}
				})
			}
		}
	})
	routes := e.srv.echo.Routes()
	registered := make(map[string]bool, len(routes))
	wantRefused := 0
	for _, r := range routes {
		registered[r.Method+" "+r.Path] = true
		wantRefused += len(allRoles) - len(wantRoles[r.Method+" "+r.Path])
	}
	for name := range wantRoles {
		require.Truef(t, registered[name], "wantRoles has a policy for %s, which is not a route", name)
	}
	require.Equal(t, int64(len(routes)*len(allRoles)), cells.Load(), "every cell was checked")
	require.Equal(t, int64(wantRefused), refused.Load(), "every cell the policy refuses was refused")
	t.Logf("OWASP API5:2023 role matrix: %d cells checked (%d routes x %d roles), %d allowed, %d refused with 403",
		cells.Load(), len(routes), len(allRoles), cells.Load()-refused.Load(), refused.Load())
}
