// Package apptest holds in-process fakes of pkg/app's ports, for tests of the
// use cases and of the HTTP handlers that call them. The contract suites in
// pkg/app/adapters run the same tests against these fakes and the real
// adapters, so the fakes behave like the store and the broker.
package apptest

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Assessments is an in-memory app.Assessments with the store's rules: tenant
// scoped keys, ErrConflict on an existing id, ErrNotFound across tenants,
// newest-first keyset pages and oldest-first children. Times keep the
// milliseconds the store keeps.
type Assessments struct {
	mu   sync.Mutex
	docs map[string]store.Assessment
}

// NewAssessments returns an empty repository.
func NewAssessments() *Assessments {
	return &Assessments{docs: map[string]store.Assessment{}}
}

func required(op string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return fmt.Errorf("apptest: %s: %w: %s is required", op, store.ErrInvalid, fields[i])
		}
		if fields[i] == "tenant" && strings.Contains(fields[i+1], "/") {
			return fmt.Errorf("apptest: %s: %w: tenant must not contain '/'", op, store.ErrInvalid)
		}
	}
	return nil
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// Create inserts a new assessment.
func (r *Assessments) Create(_ context.Context, a store.Assessment) error {
	if err := required("create assessment", "tenant", a.TenantID, "assessment id", a.ID); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := store.AssessmentKey(a.TenantID, a.ID)
	if _, ok := r.docs[key]; ok {
		return fmt.Errorf("apptest: create assessment %s: %w", a.ID, store.ErrConflict)
	}
	if a.Status == "" {
		a.Status = string(assessment.StatusQueued)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now()
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	a.CreatedAt, a.UpdatedAt, a.Deadline, a.CompletedAt = ms(a.CreatedAt), ms(a.UpdatedAt), ms(a.Deadline), ms(a.CompletedAt)
	families := make(map[string]store.FamilyState, len(a.Families))
	for k, v := range a.Families {
		v.CompletedAt = ms(v.CompletedAt)
		families[k] = v
	}
	a.Families = families
	a.MissingFamilies = slices.Clone(a.MissingFamilies)
	a.Key = key
	r.docs[key] = a
	return nil
}

// copyOf returns a stored document the caller may change freely.
func copyOf(a store.Assessment) store.Assessment {
	families := make(map[string]store.FamilyState, len(a.Families))
	for k, v := range a.Families {
		families[k] = v
	}
	a.Families = families
	a.MissingFamilies = slices.Clone(a.MissingFamilies)
	return a
}

// Get returns one of tenant's assessments.
func (r *Assessments) Get(_ context.Context, tenant, id string) (store.Assessment, error) {
	if err := required("get assessment", "tenant", tenant, "assessment id", id); err != nil {
		return store.Assessment{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.docs[store.AssessmentKey(tenant, id)]
	if !ok {
		return store.Assessment{}, fmt.Errorf("apptest: get assessment %s: %w", id, store.ErrNotFound)
	}
	return copyOf(a), nil
}

// newestFirst orders by (created_at, key) descending, the store's list order.
func newestFirst(a, b store.Assessment) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.Key, a.Key)
}

// List returns a page of tenant's assessments, newest first.
func (r *Assessments) List(_ context.Context, tenant string, opt store.ListOptions) (store.Page, error) {
	if err := required("list assessments", "tenant", tenant); err != nil {
		return store.Page{}, err
	}
	limit := opt.Limit
	switch {
	case limit <= 0:
		limit = store.DefaultListLimit
	case limit > store.MaxListLimit:
		limit = store.MaxListLimit
	}
	var after *store.Assessment
	if opt.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(opt.Cursor)
		at, id, ok := strings.Cut(string(raw), " ")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if err != nil || !ok || id == "" || terr != nil {
			return store.Page{}, fmt.Errorf("apptest: list assessments: %w", store.ErrBadCursor)
		}
		after = &store.Assessment{CreatedAt: t, Key: store.AssessmentKey(tenant, id)}
	}
	r.mu.Lock()
	var items []store.Assessment
	for _, a := range r.docs {
		if a.TenantID == tenant && (after == nil || newestFirst(*after, a) < 0) {
			items = append(items, copyOf(a))
		}
	}
	r.mu.Unlock()
	slices.SortFunc(items, newestFirst)
	page := store.Page{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + " " + last.ID))
	}
	if page.Items == nil {
		page.Items = []store.Assessment{}
	}
	return page, nil
}

// Children lists the children of kind of tenant's parentID, oldest first.
func (r *Assessments) Children(_ context.Context, tenant, parentID, kind string) ([]store.Assessment, error) {
	if err := required("list child assessments", "tenant", tenant, "parent id", parentID, "kind", kind); err != nil {
		return nil, err
	}
	r.mu.Lock()
	out := []store.Assessment{}
	for _, a := range r.docs {
		if a.TenantID == tenant && a.ParentID == parentID && a.Kind == kind {
			out = append(out, copyOf(a))
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Assessment) int { return -newestFirst(a, b) })
	if len(out) > store.MaxChildren {
		out = out[:store.MaxChildren]
	}
	return out, nil
}

// Queued is one assessment handed to the pipeline, as a worker sees it.
type Queued struct {
	ID, Tenant    string
	CorrelationID string
	Status        string
	Families      []string
	Request       *inframindv1.AssessmentRequest
	// Deadline is when the pipeline closes the assessment if it has not
	// finished (the schedule the queue set).
	Deadline time.Time
}

// Queue is an in-memory app.Queue. Like JetStream's deduplication by message
// id, queueing one assessment twice records it once; like a schedule on the
// broker, a later deadline of one assessment replaces the earlier. Fail,
// when set, is returned by Enqueue instead of queueing, FailSchedule by
// ScheduleDeadline.
type Queue struct {
	mu        sync.Mutex
	queued    []Queued
	seen      map[string]bool
	deadlines map[string]Deadline
	// Fail makes Enqueue fail with it (the publish of the request refused).
	Fail error
	// FailSchedule makes ScheduleDeadline fail with it (a broker outage).
	FailSchedule error
}

// Deadline is an assessment's deadline as scheduled.
type Deadline struct {
	ID, Tenant string
	At         time.Time
}

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{seen: map[string]bool{}, deadlines: map[string]Deadline{}} }

// ScheduleDeadline records a's deadline, replacing one scheduled before.
func (q *Queue) ScheduleDeadline(_ context.Context, a store.Assessment) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.FailSchedule != nil {
		return fmt.Errorf("apptest: schedule the deadline of %s: %w", a.ID, q.FailSchedule)
	}
	q.deadlines[a.TenantID+"/"+a.ID] = Deadline{ID: a.ID, Tenant: a.TenantID, At: a.Deadline}
	return nil
}

// DeadlineOf returns the deadline scheduled for tenant's assessment id.
func (q *Queue) DeadlineOf(tenant, id string) (Deadline, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.deadlines[tenant+"/"+id]
	return d, ok
}

// Enqueue records a as queued with every family.
func (q *Queue) Enqueue(_ context.Context, a store.Assessment, req *inframindv1.AssessmentRequest) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.Fail != nil {
		return fmt.Errorf("apptest: publish request of %s: %w", a.ID, q.Fail)
	}
	if q.seen[a.ID] {
		return nil
	}
	q.seen[a.ID] = true
	families := make([]string, 0, len(assessment.Families()))
	for _, f := range assessment.Families() {
		families = append(families, string(f))
	}
	q.queued = append(q.queued, Queued{ID: a.ID, Tenant: a.TenantID, CorrelationID: a.CorrelationID,
		Status: string(assessment.StatusQueued), Families: families, Request: proto.CloneOf(req),
		Deadline: q.deadlines[a.TenantID+"/"+a.ID].At})
	return nil
}

// Of returns what was queued for tenant, in order.
func (q *Queue) Of(tenant string) []Queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Queued
	for _, e := range q.queued {
		if e.Tenant == tenant {
			out = append(out, e)
		}
	}
	return out
}
