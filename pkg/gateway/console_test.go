package gateway

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// TestPagesFollowTheAccessMatrix: every console page names an API route of
// the access matrix, and only sign-in, the home redirect and the static
// files are open without a session.
func TestPagesFollowTheAccessMatrix(t *testing.T) {
	t.Parallel()
	var public []string
	for _, r := range (&console.Console{}).Routes() {
		if r.API == "" {
			public = append(public, r.Method+" "+r.Path)
			continue
		}
		method, route, ok := strings.Cut(r.API, " ")
		require.True(t, ok, r.API)
		_, ok = RouteRoles(method, route)
		require.Truef(t, ok, "console page %s %s follows %s, which is not in the access matrix", r.Method, r.Path, r.API)
	}
	require.ElementsMatch(t, []string{"GET /static/:name", "GET /", "GET /sign-in", "POST /sign-in"}, public)
}

// consoleGet sends a console request without following redirects.
func consoleGet(t *testing.T, e *env, method, path string, cookies map[string]string, form url.Values) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.http.URL+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestConsoleRoutingSessionsAndRoles checks what the gateway does with
// console paths: pages under the console's segments get HTML with the strict
// CSP and no inline script, other paths stay API problems, a page without a
// session goes to sign-in, a form without the CSRF token is refused, the
// role matrix decides which pages a role opens, and another tenant's
// assessment is the not-found page.
func TestConsoleRoutingSessionsAndRoles(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})

	r := consoleGet(t, e, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, "/assessments", r.Header.Get("Location"))

	r = consoleGet(t, e, http.MethodGet, "/assessments?status=running", nil, nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, "/sign-in?next="+url.QueryEscape("/assessments?status=running"), r.Header.Get("Location"))

	r = consoleGet(t, e, http.MethodGet, "/sign-in", nil, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Equal(t, console.ContentSecurityPolicy, r.Header.Get("Content-Security-Policy"))
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	page := readAll(t, r)
	require.Contains(t, page, `<label for="f-password">Password</label>`)
	require.NotRegexp(t, regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`), page, "no inline script")
	require.NotContains(t, page, `style="`, "no inline style")
	var csrf string
	for _, c := range r.Cookies() {
		if c.Name == "im_csrf" {
			csrf = c.Value
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		}
	}
	require.NotEmpty(t, csrf)

	// The API keeps every other path, and answers as the API does.
	r = consoleGet(t, e, http.MethodGet, "/admin", nil, nil)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	require.Equal(t, contentTypeProblem, r.Header.Get("Content-Type"))

	// A form post without the token, or with another one, is refused.
	form := url.Values{"tenant": {"acme"}, "email": {"a@b.test"}, "password": {"whatever-it-is"}}
	r = consoleGet(t, e, http.MethodPost, "/sign-in", map[string]string{"im_csrf": csrf}, form)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	form.Set("csrf", "not-the-token-not-the-token-not-the-token-1")
	r = consoleGet(t, e, http.MethodPost, "/sign-in", map[string]string{"im_csrf": csrf}, form)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	form.Set("csrf", csrf)
	r = consoleGet(t, e, http.MethodPost, "/sign-in", map[string]string{"im_csrf": csrf}, form)
	require.Equal(t, http.StatusUnauthorized, r.StatusCode, "with the token the credentials are checked (and wrong)")
	require.Contains(t, readAll(t, r), "The tenant, email or password is wrong.")

	// Roles: a viewer reads the list but may not open the new-assessment form.
	const tenant = "acme-console"
	id := e.create(t, tenant, "console reads")
	viewer, err := e.signer.Issue("user-viewer", tenant, []string{auth.RoleViewer}, time.Hour)
	require.NoError(t, err)
	as := map[string]string{"im_access": viewer}
	r = consoleGet(t, e, http.MethodGet, "/assessments", as, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, readAll(t, r), "console reads")
	r = consoleGet(t, e, http.MethodGet, "/assessments/new", as, nil)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	require.Contains(t, readAll(t, r), "POST /v1/assessments")
	r = consoleGet(t, e, http.MethodGet, "/assessments/"+id, as, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)

	// Another tenant's assessment is not found, not forbidden.
	rival, err := e.signer.Issue("user-owner", "rival-console", []string{auth.RoleOwner}, time.Hour)
	require.NoError(t, err)
	r = consoleGet(t, e, http.MethodGet, "/assessments/"+id, map[string]string{"im_access": rival}, nil)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	body := readAll(t, r)
	require.Contains(t, body, "Not found")
	require.NotContains(t, body, "console reads")

	// The platform operator reaches no tenant's pages.
	op, err := e.signer.Issue("user-op", auth.PlatformTenant, []string{auth.RoleOperator}, time.Hour)
	require.NoError(t, err)
	r = consoleGet(t, e, http.MethodGet, "/assessments", map[string]string{"im_access": op}, nil)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
}

// cookieOf returns the value a response last set for a cookie ("" when
// none, or when it deleted it).
func cookieOf(r *http.Response, name string) string {
	v := ""
	for _, c := range r.Cookies() {
		if c.Name == name {
			v = c.Value
		}
	}
	return v
}

// TestConsoleSignInWithTOTPAndRefresh signs in through the console's form as
// a user with TOTP on (the password first, then the code on a second step
// that never shows the password again), then lets the access token go bad
// and sees the page served from the refresh cookie, with new cookies.
func TestConsoleSignInWithTOTPAndRefresh(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	ctx := t.Context()
	const tenant = "acme-console-mfa"
	email, pw := "owner@"+tenant+".test", "correct horse "+tenant
	_, owner, _, err := e.ident.CreateTenant(ctx, tenant, "Tenant "+tenant, identity.NewUser{Email: email, Password: pw})
	require.NoError(t, err)
	en, err := e.ident.EnrollTOTP(ctx, tenant, owner.ID, identity.Reauth{Password: pw})
	require.NoError(t, err)
	code, err := totp.GenerateCode(en.Secret, time.Now())
	require.NoError(t, err)
	require.NoError(t, e.ident.ConfirmTOTP(ctx, tenant, owner.ID, code))

	r := consoleGet(t, e, http.MethodGet, "/sign-in", nil, nil)
	csrf := cookieOf(r, "im_csrf")
	jar := map[string]string{"im_csrf": csrf}
	r = consoleGet(t, e, http.MethodPost, "/sign-in", jar, url.Values{"csrf": {csrf}, "tenant": {tenant}, "email": {email},
		"password": {pw}, "next": {"/assessments?status=completed"}})
	require.Equal(t, http.StatusOK, r.StatusCode)
	page := readAll(t, r)
	require.Contains(t, page, "Code from your authenticator app")
	require.NotContains(t, page, pw, "the second step never shows the password")
	require.Empty(t, cookieOf(r, "im_access"), "no session before the code")
	mfa := cookieOf(r, "im_mfa")
	require.NotEmpty(t, mfa)
	require.NotContains(t, mfa, pw)

	// A wrong code keeps the step; the right one signs in and goes back.
	jar["im_mfa"] = mfa
	r = consoleGet(t, e, http.MethodPost, "/sign-in", jar, url.Values{"csrf": {csrf}, "step": {"code"}, "code": {"000000"}, "next": {"/assessments?status=completed"}})
	require.Equal(t, http.StatusUnauthorized, r.StatusCode)
	require.Contains(t, readAll(t, r), "code: is not the current code")
	jar["im_mfa"] = cookieOf(r, "im_mfa")
	require.NotEmpty(t, jar["im_mfa"], "a new challenge for the next try")
	next, err := totp.GenerateCode(en.Secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	r = consoleGet(t, e, http.MethodPost, "/sign-in", jar, url.Values{"csrf": {csrf}, "step": {"code"}, "code": {next}, "next": {"/assessments?status=completed"}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, "/assessments?status=completed", r.Header.Get("Location"))
	access, refresh := cookieOf(r, "im_access"), cookieOf(r, "im_refresh")
	require.NotEmpty(t, access)
	require.NotEmpty(t, refresh)

	// The challenge was used: replaying the code step is refused.
	r = consoleGet(t, e, http.MethodPost, "/sign-in", jar, url.Values{"csrf": {csrf}, "step": {"code"}, "code": {next}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)

	// An access token that no longer verifies is replaced from the refresh
	// cookie and the page is served.
	r = consoleGet(t, e, http.MethodGet, "/assessments", map[string]string{"im_access": access + "x", "im_refresh": refresh}, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.NotEmpty(t, cookieOf(r, "im_access"))
	require.NotEqual(t, refresh, cookieOf(r, "im_refresh"), "the refresh token rotates")

	// The old refresh token was rotated away: alone it signs nobody in.
	r = consoleGet(t, e, http.MethodGet, "/assessments", map[string]string{"im_refresh": refresh}, nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Contains(t, r.Header.Get("Location"), "/sign-in")
}
