package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// APIKey is a machine client's credential in one tenant with one role. Its
// _id is the key's public id (global: a presented key names its id, not its
// tenant), so every tenant-scoped read checks the tenant after decoding.
//
// SecretSHA256 is the hex SHA-256 of the key's secret: the secret is 32
// random bytes, so a fast hash cannot be brute-forced and a slow KDF would
// only add latency to every request. It never leaves the store (json:"-").
type APIKey struct {
	ID        string     `bson:"_id" json:"id"`
	TenantID  string     `bson:"tenant_id" json:"tenant_id"`
	Name      string     `bson:"name" json:"name"`
	Role      string     `bson:"role" json:"role"`
	CreatedBy string     `bson:"created_by" json:"created_by"`
	CreatedAt time.Time  `bson:"created_at" json:"created_at"`
	ExpiresAt *time.Time `bson:"expires_at" json:"expires_at,omitempty"`
	RevokedAt *time.Time `bson:"revoked_at" json:"revoked_at,omitempty"`
	// SecretSHA256 is the hex SHA-256 of the secret part of the key.
	SecretSHA256 string `bson:"secret_sha256" json:"-"`
}

// APIKeys repository.
type APIKeys struct {
	coll *mongo.Collection
}

// Create stores a new API key; ErrConflict if its id exists.
func (r *APIKeys) Create(ctx context.Context, k APIKey) (APIKey, error) {
	if err := required("create api key", "tenant", k.TenantID, "api key id", k.ID, "name", k.Name,
		"role", k.Role, "created by", k.CreatedBy, "secret hash", k.SecretSHA256); err != nil {
		return APIKey{}, err
	}
	k.CreatedAt = orNow(k.CreatedAt).UTC().Truncate(time.Millisecond)
	if k.ExpiresAt != nil {
		v := k.ExpiresAt.UTC().Truncate(time.Millisecond)
		k.ExpiresAt = &v
	}
	k.RevokedAt = nil
	if _, err := r.coll.InsertOne(ctx, k); err != nil {
		return APIKey{}, wrap("create api key "+k.ID, err)
	}
	return k, nil
}

// Get returns one of tenant's API keys (ErrNotFound for another tenant's).
func (r *APIKeys) Get(ctx context.Context, tenant, id string) (APIKey, error) {
	if err := required("get api key", "tenant", tenant, "api key id", id); err != nil {
		return APIKey{}, err
	}
	var k APIKey
	if err := findByKey(ctx, r.coll, tenant, id, &k, func() string { return k.TenantID }); err != nil {
		return APIKey{}, wrap("get api key "+id, err)
	}
	return k.utc(), nil
}

// Lookup returns the API key with id in whichever tenant holds it. It is
// for authenticating a presented key, whose tenant is known only once the
// key is found; everything else uses Get.
func (r *APIKeys) Lookup(ctx context.Context, id string) (APIKey, error) {
	if err := required("look up api key", "api key id", id); err != nil {
		return APIKey{}, err
	}
	var k APIKey
	if err := r.coll.FindOne(ctx, byKey(id)).Decode(&k); err != nil {
		return APIKey{}, wrap("look up api key "+id, err)
	}
	return k.utc(), nil
}

// List returns tenant's API keys, oldest first, revoked ones included.
func (r *APIKeys) List(ctx context.Context, tenant string) ([]APIKey, error) {
	if err := required("list api keys", "tenant", tenant); err != nil {
		return nil, err
	}
	cur, err := r.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	out := []APIKey{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list api keys", err)
	}
	for i := range out {
		out[i] = out[i].utc()
	}
	return out, nil
}

// Revoke marks one of tenant's API keys revoked at at and returns it
// (ErrNotFound for another tenant's). Revoking a revoked key keeps the
// first time.
func (r *APIKeys) Revoke(ctx context.Context, tenant, id string, at time.Time) (APIKey, error) {
	k, err := r.Get(ctx, tenant, id)
	if err != nil {
		return APIKey{}, err
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	at = orNow(at).UTC().Truncate(time.Millisecond)
	// By key alone (ADR 0005); the read above checked the tenant.
	if _, err := r.coll.UpdateOne(ctx, byKey(id), bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}}); err != nil {
		return APIKey{}, wrap("revoke api key "+id, err)
	}
	k.RevokedAt = &at
	return k, nil
}

func (k APIKey) utc() APIKey {
	k.CreatedAt = k.CreatedAt.UTC()
	if k.ExpiresAt != nil {
		v := k.ExpiresAt.UTC()
		k.ExpiresAt = &v
	}
	if k.RevokedAt != nil {
		v := k.RevokedAt.UTC()
		k.RevokedAt = &v
	}
	return k
}
