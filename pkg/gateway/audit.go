package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// auditedPath reports whether requests to p are recorded: the API under
// /v1, where every route reads or changes tenant data or authenticates.
// Health, readiness, metrics and the OpenAPI document carry no tenant data.
func auditedPath(p string) bool { return p == "/v1" || strings.HasPrefix(p, "/v1/") }

// auditRoute names the action and resource type of a route template. It is
// the one place actions are named; a route missing here is still recorded,
// as action "request" on resource type "route".
func auditRoute(method, route string) (action, resourceType string) {
	switch method + " " + route {
	case "POST /v1/assessments":
		return "assessment.create", "assessment"
	case "GET /v1/assessments":
		return "assessment.list", "assessment"
	case "GET /v1/assessments/:id":
		return "assessment.read", "assessment"
	case "DELETE /v1/assessments/:id":
		return "assessment.delete", "assessment"
	case "GET /v1/assessments/:id/report":
		return "report.read", "assessment"
	case "GET /v1/assessments/:id/events":
		return "events.read", "assessment"
	case "GET /v1/assessments/:id/recommendations":
		return "recommendations.read", "assessment"
	case "POST /v1/assessments/:id/versions":
		return "version.create", "assessment"
	case "GET /v1/assessments/:id/versions":
		return "version.list", "assessment"
	case "GET /v1/assessments/:id/versions/diff":
		return "version.diff", "assessment"
	case "POST /v1/assessments/:id/scenarios":
		return "scenario.create", "assessment"
	case "GET /v1/assessments/:id/scenarios":
		return "scenario.list", "assessment"
	case "GET /v1/assessments/:id/scenarios/:sid":
		return "scenario.read", "assessment"
	case "POST /v1/estimates/inference", "POST /v1/estimates/training":
		return "estimate.run", "estimate"
	case "POST /v1/webhooks":
		return "webhook.create", "webhook"
	case "GET /v1/webhooks":
		return "webhook.list", "webhook"
	case "DELETE /v1/webhooks/:id":
		return "webhook.delete", "webhook"
	case "GET /v1/webhooks/:id/deliveries":
		return "webhook.deliveries.read", "webhook"
	case "GET /v1/audit":
		return "audit.read", "audit"
	case "POST /v1/auth/login":
		return "auth.login", "session"
	case "POST /v1/auth/refresh":
		return "auth.refresh", "session"
	case "POST /v1/auth/logout":
		return "auth.logout", "session"
	case "GET /v1/me":
		return "me.read", "user"
	case "POST /v1/me/mfa/totp":
		return "mfa.enroll", "user"
	case "POST /v1/me/mfa/totp/confirm":
		return "mfa.confirm", "user"
	case "DELETE /v1/me/mfa/totp":
		return "mfa.disable", "user"
	case "POST /v1/me/password":
		return "password.change", "user"
	case "GET /v1/users":
		return "user.list", "user"
	case "POST /v1/users":
		return "user.create", "user"
	case "GET /v1/users/:id":
		return "user.read", "user"
	case "PATCH /v1/users/:id":
		return "user.update", "user"
	case "POST /v1/users/:id/revoke-sessions":
		return "user.revoke_sessions", "user"
	case "POST /v1/users/:id/mfa/reset":
		return "user.mfa_reset", "user"
	case "POST /v1/users/:id/password":
		return "user.password_reset", "user"
	case "GET /v1/api-keys":
		return "api_key.list", "api_key"
	case "POST /v1/api-keys":
		return "api_key.create", "api_key"
	case "DELETE /v1/api-keys/:id":
		return "api_key.revoke", "api_key"
	case "GET /v1/tenants":
		return "tenant.list", "tenant"
	case "POST /v1/tenants":
		return "tenant.create", "tenant"
	}
	return "request", "route"
}

// auditResource identifies what the request acted on: the created
// resource (from the Location header of a 201/202), else the path's ids.
func auditResource(c echo.Context, resourceType, method, route string, status int) audit.Resource {
	r := audit.Resource{Type: resourceType}
	switch {
	case resourceType == "route":
		if route == "" {
			route = "unmatched " + c.Request().URL.Path
		}
		r.ID = method + " " + route
	case resourceType == "estimate":
		r.ID = path.Base(route) // inference or training
	case resourceType == "session":
		r.ID = claimsOf(c).Session // the session signed in to, refreshed or ended
	case resourceType == "user" && c.Param("id") == "":
		r.ID = claimsOf(c).Subject // the caller's own account (/v1/me)
	case c.Param("sid") != "":
		r.ID, r.Parent = c.Param("sid"), c.Param("id")
	default:
		r.ID = c.Param("id")
	}
	created := ""
	if loc := c.Response().Header().Get(echo.HeaderLocation); loc != "" && status < 300 {
		created = path.Base(loc)
	}
	if id, ok := c.Get(console.CreatedKey).(string); ok && id != "" && status < 400 {
		created = id // a console page that created something and redirected
	}
	if created != "" && resourceType != "route" {
		if r.ID != "" {
			r.Parent = r.ID // a version or scenario created under its base
		}
		r.ID = created
	}
	// Ids come from the path, where a caller may paste a credential (an
	// API key where its id belongs): the audit log keeps its shape only.
	r.ID, r.Parent = audit.Clip(redact.String(r.ID)), audit.Clip(redact.String(r.Parent))
	return r
}

// recordAudit records every /v1 request once, after the handler and the
// error mapper ran, so the record carries the final status. It reserves the
// record's place in the recorder's queue before the handler runs: when the
// queue is full (the audit database has been failing or slow for longer
// than the queue covers) the request is refused with 503 before it does
// anything, since an action that cannot be recorded must not be performed.
// Otherwise it never delays the request: the record is queued, and the
// recorder retries its insert until it is stored.
func (s *Server) recordAudit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.audit == nil || !auditedPath(c.Request().URL.Path) {
			return next(c)
		}
		return s.audited(c, next, func() (string, string) { return c.Request().Method, c.Path() })
	}
}

// auditConsole records a console page's requests as requests to the API
// route api ("METHOD /v1/route") it stands for: the same action names,
// resources and outcomes as recordAudit, so an action taken in the console
// reads in the audit log like the same action taken through the API. The
// console runs it after reading the session and before its own checks
// (rate limit, CSRF, role), so refusals are recorded too.
func (s *Server) auditConsole(api string) echo.MiddlewareFunc {
	method, route, _ := strings.Cut(api, " ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.audit == nil {
				return next(c)
			}
			if api == "POST /v1/auth/login" {
				next = signInNoted(next)
			}
			return s.audited(c, next, func() (string, string) { return method, route })
		}
	}
}

// signInNote is what a console sign-in established, for its audit record:
// the console's handler sees only a context, so the sign-in leaves its
// outcome here and signInNoted moves it to where audited reads it, as the
// API's login handler sets it directly.
type signInNote struct {
	session *identity.Session
	attempt *signInAttempt
}

type signInNoteKey struct{}

// signInNoted runs a console sign-in with a note in its request's context
// and sets the identity it established, or the account a refused one tried.
func signInNoted(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		note := &signInNote{}
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), signInNoteKey{}, note)))
		err := next(c)
		switch {
		case note.session != nil:
			signedIn(c, *note.session)
		case note.attempt != nil:
			c.Set(attemptKey, *note.attempt)
		}
		return err
	}
}

// audited runs next and records it under the route that route names once
// the handler and the error mapper ran (see recordAudit).
func (s *Server) audited(c echo.Context, next echo.HandlerFunc, routeOf func() (method, route string)) error {
	req := c.Request()
	// The time the request arrived, at the database's precision.
	at := time.Now().UTC().Truncate(time.Millisecond)
	id, idErr := audit.NewID()
	place := s.audit.Reserve()
	if place == nil {
		s.log.WarnContext(req.Context(), "request refused: the audit queue is full",
			slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.String("request_id", requestID(c)))
		c.Error(auditUnavailable())
		return nil
	}

	if err := next(c); err != nil {
		c.Error(err) // render it now so the status below is final
	}

	if idErr != nil {
		place.Cancel()
		s.log.ErrorContext(req.Context(), "audit record without id", slog.String("error", idErr.Error()),
			slog.String("request_id", requestID(c)))
		return nil
	}
	status := c.Response().Status
	method, route := routeOf()
	action, resourceType := auditRoute(method, route)
	rec := audit.Record{
		ID:         id,
		Time:       at,
		Actor:      audit.Anonymous,
		Action:     action,
		Resource:   auditResource(c, resourceType, method, route, status),
		Outcome:    audit.OutcomeOf(status),
		Status:     status,
		RequestID:  requestID(c),
		SourceAddr: audit.Clip(c.RealIP()),
		PeerAddr:   peerAddr(req.RemoteAddr),
		UserAgent:  audit.Clip(redact.String(req.UserAgent())),
	}
	attempt, tried := c.Get(attemptKey).(signInAttempt)
	switch {
	case tried:
		// A refused sign-in to an existing tenant: recorded in that
		// tenant's log under the account tried, still anonymous (the
		// password did not prove who sent it).
		rec.Tenant = attempt.Tenant
		rec.Resource = audit.Resource{Type: "user", ID: audit.Clip(attempt.Email)}
	case status == http.StatusUnauthorized:
		// Whatever the token claimed is unverified: the record stays
		// anonymous and outside every tenant's log. The resource is the
		// route that was tried, which names the action refused.
		rec.Action = audit.ActionAuthFailed
		rec.Resource = auditResource(c, "route", method, route, status)
	default:
		// Verified claims only: authenticate sets them after checking the
		// token (a handler that verifies an identity another way, such as
		// a password login, sets them the same way for its record).
		if cl, ok := c.Get(claimsKey).(*auth.Claims); ok {
			rec.Tenant, rec.Actor, rec.Roles = cl.Tenant, cl.Subject, cl.Roles
		}
	}
	if rec.Actor == "" {
		rec.Actor = audit.Anonymous
	}
	place.Commit(rec)
	return nil
}

// auditUnavailable is the 503 for a request that could not be recorded.
func auditUnavailable() *Problem {
	p := problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable",
		"This request was not performed because it could not be recorded in the audit log right now. Retry shortly.")
	p.header = http.Header{headerRetryAfter: {"5"}}
	return p
}

// peerAddr is the host of the TCP peer address.
func peerAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return audit.Clip(remote)
	}
	return host
}

// drainAudit stops the recorder and waits (bounded) until every queued
// record is stored; Serve calls it after the last request finished.
func (s *Server) drainAudit(ctx context.Context) {
	if s.audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := s.audit.Close(ctx); err != nil {
		s.log.Error("audit log not drained", slog.String("error", err.Error()))
	}
}

// maxAuditFilterLen bounds the action and actor filters.
const maxAuditFilterLen = 256

// auditQuery parses the audit log's query parameters.
func auditQuery(c echo.Context) (store.AuditQuery, error) {
	q := store.AuditQuery{Limit: defaultPageSize, Cursor: c.QueryParam("cursor")}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			return q, invalidField("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize))
		}
		q.Limit = n
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"action", &q.Action}, {"actor", &q.Actor}} {
		v := c.QueryParam(f.name)
		if len(v) > maxAuditFilterLen {
			return q, invalidField(f.name, fmt.Sprintf("must be at most %d characters", maxAuditFilterLen))
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		raw := c.QueryParam(f.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return q, invalidField(f.name, "must be an RFC 3339 time such as 2026-01-31T09:00:00Z")
		}
		*f.dst = t
	}
	return q, nil
}

// listAudit handles GET /v1/audit (app.Audit.List): the caller's tenant's
// audit log, newest first. Who may read it (owners and admins) is the access matrix's call
// (access.go); the log is the caller's own tenant's, so an insufficient role
// is a 403 there, not the 404 used for another tenant's data.
func (s *Server) listAudit(c echo.Context) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	page, err := s.auditLog.List(c.Request().Context(), tenantOf(c), q)
	if err != nil {
		return err
	}
	body := api.AuditList{Items: make([]api.AuditRecord, 0, len(page.Items)), NextCursor: optional(page.NextCursor)}
	for _, r := range page.Items {
		body.Items = append(body.Items, auditRecordOf(r))
	}
	return c.JSON(http.StatusOK, body)
}
