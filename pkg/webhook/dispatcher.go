package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Stream and durable consumers of the dispatcher (its subjects are named in
// bus). Never rename: retained deliveries and consumer positions are bound to them.
const (
	// StreamWebhooks holds one message per (event, endpoint) still to deliver.
	StreamWebhooks = bus.StreamWebhooks
	// DurableFanOut reads EVENTS and fans each event out to its endpoints.
	DurableFanOut = "webhooks"
	// DurableDelivery posts each fanned-out message to its endpoint.
	DurableDelivery = "webhook-delivery"
	// TypeDelivery is the ce-type of a fanned-out delivery message.
	TypeDelivery = "dev.inframind.webhook.delivery.v1"
	source       = "/services/synthesizer/webhooks"
)

// Event types a webhook subscribes to (the API's event_types).
const (
	EventAssessmentCompleted = "assessment.completed"
	EventAssessmentStatus    = "assessment.status"
)

// EventTypes lists the event types a webhook may subscribe to.
func EventTypes() []string {
	return []string{EventAssessmentCompleted, EventAssessmentStatus}
}

// EventTypeOf maps a CloudEvents type to the webhook event type ("" if none).
func EventTypeOf(ceType string) string {
	switch ceType {
	case bus.TypeAssessmentCompleted:
		return EventAssessmentCompleted
	case bus.TypeStatusChanged:
		return EventAssessmentStatus
	}
	return ""
}

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultMaxAttempts       = 6
	DefaultTenantConcurrency = 4
	DefaultMaxPending        = 1024
	DefaultBreakerFailures   = 3
	DefaultBreakerOpen       = 30 * time.Second
)

// DefaultBackOff is the pause after each failed attempt: a quick retry for a
// blip, then hours for an endpoint that is down (about 3h in all).
func DefaultBackOff() []time.Duration {
	return []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}
}

// Config tunes the dispatcher.
type Config struct {
	Policy Policy
	// Timeout bounds one attempt, redirects included (default 10s).
	Timeout time.Duration
	// BackOff is the pause after attempt n failed (entry n-1, the last repeating).
	BackOff []time.Duration
	// MaxAttempts per (event, endpoint); the last failure is dead-lettered (default 6).
	MaxAttempts int
	// Concurrency is how many events are fanned out at once.
	Concurrency int
	// TenantConcurrency bounds the posts in flight for one tenant (default
	// 4): a tenant's slow endpoints hold at most that many, and every other
	// tenant's deliveries go out beside them.
	TenantConcurrency int
	// MaxPending bounds the deliveries held at once, posting or waiting for
	// their tenant's turn (default 1024).
	MaxPending int
	// BreakerFailures is how many failures in a row of one endpoint open its
	// circuit breaker (default 3); BreakerOpen is how long it then stays open
	// before one delivery is let through to probe it (default 30s). While open,
	// deliveries to the endpoint are not sent: each is recorded as a failed
	// attempt and retried on the usual schedule.
	BreakerFailures int
	BreakerOpen     time.Duration
	DrainTimeout    time.Duration
	// Replicas and MaxAge of the WEBHOOKS stream (default 1 and bus.DefaultMaxAge).
	Replicas int
	MaxAge   time.Duration
}

// Dispatcher delivers events to webhooks.
type Dispatcher struct {
	bus    *bus.Bus
	hooks  *store.Webhooks
	log    *slog.Logger
	cfg    Config
	client *http.Client
	now    func() time.Time
	// tenants admits at most cfg.TenantConcurrency posts per tenant.
	tenants *tenantGates
	// breakers holds one circuit breaker per endpoint (webhook id).
	breakers *breakers
	// deliveries is the BucketWebhookDeliveries bucket, bound by Run: each
	// delivery's attempts, read by key before an attempt, where the
	// delivery log's read would scan a table that grows with every event on
	// FerretDB with PostgreSQL (ADR 0021).
	deliveries jetstream.KeyValue
}

// deliveryState is a delivery's record as the last attempt left it, and
// whether the delivery log holds that record yet.
type deliveryState struct {
	Delivery store.Delivery `json:"delivery"`
	Recorded bool           `json:"recorded"`
}

// New validates the dependencies and applies defaults.
func New(b *bus.Bus, hooks *store.Webhooks, log *slog.Logger, cfg Config) (*Dispatcher, error) {
	if b == nil || hooks == nil {
		return nil, errors.New("webhook: bus and webhook store are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if len(cfg.BackOff) == 0 {
		cfg.BackOff = DefaultBackOff()
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = cfg.Timeout + 5*time.Second
	}
	if cfg.TenantConcurrency <= 0 {
		cfg.TenantConcurrency = DefaultTenantConcurrency
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerOpen <= 0 {
		cfg.BreakerOpen = DefaultBreakerOpen
	}
	return &Dispatcher{
		bus: b, hooks: hooks, log: log.With("component", "webhooks"), cfg: cfg,
		client: cfg.Policy.Client(cfg.Timeout), now: time.Now,
		tenants:  newTenantGates(cfg.TenantConcurrency),
		breakers: newBreakers(cfg.BreakerFailures, cfg.BreakerOpen),
	}, nil
}

// StreamConfig is the WEBHOOKS stream Run declares.
func (d *Dispatcher) StreamConfig() jetstream.StreamConfig {
	return bus.WebhookStreamConfig(d.cfg.Replicas, d.cfg.MaxAge)
}

// Run declares the WEBHOOKS stream and the deliveries' bucket and runs the
// fan-out and delivery consumers until ctx is cancelled.
func (d *Dispatcher) Run(ctx context.Context) error {
	if _, err := d.bus.JS.CreateOrUpdateStream(ctx, d.StreamConfig()); err != nil {
		return fmt.Errorf("webhook: declare stream %s: %w", StreamWebhooks, err)
	}
	kv, err := d.bus.JS.CreateOrUpdateKeyValue(ctx, bus.WebhookDeliveriesBucketConfig(d.cfg.Replicas, d.cfg.MaxAge))
	if err != nil {
		return fmt.Errorf("webhook: declare bucket %s: %w", bus.BucketWebhookDeliveries, err)
	}
	d.deliveries = kv
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return d.bus.Consume(ctx, DurableFanOut, bus.AssessmentEvents(), d.FanOut,
			bus.Concurrency(d.cfg.Concurrency), bus.DrainTimeout(d.cfg.DrainTimeout))
	})
	g.Go(func() error {
		return d.bus.Consume(ctx, DurableDelivery, bus.WebhookDeliveries(), d.Deliver,
			// An attempt may take the whole timeout; the ack deadline leaves
			// room for recording it (a delivery waiting for its tenant's turn
			// reports progress instead).
			bus.AckWait(d.ackWait()),
			bus.MaxDeliver(d.cfg.MaxAttempts), bus.BackOff(d.cfg.BackOff...),
			// Every tenant's deliveries arrive on one consumer in stream
			// order. Taking many at once and bounding posts per tenant
			// (deliver) keeps a tenant whose endpoints are slow from
			// holding every worker while other tenants' deliveries wait.
			bus.Concurrency(d.cfg.MaxPending), bus.MaxAckPending(d.cfg.MaxPending),
			bus.DrainTimeout(d.cfg.DrainTimeout))
	})
	return g.Wait()
}

// ackWait is the delivery consumer's ack deadline: an attempt may take the
// whole timeout, and recording it needs a little more.
func (d *Dispatcher) ackWait() time.Duration { return d.cfg.Timeout + 30*time.Second }

// cloudEvent is a CloudEvent in structured JSON mode (CloudEvents JSON event
// format 1.0), the body every delivery posts.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	Tenant          string          `json:"tenant"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// task is one fanned-out delivery: the endpoint and the exact body, built
// once so every retry sends the same bytes.
type task struct {
	WebhookID string          `json:"webhook_id"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	Body      json.RawMessage `json:"body"`
}

// FanOut handles one EVENTS message: it returns one delivery message per
// subscribed endpoint of the event's tenant, with a deterministic id, so a
// redelivered event fans out to the same messages.
func (d *Dispatcher) FanOut(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
	typ := EventTypeOf(e.Type)
	if typ == "" {
		return nil, nil
	}
	if !json.Valid(e.Data) {
		return nil, bus.Undecodable(fmt.Errorf("event %s: data is not JSON", e.ID))
	}
	// From this process's copy while the tenant's webhooks are unchanged:
	// a key read per event instead of a find on webhooks.
	hooks, err := d.hooks.Endpoints(ctx, e.Tenant)
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %s: %w", e.Tenant, err)
	}
	body, err := json.Marshal(cloudEvent{
		SpecVersion: bus.SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.CESubject,
		Time: e.Headers.Get(bus.HeaderTime), Tenant: e.Tenant, DataContentType: bus.ContentTypeJSON, Data: e.Data,
	})
	if err != nil {
		return nil, bus.Permanent(fmt.Errorf("encode event %s: %w", e.ID, err))
	}
	var out []bus.Message
	for _, h := range hooks {
		// An endpoint registered after the event was produced did not ask
		// for it (this matters when the consumer is first created and reads
		// the retained history).
		if !h.Subscribes(typ) || (!e.Time.IsZero() && e.Time.Before(h.CreatedAt)) {
			continue
		}
		t, err := json.Marshal(task{WebhookID: h.ID, EventID: e.ID, EventType: typ, Body: body})
		if err != nil {
			return nil, bus.Permanent(fmt.Errorf("encode delivery of %s: %w", e.ID, err))
		}
		out = append(out, bus.Message{
			ID:      "webhook." + store.DeliveryID(e.Tenant, h.ID, e.ID),
			Type:    TypeDelivery,
			Source:  source,
			Subject: bus.SubjectWebhookDelivery(e.Tenant),
			Tenant:  e.Tenant,
			// The CloudEvents subject of a delivery is the event it carries.
			CESubject: e.ID,
			Data:      t,
		})
	}
	return out, nil
}

// Deliver handles one delivery message: it posts the event to its endpoint
// and records the attempt; it publishes nothing. A delivery already recorded
// as succeeded is not sent again; a failure returns an error so the message
// is retried after the backoff, and the last allowed failure is dead-lettered
// by the bus.
func (d *Dispatcher) Deliver(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
	return nil, d.deliver(ctx, e)
}

func (d *Dispatcher) deliver(ctx context.Context, e *bus.Event) error {
	var t task
	if err := e.Decode(&t); err != nil {
		return err
	}
	if t.WebhookID == "" || t.EventID == "" || len(t.Body) == 0 {
		return bus.Undecodable(fmt.Errorf("delivery %s lacks webhook, event or body", e.ID))
	}
	tenant := e.Tenant
	id := store.DeliveryID(tenant, t.WebhookID, t.EventID)
	st, found, err := d.state(ctx, id)
	if err != nil {
		return fmt.Errorf("load delivery %s: %w", id, err)
	}
	rec := st.Delivery
	if !found {
		rec = store.Delivery{ID: id, TenantID: tenant, WebhookID: t.WebhookID, EventID: t.EventID, EventType: t.EventType}
	}
	if rec.Status == store.DeliverySucceeded || rec.Status == store.DeliveryFailed {
		// Settled by an earlier delivery of this message, which may have
		// stopped before the delivery log had the outcome.
		if !st.Recorded {
			return d.record(ctx, rec, false)
		}
		return nil
	}
	hook, err := d.hooks.Endpoint(ctx, tenant, t.WebhookID)
	if errors.Is(err, store.ErrNotFound) {
		d.breakers.forget(t.WebhookID)
		d.log.InfoContext(ctx, "webhook deleted; delivery dropped", "tenant", tenant, "webhook_id", t.WebhookID, "event_id", t.EventID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("load webhook %s: %w", t.WebhookID, err)
	}

	// Wait for one of the tenant's posting slots, telling the server the
	// delivery is in progress meanwhile so it is not redelivered.
	release, err := d.tenants.acquire(ctx, tenant, d.ackWait()/3, e.InProgress)
	if err != nil {
		return fmt.Errorf("wait for a delivery slot of tenant %s: %w", tenant, err)
	}
	now := d.now()
	status, sendErr := d.breakers.run(hook.ID, func() (int, error) { return d.post(ctx, hook, id, now, t.Body) })
	release()
	att := store.DeliveryAttempt{Attempt: len(rec.Attempts) + 1, At: now.UTC().Truncate(time.Millisecond), StatusCode: status}
	switch {
	case sendErr == nil:
		rec.Status = store.DeliverySucceeded
	case e.LastDelivery():
		att.Error = sendErr.Error()
		rec.Status = store.DeliveryFailed
	default:
		att.Error = sendErr.Error()
		att.NextRetry = now.Add(e.RetryDelay()).UTC().Truncate(time.Millisecond)
		rec.Status = store.DeliveryPending
	}
	rec.Attempts = append(rec.Attempts, att)
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now.UTC().Truncate(time.Millisecond)
	}
	// Kept before the message is acked and before the delivery log is
	// written: a redelivery after a crash finds the success and does not
	// post again, and writes the log if it was not written.
	if err := d.putState(ctx, deliveryState{Delivery: rec}); err != nil {
		return fmt.Errorf("record delivery %s attempt %d: %w", id, att.Attempt, err)
	}
	if err := d.record(ctx, rec, !found); err != nil {
		return err
	}
	if sendErr != nil {
		d.log.WarnContext(ctx, "webhook delivery failed", "tenant", tenant, "webhook_id", hook.ID,
			"event_id", t.EventID, "attempt", att.Attempt, "error", sendErr)
		return fmt.Errorf("deliver %s to webhook %s: %w", t.EventID, hook.ID, sendErr)
	}
	return nil
}

// record writes a delivery's record to the delivery log people read, then
// notes in its state that the log has it. The first attempt's record is an
// insert (no read on the way); later ones replace it.
func (d *Dispatcher) record(ctx context.Context, rec store.Delivery, first bool) error {
	err := store.ErrConflict
	if first {
		err = d.hooks.CreateDelivery(ctx, rec)
	}
	if errors.Is(err, store.ErrConflict) {
		err = d.hooks.SaveDelivery(ctx, rec)
	}
	if err != nil {
		return fmt.Errorf("record delivery %s attempt %d: %w", rec.ID, len(rec.Attempts), err)
	}
	if err := d.putState(ctx, deliveryState{Delivery: rec, Recorded: true}); err != nil {
		return fmt.Errorf("record delivery %s attempt %d: %w", rec.ID, len(rec.Attempts), err)
	}
	return nil
}

// state reads a delivery's state from the bucket.
func (d *Dispatcher) state(ctx context.Context, id string) (deliveryState, bool, error) {
	if d.deliveries == nil {
		return deliveryState{}, false, errors.New("webhook: the dispatcher is not running (Run binds its bucket)")
	}
	e, err := d.deliveries.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return deliveryState{}, false, nil
	case err != nil:
		return deliveryState{}, false, err
	}
	var st deliveryState
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return deliveryState{}, false, fmt.Errorf("decode delivery state %s: %w", id, err)
	}
	return st, true, nil
}

func (d *Dispatcher) putState(ctx context.Context, st deliveryState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = d.deliveries.Put(ctx, st.Delivery.ID, b)
	return err
}

// maxResponseRead bounds how much of an answer is read (to reuse the connection).
const maxResponseRead = 64 << 10

// post sends body to hook, signed at now. It returns the status code, and an
// error for anything but a 2xx answer.
func (d *Dispatcher) post(ctx context.Context, hook store.Webhook, deliveryID string, now time.Time, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", "infra-mind-webhooks/1")
	// Webhook-Id is the delivery id, equal on every retry, so a receiver
	// can discard a delivery it already processed.
	req.Header.Set(HeaderID, deliveryID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(hook.Secret, ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		// The error names the URL, and it is logged and stored with the
		// attempt: a token in the URL's query is masked there.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redact.URL(ue.URL)
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("endpoint answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
