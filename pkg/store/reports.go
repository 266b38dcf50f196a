package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// Report is the synthesized report. Body is its JSON. _id = DeterministicID(tenant, assessment).
type Report struct {
	ID           string    `bson:"_id" json:"id"`
	TenantID     string    `bson:"tenant_id" json:"tenant_id"`
	AssessmentID string    `bson:"assessment_id" json:"assessment_id"`
	Status       string    `bson:"status" json:"status"`
	Body         string    `bson:"body" json:"-"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
}

// ReportID is the _id of an assessment's report: assessment.DeterministicID(tenant, assessmentID).
func ReportID(tenant, assessmentID string) string {
	return assessment.DeterministicID(tenant, assessmentID)
}

// Reports repository.
type Reports struct {
	coll *mongo.Collection
}

// Upsert stores the report of an assessment (idempotent). An empty ID is
// filled with ReportID; any other ID than ReportID is refused (ErrInvalid),
// since Get reads the report by that id.
func (r *Reports) Upsert(ctx context.Context, rep Report) error {
	if err := required("upsert report", "tenant", rep.TenantID, "assessment id", rep.AssessmentID); err != nil {
		return err
	}
	want := ReportID(rep.TenantID, rep.AssessmentID)
	if rep.ID == "" {
		rep.ID = want
	}
	if rep.ID != want {
		return fmt.Errorf("store: upsert report: %w: id %q is not ReportID(tenant, assessment)", ErrInvalid, rep.ID)
	}
	rep.CreatedAt = orNow(rep.CreatedAt)
	if err := replaceUpsert(ctx, r.coll, byKey(rep.ID), rep); err != nil {
		return wrap("upsert report of "+rep.AssessmentID, err)
	}
	return nil
}

// Create stores the report of an assessment unless one is written, in which
// case it returns ErrConflict and leaves it as it is: a written report is
// final. It is one insert, which FerretDB on PostgreSQL checks against its
// primary-key index without reading the table, where a read or an upsert
// scans it (ADR 0021).
func (r *Reports) Create(ctx context.Context, rep Report) error {
	if err := required("create report", "tenant", rep.TenantID, "assessment id", rep.AssessmentID); err != nil {
		return err
	}
	want := ReportID(rep.TenantID, rep.AssessmentID)
	if rep.ID == "" {
		rep.ID = want
	}
	if rep.ID != want {
		return fmt.Errorf("store: create report: %w: id %q is not ReportID(tenant, assessment)", ErrInvalid, rep.ID)
	}
	rep.CreatedAt = orNow(rep.CreatedAt)
	if _, err := r.coll.InsertOne(ctx, rep); err != nil {
		return wrap("create report of "+rep.AssessmentID, err)
	}
	return nil
}

// Get returns the report of one assessment of tenant, read by its id.
func (r *Reports) Get(ctx context.Context, tenant, assessmentID string) (Report, error) {
	if err := required("get report", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Report{}, err
	}
	var rep Report
	if err := findByKey(ctx, r.coll, tenant, ReportID(tenant, assessmentID), &rep, func() string { return rep.TenantID }); err != nil {
		return Report{}, wrap("get report of "+assessmentID, err)
	}
	return rep, nil
}
