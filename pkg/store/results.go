package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

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

// ResultID is the _id of a family's result: assessment.DeterministicID(tenant, assessmentID, family).
func ResultID(tenant, assessmentID, family string) string {
	return assessment.DeterministicID(tenant, assessmentID, family)
}

// Results repository.
type Results struct {
	coll *mongo.Collection
}

// Upsert stores a family's result, keyed by (tenant, assessment, family):
// a duplicate delivery overwrites with identical content, never adds a row.
// An empty ID is filled with ResultID; any other ID than ResultID is refused
// (ErrInvalid), because the deterministic id is what makes upserts idempotent.
func (r *Results) Upsert(ctx context.Context, res Result) error {
	if err := required("upsert result", "tenant", res.TenantID, "assessment id", res.AssessmentID, "family", res.Family); err != nil {
		return err
	}
	want := ResultID(res.TenantID, res.AssessmentID, res.Family)
	if res.ID == "" {
		res.ID = want
	}
	if res.ID != want {
		return fmt.Errorf("store: upsert result: %w: id %q is not ResultID(tenant, assessment, family)", ErrInvalid, res.ID)
	}
	res.ReceivedAt = orNow(res.ReceivedAt)
	if err := replaceUpsert(ctx, r.coll, byKey(res.ID), res); err != nil {
		return wrap("upsert result "+res.Family+" of "+res.AssessmentID, err)
	}
	return nil
}

// List returns the stored results of one assessment of tenant, sorted by
// family name. It reads each family's result by its key: on FerretDB's
// SQLite backend a key lookup is evaluated inside SQLite, while a filter on
// other fields decodes every document of the collection in FerretDB, which
// made a single query several times slower here (BenchmarkAssessmentLatency);
// on MongoDB both are index reads.
func (r *Results) List(ctx context.Context, tenant, assessmentID string) ([]Result, error) {
	if err := required("list results", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return nil, err
	}
	out := []Result{}
	for _, f := range assessment.Families() {
		var res Result
		err := findByKey(ctx, r.coll, tenant, ResultID(tenant, assessmentID, string(f)), &res, func() string { return res.TenantID })
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, wrap("list results of "+assessmentID, err)
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Family < out[j].Family })
	return out, nil
}
