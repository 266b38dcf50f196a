package store

import (
	"context"
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
}

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
