package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrRefreshUsed is returned by Sessions.UseRefresh for a refresh token
// that was used before: presenting it again is reuse.
var ErrRefreshUsed = errors.New("refresh token already used")

// Session is one sign-in: the family of refresh tokens that rotate from
// it. Its _id is a random UUID (global: an access token's sid names it
// without its tenant), so every read checks the tenant after decoding.
type Session struct {
	ID        string    `bson:"_id" json:"id"`
	TenantID  string    `bson:"tenant_id" json:"tenant_id"`
	UserID    string    `bson:"user_id" json:"user_id"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	// ExpiresAt is the absolute end of the session: no refresh token of the
	// family outlives it, however often it rotates.
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
	// RevokedAt is nil while the session is open (stored as null, so a
	// filter on null finds open sessions).
	RevokedAt *time.Time `bson:"revoked_at" json:"revoked_at,omitempty"`
}

// RefreshToken is one issued refresh token, stored by the SHA-256 (hex) of
// the token, never the token: a database reader cannot use it.
type RefreshToken struct {
	ID        string     `bson:"_id" json:"-"`
	TenantID  string     `bson:"tenant_id" json:"tenant_id"`
	UserID    string     `bson:"user_id" json:"user_id"`
	SessionID string     `bson:"session_id" json:"session_id"`
	CreatedAt time.Time  `bson:"created_at" json:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at" json:"expires_at"`
	UsedAt    *time.Time `bson:"used_at" json:"used_at,omitempty"`
}

// refreshUse claims one use of a refresh token; its _id is the token's.
type refreshUse struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenant_id"`
	SessionID string    `bson:"session_id"`
	At        time.Time `bson:"at"`
}

// Sessions repository: sign-in sessions and their refresh tokens. Expired
// documents are not removed by the database (no TTL indexes on FerretDB);
// the identity service checks expires_at on every read.
type Sessions struct {
	coll   *mongo.Collection
	tokens *mongo.Collection
	uses   *mongo.Collection
}

// Create stores a new session; ErrConflict if its id exists.
func (r *Sessions) Create(ctx context.Context, s Session) (Session, error) {
	if err := required("create session", "tenant", s.TenantID, "session id", s.ID, "user id", s.UserID); err != nil {
		return Session{}, err
	}
	if s.ExpiresAt.IsZero() {
		return Session{}, fmt.Errorf("store: create session: %w: expires_at is required", ErrInvalid)
	}
	s.CreatedAt = orNow(s.CreatedAt).UTC().Truncate(time.Millisecond)
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Millisecond)
	s.RevokedAt = nil
	if _, err := r.coll.InsertOne(ctx, s); err != nil {
		return Session{}, wrap("create session "+s.ID, err)
	}
	return s, nil
}

// Get returns one of tenant's sessions (ErrNotFound for another tenant's).
func (r *Sessions) Get(ctx context.Context, tenant, id string) (Session, error) {
	if err := required("get session", "tenant", tenant, "session id", id); err != nil {
		return Session{}, err
	}
	var s Session
	if err := findByKey(ctx, r.coll, tenant, id, &s, func() string { return s.TenantID }); err != nil {
		return Session{}, wrap("get session "+id, err)
	}
	return s.utc(), nil
}

// Revoke marks one of tenant's sessions revoked at at (ErrNotFound for
// another tenant's). Revoking a revoked session keeps the first time.
func (r *Sessions) Revoke(ctx context.Context, tenant, id string, at time.Time) error {
	s, err := r.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	if s.RevokedAt != nil {
		return nil
	}
	at = orNow(at).UTC().Truncate(time.Millisecond)
	// By key alone (ADR 0005); the read above checked the tenant.
	if _, err := r.coll.UpdateOne(ctx, byKey(id), bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}}); err != nil {
		return wrap("revoke session "+id, err)
	}
	return nil
}

// RevokeUser marks every open, unexpired session of one of tenant's users
// revoked at at and returns their ids (so their access tokens can be
// revoked too).
func (r *Sessions) RevokeUser(ctx context.Context, tenant, userID string, at time.Time) ([]string, error) {
	if err := required("revoke user sessions", "tenant", tenant, "user id", userID); err != nil {
		return nil, err
	}
	at = orNow(at).UTC().Truncate(time.Millisecond)
	open := bson.D{
		{Key: "tenant_id", Value: tenant}, {Key: "user_id", Value: userID},
		{Key: "revoked_at", Value: nil}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: at}}},
	}
	cur, err := r.coll.Find(ctx, open, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap("revoke user sessions", err)
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, wrap("revoke user sessions", err)
	}
	if _, err := r.coll.UpdateMany(ctx, open, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}}); err != nil {
		return nil, wrap("revoke user sessions", err)
	}
	ids := make([]string, 0, len(found))
	for _, f := range found {
		ids = append(ids, f.ID)
	}
	return ids, nil
}

// CreateRefresh stores a new refresh token (by hash); ErrConflict if it exists.
func (r *Sessions) CreateRefresh(ctx context.Context, t RefreshToken) (RefreshToken, error) {
	if err := required("create refresh token", "tenant", t.TenantID, "token hash", t.ID,
		"user id", t.UserID, "session id", t.SessionID); err != nil {
		return RefreshToken{}, err
	}
	if t.ExpiresAt.IsZero() {
		return RefreshToken{}, fmt.Errorf("store: create refresh token: %w: expires_at is required", ErrInvalid)
	}
	t.CreatedAt = orNow(t.CreatedAt).UTC().Truncate(time.Millisecond)
	t.ExpiresAt = t.ExpiresAt.UTC().Truncate(time.Millisecond)
	t.UsedAt = nil
	if _, err := r.tokens.InsertOne(ctx, t); err != nil {
		return RefreshToken{}, wrap("create refresh token", err)
	}
	return t, nil
}

// GetRefresh returns the refresh token stored under hash (ErrNotFound if
// none). The hash is global: whoever holds the token learns its tenant here.
func (r *Sessions) GetRefresh(ctx context.Context, hash string) (RefreshToken, error) {
	if err := required("get refresh token", "token hash", hash); err != nil {
		return RefreshToken{}, err
	}
	var t RefreshToken
	if err := r.tokens.FindOne(ctx, byKey(hash)).Decode(&t); err != nil {
		return RefreshToken{}, wrap("get refresh token", err)
	}
	return t.utc(), nil
}

// UseRefresh marks the refresh token stored under hash used at at, exactly
// once across all callers and processes, and returns it. ErrNotFound if no
// such token; ErrRefreshUsed, with the token, if it was used before.
//
// The claim is an insert into CollRefreshUses keyed by the token's hash,
// not a findOneAndUpdate filtered on used_at: FerretDB v1 runs
// findAndModify as "read, then write by _id", so two concurrent refreshes
// could both pass that filter, while an insert on _id is atomic on both
// servers (ADR 0004). used_at on the token is then set for the record.
func (r *Sessions) UseRefresh(ctx context.Context, hash string, at time.Time) (RefreshToken, error) {
	t, err := r.GetRefresh(ctx, hash)
	if err != nil {
		return RefreshToken{}, err
	}
	at = orNow(at).UTC().Truncate(time.Millisecond)
	claim := refreshUse{ID: hash, TenantID: t.TenantID, SessionID: t.SessionID, At: at}
	if _, err := r.uses.InsertOne(ctx, claim); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return t, fmt.Errorf("store: use refresh token: %w", ErrRefreshUsed)
		}
		return RefreshToken{}, wrap("use refresh token", err)
	}
	if _, err := r.tokens.UpdateOne(ctx, byKey(hash), bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: at}}}}); err != nil {
		return RefreshToken{}, wrap("use refresh token", err)
	}
	t.UsedAt = &at
	return t, nil
}

func (s Session) utc() Session {
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	if s.RevokedAt != nil {
		v := s.RevokedAt.UTC()
		s.RevokedAt = &v
	}
	return s
}

func (t RefreshToken) utc() RefreshToken {
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt = t.ExpiresAt.UTC()
	if t.UsedAt != nil {
		v := t.UsedAt.UTC()
		t.UsedAt = &v
	}
	return t
}
