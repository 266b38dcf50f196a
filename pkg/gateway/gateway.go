// Package gateway is Infra Mind's public HTTP surface: bearer-token auth and
// tenancy, request validation, assessment creation (published to JetStream,
// never calling a worker), assessment and report reads, live progress over
// Server-Sent Events with Last-Event-ID replay, health, metrics and the
// OpenAPI document. Every error leaves as RFC 9457 problem JSON.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/gateway/gatewayapi"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAddr              = ":8080"
	DefaultBodyLimit         = 1 << 20 // 1 MiB: a 50-workload request is about 20 KiB.
	DefaultAssessmentTimeout = 2 * time.Minute
	DefaultKeepAlive         = 15 * time.Second
	DefaultCompletedWait     = 2 * time.Minute
	// shutdownGrace bounds how long Serve waits for in-flight requests.
	shutdownGrace = 10 * time.Second
	// bodyReadTimeout bounds reading a request body, so a client trickling
	// bytes cannot hold a connection.
	bodyReadTimeout = 30 * time.Second
)

// Config tunes the gateway. Zero values take the defaults above.
type Config struct {
	Addr      string // listen address, ":8080"
	BodyLimit int64  // request body limit in bytes (1 MiB)
	// AssessmentTimeout is the deadline given to each new assessment (2m).
	AssessmentTimeout time.Duration
	// KeepAlive is the interval of SSE keep-alive comments (15s), short
	// enough that proxies do not close an idle progress stream.
	KeepAlive time.Duration
	// CompletedWait is how long after an assessment closed its event stream
	// waits for the completed event (2m). The synthesizer publishes it just
	// after closing the assessment, or on the redelivery after its 30 s ack
	// deadline when it stopped in between.
	CompletedWait time.Duration
	// WebhookPolicy decides which webhook URLs may be registered (zero:
	// https to public addresses only).
	WebhookPolicy webhook.Policy
	// Limits are the rate limits, the cap on active assessments and the
	// CORS allow-list (limits.go).
	Limits Limits
	// ErasureSweepInterval is how often RunErasureSweep looks for erasures
	// to sweep again (1m); ErasureGrace is how long after an erasure that
	// happens (10m): longer than a writer already running can take.
	ErasureSweepInterval time.Duration
	ErasureGrace         time.Duration
	// TrustedProxies are the CIDRs (such as 10.0.0.0/8 or 192.0.2.7/32) of
	// the reverse proxies in front of the gateway, whose X-Forwarded-For
	// entries are believed. The client address (per-address rate limits,
	// the audit log's source address) is then the nearest X-Forwarded-For
	// entry outside these ranges. Empty: the TCP peer is the client and
	// X-Forwarded-For is ignored, since any client can write it.
	TrustedProxies []string
	// ConsoleSecureCookies marks the console's session cookies Secure (with
	// the __Host- prefix); off only for plain-HTTP development.
	ConsoleSecureCookies bool
	// Chat caps the consultant's chat (used when Deps.LLM is set).
	Chat consultant.ChatConfig
}

// Deps are the gateway's collaborators. The use cases' ports are
// interfaces: the composition root (pkg/platform/gatewayrole) builds them on
// NATS, the document store and Redis; tests build them on in-process fakes
// (pkg/app/apptest and the fakes next to each port).
type Deps struct {
	// Assessments stores assessments (and, while one runs, reads its
	// progress from the pipeline state); Queue hands them to the pipeline.
	Assessments app.Assessments
	Queue       app.Queue
	// Admission bounds the assessments in flight (on the broker, see
	// adapters.BrokerAdmission): past it a new one is refused with 429 and
	// Retry-After before it is stored. Nil admits all.
	Admission app.Admission
	// Events is the progress events' log the event stream reads.
	Events app.EventLog
	// ErasureStore and ErasureBroker are what the right to erasure removes
	// through.
	ErasureStore  app.ErasureStore
	ErasureBroker app.ErasureBroker
	// Store holds the repositories of the report, webhook, audit and chat
	// use cases.
	Store Stores
	// ReportCache keeps finished reports for a while.
	ReportCache ReportCache
	// Limiter and Slots hold the rate limits and the caps on active
	// assessments and open event streams, shared by every replica.
	Limiter Limiter
	Slots   Slots
	// Challenges keeps the console's MFA sign-in challenges; required with
	// Identity (the console serves sign-in).
	Challenges console.Challenges
	Verifier   *auth.Verifier
	Logger     *slog.Logger
	Metrics    *telemetry.Metrics
	Registry   *prometheus.Registry
	// TracerProvider makes the requests' spans (nil: the global provider).
	TracerProvider trace.TracerProvider
	// Checks are the readiness checks /readyz runs (NATS, store, Redis).
	Checks []telemetry.Check
	// Catalog is the loaded catalogue the estimate routes compute with; nil
	// means New loads the embedded one.
	Catalog *catalog.Catalog
	// PriceTables are the catalogue versions' instance rows the catalogue
	// diff route compares (catalog.PriceTables); nil means New loads the
	// embedded ones. Both are read-only, so one load can serve many servers.
	PriceTables []catalog.PriceTable
	// Identity signs users in and checks revocation and API keys; nil leaves
	// only tokens from Verifier accepted (no sign-in, no revocation check).
	Identity *identity.Service
	// Keys is the signing key ring published at /.well-known/jwks.json.
	Keys *auth.KeyRing
	// LLM answers the consultant's chat; nil turns the chat routes off
	// (503, problem type chat-off). LLMSecrets returns the providers'
	// current API keys, which an answer must never contain.
	LLM        llm.Completer
	LLMSecrets func() []string
	// LLMBudget counts each tenant's language model use against its budgets
	// (the chat's calls are metered through it; GET /v1/usage/llm reads it).
	LLMBudget LLMBudget
}

// validate names the first required dependency d lacks.
func (d Deps) validate() error {
	missing := ""
	switch {
	case d.Assessments == nil:
		missing = "Assessments"
	case d.Queue == nil:
		missing = "Queue"
	case d.Events == nil:
		missing = "Events"
	case d.ErasureStore == nil:
		missing = "ErasureStore"
	case d.ErasureBroker == nil:
		missing = "ErasureBroker"
	case d.Store.Reports == nil:
		missing = "Store.Reports"
	case d.Store.Recommendations == nil:
		missing = "Store.Recommendations"
	case d.Store.Webhooks == nil:
		missing = "Store.Webhooks"
	case d.Store.Audit == nil:
		missing = "Store.Audit"
	case d.LLM != nil && d.Store.Conversations == nil:
		missing = "Store.Conversations (with LLM)"
	case d.ReportCache == nil:
		missing = "ReportCache"
	case d.Limiter == nil:
		missing = "Limiter"
	case d.Slots == nil:
		missing = "Slots"
	case d.Identity != nil && d.Challenges == nil:
		missing = "Challenges (with Identity)"
	case d.LLMBudget == nil:
		missing = "LLMBudget"
	case d.Verifier == nil:
		missing = "Verifier"
	case d.Metrics == nil || d.Metrics.HTTPRequests == nil || d.Metrics.HTTPSeconds == nil:
		missing = "Metrics with HTTPRequests and HTTPSeconds"
	case d.Registry == nil:
		missing = "Registry"
	}
	if missing != "" {
		return fmt.Errorf("gateway: %s is required", missing)
	}
	return nil
}

// Server is the gateway HTTP server.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	est  *estimator
	// app runs the assessment use cases the handlers call.
	app *app.Service
	// reports runs the report, recommendation and diff use cases.
	reports *app.Reports
	// progress runs the live-progress use case of the event stream.
	progress *app.Progress
	// hooks runs the webhook use cases; auditLog reads the audit log.
	hooks    *app.Webhooks
	auditLog *app.Audit
	// erasure erases assessments (DELETE /v1/assessments/{id}).
	erasure *app.Erasure
	// chat runs the consultant's chat; nil when no provider is configured.
	chat *consultant.Chat
	// llmBudget counts the tenants' language model use.
	llmBudget LLMBudget
	// priceTables are the catalogue versions' instance rows this build holds, oldest first,
	// loaded once (GET /v1/catalogue/versions/{version}/diff).
	priceTables []catalog.PriceTable
	// tracer makes each request's span (Deps.TracerProvider).
	tracer trace.Tracer
	// params are the query parameters and headers of each operation of the
	// OpenAPI document (repeated.go).
	params map[string][]docParam
	prot   *protection
	// trusted are the parsed Config.TrustedProxies.
	trusted []*net.IPNet
	echo    *echo.Echo
	// console serves the web console's pages (console.go); nil without an
	// identity service.
	console *echo.Echo
	// consolePaths are the first path segments the console serves.
	consolePaths map[string]bool
	srv          *http.Server

	// audit queues the audit log's records (audit.go).
	audit *audit.Recorder

	// streams is cancelled when Serve begins shutting down, so open SSE
	// streams end instead of holding the graceful shutdown open.
	streams      context.Context
	closeStreams context.CancelFunc

	mu sync.Mutex
	ln net.Listener
}

// New validates the dependencies, applies defaults and builds the routes.
func New(cfg Config, d Deps) (*Server, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.AssessmentTimeout <= 0 {
		cfg.AssessmentTimeout = DefaultAssessmentTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.CompletedWait <= 0 {
		cfg.CompletedWait = DefaultCompletedWait
	}
	if cfg.ErasureSweepInterval <= 0 {
		cfg.ErasureSweepInterval = DefaultErasureSweepInterval
	}
	if cfg.ErasureGrace <= 0 {
		cfg.ErasureGrace = DefaultErasureGrace
	}
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if d.Catalog == nil {
		cat, err := catalog.Load()
		if err != nil {
			return nil, fmt.Errorf("gateway: load the catalogue: %w", err)
		}
		d.Catalog = cat
	}
	est, err := newEstimator(d.Catalog)
	if err != nil {
		return nil, err
	}
	priceTables := d.PriceTables
	if priceTables == nil {
		if priceTables, err = catalog.PriceTables(); err != nil {
			return nil, fmt.Errorf("gateway: load the catalogue's versions: %w", err)
		}
	}
	svc, err := app.New(d.Assessments, d.Queue, app.Options{Timeout: cfg.AssessmentTimeout, Admission: d.Admission})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	progress, err := app.NewProgress(d.Assessments, d.Events, app.ProgressOptions{CompletedWait: cfg.CompletedWait})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	reports, err := app.NewReports(app.ReportDeps{Assessments: d.Assessments, Reports: d.Store.Reports,
		Recommendations: d.Store.Recommendations, Cache: d.ReportCache, Narratives: d.Store.Narratives, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	hooks, err := app.NewWebhooks(app.WebhookDeps{Store: d.Store.Webhooks, Policy: adapters.WebhookURLPolicy{Policy: cfg.WebhookPolicy},
		EventTypes: webhook.EventTypes(), NewSecret: webhook.NewSecret})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	auditLog, err := app.NewAudit(d.Store.Audit)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	params, err := operationParams(openAPIDocument)
	if err != nil {
		return nil, err
	}
	erasure, err := newErasure(d, logger)
	if err != nil {
		return nil, err
	}
	prot, err := newProtection(cfg.Limits, d.Limiter, d.Slots, d.Registry)
	if err != nil {
		return nil, err
	}
	trusted, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	tp := d.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	s := &Server{cfg: cfg, deps: d, tracer: tp.Tracer("gateway"), log: logger, est: est, app: svc, progress: progress, reports: reports, hooks: hooks, auditLog: auditLog, params: params, prot: prot, trusted: trusted,
		priceTables: priceTables, erasure: erasure}
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	s.llmBudget = d.LLMBudget
	if d.LLM != nil {
		if s.chat, err = s.newChat(cfg.Chat, d); err != nil {
			return nil, err
		}
	}
	if s.audit, err = audit.NewRecorder(d.Store.Audit, audit.Options{Logger: logger, Registry: d.Registry}); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.echo = s.routes()
	if s.console, s.consolePaths, err = s.consoleRoutes(); err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler: s.dispatch(),
		// No ReadTimeout or WriteTimeout: both are connection deadlines that
		// would cut SSE responses, which stay open for the life of an
		// assessment (an expired read deadline also cancels the request
		// context). Headers are bounded here and bodies per request in limitBody.
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
		// net/http's errors (TLS handshakes, hijacked writes) go to the
		// service's logger, not the standard library's stderr logger.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// parseTrustedProxies parses the trusted proxies' CIDRs.
func parseTrustedProxies(cidrs []string) ([]*net.IPNet, error) {
	out := make([]*net.IPNet, 0, len(cidrs))
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("gateway: trusted proxy %q is not a CIDR such as 10.0.0.0/8 or 192.0.2.7/32: %w", c, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// ipExtractor resolves the client address echo's RealIP reports. With no
// trusted proxy it is the TCP peer. Otherwise it walks X-Forwarded-For from
// the nearest entry and takes the first address outside the trusted ranges;
// echo's default trust of loopback, link-local and private addresses is
// turned off, so only the configured ranges vouch for an entry.
func (s *Server) ipExtractor() echo.IPExtractor {
	if len(s.trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range s.trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// routes wires middleware and handlers. Middleware order matters: request id
// and security headers apply to every response, observe sees the final status
// of errors and panics, and Recover turns a panic into a 500 problem.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// echo's own logger writes plain text to stdout; its lines go through
	// the service's logger instead, with its redaction.
	if s.log != nil {
		e.Logger.SetOutput(slog.NewLogLogger(s.log.Handler(), slog.LevelWarn).Writer())
	}
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.ipExtractor()

	e.Use(assignRequestID)
	e.Use(securityHeaders)
	// Outside observe, which renders errors: the audit record gets the final status.
	e.Use(s.recordAudit)
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: false,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic serving request",
				slog.String("error", redact.String(err.Error())), slog.String("stack", redact.String(string(stack))),
				slog.String("request_id", requestID(c)))
			return err
		},
	}))
	if cors := s.prot.cors(); cors != nil {
		e.Use(cors)
	}

	// The public port answers health and readiness only; /metrics and the per-component readiness are
	// served on the operations listener (IM_METRICS_ADDR), which the public does not reach.
	ops := echo.WrapHandler(telemetry.NewServer("", s.deps.Registry, s.deps.Checks...).WithLogger(s.log).PublicHandler())

	// Every operation of the OpenAPI document is registered by the code
	// generated from it (gatewayapi), each with its middleware
	// (operationMiddlewares, server_api.go). Auth is attached per route rather
	// than with Group.Use, which would add a catch-all route under /v1 and
	// turn 405 answers into 404s. The event stream, whose resume parameters
	// the generator cannot name, is registered here.
	gatewayapi.RegisterHandlersWithOptions(e, apiServer{Server: s, ops: ops},
		gatewayapi.RegisterHandlersOptions{OperationMiddlewares: s.operationMiddlewares()})
	e.GET("/v1/assessments/:id/events", s.streamEvents, s.authenticate, s.authorize, s.rateLimit,
		onceEach(s.params["streamAssessmentEvents"]), s.capStreams)
	return e
}

// Handler returns the gateway's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.dispatch() }

// Listen binds the configured address; Addr then reports the bound address.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return fmt.Errorf("gateway: already listening on %s", s.ln.Addr())
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address after Listen, the configured one before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// Serve serves until ctx is done, then ends open SSE streams and shuts down
// gracefully, waiting up to 10s for in-flight requests. It listens first if
// Listen was not called. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	// Deferred: runs after the last request ended, so its record is stored.
	defer s.drainAudit(ctx)
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
		s.mu.Lock()
		ln = s.ln
		s.mu.Unlock()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.closeStreams()
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	s.closeStreams()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := s.srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}
