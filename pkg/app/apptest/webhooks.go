package apptest

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Webhooks is an in-memory app.WebhookStore with the store's rules: tenant
// scoped keys, ErrConflict on an existing id, ErrNotFound across tenants,
// oldest-first lists and newest-first delivery logs. SaveDelivery is the
// dispatcher's write, for setting up a test.
type Webhooks struct {
	mu         sync.Mutex
	hooks      map[string]store.Webhook
	deliveries map[string]store.Delivery
}

// NewWebhooks returns an empty webhook store.
func NewWebhooks() *Webhooks {
	return &Webhooks{hooks: map[string]store.Webhook{}, deliveries: map[string]store.Delivery{}}
}

// Create stores a new webhook.
func (r *Webhooks) Create(_ context.Context, w store.Webhook) (store.Webhook, error) {
	if err := required("create webhook", "tenant", w.TenantID, "webhook id", w.ID, "url", w.URL, "secret", w.Secret); err != nil {
		return store.Webhook{}, err
	}
	if len(w.EventTypes) == 0 {
		return store.Webhook{}, fmt.Errorf("apptest: create webhook: %w: event types are required", store.ErrInvalid)
	}
	w.Key = store.WebhookKey(w.TenantID, w.ID)
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now()
	}
	w.CreatedAt = ms(w.CreatedAt)
	w.EventTypes = slices.Clone(w.EventTypes)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.hooks[w.Key]; ok {
		return store.Webhook{}, fmt.Errorf("apptest: create webhook %s: %w", w.ID, store.ErrConflict)
	}
	r.hooks[w.Key] = w
	return w, nil
}

// Get returns one of tenant's webhooks.
func (r *Webhooks) Get(_ context.Context, tenant, id string) (store.Webhook, error) {
	if err := required("get webhook", "tenant", tenant, "webhook id", id); err != nil {
		return store.Webhook{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.hooks[store.WebhookKey(tenant, id)]
	if !ok {
		return store.Webhook{}, fmt.Errorf("apptest: get webhook %s: %w", id, store.ErrNotFound)
	}
	w.EventTypes = slices.Clone(w.EventTypes)
	return w, nil
}

// List returns tenant's webhooks, oldest first.
func (r *Webhooks) List(_ context.Context, tenant string) ([]store.Webhook, error) {
	if err := required("list webhooks", "tenant", tenant); err != nil {
		return nil, err
	}
	r.mu.Lock()
	out := []store.Webhook{}
	for _, w := range r.hooks {
		if w.TenantID == tenant {
			w.EventTypes = slices.Clone(w.EventTypes)
			out = append(out, w)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Webhook) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out, nil
}

// Delete removes one of tenant's webhooks, keeping its delivery log.
func (r *Webhooks) Delete(_ context.Context, tenant, id string) error {
	if err := required("delete webhook", "tenant", tenant, "webhook id", id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := store.WebhookKey(tenant, id)
	if _, ok := r.hooks[key]; !ok {
		return fmt.Errorf("apptest: delete webhook %s: %w", id, store.ErrNotFound)
	}
	delete(r.hooks, key)
	return nil
}

// SaveDelivery replaces or inserts a delivery record.
func (r *Webhooks) SaveDelivery(_ context.Context, d store.Delivery) error {
	if err := required("save delivery", "tenant", d.TenantID, "delivery id", d.ID, "webhook id", d.WebhookID, "event id", d.EventID); err != nil {
		return err
	}
	if d.ID != store.DeliveryID(d.TenantID, d.WebhookID, d.EventID) {
		return fmt.Errorf("apptest: save delivery: %w: id is not DeliveryID(tenant, webhook, event)", store.ErrInvalid)
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Now()
	}
	d.CreatedAt, d.UpdatedAt = ms(d.CreatedAt), ms(time.Now())
	d.Attempts = slices.Clone(d.Attempts)
	for i := range d.Attempts {
		d.Attempts[i].At, d.Attempts[i].NextRetry = ms(d.Attempts[i].At), ms(d.Attempts[i].NextRetry)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries[d.ID] = d
	return nil
}

// ListDeliveries returns the newest deliveries of one of tenant's webhooks
// (at most store.MaxListedDeliveries).
func (r *Webhooks) ListDeliveries(_ context.Context, tenant, webhookID string) ([]store.Delivery, error) {
	if err := required("list deliveries", "tenant", tenant, "webhook id", webhookID); err != nil {
		return nil, err
	}
	r.mu.Lock()
	out := []store.Delivery{}
	for _, d := range r.deliveries {
		if d.TenantID == tenant && d.WebhookID == webhookID {
			d.Attempts = slices.Clone(d.Attempts)
			out = append(out, d)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Delivery) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(out) > store.MaxListedDeliveries {
		out = out[:store.MaxListedDeliveries]
	}
	return out, nil
}

// AuditLog is an in-memory audit log (app.AuditLog, and Append as
// store.AuditLog has it): append-only, ErrConflict wrapping
// audit.ErrDuplicate on an existing id, tenant-scoped newest-first pages by
// (time, id) with the store's filters and millisecond times.
type AuditLog struct {
	mu      sync.Mutex
	records map[string]audit.Record
}

// NewAuditLog returns an empty log.
func NewAuditLog() *AuditLog { return &AuditLog{records: map[string]audit.Record{}} }

// Append adds rec.
func (l *AuditLog) Append(_ context.Context, rec audit.Record) error {
	if err := required("append audit record", "record id", rec.ID, "action", rec.Action, "actor", rec.Actor); err != nil {
		return err
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = ms(rec.Time)
	rec.Roles = slices.Clone(rec.Roles)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.records[rec.ID]; ok {
		return fmt.Errorf("apptest: append audit record %s: %w: %w", rec.ID, store.ErrConflict, audit.ErrDuplicate)
	}
	l.records[rec.ID] = rec
	return nil
}

// newestRecordFirst orders by (time, id) descending, the store's order.
func newestRecordFirst(a, b audit.Record) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// List returns a page of tenant's records, newest first.
func (l *AuditLog) List(_ context.Context, tenant string, q store.AuditQuery) (store.AuditPage, error) {
	if err := required("list audit records", "tenant", tenant); err != nil {
		return store.AuditPage{}, err
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = store.DefaultListLimit
	case limit > store.MaxListLimit:
		limit = store.MaxListLimit
	}
	var after *audit.Record
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		at, id, ok := strings.Cut(string(raw), ":")
		n, perr := strconv.ParseInt(at, 10, 64)
		if err != nil || !ok || id == "" || perr != nil {
			return store.AuditPage{}, fmt.Errorf("apptest: list audit records: %w", store.ErrBadCursor)
		}
		after = &audit.Record{Time: time.UnixMilli(n).UTC(), ID: id}
	}
	// The database keeps milliseconds, of the bounds as of the records.
	from, to := ms(q.From), ms(q.To)
	l.mu.Lock()
	var items []audit.Record
	for _, r := range l.records {
		if r.Tenant != tenant || (q.Action != "" && r.Action != q.Action) || (q.Actor != "" && r.Actor != q.Actor) ||
			(!from.IsZero() && r.Time.Before(from)) || (!to.IsZero() && !r.Time.Before(to)) ||
			(after != nil && newestRecordFirst(*after, r) >= 0) {
			continue
		}
		r.Roles = slices.Clone(r.Roles)
		items = append(items, r)
	}
	l.mu.Unlock()
	slices.SortFunc(items, newestRecordFirst)
	page := store.AuditPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.Time.UnixMilli(), 10) + ":" + last.ID))
	}
	if page.Items == nil {
		page.Items = []audit.Record{}
	}
	return page, nil
}
