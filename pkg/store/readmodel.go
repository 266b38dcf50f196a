package store

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// ReadModel keeps a copy of what people read (assessments, reports,
// recommendations) where a read by key and a page of a tenant's list cost
// the same however many assessments are stored. FerretDB v1.24.2 on
// PostgreSQL serves every filtered read, a lone _id included, with a
// sequential scan (ADR 0021, ADR 0030); package readmodel is the real one,
// on a JetStream key-value bucket.
//
// The repositories write the document store first and then the read model,
// so a write the read model missed (a crash between the two) is repaired by
// the retry that at-least-once delivery brings, or by the next read that
// falls back to the store. Every key carries the tenant: a read never
// crosses tenants, whatever the id.
type ReadModel interface {
	// GetAssessment returns tenant's assessment id, if the read model has it.
	GetAssessment(ctx context.Context, tenant, id string) (Assessment, bool, error)
	// PutAssessment merges a into the stored copy (MergeAssessment), so
	// writes arriving in any order, or twice, leave the latest state; the
	// first put of an assessment also indexes it for ListAssessments and
	// Children.
	PutAssessment(ctx context.Context, a Assessment) error
	// ListAssessments returns the positions of up to limit of tenant's
	// assessments newest first by (created_at, id), starting after before
	// when it is not nil.
	ListAssessments(ctx context.Context, tenant string, before *ListPosition, limit int) ([]ListPosition, error)
	// Children returns the positions of tenant's child assessments of
	// parentID of kind, oldest first.
	Children(ctx context.Context, tenant, parentID, kind string) ([]ListPosition, error)
	// GetReport and GetRecommendations return what the read model holds.
	GetReport(ctx context.Context, tenant, assessmentID string) (Report, bool, error)
	GetRecommendations(ctx context.Context, tenant, assessmentID string) (Recommendations, bool, error)
	// PutReport and PutRecommendations store a copy of tenant's document of
	// assessmentID in its stored form (MarshalReport, MarshalRecommendations:
	// the bytes the store has just encoded); with replace false an existing
	// copy is kept (a written report is final).
	PutReport(ctx context.Context, tenant, assessmentID string, stored []byte, replace bool) error
	PutRecommendations(ctx context.Context, tenant, assessmentID string, stored []byte, replace bool) error
	// EraseOutputs removes the copies of an assessment's report and
	// recommendations, and EraseAssessment the assessment's own copy with
	// its list and child keys (the right to erasure, docs/adr/0032); each
	// returns how many keys it removed, and removing what is gone is not an
	// error.
	EraseOutputs(ctx context.Context, tenant, id string) (int, error)
	EraseAssessment(ctx context.Context, tenant, id string) (int, error)
	// Complete says every document stored before the read model existed
	// has been copied into it (package readmodel's Backfill): from then on
	// what the read model lacks does not exist, and a read of a missing id
	// costs the document store nothing.
	Complete(ctx context.Context) (bool, error)
}

// ListPosition is where a page of a tenant's list starts: after the
// assessment created at At with id ID.
type ListPosition struct {
	At time.Time
	ID string
}

// UseReadModel makes the repositories keep rm up to date on every write
// and read from it first. Call it once, before the store is used.
// Reads that rm does not answer fall back to the document store and copy
// what they find into rm.
func (s *Store) UseReadModel(rm ReadModel, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &views{rm: rm, log: log}
	s.Assessments.views = v
	s.Reports.views = v
	s.Recommendations.views = v
	s.views = v
	return s
}

// views is the read model as the repositories use it; nil means none.
type views struct {
	rm       ReadModel
	log      *slog.Logger
	complete atomic.Bool
}

// authoritative says a read model miss means the document does not exist.
func (v *views) authoritative(ctx context.Context) bool {
	if v.complete.Load() {
		return true
	}
	ok, err := v.rm.Complete(ctx)
	if err != nil {
		v.log.WarnContext(ctx, "read model state unknown; reading the document store", slog.String("error", err.Error()))
		return false
	}
	if ok {
		v.complete.Store(true)
	}
	return ok
}

// statusRank orders statuses the way an assessment moves through them.
func statusRank(s string) int {
	switch {
	case s == string(assessment.StatusQueued) || s == "":
		return 0
	case s == string(assessment.StatusRunning):
		return 1
	case assessment.Status(s).Terminal():
		return 2
	default:
		return 0
	}
}

// MergeAssessment joins two copies of one assessment into the state that
// includes both: every write the store makes only moves an assessment
// forward (a family pending to completed, queued to running to one
// terminal status, a later deadline and update time), so the join of any
// set of its states, in any order, is the latest one. The terminal fields
// come from the terminal copy; immutable fields from cur when it has them.
func MergeAssessment(cur, next Assessment) Assessment {
	out := cur
	if out.ID == "" {
		return next
	}
	switch rc, rn := statusRank(cur.Status), statusRank(next.Status); {
	case rn > rc:
		out.Status = next.Status
		out.CompletedAt, out.MissingFamilies, out.Reason = next.CompletedAt, next.MissingFamilies, next.Reason
	case rn == rc && rn == 2 && cur.CompletedAt.IsZero() && !next.CompletedAt.IsZero():
		out.Status = next.Status
		out.CompletedAt, out.MissingFamilies, out.Reason = next.CompletedAt, next.MissingFamilies, next.Reason
	}
	fams := make(map[string]FamilyState, max(len(cur.Families), len(next.Families)))
	for k, v := range cur.Families {
		fams[k] = v
	}
	for k, v := range next.Families {
		c, ok := fams[k]
		if !ok || (c.Status != FamilyCompleted && v.Status == FamilyCompleted) {
			fams[k] = v
		}
	}
	out.Families = fams
	if next.UpdatedAt.After(out.UpdatedAt) {
		out.UpdatedAt = next.UpdatedAt
	}
	if next.Deadline.After(out.Deadline) {
		out.Deadline = next.Deadline
	}
	return out
}

// putAssessment copies a into the read model. A failure is returned: the
// caller's write then reports an error, and its retry (at-least-once)
// writes the copy again.
func (v *views) putAssessment(ctx context.Context, a Assessment) error {
	if v == nil {
		return nil
	}
	if err := v.rm.PutAssessment(ctx, a); err != nil {
		return wrap("copy assessment "+a.ID+" to the read model", err)
	}
	return nil
}

// backfill copies what a read found only in the document store into the
// read model; a failure is logged, since the read itself succeeded.
func (v *views) backfill(ctx context.Context, what, id string, put func() error) {
	if err := put(); err != nil && !errors.Is(err, context.Canceled) {
		v.log.WarnContext(ctx, "read model backfill failed", slog.String("what", what),
			slog.String("assessment_id", id), slog.String("error", err.Error()))
	}
}

// putReport copies a written report into the read model.
func (v *views) putReport(ctx context.Context, tenant, assessmentID string, stored []byte, replace bool) error {
	if v == nil {
		return nil
	}
	if err := v.rm.PutReport(ctx, tenant, assessmentID, stored, replace); err != nil {
		return wrap("copy the report of "+assessmentID+" to the read model", err)
	}
	return nil
}

// putRecommendations copies written recommendations into the read model.
func (v *views) putRecommendations(ctx context.Context, tenant, assessmentID string, stored []byte, replace bool) error {
	if v == nil {
		return nil
	}
	if err := v.rm.PutRecommendations(ctx, tenant, assessmentID, stored, replace); err != nil {
		return wrap("copy the recommendations of "+assessmentID+" to the read model", err)
	}
	return nil
}

// repair copies a document a write found already stored into the read
// model when the read model lacks it: the write is a retry of one that
// stopped between the store and the read model. Reading the stored copy
// costs a table read on FerretDB, but only on this path. Failures are
// logged; the caller's own error (a conflict) stands.
func (v *views) repair(ctx context.Context, what, id string, has func() (bool, error), put func() error) {
	found, err := has()
	if err == nil && found {
		return
	}
	if err == nil {
		err = put()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		v.log.WarnContext(ctx, "read model repair failed", slog.String("what", what),
			slog.String("assessment_id", id), slog.String("error", err.Error()))
	}
}
