package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Webhook is a tenant's subscription of an HTTPS endpoint to event types.
//
// Secret is kept as issued, not hashed: the dispatcher must compute an
// HMAC with it for every delivery, so a one-way hash would make signing
// impossible. Encrypting it with a key held by the same processes that hold
// the database credentials would not protect it from those processes; it is
// never returned by the API after creation (json:"-") and never logged.
type Webhook struct {
	// Key is the primary key, WebhookKey(TenantID, ID); the repository sets it.
	Key        string    `bson:"_id" json:"-"`
	ID         string    `bson:"webhook_id" json:"id"`
	TenantID   string    `bson:"tenant_id" json:"tenant_id"`
	URL        string    `bson:"url" json:"url"`
	EventTypes []string  `bson:"event_types" json:"event_types"`
	Secret     string    `bson:"secret" json:"-"`
	CreatedAt  time.Time `bson:"created_at" json:"created_at"`
}

// Subscribes reports whether w wants events of eventType.
func (w Webhook) Subscribes(eventType string) bool { return slices.Contains(w.EventTypes, eventType) }

// WebhookKey is the primary key of a tenant's webhook: the tenant is part of
// the key so a read by _id (the fast path on FerretDB) can never cross tenants.
func WebhookKey(tenant, id string) string { return tenant + "/" + id }

// Delivery states.
const (
	DeliveryPending   = "pending"   // an attempt failed and another is scheduled
	DeliverySucceeded = "succeeded" // the endpoint answered 2xx
	DeliveryFailed    = "failed"    // every allowed attempt failed (dead-lettered)
)

// DeliveryAttempt is one POST to an endpoint.
type DeliveryAttempt struct {
	Attempt    int       `bson:"attempt" json:"attempt"`
	At         time.Time `bson:"at" json:"at"`
	StatusCode int       `bson:"status_code,omitempty" json:"status_code,omitempty"`
	Error      string    `bson:"error,omitempty" json:"error,omitempty"`
	// NextRetry is when the next attempt is due; zero after the last one.
	NextRetry time.Time `bson:"next_retry,omitempty" json:"next_retry,omitzero"`
}

// Delivery is the log of one event's delivery to one endpoint.
type Delivery struct {
	// ID is DeliveryID(tenant, webhook, event): a redelivered event maps to
	// the same record, which is how a success is never sent twice.
	ID        string            `bson:"_id" json:"id"`
	TenantID  string            `bson:"tenant_id" json:"tenant_id"`
	WebhookID string            `bson:"webhook_id" json:"webhook_id"`
	EventID   string            `bson:"event_id" json:"event_id"`
	EventType string            `bson:"event_type" json:"event_type"`
	Status    string            `bson:"status" json:"status"`
	Attempts  []DeliveryAttempt `bson:"attempts" json:"attempts"`
	CreatedAt time.Time         `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time         `bson:"updated_at" json:"updated_at"`
}

// DeliveryID is the deterministic id of the delivery of event to webhook.
func DeliveryID(tenant, webhookID, eventID string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + webhookID + "\x00" + eventID))
	return hex.EncodeToString(sum[:])
}

// Webhooks repository: subscriptions and their delivery log.
type Webhooks struct {
	coll       *mongo.Collection
	deliveries *mongo.Collection
	// endpoints is this process's copy of each tenant's webhooks (nil: none,
	// Endpoints reads the store every time).
	endpoints *endpointCache
}

// WebhookVersions says when a tenant's webhooks last changed, to every
// process at once: a version that differs from the one a copy was read at
// means the copy is stale. The read model's bucket is the real one
// (readmodel.Model); 0 is a tenant whose webhooks never changed since it
// exists.
type WebhookVersions interface {
	WebhooksVersion(ctx context.Context, tenant string) (uint64, error)
	WebhooksChanged(ctx context.Context, tenant string) error
}

// endpointCache holds each tenant's webhooks with the version they were
// read at.
type endpointCache struct {
	v        WebhookVersions
	mu       sync.Mutex
	byTenant map[string]versionedEndpoints
}

type versionedEndpoints struct {
	version uint64
	hooks   []Webhook
}

// UseVersions makes Endpoints and Endpoint answer from a copy of each
// tenant's webhooks while v says they are unchanged, and Create and Delete
// tell v of every change. Every process that writes webhooks must use it
// (readmodel.Use does), or the others keep a stale copy.
func (r *Webhooks) UseVersions(v WebhookVersions) {
	r.endpoints = &endpointCache{v: v, byTenant: map[string]versionedEndpoints{}}
}

// changed tells the versions that tenant's webhooks changed.
func (r *Webhooks) changed(ctx context.Context, tenant string) error {
	if r.endpoints == nil {
		return nil
	}
	if err := r.endpoints.v.WebhooksChanged(ctx, tenant); err != nil {
		return fmt.Errorf("store: mark the webhooks of a tenant changed: %w", err)
	}
	return nil
}

// Endpoints returns tenant's webhooks as List does. With versions
// (UseVersions) it reads the store only when the tenant's version moved
// since its copy was read: one key read per call instead of a filtered find
// on webhooks, which FerretDB on PostgreSQL serves with a sequential scan
// and the webhook fan-out made once per event (ADR 0021). The version is
// read before the list, so a change written after the read is seen at the
// next call.
func (r *Webhooks) Endpoints(ctx context.Context, tenant string) ([]Webhook, error) {
	c := r.endpoints
	if c == nil {
		return r.List(ctx, tenant)
	}
	v, err := c.v.WebhooksVersion(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: read the webhooks version of a tenant: %w", err)
	}
	c.mu.Lock()
	got, ok := c.byTenant[tenant]
	c.mu.Unlock()
	if ok && got.version == v {
		return slices.Clone(got.hooks), nil
	}
	hooks, err := r.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.byTenant[tenant] = versionedEndpoints{version: v, hooks: slices.Clone(hooks)}
	c.mu.Unlock()
	return hooks, nil
}

// Endpoint returns one of tenant's webhooks as Get does, from the copy
// Endpoints keeps when there is one (ErrNotFound if it is not among them).
func (r *Webhooks) Endpoint(ctx context.Context, tenant, id string) (Webhook, error) {
	if r.endpoints == nil {
		return r.Get(ctx, tenant, id)
	}
	hooks, err := r.Endpoints(ctx, tenant)
	if err != nil {
		return Webhook{}, err
	}
	for _, h := range hooks {
		if h.ID == id {
			return h, nil
		}
	}
	return Webhook{}, fmt.Errorf("store: get webhook %s: %w", id, ErrNotFound)
}

// MaxListedDeliveries bounds ListDeliveries.
const MaxListedDeliveries = 100

// Create stores a new webhook; ErrConflict if its id exists.
func (r *Webhooks) Create(ctx context.Context, w Webhook) (Webhook, error) {
	if err := required("create webhook", "tenant", w.TenantID, "webhook id", w.ID, "url", w.URL, "secret", w.Secret); err != nil {
		return Webhook{}, err
	}
	if len(w.EventTypes) == 0 {
		return Webhook{}, fmt.Errorf("store: create webhook: %w: event types are required", ErrInvalid)
	}
	w.Key = WebhookKey(w.TenantID, w.ID)
	w.CreatedAt = orNow(w.CreatedAt)
	if _, err := r.coll.InsertOne(ctx, w); err != nil {
		return Webhook{}, wrap("create webhook "+w.ID, err)
	}
	if err := r.changed(ctx, w.TenantID); err != nil {
		// Not seen by the other processes' copies: undone, so a retry
		// creates it again instead of leaving an endpoint nobody posts to.
		if _, derr := r.coll.DeleteOne(context.WithoutCancel(ctx), byKey(w.Key)); derr != nil {
			return Webhook{}, fmt.Errorf("create webhook %s: %w (and undoing it: %w)", w.ID, err, derr)
		}
		return Webhook{}, fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	return w, nil
}

// Get returns one of tenant's webhooks (ErrNotFound for another tenant's).
func (r *Webhooks) Get(ctx context.Context, tenant, id string) (Webhook, error) {
	if err := required("get webhook", "tenant", tenant, "webhook id", id); err != nil {
		return Webhook{}, err
	}
	var w Webhook
	if err := findByKey(ctx, r.coll, tenant, WebhookKey(tenant, id), &w, func() string { return w.TenantID }); err != nil {
		return Webhook{}, wrap("get webhook "+id, err)
	}
	return w, nil
}

// List returns tenant's webhooks, oldest first.
func (r *Webhooks) List(ctx context.Context, tenant string) ([]Webhook, error) {
	if err := required("list webhooks", "tenant", tenant); err != nil {
		return nil, err
	}
	cur, err := r.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap("list webhooks", err)
	}
	out := []Webhook{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list webhooks", err)
	}
	return out, nil
}

// Delete removes one of tenant's webhooks (ErrNotFound if none). Its
// delivery log is kept for inspection; pending retries find no endpoint and stop.
func (r *Webhooks) Delete(ctx context.Context, tenant, id string) error {
	if err := required("delete webhook", "tenant", tenant, "webhook id", id); err != nil {
		return err
	}
	res, err := r.coll.DeleteOne(ctx, byKey(WebhookKey(tenant, id)))
	if err != nil {
		return wrap("delete webhook "+id, err)
	}
	// Also when nothing was deleted: a retry after a failed mark marks it.
	if err := r.changed(ctx, tenant); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("store: delete webhook %s: %w", id, ErrNotFound)
	}
	return nil
}

// GetDelivery returns a delivery record by id (ErrNotFound if none or another tenant's).
func (r *Webhooks) GetDelivery(ctx context.Context, tenant, id string) (Delivery, error) {
	if err := required("get delivery", "tenant", tenant, "delivery id", id); err != nil {
		return Delivery{}, err
	}
	var d Delivery
	if err := findByKey(ctx, r.deliveries, tenant, id, &d, func() string { return d.TenantID }); err != nil {
		return Delivery{}, wrap("get delivery "+id, err)
	}
	return d, nil
}

// CreateDelivery inserts a delivery record; ErrConflict when one with its id
// exists. It is one insert, which FerretDB on PostgreSQL checks against its
// primary-key index without reading the table (ADR 0021).
func (r *Webhooks) CreateDelivery(ctx context.Context, d Delivery) error {
	if err := required("create delivery", "tenant", d.TenantID, "delivery id", d.ID, "webhook id", d.WebhookID, "event id", d.EventID); err != nil {
		return err
	}
	if d.ID != DeliveryID(d.TenantID, d.WebhookID, d.EventID) {
		return fmt.Errorf("store: create delivery: %w: id is not DeliveryID(tenant, webhook, event)", ErrInvalid)
	}
	d.CreatedAt = orNow(d.CreatedAt)
	d.UpdatedAt = nowUTC()
	if _, err := r.deliveries.InsertOne(ctx, d); err != nil {
		return wrap("create delivery "+d.ID, err)
	}
	return nil
}

// SaveDelivery replaces (or inserts) a delivery record. Only the one
// handler that holds the delivery's message writes it, so a whole-document
// replace loses nothing and needs no update operator FerretDB may lack.
func (r *Webhooks) SaveDelivery(ctx context.Context, d Delivery) error {
	if err := required("save delivery", "tenant", d.TenantID, "delivery id", d.ID, "webhook id", d.WebhookID, "event id", d.EventID); err != nil {
		return err
	}
	if d.ID != DeliveryID(d.TenantID, d.WebhookID, d.EventID) {
		return fmt.Errorf("store: save delivery: %w: id is not DeliveryID(tenant, webhook, event)", ErrInvalid)
	}
	d.CreatedAt = orNow(d.CreatedAt)
	d.UpdatedAt = nowUTC()
	if err := replaceUpsert(ctx, r.deliveries, byKey(d.ID), d); err != nil {
		return wrap("save delivery "+d.ID, err)
	}
	return nil
}

// ListDeliveries returns the newest deliveries of one of tenant's webhooks
// (at most MaxListedDeliveries).
func (r *Webhooks) ListDeliveries(ctx context.Context, tenant, webhookID string) ([]Delivery, error) {
	if err := required("list deliveries", "tenant", tenant, "webhook id", webhookID); err != nil {
		return nil, err
	}
	cur, err := r.deliveries.Find(ctx,
		bson.D{{Key: "tenant_id", Value: tenant}, {Key: "webhook_id", Value: webhookID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(MaxListedDeliveries))
	if err != nil {
		return nil, wrap("list deliveries", err)
	}
	out := []Delivery{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list deliveries", err)
	}
	return out, nil
}
