package identity

import (
	"context"
	"time"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// The ports below are what the identity use cases read and write through.
// The store's repositories (*store.Users, *store.Tenants, *store.Sessions,
// *store.APIKeys) implement the document ports as they are, and
// pkg/identity/adapters the Redis ones; pkg/identity/identitytest holds
// in-process fakes of each, kept true to the real adapters by the contract
// suites in pkg/identity/adapters. Every tenant-scoped call reads another
// tenant's id like a missing one (store.ErrNotFound).

// Users stores a tenant's users; *store.Users is the real one. Create
// refuses an email taken in the tenant (store.ErrConflict).
type Users interface {
	Create(ctx context.Context, u store.User) (store.User, error)
	Get(ctx context.Context, tenant, id string) (store.User, error)
	GetByEmail(ctx context.Context, tenant, email string) (store.User, error)
	// List returns the tenant's users, oldest first.
	List(ctx context.Context, tenant string) ([]store.User, error)
	CountEnabledOwners(ctx context.Context, tenant, ownerRole string) (int64, error)
	SetRole(ctx context.Context, tenant, id, role string) (store.User, error)
	SetDisabled(ctx context.Context, tenant, id string, disabled bool) (store.User, error)
	// RevokeSessions records that every session of the user created up to
	// at is revoked (SessionsRevokedAt).
	RevokeSessions(ctx context.Context, tenant, id string, at time.Time) (store.User, error)
}

// Credentials changes what a user signs in with: the password hash and the
// TOTP secrets; *store.Users is the real one. The Rehash and Replace calls
// change a value only while it is still prev, and report whether they did.
type Credentials interface {
	SetPassword(ctx context.Context, tenant, id, hash string) (store.User, error)
	RehashPassword(ctx context.Context, tenant, id, prev, next string) (bool, error)
	SetPendingTOTP(ctx context.Context, tenant, id, secret string) (store.User, error)
	// EnableTOTP turns MFA on with secret and drops the pending one.
	EnableTOTP(ctx context.Context, tenant, id, secret string) (store.User, error)
	// DisableTOTP turns MFA off and removes both secrets.
	DisableTOTP(ctx context.Context, tenant, id string) (store.User, error)
	// ReplaceTOTPSecret replaces field (store.FieldTOTPSecret or
	// store.FieldTOTPPending).
	ReplaceTOTPSecret(ctx context.Context, tenant, id, field, prev, next string) (bool, error)
}

// Tenants stores tenants; *store.Tenants is the real one. Create refuses an
// id that exists (store.ErrConflict) or reads like one that does
// (store.ErrLookAlike); Upsert creates or leaves as it is.
type Tenants interface {
	Create(ctx context.Context, t store.Tenant) (store.Tenant, error)
	Upsert(ctx context.Context, t store.Tenant) error
	Get(ctx context.Context, id string) (store.Tenant, error)
	// List returns every tenant, in id order.
	List(ctx context.Context) ([]store.Tenant, error)
	Delete(ctx context.Context, id string) error
}

// Sessions stores sign-in sessions and their refresh tokens; *store.Sessions
// is the real one. UseRefresh uses a token once across every caller: a
// second use is store.ErrRefreshUsed, returned with the token.
type Sessions interface {
	Create(ctx context.Context, s store.Session) (store.Session, error)
	Get(ctx context.Context, tenant, id string) (store.Session, error)
	Revoke(ctx context.Context, tenant, id string, at time.Time) error
	// RevokeUser and RevokeUserExcept revoke the user's open, unexpired
	// sessions (all, or all but keep) and return their ids.
	RevokeUser(ctx context.Context, tenant, userID string, at time.Time) ([]string, error)
	RevokeUserExcept(ctx context.Context, tenant, userID, keep string, at time.Time) ([]string, error)
	CreateRefresh(ctx context.Context, t store.RefreshToken) (store.RefreshToken, error)
	UseRefresh(ctx context.Context, hash string, at time.Time) (store.RefreshToken, error)
	// PurgeExpired removes at most limit of each kind of document that
	// expired before before (store.Sessions.PurgeExpired).
	PurgeExpired(ctx context.Context, before time.Time, limit int) (store.PurgeCounts, error)
}

// APIKeys stores API keys; *store.APIKeys is the real one. Lookup reads a
// key by its id alone (the presented key names no tenant).
type APIKeys interface {
	Create(ctx context.Context, k store.APIKey) (store.APIKey, error)
	Get(ctx context.Context, tenant, id string) (store.APIKey, error)
	Lookup(ctx context.Context, id string) (store.APIKey, error)
	// List returns the tenant's keys, oldest first, revoked ones included.
	List(ctx context.Context, tenant string) ([]store.APIKey, error)
	Revoke(ctx context.Context, tenant, id string, at time.Time) (store.APIKey, error)
}

// Attempts counts sign-in attempts per account, shared by every replica,
// and accepts each TOTP code once; adapters.RedisAttempts is the real one.
type Attempts interface {
	// Reserve counts one attempt at (tenant, email) before its credentials
	// are checked, starting a window on the first one. When limit attempts
	// are counted already it counts nothing and answers ok false with the
	// time left in the window.
	Reserve(ctx context.Context, tenant, email string, window time.Duration, limit int) (ok bool, retry time.Duration, err error)
	// Release gives one reserved attempt back.
	Release(ctx context.Context, tenant, email string) error
	// Clear forgets every attempt at (tenant, email).
	Clear(ctx context.Context, tenant, email string) error
	// UseCode records that the user used code, for ttl; false when it was
	// used before within that time.
	UseCode(ctx context.Context, tenant, userID, code string, ttl time.Duration) (bool, error)
}

// Revocations is the list of revoked access tokens that every replica
// checks on every request; adapters.RedisRevocations is the real one. An
// entry lasts ttl: as long as a token it names could still be accepted.
type Revocations interface {
	// RevokeToken revokes one access token by its id (jti).
	RevokeToken(ctx context.Context, jti string, ttl time.Duration) error
	// RevokeSessions revokes every access token of the sessions.
	RevokeSessions(ctx context.Context, sids []string, ttl time.Duration) error
	// RevokeSubject revokes, in one step, every access token issued to the
	// tenant's subject up to and including at's second, and every token of
	// the sessions sids.
	RevokeSubject(ctx context.Context, tenant, subject string, at time.Time, sids []string, ttl time.Duration) error
	// SubjectRevokedAt is the second of the subject's revocation in force,
	// or the zero time.
	SubjectRevokedAt(ctx context.Context, tenant, subject string) (time.Time, error)
	// Check answers, in one round trip, whether a token's id or session is
	// revoked and the second of its subject's revocation in force (zero
	// without one). Empty fields are not looked up; Subject needs Tenant.
	Check(ctx context.Context, q RevocationQuery) (RevocationState, error)
}

// RevocationQuery names what of an access token Revocations.Check looks up.
type RevocationQuery struct {
	TokenID, Session, Tenant, Subject string
}

// RevocationState is Revocations.Check's answer.
type RevocationState struct {
	// Revoked: the token's id or its session is revoked.
	Revoked bool
	// SubjectRevokedAt is the second of the subject's revocation, or zero.
	SubjectRevokedAt time.Time
}

// Ports are the identity use cases' collaborators, all required.
type Ports struct {
	Users       Users
	Credentials Credentials
	Tenants     Tenants
	Sessions    Sessions
	APIKeys     APIKeys
	Attempts    Attempts
	Revocations Revocations
}

// check reports the first missing port.
func (p Ports) check() error {
	for _, f := range []struct {
		name string
		nil  bool
	}{
		{"Users", p.Users == nil}, {"Credentials", p.Credentials == nil}, {"Tenants", p.Tenants == nil},
		{"Sessions", p.Sessions == nil}, {"APIKeys", p.APIKeys == nil}, {"Attempts", p.Attempts == nil},
		{"Revocations", p.Revocations == nil},
	} {
		if f.nil {
			return errMissingPort(f.name)
		}
	}
	return nil
}

// PurgeScheduler arranges for PurgeExpired to run at or soon after a time,
// once, without anything polling the store until then: the gateway's is a
// JetStream message schedule (adapters.BusPurges, ADR 0041).
type PurgeScheduler interface {
	SchedulePurge(ctx context.Context, at time.Time) error
}
