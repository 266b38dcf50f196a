package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

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

// recommendationsDoc is recommendations as stored: the set's BSON
// compressed in the set field, as binary (Zstandard since ADR 0057, gzip
// before; expand reads both). A set repeats each figure's name, formula and
// source in every recommendation quoting it: gzip stored it at about a
// sixth of the size (46,336 bytes of BSON to 7,500 for the chatbot example),
// and an insert on the embedded FerretDB costs by size, since FerretDB turns
// the document into JSON that SQLite parses again for the _id index
// (BenchmarkInsert, docs/adr/0054). Documents written before compression
// hold the set as an embedded document in the same field, and read as they
// did; a reader from before this form fails to decode the binary instead of
// reading an empty set.
type recommendationsDoc struct {
	ID           string        `bson:"_id"`
	TenantID     string        `bson:"tenant_id"`
	AssessmentID string        `bson:"assessment_id"`
	Status       string        `bson:"status"`
	Set          bson.RawValue `bson:"set"`
	CreatedAt    time.Time     `bson:"created_at"`
}

// toRecommendationsDoc compresses the set for storage.
func toRecommendationsDoc(rec Recommendations) (recommendationsDoc, error) {
	set, err := bson.Marshal(rec.Set)
	if err != nil {
		return recommendationsDoc{}, fmt.Errorf("encode recommendations of %s: %w", rec.AssessmentID, err)
	}
	return recommendationsDoc{ID: rec.ID, TenantID: rec.TenantID, AssessmentID: rec.AssessmentID, Status: rec.Status,
		Set: bson.RawValue{Type: bson.TypeBinary, Value: bsoncore.AppendBinary(nil, bson.TypeBinaryGeneric, compress(set))}, CreatedAt: rec.CreatedAt}, nil
}

// recommendations expands a stored document, in either form.
func (d recommendationsDoc) recommendations() (Recommendations, error) {
	rec := Recommendations{ID: d.ID, TenantID: d.TenantID, AssessmentID: d.AssessmentID, Status: d.Status, CreatedAt: d.CreatedAt}
	switch d.Set.Type {
	case bson.TypeEmbeddedDocument:
		if err := d.Set.Unmarshal(&rec.Set); err != nil {
			return Recommendations{}, fmt.Errorf("decode recommendations of %s: %w", d.AssessmentID, err)
		}
	case bson.TypeBinary:
		_, packed, ok := d.Set.BinaryOK()
		if !ok {
			return Recommendations{}, fmt.Errorf("decode recommendations of %s: malformed binary", d.AssessmentID)
		}
		set, err := expand(packed)
		if err != nil {
			return Recommendations{}, fmt.Errorf("expand recommendations of %s: %w", d.AssessmentID, err)
		}
		if err := bson.Unmarshal(set, &rec.Set); err != nil {
			return Recommendations{}, fmt.Errorf("decode recommendations of %s: %w", d.AssessmentID, err)
		}
	case 0, bson.TypeNull:
	default:
		return Recommendations{}, fmt.Errorf("decode recommendations of %s: set is %s", d.AssessmentID, d.Set.Type)
	}
	return rec, nil
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
	doc, err := toRecommendationsDoc(rec)
	if err != nil {
		return err
	}
	if err := replaceUpsert(ctx, r.coll, byKey(rec.ID), doc); err != nil {
		return wrap("upsert recommendations of "+rec.AssessmentID, err)
	}
	if r.views == nil {
		return nil
	}
	stored, err := bson.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode recommendations of %s: %w", rec.AssessmentID, err)
	}
	return r.views.putRecommendations(ctx, rec.TenantID, rec.AssessmentID, stored, true)
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
	stored, err := MarshalRecommendations(rec)
	if err != nil {
		return err
	}
	if _, err := r.coll.InsertOne(ctx, bson.Raw(stored)); err != nil {
		err = wrap("create recommendations of "+rec.AssessmentID, err)
		if errors.Is(err, ErrConflict) && r.views != nil {
			// A retry: the first call may have stopped before its copy.
			r.views.repair(ctx, "recommendations", rec.AssessmentID,
				func() (bool, error) {
					_, found, err := r.views.rm.GetRecommendations(ctx, rec.TenantID, rec.AssessmentID)
					return found, err
				},
				func() error {
					var cur recommendationsDoc
					if err := findByKey(ctx, r.coll, rec.TenantID, rec.ID, &cur, func() string { return cur.TenantID }); err != nil {
						return err
					}
					got, err := cur.recommendations()
					if err != nil {
						return err
					}
					b, err := MarshalRecommendations(got)
					if err != nil {
						return err
					}
					return r.views.rm.PutRecommendations(ctx, rec.TenantID, rec.AssessmentID, b, false)
				})
		}
		return err
	}
	return r.views.putRecommendations(ctx, rec.TenantID, rec.AssessmentID, stored, false)
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
	var doc recommendationsDoc
	if err := findByKey(ctx, r.coll, tenant, RecommendationsID(tenant, assessmentID), &doc, func() string { return doc.TenantID }); err != nil {
		return Recommendations{}, wrap("get recommendations of "+assessmentID, err)
	}
	rec, err := doc.recommendations()
	if err != nil {
		return Recommendations{}, wrap("get recommendations of "+assessmentID, err)
	}
	if r.views != nil {
		r.views.backfill(ctx, "recommendations", assessmentID, func() error {
			b, err := MarshalRecommendations(rec)
			if err != nil {
				return err
			}
			return r.views.rm.PutRecommendations(ctx, tenant, assessmentID, b, false)
		})
	}
	return rec, nil
}

// MarshalRecommendations is recommendations' stored form (BSON, the set
// compressed), for a read model to keep.
func MarshalRecommendations(rec Recommendations) ([]byte, error) {
	doc, err := toRecommendationsDoc(rec)
	if err != nil {
		return nil, err
	}
	b, err := bson.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode recommendations of %s: %w", rec.AssessmentID, err)
	}
	return b, nil
}

// UnmarshalRecommendations reverses MarshalRecommendations; it also reads
// recommendations stored before the set was compressed.
func UnmarshalRecommendations(b []byte) (Recommendations, error) {
	var d recommendationsDoc
	if err := bson.Unmarshal(b, &d); err != nil {
		return Recommendations{}, fmt.Errorf("decode stored recommendations: %w", err)
	}
	return d.recommendations()
}
