//go:build integration

package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// TestIntegrationOWASPReplicas runs the cross-replica part of the OWASP
// suite (API2 and API4) on the harness's real servers: two gateway replicas
// sharing one FerretDB database, one redis-server and one signing key. A
// request limit spent on one is spent on the other, and a logout on one is
// refused by the other at once.
func TestIntegrationOWASPReplicas(t *testing.T) {
	natsURL, mongoURI, redisURL := requireEnv(t, "IM_TEST_NATS_URL"), requireEnv(t, "IM_TEST_MONGO_URI"), requireEnv(t, "IM_TEST_REDIS_URL")
	// The per-address sign-in limit is shared with every other run on this
	// Redis (all sign in from 127.0.0.1), so it is set out of reach; the
	// tenant limit is counted per tenant, and the tenants are this run's own.
	cfg := Config{Limits: Limits{TenantRequests: 4, UserRequests: 100, AuthRequests: 1 << 20, RateWindow: longWindow}}
	rs := owaspReplicas(t, cfg, natsURL, mongoURI, redisURL, 2)
	r1, r2 := rs[0], rs[1]
	run := strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	ctx := context.Background()
	newTenant := func(t *testing.T, prefix string) (string, tokenResponse) {
		t.Helper()
		tenant := prefix + "-" + run
		email, pw := "owner@"+tenant+".test", owaspPassword()
		_, _, _, err := r1.ident.CreateTenant(ctx, tenant, tenant, identity.NewUser{Email: email, Password: pw})
		require.NoError(t, err)
		return tenant, owaspLogin(t, r2, tenant, email, pw)
	}

	t.Run("a tenant's request limit is spent across replicas", func(t *testing.T) {
		tenant, owner := newTenant(t, "it-owasp-rl")
		for i, c := range []struct {
			e      *env
			bearer string
		}{
			{r1, owner.AccessToken}, {r2, owner.AccessToken},
			{r1, owaspDevToken(t, r1, tenant, auth.RoleViewer)}, {r2, owaspDevToken(t, r2, tenant, auth.RoleViewer)},
		} {
			r := owaspSend(t, c.e, http.MethodGet, "/v1/assessments", c.bearer, "", "", nil)
			require.Equalf(t, http.StatusOK, r.Status, "request %d: %s", i+1, r.Body)
		}
		for _, e := range rs {
			r := owaspSend(t, e, http.MethodGet, "/v1/assessments", owner.AccessToken, "", "", nil)
			p := requireTooMany(t, owaspHTTPResponse(r), ProblemRateLimited)
			require.Contains(t, p.Detail, "organisation")
		}
	})

	t.Run("a logout on one replica is refused by the other", func(t *testing.T) {
		_, s := newTenant(t, "it-owasp-lo")
		require.Equal(t, http.StatusOK, owaspSend(t, r2, http.MethodGet, "/v1/me", s.AccessToken, "", "", nil).Status)
		r := owaspSend(t, r1, http.MethodPost, "/v1/auth/logout", s.AccessToken, "", "", nil)
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		for _, e := range []*env{r2, r1} {
			owaspRequireUnauthorized(t, owaspSend(t, e, http.MethodGet, "/v1/me", s.AccessToken, "", "", nil), s.AccessToken, "a logged-out token")
		}
		owaspRequireUnauthorized(t, owaspSend(t, r2, http.MethodPost, "/v1/auth/refresh", "", "application/json",
			`{"refresh_token":"`+s.RefreshToken+`"}`, nil), s.RefreshToken, "the logged-out session's refresh token")
	})
}
