package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// SetPassword replaces a user's password hash (a change by the user or a
// reset by an admin) and returns the user as updated.
func (r *Users) SetPassword(ctx context.Context, tenant, id, hash string) (User, error) {
	if err := required("set password", "tenant", tenant, "user id", id, "password hash", hash); err != nil {
		return User{}, err
	}
	return r.update(ctx, "set password", tenant, id, bson.D{{Key: "password_hash", Value: hash}})
}

// RehashPassword replaces a user's password hash with next only while it
// is still prev, and reports whether it did: a rehash made at sign-in must
// not undo a password change or reset made meanwhile.
func (r *Users) RehashPassword(ctx context.Context, tenant, id, prev, next string) (bool, error) {
	if err := required("rehash password", "tenant", tenant, "user id", id, "password hash", prev, "new password hash", next); err != nil {
		return false, err
	}
	filter := append(byKey(UserKey(tenant, id)), bson.E{Key: "tenant_id", Value: tenant}, bson.E{Key: "password_hash", Value: prev})
	res, err := r.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: "password_hash", Value: next}, {Key: "updated_at", Value: nowUTC()},
	}}})
	if err != nil {
		return false, wrap("rehash password "+id, err)
	}
	return res.ModifiedCount == 1, nil
}

// TOTP secret fields of a user, for ReplaceTOTPSecret.
const (
	FieldTOTPSecret  = "totp_secret"
	FieldTOTPPending = "totp_pending"
)

// ReplaceTOTPSecret replaces a user's TOTP secret (field is FieldTOTPSecret
// or FieldTOTPPending) with next only while it is still prev, and reports
// whether it did: sealing a secret again with a new key must not undo an
// enrolment, a confirmation or a reset made meanwhile.
func (r *Users) ReplaceTOTPSecret(ctx context.Context, tenant, id, field, prev, next string) (bool, error) {
	if err := required("replace totp secret", "tenant", tenant, "user id", id, "secret", prev, "new secret", next); err != nil {
		return false, err
	}
	if field != FieldTOTPSecret && field != FieldTOTPPending {
		return false, fmt.Errorf("store: replace totp secret: unknown field %q", field)
	}
	filter := append(byKey(UserKey(tenant, id)), bson.E{Key: "tenant_id", Value: tenant}, bson.E{Key: field, Value: prev})
	res, err := r.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: field, Value: next}, {Key: "updated_at", Value: nowUTC()},
	}}})
	if err != nil {
		return false, wrap("replace totp secret "+id, err)
	}
	return res.ModifiedCount == 1, nil
}

// DisableTOTP turns a user's second factor off: MFA off, and both the
// confirmed and any pending secret removed, so that turning it on again
// starts from a new secret.
func (r *Users) DisableTOTP(ctx context.Context, tenant, id string) (User, error) {
	if err := required("disable totp", "tenant", tenant, "user id", id); err != nil {
		return User{}, err
	}
	return r.update(ctx, "disable totp", tenant, id,
		bson.D{{Key: "mfa_enabled", Value: false}}, "totp_secret", "totp_pending")
}

// RevokeUserExcept marks every open, unexpired session of one of tenant's
// users revoked at at, except the session keep (the one a password change
// was made in), and returns the ids it revoked so their access tokens can be
// revoked too. An empty keep revokes them all, like RevokeUser.
func (r *Sessions) RevokeUserExcept(ctx context.Context, tenant, userID, keep string, at time.Time) ([]string, error) {
	if err := required("revoke other sessions", "tenant", tenant, "user id", userID); err != nil {
		return nil, err
	}
	at = orNow(at).UTC().Truncate(time.Millisecond)
	open := bson.D{
		{Key: "tenant_id", Value: tenant}, {Key: "user_id", Value: userID},
		{Key: "revoked_at", Value: nil}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: at}}},
	}
	if keep != "" {
		open = append(open, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: keep}}})
	}
	cur, err := r.coll.Find(ctx, open, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap("revoke other sessions", err)
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, wrap("revoke other sessions", err)
	}
	if _, err := r.coll.UpdateMany(ctx, open, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}}); err != nil {
		return nil, wrap("revoke other sessions", err)
	}
	ids := make([]string, 0, len(found))
	for _, f := range found {
		ids = append(ids, f.ID)
	}
	return ids, nil
}
