package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// ErasureStore removes what the document store holds about an assessment;
// adapters.StoreErasure on *store.Store is the real one. Every call is
// scoped to the tenant, and removing what is gone is not an error, except
// for Delete, which reports store.ErrNotFound when the assessment is not
// (or no longer) there.
type ErasureStore interface {
	// DeliveryIDs returns the ids of the webhook deliveries of the events.
	DeliveryIDs(ctx context.Context, tenant string, eventIDs []string) ([]string, error)
	// EraseDerived removes the report, recommendations, narratives, results
	// and claims of the assessment and the delivery log of the events, and
	// returns how many documents it removed.
	EraseDerived(ctx context.Context, tenant, id string, eventIDs []string) (int, error)
	// Delete removes the assessment document itself.
	Delete(ctx context.Context, tenant, id string) error
}

// ErasureBroker removes what the broker holds about an assessment and keeps
// its tombstone; adapters.BrokerErasure on JetStream is the real one. The
// tombstone is what writers still running check, and what Sweep finds.
type ErasureBroker interface {
	Tombstone(ctx context.Context, tenant, id string) (progress.Tombstone, bool, error)
	MarkErased(ctx context.Context, t progress.Tombstone) error
	// Tombstones lists those written at or before olderThan and not swept.
	Tombstones(ctx context.Context, olderThan time.Time) ([]progress.Tombstone, error)
	// EventIDs returns the ids of the assessment's events the broker holds.
	EventIDs(ctx context.Context, tenant, id string) ([]string, error)
	// Erase removes the assessment's pipeline state, its events, request,
	// results, webhook deliveries (and their state) and dead letters, and
	// returns how many messages and keys it removed.
	Erase(ctx context.Context, t progress.Tombstone, deliveryIDs []string) (int, error)
}

// ErasureCache drops what a cache holds about an assessment, and keeps a
// copy read before the erasure from being cached after it;
// adapters.RedisReportCache is the real one.
type ErasureCache interface {
	Forget(ctx context.Context, tenant, id string) error
}

// ErasureDeps are what the erasure use case reads and removes through.
type ErasureDeps struct {
	Assessments Assessments
	Store       ErasureStore
	Broker      ErasureBroker
	// Cache may be nil (no cache to clear).
	Cache ErasureCache
	// Now is the clock (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Erasure runs the right to erasure: it removes an assessment with
// everything derived from it, in every store (docs/adr/0032).
type Erasure struct {
	repo   Assessments
	store  ErasureStore
	broker ErasureBroker
	cache  ErasureCache
	now    func() time.Time
	log    *slog.Logger
}

// NewErasure returns the erasure use case.
func NewErasure(d ErasureDeps) (*Erasure, error) {
	switch {
	case d.Assessments == nil:
		return nil, errors.New("app: an assessment repository is required")
	case d.Store == nil:
		return nil, errors.New("app: an erasure store is required")
	case d.Broker == nil:
		return nil, errors.New("app: an erasure broker is required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Erasure{repo: d.Assessments, store: d.Store, broker: d.Broker, cache: d.Cache, now: d.Now, log: d.Logger}, nil
}

// Erased is what one Delete removed.
type Erased struct {
	// IDs are the assessments removed: the versions and scenarios of a
	// base first, then the one asked for.
	IDs []string
	// Removed counts the documents, messages, keys and cache entries.
	Removed int
}

// RunningError is an erasure refused because an assessment (the one asked
// for, or one of its versions or scenarios) is still queued or running: the
// pipeline is still writing it. It ends by its Deadline at the latest.
type RunningError struct {
	ID, Status string
	Deadline   time.Time
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("app: assessment %s is %s until it finishes", e.ID, e.Status)
}

// Delete erases one of tenant's assessments: its versions and scenarios
// (when it is a base), and for each its report, recommendations,
// narratives, results, events, webhook deliveries, pipeline state and
// cached copies, then the assessment itself. Another tenant's id, or one
// already erased, is store.ErrNotFound. An assessment still queued or
// running (or with such a child) is a *RunningError and nothing is removed.
// A Delete that stopped half way leaves the assessment readable, and a
// retry finishes it.
func (e *Erasure) Delete(ctx context.Context, tenant, id string) (Erased, error) {
	if tenant == "" {
		return Erased{}, ErrNoTenant
	}
	a, err := e.repo.Get(ctx, tenant, id)
	if err != nil {
		return Erased{}, fmt.Errorf("get assessment %s: %w", id, err)
	}
	all := []store.Assessment{}
	if a.Kind == store.KindBase {
		for _, kind := range []string{store.KindVersion, store.KindScenario} {
			children, err := e.repo.Children(ctx, tenant, a.ID, kind)
			if err != nil {
				return Erased{}, fmt.Errorf("list %s children of %s: %w", kind, a.ID, err)
			}
			all = append(all, children...)
		}
	}
	all = append(all, a)
	for _, x := range all {
		if !assessment.Status(x.Status).Terminal() {
			return Erased{}, &RunningError{ID: x.ID, Status: x.Status, Deadline: x.Deadline}
		}
	}
	out := Erased{}
	for _, x := range all {
		n, err := e.erase(ctx, x.TenantID, x.ID, x.CreatedAt)
		out.Removed += n
		if err != nil {
			return out, err
		}
		err = e.store.Delete(ctx, x.TenantID, x.ID)
		switch {
		case errors.Is(err, store.ErrNotFound) && x.ID != a.ID:
			// A child erased by a concurrent Delete of its own.
		case err != nil:
			return out, fmt.Errorf("delete assessment %s: %w", x.ID, err)
		default:
			out.Removed++
		}
		out.IDs = append(out.IDs, x.ID)
	}
	e.log.InfoContext(ctx, "assessment erased", slog.String("tenant_id", tenant), slog.String("assessment_id", a.ID),
		slog.Int("assessments", len(out.IDs)), slog.Int("removed", out.Removed))
	return out, nil
}

// erase removes everything derived from one assessment created at since,
// leaving its tombstone; the assessment document is the caller's to delete.
// The tombstone goes first, so writers still running stop storing; the
// events' ids are read before the events go and kept in it, so a retry
// still finds their deliveries.
func (e *Erasure) erase(ctx context.Context, tenant, id string, since time.Time) (int, error) {
	t, found, err := e.broker.Tombstone(ctx, tenant, id)
	if err != nil {
		return 0, fmt.Errorf("read tombstone of %s: %w", id, err)
	}
	if !found {
		t = progress.Tombstone{TenantID: tenant, AssessmentID: id, Since: since}
	}
	t.At, t.Swept = e.now().UTC().Truncate(time.Millisecond), false
	events, err := e.broker.EventIDs(ctx, tenant, id)
	if err != nil {
		return 0, fmt.Errorf("read event ids of %s: %w", id, err)
	}
	for _, ev := range events {
		if !slices.Contains(t.EventIDs, ev) {
			t.EventIDs = append(t.EventIDs, ev)
		}
	}
	if err := e.broker.MarkErased(ctx, t); err != nil {
		return 0, fmt.Errorf("mark %s erased: %w", id, err)
	}
	return e.purge(ctx, t)
}

// purge removes what the broker, the store and the cache hold about the
// tombstone's assessment, the assessment document excepted.
func (e *Erasure) purge(ctx context.Context, t progress.Tombstone) (int, error) {
	deliveries, err := e.store.DeliveryIDs(ctx, t.TenantID, t.EventIDs)
	if err != nil {
		return 0, fmt.Errorf("list webhook deliveries of %s: %w", t.AssessmentID, err)
	}
	n, err := e.broker.Erase(ctx, t, deliveries)
	if err != nil {
		return n, fmt.Errorf("erase messages of %s: %w", t.AssessmentID, err)
	}
	m, err := e.store.EraseDerived(ctx, t.TenantID, t.AssessmentID, t.EventIDs)
	n += m
	if err != nil {
		return n, fmt.Errorf("erase documents of %s: %w", t.AssessmentID, err)
	}
	if e.cache != nil {
		if err := e.cache.Forget(ctx, t.TenantID, t.AssessmentID); err != nil {
			return n, fmt.Errorf("forget cached copies of %s: %w", t.AssessmentID, err)
		}
	}
	return n, nil
}

// DefaultErasureGrace is how long after an erasure Sweep erases again: longer
// than any writer already running when it began (the consultant's delivery
// may take two minutes, a webhook attempt its timeout) can take to finish.
const DefaultErasureGrace = 10 * time.Minute

// Sweep erases again every assessment erased at least grace ago and not swept
// yet, removing what a writer that was already running stored after the
// erasure, and returns how many it swept. An assessment created again under
// the same id since (a retried Idempotency-Key) is left alone.
func (e *Erasure) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	if grace <= 0 {
		grace = DefaultErasureGrace
	}
	tombs, err := e.broker.Tombstones(ctx, e.now().Add(-grace))
	if err != nil {
		return 0, fmt.Errorf("list tombstones: %w", err)
	}
	n := 0
	for _, t := range tombs {
		again, err := e.repo.Get(ctx, t.TenantID, t.AssessmentID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if _, err := e.purge(ctx, t); err != nil {
				return n, err
			}
		case err != nil:
			return n, fmt.Errorf("get assessment %s: %w", t.AssessmentID, err)
		case again.CreatedAt.Before(t.At):
			// Erased while this Delete was still at work (it deletes the
			// document last): the next pass finds it gone.
			continue
		}
		t.Swept = true
		if err := e.broker.MarkErased(ctx, t); err != nil {
			return n, fmt.Errorf("mark %s swept: %w", t.AssessmentID, err)
		}
		n++
	}
	return n, nil
}
