package gateway

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// idResponse is an answer read whole.
type idResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// send sends body (raw, "" for none) with contentType ("" for none) and
// the bearer credential ("" for none).
func (h *identityHarness) send(t *testing.T, method, path, bearer, contentType, body string) idResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.http.URL+path, rd)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return idResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// jsonDoc is body as JSON: a string is sent as it is, anything else marshalled.
func jsonDoc(t *testing.T, body any) string {
	t.Helper()
	if s, ok := body.(string); ok {
		return s
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return string(b)
}

func (h *identityHarness) postJSON(t *testing.T, path, bearer string, body any) idResponse {
	t.Helper()
	return h.send(t, http.MethodPost, path, bearer, "application/json", jsonDoc(t, body))
}

func (h *identityHarness) patchJSON(t *testing.T, path, bearer string, body any) idResponse {
	t.Helper()
	return h.send(t, http.MethodPatch, path, bearer, "application/json", jsonDoc(t, body))
}

func (h *identityHarness) get(t *testing.T, path, bearer string) idResponse {
	t.Helper()
	return h.send(t, http.MethodGet, path, bearer, "", "")
}

// idDecode decodes a JSON answer.
func idDecode[T any](t *testing.T, r idResponse) T {
	t.Helper()
	var v T
	require.NoErrorf(t, json.Unmarshal(r.Body, &v), "body: %s", r.Body)
	return v
}

// problem decodes a problem answer, checking its media type.
func (r idResponse) problem(t *testing.T) Problem {
	t.Helper()
	require.Equalf(t, contentTypeProblem, r.Header.Get("Content-Type"), "body: %s", r.Body)
	return idDecode[Problem](t, r)
}

// requireStatus fails with the body when the status is not want.
func (r idResponse) requireStatus(t *testing.T, want int) {
	t.Helper()
	require.Equalf(t, want, r.Status, "body: %s", r.Body)
}

// requireField requires a 400 naming field among its errors.
func (r idResponse) requireField(t *testing.T, field string) Problem {
	t.Helper()
	r.requireStatus(t, http.StatusBadRequest)
	p := r.problem(t)
	require.Equal(t, ProblemInvalidRequest, p.Type)
	var named []string
	for _, fe := range p.Errors {
		require.NotEmptyf(t, fe.Reason, "field %s has no reason", fe.Field)
		named = append(named, fe.Field)
	}
	require.Containsf(t, named, field, "detail: %s", p.Detail)
	return p
}

// seedTenant creates tenant with an owner and returns the owner's email
// and password.
func (h *identityHarness) seedTenant(t *testing.T, tenant string) (email, password string) {
	t.Helper()
	email, password = "owner@"+tenant+".test", "correct horse "+tenant
	_, _, _, err := h.ident.CreateTenant(t.Context(), tenant, "Tenant "+tenant,
		identity.NewUser{Email: email, Password: password})
	require.NoError(t, err)
	return email, password
}

// addUser adds a user of role to tenant and returns it with its password.
func (h *identityHarness) addUser(t *testing.T, tenant, local, role string) (identity.User, string) {
	t.Helper()
	pw := "battery staple " + local
	u, _, err := h.ident.CreateUser(t.Context(), tenant, identity.NewUser{
		Email: local + "@" + tenant + ".test", Role: role, Password: pw,
	})
	require.NoError(t, err)
	return u, pw
}

func loginBody(tenant, email, password, code string) map[string]string {
	b := map[string]string{"tenant": tenant, "email": email, "password": password}
	if code != "" {
		b["totp_code"] = code
	}
	return b
}

// login signs in and requires success.
func (h *identityHarness) login(t *testing.T, tenant, email, password, code string) tokenResponse {
	t.Helper()
	r := h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, email, password, code))
	r.requireStatus(t, http.StatusOK)
	return idDecode[tokenResponse](t, r)
}

// operator creates a platform operator and signs them in.
func (h *identityHarness) operator(t *testing.T) tokenResponse {
	t.Helper()
	email, pw := "ops@platform.test", "platform operator password"
	_, _, err := h.ident.CreateOperator(t.Context(), identity.NewUser{Email: email, Password: pw})
	require.NoError(t, err)
	return h.login(t, auth.PlatformTenant, email, pw, "")
}

// me is GET /v1/me's answer status with the credential.
func (h *identityHarness) meStatus(t *testing.T, bearer string) int {
	t.Helper()
	return h.get(t, "/v1/me", bearer).Status
}

// comparableProblem is a problem without what differs between requests.
func comparableProblem(p Problem) Problem {
	p.Instance, p.RequestID = "", ""
	return p
}

func TestIdentityLoginSucceeds(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-login"
	email, pw := h.seedTenant(t, tenant)

	// A charset parameter is still JSON; the email is matched without case.
	r := h.send(t, http.MethodPost, "/v1/auth/login", "", "application/json; charset=utf-8",
		jsonDoc(t, loginBody(tenant, strings.ToUpper(email), pw, "")))
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"), "RFC 6749 section 5.1: tokens are not cached")
	require.NotContains(t, string(r.Body), pw, "the password never comes back")
	tr := idDecode[tokenResponse](t, r)

	require.Equal(t, "Bearer", tr.TokenType)
	require.InDelta(t, identity.DefaultAccessTTL.Seconds(), tr.ExpiresIn, 5)
	require.InDelta(t, identity.DefaultRefreshTTL.Seconds(), tr.RefreshExpiresIn, 5)
	require.True(t, strings.HasPrefix(tr.RefreshToken, "imr_"), tr.RefreshToken)
	require.NotEmpty(t, tr.SessionID)
	require.NotEmpty(t, tr.User.ID)
	require.Equal(t, tenant, tr.User.Tenant)
	require.Equal(t, email, tr.User.Email)
	require.Equal(t, auth.RoleOwner, tr.User.Role)
	require.False(t, tr.User.MFAEnabled)
	require.False(t, tr.User.Disabled)
	require.False(t, tr.User.CreatedAt.IsZero())
	require.Empty(t, tr.User.Password)

	// The access token verifies with the ring and names who signed in.
	cl, err := auth.NewRingVerifier(h.ring, testIssuer, testAudience).Verify(tr.AccessToken)
	require.NoError(t, err)
	require.Equal(t, tr.User.ID, cl.Subject)
	require.Equal(t, tenant, cl.Tenant)
	require.Equal(t, []string{auth.RoleOwner}, cl.Roles)
	require.Equal(t, tr.SessionID, cl.Session)
	require.NotEmpty(t, cl.ID)

	me := h.get(t, "/v1/me", tr.AccessToken)
	me.requireStatus(t, http.StatusOK)
	mv := idDecode[meView](t, me)
	require.Equal(t, "user", mv.Kind)
	require.Equal(t, tr.User.ID, mv.Subject)
	require.Equal(t, tr.SessionID, mv.Session)
	require.NotNil(t, mv.User)
	require.Equal(t, email, mv.User.Email)

	// The refresh token works.
	rr := h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": tr.RefreshToken})
	rr.requireStatus(t, http.StatusOK)
	next := idDecode[tokenResponse](t, rr)
	require.NotEqual(t, tr.AccessToken, next.AccessToken)
	require.Equal(t, http.StatusOK, h.meStatus(t, next.AccessToken))
}

func TestIdentityLoginRefusalsLookAlike(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-refusals"
	email, pw := h.seedTenant(t, tenant)
	disabled, disabledPW := h.addUser(t, tenant, "gone", auth.RoleAnalyst)
	require.NoError(t, h.ident.DisableUser(t.Context(), tenant, disabled.ID))

	tests := []struct {
		name string
		body map[string]string
	}{
		{"wrong password", loginBody(tenant, email, pw+"!", "")},
		{"unknown email", loginBody(tenant, "nobody@"+tenant+".test", pw, "")},
		{"unknown tenant", loginBody("no-such-tenant", email, pw, "")},
		{"disabled user with the right password", loginBody(tenant, disabled.Email, disabledPW, "")},
	}
	var first *Problem
	var firstChallenge string
	for _, tc := range tests {
		r := h.postJSON(t, "/v1/auth/login", "", tc.body)
		r.requireStatus(t, http.StatusUnauthorized)
		p := comparableProblem(r.problem(t))
		require.Equalf(t, ProblemUnauthorized, p.Type, tc.name)
		if first == nil {
			first, firstChallenge = &p, r.Header.Get("WWW-Authenticate")
			continue
		}
		require.Equalf(t, *first, p, "%s answers differently from %s", tc.name, tests[0].name)
		require.Equalf(t, firstChallenge, r.Header.Get("WWW-Authenticate"), tc.name)
	}
}

func TestIdentityLoginFieldErrors(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-loginfields"
	email, pw := h.seedTenant(t, tenant)

	tests := []struct {
		name, contentType, body string
		status                  int
		field                   string // for a 400
	}{
		{"missing tenant", "application/json", jsonDoc(t, map[string]string{"email": email, "password": pw}), 400, "tenant"},
		{"missing email", "application/json", jsonDoc(t, map[string]string{"tenant": tenant, "password": pw}), 400, "email"},
		{"missing password", "application/json", jsonDoc(t, map[string]string{"tenant": tenant, "email": email}), 400, "password"},
		{"empty object", "application/json", `{}`, 400, "tenant"},
		{"null", "application/json", `null`, 400, "tenant"},
		{"bad JSON", "application/json", `{"tenant":`, 400, "body"},
		{"not an object", "application/json", `["acme"]`, 400, "body"},
		{"two objects", "application/json", `{"tenant":"a"}{"tenant":"b"}`, 400, "body"},
		{"trailing garbage", "application/json", `{"tenant":"a"}}`, 400, "body"},
		{"unknown field", "application/json", `{"tenant":"` + tenant + `","email":"` + email + `","password":"x","remember_me":true}`, 400, "remember_me"},
		{"server-set role", "application/json", `{"tenant":"` + tenant + `","email":"` + email + `","password":"x","role":"owner"}`, 400, "role"},
		{"server-set roles in another case", "application/json", `{"tenant":"` + tenant + `","email":"` + email + `","password":"x","Roles":["owner"]}`, 400, "Roles"},
		{"tenant not a string", "application/json", `{"tenant":5,"email":"` + email + `","password":"x"}`, 400, "tenant"},
		{"tenant with a space", "application/json", jsonDoc(t, loginBody("acme corp", email, pw, "")), 400, "tenant"},
		{"not an email", "application/json", jsonDoc(t, loginBody(tenant, "owner at acme", pw, "")), 400, "email"},
		{"email with a display name", "application/json", jsonDoc(t, loginBody(tenant, "Owner <"+email+">", pw, "")), 400, "email"},
		{"password too long", "application/json", jsonDoc(t, loginBody(tenant, email, strings.Repeat("p", 129), "")), 400, "password"},
		{"totp code not digits", "application/json", jsonDoc(t, loginBody(tenant, email, pw, "12ab56")), 400, "totp_code"},
		{"totp code too short", "application/json", jsonDoc(t, loginBody(tenant, email, pw, "12345")), 400, "totp_code"},
		{"text/plain", "text/plain", jsonDoc(t, loginBody(tenant, email, pw, "")), 415, ""},
		{"no content type", "", jsonDoc(t, loginBody(tenant, email, pw, "")), 415, ""},
		{"form", "application/x-www-form-urlencoded", "tenant=" + tenant, 415, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.send(t, http.MethodPost, "/v1/auth/login", "", tc.contentType, tc.body)
			if tc.status == http.StatusBadRequest {
				r.requireField(t, tc.field)
				return
			}
			r.requireStatus(t, tc.status)
			require.Equal(t, ProblemUnsupportedType, r.problem(t).Type)
		})
	}

	// None of the refusals above counted as a failed sign-in.
	h.login(t, tenant, email, pw, "")
}

func TestIdentityLoginLockout(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-lockout"
	email, pw := h.seedTenant(t, tenant)
	colleague, colleaguePW := h.addUser(t, tenant, "colleague", auth.RoleAnalyst)

	tests := []struct {
		name, email, rightPassword string
	}{
		{"existing account", email, pw},
		// The same lockout for an address with no account: a locked answer
		// does not tell a guesser the account exists.
		{"unknown account", "ghost@" + tenant + ".test", pw},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range identity.DefaultMaxFailures {
				r := h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, tc.email, fmt.Sprintf("wrong password %d", i), ""))
				r.requireStatus(t, http.StatusUnauthorized)
			}
			// Locked: even the right password is refused, without checking it.
			r := h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, tc.email, tc.rightPassword, ""))
			r.requireStatus(t, http.StatusTooManyRequests)
			p := r.problem(t)
			require.Equal(t, ProblemSignInLocked, p.Type)
			secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
			require.NoError(t, err, "Retry-After is whole seconds")
			require.Positive(t, secs)
			require.LessOrEqual(t, secs, int(identity.DefaultLockoutWindow.Seconds()))
			require.Contains(t, p.Detail, strconv.Itoa(secs))
			// Spelling the account differently does not get round the lock.
			for _, alt := range []map[string]string{
				loginBody(strings.ToUpper(tenant), tc.email, tc.rightPassword, ""),
				loginBody(tenant, " "+strings.ToUpper(tc.email)+" ", tc.rightPassword, ""),
			} {
				r := h.postJSON(t, "/v1/auth/login", "", alt)
				require.Containsf(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, r.Status, "%v: %s", alt, r.Body)
			}
		})
	}

	// The lockout is the account's, not the tenant's.
	h.login(t, tenant, colleague.Email, colleaguePW, "")
}

func TestIdentityMFA(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-mfa"
	email, pw := h.seedTenant(t, tenant)
	tok := h.login(t, tenant, email, pw, "").AccessToken

	// Only a signed-in user has an account to protect: a development
	// token (no session) is told so.
	h.send(t, http.MethodPost, "/v1/me/mfa/totp", h.token(tenant), "", "").requireField(t, "Authorization")

	// An access token alone does not enrol (a thief holding one would
	// lock the owner out): the password is asked for, and a wrong one is
	// refused like a wrong proof elsewhere.
	for _, body := range []string{"", `{}`, `{"code":"123456"}`, `{"password":"a guess at the password"}`} {
		h.send(t, http.MethodPost, "/v1/me/mfa/totp", tok, "application/json", body).requireField(t, "password")
	}
	r := h.postJSON(t, "/v1/me/mfa/totp", tok, map[string]string{"password": pw})
	r.requireStatus(t, http.StatusCreated)
	en := idDecode[map[string]string](t, r)
	secret := en["secret"]
	require.NotEmpty(t, secret)
	require.True(t, strings.HasPrefix(en["otpauth_url"], "otpauth://totp/"), en["otpauth_url"])
	require.Contains(t, en["otpauth_url"], "secret="+secret)

	mfaOn := func() bool {
		r := h.get(t, "/v1/me", tok)
		r.requireStatus(t, http.StatusOK)
		return idDecode[meView](t, r).User.MFAEnabled
	}
	require.False(t, mfaOn(), "enrolment alone does not turn MFA on")

	// A code far from now is wrong; codes are six digits.
	far, err := totp.GenerateCode(secret, time.Now().Add(10*time.Minute))
	require.NoError(t, err)
	confirmErrors := []struct {
		name, body, field string
	}{
		{"wrong code", jsonDoc(t, map[string]string{"code": far}), "code"},
		{"missing code", `{}`, "code"},
		{"five digits", `{"code":"12345"}`, "code"},
		{"letters", `{"code":"abcdef"}`, "code"},
		{"a number", `{"code":123456}`, "code"},
		{"unknown field", `{"code":"123456","secret":"x"}`, "secret"},
	}
	for _, tc := range confirmErrors {
		h.postJSON(t, "/v1/me/mfa/totp/confirm", tok, tc.body).requireField(t, tc.field)
	}
	require.False(t, mfaOn())

	now, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	h.postJSON(t, "/v1/me/mfa/totp/confirm", tok, map[string]string{"code": now}).requireStatus(t, http.StatusNoContent)
	require.True(t, mfaOn())
	// Nothing is pending any more.
	h.postJSON(t, "/v1/me/mfa/totp/confirm", tok, map[string]string{"code": now}).requireStatus(t, http.StatusConflict)

	// The password alone is no longer enough.
	r = h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, email, pw, ""))
	r.requireStatus(t, http.StatusUnauthorized)
	require.Equal(t, ProblemMFARequired, r.problem(t).Type)
	require.Equal(t, `Bearer realm="infra-mind"`, r.Header.Get("WWW-Authenticate"), "RFC 9110: every 401 has a challenge")

	// A wrong code is refused like a wrong password.
	r = h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, email, pw, far))
	r.requireStatus(t, http.StatusUnauthorized)
	require.Equal(t, ProblemUnauthorized, r.problem(t).Type)

	// The code confirming the enrolment was used; the next step's code is
	// accepted (one step of skew) and is new.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	tr := h.login(t, tenant, email, pw, next)
	require.True(t, tr.User.MFAEnabled)

	// A code works once.
	r = h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, email, pw, next))
	r.requireStatus(t, http.StatusUnauthorized)
	require.Equal(t, ProblemUnauthorized, r.problem(t).Type)
}

func TestIdentityRefreshAndLogout(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-refresh"
	email, pw := h.seedTenant(t, tenant)
	refresh := func(tok string) idResponse {
		return h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": tok})
	}

	t.Run("rotation and reuse", func(t *testing.T) {
		first := h.login(t, tenant, email, pw, "")
		r := refresh(first.RefreshToken)
		r.requireStatus(t, http.StatusOK)
		second := idDecode[tokenResponse](t, r)
		require.NotEqual(t, first.RefreshToken, second.RefreshToken)
		require.NotEqual(t, first.AccessToken, second.AccessToken)
		require.Equal(t, first.SessionID, second.SessionID, "the same session")
		require.Equal(t, first.User.ID, second.User.ID)
		require.Equal(t, http.StatusOK, h.meStatus(t, second.AccessToken))

		// The used token again: reuse, and the whole session ends.
		r = refresh(first.RefreshToken)
		r.requireStatus(t, http.StatusUnauthorized)
		require.Equal(t, ProblemRefreshReused, r.problem(t).Type)
		require.Equal(t, `Bearer realm="infra-mind"`, r.Header.Get("WWW-Authenticate"), "RFC 9110: every 401 has a challenge")
		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, second.AccessToken), "the session's access token is revoked")
		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, first.AccessToken))
		r = refresh(second.RefreshToken)
		r.requireStatus(t, http.StatusUnauthorized)
		require.Equal(t, ProblemUnauthorized, r.problem(t).Type, "the family's newest token is revoked too")
	})

	t.Run("logout", func(t *testing.T) {
		a := h.login(t, tenant, email, pw, "")
		b := h.login(t, tenant, email, pw, "")
		h.send(t, http.MethodPost, "/v1/auth/logout", a.AccessToken, "", "").requireStatus(t, http.StatusNoContent)
		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, a.AccessToken))
		refresh(a.RefreshToken).requireStatus(t, http.StatusUnauthorized)
		h.send(t, http.MethodPost, "/v1/auth/logout", a.AccessToken, "", "").requireStatus(t, http.StatusUnauthorized)
		// Another session of the same user goes on.
		require.Equal(t, http.StatusOK, h.meStatus(t, b.AccessToken))
		refresh(b.RefreshToken).requireStatus(t, http.StatusOK)
		// Without a credential there is nothing to end.
		h.send(t, http.MethodPost, "/v1/auth/logout", "", "", "").requireStatus(t, http.StatusUnauthorized)
	})

	t.Run("bad refresh requests", func(t *testing.T) {
		tests := []struct {
			name, body string
			status     int
			field      string
		}{
			{"missing token", `{}`, 400, "refresh_token"},
			{"empty token", `{"refresh_token":""}`, 400, "refresh_token"},
			{"not a string", `{"refresh_token":42}`, 400, "refresh_token"},
			{"unknown field", `{"refresh_token":"imr_x","grant_type":"refresh_token"}`, 400, "grant_type"},
			{"server-set field", `{"refresh_token":"imr_x","tenant":"acme"}`, 400, "tenant"},
			{"garbage token", `{"refresh_token":"imr_not-a-token"}`, 401, ""},
			{"an access token", jsonDoc(t, map[string]string{"refresh_token": h.token(tenant)}), 401, ""},
			{"an unknown well-formed token", `{"refresh_token":"imr_` + strings.Repeat("A", 43) + `"}`, 401, ""},
		}
		for _, tc := range tests {
			r := h.postJSON(t, "/v1/auth/refresh", "", tc.body)
			if tc.status == http.StatusBadRequest {
				r.requireField(t, tc.field)
				continue
			}
			r.requireStatus(t, tc.status)
			require.Equalf(t, ProblemUnauthorized, r.problem(t).Type, tc.name)
		}
	})
}

func TestIdentityUsers(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-users"
	ownerEmail, ownerPW := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, ownerEmail, ownerPW, "")
	ownerTok := owner.AccessToken
	adminUser, adminPW := h.addUser(t, tenant, "admin", auth.RoleAdmin)
	adminTok := h.login(t, tenant, adminUser.Email, adminPW, "").AccessToken
	h.seedTenant(t, "globex-users")
	globex, err := h.ident.ListUsers(t.Context(), "globex-users")
	require.NoError(t, err)
	require.Len(t, globex, 1)
	foreignID := globex[0].ID

	// The owner creates an analyst with a generated password, shown once.
	r := h.postJSON(t, "/v1/users", ownerTok, map[string]string{"email": "Ana@Acme-Users.test", "name": "Ana", "role": auth.RoleAnalyst})
	r.requireStatus(t, http.StatusCreated)
	created := idDecode[userView](t, r)
	require.Equal(t, "ana@acme-users.test", created.Email)
	require.Equal(t, auth.RoleAnalyst, created.Role)
	require.Equal(t, tenant, created.Tenant)
	require.Len(t, created.Password, 20)
	require.Equal(t, "/v1/users/"+created.ID, r.Header.Get("Location"))

	for _, path := range []string{"/v1/users/" + created.ID, "/v1/users"} {
		r := h.get(t, path, ownerTok)
		r.requireStatus(t, http.StatusOK)
		for _, secret := range []string{created.Password, `"password"`, "argon2", "totp", "hash"} {
			require.NotContainsf(t, string(r.Body), secret, "GET %s shows no secret", path)
		}
	}
	list := idDecode[struct{ Items []userView }](t, h.get(t, "/v1/users", ownerTok))
	require.Len(t, list.Items, 3)

	// The shown password signs the analyst in; an analyst manages no one.
	analyst := h.login(t, tenant, created.Email, created.Password, "")
	require.Equal(t, auth.RoleAnalyst, analyst.User.Role)
	h.get(t, "/v1/users", analyst.AccessToken).requireStatus(t, http.StatusForbidden)
	h.postJSON(t, "/v1/users", analyst.AccessToken, map[string]string{"email": "x@acme-users.test", "role": "viewer"}).
		requireStatus(t, http.StatusForbidden)

	t.Run("create refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			bearer string
			body   string
			status int
			field  string
		}{
			{"admin creates an owner", adminTok, `{"email":"o2@acme-users.test","role":"owner"}`, 403, ""},
			{"email taken", ownerTok, `{"email":"ana@acme-users.test","role":"viewer"}`, 409, ""},
			{"unknown role", ownerTok, `{"email":"x@acme-users.test","role":"superuser"}`, 400, "role"},
			{"operator role", ownerTok, `{"email":"x@acme-users.test","role":"platform-operator"}`, 400, "role"},
			{"missing role", ownerTok, `{"email":"x@acme-users.test"}`, 400, "role"},
			{"missing email", ownerTok, `{"role":"viewer"}`, 400, "email"},
			{"not an email", ownerTok, `{"email":"x","role":"viewer"}`, 400, "email"},
			{"short password", ownerTok, `{"email":"x@acme-users.test","role":"viewer","password":"short"}`, 400, "password"},
			{"control character in name", ownerTok, `{"email":"x@acme-users.test","role":"viewer","name":"a\u0007b"}`, 400, "name"},
			{"name too long", ownerTok, jsonDoc(t, map[string]string{"email": "x@acme-users.test", "role": "viewer", "name": strings.Repeat("n", 101)}), 400, "name"},
			{"server-set tenant", ownerTok, `{"email":"x@acme-users.test","role":"viewer","tenant":"globex-users"}`, 400, "tenant"},
			{"server-set id", ownerTok, `{"email":"x@acme-users.test","role":"viewer","id":"u1"}`, 400, "id"},
			{"disabled is not set on create", ownerTok, `{"email":"x@acme-users.test","role":"viewer","disabled":true}`, 400, "disabled"},
			{"role not a string", ownerTok, `{"email":"x@acme-users.test","role":["owner"]}`, 400, "role"},
		}
		for _, tc := range tests {
			r := h.postJSON(t, "/v1/users", tc.bearer, tc.body)
			if tc.status == http.StatusBadRequest {
				r.requireField(t, tc.field)
				continue
			}
			r.requireStatus(t, tc.status)
		}
	})

	t.Run("admin may not act on owners", func(t *testing.T) {
		ownerPath := "/v1/users/" + owner.User.ID
		h.patchJSON(t, ownerPath, adminTok, `{"role":"analyst"}`).requireStatus(t, http.StatusForbidden)
		h.patchJSON(t, ownerPath, adminTok, `{"disabled":true}`).requireStatus(t, http.StatusForbidden)
		h.send(t, http.MethodPost, ownerPath+"/revoke-sessions", adminTok, "", "").requireStatus(t, http.StatusForbidden)
		h.patchJSON(t, "/v1/users/"+created.ID, adminTok, `{"role":"owner"}`).requireStatus(t, http.StatusForbidden)
		require.Equal(t, http.StatusOK, h.meStatus(t, ownerTok), "the owner was not touched")
		// An admin manages the rest.
		r := h.patchJSON(t, "/v1/users/"+created.ID, adminTok, `{"role":"viewer"}`)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, auth.RoleViewer, idDecode[userView](t, r).Role)
	})

	t.Run("the last owner stays", func(t *testing.T) {
		ownerPath := "/v1/users/" + owner.User.ID
		h.patchJSON(t, ownerPath, ownerTok, `{"role":"admin"}`).requireStatus(t, http.StatusConflict)
		h.patchJSON(t, ownerPath, ownerTok, `{"disabled":true}`).requireStatus(t, http.StatusConflict)
		// A second owner who is disabled does not count.
		r := h.postJSON(t, "/v1/users", ownerTok, `{"email":"owner2@acme-users.test","role":"owner"}`)
		r.requireStatus(t, http.StatusCreated)
		second := idDecode[userView](t, r)
		h.patchJSON(t, "/v1/users/"+second.ID, ownerTok, `{"disabled":true}`).requireStatus(t, http.StatusOK)
		h.patchJSON(t, ownerPath, ownerTok, `{"role":"admin"}`).requireStatus(t, http.StatusConflict)
		require.Equal(t, http.StatusOK, h.meStatus(t, ownerTok))
	})

	t.Run("patch refusals", func(t *testing.T) {
		path := "/v1/users/" + created.ID
		tests := []struct{ name, body, field string }{
			{"nothing to change", `{}`, "body"},
			{"null role", `{"role":null}`, "body"},
			{"enable again", `{"disabled":false}`, "disabled"},
			{"disabled not a boolean", `{"disabled":"yes"}`, "disabled"},
			{"unknown role", `{"role":"root"}`, "role"},
			{"email cannot change", `{"email":"new@acme-users.test"}`, "email"},
			{"server-set tenant", `{"tenant":"globex-users"}`, "tenant"},
		}
		for _, tc := range tests {
			h.patchJSON(t, path, ownerTok, tc.body).requireField(t, tc.field)
		}
	})

	t.Run("disabling revokes at once", func(t *testing.T) {
		u, upw := h.addUser(t, tenant, "leaver", auth.RoleViewer)
		s := h.login(t, tenant, u.Email, upw, "")
		require.Equal(t, http.StatusOK, h.meStatus(t, s.AccessToken))
		r := h.patchJSON(t, "/v1/users/"+u.ID, ownerTok, `{"disabled":true}`)
		r.requireStatus(t, http.StatusOK)
		require.True(t, idDecode[userView](t, r).Disabled)
		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, s.AccessToken))
		h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}).requireStatus(t, http.StatusUnauthorized)
		h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, u.Email, upw, "")).requireStatus(t, http.StatusUnauthorized)
	})

	t.Run("revoke sessions", func(t *testing.T) {
		u, upw := h.addUser(t, tenant, "roamer", auth.RoleViewer)
		s1 := h.login(t, tenant, u.Email, upw, "")
		s2 := h.login(t, tenant, u.Email, upw, "")
		h.send(t, http.MethodPost, "/v1/users/"+u.ID+"/revoke-sessions", adminTok, "", "").requireStatus(t, http.StatusNoContent)
		for _, s := range []tokenResponse{s1, s2} {
			require.Equal(t, http.StatusUnauthorized, h.meStatus(t, s.AccessToken))
			h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}).requireStatus(t, http.StatusUnauthorized)
		}
		// Other users keep their sessions.
		require.Equal(t, http.StatusOK, h.meStatus(t, adminTok))
	})

	t.Run("another tenant's user is not found", func(t *testing.T) {
		tests := []struct{ name, id string }{
			{"another tenant's user", foreignID},
			{"no such user", "00000000-0000-4000-8000-000000000000"},
			{"not an id", "not_an_id"},
		}
		for _, tc := range tests {
			path := "/v1/users/" + tc.id
			h.get(t, path, ownerTok).requireStatus(t, http.StatusNotFound)
			h.patchJSON(t, path, ownerTok, `{"role":"viewer"}`).requireStatus(t, http.StatusNotFound)
			h.send(t, http.MethodPost, path+"/revoke-sessions", ownerTok, "", "").requireStatus(t, http.StatusNotFound)
		}
		g, err := h.ident.GetUser(t.Context(), "globex-users", foreignID)
		require.NoError(t, err)
		require.Equal(t, auth.RoleOwner, g.Role, "the foreign user is unchanged")
	})
}

func TestIdentityAPIKeys(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-keys"
	ownerEmail, ownerPW := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, ownerEmail, ownerPW, "")
	ownerTok := owner.AccessToken
	adminTok := h.tokenWithRoles(t, tenant, "admin-dev", auth.RoleAdmin)

	create := func(t *testing.T, bearer string, body any) apiKeyView {
		t.Helper()
		r := h.postJSON(t, "/v1/api-keys", bearer, body)
		r.requireStatus(t, http.StatusCreated)
		k := idDecode[apiKeyView](t, r)
		require.Equal(t, "/v1/api-keys/"+k.ID, r.Header.Get("Location"))
		return k
	}

	viewer := create(t, ownerTok, map[string]string{"name": "dashboards", "role": auth.RoleViewer})
	require.True(t, strings.HasPrefix(viewer.Key, viewer.Prefix+"_"), "the key starts with its shown prefix")
	require.Equal(t, "imk_"+viewer.ID, viewer.Prefix)
	require.Equal(t, owner.User.ID, viewer.CreatedBy)
	require.Nil(t, viewer.ExpiresAt)
	secret := strings.TrimPrefix(viewer.Key, viewer.Prefix+"_")

	r := h.get(t, "/v1/api-keys", ownerTok)
	r.requireStatus(t, http.StatusOK)
	for _, leak := range []string{secret, `"key"`, "hash", "sha256", "secret"} {
		require.NotContains(t, string(r.Body), leak, "the list shows no key or hash")
	}
	require.Len(t, idDecode[struct{ Items []apiKeyView }](t, r).Items, 1)

	// The key authenticates with its own role.
	me := h.get(t, "/v1/me", viewer.Key)
	me.requireStatus(t, http.StatusOK)
	mv := idDecode[meView](t, me)
	require.Equal(t, "api_key", mv.Kind)
	require.Equal(t, []string{auth.RoleViewer}, mv.Roles)
	require.Equal(t, tenant, mv.Tenant)
	require.Equal(t, identity.APIKeySubjectPrefix+viewer.ID, mv.Subject)
	require.Nil(t, mv.User)
	h.get(t, "/v1/assessments", viewer.Key).requireStatus(t, http.StatusOK)
	h.send(t, http.MethodPost, "/v1/assessments", viewer.Key, "application/yaml",
		string(readExample(t, "startup-rag.yaml"))).requireStatus(t, http.StatusForbidden)
	h.get(t, "/v1/api-keys", viewer.Key).requireStatus(t, http.StatusForbidden)
	// A key has no session to end and no account to protect.
	h.send(t, http.MethodPost, "/v1/auth/logout", viewer.Key, "", "").requireField(t, "Authorization")

	analyst := create(t, adminTok, map[string]any{"name": "ci", "role": auth.RoleAnalyst,
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	require.NotNil(t, analyst.ExpiresAt)
	require.Equal(t, "admin-dev", analyst.CreatedBy)
	h.send(t, http.MethodPost, "/v1/assessments", analyst.Key, "application/yaml",
		string(readExample(t, "startup-rag.yaml"))).requireStatus(t, http.StatusAccepted)

	t.Run("revoke", func(t *testing.T) {
		k := create(t, ownerTok, map[string]string{"name": "short-lived", "role": auth.RoleViewer})
		require.Equal(t, http.StatusOK, h.meStatus(t, k.Key))
		h.send(t, http.MethodDelete, "/v1/api-keys/"+k.ID, ownerTok, "", "").requireStatus(t, http.StatusNoContent)
		r := h.get(t, "/v1/me", k.Key)
		r.requireStatus(t, http.StatusUnauthorized)
		require.Equal(t, ProblemUnauthorized, r.problem(t).Type)
		var found bool
		for _, item := range idDecode[struct{ Items []apiKeyView }](t, h.get(t, "/v1/api-keys", ownerTok)).Items {
			if item.ID == k.ID {
				found = true
				require.NotNil(t, item.RevokedAt, "the list shows the key revoked")
			}
		}
		require.True(t, found)
		require.Equal(t, http.StatusOK, h.meStatus(t, viewer.Key), "other keys go on")
	})

	t.Run("another tenant's key is not found", func(t *testing.T) {
		h.seedTenant(t, "globex-keys")
		foreign, foreignKey, err := h.ident.CreateAPIKey(t.Context(), "globex-keys", identity.NewAPIKey{Name: "g", Role: auth.RoleViewer, CreatedBy: "u"})
		require.NoError(t, err)
		for _, id := range []string{foreign.ID, "aaaaaaaaaaaa", "Not-An-Id!"} {
			h.send(t, http.MethodDelete, "/v1/api-keys/"+id, ownerTok, "", "").requireStatus(t, http.StatusNotFound)
		}
		require.Equal(t, http.StatusOK, h.meStatus(t, foreignKey), "the foreign key still works")
	})

	t.Run("expired key", func(t *testing.T) {
		// A second service on the same store whose clock is two hours
		// behind creates a key that expired an hour ago by the gateway's.
		past, err := identity.New(h.ports, h.signer, identity.Options{
			Now: func() time.Time { return time.Now().Add(-2 * time.Hour) },
		})
		require.NoError(t, err)
		_, key, err := past.CreateAPIKey(t.Context(), tenant, identity.NewAPIKey{
			Name: "old", Role: auth.RoleViewer, CreatedBy: "u", ExpiresAt: time.Now().Add(-time.Hour),
		})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, key))
	})

	t.Run("malformed keys", func(t *testing.T) {
		for _, key := range []string{"imk_", "imk_garbage", viewer.Prefix + "_" + strings.Repeat("A", 43), viewer.Key + "x", viewer.Prefix} {
			require.Equalf(t, http.StatusUnauthorized, h.meStatus(t, key), "key %q", key)
		}
	})

	t.Run("create refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			bearer string
			body   string
			status int
			field  string
		}{
			{"admin creates an owner key", adminTok, `{"name":"x","role":"owner"}`, 403, ""},
			{"missing name", ownerTok, `{"role":"viewer"}`, 400, "name"},
			{"blank name", ownerTok, `{"name":"  ","role":"viewer"}`, 400, "name"},
			{"missing role", ownerTok, `{"name":"x"}`, 400, "role"},
			{"operator role", ownerTok, `{"name":"x","role":"platform-operator"}`, 400, "role"},
			{"expiry in the past", ownerTok, `{"name":"x","role":"viewer","expires_at":"2001-01-01T00:00:00Z"}`, 400, "expires_at"},
			{"expiry not a time", ownerTok, `{"name":"x","role":"viewer","expires_at":"tomorrow"}`, 400, "expires_at"},
			{"expiry a number", ownerTok, `{"name":"x","role":"viewer","expires_at":1767225600}`, 400, "expires_at"},
			{"server-set created_by", ownerTok, `{"name":"x","role":"viewer","created_by":"someone"}`, 400, "created_by"},
			{"server-set id", ownerTok, `{"name":"x","role":"viewer","id":"aaaaaaaaaaaa"}`, 400, "id"},
			{"the key is not chosen", ownerTok, `{"name":"x","role":"viewer","key":"imk_mine"}`, 400, "key"},
		}
		for _, tc := range tests {
			r := h.postJSON(t, "/v1/api-keys", tc.bearer, tc.body)
			if tc.status == http.StatusBadRequest {
				r.requireField(t, tc.field)
				continue
			}
			r.requireStatus(t, tc.status)
		}
		// An owner may make an owner key; only an owner may revoke it.
		root := create(t, ownerTok, map[string]string{"name": "root", "role": auth.RoleOwner})
		h.send(t, http.MethodDelete, "/v1/api-keys/"+root.ID, adminTok, "", "").requireStatus(t, http.StatusForbidden)
		h.send(t, http.MethodDelete, "/v1/api-keys/"+root.ID, ownerTok, "", "").requireStatus(t, http.StatusNoContent)
	})
}

func TestIdentityTenants(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	op := h.operator(t)
	opTok := op.AccessToken
	require.Equal(t, auth.RoleOperator, op.User.Role)
	require.Equal(t, auth.PlatformTenant, op.User.Tenant)

	r := h.postJSON(t, "/v1/tenants", opTok, map[string]any{
		"id": "globex-t", "name": "Globex", "owner": map[string]string{"email": "boss@globex.test", "name": "Boss"},
	})
	r.requireStatus(t, http.StatusCreated)
	require.Empty(t, r.Header.Get("Location"), "there is no route to read one tenant, so no Location pointing at one")
	tv := idDecode[tenantView](t, r)
	require.Equal(t, "globex-t", tv.ID)
	require.Equal(t, "Globex", tv.Name)
	require.False(t, tv.CreatedAt.IsZero())
	require.NotNil(t, tv.Owner)
	require.Equal(t, auth.RoleOwner, tv.Owner.Role)
	require.Equal(t, "boss@globex.test", tv.Owner.Email)
	require.Len(t, tv.Owner.Password, 20)

	// The new owner signs in with the shown password and manages the tenant.
	boss := h.login(t, "globex-t", "boss@globex.test", tv.Owner.Password, "")
	require.Equal(t, auth.RoleOwner, boss.User.Role)
	h.get(t, "/v1/users", boss.AccessToken).requireStatus(t, http.StatusOK)
	// A tenant's owner does not provision tenants.
	h.get(t, "/v1/tenants", boss.AccessToken).requireStatus(t, http.StatusForbidden)
	h.postJSON(t, "/v1/tenants", boss.AccessToken, `{"id":"x","name":"x","owner":{"email":"a@x.test"}}`).requireStatus(t, http.StatusForbidden)

	list := h.get(t, "/v1/tenants", opTok)
	list.requireStatus(t, http.StatusOK)
	var ids []string
	for _, it := range idDecode[struct{ Items []tenantView }](t, list).Items {
		ids = append(ids, it.ID)
		require.Nil(t, it.Owner, "the list shows no owner or password")
	}
	require.Contains(t, ids, "globex-t")
	require.NotContains(t, ids, auth.PlatformTenant)

	t.Run("create refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			body   string
			status int
			field  string
		}{
			{"exists", `{"id":"globex-t","name":"Again","owner":{"email":"a@globex.test"}}`, 409, ""},
			{"exists in upper case", `{"id":"GLOBEX-T","name":"Again","owner":{"email":"a@globex.test"}}`, 409, ""},
			{"look-alike of an existing id", `{"id":"gl0bex_t","name":"Impostor","owner":{"email":"a@globex.test"}}`, 409, ""},
			{"look-alike of the platform's id", `{"id":"-platform","name":"Impostor","owner":{"email":"a@evil.test"}}`, 409, ""},
			{"reserved id", `{"id":"_evil","name":"Evil","owner":{"email":"a@evil.test"}}`, 400, "id"},
			{"the platform's id", `{"id":"_platform","name":"Evil","owner":{"email":"a@evil.test"}}`, 400, "id"},
			{"id with a dot", `{"id":"a.b","name":"AB","owner":{"email":"a@ab.test"}}`, 400, "id"},
			{"missing id", `{"name":"X","owner":{"email":"a@x.test"}}`, 400, "id"},
			{"missing name", `{"id":"initech","owner":{"email":"a@initech.test"}}`, 400, "name"},
			{"missing owner email", `{"id":"initech","name":"Initech","owner":{}}`, 400, "owner.email"},
			{"owner not an object", `{"id":"initech","name":"Initech","owner":"a@initech.test"}`, 400, "owner"},
			{"owner email not a string", `{"id":"initech","name":"Initech","owner":{"email":5}}`, 400, "owner.email"},
			{"owner as admin", `{"id":"initech","name":"Initech","owner":{"email":"a@initech.test","role":"admin"}}`, 400, "owner.role"},
			{"owner password too short", `{"id":"initech","name":"Initech","owner":{"email":"a@initech.test","password":"short"}}`, 400, "owner.password"},
			{"unknown field", `{"id":"initech","name":"Initech","owner":{"email":"a@initech.test"},"plan":"gold"}`, 400, "plan"},
			{"server-set created_at", `{"id":"initech","name":"Initech","owner":{"email":"a@initech.test"},"created_at":"2020-01-01T00:00:00Z"}`, 400, "created_at"},
		}
		for _, tc := range tests {
			r := h.postJSON(t, "/v1/tenants", opTok, tc.body)
			if tc.status == http.StatusBadRequest {
				r.requireField(t, tc.field)
				continue
			}
			r.requireStatus(t, tc.status)
		}
		alike := h.postJSON(t, "/v1/tenants", opTok, `{"id":"GL0BEX_T","name":"Impostor","owner":{"email":"a@globex.test"}}`)
		alike.requireStatus(t, http.StatusConflict)
		require.Equal(t, "Gl0bex_t looks like the existing tenant globex-t.", alike.problem(t).Detail)
		// Tenant ids are compared without case: the owner signs in with any.
		h.login(t, "GLOBEX-T", "boss@globex.test", tv.Owner.Password, "")

		// A refused owner left no tenant behind: the id is still free.
		r := h.postJSON(t, "/v1/tenants", opTok, `{"id":"initech","name":"Initech","owner":{"email":"a@initech.test","password":"a long enough password"}}`)
		r.requireStatus(t, http.StatusCreated)
		require.Empty(t, idDecode[tenantView](t, r).Owner.Password, "a chosen password is not echoed")
	})

	t.Run("the operator reads no tenant data", func(t *testing.T) {
		routes := []struct{ method, path, body string }{
			{http.MethodGet, "/v1/assessments", ""},
			{http.MethodPost, "/v1/assessments", "name: x\n"},
			{http.MethodGet, "/v1/assessments/00000000-0000-4000-8000-000000000000", ""},
			{http.MethodGet, "/v1/assessments/00000000-0000-4000-8000-000000000000/report", ""},
			{http.MethodPost, "/v1/estimates/inference", "{}"},
			{http.MethodGet, "/v1/users", ""},
			{http.MethodPost, "/v1/users", `{"email":"a@b.test","role":"owner"}`},
			{http.MethodGet, "/v1/users/" + boss.User.ID, ""},
			{http.MethodPatch, "/v1/users/" + boss.User.ID, `{"disabled":true}`},
			{http.MethodPost, "/v1/users/" + boss.User.ID + "/revoke-sessions", ""},
			{http.MethodGet, "/v1/api-keys", ""},
			{http.MethodPost, "/v1/api-keys", `{"name":"x","role":"owner"}`},
			{http.MethodDelete, "/v1/api-keys/aaaaaaaaaaaa", ""},
			{http.MethodGet, "/v1/webhooks", ""},
			{http.MethodGet, "/v1/audit", ""},
		}
		for _, rt := range routes {
			ct := ""
			if rt.body != "" {
				ct = "application/json"
			}
			r := h.send(t, rt.method, rt.path, opTok, ct, rt.body)
			require.Equalf(t, http.StatusForbidden, r.Status, "%s %s: %s", rt.method, rt.path, r.Body)
			require.Equal(t, ProblemForbidden, r.problem(t).Type)
		}
		require.Equal(t, http.StatusOK, h.meStatus(t, boss.AccessToken), "the owner was not touched")
	})
}

func TestIdentityJWKS(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-jwks"
	email, pw := h.seedTenant(t, tenant)
	before := h.login(t, tenant, email, pw, "").AccessToken

	fetch := func(t *testing.T) jose.JSONWebKeySet {
		t.Helper()
		r := h.get(t, "/.well-known/jwks.json", "") // public: no credential
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, "application/jwk-set+json", r.Header.Get("Content-Type"))
		require.Contains(t, r.Header.Get("Cache-Control"), "max-age=")
		require.NotContains(t, string(r.Body), `"d"`, "no private key material")
		var set jose.JSONWebKeySet
		require.NoError(t, json.Unmarshal(r.Body, &set))
		for _, k := range set.Keys {
			require.True(t, k.IsPublic())
		}
		return set
	}
	// verify checks tok the way another service would: the key named by
	// its kid in the published set, with golang-jwt.
	verify := func(t *testing.T, set jose.JSONWebKeySet, tok string) error {
		t.Helper()
		_, err := jwt.ParseWithClaims(tok, &auth.Claims{}, func(tk *jwt.Token) (any, error) {
			kid, _ := tk.Header["kid"].(string)
			keys := set.Key(kid)
			if len(keys) != 1 {
				return nil, fmt.Errorf("kid %q: %d keys", kid, len(keys))
			}
			pub, ok := keys[0].Key.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("kid %q: %T is not an Ed25519 key", kid, keys[0].Key)
			}
			return pub, nil
		}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience),
			jwt.WithExpirationRequired())
		return err
	}

	set := fetch(t)
	require.Len(t, set.Keys, 1)
	require.NoError(t, verify(t, set, before))

	// A token from another key is not verified by this set.
	otherKey, err := auth.GenerateKey()
	require.NoError(t, err)
	stranger, err := auth.NewSigner(otherKey, testIssuer, testAudience).Issue("u", tenant, []string{auth.RoleOwner}, time.Hour)
	require.NoError(t, err)
	require.Error(t, verify(t, set, stranger))

	// After a rotation both keys are published: the old token still
	// verifies and new sign-ins carry the new key.
	next, err := auth.GenerateKey()
	require.NoError(t, err)
	require.NoError(t, h.ring.Rotate(next, identity.DefaultAccessTTL+auth.ClockSkew))
	after := h.login(t, tenant, email, pw, "").AccessToken
	set = fetch(t)
	require.Len(t, set.Keys, 2)
	require.Equal(t, auth.KeyID(next.Public().(ed25519.PublicKey)), set.Keys[0].KeyID, "the signing key comes first")
	require.NoError(t, verify(t, set, before))
	require.NoError(t, verify(t, set, after))
	require.Equal(t, http.StatusOK, h.meStatus(t, before))
}

func TestIdentityAudit(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-idaudit"
	email, pw := h.seedTenant(t, tenant)

	// A sign-in is recorded in the tenant's log with the user as actor.
	r := h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, email, pw, ""))
	r.requireStatus(t, http.StatusOK)
	tr := idDecode[tokenResponse](t, r)
	recs := h.auditOf(t, r.Header.Get("X-Request-Id"))
	require.Len(t, recs, 1)
	rec := recs[0]
	require.Equal(t, tenant, rec.Tenant)
	require.Equal(t, "auth.login", rec.Action)
	require.Equal(t, tr.User.ID, rec.Actor)
	require.Equal(t, []string{auth.RoleOwner}, rec.Roles)
	require.Equal(t, audit.Success, rec.Outcome)
	require.Equal(t, audit.Resource{Type: "session", ID: tr.SessionID}, rec.Resource)

	// A refresh likewise.
	r = h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": tr.RefreshToken})
	r.requireStatus(t, http.StatusOK)
	rec = h.auditOf(t, r.Header.Get("X-Request-Id"))[0]
	require.Equal(t, tenant, rec.Tenant)
	require.Equal(t, "auth.refresh", rec.Action)
	require.Equal(t, tr.User.ID, rec.Actor)

	tests := []struct {
		name, tenant, email string
		wantTenant          string // "" for nobody's log
		wantAction          string
		wantResource        audit.Resource
	}{
		{"wrong password", tenant, email, tenant, "auth.login", audit.Resource{Type: "user", ID: email}},
		{"unknown email, in another case", tenant, "Nobody@ACME-idaudit.test", tenant, "auth.login",
			audit.Resource{Type: "user", ID: "nobody@acme-idaudit.test"}},
		{"unknown tenant", "no-such-idaudit", email, "", audit.ActionAuthFailed,
			audit.Resource{Type: "route", ID: "POST /v1/auth/login"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.postJSON(t, "/v1/auth/login", "", loginBody(tc.tenant, tc.email, "not the password", ""))
			r.requireStatus(t, http.StatusUnauthorized)
			recs := h.auditOf(t, r.Header.Get("X-Request-Id"))
			require.Len(t, recs, 1)
			rec := recs[0]
			require.Equal(t, tc.wantTenant, rec.Tenant)
			require.Equal(t, audit.Anonymous, rec.Actor, "a refused password proves no one")
			require.Empty(t, rec.Roles)
			require.Equal(t, tc.wantAction, rec.Action)
			require.Equal(t, tc.wantResource, rec.Resource)
			require.Equal(t, audit.Denied, rec.Outcome)
			require.Equal(t, http.StatusUnauthorized, rec.Status)
			if tc.wantTenant == "" {
				page, err := h.auditLog.List(t.Context(), tc.tenant, store.AuditQuery{})
				require.NoError(t, err)
				require.Empty(t, page.Items, "a tenant that does not exist gets no log")
			}
		})
	}

	// The tenant's admins see the attempts on its accounts.
	ownerTok := tr.AccessToken
	r = h.get(t, "/v1/audit?action=auth.login", ownerTok)
	r.requireStatus(t, http.StatusOK)
	var denied int
	for _, it := range idDecode[api.AuditList](t, r).Items {
		if it.Outcome == api.AuditRecordOutcome(audit.Denied) {
			denied++
		}
	}
	require.Equal(t, 2, denied)
}

// TestIdentityMalformedBodies sends bodies no client should send to every
// identity route taking one: each answer is a 4xx problem, and a 400 names
// a field with a reason.
func TestIdentityMalformedBodies(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-malformed"
	email, pw := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, email, pw, "")
	op := h.operator(t)

	routes := []struct {
		method, path, bearer string
	}{
		{http.MethodPost, "/v1/auth/login", ""},
		{http.MethodPost, "/v1/auth/refresh", ""},
		{http.MethodPost, "/v1/me/mfa/totp/confirm", owner.AccessToken},
		{http.MethodPost, "/v1/users", owner.AccessToken},
		{http.MethodPatch, "/v1/users/" + owner.User.ID, owner.AccessToken},
		{http.MethodPost, "/v1/api-keys", owner.AccessToken},
		{http.MethodPost, "/v1/tenants", op.AccessToken},
	}
	bodies := []struct {
		name, contentType, body string
	}{
		{"empty", "application/json", ""},
		{"white space", "application/json", " \n\t "},
		{"truncated", "application/json", `{"a":`},
		{"bare string", "application/json", `"hello"`},
		{"number", "application/json", `12`},
		{"array", "application/json", `[{"email":"a@b.test"}]`},
		{"true", "application/json", `true`},
		{"unknown field", "application/json", `{"zzz":1}`},
		{"every field an object", "application/json", `{"tenant":{},"email":{},"password":{},"refresh_token":{},"code":{},"name":{},"role":{},"disabled":{},"expires_at":{},"id":{},"owner":[]}`},
		{"every field a number", "application/json", `{"email":1,"password":1,"refresh_token":1,"code":1,"name":1,"disabled":1,"expires_at":1}`},
		{"huge number", "application/json", `{"disabled":1e999}`},
		{"deep nesting", "application/json", strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)},
		{"invalid UTF-8", "application/json", "{\"email\":\"\xff\xfe@b.test\",\"name\":\"\xc3\x28\"}"},
		{"NUL characters", "application/json", `{"email":"a\u0000@b.test","name":"\u0000","refresh_token":"\u0000","code":"\u0000\u0000\u0000\u0000\u0000\u0000"}`},
		{"very long strings", "application/json", jsonDoc(t, map[string]string{"email": strings.Repeat("a", 100_000) + "@b.test", "name": strings.Repeat("n", 100_000)})},
		{"duplicate server-set key", "application/json", `{"name":"x","kind":"a","kind":"b"}`},
		{"YAML", "application/yaml", "email: a@b.test\n"},
		{"JSON as text", "text/plain", `{"email":"a@b.test"}`},
		{"bad media type", "application/json; charset", `{}`},
	}
	for _, rt := range routes {
		for _, b := range bodies {
			t.Run(rt.method+" "+rt.path+" "+b.name, func(t *testing.T) {
				t.Parallel()
				r := h.send(t, rt.method, rt.path, rt.bearer, b.contentType, b.body)
				require.GreaterOrEqualf(t, r.Status, 400, "body: %s", r.Body)
				require.Lessf(t, r.Status, 500, "body: %s", r.Body)
				p := r.problem(t)
				if r.Status == http.StatusBadRequest {
					require.NotEmptyf(t, p.Errors, "a 400 names the field: %s", p.Detail)
					require.NotEmpty(t, p.Errors[0].Field)
					require.NotEmpty(t, p.Errors[0].Reason)
					require.NotContains(t, p.Detail, "gateway.", "no Go type names")
				}
			})
		}
	}

	// Nothing above changed the owner.
	me := h.get(t, "/v1/me", owner.AccessToken)
	me.requireStatus(t, http.StatusOK)
	u := idDecode[meView](t, me).User
	require.Equal(t, auth.RoleOwner, u.Role)
	require.False(t, u.Disabled)
	require.False(t, u.MFAEnabled)
}

// deleteJSON sends DELETE with a JSON body ("" for none).
func (h *identityHarness) deleteJSON(t *testing.T, path, bearer, body string) idResponse {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return h.send(t, http.MethodDelete, path, bearer, ct, body)
}

// totpCode is secret's code now plus offset. Tests use the current step
// and the next one only: both stay valid (one step of skew) if the clock
// crosses a step boundary between making the code and sending it.
func totpCode(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(offset))
	require.NoError(t, err)
	return code
}

// wrongTOTPCode is six digits no step around now gives for secret.
func wrongTOTPCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for _, off := range []time.Duration{-time.Minute, -30 * time.Second, 0, 30 * time.Second, time.Minute} {
		near[totpCode(t, secret, off)] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// enrolMFA enrols and confirms a second factor for the signed-in bearer
// over HTTP (MFA off) and returns the secret; the current step's code is
// used up by the confirmation.
func (h *identityHarness) enrolMFA(t *testing.T, bearer, password string) string {
	t.Helper()
	r := h.postJSON(t, "/v1/me/mfa/totp", bearer, map[string]string{"password": password})
	r.requireStatus(t, http.StatusCreated)
	secret := idDecode[map[string]string](t, r)["secret"]
	h.postJSON(t, "/v1/me/mfa/totp/confirm", bearer, map[string]string{"code": totpCode(t, secret, 0)}).
		requireStatus(t, http.StatusNoContent)
	return secret
}

func (h *identityHarness) mfaOn(t *testing.T, bearer string) bool {
	t.Helper()
	r := h.get(t, "/v1/me", bearer)
	r.requireStatus(t, http.StatusOK)
	return idDecode[meView](t, r).User.MFAEnabled
}

// TestIdentityMFAReenrolAndDisable: once MFA is on, replacing the
// authenticator or turning it off takes a current code (or, to turn it
// off, the password): an access token alone is not enough.
func TestIdentityMFAReenrolAndDisable(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-mfa-off"
	email, pw := h.seedTenant(t, tenant)
	tok := h.login(t, tenant, email, pw, "").AccessToken

	// MFA off: the password is the proof, and a code has nothing to prove.
	for _, body := range []string{jsonDoc(t, map[string]string{"password": pw}), jsonDoc(t, map[string]string{"password": pw, "code": "123456"})} {
		r := h.send(t, http.MethodPost, "/v1/me/mfa/totp", tok, "application/json", body)
		r.requireStatus(t, http.StatusCreated)
	}
	h.postJSON(t, "/v1/me/mfa/totp", tok, jsonDoc(t, map[string]string{"password": pw, "code": "abc"})).requireField(t, "code")
	secret := h.enrolMFA(t, tok, pw)
	require.True(t, h.mfaOn(t, tok))

	// MFA on: no code, a malformed or wrong one, or anything but the code
	// is refused with 400, and nothing is enrolled.
	wrong := wrongTOTPCode(t, secret)
	tests := []struct {
		name, contentType, body, field string
	}{
		{"no body", "", "", "code"},
		{"no code", "application/json", `{}`, "code"},
		{"empty code", "application/json", `{"code":""}`, "code"},
		{"five digits", "application/json", `{"code":"12345"}`, "code"},
		{"wrong code", "application/json", jsonDoc(t, map[string]string{"code": wrong}), "code"},
		{"a number", "application/json", `{"code":123456}`, "code"},
		{"unknown field", "application/json", `{"code":"123456","secret":"MYOWNSECRET"}`, "secret"},
		{"server-set field", "application/json", `{"code":"123456","id":"x"}`, "id"},
	}
	for _, tc := range tests {
		t.Run("re-enrol: "+tc.name, func(t *testing.T) {
			p := h.send(t, http.MethodPost, "/v1/me/mfa/totp", tok, tc.contentType, tc.body).requireField(t, tc.field)
			if tc.field == "code" && tc.body != `{"code":"12345"}` && tc.body != `{"code":123456}` {
				require.Contains(t, p.Detail, "authenticator app", "the reason says where the code comes from")
			}
		})
	}
	h.send(t, http.MethodPost, "/v1/me/mfa/totp", tok, "text/plain", `{"code":"123456"}`).
		requireStatus(t, http.StatusUnsupportedMediaType)
	// The wrong code above counted towards the account's sign-in lockout
	// (pkg/identity tests that five lock it); the right one below clears it.

	// A current code starts the replacement; it is then used up, here and
	// at sign-in.
	code := totpCode(t, secret, 30*time.Second)
	r := h.postJSON(t, "/v1/me/mfa/totp", tok, map[string]string{"code": code})
	r.requireStatus(t, http.StatusCreated)
	next := idDecode[map[string]string](t, r)["secret"]
	require.NotEqual(t, secret, next)
	h.postJSON(t, "/v1/me/mfa/totp", tok, map[string]string{"code": code}).requireField(t, "code")
	r = h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, email, pw, code))
	r.requireStatus(t, http.StatusUnauthorized)
	require.Equal(t, ProblemUnauthorized, r.problem(t).Type, "the re-enrolment's code does not sign in")

	// Confirmed, the new authenticator is the one sign-in asks for.
	h.postJSON(t, "/v1/me/mfa/totp/confirm", tok, map[string]string{"code": totpCode(t, next, 0)}).
		requireStatus(t, http.StatusNoContent)
	h.login(t, tenant, email, pw, totpCode(t, next, 30*time.Second))

	// Turning it off: refusals first, none of which changes anything.
	offTests := []struct {
		name, body, field string
	}{
		{"no body", "", "code"},
		{"no proof", `{}`, "code"},
		{"both proofs", jsonDoc(t, map[string]string{"code": wrong, "password": pw}), "password"},
		{"wrong code", jsonDoc(t, map[string]string{"code": wrongTOTPCode(t, next)}), "code"},
		{"wrong password", `{"password":"not the password at all"}`, "password"},
		{"unknown field", `{"password":"x","force":true}`, "force"},
		{"server-set field", `{"password":"x","tenant":"globex"}`, "tenant"},
	}
	for _, tc := range offTests {
		t.Run("turn off: "+tc.name, func(t *testing.T) {
			h.deleteJSON(t, "/v1/me/mfa/totp", tok, tc.body).requireField(t, tc.field)
		})
	}
	h.deleteJSON(t, "/v1/me/mfa/totp", h.token(tenant), `{"password":"x"}`).requireField(t, "Authorization")
	require.True(t, h.mfaOn(t, tok))

	// The password turns it off; sign-in then needs no code.
	h.deleteJSON(t, "/v1/me/mfa/totp", tok, jsonDoc(t, map[string]string{"password": pw})).requireStatus(t, http.StatusNoContent)
	require.False(t, h.mfaOn(t, tok))
	require.False(t, h.login(t, tenant, email, pw, "").User.MFAEnabled)
	r = h.deleteJSON(t, "/v1/me/mfa/totp", tok, jsonDoc(t, map[string]string{"password": pw}))
	r.requireStatus(t, http.StatusConflict)
	require.Equal(t, ProblemConflict, r.problem(t).Type)

	// So does a current code, for another user.
	u, upw := h.addUser(t, tenant, "coder", auth.RoleViewer)
	utok := h.login(t, tenant, u.Email, upw, "").AccessToken
	usecret := h.enrolMFA(t, utok, upw)
	r = h.deleteJSON(t, "/v1/me/mfa/totp", utok, jsonDoc(t, map[string]string{"code": totpCode(t, usecret, 30*time.Second)}))
	r.requireStatus(t, http.StatusNoContent)
	require.False(t, h.login(t, tenant, u.Email, upw, "").User.MFAEnabled)
	rec := h.auditOf(t, r.Header.Get("X-Request-Id"))[0]
	require.Equal(t, "mfa.disable", rec.Action)
	require.Equal(t, u.ID, rec.Actor)
	require.Equal(t, audit.Resource{Type: "user", ID: u.ID}, rec.Resource)
}

// TestIdentityMFAPasswordProofLocks: a wrong password sent to turn MFA off
// counts towards the account's sign-in lockout, like a failed sign-in.
func TestIdentityMFAPasswordProofLocks(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-mfa-lock"
	h.seedTenant(t, tenant)
	u, pw := h.addUser(t, tenant, "target", auth.RoleAdmin)
	tok := h.login(t, tenant, u.Email, pw, "").AccessToken
	secret := h.enrolMFA(t, tok, pw)
	for range identity.DefaultMaxFailures {
		h.deleteJSON(t, "/v1/me/mfa/totp", tok, `{"password":"a guess at the password"}`).requireField(t, "password")
	}
	for _, r := range []idResponse{
		h.deleteJSON(t, "/v1/me/mfa/totp", tok, jsonDoc(t, map[string]string{"password": pw})),
		h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, u.Email, pw, totpCode(t, secret, 30*time.Second))),
	} {
		r.requireStatus(t, http.StatusTooManyRequests)
		require.Equal(t, ProblemSignInLocked, r.problem(t).Type)
		require.NotEmpty(t, r.Header.Get("Retry-After"))
	}
	require.True(t, h.mfaOn(t, tok), "the locked account keeps its second factor")
}

// TestIdentityPasswordChange: a signed-in user changes their password with
// the current one; their other sessions end, this one goes on.
func TestIdentityPasswordChange(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-passwd"
	ownerEmail, ownerPW := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, ownerEmail, ownerPW, "")
	u, pw := h.addUser(t, tenant, "changer", auth.RoleAnalyst)
	here := h.login(t, tenant, u.Email, pw, "")
	elsewhere := h.login(t, tenant, u.Email, pw, "")
	const newPW = "a much better passphrase"

	r := h.postJSON(t, "/v1/api-keys", owner.AccessToken, map[string]string{"name": "ci", "role": auth.RoleAnalyst})
	r.requireStatus(t, http.StatusCreated)
	apiKey := idDecode[apiKeyView](t, r).Key

	tests := []struct {
		name, bearer, body, field string
	}{
		{"no current password", here.AccessToken, jsonDoc(t, map[string]string{"new_password": newPW}), "current_password"},
		{"no new password", here.AccessToken, jsonDoc(t, map[string]string{"current_password": pw}), "new_password"},
		{"new password too short", here.AccessToken, jsonDoc(t, map[string]string{"current_password": pw, "new_password": "short"}), "new_password"},
		{"new password too long", here.AccessToken, jsonDoc(t, map[string]string{"current_password": pw, "new_password": strings.Repeat("x", 129)}), "new_password"},
		{"the same password", here.AccessToken, jsonDoc(t, map[string]string{"current_password": pw, "new_password": pw}), "new_password"},
		{"a commonly breached new password", here.AccessToken, jsonDoc(t, map[string]string{"current_password": pw, "new_password": "1Qaz2Wsx3Edc"}), "new_password"},
		{"wrong current password", here.AccessToken, jsonDoc(t, map[string]string{"current_password": "not my password", "new_password": newPW}), "current_password"},
		{"unknown field", here.AccessToken, `{"current_password":"x","new_password":"y","email":"a@b.c"}`, "email"},
		{"server-set field", here.AccessToken, `{"current_password":"x","new_password":"y","role":"owner"}`, "role"},
		{"not an object", here.AccessToken, `["x"]`, "body"},
		{"an API key", apiKey, jsonDoc(t, map[string]string{"current_password": pw, "new_password": newPW}), "Authorization"},
		{"a token without a session", h.token(tenant), jsonDoc(t, map[string]string{"current_password": pw, "new_password": newPW}), "Authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.postJSON(t, "/v1/me/password", tc.bearer, tc.body).requireField(t, tc.field)
		})
	}
	h.send(t, http.MethodPost, "/v1/me/password", here.AccessToken, "", "").requireStatus(t, http.StatusUnsupportedMediaType)
	require.Equal(t, http.StatusOK, h.meStatus(t, elsewhere.AccessToken), "refusals end no session")

	r = h.postJSON(t, "/v1/me/password", here.AccessToken, map[string]string{"current_password": pw, "new_password": newPW})
	r.requireStatus(t, http.StatusNoContent)
	rec := h.auditOf(t, r.Header.Get("X-Request-Id"))[0]
	require.Equal(t, "password.change", rec.Action)
	require.Equal(t, tenant, rec.Tenant)
	require.Equal(t, u.ID, rec.Actor)
	require.Equal(t, audit.Success, rec.Outcome)

	// This session goes on; the other one is out on the spot.
	require.Equal(t, http.StatusOK, h.meStatus(t, here.AccessToken))
	require.Equal(t, http.StatusUnauthorized, h.meStatus(t, elsewhere.AccessToken))
	h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": elsewhere.RefreshToken}).requireStatus(t, http.StatusUnauthorized)
	h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": here.RefreshToken}).requireStatus(t, http.StatusOK)
	require.Equal(t, http.StatusOK, h.meStatus(t, owner.AccessToken), "other users are untouched")
	h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, u.Email, pw, "")).requireStatus(t, http.StatusUnauthorized)
	h.login(t, tenant, u.Email, newPW, "")

	t.Run("wrong current passwords lock the account", func(t *testing.T) {
		v, vpw := h.addUser(t, tenant, "guessed", auth.RoleViewer)
		s := h.login(t, tenant, v.Email, vpw, "")
		for range identity.DefaultMaxFailures {
			h.postJSON(t, "/v1/me/password", s.AccessToken, map[string]string{"current_password": "a guess", "new_password": newPW}).
				requireField(t, "current_password")
		}
		for _, r := range []idResponse{
			h.postJSON(t, "/v1/me/password", s.AccessToken, map[string]string{"current_password": vpw, "new_password": newPW}),
			h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, v.Email, vpw, "")),
		} {
			r.requireStatus(t, http.StatusTooManyRequests)
			require.Equal(t, ProblemSignInLocked, r.problem(t).Type)
			require.NotEmpty(t, r.Header.Get("Retry-After"))
		}
		require.Equal(t, http.StatusOK, h.meStatus(t, s.AccessToken), "a locked account's session goes on")
	})

	t.Run("a platform operator changes theirs", func(t *testing.T) {
		op := h.operator(t)
		h.postJSON(t, "/v1/me/password", op.AccessToken, map[string]string{
			"current_password": "platform operator password", "new_password": "a new operator passphrase",
		}).requireStatus(t, http.StatusNoContent)
		h.login(t, auth.PlatformTenant, "ops@platform.test", "a new operator passphrase", "")
	})
}

// TestIdentityAdminResets: an owner or admin resets a user's lost second
// factor or forgotten password; both end the user's sessions. Only an
// owner acts on an owner, and nobody resets their own account this way.
func TestIdentityAdminResets(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	tenant := "acme-resets"
	ownerEmail, ownerPW := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, ownerEmail, ownerPW, "")
	admin, adminPW := h.addUser(t, tenant, "admin", auth.RoleAdmin)
	adminTok := h.login(t, tenant, admin.Email, adminPW, "").AccessToken
	h.seedTenant(t, "globex-resets")
	globex, err := h.ident.ListUsers(t.Context(), "globex-resets")
	require.NoError(t, err)
	foreignID := globex[0].ID

	t.Run("lost authenticator", func(t *testing.T) {
		u, upw := h.addUser(t, tenant, "lost-phone", auth.RoleAnalyst)
		s := h.login(t, tenant, u.Email, upw, "")
		h.enrolMFA(t, s.AccessToken, upw)
		h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, u.Email, upw, "")).requireStatus(t, http.StatusUnauthorized)

		path := "/v1/users/" + u.ID + "/mfa/reset"
		h.send(t, http.MethodPost, path, s.AccessToken, "", "").requireStatus(t, http.StatusForbidden)
		r := h.send(t, http.MethodPost, path, adminTok, "", "")
		r.requireStatus(t, http.StatusNoContent)
		rec := h.auditOf(t, r.Header.Get("X-Request-Id"))[0]
		require.Equal(t, "user.mfa_reset", rec.Action)
		require.Equal(t, admin.ID, rec.Actor)
		require.Equal(t, audit.Resource{Type: "user", ID: u.ID}, rec.Resource)

		// Whoever held the user's session is out; the password alone signs in.
		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, s.AccessToken))
		h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}).requireStatus(t, http.StatusUnauthorized)
		require.False(t, h.login(t, tenant, u.Email, upw, "").User.MFAEnabled)
		got, err := h.ident.GetUser(t.Context(), tenant, u.ID)
		require.NoError(t, err)
		require.False(t, got.MFAEnabled)
	})

	t.Run("forgotten password, generated", func(t *testing.T) {
		u, upw := h.addUser(t, tenant, "forgetful", auth.RoleViewer)
		s := h.login(t, tenant, u.Email, upw, "")
		// Guessing locked the account.
		for range identity.DefaultMaxFailures {
			h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, u.Email, "was it this one?", "")).requireStatus(t, http.StatusUnauthorized)
		}
		path := "/v1/users/" + u.ID + "/password"
		r := h.send(t, http.MethodPost, path, owner.AccessToken, "", "")
		r.requireStatus(t, http.StatusOK)
		v := idDecode[userView](t, r)
		require.Equal(t, u.ID, v.ID)
		require.Len(t, v.Password, 20, "the generated password, shown once")
		require.NotContains(t, string(r.Body), "argon2")
		rec := h.auditOf(t, r.Header.Get("X-Request-Id"))[0]
		require.Equal(t, "user.password_reset", rec.Action)
		require.Equal(t, audit.Resource{Type: "user", ID: u.ID}, rec.Resource)

		require.Equal(t, http.StatusUnauthorized, h.meStatus(t, s.AccessToken), "the user's sessions end")
		h.postJSON(t, "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}).requireStatus(t, http.StatusUnauthorized)
		h.postJSON(t, "/v1/auth/login", "", loginBody(tenant, u.Email, upw, "")).requireStatus(t, http.StatusUnauthorized)
		h.login(t, tenant, u.Email, v.Password, "") // the lockout was cleared
		r = h.get(t, "/v1/users/"+u.ID, owner.AccessToken)
		require.NotContains(t, string(r.Body), v.Password, "shown once only")
	})

	t.Run("forgotten password, chosen", func(t *testing.T) {
		u, _ := h.addUser(t, tenant, "chosen", auth.RoleViewer)
		path := "/v1/users/" + u.ID + "/password"
		refusals := []struct{ name, contentType, body, field string }{
			{"too short", "application/json", `{"new_password":"short"}`, "new_password"},
			{"not a string", "application/json", `{"new_password":12345678901234}`, "new_password"},
			{"unknown field", "application/json", `{"password":"twelve chars or more"}`, "password"},
			{"server-set field", "application/json", `{"role":"owner"}`, "role"},
		}
		for _, tc := range refusals {
			h.send(t, http.MethodPost, path, adminTok, tc.contentType, tc.body).requireField(t, tc.field)
		}
		h.send(t, http.MethodPost, path, adminTok, "text/plain", `{"new_password":"twelve chars or more"}`).
			requireStatus(t, http.StatusUnsupportedMediaType)
		r := h.postJSON(t, path, adminTok, map[string]string{"new_password": "twelve chars or more"})
		r.requireStatus(t, http.StatusOK)
		require.NotContains(t, string(r.Body), "password", "a chosen password is not echoed")
		h.login(t, tenant, u.Email, "twelve chars or more", "")
	})

	t.Run("only an owner resets an owner; nobody resets themselves", func(t *testing.T) {
		for _, suffix := range []string{"/mfa/reset", "/password"} {
			tests := []struct {
				name, bearer, id string
				status           int
			}{
				{"admin on the owner", adminTok, owner.User.ID, http.StatusForbidden},
				{"admin on themselves", adminTok, admin.ID, http.StatusForbidden},
				{"owner on themselves", owner.AccessToken, owner.User.ID, http.StatusForbidden},
				{"another tenant's user", owner.AccessToken, foreignID, http.StatusNotFound},
				{"no such user", owner.AccessToken, "00000000-0000-4000-8000-000000000000", http.StatusNotFound},
				{"not an id", owner.AccessToken, "not_an_id", http.StatusNotFound},
			}
			for _, tc := range tests {
				t.Run(suffix+" "+tc.name, func(t *testing.T) {
					r := h.send(t, http.MethodPost, "/v1/users/"+tc.id+suffix, tc.bearer, "", "")
					r.requireStatus(t, tc.status)
					if tc.status == http.StatusForbidden {
						require.Equal(t, ProblemForbidden, r.problem(t).Type)
					}
				})
			}
		}
		require.Equal(t, http.StatusOK, h.meStatus(t, owner.AccessToken), "the owner was not touched")
		require.Equal(t, http.StatusOK, h.meStatus(t, adminTok), "nor the admin")
		g, err := h.ident.GetUser(t.Context(), "globex-resets", foreignID)
		require.NoError(t, err)
		require.False(t, g.Disabled)
		h.login(t, "globex-resets", "owner@globex-resets.test", "correct horse globex-resets", "")
		// An owner resets an admin.
		h.send(t, http.MethodPost, "/v1/users/"+admin.ID+"/mfa/reset", owner.AccessToken, "", "").requireStatus(t, http.StatusNoContent)
	})
}

// TestOpenAPIAccountRecoveryAnswersMatchTheirSchemas calls the account
// recovery operations as a client following the document would: each
// request is valid against its schema, each answer's status is one the
// operation documents, and each body has the shape it names.
func TestOpenAPIAccountRecoveryAnswersMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	schemas := newOASSchemas(t)
	ops, _ := docOperations(t)
	const tenant = "acme-oas-recovery"
	email, pw := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, email, pw, "").AccessToken
	u, upw := h.addUser(t, tenant, "li", auth.RoleAnalyst)
	userTok := h.login(t, tenant, u.Email, upw, "").AccessToken

	call := func(t *testing.T, method, route, path, bearer, reqSchema, body string, want int, respSchema string) []byte {
		t.Helper()
		if reqSchema != "" {
			schemas.requireValid(t, "/components/schemas/"+reqSchema, []byte(body))
		}
		status, ct, got := oasSend(t, h.env, method, path, bearer, body)
		require.Equalf(t, want, status, "%s %s: %s", method, path, got)
		op, ok := ops[method+" "+route]
		require.Truef(t, ok, "%s %s is not documented", method, route)
		require.Containsf(t, op.Responses, strconv.Itoa(status), "%s %s does not document %d", method, route, status)
		if respSchema != "" {
			schemas.requireValid(t, "/components/schemas/"+respSchema, got)
		}
		if want >= 400 {
			require.Equal(t, contentTypeProblem, ct)
			schemas.requireValid(t, "/components/schemas/Problem", got)
		}
		return got
	}

	// The user turns MFA on, replaces the authenticator, and turns it off.
	call(t, http.MethodPost, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPEnrollRequest", `{}`, http.StatusBadRequest, "")
	call(t, http.MethodPost, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPEnrollRequest",
		`{"password":"not the password at all"}`, http.StatusBadRequest, "")
	call(t, http.MethodPost, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPEnrollRequest",
		jsonDoc(t, map[string]string{"password": upw}), http.StatusCreated, "TOTPEnrollment")
	secret := h.enrolMFA(t, userTok, upw)
	call(t, http.MethodPost, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "", "", http.StatusBadRequest, "")
	call(t, http.MethodPost, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPEnrollRequest",
		jsonDoc(t, map[string]string{"code": totpCode(t, secret, 30*time.Second)}), http.StatusCreated, "TOTPEnrollment")
	call(t, http.MethodDelete, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPDisableRequest",
		`{"password":"not the password at all"}`, http.StatusBadRequest, "")
	call(t, http.MethodDelete, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPDisableRequest",
		jsonDoc(t, map[string]string{"password": upw}), http.StatusNoContent, "")
	call(t, http.MethodDelete, "/v1/me/mfa/totp", "/v1/me/mfa/totp", userTok, "TOTPDisableRequest",
		jsonDoc(t, map[string]string{"password": upw}), http.StatusConflict, "")

	// The user changes their password.
	const newPW = "a much better passphrase"
	call(t, http.MethodPost, "/v1/me/password", "/v1/me/password", userTok, "ChangePasswordRequest",
		jsonDoc(t, map[string]string{"current_password": "not the password", "new_password": newPW}), http.StatusBadRequest, "")
	call(t, http.MethodPost, "/v1/me/password", "/v1/me/password", userTok, "ChangePasswordRequest",
		jsonDoc(t, map[string]string{"current_password": upw, "new_password": newPW}), http.StatusNoContent, "")

	// The owner resets them.
	userPath := "/v1/users/" + u.ID
	call(t, http.MethodPost, "/v1/users/:id/mfa/reset", userPath+"/mfa/reset", owner, "", "", http.StatusNoContent, "")
	call(t, http.MethodPost, "/v1/users/:id/mfa/reset", "/v1/users/"+uuid.NewString()+"/mfa/reset", owner, "", "", http.StatusNotFound, "")
	got := call(t, http.MethodPost, "/v1/users/:id/password", userPath+"/password", owner, "", "", http.StatusOK, "PasswordReset")
	require.Contains(t, string(got), `"password"`)
	got = call(t, http.MethodPost, "/v1/users/:id/password", userPath+"/password", owner, "ResetPasswordRequest",
		`{"new_password":"a temporary passphrase"}`, http.StatusOK, "PasswordReset")
	require.NotContains(t, string(got), `"password"`)
	call(t, http.MethodPost, "/v1/users/:id/password", userPath+"/password", owner, "", `{"new_password":"short"}`, http.StatusBadRequest, "")
	call(t, http.MethodPost, "/v1/users/:id/password", userPath+"/password", userTok, "", "", http.StatusUnauthorized, "")
}

// TestOWASPAPI3MassAssignmentAccountRecovery is the mass-assignment probe
// (OWASP API3:2023) for the account recovery bodies: an otherwise valid
// body plus one field only the server sets answers 400 naming it and
// changes nothing (no enrolment, MFA still on, passwords unchanged); the
// same bodies without the field are then accepted.
func TestOWASPAPI3MassAssignmentAccountRecovery(t *testing.T) {
	t.Parallel()
	h := newIdentityHarness(t)
	ctx := t.Context()
	const tenant = "acme-mass-recovery"
	email, pw := h.seedTenant(t, tenant)
	owner := h.login(t, tenant, email, pw, "")
	analyst, analystPW := h.addUser(t, tenant, "analyst", auth.RoleAnalyst)
	guarded, guardedPW := h.addUser(t, tenant, "guarded", auth.RoleViewer)
	guardedTok := h.login(t, tenant, guarded.Email, guardedPW, "").AccessToken
	h.enrolMFA(t, guardedTok, guardedPW)

	withField := func(body, field string) string {
		return `{"` + field + `":"` + field + `-from-client",` + strings.TrimPrefix(body, "{")
	}
	routes := []struct {
		name, method, route, path, token, body string
		accepted                               int
	}{
		{"enrolment", http.MethodPost, "/v1/me/mfa/totp", "/v1/me/mfa/totp", owner.AccessToken,
			jsonDoc(t, map[string]string{"password": pw, "code": "123456"}), http.StatusCreated},
		{"second factor off", http.MethodDelete, "/v1/me/mfa/totp", "/v1/me/mfa/totp", guardedTok,
			jsonDoc(t, map[string]string{"password": guardedPW}), http.StatusNoContent},
		{"password change", http.MethodPost, "/v1/me/password", "/v1/me/password", owner.AccessToken,
			jsonDoc(t, map[string]string{"current_password": pw, "new_password": "the owner's new passphrase"}), http.StatusNoContent},
		{"password reset", http.MethodPost, "/v1/users/:id/password", "/v1/users/" + analyst.ID + "/password", owner.AccessToken,
			`{"new_password":"chosen by the owner"}`, http.StatusOK},
	}
	var probes atomic.Int64
	t.Run("probes", func(t *testing.T) {
		for _, r := range routes {
			fields := bodyServerFields[routeKey(r.method, r.route)]
			require.NotEmptyf(t, fields, "%s %s has no server-set fields", r.method, r.route)
			for _, field := range fields {
				t.Run(r.name+" with "+field, func(t *testing.T) {
					p := h.send(t, r.method, r.path, r.token, "application/json", withField(r.body, field)).requireField(t, field)
					require.Equal(t, field+": is set by the server and cannot be sent", p.Detail)
					probes.Add(1)
				})
			}
		}
	})

	// Nothing refused changed anything.
	stored, err := h.ports.Users.Get(ctx, tenant, owner.User.ID)
	require.NoError(t, err)
	require.Empty(t, stored.TOTPPending, "no enrolment was started")
	require.True(t, h.mfaOn(t, guardedTok), "the second factor is still on")
	h.login(t, tenant, email, pw, "")
	h.login(t, tenant, analyst.Email, analystPW, "")

	for _, r := range routes {
		h.send(t, r.method, r.path, r.token, "application/json", r.body).requireStatus(t, r.accepted)
	}
	t.Logf("OWASP API3:2023 mass assignment on account recovery routes: %d probes over %d body routes, each refused with 400",
		probes.Load(), len(routes))
}
