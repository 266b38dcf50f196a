package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/recommend"
)

// Recommendations is an assessment's whole ranked list, kept in one document
// so the gateway serves any page of it from a single read by key, however long
// the list is. _id = RecommendationsID(tenant, assessment).
type Recommendations struct {
	ID           string        `bson:"_id" json:"id"`
	TenantID     string        `bson:"tenant_id" json:"tenant_id"`
	AssessmentID string        `bson:"assessment_id" json:"assessment_id"`
	Status       string        `bson:"status" json:"status"`
	Set          recommend.Set `bson:"set" json:"set"`
	CreatedAt    time.Time     `bson:"created_at" json:"created_at"`
}

// RecommendationsID is the _id of an assessment's recommendations:
// assessment.DeterministicID(tenant, assessmentID, "recommendations"), so it is
// tenant-scoped by construction (docs/adr/0005) and differs from ReportID.
func RecommendationsID(tenant, assessmentID string) string {
	return assessment.DeterministicID(tenant, assessmentID, "recommendations")
}

// RecommendationsRepo stores one recommendations document per assessment.
type RecommendationsRepo struct {
	coll *mongo.Collection
	// views is the read model (nil: none); see Store.UseReadModel.
	views *views
}

// Upsert stores the recommendations of an assessment (idempotent: the same
// set under the same key). An empty ID is filled with RecommendationsID; any
// other ID is refused (ErrInvalid), since Get reads by that id.
func (r *RecommendationsRepo) Upsert(ctx context.Context, rec Recommendations) error {
	if err := required("upsert recommendations", "tenant", rec.TenantID, "assessment id", rec.AssessmentID); err != nil {
		return err
	}
	want := RecommendationsID(rec.TenantID, rec.AssessmentID)
	if rec.ID == "" {
		rec.ID = want
	}
	if rec.ID != want {
		return fmt.Errorf("store: upsert recommendations: %w: id %q is not RecommendationsID(tenant, assessment)", ErrInvalid, rec.ID)
	}
	rec.CreatedAt = orNow(rec.CreatedAt).UTC().Truncate(time.Millisecond)
	if err := replaceUpsert(ctx, r.coll, byKey(rec.ID), rec); err != nil {
		return wrap("upsert recommendations of "+rec.AssessmentID, err)
	}
	return r.views.putRecommendations(ctx, rec, true)
}

// Create stores the recommendations of an assessment unless some are
// written, in which case it returns ErrConflict and leaves them as they are
// (one insert; see Reports.Create).
func (r *RecommendationsRepo) Create(ctx context.Context, rec Recommendations) error {
	if err := required("create recommendations", "tenant", rec.TenantID, "assessment id", rec.AssessmentID); err != nil {
		return err
	}
	want := RecommendationsID(rec.TenantID, rec.AssessmentID)
	if rec.ID == "" {
		rec.ID = want
	}
	if rec.ID != want {
		return fmt.Errorf("store: create recommendations: %w: id %q is not RecommendationsID(tenant, assessment)", ErrInvalid, rec.ID)
	}
	rec.CreatedAt = orNow(rec.CreatedAt).UTC().Truncate(time.Millisecond)
	if _, err := r.coll.InsertOne(ctx, rec); err != nil {
		err = wrap("create recommendations of "+rec.AssessmentID, err)
		if errors.Is(err, ErrConflict) && r.views != nil {
			// A retry: the first call may have stopped before its copy.
			r.views.repair(ctx, "recommendations", rec.AssessmentID,
				func() (bool, error) {
					_, found, err := r.views.rm.GetRecommendations(ctx, rec.TenantID, rec.AssessmentID)
					return found, err
				},
				func() error {
					var cur Recommendations
					if err := findByKey(ctx, r.coll, rec.TenantID, rec.ID, &cur, func() string { return cur.TenantID }); err != nil {
						return err
					}
					return r.views.rm.PutRecommendations(ctx, cur, false)
				})
		}
		return err
	}
	return r.views.putRecommendations(ctx, rec, false)
}

// Get returns the recommendations of one assessment of tenant, read by key
// alone (one round trip); ErrNotFound when none are written yet or the
// assessment is another tenant's.
func (r *RecommendationsRepo) Get(ctx context.Context, tenant, assessmentID string) (Recommendations, error) {
	if err := required("get recommendations", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Recommendations{}, err
	}
	if r.views != nil {
		rec, found, err := r.views.rm.GetRecommendations(ctx, tenant, assessmentID)
		switch {
		case err != nil:
			r.views.log.WarnContext(ctx, "read model read failed; reading the document store",
				"assessment_id", assessmentID, "error", err.Error())
		case found && rec.TenantID == tenant:
			return rec, nil
		case r.views.authoritative(ctx):
			return Recommendations{}, wrap("get recommendations of "+assessmentID, ErrNotFound)
		}
	}
	var rec Recommendations
	if err := findByKey(ctx, r.coll, tenant, RecommendationsID(tenant, assessmentID), &rec, func() string { return rec.TenantID }); err != nil {
		return Recommendations{}, wrap("get recommendations of "+assessmentID, err)
	}
	if r.views != nil {
		r.views.backfill(ctx, "recommendations", assessmentID, func() error { return r.views.rm.PutRecommendations(ctx, rec, false) })
	}
	return rec, nil
}

// MarshalRecommendations is recommendations' stored form (BSON), for a
// read model to keep and for benchmarks.
func MarshalRecommendations(rec Recommendations) ([]byte, error) {
	b, err := bson.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode recommendations of %s: %w", rec.AssessmentID, err)
	}
	return b, nil
}
