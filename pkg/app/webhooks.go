package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// MaxWebhooksPerTenant bounds a tenant's endpoints: every event is posted to
// each of them, so the number is what one event can cost in requests.
const MaxWebhooksPerTenant = 20

// WebhookStore stores webhooks and reads their delivery log; *store.Webhooks
// is the real one. Every call is scoped to a tenant: another tenant's webhook
// reads like a missing one (store.ErrNotFound).
type WebhookStore interface {
	Create(ctx context.Context, w store.Webhook) (store.Webhook, error)
	Get(ctx context.Context, tenant, id string) (store.Webhook, error)
	List(ctx context.Context, tenant string) ([]store.Webhook, error)
	Delete(ctx context.Context, tenant, id string) error
	ListDeliveries(ctx context.Context, tenant, webhookID string) ([]store.Delivery, error)
}

// URLPolicy decides which endpoint URLs may be registered and returns the
// URL as it will be called; a refusal's text says why, in words a person can
// act on. adapters.WebhookURLPolicy (over webhook.Policy) is the real one.
type URLPolicy interface {
	CheckURL(ctx context.Context, raw string) (string, error)
}

// WebhookDeps are what the webhook use cases need.
type WebhookDeps struct {
	Store  WebhookStore
	Policy URLPolicy
	// EventTypes are the event types an endpoint may subscribe to.
	EventTypes []string
	// NewSecret issues an endpoint's signing secret.
	NewSecret func() (string, error)
}

// Webhooks runs the webhook use cases: register, list and delete a tenant's
// endpoints and read an endpoint's delivery log.
type Webhooks struct {
	d WebhookDeps
}

// NewWebhooks returns the webhook use cases.
func NewWebhooks(d WebhookDeps) (*Webhooks, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("app: a webhook store is required")
	case d.Policy == nil:
		return nil, errors.New("app: a webhook URL policy is required")
	case len(d.EventTypes) == 0:
		return nil, errors.New("app: the webhook event types are required")
	case d.NewSecret == nil:
		return nil, errors.New("app: a webhook secret generator is required")
	}
	return &Webhooks{d: d}, nil
}

// EventTypes are the event types an endpoint may subscribe to.
func (w *Webhooks) EventTypes() []string { return slices.Clone(w.d.EventTypes) }

// NewWebhook is a registration: the endpoint and the event types it wants.
type NewWebhook struct {
	URL        string
	EventTypes []string
}

// Create registers an endpoint for tenant and returns it with its secret,
// which is never read back afterwards. A bad URL or event type is a
// *FieldError; a tenant at MaxWebhooksPerTenant gets ErrTooManyWebhooks.
func (w *Webhooks) Create(ctx context.Context, tenant string, in NewWebhook) (store.Webhook, error) {
	types, err := w.eventTypes(in.EventTypes)
	if err != nil {
		return store.Webhook{}, err
	}
	if strings.TrimSpace(in.URL) == "" {
		return store.Webhook{}, &FieldError{Field: "url", Reason: "is required"}
	}
	u, err := w.d.Policy.CheckURL(ctx, in.URL)
	if err != nil {
		// The policy's refusal is the reason a person reads.
		return store.Webhook{}, &FieldError{Field: "url", Reason: err.Error(), Err: err}
	}
	existing, err := w.d.Store.List(ctx, tenant)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("count webhooks: %w", err)
	}
	if len(existing) >= MaxWebhooksPerTenant {
		return store.Webhook{}, ErrTooManyWebhooks
	}
	secret, err := w.d.NewSecret()
	if err != nil {
		return store.Webhook{}, err
	}
	hook, err := w.d.Store.Create(ctx, store.Webhook{
		ID: uuid.NewString(), TenantID: tenant, URL: u, EventTypes: types, Secret: secret,
	})
	if err != nil {
		return store.Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return hook, nil
}

// eventTypes validates and deduplicates the requested event types.
func (w *Webhooks) eventTypes(in []string) ([]string, error) {
	known := w.d.EventTypes
	if len(in) == 0 {
		return nil, &FieldError{Field: "event_types", Reason: "list at least one of " + strings.Join(known, ", ")}
	}
	out := make([]string, 0, len(in))
	for _, t := range in {
		if !slices.Contains(known, t) {
			return nil, &FieldError{Field: "event_types", Reason: fmt.Sprintf("%q is not an event type; use %s", t, strings.Join(known, ", "))}
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// List returns tenant's webhooks, oldest first.
func (w *Webhooks) List(ctx context.Context, tenant string) ([]store.Webhook, error) {
	hooks, err := w.d.Store.List(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return hooks, nil
}

// Delete removes one of tenant's webhooks; ErrNoWebhook if it has none by id.
func (w *Webhooks) Delete(ctx context.Context, tenant, id string) error {
	err := w.d.Store.Delete(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete webhook %s: %w", id, ErrNoWebhook)
	}
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// Deliveries returns the newest deliveries of one of tenant's webhooks with
// every attempt; ErrNoWebhook if it has none by id.
func (w *Webhooks) Deliveries(ctx context.Context, tenant, id string) ([]store.Delivery, error) {
	if _, err := w.d.Store.Get(ctx, tenant, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("get webhook %s: %w", id, ErrNoWebhook)
		}
		return nil, fmt.Errorf("get webhook %s: %w", id, err)
	}
	items, err := w.d.Store.ListDeliveries(ctx, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", id, err)
	}
	return items, nil
}
