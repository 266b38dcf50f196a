package bench

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

const (
	// storeCommandsMetric is telemetry.Metrics.StoreCommands as exposed.
	storeCommandsMetric = telemetry.Namespace + "_store_commands_total"
)

// Settings are the environment every service of both deployments runs
// with: the services' defaults, except that the request rate limits are
// lifted (the benchmark measures the pipeline, not the limiter; one tenant
// posts hundreds of assessments a minute) and profiling is on.
func Settings(natsURL, mongoURI, mongoDB, redisURL string) map[string]string {
	return map[string]string{
		"IM_NATS_URL":       natsURL,
		"IM_MONGO_URI":      mongoURI,
		"IM_MONGO_DATABASE": mongoDB,
		"IM_REDIS_URL":      redisURL,
		"IM_LOG_LEVEL":      "warn",
		"IM_PPROF":          "true",
		// Only the traces the benchmark follows (its POSTs carry a
		// sampled traceparent) are recorded and exported (ADR 0055).
		"IM_TRACE_ROOT_RATIO":     "0",
		"IM_RATE_LIMIT_TENANT":    "100000000",
		"IM_RATE_LIMIT_USER":      "100000000",
		"IM_RATE_LIMIT_EXPENSIVE": "100000000",
	}
}

// tokenSigner signs tokens the gateway accepts.
type tokenSigner struct{ s *auth.Signer }

func (t tokenSigner) Token(tenant string) (string, error) {
	return t.s.Issue("bench-"+tenant, tenant, []string{"owner"}, 12*time.Hour)
}

// Embedded is the development deployment (`make run`): the embedded
// servers (nats-server in-process, FerretDB on SQLite, a Redis-protocol
// server) and every role in this one process.
type Embedded struct{}

// Name implements Deployment.
func (Embedded) Name() string { return "embedded" }

// Start implements Deployment.
func (Embedded) Start(ctx context.Context, dir string) (System, error) {
	data := filepath.Join(dir, "data")
	if err := os.RemoveAll(data); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, err
	}
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: data})
	if err != nil {
		return nil, err
	}
	s := &embeddedSystem{stack: stack}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	settings := Settings(stack.NATSURL, stack.MongoURI, "inframind", stack.RedisURL)
	settings["IM_HTTP_ADDR"] = "127.0.0.1:0"
	settings["IM_METRICS_ADDR"] = "127.0.0.1:0"
	cfg, err := env.ParseAsWithOptions[platform.Config](env.Options{Environment: settings})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		return nil, err
	}
	pub, _ := key.Public().(ed25519.PublicKey)
	s.tokenSigner = tokenSigner{auth.NewSigner(key, cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience)}
	s.reg = telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "embedded.log")) //nolint:gosec // the benchmark's own output folder
	if err != nil {
		return nil, err
	}
	s.logFile = logFile
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The roles trace with the benchmark's tracer provider, given to them
	// rather than installed globally: it samples as the services do
	// (telemetry.Sampler: only the traces the benchmark follows, whose POST
	// carries a sampled traceparent) and keeps their spans for the breakdown.
	s.sink = newSpanSink()
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(telemetry.Sampler(0)),
		sdktrace.WithSpanProcessor(s.sink.processor()))
	s.p, err = compose.New(ctx, cfg, compose.AllRoles(), compose.Deps{
		Logger: log, Registry: s.reg, Metrics: metrics, TracerProvider: s.tp, NATSInProcess: stack.NATSInProcess(),
		Verifier: auth.NewVerifier(pub, cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience),
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- s.p.Run(runCtx) }()
	s.settings = settings
	ok = true
	return s, nil
}

type embeddedSystem struct {
	tokenSigner
	stack    *devstack.Stack
	p        *compose.Platform
	reg      *prometheus.Registry
	settings map[string]string
	logFile  *os.File
	cancel   context.CancelFunc
	done     chan error

	sink *spanSink
	tp   *sdktrace.TracerProvider
}

func (s *embeddedSystem) spanSink() *spanSink { return s.sink }

func (s *embeddedSystem) BaseURL() string       { return "http://" + s.p.GatewayAddr() }
func (s *embeddedSystem) NATSURL() string       { return s.stack.NATSURL }
func (s *embeddedSystem) MongoURI() string      { return s.stack.MongoURI }
func (s *embeddedSystem) MongoDatabase() string { return s.settings["IM_MONGO_DATABASE"] }

// NATSOptions: the roles reach the embedded broker over an in-memory pipe.
func (s *embeddedSystem) NATSOptions() []nats.Option {
	return []nats.Option{nats.InProcessServer(s.stack.NATSInProcess())}
}

func (s *embeddedSystem) Describe() string {
	return "all roles in one process on the embedded servers (nats-server in-process, reached over an in-memory pipe; FerretDB v1 on SQLite; miniredis), as `make run`"
}

func (s *embeddedSystem) StoreCommands(context.Context) (map[string]float64, error) {
	mfs, err := s.reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	addStoreCommands(out, mfs)
	return out, nil
}

func (s *embeddedSystem) Profile(ctx context.Context, d time.Duration, dir string) ([]ProfileFile, error) {
	return profileInProcess(ctx, d, dir)
}

func (s *embeddedSystem) Close(ctx context.Context) error {
	var errs []error
	if s.cancel != nil {
		s.cancel()
		errs = append(errs, <-s.done)
	}
	if s.p != nil {
		s.p.Close(ctx)
	}
	if s.stack != nil {
		s.stack.Close()
	}
	if s.logFile != nil {
		errs = append(errs, s.logFile.Close())
	}
	if s.tp != nil {
		errs = append(errs, s.tp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// addStoreCommands sums storeCommandsMetric by command into out.
func addStoreCommands(out map[string]float64, mfs []*dto.MetricFamily) {
	for _, mf := range mfs {
		if mf.GetName() != storeCommandsMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "command" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
}

// Services are the deployables Processes runs, each from its own binary.
var Services = []string{"gateway", "strategy", "cloud", "mlops", "compliance", "research", "simulation", "synthesizer"}

// Processes is the deployment people run: every service its own process,
// configured by the environment, against servers that run outside
// (`make bench` gives it the integration harness's nats-server and
// FerretDB on PostgreSQL, and the machine's Redis).
type Processes struct {
	// BinDir holds the service binaries, named as in Services.
	BinDir                                  string
	NATSURL, MongoURI, MongoDatabase, Redis string
	// Label names what the servers are, for the table.
	Label string
}

// Name implements Deployment.
func (p Processes) Name() string { return "processes" }

// Start implements Deployment.
func (p Processes) Start(ctx context.Context, dir string) (System, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	key, err := auth.GenerateKey()
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "signing.pem")
	_ = os.Remove(keyFile)
	if err := auth.WritePrivateKeyPEM(keyFile, key); err != nil {
		return nil, err
	}
	settings := Settings(p.NATSURL, p.MongoURI, p.MongoDatabase, p.Redis)
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	settings["IM_HTTP_ADDR"] = httpAddr
	settings["IM_AUTH_PRIVATE_KEY_FILE"] = keyFile
	cfg, err := env.ParseAsWithOptions[platform.Config](env.Options{Environment: settings})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	s := &processSystem{
		tokenSigner: tokenSigner{auth.NewSigner(key, cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience)},
		dep:         p, base: "http://" + httpAddr, metrics: map[string]string{}, sink: newSpanSink(),
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	// The services export their spans to the benchmark (OTLP/HTTP), which
	// keeps those of the assessments it follows for the breakdown.
	if s.otlp, err = startOTLPReceiver(s.sink); err != nil {
		return nil, fmt.Errorf("span receiver: %w", err)
	}
	settings["IM_OTLP_ENDPOINT"] = s.otlp.endpoint()
	for _, svc := range Services {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		environ := os.Environ()
		for k, v := range settings {
			environ = append(environ, k+"="+v)
		}
		environ = append(environ, "IM_METRICS_ADDR="+addr)
		logFile, err := os.Create(filepath.Join(dir, svc+".log")) //nolint:gosec // the benchmark's own output folder
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(p.BinDir, svc)) //nolint:gosec // the service binaries make bench built
		cmd.Env, cmd.Stdout, cmd.Stderr = environ, logFile, logFile
		if err := cmd.Start(); err != nil {
			_ = logFile.Close()
			return nil, fmt.Errorf("start %s: %w", svc, err)
		}
		s.procs = append(s.procs, proc{name: svc, cmd: cmd, log: logFile})
		s.metrics[svc] = addr
	}
	deadline := time.Now().Add(time.Minute)
	for svc, addr := range s.metrics {
		if err := waitReady(ctx, "http://"+addr+"/readyz", deadline); err != nil {
			return nil, fmt.Errorf("%s never became ready (log: %s): %w", svc, filepath.Join(dir, svc+".log"), err)
		}
	}
	ok = true
	return s, nil
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

type processSystem struct {
	tokenSigner
	dep     Processes
	base    string
	procs   []proc
	metrics map[string]string // service -> operations listener
	sink    *spanSink
	otlp    *otlpReceiver
}

func (s *processSystem) spanSink() *spanSink { return s.sink }

func (s *processSystem) BaseURL() string       { return s.base }
func (s *processSystem) NATSURL() string       { return s.dep.NATSURL }
func (s *processSystem) MongoURI() string      { return s.dep.MongoURI }
func (s *processSystem) MongoDatabase() string { return s.dep.MongoDatabase }

// NATSOptions: the services dial the broker's URL.
func (s *processSystem) NATSOptions() []nats.Option { return nil }

func (s *processSystem) Describe() string {
	return "each service its own process (" + strings.Join(Services, ", ") + ") on " + s.dep.Label
}

func (s *processSystem) StoreCommands(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	for _, addr := range s.metrics {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", addr, err)
		}
		addStoreCommands(out, slices.Collect(maps.Values(mfs)))
	}
	return out, nil
}

func (s *processSystem) Profile(ctx context.Context, d time.Duration, dir string) ([]ProfileFile, error) {
	return profileOverHTTP(ctx, d, dir, s.metrics)
}

// Close stops every service with SIGTERM and fails when one does not exit 0 within 30 s.
func (s *processSystem) Close(ctx context.Context) error {
	var errs []error
	for _, p := range s.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range s.procs {
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
			}
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("%s did not stop within 30s of SIGTERM", p.name))
		case <-ctx.Done():
			_ = p.cmd.Process.Kill()
			errs = append(errs, ctx.Err())
		}
		_ = p.log.Close()
	}
	if s.otlp != nil {
		errs = append(errs, s.otlp.close(ctx))
	}
	return errors.Join(errs...)
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func waitReady(ctx context.Context, url string, deadline time.Time) error {
	var last error
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = errors.New(resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready at %s: %w", url, last)
}
