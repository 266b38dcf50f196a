// Package store keeps tenants, assessments, agent results and reports in a
// MongoDB-protocol database (MongoDB or FerretDB v1). Every document carries
// its tenant id and every query filters by it; repositories take the tenant as
// an argument. Updates are single-document and atomic; ids are deterministic.
//
// API CONTRACT (implemented by the store owner; other packages code against it):
// signatures below are fixed, bodies are to be written.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when no document matches (including another tenant's id).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a document with the same id already exists.
var ErrConflict = errors.New("already exists")

// Store is a connected database with its indexes created.
type Store struct {
	Tenants     *Tenants
	Assessments *Assessments
	Results     *Results
	Reports     *Reports
	// unexported: client, db
}

// Connect dials uri, selects database, and creates indexes idempotently.
func Connect(ctx context.Context, uri, database string) (*Store, error) { panic("unimplemented") }

// Ping checks the server answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error { panic("unimplemented") }

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { panic("unimplemented") }

// Tenant is a customer organisation.
type Tenant struct {
	ID        string    `bson:"_id" json:"id"`
	Name      string    `bson:"name" json:"name"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// Tenants repository.
type Tenants struct{}

// Upsert creates or renames a tenant.
func (r *Tenants) Upsert(ctx context.Context, t Tenant) error { panic("unimplemented") }

// Get returns a tenant by id.
func (r *Tenants) Get(ctx context.Context, id string) (Tenant, error) { panic("unimplemented") }

// FamilyState is one family's progress inside an assessment document.
type FamilyState struct {
	Status      string    `bson:"status" json:"status"` // pending, completed
	CompletedAt time.Time `bson:"completed_at,omitempty" json:"completed_at,omitempty"`
	Summary     string    `bson:"summary,omitempty" json:"summary,omitempty"`
}

// Assessment is the stored assessment. Request holds the protojson of the
// AssessmentRequest as submitted (validated).
type Assessment struct {
	ID              string                 `bson:"_id" json:"id"`
	TenantID        string                 `bson:"tenant_id" json:"tenant_id"`
	Name            string                 `bson:"name" json:"name"`
	Status          string                 `bson:"status" json:"status"`
	Request         string                 `bson:"request" json:"-"`
	Families        map[string]FamilyState `bson:"families" json:"families"`
	MissingFamilies []string               `bson:"missing_families,omitempty" json:"missing_families,omitempty"`
	Reason          string                 `bson:"reason,omitempty" json:"reason,omitempty"`
	CorrelationID   string                 `bson:"correlation_id" json:"correlation_id"`
	CreatedAt       time.Time              `bson:"created_at" json:"created_at"`
	UpdatedAt       time.Time              `bson:"updated_at" json:"updated_at"`
	// Deadline after which a still-running assessment is closed as partial/failed.
	Deadline    time.Time `bson:"deadline" json:"deadline"`
	CompletedAt time.Time `bson:"completed_at,omitempty" json:"completed_at,omitempty"`
}

// Assessments repository.
type Assessments struct{}

// Create inserts a new assessment; ErrConflict if the id exists for the tenant.
func (r *Assessments) Create(ctx context.Context, a Assessment) error { panic("unimplemented") }

// Get returns one assessment of tenant; ErrNotFound for another tenant's id.
func (r *Assessments) Get(ctx context.Context, tenant, id string) (Assessment, error) {
	panic("unimplemented")
}

// ListOptions pages a tenant's assessments newest first.
type ListOptions struct {
	Limit  int    // 1..100
	Cursor string // opaque, from the previous page's NextCursor
}

// Page is one page of assessments.
type Page struct {
	Items      []Assessment
	NextCursor string // empty on the last page
}

// List returns a page of tenant's assessments, newest first.
func (r *Assessments) List(ctx context.Context, tenant string, opt ListOptions) (Page, error) {
	panic("unimplemented")
}

// MarkFamilyCompleted records that family finished (idempotent: a second call
// changes nothing) and moves a queued assessment to running. It returns the
// assessment after the update. A terminal assessment is returned unchanged.
func (r *Assessments) MarkFamilyCompleted(ctx context.Context, tenant, id, family, summary string, at time.Time) (Assessment, error) {
	panic("unimplemented")
}

// Finish moves a non-terminal assessment to a terminal status atomically. It
// returns (updated, true) when this call made the change and (current, false)
// when the assessment was already terminal, so exactly one caller publishes
// the completed event first (and a retry republishes with the same msg id).
func (r *Assessments) Finish(ctx context.Context, tenant, id, status string, missing []string, reason string, at time.Time) (Assessment, bool, error) {
	panic("unimplemented")
}

// Overdue lists non-terminal assessments of every tenant whose deadline is
// before now (the synthesizer's deadline sweeper, a system task).
func (r *Assessments) Overdue(ctx context.Context, now time.Time, limit int) ([]Assessment, error) {
	panic("unimplemented")
}

// Result is one family's stored result: Data holds the protojson of the
// AgentResultPublished. _id = DeterministicID(tenant, assessment, family).
type Result struct {
	ID           string    `bson:"_id" json:"id"`
	TenantID     string    `bson:"tenant_id" json:"tenant_id"`
	AssessmentID string    `bson:"assessment_id" json:"assessment_id"`
	Family       string    `bson:"family" json:"family"`
	Data         string    `bson:"data" json:"-"`
	ReceivedAt   time.Time `bson:"received_at" json:"received_at"`
}

// Results repository.
type Results struct{}

// Upsert stores a family's result, keyed by (tenant, assessment, family):
// a duplicate delivery overwrites with identical content, never adds a row.
func (r *Results) Upsert(ctx context.Context, res Result) error { panic("unimplemented") }

// List returns the stored results of one assessment of tenant.
func (r *Results) List(ctx context.Context, tenant, assessmentID string) ([]Result, error) {
	panic("unimplemented")
}

// Report is the synthesized report. Body is its JSON. _id = DeterministicID(tenant, assessment).
type Report struct {
	ID           string    `bson:"_id" json:"id"`
	TenantID     string    `bson:"tenant_id" json:"tenant_id"`
	AssessmentID string    `bson:"assessment_id" json:"assessment_id"`
	Status       string    `bson:"status" json:"status"`
	Body         string    `bson:"body" json:"-"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
}

// Reports repository.
type Reports struct{}

// Upsert stores the report of an assessment (idempotent).
func (r *Reports) Upsert(ctx context.Context, rep Report) error { panic("unimplemented") }

// Get returns the report of one assessment of tenant.
func (r *Reports) Get(ctx context.Context, tenant, assessmentID string) (Report, error) {
	panic("unimplemented")
}
