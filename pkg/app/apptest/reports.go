package apptest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Reports is an in-memory app.ReportStore with the store's rules: one
// report per (tenant, assessment), another tenant's reads as ErrNotFound.
// Upsert is the synthesizer's write, for setting up a test.
type Reports struct {
	mu   sync.Mutex
	docs map[string]store.Report
}

// NewReports returns an empty report store.
func NewReports() *Reports { return &Reports{docs: map[string]store.Report{}} }

// Upsert stores the report of an assessment, as store.Reports.Upsert does.
func (r *Reports) Upsert(_ context.Context, rep store.Report) error {
	if err := required("upsert report", "tenant", rep.TenantID, "assessment id", rep.AssessmentID); err != nil {
		return err
	}
	want := store.ReportID(rep.TenantID, rep.AssessmentID)
	if rep.ID == "" {
		rep.ID = want
	}
	if rep.ID != want {
		return fmt.Errorf("apptest: upsert report: %w: id %q is not ReportID(tenant, assessment)", store.ErrInvalid, rep.ID)
	}
	if rep.CreatedAt.IsZero() {
		rep.CreatedAt = time.Now()
	}
	rep.CreatedAt = ms(rep.CreatedAt)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.docs[rep.ID] = rep
	return nil
}

// Get returns the report of one of tenant's assessments.
func (r *Reports) Get(_ context.Context, tenant, assessmentID string) (store.Report, error) {
	if err := required("get report", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return store.Report{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, ok := r.docs[store.ReportID(tenant, assessmentID)]
	if !ok || rep.TenantID != tenant {
		return store.Report{}, fmt.Errorf("apptest: get report of %s: %w", assessmentID, store.ErrNotFound)
	}
	return rep, nil
}

// Recommendations is an in-memory app.RecommendationStore with the store's
// rules. Upsert is the synthesizer's write, for setting up a test.
type Recommendations struct {
	mu   sync.Mutex
	docs map[string]store.Recommendations
}

// NewRecommendations returns an empty recommendation store.
func NewRecommendations() *Recommendations {
	return &Recommendations{docs: map[string]store.Recommendations{}}
}

// Upsert stores the recommendations of an assessment, as
// store.RecommendationsRepo.Upsert does.
func (r *Recommendations) Upsert(_ context.Context, rec store.Recommendations) error {
	if err := required("upsert recommendations", "tenant", rec.TenantID, "assessment id", rec.AssessmentID); err != nil {
		return err
	}
	want := store.RecommendationsID(rec.TenantID, rec.AssessmentID)
	if rec.ID == "" {
		rec.ID = want
	}
	if rec.ID != want {
		return fmt.Errorf("apptest: upsert recommendations: %w: id %q is not RecommendationsID(tenant, assessment)", store.ErrInvalid, rec.ID)
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = time.Now()
	}
	rec.CreatedAt = ms(rec.CreatedAt)
	rec.Set = cloneSet(rec.Set)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.docs[rec.ID] = rec
	return nil
}

// Get returns the recommendations of one of tenant's assessments.
func (r *Recommendations) Get(_ context.Context, tenant, assessmentID string) (store.Recommendations, error) {
	if err := required("get recommendations", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return store.Recommendations{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.docs[store.RecommendationsID(tenant, assessmentID)]
	if !ok || rec.TenantID != tenant {
		return store.Recommendations{}, fmt.Errorf("apptest: get recommendations of %s: %w", assessmentID, store.ErrNotFound)
	}
	rec.Set = cloneSet(rec.Set)
	return rec, nil
}

func cloneSet(s recommend.Set) recommend.Set {
	s.Recommendations = slices.Clone(s.Recommendations)
	s.Resolutions = slices.Clone(s.Resolutions)
	return s
}

// ReportCache is an in-memory app.ReportCache keyed by tenant and
// assessment. SetFail makes every call fail (Redis down).
type ReportCache struct {
	mu      sync.Mutex
	entries map[[2]string][]byte
	fail    error
	// forgotten are the erased assessments, whose copies Put drops.
	forgotten map[[2]string]bool
}

// SetFail makes Get and Put fail with err from now on (nil: work again).
func (c *ReportCache) SetFail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = err
}

// NewReportCache returns an empty cache.
func NewReportCache() *ReportCache {
	return &ReportCache{entries: map[[2]string][]byte{}, forgotten: map[[2]string]bool{}}
}

// Get returns the cached report of tenant's assessment id.
func (c *ReportCache) Get(_ context.Context, tenant, id string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return nil, false, fmt.Errorf("apptest: cache get: %w", c.fail)
	}
	b, ok := c.entries[[2]string{tenant, id}]
	return slices.Clone(b), ok, nil
}

// Put caches the report of tenant's assessment id.
func (c *ReportCache) Put(_ context.Context, tenant, id string, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return fmt.Errorf("apptest: cache put: %w", c.fail)
	}
	if c.forgotten[[2]string{tenant, id}] {
		return nil
	}
	c.entries[[2]string{tenant, id}] = slices.Clone(body)
	return nil
}

// Forget drops the cached report of tenant's assessment id, and every copy
// put after (a read that began before the erasure).
func (c *ReportCache) Forget(_ context.Context, tenant, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return fmt.Errorf("apptest: cache forget: %w", c.fail)
	}
	delete(c.entries, [2]string{tenant, id})
	c.forgotten[[2]string{tenant, id}] = true
	return nil
}
