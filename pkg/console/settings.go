package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Admin manages a tenant's users and API keys for the settings pages. The
// gateway implements it with the operations its identity handlers call, so
// the rules beyond a route's roles (only an owner acts on an owner; nobody
// resets their own password or second factor this way) are the API's, and
// its errors are the API's (mapped by Explain).
type Admin interface {
	ListUsers(ctx context.Context, cl *auth.Claims) ([]identity.User, error)
	// CreateUser returns the generated password when nu has none.
	CreateUser(ctx context.Context, cl *auth.Claims, nu identity.NewUser) (identity.User, string, error)
	SetRole(ctx context.Context, cl *auth.Claims, id, role string) (identity.User, error)
	// DisableUser also revokes every session of the user.
	DisableUser(ctx context.Context, cl *auth.Claims, id string) error
	RevokeSessions(ctx context.Context, cl *auth.Claims, id string) error
	ResetMFA(ctx context.Context, cl *auth.Claims, id string) error
	// ResetPassword sets a generated password and returns it once.
	ResetPassword(ctx context.Context, cl *auth.Claims, id string) (string, error)
	ListAPIKeys(ctx context.Context, cl *auth.Claims) ([]identity.APIKey, error)
	// CreateAPIKey returns the key itself, this once.
	CreateAPIKey(ctx context.Context, cl *auth.Claims, nk identity.NewAPIKey) (identity.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, cl *auth.Claims, id string) error
}

// settingsRoutes are the settings pages: each follows the API route that
// does the same thing, so the access matrix decides who opens it.
func (c *Console) settingsRoutes(page func(method, path, api string, h echo.HandlerFunc)) {
	page(http.MethodGet, "/settings", "GET /v1/users", c.settingsHome)
	page(http.MethodGet, "/settings/users", "GET /v1/users", c.usersPage)
	page(http.MethodPost, "/settings/users", "POST /v1/users", c.createUser)
	page(http.MethodPost, "/settings/users/:id/role", "PATCH /v1/users/:id", c.changeRole)
	page(http.MethodPost, "/settings/users/:id/disable", "PATCH /v1/users/:id", c.disableUser)
	page(http.MethodPost, "/settings/users/:id/revoke-sessions", "POST /v1/users/:id/revoke-sessions", c.revokeSessions)
	page(http.MethodPost, "/settings/users/:id/mfa-reset", "POST /v1/users/:id/mfa/reset", c.resetMFA)
	page(http.MethodPost, "/settings/users/:id/password", "POST /v1/users/:id/password", c.resetPassword)
	page(http.MethodGet, "/settings/api-keys", "GET /v1/api-keys", c.keysPage)
	page(http.MethodPost, "/settings/api-keys", "POST /v1/api-keys", c.createKey)
	page(http.MethodPost, "/settings/api-keys/:id/revoke", "DELETE /v1/api-keys/:id", c.revokeKey)
	page(http.MethodGet, "/settings/webhooks", "GET /v1/webhooks", c.webhooksPage)
	page(http.MethodPost, "/settings/webhooks", "POST /v1/webhooks", c.createWebhook)
	page(http.MethodPost, "/settings/webhooks/:id/delete", "DELETE /v1/webhooks/:id", c.deleteWebhook)
	page(http.MethodGet, "/settings/webhooks/:id", "GET /v1/webhooks/:id/deliveries", c.deliveriesPage)
	page(http.MethodGet, "/settings/audit", "GET /v1/audit", c.auditPage)
}

// section is one settings section: its page, the list route of the API
// whose roles open it, and its name in the navigation.
type section struct {
	API, Path, Label, Nav string
}

// settingsSections are the settings sections in navigation order.
func settingsSections() []section {
	return []section{
		{API: "GET /v1/users", Path: "/settings/users", Label: "Users and roles", Nav: "settings-users"},
		{API: "GET /v1/api-keys", Path: "/settings/api-keys", Label: "API keys", Nav: "settings-api-keys"},
		{API: "GET /v1/webhooks", Path: "/settings/webhooks", Label: "Webhooks", Nav: "settings-webhooks"},
		{API: "GET /v1/audit", Path: "/settings/audit", Label: "Audit log", Nav: "settings-audit"},
	}
}

// settingsHome opens the users section (the settings' first page).
func (c *Console) settingsHome(ec echo.Context) error {
	return ec.Redirect(http.StatusSeeOther, "/settings/users")
}

// notFoundIn is the not-found page of a settings section: another tenant's
// id reads like a missing one, as in the API.
func notFoundIn(what string) *pageError {
	return &pageError{status: http.StatusNotFound, title: "Not found", detail: "There is no such " + what + " in your tenant."}
}

// settingsID is an :id of a settings page, or its not-found page for one
// that cannot exist.
func settingsID(ec echo.Context, what string) (string, error) {
	id := ec.Param("id")
	if !validID(id) {
		return "", notFoundIn(what)
	}
	return id, nil
}

// refusal is a use case's refusal as the settings pages show it: the
// status, the fields it names and its detail. Server failures and
// not-found (its own page, without the form) come back as errors.
func (c *Console) refusal(err error, what string) (Explained, error) {
	x := c.d.Explain(err)
	switch {
	case x.Status == http.StatusNotFound:
		return x, notFoundIn(what)
	case x.Status >= 500 || x.Status == http.StatusTooManyRequests || x.Status == http.StatusUnauthorized:
		return x, err
	}
	return x, nil
}

// done sends the browser back to a section with a message, so a reload
// does not repeat the action (post, redirect, get).
func done(ec echo.Context, section, message string) error {
	return ec.Redirect(http.StatusSeeOther, section+"?done="+url.QueryEscape(message))
}

// formView is the values and field errors of a settings form.
type formView struct {
	Values map[string][]string
	Fields map[string]string
}

// FormValues are the submitted inputs.
func (v formView) FormValues() map[string][]string { return v.Values }

// FormErrors are the field errors by input name.
func (v formView) FormErrors() map[string]string { return v.Fields }

func newForm() formView { return formView{Values: map[string][]string{}, Fields: map[string]string{}} }

// formOf keeps the submitted form, without secrets, to fill it again.
func formOf(ec echo.Context, drop ...string) formView {
	v := newForm()
	if form, err := ec.FormParams(); err == nil {
		for k, vals := range form {
			if k != csrfField && !contains(drop, k) {
				v.Values[k] = vals
			}
		}
	}
	return v
}

// place puts a refusal's field errors beside the inputs of the form that
// has them (inputs), and returns the rest as the page's message.
func (v formView) place(x Explained, inputs ...string) string {
	var rest []string
	for _, f := range x.Fields {
		if contains(inputs, f.Field) {
			v.Fields[f.Field] = f.Reason
			continue
		}
		rest = append(rest, f.Field+": "+f.Reason)
	}
	if len(x.Fields) > 0 && len(rest) == 0 {
		return "The form needs fixing: each problem is shown beside its field."
	}
	if len(rest) > 0 {
		return strings.Join(rest, "; ")
	}
	return x.Detail
}

// rowError is a refusal of an action on one row of a list, shown beside
// that row's control.
type rowError struct {
	ID, Field, Reason string
}

// Is reports whether the error belongs to row id's field.
func (e *rowError) Is(id, field string) bool { return e != nil && e.ID == id && e.Field == field }

// For is the error with the row and field a template shows it beside.
func (e *rowError) For(id, field string) rowPlace { return rowPlace{Row: e, ID: id, Field: field} }

// rowPlace is a row's control that may carry a rowError.
type rowPlace struct {
	Row       *rowError
	ID, Field string
}

// usersView is the users section.
type usersView struct {
	Users []userRow
	Roles []option
	// Form is the new-user form; Created the user just added, with the
	// generated password shown this once.
	Form    formView
	Created *shownOnce
	Row     *rowError
	Notice  string
	Error   string
}

// userRow is one user with what the caller may do to them.
type userRow struct {
	identity.User
	// Self is the caller's own account, whose password and second factor
	// are changed on the caller's own routes, not here.
	Self bool
}

// shownOnce is a secret the page shows once, right after it was made.
type shownOnce struct {
	What, Name, Secret string
}

// roleOptions are the tenant roles, least privilege first, so a form left
// as it is grants the least.
func roleOptions() []option {
	return opts(auth.RoleViewer, auth.RoleAnalyst, auth.RoleAdmin, auth.RoleOwner)
}

func (c *Console) usersView(ec echo.Context) (usersView, error) {
	users, err := c.d.Admin.ListUsers(ec.Request().Context(), claims(ec))
	if err != nil {
		return usersView{}, err
	}
	v := usersView{Roles: roleOptions(), Form: newForm(), Notice: ec.QueryParam("done")}
	self := claims(ec).Subject
	for _, u := range users {
		v.Users = append(v.Users, userRow{User: u, Self: u.ID == self})
	}
	return v, nil
}

func (c *Console) renderUsers(ec echo.Context, status int, v usersView) error {
	return c.render(ec, status, "settings-users", "Users and roles", v)
}

// usersPage lists the tenant's users, disabled ones included.
func (c *Console) usersPage(ec echo.Context) error {
	v, err := c.usersView(ec)
	if err != nil {
		return err
	}
	return c.renderUsers(ec, http.StatusOK, v)
}

// createUser adds a user; a generated password is shown on this answer only.
func (c *Console) createUser(ec echo.Context) error {
	form := formOf(ec, "password")
	nu := identity.NewUser{Email: strings.TrimSpace(ec.FormValue("email")), Name: strings.TrimSpace(ec.FormValue("name")),
		Role: ec.FormValue("role"), Password: ec.FormValue("password")}
	u, pw, err := c.d.Admin.CreateUser(ec.Request().Context(), claims(ec), nu)
	if err != nil {
		x, err := c.refusal(err, "tenant")
		if err != nil {
			return err
		}
		v, lerr := c.usersView(ec)
		if lerr != nil {
			return lerr
		}
		v.Notice = ""
		v.Form = form
		v.Error = form.place(x, "email", "name", "role", "password")
		return c.renderUsers(ec, x.Status, v)
	}
	v, err := c.usersView(ec)
	if err != nil {
		return err
	}
	v.Notice = ""
	if pw != "" {
		v.Created = &shownOnce{What: "password", Name: u.Email, Secret: pw}
	} else {
		v.Notice = "Added " + u.Email + "."
	}
	ec.Response().Header().Set(echo.HeaderLocation, "/v1/users/"+u.ID)
	return c.renderUsers(ec, http.StatusCreated, v)
}

// userAction runs an action on one user and goes back to the list, or
// shows the refusal beside the row's control (field).
func (c *Console) userAction(ec echo.Context, field string, act func(ctx context.Context, cl *auth.Claims, id string) (string, error)) error {
	id, err := settingsID(ec, "user")
	if err != nil {
		return err
	}
	msg, err := act(ec.Request().Context(), claims(ec), id)
	if err == nil {
		return done(ec, "/settings/users", msg)
	}
	x, err := c.refusal(err, "user")
	if err != nil {
		return err
	}
	v, lerr := c.usersView(ec)
	if lerr != nil {
		return lerr
	}
	v.Notice = ""
	reason := x.Detail
	for _, f := range x.Fields {
		reason = f.Reason
	}
	v.Row = &rowError{ID: id, Field: field, Reason: reason}
	return c.renderUsers(ec, x.Status, v)
}

func (c *Console) changeRole(ec echo.Context) error {
	role := ec.FormValue("role")
	return c.userAction(ec, "role", func(ctx context.Context, cl *auth.Claims, id string) (string, error) {
		u, err := c.d.Admin.SetRole(ctx, cl, id, role)
		return u.Email + " is now " + u.Role + ".", err
	})
}

func (c *Console) disableUser(ec echo.Context) error {
	return c.userAction(ec, "disable", func(ctx context.Context, cl *auth.Claims, id string) (string, error) {
		return "The user is disabled and signed out everywhere.", c.d.Admin.DisableUser(ctx, cl, id)
	})
}

func (c *Console) revokeSessions(ec echo.Context) error {
	return c.userAction(ec, "sessions", func(ctx context.Context, cl *auth.Claims, id string) (string, error) {
		return "The user is signed out everywhere.", c.d.Admin.RevokeSessions(ctx, cl, id)
	})
}

func (c *Console) resetMFA(ec echo.Context) error {
	return c.userAction(ec, "mfa", func(ctx context.Context, cl *auth.Claims, id string) (string, error) {
		return "The user's second factor is off and their sessions are revoked.", c.d.Admin.ResetMFA(ctx, cl, id)
	})
}

// resetPassword sets a generated password, shown on this answer only.
func (c *Console) resetPassword(ec echo.Context) error {
	id, err := settingsID(ec, "user")
	if err != nil {
		return err
	}
	pw, err := c.d.Admin.ResetPassword(ec.Request().Context(), claims(ec), id)
	if err != nil {
		return c.userAction(ec, "password", func(context.Context, *auth.Claims, string) (string, error) { return "", err })
	}
	v, err := c.usersView(ec)
	if err != nil {
		return err
	}
	v.Notice = ""
	name := id
	for _, u := range v.Users {
		if u.ID == id {
			name = u.Email
		}
	}
	v.Created = &shownOnce{What: "password", Name: name, Secret: pw}
	return c.renderUsers(ec, http.StatusOK, v)
}

// keysView is the API keys section.
type keysView struct {
	Keys    []identity.APIKey
	Roles   []option
	Form    formView
	Created *shownOnce
	Row     *rowError
	Notice  string
	Error   string
}

func (c *Console) keysView(ec echo.Context) (keysView, error) {
	keys, err := c.d.Admin.ListAPIKeys(ec.Request().Context(), claims(ec))
	if err != nil {
		return keysView{}, err
	}
	return keysView{Keys: keys, Roles: roleOptions(), Form: newForm(), Notice: ec.QueryParam("done")}, nil
}

func (c *Console) renderKeys(ec echo.Context, status int, v keysView) error {
	return c.render(ec, status, "settings-api-keys", "API keys", v)
}

// keysPage lists the tenant's API keys, revoked ones included; never a key.
func (c *Console) keysPage(ec echo.Context) error {
	v, err := c.keysView(ec)
	if err != nil {
		return err
	}
	return c.renderKeys(ec, http.StatusOK, v)
}

// expiryLayout is the date input's format; a key expires at the start of
// that day (UTC).
const expiryLayout = "2006-01-02"

// createKey creates an API key and shows it on this answer only.
func (c *Console) createKey(ec echo.Context) error {
	form := formOf(ec)
	nk := identity.NewAPIKey{Name: strings.TrimSpace(ec.FormValue("name")), Role: ec.FormValue("role"), CreatedBy: claims(ec).Subject}
	var err error
	if raw := strings.TrimSpace(ec.FormValue("expires_at")); raw != "" {
		at, perr := time.Parse(expiryLayout, raw)
		if perr != nil {
			err = &fieldRefusal{field: "expires_at", reason: "must be a date such as 2027-01-31"}
		}
		nk.ExpiresAt = at
	}
	var k identity.APIKey
	var key string
	if err == nil {
		k, key, err = c.d.Admin.CreateAPIKey(ec.Request().Context(), claims(ec), nk)
	}
	if err != nil {
		x := Explained{Status: http.StatusBadRequest}
		var fr *fieldRefusal
		if errors.As(err, &fr) {
			x.Fields = fr.fields()
		} else if x, err = c.refusal(err, "tenant"); err != nil {
			return err
		}
		v, lerr := c.keysView(ec)
		if lerr != nil {
			return lerr
		}
		v.Notice = ""
		v.Form = form
		v.Error = form.place(x, "name", "role", "expires_at")
		return c.renderKeys(ec, x.Status, v)
	}
	v, err := c.keysView(ec)
	if err != nil {
		return err
	}
	v.Notice = ""
	v.Created = &shownOnce{What: "API key", Name: k.Name, Secret: key}
	ec.Response().Header().Set(echo.HeaderLocation, "/v1/api-keys/"+k.ID)
	return c.renderKeys(ec, http.StatusCreated, v)
}

// revokeKey revokes an API key; it stays listed as revoked.
func (c *Console) revokeKey(ec echo.Context) error {
	id := ec.Param("id")
	err := c.d.Admin.RevokeAPIKey(ec.Request().Context(), claims(ec), id)
	if err == nil {
		return done(ec, "/settings/api-keys", "The key is revoked: it stops working on its next request.")
	}
	x, err := c.refusal(err, "API key")
	if err != nil {
		return err
	}
	v, err := c.keysView(ec)
	if err != nil {
		return err
	}
	v.Notice = ""
	v.Row = &rowError{ID: id, Field: "revoke", Reason: x.Detail}
	return c.renderKeys(ec, x.Status, v)
}

// fieldRefusal is a form value the page itself cannot read (a date), named
// like the API's field.
type fieldRefusal struct{ field, reason string }

func (e *fieldRefusal) Error() string { return e.field + ": " + e.reason }

func (e *fieldRefusal) fields() []assessment.FieldError {
	return []assessment.FieldError{{Field: e.field, Reason: e.reason}}
}

// webhooksView is the webhooks section.
type webhooksView struct {
	Hooks      []store.Webhook
	EventTypes []option
	Form       formView
	Created    *shownOnce
	Row        *rowError
	Notice     string
	Error      string
}

func (c *Console) webhooksView(ec echo.Context) (webhooksView, error) {
	hooks, err := c.d.Webhooks.List(ec.Request().Context(), caller(ec).Tenant)
	if err != nil {
		return webhooksView{}, err
	}
	return webhooksView{Hooks: hooks, EventTypes: opts(c.d.Webhooks.EventTypes()...), Form: newForm(), Notice: ec.QueryParam("done")}, nil
}

func (c *Console) renderWebhooks(ec echo.Context, status int, v webhooksView) error {
	return c.render(ec, status, "settings-webhooks", "Webhooks", v)
}

// webhooksPage lists the tenant's webhooks, without their secrets.
func (c *Console) webhooksPage(ec echo.Context) error {
	v, err := c.webhooksView(ec)
	if err != nil {
		return err
	}
	return c.renderWebhooks(ec, http.StatusOK, v)
}

// createWebhook registers an endpoint and shows its signing secret once.
func (c *Console) createWebhook(ec echo.Context) error {
	form := formOf(ec)
	params, _ := ec.FormParams()
	w, err := c.d.Webhooks.Create(ec.Request().Context(), caller(ec).Tenant,
		app.NewWebhook{URL: strings.TrimSpace(ec.FormValue("url")), EventTypes: params["event_types"]})
	if err != nil {
		x, err := c.refusal(err, "tenant")
		if err != nil {
			return err
		}
		v, lerr := c.webhooksView(ec)
		if lerr != nil {
			return lerr
		}
		v.Notice = ""
		v.Form = form
		v.Error = form.place(x, "url", "event_types")
		return c.renderWebhooks(ec, x.Status, v)
	}
	v, err := c.webhooksView(ec)
	if err != nil {
		return err
	}
	v.Notice = ""
	v.Created = &shownOnce{What: "signing secret", Name: w.URL, Secret: w.Secret}
	ec.Response().Header().Set(echo.HeaderLocation, "/v1/webhooks/"+w.ID)
	return c.renderWebhooks(ec, http.StatusCreated, v)
}

// deleteWebhook stops deliveries to an endpoint, pending retries included.
func (c *Console) deleteWebhook(ec echo.Context) error {
	id, err := settingsID(ec, "webhook")
	if err != nil {
		return err
	}
	if err := c.d.Webhooks.Delete(ec.Request().Context(), caller(ec).Tenant, id); err != nil {
		if _, rerr := c.refusal(err, "webhook"); rerr != nil {
			return rerr
		}
		return err
	}
	return done(ec, "/settings/webhooks", "The webhook is deleted: nothing more is sent to it.")
}

// deliveriesView is one webhook's delivery log.
type deliveriesView struct {
	Hook       store.Webhook
	Deliveries []deliveryRow
}

// deliveryRow is one event's delivery with its latest attempt.
type deliveryRow struct {
	store.Delivery
	Last store.DeliveryAttempt
}

// deliveriesPage shows a webhook's newest deliveries: status, attempts, the
// last attempt's answer or error, and when the next retry is due.
func (c *Console) deliveriesPage(ec echo.Context) error {
	id, err := settingsID(ec, "webhook")
	if err != nil {
		return err
	}
	ctx := ec.Request().Context()
	items, err := c.d.Webhooks.Deliveries(ctx, caller(ec).Tenant, id)
	if err != nil {
		if _, rerr := c.refusal(err, "webhook"); rerr != nil {
			return rerr
		}
		return err
	}
	hooks, err := c.d.Webhooks.List(ctx, caller(ec).Tenant)
	if err != nil {
		return err
	}
	v := deliveriesView{}
	for _, h := range hooks {
		if h.ID == id {
			v.Hook = h
		}
	}
	if v.Hook.ID == "" {
		return notFoundIn("webhook") // deleted between the two reads
	}
	for _, d := range items {
		r := deliveryRow{Delivery: d}
		if n := len(d.Attempts); n > 0 {
			r.Last = d.Attempts[n-1]
		}
		v.Deliveries = append(v.Deliveries, r)
	}
	return c.render(ec, http.StatusOK, "settings-deliveries", "Deliveries", v)
}

// auditPageSize is how many records one page of the audit log shows.
const auditPageSize = 50

// auditView is the audit log section.
type auditView struct {
	Records []audit.Record
	Form    formView
	Error   string
	// Filtered says a filter is set.
	Filtered bool
	// Next is the URL of the next page, First of the first; empty when
	// there is none.
	Next, First string
}

// auditTime reads a time filter: RFC 3339, or a date and time without a
// zone (the browser's datetime-local input), taken as UTC.
func auditTime(raw string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// auditPage lists the tenant's audit log newest first, a page at a time
// (the log's keyset cursor), filtered as the API filters it.
func (c *Console) auditPage(ec echo.Context) error {
	v := auditView{Form: newForm()}
	q := store.AuditQuery{Limit: auditPageSize, Cursor: ec.QueryParam("cursor")}
	keep := url.Values{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"action", &q.Action}, {"actor", &q.Actor}} {
		val := strings.TrimSpace(ec.QueryParam(f.name))
		v.Form.Values[f.name] = []string{val}
		if len(val) > maxAuditFilter {
			v.Form.Fields[f.name] = "must be at most 256 characters"
		}
		if val != "" {
			keep.Set(f.name, val)
		}
		*f.dst = val
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		raw := strings.TrimSpace(ec.QueryParam(f.name))
		v.Form.Values[f.name] = []string{raw}
		if raw == "" {
			continue
		}
		t, ok := auditTime(raw)
		if !ok {
			v.Form.Fields[f.name] = "must be a date and time such as 2026-01-31T09:00 (UTC) or an RFC 3339 time"
			continue
		}
		keep.Set(f.name, raw)
		*f.dst = t
	}
	if len(v.Form.Fields) > 0 {
		v.Error = "The filter needs fixing: each problem is shown beside its field."
		return c.render(ec, http.StatusBadRequest, "settings-audit", "Audit log", v)
	}
	page, err := c.d.AuditLog.List(ec.Request().Context(), caller(ec).Tenant, q)
	if err != nil {
		if errors.Is(err, store.ErrBadCursor) {
			return &pageError{status: http.StatusBadRequest, title: "Invalid page",
				detail: "cursor: is not a cursor this log gave; start again from the first page"}
		}
		x, err := c.refusal(err, "audit log")
		if err != nil {
			return err
		}
		v.Error = v.Form.place(x, "action", "actor", "from", "to")
		return c.render(ec, x.Status, "settings-audit", "Audit log", v)
	}
	v.Records, v.Filtered = page.Items, len(keep) > 0
	if page.NextCursor != "" {
		next := url.Values{}
		for k, vals := range keep {
			next[k] = vals
		}
		next.Set("cursor", page.NextCursor)
		v.Next = "/settings/audit?" + next.Encode()
	}
	if q.Cursor != "" {
		v.First = "/settings/audit"
		if len(keep) > 0 {
			v.First += "?" + keep.Encode()
		}
	}
	return c.render(ec, http.StatusOK, "settings-audit", "Audit log", v)
}

// maxAuditFilter bounds the action and actor filters, as the API does.
const maxAuditFilter = 256
