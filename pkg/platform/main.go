package platform

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// Main runs one service until SIGINT or SIGTERM and returns its exit code.
// load parses the configuration (each service's main passes the
// environment parser, so nothing below main reads the environment).
func Main(service string, roles Roles, load func() (Config, error)) int {
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

	shutdownTracing, err := telemetry.SetupTracing(ctx, service, cfg.OTLPEndpoint)
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
	p, err := New(ctx, cfg, roles, Deps{Logger: log, Registry: reg, Metrics: metrics})
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	defer p.Close(context.WithoutCancel(ctx))
	log.Info("started", "gateway", p.GatewayAddr(), "metrics", p.MetricsAddr())
	if err := p.Run(ctx); err != nil {
		log.Error("stopped with an error", "error", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}
