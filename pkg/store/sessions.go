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
	// ExpiresAt is the token's expiry: the claim must outlive every moment
	// the token could be presented (it is what detects reuse), and need not
	// outlive the token (PurgeExpired). Claims written before this field
	// existed lack it; PurgeExpired dates them from their token.
	ExpiresAt time.Time `bson:"expires_at"`
}

// Sessions repository: sign-in sessions and their refresh tokens. Expired
// documents are not removed by the database (no TTL indexes on FerretDB):
// the identity service checks expires_at on every read, and PurgeExpired
// removes them.
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
	return r.RevokeUserExcept(ctx, tenant, userID, "", at)
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
	claim := refreshUse{ID: hash, TenantID: t.TenantID, SessionID: t.SessionID, At: at, ExpiresAt: t.ExpiresAt}
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

// DefaultPurgeLimit is used by PurgeExpired when limit is not positive.
const DefaultPurgeLimit = 500

// PurgeCounts says what one PurgeExpired call removed.
type PurgeCounts struct {
	Sessions      int64 // sessions past their absolute end
	RefreshTokens int64 // refresh tokens past their expiry
	RefreshUses   int64 // use claims of refresh tokens that expired or are gone
	// DatedUses are claims written before claims carried expires_at that
	// were given their token's expiry, by which they are then purged.
	DatedUses int64
	// More is true when some step found limit documents, so more may be
	// left: call again (it may be true when exactly limit were left).
	More bool
}

// Add sums two purges' counts; More is kept if either has it.
func (c PurgeCounts) Add(o PurgeCounts) PurgeCounts {
	return PurgeCounts{
		Sessions: c.Sessions + o.Sessions, RefreshTokens: c.RefreshTokens + o.RefreshTokens,
		RefreshUses: c.RefreshUses + o.RefreshUses, DatedUses: c.DatedUses + o.DatedUses,
		More: c.More || o.More,
	}
}

// Removed is how many documents were deleted (dated claims are not).
func (c PurgeCounts) Removed() int64 { return c.Sessions + c.RefreshTokens + c.RefreshUses }

// PurgeExpired deletes sessions, refresh tokens and use claims that
// expired before before, at most limit of each per call (DefaultPurgeLimit
// when limit is not positive), so one call is bounded work; PurgeCounts.More
// says whether to call again.
//
// It filters across tenants, by design: it is a maintenance job over the
// whole database, not a tenant's read, and it only deletes what no tenant
// can use any more (every reader refuses an expired document already).
// Every delete re-checks its filter and is idempotent, so several
// processes may purge at once.
//
// A use claim is what detects the reuse of a rotated refresh token, so it
// goes only once its token has expired (presenting that token is refused
// anyway): a claim carries its token's expiry (refreshUse.ExpiresAt). A
// claim from before that field is dated from its token when the token is
// still stored, and deleted when the token is gone (an unknown token is
// refused, used or not). Expired API keys are not touched: admins list
// them, with their expiry, until they delete them.
func (r *Sessions) PurgeExpired(ctx context.Context, before time.Time, limit int) (PurgeCounts, error) {
	if before.IsZero() {
		return PurgeCounts{}, fmt.Errorf("store: purge expired: %w: before is required", ErrInvalid)
	}
	if limit <= 0 {
		limit = DefaultPurgeLimit
	}
	before = before.UTC()
	var c PurgeCounts
	// Undated claims first: a claim dated here with an expired token's
	// expiry goes in the next step of this same call.
	dated, removed, more, err := r.dateUndatedUses(ctx, limit)
	c.DatedUses, c.RefreshUses, c.More = dated, removed, more
	if err != nil {
		return c, err
	}
	expired := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: before}}}}
	steps := []struct {
		name string
		coll *mongo.Collection
		n    *int64
	}{
		{"refresh token uses", r.uses, &c.RefreshUses},
		{"refresh tokens", r.tokens, &c.RefreshTokens},
		{"sessions", r.coll, &c.Sessions},
	}
	for _, st := range steps {
		n, more, err := deleteBatch(ctx, st.coll, expired, limit)
		*st.n += n
		c.More = c.More || more
		if err != nil {
			return c, fmt.Errorf("store: purge expired %s: %w", st.name, err)
		}
	}
	return c, nil
}

// dateUndatedUses gives up to limit claims without expires_at their
// token's expiry, and deletes those whose token is gone. Each such claim
// is handled once, so the backlog shrinks on every call.
func (r *Sessions) dateUndatedUses(ctx context.Context, limit int) (dated, removed int64, more bool, err error) {
	undated := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$exists", Value: false}}}}
	ids, err := findIDs(ctx, r.uses, undated, limit)
	if err != nil {
		return 0, 0, false, fmt.Errorf("store: purge expired: find undated refresh token uses: %w", err)
	}
	more = len(ids) == limit
	var gone []string
	for _, id := range ids {
		t, err := r.GetRefresh(ctx, id)
		if errors.Is(err, ErrNotFound) {
			gone = append(gone, id)
			continue
		}
		if err != nil {
			return dated, removed, more, fmt.Errorf("store: purge expired: %w", err)
		}
		// By key alone, a primary-key lookup on FerretDB: a process racing
		// this one writes the same value, the token's expiry.
		res, err := r.uses.UpdateOne(ctx, byKey(id),
			bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: t.ExpiresAt}}}})
		if err != nil {
			return dated, removed, more, fmt.Errorf("store: purge expired: date refresh token use: %w", err)
		}
		dated += res.ModifiedCount
	}
	if len(gone) > 0 {
		res, err := r.uses.DeleteMany(ctx, append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: gone}}}}, undated...))
		if err != nil {
			return dated, removed, more, fmt.Errorf("store: purge expired: delete refresh token uses: %w", err)
		}
		removed = res.DeletedCount
	}
	return dated, removed, more, nil
}

// deleteBatch deletes up to limit documents of coll matching filter: the
// delete command cannot limit a multi-document delete, so it finds their
// ids first and deletes those that still match.
func deleteBatch(ctx context.Context, coll *mongo.Collection, filter bson.D, limit int) (n int64, more bool, err error) {
	ids, err := findIDs(ctx, coll, filter, limit)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	res, err := coll.DeleteMany(ctx, append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, filter...))
	if err != nil {
		return 0, false, err
	}
	return res.DeletedCount, len(ids) == limit, nil
}

// findIDs returns the string _id of up to limit documents matching filter.
func findIDs(ctx context.Context, coll *mongo.Collection, filter bson.D, limit int) ([]string, error) {
	cur, err := coll.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(found))
	for _, f := range found {
		ids = append(ids, f.ID)
	}
	return ids, nil
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
