package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Defaults applied by Consume when a ConsumerSpec field is zero.
const (
	DefaultAckWait     = 30 * time.Second
	DefaultMaxDeliver  = 5
	DefaultConcurrency = 1
)

// tracerName names the bus's spans.
const tracerName = "github.com/infra-mind/infra-mind/pkg/bus"

// DefaultBackOff is the redelivery schedule used when ConsumerSpec.BackOff is
// empty: quick first retry for blips, then longer pauses for outages.
func DefaultBackOff() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}
}

// Handler processes one event. nil -> ack; ErrPermanent or undecodable -> term
// and dead-letter; any other error -> nak with backoff; MaxDeliver reached ->
// dead-letter. The handler must publish its outputs before returning nil.
// A panic is recovered and treated as a transient error.
type Handler func(ctx context.Context, e *Event) error

// ConsumerSpec declares a durable pull consumer. Durable names are constants in
// the caller and are never renamed casually.
type ConsumerSpec struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	// AckWait is how long a delivery may stay unacknowledged before JetStream
	// redelivers it (default 30s). Long handlers call Event.InProgress.
	AckWait time.Duration
	// MaxDeliver bounds deliveries (default 5; -1 = unlimited). The last
	// allowed delivery that fails is dead-lettered instead of retried.
	MaxDeliver int
	// BackOff is the pause before redelivery n+1 after delivery n failed
	// (entry n-1, the last entry repeating; default 1s, 5s, 15s, 30s). It is
	// also sent to the server, raised to at least AckWait per entry, as the
	// ack deadline of each delivery, so a crashed worker's message comes
	// back on the same growing schedule.
	BackOff       []time.Duration
	MaxAckPending int // 0 = server default
	// Concurrency is how many handlers run at once (default 1).
	Concurrency int
}

func (s ConsumerSpec) validate() error {
	switch {
	case s.Stream == "":
		return errors.New("bus: consumer Stream is required")
	case s.Durable == "":
		return errors.New("bus: consumer Durable is required")
	case strings.ContainsAny(s.Durable, ".*> \t"):
		return fmt.Errorf("bus: durable name %q may not contain '.', '*', '>' or whitespace", s.Durable)
	}
	return nil
}

func (s ConsumerSpec) withDefaults() ConsumerSpec {
	if s.AckWait <= 0 {
		s.AckWait = DefaultAckWait
	}
	if s.MaxDeliver == 0 {
		s.MaxDeliver = DefaultMaxDeliver
	}
	if len(s.BackOff) == 0 {
		s.BackOff = DefaultBackOff()
	}
	if s.Concurrency <= 0 {
		s.Concurrency = DefaultConcurrency
	}
	return s
}

// consumerConfig is the server-side declaration of s (defaults applied).
func (s ConsumerSpec) consumerConfig() jetstream.ConsumerConfig {
	// The server uses BackOff[0] as the AckWait and BackOff[n] as the ack
	// deadline of delivery n+1, and rejects more entries than MaxDeliver.
	n := len(s.BackOff)
	if s.MaxDeliver > 0 && n > s.MaxDeliver {
		n = s.MaxDeliver
	}
	serverBackOff := make([]time.Duration, n)
	for i := range n {
		serverBackOff[i] = max(s.AckWait, s.BackOff[i])
	}
	// The server may deliver once more than the runner allows: when the last
	// allowed delivery never reports back (the process died, the handler
	// overran AckWait), that extra delivery reaches the runner, which
	// dead-letters it unhandled. Without it the server would stop silently
	// and the message would leave no record.
	serverMax := s.MaxDeliver
	if serverMax > 0 {
		serverMax++
	}
	return jetstream.ConsumerConfig{
		Durable:        s.Durable,
		FilterSubjects: s.FilterSubjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        s.AckWait,
		MaxDeliver:     serverMax,
		BackOff:        serverBackOff,
		MaxAckPending:  s.MaxAckPending,
	}
}

// nakDelay is the pause before the delivery after delivery number n.
func (s ConsumerSpec) nakDelay(n uint64) time.Duration {
	i := int(min(n, uint64(len(s.BackOff)))) - 1
	if i < 0 {
		i = 0
	}
	return s.BackOff[i]
}

// SubjectDeadLetter is where the runner dead-letters messages of a consumer.
func SubjectDeadLetter(stream, durable string) string {
	return "im.deadletter." + stream + "." + durable
}

// retryWait is the pause before re-declaring a consumer after the message
// iterator failed (consumer deleted, connection trouble).
const retryWait = time.Second

// opTimeout bounds each ack and dead-letter publish the runner makes.
const opTimeout = 10 * time.Second

// Consume declares the consumer idempotently and runs h on every message until
// ctx is cancelled; then it stops fetching, waits up to drainTimeout for
// in-flight handlers, and returns nil. Handlers get a context that is not
// cancelled by ctx but only when drainTimeout has passed, so they can finish
// and publish. Messages whose handler did not finish by then, or that were
// fetched but not started, are not acked and are redelivered after AckWait.
func (b *Bus) Consume(ctx context.Context, spec ConsumerSpec, drainTimeout time.Duration, h Handler) error {
	if h == nil {
		return errors.New("bus: nil handler")
	}
	if err := spec.validate(); err != nil {
		return err
	}
	spec = spec.withDefaults()
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, spec.Stream, spec.consumerConfig())
	if err != nil {
		return fmt.Errorf("bus: declare consumer %s on %s: %w", spec.Durable, spec.Stream, err)
	}
	r := &runner{
		b:    b,
		spec: spec,
		h:    h,
		log:  b.logger().With("stream", spec.Stream, "consumer", spec.Durable),
	}
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()

	var wg sync.WaitGroup
	loopErr := r.loop(ctx, handlerCtx, cons, &wg)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		r.abandoned.Store(true)
		r.log.Warn("drain timeout: in-flight messages left unacked for redelivery", "drain_timeout", drainTimeout)
	}
	return loopErr
}

// runner owns the acknowledgement of every message of one Consume call.
type runner struct {
	b    *Bus
	spec ConsumerSpec
	h    Handler
	log  *slog.Logger
	// abandoned is set when the drain timeout passes: handlers still running
	// then behave as if their process had died, and their messages are left
	// for redelivery.
	abandoned atomic.Bool
}

// loop fetches messages while a worker slot is free, until ctx is done.
func (r *runner) loop(ctx, handlerCtx context.Context, cons jetstream.Consumer, wg *sync.WaitGroup) error {
	slots := make(chan struct{}, r.spec.Concurrency)
	var iter jetstream.MessagesContext
	defer func() {
		if iter != nil {
			iter.Stop()
		}
	}()
	for {
		if iter == nil {
			var err error
			// Buffer no more than the workers can start, so fetched messages
			// do not sit out their AckWait in the client.
			iter, err = cons.Messages(
				jetstream.PullMaxMessages(r.spec.Concurrency),
				jetstream.WithMessagesErrOnMissingHeartbeat(false),
			)
			if err != nil {
				iter = nil
				r.log.Warn("open message iterator", "err", err)
				if !sleepCtx(ctx, retryWait) {
					return nil
				}
				continue
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			if r.b.NC.IsClosed() {
				return fmt.Errorf("bus: consumer %s: connection closed: %w", r.spec.Durable, err)
			}
			r.log.Warn("message iterator failed; declaring the consumer again", "err", err)
			iter.Stop()
			iter = nil
			if !sleepCtx(ctx, retryWait) {
				return nil
			}
			c, derr := r.b.JS.CreateOrUpdateConsumer(ctx, r.spec.Stream, r.spec.consumerConfig())
			if derr != nil {
				r.log.Warn("declare consumer", "err", derr)
				continue
			}
			cons = c
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.handle(handlerCtx, msg)
		}()
	}
}

// handle runs the handler on one message and settles it.
func (r *runner) handle(ctx context.Context, msg jetstream.Msg) {
	ev, err := NewEvent(msg)
	if err != nil {
		// Without metadata there is no reply subject to settle with.
		r.log.Error("message without JetStream metadata", "subject", msg.Subject(), "err", err)
		return
	}
	ctx = propagation.TraceContext{}.Extract(ctx, HeaderCarrier(msg.Headers()))
	// One consumer span per delivery, child of the producer's trace; what
	// the handler publishes carries this span onwards.
	ctx, span := r.b.tracerOrGlobal().Start(ctx, "process "+r.spec.Stream+"/"+r.spec.Durable,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", ev.Subject),
			attribute.String("messaging.message.id", ev.ID),
			attribute.String("messaging.consumer.group.name", r.spec.Durable),
			attribute.Int64("messaging.delivery_count", int64(ev.Deliveries)), //nolint:gosec // a delivery count fits
		))
	defer span.End()
	log := r.log.With("id", ev.ID, "subject", ev.Subject, "stream_seq", ev.StreamSeq, "deliveries", ev.Deliveries)

	obs := r.b.observer()
	if r.spec.MaxDeliver > 0 && ev.Deliveries > uint64(r.spec.MaxDeliver) {
		// The server's extra delivery (see consumerConfig): every allowed
		// delivery ended without an outcome, so record it instead of trying again.
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		reason := fmt.Sprintf("max deliveries (%d) exceeded: no delivery finished (handler crashed, hung or overran AckWait)", r.spec.MaxDeliver)
		span.SetStatus(codes.Error, reason)
		r.deadLetter(opCtx, msg, ev, reason, log)
		obs.Handled(r.spec.Durable, "deadletter", 0)
		return
	}

	start := time.Now()
	herr := r.call(ctx, ev, log)
	if herr != nil {
		span.RecordError(herr)
		span.SetStatus(codes.Error, reasonOf(herr))
	}
	took := time.Since(start)
	if r.abandoned.Load() {
		log.Warn("handler finished after the drain timeout; message left for redelivery", "err", herr)
		obs.Handled(r.spec.Durable, "abandoned", took)
		return
	}
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	switch {
	case herr == nil:
		if err := msg.DoubleAck(opCtx); err != nil {
			log.Warn("ack failed; the message will be redelivered", "err", err)
			return
		}
		log.Debug("acked")
		obs.Handled(r.spec.Durable, "ack", took)
	case errors.Is(herr, ErrPermanent):
		r.deadLetter(opCtx, msg, ev, reasonOf(herr), log)
		obs.Handled(r.spec.Durable, "deadletter", took)
	case r.spec.MaxDeliver > 0 && ev.Deliveries >= uint64(r.spec.MaxDeliver):
		reason := fmt.Sprintf("max deliveries (%d) exceeded: %s", r.spec.MaxDeliver, reasonOf(herr))
		r.deadLetter(opCtx, msg, ev, reason, log)
		obs.Handled(r.spec.Durable, "deadletter", took)
	default:
		obs.Handled(r.spec.Durable, "nak", took)
		delay := r.spec.nakDelay(ev.Deliveries)
		log.Warn("handler failed; retrying", "err", herr, "delay", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("nak failed; the message will be redelivered after AckWait", "err", err)
		}
	}
}

// call runs the handler, turning a panic into a transient error.
func (r *runner) call(ctx context.Context, ev *Event, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("handler panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return r.h(ctx, ev)
}

// deadLetter publishes a DeadLetter record, then terminates the message. If
// the record cannot be published the message is nakked instead, so it is
// never dropped without a trace.
func (r *runner) deadLetter(ctx context.Context, msg jetstream.Msg, ev *Event, reason string, log *slog.Logger) {
	headers := make(map[string]string, len(ev.Headers))
	for k, v := range ev.Headers {
		headers[k] = strings.Join(v, ", ")
	}
	dl := &inframindv1.DeadLetter{
		Stream:         r.spec.Stream,
		Consumer:       r.spec.Durable,
		Subject:        ev.Subject,
		StreamSequence: ev.StreamSeq,
		Deliveries:     ev.Deliveries,
		Reason:         reason,
		Data:           ev.Data,
		Headers:        headers,
		Time:           timestamppb.Now(),
	}
	err := r.b.Publish(ctx, Message{
		// One record per stored message, however often it is dead-lettered.
		ID:        DeadLetterID(r.spec.Stream, r.spec.Durable, ev.StreamSeq),
		Type:      TypeDeadLetter,
		Source:    "/bus/" + r.spec.Stream + "/" + r.spec.Durable,
		Subject:   SubjectDeadLetter(r.spec.Stream, r.spec.Durable),
		Tenant:    ev.Tenant,
		CESubject: ev.ID,
		Data:      dl,
	})
	if err != nil {
		delay := r.spec.nakDelay(ev.Deliveries)
		log.Error("dead-letter publish failed; retrying the message", "reason", reason, "err", err, "delay", delay)
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			log.Warn("nak failed", "err", nerr)
		}
		return
	}
	log.Error("message dead-lettered", "reason", reason)
	if err := msg.TermWithReason(truncate(reason, maxTermReason)); err != nil {
		log.Warn("term failed; the message will be redelivered and dead-lettered again (deduplicated)", "err", err)
	}
}

// DeadLetterID is the Nats-Msg-Id of the dead letter for one stored message.
func DeadLetterID(stream, durable string, seq uint64) string {
	return "deadletter." + stream + "." + durable + "." + strconv.FormatUint(seq, 10)
}

// maxTermReason keeps the reason in the server's termination advisory short.
const maxTermReason = 256

func reasonOf(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// sleepCtx waits d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
