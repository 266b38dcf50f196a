package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// User is a person who signs in to one tenant. The repository stores what
// it is given: validation, normalisation (lower-case email) and hashing are
// the identity service's.
//
// TOTPSecret is kept as issued, like a webhook secret: verifying a code
// needs the shared secret itself, so a one-way hash would make TOTP
// impossible. It is never returned by the API (json:"-").
type User struct {
	// Key is the primary key, UserKey(TenantID, ID); the repository sets it.
	Key          string `bson:"_id" json:"-"`
	ID           string `bson:"user_id" json:"id"`
	TenantID     string `bson:"tenant_id" json:"tenant_id"`
	Email        string `bson:"email" json:"email"`
	Name         string `bson:"name" json:"name"`
	Role         string `bson:"role" json:"role"`
	PasswordHash string `bson:"password_hash" json:"-"`
	Disabled     bool   `bson:"disabled" json:"disabled"`
	MFAEnabled   bool   `bson:"mfa_enabled" json:"mfa_enabled"`
	TOTPSecret   string `bson:"totp_secret,omitempty" json:"-"`
	// TOTPPending is a secret enrolled but not yet confirmed with a code.
	TOTPPending string `bson:"totp_pending,omitempty" json:"-"`
	// SessionsRevokedAt: sessions created at or before it are revoked (an
	// admin's "sign out everywhere"); zero when never.
	SessionsRevokedAt time.Time `bson:"sessions_revoked_at,omitempty" json:"-"`
	CreatedAt         time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt         time.Time `bson:"updated_at" json:"updated_at"`
}

// UserKey is the primary key of a tenant's user: the tenant is part of the
// key so a read by _id can never cross tenants (ADR 0005).
func UserKey(tenant, id string) string { return tenant + "/" + id }

// Users repository.
type Users struct {
	coll *mongo.Collection
}

// Create stores a new user; ErrConflict if the id or the email (within the
// tenant, unique index tenant_email) is taken.
func (r *Users) Create(ctx context.Context, u User) (User, error) {
	if err := required("create user", "tenant", u.TenantID, "user id", u.ID, "email", u.Email,
		"role", u.Role, "password hash", u.PasswordHash); err != nil {
		return User{}, err
	}
	u.Key = UserKey(u.TenantID, u.ID)
	u.CreatedAt = orNow(u.CreatedAt).UTC().Truncate(time.Millisecond)
	u.UpdatedAt = u.CreatedAt
	if _, err := r.coll.InsertOne(ctx, u); err != nil {
		return User{}, wrap("create user "+u.ID, err)
	}
	return u, nil
}

// Get returns one of tenant's users (ErrNotFound for another tenant's).
func (r *Users) Get(ctx context.Context, tenant, id string) (User, error) {
	if err := required("get user", "tenant", tenant, "user id", id); err != nil {
		return User{}, err
	}
	var u User
	if err := findByKey(ctx, r.coll, tenant, UserKey(tenant, id), &u, func() string { return u.TenantID }); err != nil {
		return User{}, wrap("get user "+id, err)
	}
	return u.utc(), nil
}

// GetByEmail returns tenant's user with email exactly as stored (the
// identity service lower-cases it). Sign-in is the only caller.
func (r *Users) GetByEmail(ctx context.Context, tenant, email string) (User, error) {
	if err := required("get user by email", "tenant", tenant, "email", email); err != nil {
		return User{}, err
	}
	var u User
	err := r.coll.FindOne(ctx, bson.D{{Key: "tenant_id", Value: tenant}, {Key: "email", Value: email}}).Decode(&u)
	if err != nil {
		return User{}, wrap("get user by email", err)
	}
	return u.utc(), nil
}

// List returns tenant's users, oldest first.
func (r *Users) List(ctx context.Context, tenant string) ([]User, error) {
	if err := required("list users", "tenant", tenant); err != nil {
		return nil, err
	}
	cur, err := r.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap("list users", err)
	}
	out := []User{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list users", err)
	}
	for i := range out {
		out[i] = out[i].utc()
	}
	return out, nil
}

// CountEnabledOwners counts tenant's users with role owner that are not
// disabled; the identity service keeps it above zero.
func (r *Users) CountEnabledOwners(ctx context.Context, tenant, ownerRole string) (int64, error) {
	if err := required("count owners", "tenant", tenant, "owner role", ownerRole); err != nil {
		return 0, err
	}
	n, err := r.coll.CountDocuments(ctx, bson.D{
		{Key: "tenant_id", Value: tenant}, {Key: "role", Value: ownerRole}, {Key: "disabled", Value: false},
	})
	if err != nil {
		return 0, wrap("count owners", err)
	}
	return n, nil
}

// SetRole changes a user's role and returns the user as updated.
func (r *Users) SetRole(ctx context.Context, tenant, id, role string) (User, error) {
	if err := required("set user role", "tenant", tenant, "user id", id, "role", role); err != nil {
		return User{}, err
	}
	return r.update(ctx, "set user role", tenant, id, bson.D{{Key: "role", Value: role}})
}

// SetDisabled disables or re-enables a user and returns the user as updated.
func (r *Users) SetDisabled(ctx context.Context, tenant, id string, disabled bool) (User, error) {
	if err := required("set user disabled", "tenant", tenant, "user id", id); err != nil {
		return User{}, err
	}
	return r.update(ctx, "set user disabled", tenant, id, bson.D{{Key: "disabled", Value: disabled}})
}

// SetPendingTOTP stores a TOTP secret awaiting confirmation; MFA stays as
// it was until EnableTOTP.
func (r *Users) SetPendingTOTP(ctx context.Context, tenant, id, secret string) (User, error) {
	if err := required("set pending totp", "tenant", tenant, "user id", id, "secret", secret); err != nil {
		return User{}, err
	}
	return r.update(ctx, "set pending totp", tenant, id, bson.D{{Key: "totp_pending", Value: secret}})
}

// EnableTOTP makes secret (the confirmed one) the user's TOTP secret,
// turns MFA on and clears the pending secret.
func (r *Users) EnableTOTP(ctx context.Context, tenant, id, secret string) (User, error) {
	if err := required("enable totp", "tenant", tenant, "user id", id, "secret", secret); err != nil {
		return User{}, err
	}
	return r.update(ctx, "enable totp", tenant, id,
		bson.D{{Key: "totp_secret", Value: secret}, {Key: "mfa_enabled", Value: true}}, "totp_pending")
}

// RevokeSessions records that the user's sessions created at or before at
// are revoked, so their refresh tokens stop working.
func (r *Users) RevokeSessions(ctx context.Context, tenant, id string, at time.Time) (User, error) {
	if err := required("revoke user sessions", "tenant", tenant, "user id", id); err != nil {
		return User{}, err
	}
	at = orNow(at).UTC().Truncate(time.Millisecond)
	return r.update(ctx, "revoke user sessions", tenant, id, bson.D{{Key: "sessions_revoked_at", Value: at}})
}

// update sets fields (and unsets the unset fields) on one of tenant's
// users by key and returns the document after it. The key carries the
// tenant, so another tenant's id matches nothing (ErrNotFound).
func (r *Users) update(ctx context.Context, op, tenant, id string, set bson.D, unset ...string) (User, error) {
	change := bson.D{{Key: "$set", Value: append(set, bson.E{Key: "updated_at", Value: nowUTC()})}}
	if len(unset) > 0 {
		u := bson.D{}
		for _, f := range unset {
			u = append(u, bson.E{Key: f, Value: ""})
		}
		change = append(change, bson.E{Key: "$unset", Value: u})
	}
	var u User
	err := r.coll.FindOneAndUpdate(ctx, byKey(UserKey(tenant, id)), change,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&u)
	if err != nil {
		return User{}, wrap(op+" "+id, err)
	}
	if u.TenantID != tenant {
		return User{}, fmt.Errorf("store: %s %s: %w", op, id, ErrNotFound)
	}
	return u.utc(), nil
}

// utc returns u with its times in UTC (the driver decodes them as local).
func (u User) utc() User {
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	if !u.SessionsRevokedAt.IsZero() {
		u.SessionsRevokedAt = u.SessionsRevokedAt.UTC()
	}
	return u
}
