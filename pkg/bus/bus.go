// Package bus is Infra Mind's JetStream transport and messaging policy: the
// one place that names streams and subjects, CloudEvents publishing with
// deterministic message ids, and a consumer runner in the shape of
// watermill's router, where only the runner acknowledges.
//
// Events travel as CloudEvents 1.0 in binary mode: attributes in ce-* NATS
// headers, JSON data, W3C trace context in traceparent/tracestate. Delivery is
// at least once; deterministic Nats-Msg-Id values and idempotent handlers make
// it effectively once.
//
// The runner's contract (Consume): a consumer is a durable name, a
// Subscription and a Handler, with its Policy (AckWait, MaxDeliver, BackOff,
// concurrency, drain timeout) given as options whose defaults live here. For
// every delivery the runner
//  1. checks the tenant once (CheckTenant: ce-tenant header = the subject's
//     tenant token = the payload's metadata.tenant_id); a mismatch is
//     dead-lettered with the reason and terminated, and no handler sees it;
//  2. calls the handler, which does its idempotent side effects (store
//     upserts, HTTP deliveries) and returns the messages to publish;
//  3. publishes them in order (their ids deduplicate a repeat) and only then
//     acks;
//  4. on an error: undecodable or permanent -> dead-letter (to
//     im.deadletter.<stream>.<consumer>) then terminate; the last allowed
//     delivery failing -> dead-letter; anything else, a failed publish
//     included -> nak with the BackOff delay. A panic is a transient error.
//
// Long handlers heartbeat with Event.InProgress. On shutdown the runner stops
// fetching and waits up to the drain timeout; what has not finished is left
// unacked and redelivered.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// CloudEvents types (the ce-type header).
const (
	TypeAssessmentRequested  = "dev.inframind.assessment.requested.v1"
	TypeAgentResultPublished = "dev.inframind.agent.result.v1"
	TypeStatusChanged        = "dev.inframind.assessment.status.v1"
	TypeAssessmentCompleted  = "dev.inframind.assessment.completed.v1"
	TypeDeadLetter           = "dev.inframind.deadletter.v1"
	// TypeNarrativeReady is the consultant's: an assessment's narrative is stored.
	TypeNarrativeReady = "dev.inframind.assessment.narrative.v1"
)

// ErrPermanent marks a handler error that retrying cannot fix: the runner
// terminates the message and dead-letters it with the reason.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so errors.Is(err, ErrPermanent) holds.
func Permanent(err error) error { return errors.Join(ErrPermanent, err) }

// Defaults applied by Connect when a Config field is zero.
const (
	DefaultMaxAge           = 7 * 24 * time.Hour
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
	DefaultDuplicateWindow  = 2 * time.Minute
	DefaultReconnectWait    = time.Second
)

// Config for Connect.
type Config struct {
	URL  string // nats://host:port
	Name string // client name shown by the server
	// Replicas for streams (default 1 for development; 3 in a cluster).
	Replicas int
	// MaxAge of retained messages in the streams (default 7 days).
	MaxAge time.Duration
	// DeadLetterMaxAge of retained dead letters (default 30 days): people
	// inspect them later than the pipeline needs its own messages.
	DeadLetterMaxAge time.Duration
	// DuplicateWindow is the JetStream dedup window for Nats-Msg-Id (default 2 minutes).
	DuplicateWindow time.Duration
	// ReconnectWait is the pause between reconnect attempts (default 1s);
	// the client reconnects forever.
	ReconnectWait time.Duration
	// Logger receives connection and consumer events (nil: slog.Default()).
	Logger *slog.Logger
	// Observer is told every settled message and every publish (metrics); may be nil.
	Observer Observer
	// TracerProvider makes the consumer spans (nil: the global provider).
	TracerProvider trace.TracerProvider
	// LocalCopies is how many bytes of JSON of the messages this Bus
	// publishes it keeps with their proto values, for its own consumers to
	// copy instead of decoding (roles sharing a process); 0 keeps none.
	LocalCopies int
	// InProcess, when set, is a nats-server running in this process: the
	// client speaks the same protocol over an in-memory pipe instead of a
	// loopback socket (the embedded deployment). URL still names it.
	InProcess nats.InProcessConnProvider
}

// Observer receives what the bus does, for metrics. Outcomes are "ack",
// "nak", "deadletter", and "abandoned" (left for redelivery at shutdown).
// Published is called once per message the stream stored, not for a
// duplicate it dropped.
type Observer interface {
	Handled(consumer, outcome string, took time.Duration)
	Published(eventType string)
}

// noObserver is used when Config.Observer is nil.
type noObserver struct{}

func (noObserver) Handled(string, string, time.Duration) {}
func (noObserver) Published(string)                      {}

// Bus is a connection to JetStream with Infra Mind's streams declared.
type Bus struct {
	NC *nats.Conn
	JS jetstream.JetStream

	log    *slog.Logger
	obs    Observer
	tracer trace.Tracer
	closed chan struct{}
	// local holds the messages published lately for consumers on this Bus (nil: off).
	local *localCopies
	// streams holds the stream handles Stored opened, by name: opening one
	// asks the server for the stream's info, which a lookup by sequence does
	// not need again.
	streams sync.Map
}

func withDefaults(cfg Config) Config {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.DeadLetterMaxAge <= 0 {
		cfg.DeadLetterMaxAge = DefaultDeadLetterMaxAge
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	// The dedup window may not exceed the retention (server rule).
	if cfg.DuplicateWindow > cfg.MaxAge {
		cfg.DuplicateWindow = cfg.MaxAge
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// Connect dials NATS, and declares every stream and key-value bucket
// idempotently (CreateOrUpdateStream, CreateOrUpdateKeyValue), so any
// service may start first.
func Connect(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.URL == "" {
		return nil, errors.New("bus: URL is required")
	}
	cfg = withDefaults(cfg)
	log := cfg.Logger.With("component", "bus")
	closed := make(chan struct{})
	opts := []nats.Option{
		nats.Name(cfg.Name),
		// A broker restart or failover must never leave a service without a
		// connection: retry forever, and let readiness report the outage.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}
	if cfg.InProcess != nil {
		opts = append(opts, nats.InProcessServer(cfg.InProcess))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	for _, sc := range StreamConfigs(cfg) {
		st, err := js.CreateOrUpdateStream(ctx, sc)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("bus: declare stream %s: %w", sc.Name, err)
		}
		if sc.AllowMsgSchedules && !st.CachedInfo().Config.AllowMsgSchedules {
			// A server before 2.12 ignores the setting and would store a
			// deadline's schedule as a plain message that never falls due.
			nc.Close()
			return nil, fmt.Errorf("bus: stream %s: the server does not support message schedules (nats-server 2.12 or later is required)", sc.Name)
		}
	}
	for _, kc := range KeyValueConfigs(cfg) {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			nc.Close()
			return nil, fmt.Errorf("bus: declare key-value bucket %s: %w", kc.Bucket, err)
		}
	}
	var obs Observer = noObserver{}
	if cfg.Observer != nil {
		obs = cfg.Observer
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Bus{NC: nc, JS: js, log: log, obs: obs, tracer: tp.Tracer(tracerName), closed: closed,
		local: newLocalCopies(cfg.LocalCopies)}, nil
}

// closeWait bounds how long Close waits for the drain to finish.
const closeWait = 10 * time.Second

// Close drains the connection: subscriptions stop, pending publishes are
// flushed, then the connection closes. It is safe to call more than once.
func (b *Bus) Close() error {
	if b.NC == nil || b.NC.IsClosed() {
		return nil
	}
	if err := b.NC.Drain(); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		b.NC.Close()
		return fmt.Errorf("bus: drain: %w", err)
	}
	if b.closed == nil {
		return nil
	}
	select {
	case <-b.closed:
		return nil
	case <-time.After(closeWait):
		b.NC.Close()
		return fmt.Errorf("bus: drain did not finish in %s", closeWait)
	}
}

// Ping checks the server answers and JetStream is enabled (for /readyz).
func (b *Bus) Ping(ctx context.Context) error {
	if st := b.NC.Status(); st != nats.CONNECTED {
		return fmt.Errorf("bus: nats connection is %s", st)
	}
	if _, err := b.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus: jetstream account info: %w", err)
	}
	return nil
}

func (b *Bus) logger() *slog.Logger {
	if b.log == nil {
		return slog.Default()
	}
	return b.log
}

func (b *Bus) observer() Observer {
	if b.obs == nil {
		return noObserver{}
	}
	return b.obs
}

// Tracer is the tracer the bus's spans come from, for a handler's own
// child spans.
func (b *Bus) Tracer() trace.Tracer { return b.tracerOrGlobal() }

func (b *Bus) tracerOrGlobal() trace.Tracer {
	if b.tracer == nil {
		return otel.Tracer(tracerName)
	}
	return b.tracer
}
