package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// firstSegment is the first segment of a path: "assessments" of
// "/assessments/x", "" of "/".
func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	seg, _, _ := strings.Cut(p, "/")
	return seg
}

// consoleSegments are the first path segments of the console's pages, from
// its route list: a request under one of them goes to the console, anything
// else to the API (whose answers stay problem JSON, 404s included).
func consoleSegments(c *console.Console) map[string]bool {
	out := map[string]bool{}
	for _, r := range c.Routes() {
		out[firstSegment(r.Path)] = true
	}
	return out
}

// consoleSessions adapts the identity service and the token verifier to
// the console: a cookie's token is checked exactly as a bearer token is.
type consoleSessions struct{ s *Server }

func tokensOf(sess identity.Session) console.Tokens {
	return console.Tokens{Access: sess.AccessToken, Refresh: sess.RefreshToken,
		AccessExpires: sess.AccessExpiresAt, RefreshExpires: sess.RefreshExpiresAt}
}

func (a consoleSessions) SignIn(ctx context.Context, tenant, email, password, code string) (console.Tokens, error) {
	sess, err := a.s.deps.Identity.Login(ctx, identity.LoginInput{Tenant: tenant, Email: email, Password: password, TOTPCode: code})
	note, _ := ctx.Value(signInNoteKey{}).(*signInNote)
	if err != nil {
		if note != nil {
			if attempt, ok := a.s.refusedAttempt(ctx, tenant, email, err); ok {
				note.attempt = &attempt
			}
		}
		return console.Tokens{}, err
	}
	if note != nil {
		note.session = &sess
	}
	return tokensOf(sess), nil
}

func (a consoleSessions) Refresh(ctx context.Context, refreshToken string) (console.Tokens, error) {
	sess, err := a.s.deps.Identity.Refresh(ctx, refreshToken)
	if err != nil {
		return console.Tokens{}, err
	}
	return tokensOf(sess), nil
}

func (a consoleSessions) SignOut(ctx context.Context, cl *auth.Claims) error {
	return a.s.deps.Identity.Logout(ctx, cl)
}

// Verify checks a cookie's access token like authenticate checks a bearer
// token: signature and expiry, then the shared revocation list. A bad token
// is identity.ErrInvalidCredentials; a revoked one identity.ErrRevoked.
func (a consoleSessions) Verify(ctx context.Context, token string) (*auth.Claims, error) {
	if strings.HasPrefix(token, identity.APIKeyPrefix) {
		return nil, identity.ErrInvalidCredentials // the console signs people in, never keys
	}
	cl, err := a.s.deps.Verifier.Verify(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", identity.ErrInvalidCredentials, err)
	}
	if err := a.s.deps.Identity.CheckRevoked(ctx, cl); err != nil {
		return nil, err
	}
	return cl, nil
}

// explain is the API's error mapping for the console's pages.
func explain(err error) console.Explained {
	p := toProblem(err)
	return console.Explained{Status: p.Status, Title: p.Title, Detail: p.Detail, Fields: p.Errors}
}

// allows is the access matrix for the console.
func allows(method, route string, cl *auth.Claims) bool {
	a, ok := RouteRoles(method, route)
	return ok && a.Allows(cl)
}

// consoleRoutes builds the console's own router with the gateway's request
// id, audit, logging and recovery middleware, and the console's headers. It
// is nil when the gateway has no identity service (no one could sign in).
func (s *Server) consoleRoutes() (*echo.Echo, map[string]bool, error) {
	if s.deps.Identity == nil {
		return nil, nil, nil
	}
	deps := console.Deps{
		Assessments: s.app, Reports: s.reports, Catalog: s.deps.Catalog, Sessions: consoleSessions{s},
		Allows: allows, Explain: explain, Challenges: s.deps.Challenges, Logger: s.log,
		Events:      func(c echo.Context) error { return s.capStreams(s.streamEvents)(c) },
		SignInLimit: s.rateLimitAnonymous, PageLimit: s.rateLimit,
		Admin: consoleAdmin{s}, Webhooks: s.hooks, AuditLog: s.auditLog, Record: s.auditConsole,
		Eraser: consoleEraser{s}, Estimates: consoleEstimates{s.est},
	}
	if s.chat != nil {
		deps.Chat = consoleChat{chat: s.chat, streams: s.streams}
	}
	c, err := console.New(console.Config{SecureCookies: s.cfg.ConsoleSecureCookies}, deps)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if s.log != nil {
		e.Logger.SetOutput(slog.NewLogLogger(s.log.Handler(), slog.LevelWarn).Writer())
	}
	e.IPExtractor = s.ipExtractor()
	e.Use(assignRequestID)
	e.Use(console.SecurityHeaders)
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic serving console page",
				slog.String("error", redact.String(err.Error())), slog.String("stack", redact.String(string(stack))),
				slog.String("request_id", requestID(c)))
			return err
		},
	}))
	// Form bodies are bounded like API bodies.
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method == http.MethodPost {
				return s.limitBody(next)(c)
			}
			return next(c)
		}
	})
	c.Register(e)
	return e, consoleSegments(c), nil
}

// consoleEstimates answers the console's calculator with the estimate
// routes' own validation (the OpenAPI schemas, then the rules between
// fields) and engine.
type consoleEstimates struct{ est *estimator }

func (e consoleEstimates) Inference(_ context.Context, body []byte) (*api.InferenceEstimate, error) {
	req, err := decodeEstimate(body, e.est.inference, inferenceErrors)
	if err != nil {
		return nil, err
	}
	return e.est.inferenceOf(req)
}

func (e consoleEstimates) Training(_ context.Context, body []byte) (*api.TrainingEstimate, error) {
	req, err := decodeEstimate(body, e.est.training, trainingErrors)
	if err != nil {
		return nil, err
	}
	return e.est.trainingOf(req)
}

// consoleChat is the chat use cases for the console's pages, with the
// caller's tools from the access matrix as for the chat routes.
type consoleChat struct {
	chat *consultant.Chat
	// streams ends on shutdown, and with it an answer being written.
	streams context.Context
}

func (c consoleChat) List(ctx context.Context, cl *auth.Claims, correlationID, assessmentID string) ([]store.Conversation, error) {
	return c.chat.List(ctx, chatCallerOf(cl, correlationID), assessmentID)
}

func (c consoleChat) Start(ctx context.Context, cl *auth.Claims, correlationID, assessmentID, title string) (store.Conversation, error) {
	return c.chat.Start(ctx, chatCallerOf(cl, correlationID), assessmentID, title)
}

func (c consoleChat) Get(ctx context.Context, cl *auth.Claims, correlationID, assessmentID, id string) (store.Conversation, error) {
	return c.chat.Get(ctx, chatCallerOf(cl, correlationID), assessmentID, id)
}

func (c consoleChat) Begin(ctx context.Context, cl *auth.Claims, correlationID, assessmentID, id, content string) (console.ChatTurn, error) {
	t, err := c.chat.Begin(ctx, chatCallerOf(cl, correlationID), assessmentID, id, content)
	if err != nil {
		return nil, err
	}
	return consoleTurn{t: t, streams: c.streams}, nil
}

type consoleTurn struct {
	t       *consultant.Turn
	streams context.Context
}

func (t consoleTurn) Run(ctx context.Context, sink console.ChatSink) (store.ChatMessage, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.streams, cancel) // server shutdown ends the answer
	defer stop()
	return t.t.Run(ctx, sink)
}

// dispatch sends the console's paths to the console, when there is one, and
// everything else to the API router.
func (s *Server) dispatch() http.Handler {
	if s.console == nil {
		return s.echo
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seg := firstSegment(r.URL.Path); s.consolePaths[seg] && (seg != "" || r.URL.Path == "/") {
			s.console.ServeHTTP(w, r)
			return
		}
		s.echo.ServeHTTP(w, r)
	})
}
