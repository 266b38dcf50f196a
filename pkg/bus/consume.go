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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"google.golang.org/protobuf/types/known/timestamppb"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// tracerName names the bus's spans.
const tracerName = "github.com/infra-mind/infra-mind/pkg/bus"

// The events of a consumer's span ("process STREAM/durable"), which say
// where one delivery's time went: SpanEventStored is when the stream stored
// the message (its JetStream metadata timestamp, before the span starts),
// SpanEventHandled when the handler returned, SpanEventPublished when its
// outputs were stored; the span ends once the message is settled.
const (
	SpanEventStored    = "stored"
	SpanEventHandled   = "handled"
	SpanEventPublished = "published"
)

// Handler processes one event and returns the messages to publish. The
// runner checks the event's tenant before calling it, publishes what it
// returns (in order) once it returns nil, and only then acknowledges. An
// ErrPermanent or undecodable error -> term and dead-letter; any other error
// -> nak with backoff; MaxDeliver reached -> dead-letter. What a handler
// returns with an error is not published. A panic is recovered and treated as
// a transient error. Side effects that are not publishes (store upserts, HTTP
// calls) stay in the handler and must be idempotent: a message may come again.
type Handler func(ctx context.Context, e *Event) ([]Message, error)

func validateConsumer(durable string, sub Subscription) error {
	switch {
	case sub.Stream == "":
		return errors.New("bus: consumer stream is required")
	case durable == "":
		return errors.New("bus: consumer durable name is required")
	case strings.ContainsAny(durable, ".*> \t"):
		return fmt.Errorf("bus: durable name %q may not contain '.', '*', '>' or whitespace", durable)
	}
	return nil
}

// retryWait is the pause before re-declaring a consumer after the message
// iterator failed (consumer deleted, connection trouble).
const retryWait = time.Second

// opTimeout bounds what the runner does after a handler returns: publishing
// its outputs, then the ack, nak or dead letter.
const opTimeout = 10 * time.Second

// Consume declares the durable consumer idempotently and runs h on every
// message of sub until ctx is cancelled; opts set its Policy (NewPolicy shows
// the defaults). Then it stops fetching at once, waits up to the drain
// timeout for in-flight handlers, and returns nil. Handlers get a context
// that is not cancelled by ctx but only when the drain timeout has passed, so
// they can finish and their outputs be published. Messages whose handler did
// not finish by then are not acked and are redelivered after AckWait. The
// pull request waiting when ctx is cancelled is withdrawn (its subscription
// ends, and the broker skips a request nobody listens to); a message that
// had already reached this process is released (nak) unhandled, so it goes
// to another worker at once; one the broker sent in the instant before the
// withdrawal reached it is redelivered after AckWait. Durable names are
// constants of the consumer and are never renamed casually: a new name
// re-consumes every retained message.
func (b *Bus) Consume(ctx context.Context, durable string, sub Subscription, h Handler, opts ...Option) error {
	if h == nil {
		return errors.New("bus: nil handler")
	}
	if err := validateConsumer(durable, sub); err != nil {
		return err
	}
	r := &runner{
		b:       b,
		stream:  sub.Stream,
		durable: durable,
		policy:  NewPolicy(opts...),
		h:       h,
		log:     b.logger().With("stream", sub.Stream, "consumer", durable),
	}
	r.config = r.policy.ConsumerConfig(durable, sub)
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, sub.Stream, r.config)
	if err != nil {
		return fmt.Errorf("bus: declare consumer %s on %s: %w", durable, sub.Stream, err)
	}
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()

	// The drain timeout counts from the cancellation.
	var stopped atomic.Pointer[time.Time]
	stopStop := context.AfterFunc(ctx, func() { now := time.Now(); stopped.Store(&now) })
	defer stopStop()
	var wg sync.WaitGroup
	loopErr := r.loop(ctx, handlerCtx, cons, &wg)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := r.policy.DrainTimeout
	if at := stopped.Load(); at != nil {
		drain = max(0, drain-time.Since(*at))
	}
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
		return loopErr
	default:
	}
	select {
	case <-done:
	case <-timer.C:
		r.abandoned.Store(true)
		r.log.Warn("drain timeout: in-flight messages left unacked for redelivery", "drain_timeout", r.policy.DrainTimeout)
	}
	return loopErr
}

// runner owns the acknowledgement of every message of one Consume call.
type runner struct {
	b       *Bus
	stream  string
	durable string
	policy  Policy
	config  jetstream.ConsumerConfig
	h       Handler
	log     *slog.Logger
	// abandoned is set when the drain timeout passes: handlers still running
	// then behave as if their process had died, and their messages are left
	// for redelivery.
	abandoned atomic.Bool
}

// fetchWait bounds one pull request: a fetch ends when its batch is full,
// after fetchWait, on a reconnect or when the consumer stops, and the next
// one asks again. An idle consumer sends one request per fetchWait to the
// broker and nothing else.
const fetchWait = 5 * time.Second

// fetchHeartbeat is how often the broker signals a waiting pull request is
// alive; two missed heartbeats end the fetch (a consumer leader moved).
const fetchHeartbeat = 2 * time.Second

// loop fetches as many messages as there are free workers, until ctx is done.
//
// Each fetch is one pull request for exactly the free workers, delivered
// through its own buffer of twice that size. A long-lived iterator
// (Consumer.Messages) instead keeps a buffer the size of one batch and, after
// a reconnect, asks for a whole new batch while the one fetched before the
// restart still waits there for busy workers: the client then drops the
// overflow ("nats: slow consumer, messages dropped") and every dropped
// message sits out its ack deadline before the broker sends it again.
func (r *runner) loop(ctx, handlerCtx context.Context, cons jetstream.Consumer, wg *sync.WaitGroup) error {
	workers := r.policy.Concurrency
	slots := semaphore.NewWeighted(int64(workers))
	// A pull request waiting on a broker that restarted is gone: end the
	// fetch in hand at once and ask the broker again.
	reconnected := r.b.NC.StatusChanged(nats.CONNECTED)
	defer r.b.NC.RemoveStatusListener(reconnected)
	var current atomic.Pointer[context.CancelFunc]
	go func() {
		for range reconnected {
			if cancel := current.Load(); cancel != nil {
				(*cancel)()
			}
		}
	}()
	for {
		if err := slots.Acquire(ctx, 1); err != nil {
			return nil
		}
		n := 1
		for n < workers && slots.TryAcquire(1) {
			n++
		}
		// Ended by ctx: the stop withdraws the request (see fetch).
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		current.Store(&cancel)
		got, err := r.fetch(ctx, fctx, handlerCtx, cons, n, slots, wg)
		current.Store(nil)
		cancel()
		slots.Release(int64(n - got))
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
			errors.Is(err, jetstream.ErrNoHeartbeat):
			continue
		case r.b.NC.IsClosed():
			return fmt.Errorf("bus: consumer %s: connection closed: %w", r.durable, err)
		}
		r.log.Warn("fetch failed; declaring the consumer again", "err", err)
		if !sleepCtx(ctx, retryWait) {
			return nil
		}
		c, derr := r.b.JS.CreateOrUpdateConsumer(ctx, r.stream, r.config)
		if derr != nil {
			r.log.Warn("declare consumer", "err", derr)
			continue
		}
		cons = c
	}
}

// fetch asks for n messages and starts a handler for each as it arrives,
// on a slot already taken for it; it returns how many arrived. fctx ends
// with ctx: the client then unsubscribes the request's inbox, and the
// broker, which checks a waiting request's interest before it sends it a
// message (nats-server consumer.go nextWaiting), gives later messages to
// other requests. What had already arrived once ctx is done is released.
func (r *runner) fetch(ctx, fctx, handlerCtx context.Context, cons jetstream.Consumer, n int, slots *semaphore.Weighted, wg *sync.WaitGroup) (int, error) {
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(fetchHeartbeat))
	if err != nil {
		return 0, err
	}
	got := 0
	for msg := range batch.Messages() {
		got++
		if ctx.Err() != nil {
			r.release(msg)
			slots.Release(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer slots.Release(1)
			r.handle(handlerCtx, msg)
		}()
	}
	return got, batch.Error()
}

// release gives a message that arrived after the consumer stopped back to
// the broker at once, unhandled.
func (r *runner) release(msg jetstream.Msg) {
	if err := msg.Nak(); err != nil {
		r.log.Warn("release after stop failed; the message will be redelivered after AckWait", "subject", msg.Subject(), "err", err)
		return
	}
	r.log.Debug("released a message that arrived after the consumer stopped", "subject", msg.Subject())
	r.b.observer().Handled(r.durable, "nak", 0)
}

// handle checks one message's tenant, runs the handler, publishes its
// outputs and settles the message.
func (r *runner) handle(ctx context.Context, msg jetstream.Msg) {
	ev, err := NewEvent(msg)
	if err != nil {
		// Without metadata there is no reply subject to settle with.
		r.log.Error("message without JetStream metadata", "subject", msg.Subject(), "err", err)
		return
	}
	ev.local = r.b.local
	ev.lastDelivery = r.policy.lastDelivery(ev.Deliveries)
	ev.retryDelay = r.policy.RetryDelay(ev.Deliveries)
	ctx = propagation.TraceContext{}.Extract(ctx, HeaderCarrier(msg.Headers()))
	// One consumer span per delivery, child of the producer's trace; what
	// the handler returns is published under this span.
	ctx, span := r.b.tracerOrGlobal().Start(ctx, "process "+r.stream+"/"+r.durable,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", ev.Subject),
			attribute.String("messaging.message.id", ev.ID),
			attribute.String("messaging.consumer.group.name", r.durable),
			attribute.Int64("messaging.delivery_count", int64(ev.Deliveries)), //nolint:gosec // a delivery count fits
		))
	defer span.End()
	if !ev.Stored.IsZero() {
		// When the message was stored, so a trace shows how long it waited
		// for this consumer before the handler ran.
		span.AddEvent(SpanEventStored, trace.WithTimestamp(ev.Stored))
	}
	log := r.log.With("id", ev.ID, "subject", ev.Subject, "stream_seq", ev.StreamSeq, "deliveries", ev.Deliveries)

	obs := r.b.observer()
	var unhandled string
	if r.policy.MaxDeliver > 0 && ev.Deliveries > uint64(r.policy.MaxDeliver) {
		// The server's extra delivery (see ConsumerConfig): every allowed
		// delivery ended without an outcome, so record it instead of trying again.
		unhandled = fmt.Sprintf("max deliveries (%d) exceeded: no delivery finished (handler crashed, hung or overran AckWait)", r.policy.MaxDeliver)
	} else if err := CheckTenant(ev); err != nil {
		// A message naming two tenants is refused before any handler sees
		// it: retrying cannot reconcile them.
		unhandled = reasonOf(err)
	}
	if unhandled != "" {
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		span.SetStatus(codes.Error, unhandled)
		r.deadLetter(opCtx, msg, ev, unhandled, log)
		obs.Handled(r.durable, "deadletter", 0)
		return
	}

	start := time.Now()
	outputs, herr := r.call(ctx, ev, log)
	span.AddEvent(SpanEventHandled)
	if r.abandoned.Load() {
		log.Warn("handler finished after the drain timeout; message left for redelivery", "err", herr)
		obs.Handled(r.durable, "abandoned", time.Since(start))
		return
	}
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if herr == nil {
		// Outputs before the ack: a crash in between redelivers the message,
		// and the outputs' deterministic ids make the repeat a no-op.
		herr = r.publish(opCtx, outputs)
		span.AddEvent(SpanEventPublished, trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(outputs))))
	}
	took := time.Since(start)
	if herr != nil {
		span.RecordError(herr)
		span.SetStatus(codes.Error, reasonOf(herr))
	}
	switch {
	case herr == nil:
		if err := msg.DoubleAck(opCtx); err != nil {
			log.Warn("ack failed; the message will be redelivered", "err", err)
			return
		}
		log.Debug("acked", "published", len(outputs))
		obs.Handled(r.durable, "ack", took)
	case errors.Is(herr, ErrPermanent):
		r.deadLetter(opCtx, msg, ev, reasonOf(herr), log)
		obs.Handled(r.durable, "deadletter", took)
	case ev.lastDelivery:
		reason := fmt.Sprintf("max deliveries (%d) exceeded: %s", r.policy.MaxDeliver, reasonOf(herr))
		r.deadLetter(opCtx, msg, ev, reason, log)
		obs.Handled(r.durable, "deadletter", took)
	default:
		obs.Handled(r.durable, "nak", took)
		log.Warn("handler failed; retrying", "err", herr, "delay", ev.retryDelay)
		if err := msg.NakWithDelay(ev.retryDelay); err != nil {
			log.Warn("nak failed; the message will be redelivered after AckWait", "err", err)
		}
	}
}

// publish sends a handler's outputs in order. A failure is transient: the
// message is retried and the outputs already stored are deduplicated.
func (r *runner) publish(ctx context.Context, outputs []Message) error {
	for i := 0; i < len(outputs); {
		// A run of Unordered messages goes at once: one round trip for the
		// run instead of one per message. The run is stored before the
		// message after it is sent, so that one is still stored after it.
		end := i + 1
		for outputs[i].Unordered && end < len(outputs) && outputs[end].Unordered {
			end++
		}
		g, gctx := errgroup.WithContext(ctx)
		for j := i; j < end; j++ {
			one := func(ctx context.Context) error {
				if err := r.b.Publish(ctx, outputs[j]); err != nil {
					return fmt.Errorf("publish output %d of %d: %w", j+1, len(outputs), err)
				}
				return nil
			}
			if end-i == 1 {
				if err := one(ctx); err != nil {
					return err
				}
				continue
			}
			g.Go(func() error { return one(gctx) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		i = end
	}
	return nil
}

// call runs the handler, turning a panic into a transient error.
func (r *runner) call(ctx context.Context, ev *Event, log *slog.Logger) (outputs []Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("handler panicked", "panic", p, "stack", string(debug.Stack()))
			outputs, err = nil, fmt.Errorf("handler panic: %v", p)
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
		Stream:         r.stream,
		Consumer:       r.durable,
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
		ID:        DeadLetterID(r.stream, r.durable, ev.StreamSeq),
		Type:      TypeDeadLetter,
		Source:    "/bus/" + r.stream + "/" + r.durable,
		Subject:   SubjectDeadLetter(r.stream, r.durable),
		Tenant:    ev.Tenant,
		CESubject: ev.ID,
		Data:      dl,
	})
	if err != nil {
		delay := r.policy.RetryDelay(ev.Deliveries)
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
