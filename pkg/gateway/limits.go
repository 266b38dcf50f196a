package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/ratelimit"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Problem types of the protection limits (RFC 9457 "type").
const (
	ProblemRateLimited       = problemBase + "rate-limited"
	ProblemTooManyActive     = problemBase + "too-many-active-assessments"
	ProblemPipelineBusy      = problemBase + "pipeline-busy"
	ProblemTooManyStreams    = problemBase + "too-many-event-streams"
	headerRetryAfter         = "Retry-After"
	headerRateLimitLimit     = "RateLimit-Limit"
	headerRateLimitRemaining = "RateLimit-Remaining"
	headerRateLimitReset     = "RateLimit-Reset"
)

// Default protection limits. They are product policy, not measurements: they
// leave an interactive user and a CI client room (a page load is a handful of
// requests) while bounding what one tenant, user or address can cost.
const (
	DefaultTenantRequests    = 1200 // per window, all of a tenant's users together
	DefaultUserRequests      = 600  // per window, one token subject
	DefaultExpensiveRequests = 60   // per window, one client address on expensive routes
	// DefaultAuthRequests is per window and client address on sign-in and
	// token refresh: a person signs in a few times a day and a client
	// refreshes every quarter hour, while a password guesser needs
	// thousands of tries.
	DefaultAuthRequests = 10
	DefaultRateWindow   = time.Minute
	// DefaultMaxActiveAssessments caps a tenant's queued and running
	// assessments (versions and scenarios included).
	DefaultMaxActiveAssessments = 20
	// DefaultMaxStreamsPerCredential caps the event streams one credential
	// (a user's token or an API key) holds open at once: a console tab
	// follows one assessment, and a browser opens at most six connections
	// per origin over HTTP/1.1.
	DefaultMaxStreamsPerCredential = 10
	// DefaultMaxStreamsPerTenant caps the event streams of all of a
	// tenant's credentials together.
	DefaultMaxStreamsPerTenant = 100
	// streamLease is how long a stream's slot is held without renewal; an
	// open stream renews it every streamLease/3, so only a replica that
	// died leaves a slot behind, and only for this long.
	streamLease = time.Minute
	// streamRetryAfter is the Retry-After of a refused stream: streams end
	// when their assessment does, within the assessment timeout.
	streamRetryAfter = 30
	// activeGrace keeps an assessment's slot a little past its deadline,
	// while the synthesizer's deadline sweep finishes it.
	activeGrace = time.Minute
	// reservationPrefix marks a slot held by a create request in progress,
	// before the assessment it creates has an id.
	reservationPrefix = "req-"
)

// Limits are the gateway's protection limits. Zero values take the defaults
// above, except CORSAllowedOrigins: empty means no CORS headers at all.
type Limits struct {
	// TenantRequests and UserRequests bound /v1 requests per RateWindow for a
	// tenant and for one user (token subject) within it.
	TenantRequests int
	UserRequests   int
	// ExpensiveRequests bounds, per client address within a tenant, the
	// routes that start computation: creating assessments, versions and
	// scenarios, and the estimate calculators (see isExpensive).
	ExpensiveRequests int
	// AuthRequests bounds, per client address and across all tenants, the
	// pre-authentication routes (sign-in and token refresh; see
	// rateLimitAnonymous), which have no tenant or user to count against
	// yet (10).
	AuthRequests int
	// RateWindow is the window of the request limits (1m).
	RateWindow time.Duration
	// MaxActiveAssessments caps a tenant's assessments that are queued or
	// running at once (20).
	MaxActiveAssessments int
	// MaxStreamsPerCredential and MaxStreamsPerTenant cap the event streams
	// (GET /v1/assessments/{id}/events) open at once for one credential (the
	// token subject; an API key's is apikey:<id>) and for a tenant, across
	// replicas (10 and 100).
	MaxStreamsPerCredential int
	MaxStreamsPerTenant     int
	// CORSAllowedOrigins lists the exact origins (scheme://host[:port]) a
	// browser may call the API from.
	CORSAllowedOrigins []string
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	if l.TenantRequests <= 0 {
		l.TenantRequests = DefaultTenantRequests
	}
	if l.UserRequests <= 0 {
		l.UserRequests = DefaultUserRequests
	}
	if l.ExpensiveRequests <= 0 {
		l.ExpensiveRequests = DefaultExpensiveRequests
	}
	if l.AuthRequests <= 0 {
		l.AuthRequests = DefaultAuthRequests
	}
	if l.RateWindow <= 0 {
		l.RateWindow = DefaultRateWindow
	}
	if l.MaxActiveAssessments <= 0 {
		l.MaxActiveAssessments = DefaultMaxActiveAssessments
	}
	if l.MaxStreamsPerCredential <= 0 {
		l.MaxStreamsPerCredential = DefaultMaxStreamsPerCredential
	}
	if l.MaxStreamsPerTenant <= 0 {
		l.MaxStreamsPerTenant = DefaultMaxStreamsPerTenant
	}
	return l
}

// isExpensive tells the routes that start computation (a pipeline run or a
// calculator) or check a credential (sign-in, token refresh), so they get a
// stricter per-address limit on top of the tenant and user limits. The
// credential routes run before there is a tenant; rateLimitAnonymous gives
// them their per-address limit.
func isExpensive(method, route string) bool {
	if method != http.MethodPost {
		return false
	}
	switch route {
	case "/v1/assessments", "/v1/assessments/:id/versions", "/v1/assessments/:id/scenarios",
		"/v1/estimates/inference", "/v1/estimates/training",
		"/v1/assessments/:id/conversations/:cid/messages",
		"/v1/auth/login", "/v1/auth/refresh":
		return true
	}
	return false
}

// anonymousScope is the cache-key scope of limits counted before there is a
// tenant. Tenant ids cannot start with '_', so no tenant's keys collide
// with it.
const anonymousScope = "_anonymous"

// protection holds the shared limiters and their metric.
type protection struct {
	limits  Limits
	limiter Limiter
	slots   Slots
	// decisions counts limit checks by check and outcome (allowed, refused,
	// redis_error), so a Redis outage that opens the limits is visible.
	decisions *prometheus.CounterVec
}

func newProtection(l Limits, limiter Limiter, slots Slots, reg *prometheus.Registry) (*protection, error) {
	l = l.withDefaults()
	for _, o := range l.CORSAllowedOrigins {
		if o == "*" || !strings.Contains(o, "://") || strings.HasSuffix(o, "/") {
			return nil, fmt.Errorf("gateway: CORS origin %q must be an exact scheme://host[:port]", o)
		}
	}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inframind_gateway_limit_checks_total",
		Help: "Protection limit checks by check (tenant, user, address, auth-address, active, stream-credential, stream-tenant) and outcome (allowed, refused, redis_error).",
	}, []string{"check", "outcome"})
	if err := reg.Register(decisions); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("gateway: register limit metric: %w", err)
		}
		decisions = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return &protection{
		limits:    l,
		limiter:   limiter,
		slots:     slots,
		decisions: decisions,
	}, nil
}

// keyPart makes a subject or address safe as a cache.Key part (no ':').
func keyPart(s string) string { return strings.ReplaceAll(s, ":", "_") }

// clientAddress is the client's address as echo's IPExtractor resolves it
// (routes sets it from Config.TrustedProxies): the connection's peer, or the
// X-Forwarded-For entry a trusted proxy vouches for. An untrusted peer's
// X-Forwarded-For is ignored, or any client could pick its own bucket.
func clientAddress(c echo.Context) string { return c.RealIP() }

// limitCheck is one request limit to spend.
type limitCheck struct {
	name, key string
	lim       ratelimit.Limit
}

// rateLimit applies the tenant and user limits to an authenticated /v1
// request, and the per-address limit to expensive routes. It goes after
// authenticate, which provides the tenant and subject.
//
// When Redis fails the request is let through (fail open) with a warning and
// a redis_error count: the limits protect capacity, not data (tokens are
// still verified and tenants still isolated), and refusing every request
// while the cache is down would turn a cache outage into an API outage.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := s.prot
		cl, _ := c.Get(claimsKey).(*auth.Claims)
		if p == nil || cl == nil {
			return next(c)
		}
		w := p.limits.RateWindow
		checks := []limitCheck{
			{"tenant", cache.Key(cl.Tenant, "rl", "tenant"), ratelimit.Limit{Requests: p.limits.TenantRequests, Window: w}},
			{"user", cache.Key(cl.Tenant, "rl", "user", keyPart(cl.Subject)), ratelimit.Limit{Requests: p.limits.UserRequests, Window: w}},
		}
		if isExpensive(c.Request().Method, c.Path()) {
			checks = append(checks, limitCheck{"address", cache.Key(cl.Tenant, "rl", "addr", keyPart(clientAddress(c))),
				ratelimit.Limit{Requests: p.limits.ExpensiveRequests, Window: w}})
		}
		return s.spendLimits(c, next, checks)
	}
}

// rateLimitAnonymous bounds the pre-authentication routes (sign-in and token
// refresh) per client address, across all tenants: before the credential is
// checked there is no tenant or user to count against, and a guesser
// spreading tries over many tenants or accounts is still one address. The
// per-account lockout of sign-in is separate; this caps what one address can
// try at all. Attach it to a route in place of authenticate and rateLimit.
// Redis failures fail open as in rateLimit.
func (s *Server) rateLimitAnonymous(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := s.prot
		if p == nil {
			return next(c)
		}
		return s.spendLimits(c, next, []limitCheck{{"auth-address",
			cache.Key(anonymousScope, "rl", "auth", "addr", keyPart(clientAddress(c))),
			ratelimit.Limit{Requests: p.limits.AuthRequests, Window: p.limits.RateWindow}}})
	}
}

// spendLimits spends one request of each check in order; the first spent
// limit answers 429, and otherwise the RateLimit headers report the limit
// closest to being spent.
func (s *Server) spendLimits(c echo.Context, next echo.HandlerFunc, checks []limitCheck) error {
	ctx, span := step(c, "rate limits")
	err := s.spend(ctx, c, checks)
	endStep(span, err)
	if err != nil {
		return err
	}
	return next(c)
}

// spend is spendLimits' counting, in one round trip: nil when every limit
// has room.
func (s *Server) spend(ctx context.Context, c echo.Context, checks []limitCheck) error {
	p := s.prot
	spend := make([]ratelimit.Check, len(checks))
	for i, ch := range checks {
		spend[i] = ratelimit.Check{Key: ch.key, Limit: ch.lim}
	}
	results, err := p.limiter.Spend(ctx, spend...)
	if err != nil {
		names := make([]string, len(checks))
		for i, ch := range checks {
			p.decisions.WithLabelValues(ch.name, "redis_error").Inc()
			names[i] = ch.name
		}
		s.log.WarnContext(ctx, "rate limit unavailable, request allowed",
			slog.Any("checks", names), slog.String("error", err.Error()),
			slog.String("request_id", requestID(c)))
		return nil
	}
	var shown *ratelimit.Result
	for i, r := range results {
		ch := checks[i]
		if !r.Allowed {
			p.decisions.WithLabelValues(ch.name, "refused").Inc()
			setRateHeaders(c, r)
			return rateLimited(ch.name, r)
		}
		p.decisions.WithLabelValues(ch.name, "allowed").Inc()
		// Report the limit closest to being spent.
		if shown == nil || r.Remaining < shown.Remaining {
			shown = &results[i]
		}
	}
	if shown != nil {
		setRateHeaders(c, *shown)
	}
	return nil
}

// setRateHeaders writes the RateLimit fields (draft-ietf-httpapi-ratelimit-
// headers: limit, remaining, seconds until reset).
func setRateHeaders(c echo.Context, r ratelimit.Result) {
	h := c.Response().Header()
	h.Set(headerRateLimitLimit, strconv.Itoa(r.Limit))
	h.Set(headerRateLimitRemaining, strconv.Itoa(r.Remaining))
	h.Set(headerRateLimitReset, strconv.Itoa(r.ResetSeconds()))
}

// rateLimited is the 429 for a spent request limit; Retry-After (RFC 9110
// section 10.2.3, RFC 6585 section 4) says when the window resets.
func rateLimited(check string, r ratelimit.Result) *Problem {
	what := map[string]string{
		"tenant":       "your organisation's request limit",
		"user":         "your request limit",
		"address":      "the limit for requests that start computation from your address",
		"auth-address": "the limit for sign-in and token requests from your address",
	}[check]
	p := problem(http.StatusTooManyRequests, ProblemRateLimited, "Too many requests",
		fmt.Sprintf("You have used %s (%d requests per window). Retry after %d seconds.", what, r.Limit, r.ResetSeconds()))
	p.header = http.Header{headerRetryAfter: {strconv.Itoa(r.ResetSeconds())}}
	return p
}

// capActive bounds a tenant's queued and running assessments on the routes
// that create one (assessments, versions, scenarios). Over the cap it answers
// 429 naming the limit.
//
// The count lives in Redis, not in a store query: admission is one atomic
// script (check and add), so two replicas cannot both admit the last slot,
// and the store is only read by key. Each slot holder is an assessment id
// whose slot expires after the assessment's deadline (plus the sweep's
// grace); when the cap is reached, the holders are checked against the store
// and finished ones released before the answer, so the store stays the truth
// about what is still running (reserveActive). Counting in the store instead would need a filtered scan of the
// tenant's assessments (FerretDB's SQLite backend uses no secondary index)
// and a count-then-insert that races across replicas.
//
// A create request holds a reservation slot while it runs; on success its
// assessment (the id in Location) takes the slot over. Redis failures fail
// open for the reasons given on rateLimit.
func (s *Server) capActive(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := s.prot
		tenant := tenantOf(c)
		if p == nil || tenant == "" {
			return next(c)
		}
		key := cache.Key(tenant, "active")
		until := time.Now().Add(s.cfg.AssessmentTimeout + activeGrace)
		reservation := reservationPrefix + requestID(c)
		sctx, span := step(c, "active cap")
		ok, held, err := s.reserveActive(sctx, tenant, key, reservation, until)
		endStep(span, err)
		if err != nil {
			return s.activeUnavailable(c, next, err)
		}
		if !ok {
			p.decisions.WithLabelValues("active", "refused").Inc()
			pr := problem(http.StatusTooManyRequests, ProblemTooManyActive, "Too many active assessments",
				fmt.Sprintf("Your organisation has %d assessments queued or running, the limit of active assessments is %d. "+
					"Retry when one has finished.", held, p.limits.MaxActiveAssessments))
			// A hint, not a promise: the earliest a slot frees is when an
			// assessment finishes, at the latest its deadline.
			pr.header = http.Header{headerRetryAfter: {strconv.Itoa(int(s.cfg.AssessmentTimeout / time.Second))}}
			return pr
		}
		p.decisions.WithLabelValues("active", "allowed").Inc()
		herr := next(c)
		// Cleanup outlives a cancelled request so the reservation is not left
		// to expire on its own.
		ctx, span := step(c, "active cap hold")
		defer span.End()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		id := ""
		if herr == nil && c.Response().Status < 300 {
			if v, ok := strings.CutPrefix(c.Response().Header().Get(echo.HeaderLocation), "/v1/assessments/"); ok && v != "" && !strings.Contains(v, "/") {
				id = v
			}
		}
		s.handOver(cctx, key, reservation, id, until)
		return herr
	}
}

// handOver gives the slot of reservation to the assessment id it created,
// in one step, or frees it when id is empty (nothing was created).
func (s *Server) handOver(ctx context.Context, key, reservation, id string, until time.Time) {
	if id == "" {
		if err := s.prot.slots.Release(ctx, key, reservation); err != nil {
			s.log.WarnContext(ctx, "active assessment reservation not released", slog.String("error", err.Error()))
		}
		return
	}
	if err := s.prot.slots.Hold(ctx, key, id, until, reservation); err != nil {
		s.log.WarnContext(ctx, "active assessment not recorded", slog.String("error", err.Error()))
		// The reservation lapses at until otherwise.
		if err := s.prot.slots.Release(ctx, key, reservation); err != nil {
			s.log.WarnContext(ctx, "active assessment reservation not released", slog.String("error", err.Error()))
		}
	}
}

// reserveActive takes a slot of the tenant's active assessments for
// reservation (see capActive). Only when the cap is reached are the holders
// checked against the store: the slots of finished assessments are freed and
// the slot asked for again. A finished assessment's slot that is still held
// changes no answer while there is room, so the common case is one round
// trip, and the store is read only when a slot is wanted and none is free.
func (s *Server) reserveActive(ctx context.Context, tenant, key, reservation string, until time.Time) (bool, int, error) {
	capacity := s.prot.limits.MaxActiveAssessments
	ok, held, err := s.prot.slots.Acquire(ctx, key, reservation, capacity, until)
	if err != nil || ok {
		return ok, held, err
	}
	if err := s.releaseFinished(ctx, tenant, key); err != nil {
		return false, 0, err
	}
	return s.prot.slots.Acquire(ctx, key, reservation, capacity, until)
}

// activeUnavailable lets a create through when Redis fails (fail open).
func (s *Server) activeUnavailable(c echo.Context, next echo.HandlerFunc, err error) error {
	s.prot.decisions.WithLabelValues("active", "redis_error").Inc()
	s.log.WarnContext(c.Request().Context(), "active assessment cap unavailable, request allowed",
		slog.String("error", err.Error()), slog.String("request_id", requestID(c)))
	return next(c)
}

// releaseFinished frees the slots of tenant's assessments that have reached a
// terminal status (or no longer exist). Holders are at most the cap, each
// read by key.
func (s *Server) releaseFinished(ctx context.Context, tenant, key string) error {
	holders, err := s.prot.slots.Holders(ctx, key)
	if err != nil {
		return err
	}
	var done []string
	for _, id := range holders {
		if strings.HasPrefix(id, reservationPrefix) {
			continue
		}
		a, err := s.deps.Assessments.Get(ctx, tenant, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			done = append(done, id)
		case err != nil:
			// Keep the slot: unsure means still running.
			s.log.WarnContext(ctx, "active assessment status unknown", slog.String("assessment", id), slog.String("error", err.Error()))
		case assessment.Status(a.Status).Terminal():
			done = append(done, id)
		}
	}
	if err := s.prot.slots.Release(ctx, key, done...); err != nil {
		return fmt.Errorf("release finished assessments: %w", err)
	}
	return nil
}

// capStreams bounds the event streams open at once per credential and per
// tenant. Each stream holds a slot in both sets (ratelimit.Slots, shared by
// every replica through Redis), renews it while open and releases it when
// the handler returns, which it does when the stream ends, the server shuts
// down or the client goes away. A slot's member is random, never the
// client's X-Request-Id, which a client could repeat to reuse one slot for
// many streams. Over a cap it answers 429 naming the cap. Redis failures fail
// open for the reasons given on rateLimit.
func (s *Server) capStreams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := s.prot
		cl, _ := c.Get(claimsKey).(*auth.Claims)
		if p == nil || cl == nil {
			return next(c)
		}
		ctx := c.Request().Context()
		member := newRequestID()
		caps := []struct {
			check, key string
			limit      int
		}{
			{"stream-credential", cache.Key(cl.Tenant, "sse", "cred", keyPart(cl.Subject)), p.limits.MaxStreamsPerCredential},
			{"stream-tenant", cache.Key(cl.Tenant, "sse", "tenant"), p.limits.MaxStreamsPerTenant},
		}
		var held []string
		release := func() {
			if len(held) == 0 {
				return
			}
			// Cleanup outlives the cancelled request of a departed client.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for _, key := range held {
				if err := p.slots.Release(cctx, key, member); err != nil {
					s.log.WarnContext(ctx, "event stream slot not released", slog.String("error", err.Error()))
				}
			}
		}
		defer release()
		for _, cp := range caps {
			ok, n, err := p.slots.Acquire(ctx, cp.key, member, cp.limit, time.Now().Add(streamLease))
			if err != nil {
				p.decisions.WithLabelValues(cp.check, "redis_error").Inc()
				s.log.WarnContext(ctx, "event stream cap unavailable, stream allowed", slog.String("check", cp.check),
					slog.String("error", err.Error()), slog.String("request_id", requestID(c)))
				continue
			}
			if !ok {
				p.decisions.WithLabelValues(cp.check, "refused").Inc()
				return tooManyStreams(cp.check, n, cp.limit)
			}
			p.decisions.WithLabelValues(cp.check, "allowed").Inc()
			held = append(held, cp.key)
		}
		renewCtx, stopRenew := context.WithCancel(ctx)
		renewed := make(chan struct{})
		go func() {
			defer close(renewed)
			s.renewStreamSlots(renewCtx, held, member)
		}()
		err := next(c)
		stopRenew()
		<-renewed
		return err
	}
}

// renewStreamSlots extends a stream's slots every streamLease/3 until ctx
// ends.
func (s *Server) renewStreamSlots(ctx context.Context, keys []string, member string) {
	t := time.NewTicker(streamLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, key := range keys {
				if err := s.prot.slots.Hold(ctx, key, member, time.Now().Add(streamLease)); err != nil && ctx.Err() == nil {
					s.log.WarnContext(ctx, "event stream slot not renewed", slog.String("error", err.Error()))
				}
			}
		}
	}
}

// tooManyStreams is the 429 for a spent event-stream cap.
func tooManyStreams(check string, open, limit int) *Problem {
	what := map[string]string{
		"stream-credential": "this credential's limit of open event streams",
		"stream-tenant":     "your organisation's limit of open event streams",
	}[check]
	p := problem(http.StatusTooManyRequests, ProblemTooManyStreams, "Too many event streams",
		fmt.Sprintf("%d event streams are open, %s is %d. Close one, or retry after %d seconds.",
			open, what, limit, streamRetryAfter))
	p.header = http.Header{headerRetryAfter: {strconv.Itoa(streamRetryAfter)}}
	return p
}

// cors returns the CORS middleware for the allow-list, or nil when the list
// is empty (no CORS headers at all). Origins match exactly: no wildcards or
// subdomain patterns, so a look-alike origin never passes. A preflight from
// an origin not on the list gets no Access-Control headers, so the browser
// blocks the call.
func (p *protection) cors() echo.MiddlewareFunc {
	if p == nil || len(p.limits.CORSAllowedOrigins) == 0 {
		return nil
	}
	allowed := make(map[string]bool, len(p.limits.CORSAllowedOrigins))
	for _, o := range p.limits.CORSAllowedOrigins {
		allowed[o] = true
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: func(origin string) (bool, error) { return allowed[origin], nil },
		AllowMethods:    []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, "Idempotency-Key",
			"Last-Event-ID", echo.HeaderXRequestID},
		ExposeHeaders: []string{echo.HeaderLocation, echo.HeaderXRequestID, headerRetryAfter,
			headerRateLimitLimit, headerRateLimitRemaining, headerRateLimitReset},
		MaxAge: int((10 * time.Minute) / time.Second),
	})
}
