package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// claimsKey is the echo context key of the verified token claims; the
// console's pages keep their caller under the same key.
const claimsKey = console.ClaimsKey

// newRequestID returns 16 random bytes in hex: unguessable and log-friendly.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// maxRequestIDLen bounds a client-supplied X-Request-Id; it is logged and
// stored as the assessment's correlation id.
const maxRequestIDLen = 128

// assignRequestID keeps a well-formed X-Request-Id from the client (so a
// caller can correlate its own logs) and otherwise makes one, and echoes it
// on the response.
func assignRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestID returns the id assignRequestID put on the response.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// securityHeaders sets headers that stop browsers from sniffing content types
// or framing API responses; responses are data, never pages.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// observe traces, logs and measures every request. It hands errors to the
// error mapper itself so the log line and metrics carry the final status.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		start := time.Now()
		ctx := telemetry.Propagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		ctx, span := s.tracer.Start(ctx, req.Method+" "+route,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", req.Method),
				attribute.String("http.route", route),
			))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))

		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		elapsed := time.Since(start)
		s.deps.Metrics.HTTPRequests.WithLabelValues(req.Method, route, strconv.Itoa(status)).Inc()
		s.deps.Metrics.HTTPSeconds.WithLabelValues(req.Method, route).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("route", route),
			// The path, not the URL: a query string may carry a token. A
			// path segment may still hold a pasted credential (an API key
			// sent where its id belongs), which redact masks.
			slog.String("path", redact.String(req.URL.Path)),
			slog.Int("status", status),
			slog.Duration("duration", elapsed),
			slog.Int64("bytes_out", c.Response().Size),
			slog.String("request_id", requestID(c)),
		}
		if cl, ok := c.Get(claimsKey).(*auth.Claims); ok {
			attrs = append(attrs, slog.String("tenant", cl.Tenant), slog.String("subject", cl.Subject))
		}
		s.log.LogAttrs(ctx, level, "http request", attrs...)
		return nil
	}
}

// authenticate requires a valid credential and records its claims: an API
// key ("imk_...", read from the store on every request, so revoking one
// takes effect at once) or an access token (signature, then the revocation
// list in Redis that every replica shares). The revocation check fails
// closed: without Redis a token is refused with 503, not accepted unchecked.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if n := len(c.Request().Header.Values(echo.HeaderAuthorization)); n > 1 {
			// RFC 6750 section 3.1: a request that repeats a parameter is an
			// invalid_request (400), not a credential to pick from.
			p := invalidField(echo.HeaderAuthorization, fmt.Sprintf("the header was sent %d times; send one credential", n))
			p.header = http.Header{}
			p.header.Set("WWW-Authenticate", `Bearer realm="infra-mind", error="invalid_request"`)
			return p
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		if h == "" {
			return unauthorized("Send an access token or API key as 'Authorization: Bearer <token>'.", false, nil)
		}
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return unauthorized("The Authorization header must be 'Bearer <token>'.", true, nil)
		}
		ctx, span := step(c, "authenticate")
		claims, err := s.checkCredential(ctx, token)
		endStep(span, err)
		if err != nil {
			return err
		}
		c.Set(claimsKey, claims)
		return next(c)
	}
}

// checkCredential verifies a bearer credential: an API key against the
// store, an access token's signature and then the revocation list.
func (s *Server) checkCredential(ctx context.Context, token string) (*auth.Claims, error) {
	if strings.HasPrefix(token, identity.APIKeyPrefix) {
		if s.deps.Identity == nil {
			return nil, unauthorized("This gateway accepts no API keys.", true, nil)
		}
		claims, err := s.deps.Identity.AuthenticateAPIKey(ctx, token)
		switch {
		case errors.Is(err, identity.ErrInvalidCredentials):
			return nil, unauthorized("The API key is invalid, expired or revoked.", true, err)
		case err != nil:
			return nil, credentialsUnavailable(fmt.Errorf("check API key: %w", err))
		}
		return claims, nil
	}
	claims, err := s.deps.Verifier.Verify(token)
	if err != nil {
		return nil, unauthorized("The access token is invalid or expired.", true, err)
	}
	if s.deps.Identity != nil {
		err := s.deps.Identity.CheckRevoked(ctx, claims)
		switch {
		case errors.Is(err, identity.ErrRevoked):
			return nil, unauthorized("The access token has been revoked. Sign in again.", true, err)
		case err != nil:
			return nil, credentialsUnavailable(fmt.Errorf("check token revocation: %w", err))
		}
	}
	return claims, nil
}

// credentialsUnavailable is the 503 for a credential that could not be
// checked (store or Redis down).
func credentialsUnavailable(cause error) *Problem {
	p := problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable",
		"Your credentials cannot be checked right now. Retry shortly.")
	p.header = http.Header{headerRetryAfter: {"5"}}
	p.cause = cause
	return p
}

// tenantOf returns the caller's tenant; authenticate guarantees it is set.
func tenantOf(c echo.Context) string {
	cl, _ := c.Get(claimsKey).(*auth.Claims)
	if cl == nil {
		return ""
	}
	return cl.Tenant
}

// limitBody caps the request body at BodyLimit. A declared oversize length
// fails at once; an undeclared one fails while reading (http.MaxBytesError).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.cfg.BodyLimit {
			return &http.MaxBytesError{Limit: s.cfg.BodyLimit}
		}
		// Not supported by every ResponseWriter (httptest recorders); the
		// size limit still applies then.
		_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(bodyReadTimeout))
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.BodyLimit)
		return next(c)
	}
}
