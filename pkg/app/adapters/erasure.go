package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// StoreErasure presents the document store's erasure as app.ErasureStore.
type StoreErasure struct {
	Store *store.Store
}

// DeliveryIDs returns the ids of the events' webhook deliveries.
func (s StoreErasure) DeliveryIDs(ctx context.Context, tenant string, eventIDs []string) ([]string, error) {
	return s.Store.Webhooks.DeliveryIDs(ctx, tenant, eventIDs)
}

// EraseDerived removes what the store derived from the assessment.
func (s StoreErasure) EraseDerived(ctx context.Context, tenant, id string, eventIDs []string) (int, error) {
	n, err := s.Store.EraseDerived(ctx, tenant, id, eventIDs)
	return int(n.Total()), err
}

// Delete removes the assessment document.
func (s StoreErasure) Delete(ctx context.Context, tenant, id string) error {
	return s.Store.Assessments.Delete(ctx, tenant, id)
}

// BrokerErasure presents JetStream's erasure (the streams, the webhook
// deliveries' bucket, and the pipeline state with its tombstones) as
// app.ErasureBroker.
type BrokerErasure struct {
	bus   *bus.Bus
	state *progress.State
}

// NewBrokerErasure binds to the pipeline state's bucket, which bus.Connect declared.
func NewBrokerErasure(ctx context.Context, b *bus.Bus) (*BrokerErasure, error) {
	if b == nil {
		return nil, errors.New("adapters: a bus is required")
	}
	st, err := progress.Open(ctx, b.JS)
	if err != nil {
		return nil, fmt.Errorf("adapters: %w", err)
	}
	return &BrokerErasure{bus: b, state: st}, nil
}

// Tombstone returns the assessment's tombstone.
func (e *BrokerErasure) Tombstone(ctx context.Context, tenant, id string) (progress.Tombstone, bool, error) {
	return e.state.Tombstone(ctx, tenant, id)
}

// MarkErased writes a tombstone.
func (e *BrokerErasure) MarkErased(ctx context.Context, t progress.Tombstone) error {
	return e.state.MarkErased(ctx, t)
}

// Tombstones lists the tombstones not swept, written at or before olderThan.
func (e *BrokerErasure) Tombstones(ctx context.Context, olderThan time.Time) ([]progress.Tombstone, error) {
	return e.state.Tombstones(ctx, olderThan)
}

// EventIDs returns the ids of the assessment's events in the EVENTS stream.
func (e *BrokerErasure) EventIDs(ctx context.Context, tenant, id string) ([]string, error) {
	return e.bus.AssessmentEventIDs(ctx, tenant, id)
}

// Erase removes the assessment's pipeline state and messages.
func (e *BrokerErasure) Erase(ctx context.Context, t progress.Tombstone, deliveryIDs []string) (int, error) {
	n, err := e.state.Erase(ctx, t.TenantID, t.AssessmentID)
	if err != nil {
		return n, err
	}
	counts, err := e.bus.EraseAssessment(ctx, bus.Erasure{Tenant: t.TenantID, AssessmentID: t.AssessmentID, Since: t.Since,
		EventIDs: t.EventIDs, DeliveryIDs: deliveryIDs})
	for _, c := range counts {
		n += c
	}
	return n, err
}

// erasedTTL is how long a report cache remembers an erased assessment: a
// read that loaded the report before the erasure puts it within seconds.
const erasedTTL = time.Hour

// Forget drops the cached report of tenant's assessment id and keeps a copy
// read before the erasure from staying cached after it: Put checks the mark
// Forget leaves, after writing, and removes what it wrote.
func (r *RedisReportCache) Forget(ctx context.Context, tenant, id string) error {
	if err := r.c.Client().Set(ctx, erasedKey(tenant, id), "1", erasedTTL).Err(); err != nil {
		return fmt.Errorf("adapters: mark %s erased in the cache: %w", id, err)
	}
	return r.c.Delete(ctx, cache.Key(tenant, "report", id))
}

// erasedKey marks an erased assessment in the cache.
func erasedKey(tenant, id string) string { return cache.Key(tenant, "erased", id) }
