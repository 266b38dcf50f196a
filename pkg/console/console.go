// Package console is Infra Mind's web console: server-rendered pages served by
// the gateway at / on the API's origin. A page is a thin port like an API
// handler: it reads the signed-in caller from a cookie session, checks the
// same route x role matrix as the API route it stands for, calls the same
// application use cases (pkg/app) with the caller's tenant, and renders a Go
// template. Scripts and styles are files under /static (no inline script, a
// strict Content-Security-Policy); forms carry a CSRF token.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
)

// ClaimsKey is the echo context key under which the signed-in caller's claims
// are kept; the gateway's middleware (rate limits, logs) reads the same key.
const ClaimsKey = "inframind.claims"

// CreatedKey is the echo context key under which a page that created
// something (an assessment, a what-if, a version, a conversation) leaves its
// id before redirecting, so the audit record names it as the API's does.
const CreatedKey = "inframind.created"

// Tokens are what a sign-in or a refresh gives: the access token, the refresh
// token that replaces the one presented, and when each ends.
type Tokens struct {
	Access, Refresh               string
	AccessExpires, RefreshExpires time.Time
}

// Sessions signs people in and checks their tokens; the gateway adapts the
// identity service and the token verifier to it, so the console's sessions
// are the API's sessions (same lockout, revocation and MFA rules).
type Sessions interface {
	// SignIn checks the credentials (and the TOTP code when the user has MFA
	// on) and starts a session; identity's errors say why it refused.
	SignIn(ctx context.Context, tenant, email, password, code string) (Tokens, error)
	// Refresh rotates a refresh token.
	Refresh(ctx context.Context, refreshToken string) (Tokens, error)
	// SignOut ends the session of the claims on every replica.
	SignOut(ctx context.Context, cl *auth.Claims) error
	// Verify checks an access token's signature, expiry and revocation.
	Verify(ctx context.Context, accessToken string) (*auth.Claims, error)
}

// Explained is an error as a person should read it: the status, a title and
// detail, and the fields it names (the API's problem, without the JSON).
type Explained struct {
	Status        int
	Title, Detail string
	Fields        []assessment.FieldError
}

// Deps are the console's collaborators. Everything but Logger and the
// middleware is required.
type Deps struct {
	Assessments *app.Service
	Reports     *app.Reports
	Catalog     *catalog.Catalog
	Sessions    Sessions
	// Allows reports whether cl may call the API route (method, route
	// template), from the gateway's access matrix.
	Allows func(method, route string, cl *auth.Claims) bool
	// Explain maps any error to what the API would answer.
	Explain func(error) Explained
	// Events serves the assessment id's event stream to the caller already
	// authorised (the API's SSE handler, with Last-Event-ID replay).
	Events echo.HandlerFunc
	// Challenges keeps sign-in challenges between the password and the TOTP
	// code (RedisChallenges).
	Challenges Challenges
	// Admin, Webhooks and AuditLog serve the settings pages: the tenant's
	// users and API keys, webhooks with their delivery log, the audit log.
	Admin    Admin
	Webhooks *app.Webhooks
	AuditLog *app.Audit
	// Record writes a page's requests to the audit log as requests to the
	// API route api it stands for; nil: pages are not recorded.
	Record func(api string) echo.MiddlewareFunc
	// SignInLimit bounds sign-in attempts per client address; PageLimit
	// applies the tenant and user limits after the session is read. Nil: none.
	SignInLimit, PageLimit echo.MiddlewareFunc
	// Eraser deletes an assessment as DELETE /v1/assessments/{id} does.
	Eraser Eraser
	// Estimates answers the calculator as POST /v1/estimates/... does.
	Estimates Estimates
	// Chat is the consultant's chat; nil when no language model provider
	// is configured (the chat pages are then not offered).
	Chat   Chat
	Logger *slog.Logger
}

// Config tunes the console.
type Config struct {
	// SecureCookies marks the session cookies Secure and gives them the
	// __Host- prefix; turn it off only for plain-HTTP development.
	SecureCookies bool
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	cfg   Config
	d     Deps
	log   *slog.Logger
	pages *pages
	// choices are the catalogue's models and regions offered by the forms.
	choices choices
	// static are the embedded assets with their hashed names.
	static *assets
}

// New validates the dependencies and parses the templates.
func New(cfg Config, d Deps) (*Console, error) {
	switch {
	case d.Assessments == nil || d.Reports == nil:
		return nil, errors.New("console: the assessment and report use cases are required")
	case d.Catalog == nil:
		return nil, errors.New("console: a catalogue is required")
	case d.Sessions == nil:
		return nil, errors.New("console: Sessions is required")
	case d.Allows == nil || d.Explain == nil || d.Events == nil:
		return nil, errors.New("console: Allows, Explain and Events are required")
	case d.Challenges == nil:
		return nil, errors.New("console: Challenges is required")
	case d.Admin == nil || d.Webhooks == nil || d.AuditLog == nil:
		return nil, errors.New("console: Admin, Webhooks and AuditLog are required")
	case d.Eraser == nil || d.Estimates == nil:
		return nil, errors.New("console: Eraser and Estimates are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := loadAssets()
	if err != nil {
		return nil, err
	}
	p, err := parsePages(st)
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, d: d, log: d.Logger, pages: p, choices: choicesOf(d.Catalog), static: st}, nil
}

// Route is one console page and the API route whose access rule it follows.
type Route struct {
	Method, Path string
	// API is the "METHOD /v1/route" whose matrix row decides who may open
	// the page; empty for the public pages (sign-in, static files).
	API string
}

// Routes lists the console's pages, for the access test and docs/console.md.
func (c *Console) Routes() []Route { return c.routes(nil) }

// routes lists the pages; with e set it also registers them.
func (c *Console) routes(e *echo.Echo) []Route {
	var out []Route
	public := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		out = append(out, Route{Method: method, Path: path})
		if e != nil {
			e.Add(method, path, h, mw...)
		}
	}
	// page registers a page open to whoever may call api.
	page := func(method, path, api string, h echo.HandlerFunc) {
		out = append(out, Route{Method: method, Path: path, API: api})
		if e == nil {
			return
		}
		mw := []echo.MiddlewareFunc{c.requireSession}
		if c.d.Record != nil && performs(method, api) {
			// After the session, before the checks: refusals are recorded.
			mw = append(mw, c.d.Record(api))
		}
		if c.d.PageLimit != nil {
			mw = append(mw, c.d.PageLimit)
		}
		mw = append(mw, c.checkCSRF, c.allow(api))
		e.Add(method, path, h, mw...)
	}
	var signInMW []echo.MiddlewareFunc
	if c.d.Record != nil {
		// A sign-in is recorded as the API's: refused ones too.
		signInMW = append(signInMW, c.d.Record(signInAPI))
	}
	signInMW = append(signInMW, c.checkCSRF)
	if c.d.SignInLimit != nil {
		signInMW = append(signInMW, c.d.SignInLimit)
	}
	public(http.MethodGet, "/static/:name", c.serveStatic)
	public(http.MethodGet, "/", c.home)
	public(http.MethodGet, "/sign-in", c.signInPage)
	public(http.MethodPost, "/sign-in", c.signIn, signInMW...)
	page(http.MethodPost, "/sign-out", "POST /v1/auth/logout", c.signOut)
	page(http.MethodGet, "/assessments", "GET /v1/assessments", c.listPage)
	page(http.MethodGet, "/assessments/new", "POST /v1/assessments", c.newPage)
	page(http.MethodPost, "/assessments", "POST /v1/assessments", c.create)
	page(http.MethodGet, "/assessments/:id", "GET /v1/assessments/:id", c.progressPage)
	page(http.MethodGet, "/assessments/:id/events", "GET /v1/assessments/:id/events", c.events)
	page(http.MethodGet, "/assessments/:id/report", "GET /v1/assessments/:id/report", c.reportPage)
	page(http.MethodGet, "/assessments/:id/download/:format", "GET /v1/assessments/:id/report", c.download)
	page(http.MethodGet, "/assessments/:id/what-if", "POST /v1/assessments/:id/scenarios", c.whatIfPage)
	page(http.MethodPost, "/assessments/:id/scenarios", "POST /v1/assessments/:id/scenarios", c.createScenario)
	page(http.MethodGet, "/assessments/:id/scenarios/:sid", "GET /v1/assessments/:id/scenarios/:sid", c.scenarioPage)
	page(http.MethodPost, "/assessments/:id/versions", "POST /v1/assessments/:id/versions", c.createVersion)
	page(http.MethodGet, "/assessments/:id/versions/diff", "GET /v1/assessments/:id/versions/diff", c.versionDiffPage)
	page(http.MethodGet, "/assessments/:id/delete", "DELETE /v1/assessments/:id", c.deletePage)
	page(http.MethodPost, "/assessments/:id/delete", "DELETE /v1/assessments/:id", c.deleteAssessment)
	page(http.MethodGet, "/estimates", "POST /v1/estimates/inference", c.estimatePage)
	page(http.MethodPost, "/estimates/inference", "POST /v1/estimates/inference", c.estimateInference)
	page(http.MethodPost, "/estimates/training", "POST /v1/estimates/training", c.estimateTraining)
	// The chat pages answer "chat is off" without a provider, as the
	// chat routes do; nothing links to them then.
	page(http.MethodGet, "/assessments/:id/chat", "GET /v1/assessments/:id/conversations", c.chatOn(c.chatListPage))
	page(http.MethodPost, "/assessments/:id/chat", "POST /v1/assessments/:id/conversations", c.chatOn(c.startChat))
	page(http.MethodGet, "/assessments/:id/chat/:cid", "GET /v1/assessments/:id/conversations/:cid", c.chatOn(c.chatPage))
	page(http.MethodPost, "/assessments/:id/chat/:cid/messages", "POST /v1/assessments/:id/conversations/:cid/messages",
		c.chatOn(c.sendChat))
	c.settingsRoutes(page)
	return out
}

// signInAPI is the API route a console sign-in stands for in the audit log.
const signInAPI = "POST /v1/auth/login"

// performs reports whether a page performs its API route (and is recorded
// as it): every page but those that only show a form for a route that
// changes something (GET /assessments/new for POST /v1/assessments), which
// would otherwise read in the audit log as the action itself.
func performs(method, api string) bool {
	apiMethod, _ := splitAPI(api)
	return method != http.MethodGet || apiMethod == http.MethodGet
}

// created leaves the id of what a page created for the audit record.
func created(ec echo.Context, id string) { ec.Set(CreatedKey, id) }

// Register adds the console's routes to e and makes its error handler e's.
func (c *Console) Register(e *echo.Echo) {
	e.HTTPErrorHandler = c.handleError
	c.routes(e)
}

// home sends a visitor to the assessments, or to sign in first.
func (c *Console) home(ec echo.Context) error {
	return ec.Redirect(http.StatusSeeOther, "/assessments")
}

// claims returns the signed-in caller's claims (set by requireSession).
func claims(ec echo.Context) *auth.Claims {
	cl, _ := ec.Get(ClaimsKey).(*auth.Claims)
	return cl
}

// caller is the signed-in caller as the use cases take it.
func caller(ec echo.Context) app.Caller {
	cl := claims(ec)
	tenant := ""
	if cl != nil {
		tenant = cl.Tenant
	}
	return app.Caller{Tenant: tenant, CorrelationID: ec.Response().Header().Get(echo.HeaderXRequestID)}
}

// allow refuses a page to a caller the API route's matrix row refuses.
func (c *Console) allow(api string) echo.MiddlewareFunc {
	method, route := splitAPI(api)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if !c.d.Allows(method, route, claims(ec)) {
				return &pageError{status: http.StatusForbidden, title: "Not allowed",
					detail: fmt.Sprintf("Your role may not do this (%s %s). Ask an owner or admin of your tenant.", method, route)}
			}
			return next(ec)
		}
	}
}

// can reports whether the caller may call an API route, for showing or
// hiding links and buttons (the route itself checks again).
func (c *Console) can(ec echo.Context, api string) bool {
	method, route := splitAPI(api)
	return c.d.Allows(method, route, claims(ec))
}

func splitAPI(api string) (string, string) {
	for i := 0; i < len(api); i++ {
		if api[i] == ' ' {
			return api[:i], api[i+1:]
		}
	}
	return api, ""
}
