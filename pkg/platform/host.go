package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// Deps are what the caller owns and passes in.
type Deps struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *telemetry.Metrics
	// TracerProvider makes the roles' spans (nil: the global provider).
	TracerProvider trace.TracerProvider
	// NATSInProcess is the broker when it runs in this process (the
	// embedded default): the host connects to it over an in-memory pipe.
	NATSInProcess nats.InProcessConnProvider
	// LocalCopies is the bus's budget for keeping what this process
	// publishes for its own consumers (bus.Config.LocalCopies); 0 keeps none.
	LocalCopies int
}

// A Role is one part of the system a process hosts (the gateway, an agent
// family's worker, the synthesizer): it builds its components on the host's
// shared connections and registers what to run, check and close. Each role
// lives in its own package, so a binary links only the roles it hosts.
type Role func(ctx context.Context, h *Host) error

// Host is what every role of a process shares: the configuration, the
// logger and metrics, the broker connection, the readiness checks, and the
// components to run and resources to close.
type Host struct {
	Config   Config
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *telemetry.Metrics
	// TracerProvider makes the roles' spans.
	TracerProvider trace.TracerProvider
	Bus            *bus.Bus

	checks  []telemetry.Check
	runs    []func(context.Context) error
	closers []func(context.Context)
	// addrs are the listeners roles announced, for the start log line.
	addrs   []any
	metrics *telemetry.Server
	// consumers are the durable consumers the roles run, whose backlog
	// /metrics exports.
	consumers []consumerRef
}

// consumerRef names one durable consumer on a stream.
type consumerRef struct{ stream, durable string }

// NewHost connects the broker every role needs. Close it, even when a
// role fails to build afterwards.
func NewHost(ctx context.Context, cfg Config, d Deps) (_ *Host, err error) {
	if d.Logger == nil || d.Registry == nil || d.Metrics == nil {
		return nil, errors.New("platform: logger, registry and metrics are required")
	}
	tp := d.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	h := &Host{Config: cfg, Logger: d.Logger, Registry: d.Registry, Metrics: d.Metrics, TracerProvider: tp}
	h.Bus, err = bus.Connect(ctx, bus.Config{
		URL: cfg.NATSURL, Name: "infra-mind", Replicas: cfg.StreamReplicas, Logger: d.Logger,
		Observer: d.Metrics.Messages(), TracerProvider: tp, InProcess: d.NATSInProcess,
		LocalCopies: d.LocalCopies,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	h.Adopt("nats", h.Bus.Ping, func(context.Context) error { return h.Bus.Close() })
	if err := d.Registry.Register(telemetry.NewConsumerCollector(h.consumerStates)); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return h, fmt.Errorf("register the consumer metrics: %w", err)
		}
		// One registry shared by several hosts (tests): the first host's consumers are exported.
	}
	return h, nil
}

// WatchConsumer adds a durable consumer a role runs to those whose pending
// and unacknowledged messages /metrics exports.
func (h *Host) WatchConsumer(stream, durable string) {
	h.consumers = append(h.consumers, consumerRef{stream: stream, durable: durable})
}

// consumerStates reads each watched consumer's backlog from the broker. A
// consumer not declared yet (its role has not started) is left out.
func (h *Host) consumerStates(ctx context.Context) ([]telemetry.ConsumerState, error) {
	out := make([]telemetry.ConsumerState, 0, len(h.consumers))
	for _, c := range h.consumers {
		cons, err := h.Bus.JS.Consumer(ctx, c.stream, c.durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("consumer %s on %s: %w", c.durable, c.stream, err)
		}
		info := cons.CachedInfo()
		out = append(out, telemetry.ConsumerState{
			Stream: c.stream, Consumer: c.durable,
			Pending: info.NumPending, AckPending: uint64(max(info.NumAckPending, 0)), //nolint:gosec // clamped at 0
		})
	}
	return out, nil
}

// Adopt makes a connection part of the host: ping becomes the readiness
// check called name, and release runs at Close (in reverse order of adoption).
func (h *Host) Adopt(name string, ping, release func(context.Context) error) {
	h.AddCheck(telemetry.Check{Name: name, Fn: ping})
	h.OnClose(func(ctx context.Context) {
		if err := release(ctx); err != nil {
			h.Logger.Warn("close "+name, "error", err)
		}
	})
}

// AddCheck adds a readiness check served by the operations listener.
func (h *Host) AddCheck(c telemetry.Check) { h.checks = append(h.checks, c) }

// Checks are the readiness checks added so far.
func (h *Host) Checks() []telemetry.Check { return append([]telemetry.Check(nil), h.checks...) }

// Go adds a component to run until Run's context ends.
func (h *Host) Go(run func(context.Context) error) { h.runs = append(h.runs, run) }

// OnClose adds a release to run at Close, before those added earlier.
func (h *Host) OnClose(fn func(context.Context)) { h.closers = append(h.closers, fn) }

// Announce records a listener's address for the start log line.
func (h *Host) Announce(name, addr string) { h.addrs = append(h.addrs, name, addr) }

// Announced are the recorded listeners as log attributes.
func (h *Host) Announced() []any { return append([]any(nil), h.addrs...) }

// ServeMetrics starts the operations listener (metrics, liveness and the
// readiness checks added so far) when IM_METRICS_ADDR is set; call it after
// every role is built.
func (h *Host) ServeMetrics() error {
	if h.Config.MetricsAddr == "" {
		return nil
	}
	h.metrics = telemetry.NewServer(h.Config.MetricsAddr, h.Registry, h.checks...)
	if h.Config.Profiling {
		telemetry.RecordBlocking()
		h.metrics.WithProfiling()
	}
	if err := h.metrics.Listen(); err != nil {
		return fmt.Errorf("metrics listen on %s: %w", h.Config.MetricsAddr, err)
	}
	return nil
}

// MetricsAddr is the operations listener's bound address ("" without one).
func (h *Host) MetricsAddr() string {
	if h.metrics == nil {
		return ""
	}
	return h.metrics.Addr()
}

// Run runs every component until ctx is cancelled, then lets each drain
// within the shutdown timeout. The first component to fail stops the rest.
func (h *Host) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if h.metrics != nil {
		g.Go(func() error { return h.metrics.Serve(ctx) })
	}
	for _, run := range h.runs {
		g.Go(func() error { return run(ctx) })
	}
	return g.Wait()
}

// Close releases what the roles adopted, last adopted first; safe on a
// partly built host.
func (h *Host) Close(ctx context.Context) {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i](ctx)
	}
	h.closers = nil
}
