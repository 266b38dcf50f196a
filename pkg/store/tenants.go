package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Tenant is a customer organisation. Its document also carries tenant_id
// (equal to _id) so that every document and every filter has one.
type Tenant struct {
	ID        string    `bson:"_id" json:"id"`
	Name      string    `bson:"name" json:"name"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// Tenants repository.
type Tenants struct {
	coll *mongo.Collection
	// names holds a claim per TenantNameKey, so two ids that read alike
	// cannot both be created.
	names *mongo.Collection
}

// TenantNameKey is what a tenant id looks like to a person: lower case, '_'
// read as '-', and the ASCII confusables of Unicode TS #39 (Unicode Security
// Mechanisms, confusables.txt: "0" ~ "o", "1", "I" and "i" ~ "l", "5" ~ "s",
// "rn" ~ "m", "vv" ~ "w") folded. Two ids with one key are look-alikes
// ("acme-corp", "ACME_corp", "acrne-c0rp").
func TenantNameKey(id string) string {
	s := strings.ToLower(id)
	s = strings.NewReplacer("_", "-", "0", "o", "1", "l", "i", "l", "5", "s").Replace(s)
	return strings.NewReplacer("rn", "m", "vv", "w").Replace(s)
}

// ErrLookAlike is wrapped by Create when another tenant's id reads the same (TenantNameKey).
var ErrLookAlike = errors.New("tenant id looks like an existing one")

// Upsert creates or renames a tenant. CreatedAt is kept from the first
// insert (now when zero).
func (r *Tenants) Upsert(ctx context.Context, t Tenant) error {
	if err := required("upsert tenant", "tenant id", t.ID, "tenant name", t.Name); err != nil {
		return err
	}
	filter := byKey(t.ID)
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "name", Value: t.Name}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "tenant_id", Value: t.ID}, {Key: "created_at", Value: orNow(t.CreatedAt)}}},
	}
	opts := options.UpdateOne().SetUpsert(true)
	_, err := r.coll.UpdateOne(ctx, filter, update, opts)
	if mongo.IsDuplicateKeyError(err) {
		// A concurrent first upsert inserted it; see replaceUpsert.
		_, err = r.coll.UpdateOne(ctx, filter, update, opts)
	}
	if err != nil {
		return wrap("upsert tenant "+t.ID, err)
	}
	return nil
}

// Get returns a tenant by id.
func (r *Tenants) Get(ctx context.Context, id string) (Tenant, error) {
	if err := required("get tenant", "tenant id", id); err != nil {
		return Tenant{}, err
	}
	var t Tenant
	if err := findByKey(ctx, r.coll, id, id, &t, func() string { return t.ID }); err != nil {
		return Tenant{}, wrap("get tenant "+id, err)
	}
	return t, nil
}

// Create inserts a new tenant; ErrConflict if its id exists. The insert on
// _id is atomic on MongoDB and FerretDB alike, so of two concurrent creates
// of one id exactly one succeeds.
func (r *Tenants) Create(ctx context.Context, t Tenant) (Tenant, error) {
	if err := required("create tenant", "tenant id", t.ID, "tenant name", t.Name); err != nil {
		return Tenant{}, err
	}
	t.CreatedAt = orNow(t.CreatedAt).UTC().Truncate(time.Millisecond)
	// Claim the id's look-alike key first: the insert on _id is atomic, so of
	// two concurrent creates of look-alike ids exactly one gets it.
	key := TenantNameKey(t.ID)
	if _, err := r.names.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "tenant_id", Value: t.ID}}); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return Tenant{}, wrap("create tenant "+t.ID, err)
		}
		var claim struct {
			TenantID string `bson:"tenant_id"`
		}
		if gerr := r.names.FindOne(ctx, byKey(key)).Decode(&claim); gerr == nil && claim.TenantID != t.ID {
			return Tenant{}, fmt.Errorf("store: create tenant %s: %w (%s)", t.ID, ErrLookAlike, claim.TenantID)
		}
		// The same id claimed it: the insert below tells whether the tenant exists.
	}
	doc := bson.D{
		{Key: "_id", Value: t.ID},
		{Key: "tenant_id", Value: t.ID},
		{Key: "name", Value: t.Name},
		{Key: "created_at", Value: t.CreatedAt},
	}
	if _, err := r.coll.InsertOne(ctx, doc); err != nil {
		return Tenant{}, wrap("create tenant "+t.ID, err)
	}
	return t, nil
}

// List returns every tenant, oldest first. It is the platform operator's
// view and the one read that is not scoped to a tenant; it returns the
// tenant documents only, never tenant data.
func (r *Tenants) List(ctx context.Context) ([]Tenant, error) {
	cur, err := r.coll.Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap("list tenants", err)
	}
	out := []Tenant{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list tenants", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// Delete removes a tenant's own document (not its data); ErrNotFound if
// none. Without transactions, creating a tenant and its first user are two
// writes: Delete undoes the first when the second fails, so a retry does
// not meet a tenant that has no owner.
func (r *Tenants) Delete(ctx context.Context, id string) error {
	if err := required("delete tenant", "tenant id", id); err != nil {
		return err
	}
	res, err := r.coll.DeleteOne(ctx, byKey(id))
	if err != nil {
		return wrap("delete tenant "+id, err)
	}
	if _, err := r.names.DeleteOne(ctx, bson.D{{Key: "_id", Value: TenantNameKey(id)}, {Key: "tenant_id", Value: id}}); err != nil {
		return wrap("delete tenant "+id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("store: delete tenant %s: %w", id, ErrNotFound)
	}
	return nil
}
