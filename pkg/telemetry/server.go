package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	// checkTimeout bounds each readiness check so a hung dependency makes /readyz answer 503 well within
	// the default Kubernetes probe timeout instead of the probe itself timing out.
	checkTimeout = 2 * time.Second
	// shutdownTimeout bounds the graceful drain after the run context ends.
	shutdownTimeout = 5 * time.Second
	// maxPublicMessage caps the length of a check message shown in the /readyz body.
	maxPublicMessage = 120
)

// Check is a named readiness check, such as a ping of NATS, the store or Redis. Fn returns nil when the
// dependency is usable. Names must be unique within a server.
type Check struct {
	// Name identifies the check in the /readyz body.
	Name string
	// Fn reports whether the dependency is usable; it must honour ctx.
	Fn func(context.Context) error
}

// CheckError is an error a readiness check returns to choose the message /readyz shows. Other errors are
// shown only as "unavailable" or "timeout", because their text can carry addresses or credentials.
type CheckError struct {
	// Message is shown in the /readyz body; keep it short and free of internals.
	Message string
	// Err is the underlying cause, logged but never shown.
	Err error
}

// Error returns the public message followed by the cause.
func (e *CheckError) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *CheckError) Unwrap() error { return e.Err }

// Server serves /metrics, /healthz and /readyz for a service.
type Server struct {
	addr   string
	checks []Check
	mux    *http.ServeMux
	srv    *http.Server
	logger *slog.Logger

	mu sync.Mutex
	ln net.Listener
}

// NewServer returns a server for addr exposing the metrics of reg and the readiness checks. It does not
// listen until Listen or Run.
func NewServer(addr string, reg *prometheus.Registry, checks ...Check) *Server {
	s := &Server{
		addr:   addr,
		checks: append([]Check(nil), checks...),
		mux:    http.NewServeMux(),
	}
	if reg != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			// A broken collector must not hide every other metric from the scrape.
			ErrorHandling: promhttp.ContinueOnError,
			Registry:      reg,
		}))
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.srv = &http.Server{
		Handler: s.mux,
		// Timeouts keep slow or idle clients from holding connections on an endpoint that must always answer.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s
}

// WithLogger sets the logger that records the full error of each failing readiness check, which the
// /readyz body deliberately omits. It returns s for chaining.
func (s *Server) WithLogger(l *slog.Logger) *Server {
	s.logger = l
	return s
}

// Handler returns the handler serving /metrics, /healthz and /readyz, for services that mount them on
// their own HTTP server.
func (s *Server) Handler() http.Handler {
	return s.mux
}

// PublicHandler serves /healthz and a /readyz that answers only ready or unavailable, for a port the
// public can reach: the component names and their messages, like /metrics, stay on the operations
// listener (Handler), and failures are still logged in full.
func (s *Server) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{header: http.Header{}}
		s.readyz(rec, r)
		body := statusBody{Status: "ready"}
		if rec.code != http.StatusOK {
			body.Status = "unavailable"
		}
		writeJSON(w, rec.code, body)
	})
	return mux
}

// statusRecorder keeps the status code of a handler whose body is not passed on.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.code = code }

// Listen binds the address. After it returns, Addr reports the bound address (useful with port 0).
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return fmt.Errorf("telemetry server: already listening on %s", s.ln.Addr())
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("telemetry server: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address once Listen has succeeded, and the configured address before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Serve serves on the listener bound by Listen until ctx is done, then shuts down gracefully within 5s.
// It returns nil on a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("telemetry server: Serve called before Listen")
	}

	// http.Server.Serve leaves the listener open when Shutdown wins the race with it; close it here so
	// the port is always released.
	defer func() { _ = ln.Close() }()

	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("telemetry server: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	// The run context is already done, so the drain gets its own deadline.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("telemetry server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("telemetry server: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Run listens on the configured address and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// statusBody is the JSON body of /healthz and /readyz.
type statusBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// healthz reports liveness: the process is up and serving HTTP. It never checks dependencies, so a
// broker outage does not make Kubernetes restart every pod.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
}

// readyz runs every check concurrently, each bounded by checkTimeout, and answers 200 only if all pass.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.checks))
	for _, c := range s.checks {
		go func() {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			defer cancel()
			results <- result{name: c.Name, err: runCheck(ctx, c)}
		}()
	}

	body := statusBody{Status: "ready", Checks: make(map[string]string, len(s.checks))}
	code := http.StatusOK
	for range s.checks {
		res := <-results
		if res.err == nil {
			body.Checks[res.name] = "ok"
			continue
		}
		code = http.StatusServiceUnavailable
		body.Status = "unavailable"
		body.Checks[res.name] = publicMessage(res.err)
		if s.logger != nil {
			s.logger.WarnContext(r.Context(), "readiness check failed",
				slog.String("check", res.name), slog.Any("error", res.err))
		}
	}
	writeJSON(w, code, body)
}

// runCheck runs c, turning a nil Fn or a panic into a failure so one bad check cannot crash the server.
func runCheck(ctx context.Context, c Check) (err error) {
	if c.Fn == nil {
		return &CheckError{Message: "not configured"}
	}
	defer func() {
		if p := recover(); p != nil {
			err = &CheckError{Message: "check failed", Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	if err := c.Fn(ctx); err != nil {
		// A check that ignores its context still gets reported as a timeout when it overran.
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return err
	}
	return nil
}

// publicMessage returns the short text shown for a failed check: a CheckError's own message, "timeout",
// or "unavailable". Raw error text is never shown because it may name hosts, users or file paths.
func publicMessage(err error) string {
	var ce *CheckError
	if errors.As(err, &ce) && ce.Message != "" {
		msg := ce.Message
		if len(msg) > maxPublicMessage {
			// Cutting at a byte count can split a character; drop the broken tail.
			msg = strings.ToValidUTF8(msg[:maxPublicMessage], "")
		}
		return msg
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "unavailable"
}

// writeJSON writes v as a JSON response with code; probes must never be cached.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
