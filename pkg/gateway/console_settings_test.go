package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// consoleSession is a signed-in console visitor: cookies and the CSRF token.
type consoleSession struct {
	t   *testing.T
	e   *env
	jar map[string]string
}

// consoleAs signs subject in to the console of tenant with role (an access
// token in the cookie, as a sign-in leaves it) and takes a CSRF token.
func consoleAs(t *testing.T, e *env, subject, tenant, role string) *consoleSession {
	t.Helper()
	tok, err := e.signer.Issue(subject, tenant, []string{role}, time.Hour)
	require.NoError(t, err)
	r := consoleGet(t, e, http.MethodGet, "/sign-in", nil, nil)
	csrf := cookieOf(r, "im_csrf")
	require.NotEmpty(t, csrf)
	return &consoleSession{t: t, e: e, jar: map[string]string{"im_access": tok, "im_csrf": csrf}}
}

func (s *consoleSession) get(path string) (*http.Response, string) {
	s.t.Helper()
	r := consoleGet(s.t, s.e, http.MethodGet, path, s.jar, nil)
	return r, readAll(s.t, r)
}

// post sends a form with the CSRF token.
func (s *consoleSession) post(path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", s.jar["im_csrf"])
	r := consoleGet(s.t, s.e, http.MethodPost, path, s.jar, form)
	return r, readAll(s.t, r)
}

// onceSecret is the value of the page's shown-once input ("" when none).
func onceSecret(page string) string {
	m := regexp.MustCompile(`id="once-secret" class="secret" readonly value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// newConsoleTenant makes a tenant with its owner and returns the owner.
func newConsoleTenant(t *testing.T, e *env, tenant string) identity.User {
	t.Helper()
	_, owner, _, err := e.ident.CreateTenant(t.Context(), tenant, "Tenant "+tenant,
		identity.NewUser{Email: "owner@" + tenant + ".test", Password: "correct horse " + tenant})
	require.NoError(t, err)
	return owner
}

// TestConsoleSettingsUsers walks the users section as the tenant's owner
// and admin: the list, adding a user (a field error beside its input, then
// a generated password shown once), changing a role, the owner rule and the
// last-owner rule shown beside the row, signing a user out, resetting a
// password, disabling; and the refusals: a member's role gets the
// forbidden page, another tenant's user id the not-found page, a form
// without its CSRF token the expired-form page.
func TestConsoleSettingsUsers(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	ctx := t.Context()
	const tenant = "acme-settings-users"
	owner := newConsoleTenant(t, e, tenant)
	as := consoleAs(t, e, owner.ID, tenant, auth.RoleOwner)

	r, _ := as.get("/settings")
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, "/settings/users", r.Header.Get("Location"))
	r, page := as.get("/settings/users")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, page, owner.Email)
	require.Contains(t, page, `<a href="/settings/users" aria-current="page">Settings</a>`, "the top bar offers the settings")
	require.Contains(t, page, `<label for="f-email">Email</label>`)
	require.NotContains(t, page, `action="/settings/users/`+owner.ID+`/password"`, "nobody resets their own password here")

	// A bad email comes back beside its input, with what was typed.
	r, page = as.post("/settings/users", url.Values{"email": {"not-an-email"}, "name": {"Ann"}, "role": {"analyst"}, "password": {"typed secret 123"}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `<p class="error" id="e-f-email">email: `)
	require.Contains(t, page, `aria-invalid="true" aria-describedby="e-f-email"`)
	require.Contains(t, page, `value="Ann"`)
	require.NotContains(t, page, "typed secret 123", "a typed password is never sent back")

	// Without a password one is generated and shown on this answer only.
	r, page = as.post("/settings/users", url.Values{"email": {"ann@" + tenant + ".test"}, "name": {"Ann"}, "role": {"analyst"}})
	require.Equal(t, http.StatusCreated, r.StatusCode)
	pw := onceSecret(page)
	require.NotEmpty(t, pw)
	loc := r.Header.Get("Location")
	require.Regexp(t, `^/v1/users/[0-9a-f-]{36}$`, loc)
	annID := strings.TrimPrefix(loc, "/v1/users/")
	_, err := e.ident.Login(ctx, identity.LoginInput{Tenant: tenant, Email: "ann@" + tenant + ".test", Password: pw})
	require.NoError(t, err, "the password shown works")
	_, page = as.get("/settings/users")
	require.Contains(t, page, "ann@"+tenant+".test")
	require.NotContains(t, page, pw, "shown once, never again")

	// Change Ann's role to admin.
	r, _ = as.post("/settings/users/"+annID+"/role", url.Values{"role": {"admin"}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.True(t, strings.HasPrefix(r.Header.Get("Location"), "/settings/users?done="))
	u, err := e.ident.GetUser(ctx, tenant, annID)
	require.NoError(t, err)
	require.Equal(t, auth.RoleAdmin, u.Role)

	// An admin may not touch an owner: the refusal is beside the row's role.
	bob, _, err := e.ident.CreateUser(ctx, tenant, identity.NewUser{Email: "bob@" + tenant + ".test", Role: auth.RoleAdmin})
	require.NoError(t, err)
	admin := consoleAs(t, e, bob.ID, tenant, auth.RoleAdmin)
	r, page = admin.post("/settings/users/"+owner.ID+"/role", url.Values{"role": {"viewer"}})
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	require.Contains(t, page, `<p class="error" id="e-role-`+owner.ID+`">role: Only an owner can change an owner or make one.</p>`)
	// The last owner cannot demote themselves (409 beside the row).
	r, page = as.post("/settings/users/"+owner.ID+"/role", url.Values{"role": {"viewer"}})
	require.Equal(t, http.StatusConflict, r.StatusCode)
	require.Contains(t, page, `id="e-role-`+owner.ID+`"`)
	u, err = e.ident.GetUser(ctx, tenant, owner.ID)
	require.NoError(t, err)
	require.Equal(t, auth.RoleOwner, u.Role, "still the owner")
	// An unknown role is named beside the row's role.
	r, page = as.post("/settings/users/"+annID+"/role", url.Values{"role": {"emperor"}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `id="e-role-`+annID+`"`)

	// Sign Ann out everywhere, reset her password, then disable her.
	r, _ = as.post("/settings/users/"+annID+"/revoke-sessions", nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	r, page = as.post("/settings/users/"+annID+"/password", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	pw2 := onceSecret(page)
	require.NotEmpty(t, pw2)
	require.NotEqual(t, pw, pw2)
	_, err = e.ident.Login(ctx, identity.LoginInput{Tenant: tenant, Email: "ann@" + tenant + ".test", Password: pw2})
	require.NoError(t, err)
	r, _ = as.post("/settings/users/"+annID+"/mfa-reset", nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	r, _ = as.post("/settings/users/"+annID+"/disable", nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	u, err = e.ident.GetUser(ctx, tenant, annID)
	require.NoError(t, err)
	require.True(t, u.Disabled)
	_, page = as.get("/settings/users")
	require.Contains(t, page, "disabled")
	require.NotContains(t, page, `action="/settings/users/`+annID+`/disable"`, "a disabled user has no actions left")

	// Members: every settings page and action is the forbidden page.
	for _, role := range []string{auth.RoleAnalyst, auth.RoleViewer} {
		m := consoleAs(t, e, "user-"+role, tenant, role)
		r, page = m.get("/settings/users")
		require.Equal(t, http.StatusForbidden, r.StatusCode, role)
		require.Contains(t, page, "Not allowed")
		require.NotContains(t, page, owner.Email)
		r, _ = m.post("/settings/users", url.Values{"email": {"x@" + tenant + ".test"}, "role": {"viewer"}})
		require.Equal(t, http.StatusForbidden, r.StatusCode, role)
		r, _ = m.post("/settings/users/"+owner.ID+"/disable", nil)
		require.Equal(t, http.StatusForbidden, r.StatusCode, role)
		_, page = m.get("/assessments")
		require.NotContains(t, page, `href="/settings`, "no settings link for "+role)
	}

	// Another tenant's owner: the user ids of this tenant are not found.
	const rivalTenant = "rival-settings-users"
	rivalOwner := newConsoleTenant(t, e, rivalTenant)
	rival := consoleAs(t, e, rivalOwner.ID, rivalTenant, auth.RoleOwner)
	for _, p := range []string{"/role", "/disable", "/revoke-sessions", "/password", "/mfa-reset"} {
		r, page = rival.post("/settings/users/"+owner.ID+p, url.Values{"role": {"viewer"}})
		require.Equal(t, http.StatusNotFound, r.StatusCode, p)
		require.Contains(t, page, "There is no such user in your tenant.")
	}
	_, page = rival.get("/settings/users")
	require.NotContains(t, page, owner.Email)
	r, _ = rival.post("/settings/users/not-an-id/disable", nil)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	u, err = e.ident.GetUser(ctx, tenant, owner.ID)
	require.NoError(t, err)
	require.False(t, u.Disabled)

	// A form without its token is refused before anything happens.
	r = consoleGet(t, e, http.MethodPost, "/settings/users", as.jar, url.Values{"email": {"bob@" + tenant + ".test"}, "role": {"viewer"}})
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	require.Contains(t, readAll(t, r), "Form expired")
	users, err := e.ident.ListUsers(ctx, tenant)
	require.NoError(t, err)
	require.Len(t, users, 3, "the owner, Ann and Bob")
}

// TestConsoleSettingsAPIKeys creates an API key in the console (shown once,
// working on the API), refuses a bad expiry beside its field and an admin's
// owner key, revokes the key (it stops working), and keeps members and
// other tenants out.
func TestConsoleSettingsAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	const tenant = "acme-settings-keys"
	owner := newConsoleTenant(t, e, tenant)
	as := consoleAs(t, e, owner.ID, tenant, auth.RoleOwner)

	r, page := as.get("/settings/api-keys")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, page, "No API keys yet.")

	r, page = as.post("/settings/api-keys", url.Values{"name": {"ci"}, "role": {"viewer"}, "expires_at": {"next week"}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `<p class="error" id="e-f-expires-at">expires_at: must be a date`)
	r, page = as.post("/settings/api-keys", url.Values{"name": {""}, "role": {"viewer"}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `id="e-f-name"`)

	expires := time.Now().UTC().AddDate(0, 1, 0).Format("2006-01-02")
	r, page = as.post("/settings/api-keys", url.Values{"name": {"ci"}, "role": {"viewer"}, "expires_at": {expires}})
	require.Equal(t, http.StatusCreated, r.StatusCode)
	key := onceSecret(page)
	require.True(t, strings.HasPrefix(key, identity.APIKeyPrefix), key)
	keyID := strings.TrimPrefix(r.Header.Get("Location"), "/v1/api-keys/")
	require.True(t, identity.ValidAPIKeyID(keyID), keyID)

	// The key works on the API, and the list never shows it again.
	resp := e.doToken(t, http.MethodGet, "/v1/assessments", key)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, page = as.get("/settings/api-keys")
	require.NotContains(t, page, key)
	require.Contains(t, page, "imk_"+keyID)
	require.Contains(t, page, expires)

	// An admin may not create an owner key.
	adm := consoleAs(t, e, "user-admin", tenant, auth.RoleAdmin)
	r, page = adm.post("/settings/api-keys", url.Values{"name": {"root"}, "role": {"owner"}})
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	require.Contains(t, page, "Only an owner can create an owner API key.")

	// Members and other tenants.
	viewer := consoleAs(t, e, "user-viewer", tenant, auth.RoleViewer)
	r, _ = viewer.get("/settings/api-keys")
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	r, _ = viewer.post("/settings/api-keys/"+keyID+"/revoke", nil)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	rivalOwner := newConsoleTenant(t, e, "rival-settings-keys")
	rival := consoleAs(t, e, rivalOwner.ID, "rival-settings-keys", auth.RoleOwner)
	r, page = rival.post("/settings/api-keys/"+keyID+"/revoke", nil)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	require.Contains(t, page, "There is no such API key in your tenant.")
	resp = e.doToken(t, http.MethodGet, "/v1/assessments", key)
	require.Equal(t, http.StatusOK, resp.StatusCode, "still working")

	// Revoked: it stops working and stays listed as revoked.
	r, _ = as.post("/settings/api-keys/"+keyID+"/revoke", nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	resp = e.doToken(t, http.MethodGet, "/v1/assessments", key)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, page = as.get("/settings/api-keys")
	require.Contains(t, page, "revoked")
	require.NotContains(t, page, `action="/settings/api-keys/`+keyID+`/revoke"`)
}

// doToken calls the API with a bearer token.
func (e *env) doToken(t *testing.T, method, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestConsoleSettingsWebhooks adds a webhook (a refused URL beside its
// field, then the secret shown once), reads its delivery log with the
// status, attempts, last error and times, deletes it, and keeps members
// and other tenants out.
func TestConsoleSettingsWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := t.Context()
	const tenant = "acme-settings-hooks"
	owner := newConsoleTenant(t, e, tenant)
	as := consoleAs(t, e, owner.ID, tenant, auth.RoleOwner)

	r, page := as.get("/settings/webhooks")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, page, `value="assessment.completed"`)

	r, page = as.post("/settings/webhooks", url.Values{"url": {"http://127.0.0.1:9/hook"}, "event_types": {"assessment.completed"}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `<p class="error" id="e-f-url">url: `)
	require.Contains(t, page, `value="http://127.0.0.1:9/hook"`)
	r, page = as.post("/settings/webhooks", url.Values{"url": {publicURL}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `id="e-f-event-types"`)

	r, page = as.post("/settings/webhooks", url.Values{"url": {publicURL}, "event_types": {"assessment.completed", "assessment.status"}})
	require.Equal(t, http.StatusCreated, r.StatusCode)
	secret := onceSecret(page)
	require.NotEmpty(t, secret)
	hookID := strings.TrimPrefix(r.Header.Get("Location"), "/v1/webhooks/")
	stored, err := e.store.Webhooks.Get(ctx, tenant, hookID)
	require.NoError(t, err)
	require.Equal(t, secret, stored.Secret, "the secret shown is the one deliveries are signed with")
	_, page = as.get("/settings/webhooks")
	require.NotContains(t, page, secret)
	require.Contains(t, page, `href="/settings/webhooks/`+hookID+`"`)

	r, page = as.get("/settings/webhooks/" + hookID)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, page, "Nothing delivered yet")

	// A delivery that failed once and waits for its retry.
	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, e.store.Webhooks.CreateDelivery(ctx, store.Delivery{
		ID: store.DeliveryID(tenant, hookID, "ev-1"), TenantID: tenant, WebhookID: hookID, EventID: "ev-1",
		EventType: "assessment.completed", Status: store.DeliveryPending, CreatedAt: at, UpdatedAt: at,
		Attempts: []store.DeliveryAttempt{
			{Attempt: 1, At: at.Add(-time.Minute), StatusCode: 502, NextRetry: at},
			{Attempt: 2, At: at, Error: "connection refused", NextRetry: at.Add(5 * time.Minute)},
		},
	}))
	_, page = as.get("/settings/webhooks/" + hookID)
	require.Contains(t, page, "ev-1")
	require.Contains(t, page, `<span class="status s-pending">pending</span>`)
	require.Contains(t, page, `<td class="num">2</td>`)
	require.Contains(t, page, "connection refused")
	require.Contains(t, page, "HTTP 502")
	require.Contains(t, page, at.Add(5*time.Minute).Format("2006-01-02 15:04 UTC"))

	// Members and other tenants.
	analyst := consoleAs(t, e, "user-analyst", tenant, auth.RoleAnalyst)
	for _, p := range []string{"/settings/webhooks", "/settings/webhooks/" + hookID} {
		r, _ = analyst.get(p)
		require.Equal(t, http.StatusForbidden, r.StatusCode, p)
	}
	rivalOwner := newConsoleTenant(t, e, "rival-settings-hooks")
	rival := consoleAs(t, e, rivalOwner.ID, "rival-settings-hooks", auth.RoleOwner)
	r, page = rival.get("/settings/webhooks/" + hookID)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	require.Contains(t, page, "There is no such webhook in your tenant.")
	require.NotContains(t, page, "ev-1")
	r, _ = rival.post("/settings/webhooks/"+hookID+"/delete", nil)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	_, err = e.store.Webhooks.Get(ctx, tenant, hookID)
	require.NoError(t, err, "still there")

	r, _ = as.post("/settings/webhooks/"+hookID+"/delete", nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	r, _ = as.get("/settings/webhooks/" + hookID)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
}

// TestConsoleSettingsAudit: an action taken in the console is in the audit
// log under the API's action name, read through the API and on the
// console's audit page; the page filters as the API does, pages by the
// log's cursor without repeating a record, names a bad filter beside its
// field, and is refused to members.
func TestConsoleSettingsAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := t.Context()
	const tenant = "acme-settings-audit"
	owner := newConsoleTenant(t, e, tenant)
	as := consoleAs(t, e, owner.ID, tenant, auth.RoleOwner)

	r, page := as.post("/settings/api-keys", url.Values{"name": {"audited"}, "role": {"viewer"}})
	require.Equal(t, http.StatusCreated, r.StatusCode)
	keyID := strings.TrimPrefix(r.Header.Get("Location"), "/v1/api-keys/")
	require.NotEmpty(t, onceSecret(page))

	// The console's action reads like the API's in the log.
	var rec api.AuditRecord
	require.Eventually(t, func() bool {
		resp := e.do(t, http.MethodGet, "/v1/audit?action=api_key.create", tenant, "", nil, nil)
		if resp.StatusCode != http.StatusOK {
			return false
		}
		var list api.AuditList
		if json.NewDecoder(resp.Body).Decode(&list) != nil || len(list.Items) != 1 {
			return false
		}
		rec = list.Items[0]
		return true
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, owner.ID, rec.Actor)
	require.NotNil(t, rec.Resource.ID)
	require.Equal(t, keyID, *rec.Resource.ID)
	require.EqualValues(t, "success", rec.Outcome)
	require.Equal(t, http.StatusCreated, rec.Status)

	// A member's refused visit is recorded as denied.
	viewer := consoleAs(t, e, "user-viewer", tenant, auth.RoleViewer)
	r, _ = viewer.get("/settings/audit")
	require.Equal(t, http.StatusForbidden, r.StatusCode)

	// The page, filtered by action, shows the record.
	r, page = as.get("/settings/audit?action=api_key.create")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, page, "<code>api_key.create</code>")
	require.Contains(t, page, "<code>"+keyID+"</code>")
	require.Contains(t, page, `value="api_key.create"`, "the filter stays in its input")
	require.Eventually(t, func() bool {
		_, page := as.get("/settings/audit?action=audit.read&actor=user-viewer")
		return strings.Contains(page, `<span class="status o-denied">denied</span> 403`)
	}, 10*time.Second, 50*time.Millisecond)

	// A bad filter is named beside its input.
	r, page = as.get("/settings/audit?from=yesterday")
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `<p class="error" id="e-f-from">from: `)
	r, page = as.get("/settings/audit?from=2026-02-01T00:00&to=2026-01-01T00:00")
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, page, `<p class="error" id="e-f-to">to: must be later than from</p>`)
	r, _ = as.get("/settings/audit?cursor=not-a-cursor")
	require.Equal(t, http.StatusBadRequest, r.StatusCode)

	// Keyset paging over 70 records of one action: two pages, no repeats.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 70 {
		id, err := audit.NewID()
		require.NoError(t, err)
		require.NoError(t, e.store.Audit.Append(ctx, audit.Record{ID: id, Time: base.Add(time.Duration(i) * time.Second),
			Tenant: tenant, Actor: "user-batch", Action: "assessment.read", Resource: audit.Resource{Type: "assessment", ID: fmt.Sprintf("batch-%02d", i)},
			Outcome: audit.Success, Status: 200, RequestID: "req", SourceAddr: "192.0.2.1"}))
	}
	idRE := regexp.MustCompile(`<code>(batch-\d\d)</code>`)
	seen := map[string]bool{}
	next := "/settings/audit?action=assessment.read&actor=user-batch"
	pages := 0
	for next != "" {
		r, page = as.get(next)
		require.Equal(t, http.StatusOK, r.StatusCode)
		pages++
		for _, m := range idRE.FindAllStringSubmatch(page, -1) {
			require.False(t, seen[m[1]], "record %s on two pages", m[1])
			seen[m[1]] = true
		}
		next = ""
		if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(page); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
			require.Contains(t, next, "actor=user-batch", "the filter follows the pages")
		}
	}
	require.Equal(t, 2, pages)
	require.Len(t, seen, 70)
	_, page = as.get("/settings/audit?actor=user-batch&from=" + url.QueryEscape(base.Add(60*time.Second).Format(time.RFC3339)))
	require.Len(t, idRE.FindAllStringSubmatch(page, -1), 10, "from keeps the records at or after it")
}

// TestConsoleSignInIsAudited: a sign-in through the console is in the
// audit log as the API's POST /v1/auth/login is: a wrong password in the
// tenant's log under the account tried and still anonymous, a good one under
// the user it proved, and one naming no tenant outside every tenant's log.
func TestConsoleSignInIsAudited(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	const tenant = "acme-console-sign-in"
	owner := newConsoleTenant(t, e, tenant)
	r := consoleGet(t, e, http.MethodGet, "/sign-in", nil, nil)
	csrf := cookieOf(r, "im_csrf")
	require.NotEmpty(t, csrf)
	jar := map[string]string{"im_csrf": csrf}
	signIn := func(tenant, email, password string) *http.Response {
		return consoleGet(t, e, http.MethodPost, "/sign-in", jar,
			url.Values{"csrf": {csrf}, "tenant": {tenant}, "email": {email}, "password": {password}})
	}

	r = signIn(tenant, owner.Email, "not the password")
	require.Equal(t, http.StatusUnauthorized, r.StatusCode, readAll(t, r))
	r = signIn("no-such-tenant-here", owner.Email, "not the password")
	require.Equal(t, http.StatusUnauthorized, r.StatusCode, readAll(t, r))
	r = signIn(tenant, owner.Email, "correct horse "+tenant)
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	access := cookieOf(r, "im_access")
	require.NotEmpty(t, access, "the sign-in leaves its session")

	recs := auditOf(t, e, tenant, "auth.login", 2)
	require.Len(t, recs, 2, "the sign-in naming another tenant is not in this tenant's log")
	refused, good := recs[0], recs[1]
	require.Equal(t, audit.Anonymous, refused.Actor, "a wrong password proves no one")
	require.Equal(t, audit.Resource{Type: "user", ID: owner.Email}, refused.Resource)
	require.NotEqual(t, audit.Success, refused.Outcome)
	require.Equal(t, owner.ID, good.Actor)
	require.Equal(t, []string{auth.RoleOwner}, good.Roles)
	require.Equal(t, audit.Success, good.Outcome)

	// The same as the API's records of the same two sign-ins.
	for _, pw := range []string{"not the password", "correct horse " + tenant} {
		resp := e.do(t, http.MethodPost, "/v1/auth/login", "", "application/json",
			strings.NewReader(fmt.Sprintf(`{"tenant":%q,"email":%q,"password":%q}`, tenant, owner.Email, pw)), nil)
		resp.Body.Close()
	}
	recs = auditOf(t, e, tenant, "auth.login", 4)
	sameRecord(t, recs[2], refused, "a refused sign-in")
	sameRecord(t, recs[3], good, "a sign-in")

	// Signing out is recorded under the same user.
	r = consoleGet(t, e, http.MethodPost, "/sign-out", map[string]string{"im_access": access, "im_csrf": csrf},
		url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	out := auditOf(t, e, tenant, "auth.logout", 1)[0]
	require.Equal(t, owner.ID, out.Actor)
	require.Equal(t, audit.Success, out.Outcome)
}
