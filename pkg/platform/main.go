package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// Main runs one service hosting roles until SIGINT or SIGTERM and returns
// its exit code. load parses the configuration (each service's main passes
// the environment parser, so nothing below main reads the environment).
func Main(service string, load func() (Config, error), roles ...Role) int {
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", service, err)
		return 2
	}
	log, err := telemetry.NewLogger(os.Stderr, service, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: IM_LOG_LEVEL: %v\n", service, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tp, shutdownTracing, err := telemetry.SetupTracing(ctx, service, cfg.OTLPEndpoint, cfg.TraceRootRatio)
	if err != nil {
		log.Error("set up tracing", "error", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			log.Warn("flush traces", "error", err)
		}
	}()
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	if err != nil {
		log.Error("register metrics", "error", err)
		return 1
	}
	h, err := start(ctx, cfg, roles, Deps{Logger: log, Registry: reg, Metrics: metrics, TracerProvider: tp})
	if h != nil {
		defer h.Close(context.WithoutCancel(ctx))
	}
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	log.Info("started", append(h.Announced(), "metrics", h.MetricsAddr())...)
	if err := h.Run(ctx); err != nil {
		log.Error("stopped with an error", "error", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

// start connects the host, builds each role on it, then opens the
// operations listener with every role's readiness checks.
func start(ctx context.Context, cfg Config, roles []Role, d Deps) (*Host, error) {
	if len(roles) == 0 {
		return nil, errors.New("platform: no role to run")
	}
	h, err := NewHost(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if err := r(ctx, h); err != nil {
			return h, err
		}
	}
	return h, h.ServeMetrics()
}
