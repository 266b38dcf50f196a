package apptest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// ErasureStore is an in-memory app.ErasureStore over the fakes of the store's
// repositories: it removes from them what store.Store's erasure removes from
// the database. Any of the repositories may be nil.
type ErasureStore struct {
	Assessments     *Assessments
	Reports         *Reports
	Recommendations *Recommendations
	Narratives      *Narratives
	Webhooks        *Webhooks
}

// DeliveryIDs returns the ids of the events' deliveries: logged ones, and
// those the tenant's webhooks would have.
func (e *ErasureStore) DeliveryIDs(ctx context.Context, tenant string, eventIDs []string) ([]string, error) {
	if err := required("list delivery ids", "tenant", tenant); err != nil {
		return nil, err
	}
	out := []string{}
	if e.Webhooks == nil || len(eventIDs) == 0 {
		return out, nil
	}
	add := func(id string) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	e.Webhooks.mu.Lock()
	for _, d := range e.Webhooks.deliveries {
		if d.TenantID == tenant && slices.Contains(eventIDs, d.EventID) {
			add(d.ID)
		}
	}
	e.Webhooks.mu.Unlock()
	hooks, err := e.Webhooks.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		for _, ev := range eventIDs {
			add(store.DeliveryID(tenant, h.ID, ev))
		}
	}
	return out, nil
}

// EraseDerived removes the assessment's report, recommendations, narratives
// and the delivery log of the events.
func (e *ErasureStore) EraseDerived(_ context.Context, tenant, id string, eventIDs []string) (int, error) {
	if err := required("erase assessment", "tenant", tenant, "assessment id", id); err != nil {
		return 0, err
	}
	n := 0
	if e.Reports != nil {
		n += removeKey(&e.Reports.mu, e.Reports.docs, store.ReportID(tenant, id))
	}
	if e.Recommendations != nil {
		n += removeKey(&e.Recommendations.mu, e.Recommendations.docs, store.RecommendationsID(tenant, id))
	}
	if e.Narratives != nil {
		e.Narratives.mu.Lock()
		for k, doc := range e.Narratives.docs {
			if doc.TenantID == tenant && doc.AssessmentID == id {
				delete(e.Narratives.docs, k)
				n++
			}
		}
		e.Narratives.mu.Unlock()
	}
	if e.Webhooks != nil {
		e.Webhooks.mu.Lock()
		for k, d := range e.Webhooks.deliveries {
			if d.TenantID == tenant && slices.Contains(eventIDs, d.EventID) {
				delete(e.Webhooks.deliveries, k)
				n++
			}
		}
		e.Webhooks.mu.Unlock()
	}
	return n, nil
}

func removeKey[T any](mu *sync.Mutex, docs map[string]T, key string) int {
	mu.Lock()
	defer mu.Unlock()
	if _, ok := docs[key]; !ok {
		return 0
	}
	delete(docs, key)
	return 1
}

// Delete removes the assessment document.
func (e *ErasureStore) Delete(_ context.Context, tenant, id string) error {
	if err := required("delete assessment", "tenant", tenant, "assessment id", id); err != nil {
		return err
	}
	if e.Assessments == nil || removeKey(&e.Assessments.mu, e.Assessments.docs, store.AssessmentKey(tenant, id)) == 0 {
		return fmt.Errorf("apptest: delete assessment %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Broker is an in-memory app.ErasureBroker: what the streams and buckets hold
// about each assessment, reduced to what an erasure must remove (event ids,
// other messages, state keys) plus the webhook deliveries' state by id.
type Broker struct {
	mu         sync.Mutex
	events     map[[2]string][]string
	messages   map[[2]string]int
	state      map[[2]string]int
	deliveries map[string]bool
	tombs      map[[2]string]progress.Tombstone
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{events: map[[2]string][]string{}, messages: map[[2]string]int{}, state: map[[2]string]int{},
		deliveries: map[string]bool{}, tombs: map[[2]string]progress.Tombstone{}}
}

// Published records what the pipeline publishes about an assessment: events
// under their ids, other messages (request, results, dead letters) and keys
// of its pipeline state.
func (b *Broker) Published(tenant, id string, eventIDs []string, messages, stateKeys int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{tenant, id}
	b.events[k] = append(b.events[k], eventIDs...)
	b.messages[k] += messages
	b.state[k] += stateKeys
}

// DeliveryState records the state the webhook dispatcher keeps of a delivery.
func (b *Broker) DeliveryState(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deliveries[id] = true
}

// Holds returns how many messages and keys the broker holds about tenant's
// assessment id (its tombstone excepted).
func (b *Broker) Holds(tenant, id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{tenant, id}
	return len(b.events[k]) + b.messages[k] + b.state[k]
}

// HoldsDelivery reports whether the state of delivery id is kept.
func (b *Broker) HoldsDelivery(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deliveries[id]
}

// Tombstone returns the tombstone of tenant's assessment id.
func (b *Broker) Tombstone(_ context.Context, tenant, id string) (progress.Tombstone, bool, error) {
	if err := required("read tombstone", "tenant", tenant, "assessment id", id); err != nil {
		return progress.Tombstone{}, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tombs[[2]string{tenant, id}]
	t.EventIDs = slices.Clone(t.EventIDs)
	return t, ok, nil
}

// MarkErased writes (or replaces) a tombstone.
func (b *Broker) MarkErased(_ context.Context, t progress.Tombstone) error {
	if err := required("mark erased", "tenant", t.TenantID, "assessment id", t.AssessmentID); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t.EventIDs = slices.Clone(t.EventIDs)
	b.tombs[[2]string{t.TenantID, t.AssessmentID}] = t
	return nil
}

// Tombstones returns the tombstones written at or before olderThan and not swept.
func (b *Broker) Tombstones(_ context.Context, olderThan time.Time) ([]progress.Tombstone, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []progress.Tombstone
	for _, t := range b.tombs {
		if !t.Swept && !t.At.After(olderThan) {
			t.EventIDs = slices.Clone(t.EventIDs)
			out = append(out, t)
		}
	}
	return out, nil
}

// EventIDs returns the ids of the assessment's events.
func (b *Broker) EventIDs(_ context.Context, tenant, id string) ([]string, error) {
	if tenant == "" || id == "" {
		return nil, fmt.Errorf("apptest: event ids: %w: tenant and assessment id are required", store.ErrInvalid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events[[2]string{tenant, id}]), nil
}

// Erase removes everything held about the tombstone's assessment and the
// state of the deliveries.
func (b *Broker) Erase(_ context.Context, t progress.Tombstone, deliveryIDs []string) (int, error) {
	if t.TenantID == "" || t.AssessmentID == "" {
		return 0, fmt.Errorf("apptest: erase: %w: tenant and assessment id are required", store.ErrInvalid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{t.TenantID, t.AssessmentID}
	n := len(b.events[k]) + b.messages[k] + b.state[k]
	delete(b.events, k)
	delete(b.messages, k)
	delete(b.state, k)
	for _, d := range deliveryIDs {
		if b.deliveries[d] {
			delete(b.deliveries, d)
			n++
		}
	}
	return n, nil
}
