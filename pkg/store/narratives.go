package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// Narrative is the consultant's narrative of one assessment for one
// audience. Body is its JSON (report.Narrative). _id = NarrativeID(tenant,
// assessment, audience), so a repeated event rewrites the same document.
type Narrative struct {
	ID           string `bson:"_id" json:"id"`
	TenantID     string `bson:"tenant_id" json:"tenant_id"`
	AssessmentID string `bson:"assessment_id" json:"assessment_id"`
	// Audience is cto, cfo or engineer.
	Audience  string    `bson:"audience" json:"audience"`
	Body      string    `bson:"body" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// NarrativeID is the _id of an assessment's narrative for an audience.
func NarrativeID(tenant, assessmentID, audience string) string {
	return assessment.DeterministicID(tenant, assessmentID, "narrative", audience)
}

// Narratives repository.
type Narratives struct {
	coll *mongo.Collection
}

// Upsert stores a narrative (idempotent). An empty ID is filled with
// NarrativeID; any other is refused (ErrInvalid), since Get reads by it.
func (r *Narratives) Upsert(ctx context.Context, n Narrative) error {
	if err := required("upsert narrative", "tenant", n.TenantID, "assessment id", n.AssessmentID, "audience", n.Audience); err != nil {
		return err
	}
	want := NarrativeID(n.TenantID, n.AssessmentID, n.Audience)
	if n.ID == "" {
		n.ID = want
	}
	if n.ID != want {
		return fmt.Errorf("store: upsert narrative: %w: id %q is not NarrativeID(tenant, assessment, audience)", ErrInvalid, n.ID)
	}
	n.CreatedAt = orNow(n.CreatedAt)
	if err := replaceUpsert(ctx, r.coll, byKey(n.ID), n); err != nil {
		return wrap("upsert narrative of "+n.AssessmentID, err)
	}
	return nil
}

// Get returns tenant's narrative of an assessment for an audience, read by its id.
func (r *Narratives) Get(ctx context.Context, tenant, assessmentID, audience string) (Narrative, error) {
	if err := required("get narrative", "tenant", tenant, "assessment id", assessmentID, "audience", audience); err != nil {
		return Narrative{}, err
	}
	var n Narrative
	if err := findByKey(ctx, r.coll, tenant, NarrativeID(tenant, assessmentID, audience), &n, func() string { return n.TenantID }); err != nil {
		return Narrative{}, wrap("get narrative of "+assessmentID, err)
	}
	return n, nil
}

// List returns tenant's narratives of an assessment, one per audience
// written, in one query: a report read wants every audience's, and one
// filtered find costs FerretDB one table read where a Get per audience costs
// one each. Order is unspecified.
func (r *Narratives) List(ctx context.Context, tenant, assessmentID string) ([]Narrative, error) {
	if err := required("list narratives", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return nil, err
	}
	cur, err := r.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenant}, {Key: "assessment_id", Value: assessmentID}})
	if err != nil {
		return nil, wrap("list narratives of "+assessmentID, err)
	}
	var out []Narrative
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list narratives of "+assessmentID, err)
	}
	return out, nil
}
