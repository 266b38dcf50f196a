package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
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
	// views is the read model (nil: none); see Store.UseReadModel.
	views *views
}

// reportDoc is a report as stored: its body compressed. A report's JSON
// repeats each figure's source and formula across the families' metrics
// and the sections built from them; compressed it is about a twelfth of the
// size (ADR 0030, ADR 0057), and readers get the same bytes back. Reports
// written before compression keep their plain body.
type reportDoc struct {
	ID           string `bson:"_id"`
	TenantID     string `bson:"tenant_id"`
	AssessmentID string `bson:"assessment_id"`
	Status       string `bson:"status"`
	Body         string `bson:"body,omitempty"`
	// BodyPacked is the compressed body: Zstandard since ADR 0057, gzip
	// in reports written before, told apart by their magic numbers
	// (expand). The field keeps its first name, so a reader from before
	// Zstandard fails on the frame ("gzip: invalid header") instead of
	// finding no compressed body and serving an empty report.
	BodyPacked []byte    `bson:"body_gzip,omitempty"`
	CreatedAt  time.Time `bson:"created_at"`
}

// toDoc compresses a report's body for storage.
func toDoc(rep Report) reportDoc {
	return reportDoc{ID: rep.ID, TenantID: rep.TenantID, AssessmentID: rep.AssessmentID, Status: rep.Status,
		BodyPacked: compress([]byte(rep.Body)), CreatedAt: rep.CreatedAt}
}

// encode is d's stored form (BSON), as MarshalReport writes it.
func (d reportDoc) encode() ([]byte, error) {
	b, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode report of %s: %w", d.AssessmentID, err)
	}
	return b, nil
}

// storedForm is a stored document's form as MarshalReport writes it, for
// the read model, reusing its compressed body; a body stored before
// compression is compressed now.
func (d reportDoc) storedForm() ([]byte, error) {
	if d.BodyPacked == nil {
		rep, err := d.report()
		if err != nil {
			return nil, err
		}
		return MarshalReport(rep)
	}
	d.Body = ""
	return d.encode()
}

// report expands a stored report.
func (d reportDoc) report() (Report, error) {
	rep := Report{ID: d.ID, TenantID: d.TenantID, AssessmentID: d.AssessmentID, Status: d.Status, Body: d.Body, CreatedAt: d.CreatedAt}
	if d.BodyPacked == nil {
		return rep, nil
	}
	b, err := expand(d.BodyPacked)
	if err != nil {
		return Report{}, fmt.Errorf("expand report of %s: %w", d.AssessmentID, err)
	}
	rep.Body = string(b)
	return rep, nil
}

// MarshalReport is a report's stored form (BSON, body compressed), for a
// read model to keep.
func MarshalReport(rep Report) ([]byte, error) {
	return toDoc(rep).encode()
}

// UnmarshalReport reverses MarshalReport; it also reads a report document
// as the store holds it.
func UnmarshalReport(b []byte) (Report, error) {
	var d reportDoc
	if err := bson.Unmarshal(b, &d); err != nil {
		return Report{}, fmt.Errorf("decode stored report: %w", err)
	}
	return d.report()
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
	rep.CreatedAt = orNow(rep.CreatedAt).UTC().Truncate(time.Millisecond)
	doc := toDoc(rep)
	if err := replaceUpsert(ctx, r.coll, byKey(rep.ID), doc); err != nil {
		return wrap("upsert report of "+rep.AssessmentID, err)
	}
	if r.views == nil {
		return nil
	}
	stored, err := doc.encode()
	if err != nil {
		return err
	}
	return r.views.putReport(ctx, rep.TenantID, rep.AssessmentID, stored, true)
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
	rep.CreatedAt = orNow(rep.CreatedAt).UTC().Truncate(time.Millisecond)
	doc := toDoc(rep)
	stored, err := doc.encode()
	if err != nil {
		return err
	}
	if _, err := r.coll.InsertOne(ctx, bson.Raw(stored)); err != nil {
		err = wrap("create report of "+rep.AssessmentID, err)
		if errors.Is(err, ErrConflict) && r.views != nil {
			// A retry: the first call may have stopped before its copy.
			r.views.repair(ctx, "report", rep.AssessmentID,
				func() (bool, error) {
					_, found, err := r.views.rm.GetReport(ctx, rep.TenantID, rep.AssessmentID)
					return found, err
				},
				func() error {
					var cur reportDoc
					if err := findByKey(ctx, r.coll, rep.TenantID, rep.ID, &cur, func() string { return cur.TenantID }); err != nil {
						return err
					}
					b, err := cur.storedForm()
					if err != nil {
						return err
					}
					return r.views.rm.PutReport(ctx, rep.TenantID, rep.AssessmentID, b, false)
				})
		}
		return err
	}
	return r.views.putReport(ctx, rep.TenantID, rep.AssessmentID, stored, false)
}

// Get returns the report of one assessment of tenant, read by its id.
func (r *Reports) Get(ctx context.Context, tenant, assessmentID string) (Report, error) {
	if err := required("get report", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Report{}, err
	}
	if r.views != nil {
		rep, found, err := r.views.rm.GetReport(ctx, tenant, assessmentID)
		switch {
		case err != nil:
			r.views.log.WarnContext(ctx, "read model read failed; reading the document store",
				"assessment_id", assessmentID, "error", err.Error())
		case found && rep.TenantID == tenant:
			return rep, nil
		case r.views.authoritative(ctx):
			return Report{}, wrap("get report of "+assessmentID, ErrNotFound)
		}
	}
	var doc reportDoc
	if err := findByKey(ctx, r.coll, tenant, ReportID(tenant, assessmentID), &doc, func() string { return doc.TenantID }); err != nil {
		return Report{}, wrap("get report of "+assessmentID, err)
	}
	rep, err := doc.report()
	if err != nil {
		return Report{}, wrap("get report of "+assessmentID, err)
	}
	if r.views != nil {
		r.views.backfill(ctx, "report", assessmentID, func() error {
			b, err := doc.storedForm()
			if err != nil {
				return err
			}
			return r.views.rm.PutReport(ctx, tenant, assessmentID, b, false)
		})
	}
	return rep, nil
}
