package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// Erased counts the documents an erasure removed, by collection.
type Erased map[string]int64

// Total is the number of documents removed.
func (e Erased) Total() int64 {
	var n int64
	for _, v := range e {
		n += v
	}
	return n
}

// EraseDerived removes every document the system derived from tenant's
// assessment id: its report, recommendations, narratives, users' chats about
// it, the family results
// and the finish and announcement claims older deployments wrote, and the
// delivery log records of the given events (the assessment's events, whose
// ids the caller collects), and the read model's copies of the report and
// recommendations. The assessment document itself stays: Delete removes it
// (and its read model copy) last, so an erasure that stopped half way is found and finished
// by a retry. Removing what is already gone is not an error.
func (s *Store) EraseDerived(ctx context.Context, tenant, id string, eventIDs []string) (Erased, error) {
	if err := required("erase assessment", "tenant", tenant, "assessment id", id); err != nil {
		return nil, err
	}
	out := Erased{}
	byKeys := []struct {
		coll *mongo.Collection
		name string
		keys []string
	}{
		{s.Reports.coll, CollReports, []string{ReportID(tenant, id)}},
		{s.Recommendations.coll, CollRecommendations, []string{RecommendationsID(tenant, id)}},
		{s.Assessments.finishes, CollFinishes, []string{FinishID(tenant, id)}},
		{s.Assessments.announcements, CollAnnouncements, []string{AnnouncementID(tenant, id)}},
		{s.Results.coll, CollResults, resultKeys(tenant, id)},
	}
	for _, c := range byKeys {
		// One delete by primary key each: FerretDB evaluates a filter on _id
		// alone without decoding the table in Go (see byKey).
		for _, k := range c.keys {
			res, err := c.coll.DeleteOne(ctx, byKey(k))
			if err != nil {
				return out, wrap("erase "+c.name+" of "+id, err)
			}
			out[c.name] += res.DeletedCount
		}
	}
	res, err := s.Narratives.coll.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenant}, {Key: "assessment_id", Value: id}})
	if err != nil {
		return out, wrap("erase narratives of "+id, err)
	}
	out[CollNarratives] += res.DeletedCount
	// Users' chats about the assessment quote its figures: they go with it.
	res, err = s.Conversations.coll.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenant}, {Key: "assessment_id", Value: id}})
	if err != nil {
		return out, wrap("erase conversations about "+id, err)
	}
	out[CollConversations] += res.DeletedCount
	if s.views != nil {
		n, err := s.views.rm.EraseOutputs(ctx, tenant, id)
		if err != nil {
			return out, wrap("erase the read model's copies of "+id, err)
		}
		out[readModelCopies] += int64(n)
	}
	if len(eventIDs) > 0 {
		res, err := s.Webhooks.deliveries.DeleteMany(ctx, bson.D{
			{Key: "tenant_id", Value: tenant},
			{Key: "event_id", Value: bson.D{{Key: "$in", Value: eventIDs}}},
		})
		if err != nil {
			return out, wrap("erase webhook deliveries of "+id, err)
		}
		out[CollDeliveries] += res.DeletedCount
	}
	return out, nil
}

// readModelCopies names the read model's copies in Erased.
const readModelCopies = "read_model"

// resultKeys are the primary keys of an assessment's family results.
func resultKeys(tenant, id string) []string {
	out := make([]string, 0, len(assessment.Families()))
	for _, f := range assessment.Families() {
		out = append(out, ResultID(tenant, id, string(f)))
	}
	return out
}

// DeliveryIDs returns the ids of the deliveries of the given events of
// tenant: those in the delivery log, and those the tenant's current
// webhooks would have (a delivery's state can be written before its log
// record). The webhook dispatcher keeps each delivery's state under its id.
func (r *Webhooks) DeliveryIDs(ctx context.Context, tenant string, eventIDs []string) ([]string, error) {
	if err := required("list delivery ids", "tenant", tenant); err != nil {
		return nil, err
	}
	if len(eventIDs) == 0 {
		return []string{}, nil
	}
	seen := map[string]bool{}
	out := []string{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	cur, err := r.deliveries.Find(ctx, bson.D{
		{Key: "tenant_id", Value: tenant},
		{Key: "event_id", Value: bson.D{{Key: "$in", Value: eventIDs}}},
	})
	if err != nil {
		return nil, wrap("list deliveries of events", err)
	}
	var logged []Delivery
	if err := cur.All(ctx, &logged); err != nil {
		return nil, wrap("list deliveries of events", err)
	}
	for _, d := range logged {
		add(d.ID)
	}
	hooks, err := r.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		for _, e := range eventIDs {
			add(DeliveryID(tenant, h.ID, e))
		}
	}
	return out, nil
}

// Delete removes tenant's assessment document; ErrNotFound when there is
// none (another tenant's id included). EraseDerived removes what was derived
// from it; call it first.
func (r *Assessments) Delete(ctx context.Context, tenant, id string) error {
	if err := required("delete assessment", "tenant", tenant, "assessment id", id); err != nil {
		return err
	}
	defer r.locks.lock(id)()
	// The key carries the tenant, so another tenant's id matches nothing.
	res, err := r.coll.DeleteOne(ctx, byKey(AssessmentKey(tenant, id)))
	if err != nil {
		return wrap("delete assessment "+id, err)
	}
	// After the document, so a retry of a Delete that stopped in between
	// still finds the assessment through the read model; and whether or
	// not the document was there, so that retry leaves no copy behind.
	if r.views != nil {
		if _, err := r.views.rm.EraseAssessment(ctx, tenant, id); err != nil {
			return wrap("erase the read model's copy of "+id, err)
		}
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("store: delete assessment %s: %w", id, ErrNotFound)
	}
	return nil
}
