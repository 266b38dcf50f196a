package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infra-mind/infra-mind/pkg/audit"
)

// CollAudit holds the audit log, one document per record.
const CollAudit = "audit"

// AuditLog is the append-only audit repository. It has exactly two
// methods, Append (InsertOne) and List: there is no way to change or
// remove a record through it (a test checks the method set).
type AuditLog struct {
	coll *mongo.Collection
}

// Append inserts rec. A record whose id exists fails with ErrConflict
// (wrapping audit.ErrDuplicate) and the stored record stays as it was.
// Tenant may be empty: failed authentications belong to no verified tenant.
func (r *AuditLog) Append(ctx context.Context, rec audit.Record) error {
	if err := required("append audit record", "record id", rec.ID, "action", rec.Action, "actor", rec.Actor); err != nil {
		return err
	}
	rec.Time = orNow(rec.Time).UTC().Truncate(time.Millisecond)
	if _, err := r.coll.InsertOne(ctx, rec); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("store: append audit record %s: %w: %w", rec.ID, ErrConflict, audit.ErrDuplicate)
		}
		return wrap("append audit record "+rec.ID, err)
	}
	return nil
}

// AuditQuery filters and pages a tenant's audit log, newest first.
type AuditQuery struct {
	Action string    // exact action, empty for all
	Actor  string    // exact actor, empty for all
	From   time.Time // records at or after From; zero for no bound
	To     time.Time // records before To; zero for no bound
	Limit  int       // 1..MaxListLimit; 0 or less means DefaultListLimit
	Cursor string    // opaque, from the previous page's NextCursor
}

// AuditPage is one page of audit records.
type AuditPage struct {
	Items      []audit.Record
	NextCursor string // empty on the last page
}

// List returns a page of tenant's records, newest first by (time, id),
// keyset-paged like Assessments.List. A cursor List did not produce gives
// ErrBadCursor.
func (r *AuditLog) List(ctx context.Context, tenant string, q AuditQuery) (AuditPage, error) {
	if err := required("list audit records", "tenant", tenant); err != nil {
		return AuditPage{}, err
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	filter := bson.D{{Key: "tenant_id", Value: tenant}}
	if q.Action != "" {
		filter = append(filter, bson.E{Key: "action", Value: q.Action})
	}
	if q.Actor != "" {
		filter = append(filter, bson.E{Key: "actor", Value: q.Actor})
	}
	window := bson.D{}
	if !q.From.IsZero() {
		window = append(window, bson.E{Key: "$gte", Value: q.From.UTC()})
	}
	if !q.To.IsZero() {
		window = append(window, bson.E{Key: "$lt", Value: q.To.UTC()})
	}
	if len(window) > 0 {
		filter = append(filter, bson.E{Key: "time", Value: window})
	}
	if q.Cursor != "" {
		at, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return AuditPage{}, fmt.Errorf("store: list audit records: %w", err)
		}
		// Strictly after (at, id) in (time desc, _id desc) order.
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "time", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}})
	}
	// One extra document tells whether a next page exists without a count.
	fo := options.Find().
		SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit + 1))
	cur, err := r.coll.Find(ctx, filter, fo)
	if err != nil {
		return AuditPage{}, wrap("list audit records", err)
	}
	var items []audit.Record
	if err := cur.All(ctx, &items); err != nil {
		return AuditPage{}, wrap("list audit records", err)
	}
	page := AuditPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = encodeCursor(last.Time, last.ID)
	}
	if page.Items == nil {
		page.Items = []audit.Record{}
	}
	for i := range page.Items {
		page.Items[i].Time = page.Items[i].Time.UTC()
	}
	return page, nil
}
