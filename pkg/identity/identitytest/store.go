// Package identitytest holds in-process fakes of pkg/identity's ports, for
// tests of the identity use cases and of the HTTP handlers that call them.
// The contract suites in pkg/identity/adapters run the same tests against
// these fakes and the real adapters (the store on FerretDB, Redis), so the
// fakes keep the real ones' rules: tenant scoping, conflicts, ordering,
// one-time use, expiry and millisecond times.
package identitytest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Ports returns a fresh set of fakes, all empty, as identity.Ports. clock
// is the time Attempts and Revocations expire entries by (nil: time.Now).
func Ports(clock func() time.Time) identity.Ports {
	users := NewUsers()
	return identity.Ports{
		Users: users, Credentials: users, Tenants: NewTenants(), Sessions: NewSessions(), APIKeys: NewAPIKeys(),
		Attempts: NewAttempts(clock), Revocations: NewRevocations(clock),
	}
}

func required(op string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return fmt.Errorf("identitytest: %s: %w: %s is required", op, store.ErrInvalid, fields[i])
		}
		if fields[i] == "tenant" && strings.Contains(fields[i+1], "/") {
			return fmt.Errorf("identitytest: %s: %w: tenant must not contain '/'", op, store.ErrInvalid)
		}
	}
	return nil
}

// ms is t in UTC to the millisecond the store keeps, or now when zero.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Millisecond)
}

func msPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ms(*t)
	return &v
}

func notFound(op, id string) error {
	return fmt.Errorf("identitytest: %s %s: %w", op, id, store.ErrNotFound)
}

// Users is an in-memory identity.Users and identity.Credentials with the
// store's rules: keys carry the tenant, an email is unique in its tenant,
// lists are oldest first.
type Users struct {
	mu   sync.Mutex
	docs map[string]store.User // by store.UserKey
}

// NewUsers returns an empty repository.
func NewUsers() *Users { return &Users{docs: map[string]store.User{}} }

// Create implements identity.Users.
func (r *Users) Create(_ context.Context, u store.User) (store.User, error) {
	if err := required("create user", "tenant", u.TenantID, "user id", u.ID, "email", u.Email,
		"role", u.Role, "password hash", u.PasswordHash); err != nil {
		return store.User{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u.Key = store.UserKey(u.TenantID, u.ID)
	if _, ok := r.docs[u.Key]; ok {
		return store.User{}, fmt.Errorf("identitytest: create user %s: %w", u.ID, store.ErrConflict)
	}
	for _, o := range r.docs {
		if o.TenantID == u.TenantID && o.Email == u.Email {
			return store.User{}, fmt.Errorf("identitytest: create user %s: %w", u.ID, store.ErrConflict)
		}
	}
	u.CreatedAt = ms(u.CreatedAt)
	u.UpdatedAt = u.CreatedAt
	if !u.SessionsRevokedAt.IsZero() {
		u.SessionsRevokedAt = ms(u.SessionsRevokedAt)
	}
	r.docs[u.Key] = u
	return u, nil
}

// Get implements identity.Users.
func (r *Users) Get(_ context.Context, tenant, id string) (store.User, error) {
	if err := required("get user", "tenant", tenant, "user id", id); err != nil {
		return store.User{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.docs[store.UserKey(tenant, id)]
	if !ok {
		return store.User{}, notFound("get user", id)
	}
	return u, nil
}

// GetByEmail implements identity.Users: the email exactly as stored.
func (r *Users) GetByEmail(_ context.Context, tenant, email string) (store.User, error) {
	if err := required("get user by email", "tenant", tenant, "email", email); err != nil {
		return store.User{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.docs {
		if u.TenantID == tenant && u.Email == email {
			return u, nil
		}
	}
	return store.User{}, notFound("get user by email", "")
}

// List implements identity.Users.
func (r *Users) List(_ context.Context, tenant string) ([]store.User, error) {
	if err := required("list users", "tenant", tenant); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []store.User{}
	for _, u := range r.docs {
		if u.TenantID == tenant {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b store.User) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Key, b.Key))
	})
	return out, nil
}

// CountEnabledOwners implements identity.Users.
func (r *Users) CountEnabledOwners(_ context.Context, tenant, ownerRole string) (int64, error) {
	if err := required("count owners", "tenant", tenant, "owner role", ownerRole); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, u := range r.docs {
		if u.TenantID == tenant && u.Role == ownerRole && !u.Disabled {
			n++
		}
	}
	return n, nil
}

// update changes one of tenant's users under the lock and returns it.
func (r *Users) update(op, tenant, id string, change func(u *store.User)) (store.User, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := store.UserKey(tenant, id)
	u, ok := r.docs[key]
	if !ok {
		return store.User{}, notFound(op, id)
	}
	change(&u)
	u.UpdatedAt = ms(time.Time{})
	r.docs[key] = u
	return u, nil
}

// SetRole implements identity.Users.
func (r *Users) SetRole(_ context.Context, tenant, id, role string) (store.User, error) {
	if err := required("set user role", "tenant", tenant, "user id", id, "role", role); err != nil {
		return store.User{}, err
	}
	return r.update("set user role", tenant, id, func(u *store.User) { u.Role = role })
}

// SetDisabled implements identity.Users.
func (r *Users) SetDisabled(_ context.Context, tenant, id string, disabled bool) (store.User, error) {
	if err := required("set user disabled", "tenant", tenant, "user id", id); err != nil {
		return store.User{}, err
	}
	return r.update("set user disabled", tenant, id, func(u *store.User) { u.Disabled = disabled })
}

// RevokeSessions implements identity.Users.
func (r *Users) RevokeSessions(_ context.Context, tenant, id string, at time.Time) (store.User, error) {
	if err := required("revoke user sessions", "tenant", tenant, "user id", id); err != nil {
		return store.User{}, err
	}
	return r.update("revoke user sessions", tenant, id, func(u *store.User) { u.SessionsRevokedAt = ms(at) })
}

// SetPassword implements identity.Credentials.
func (r *Users) SetPassword(_ context.Context, tenant, id, hash string) (store.User, error) {
	if err := required("set password", "tenant", tenant, "user id", id, "password hash", hash); err != nil {
		return store.User{}, err
	}
	return r.update("set password", tenant, id, func(u *store.User) { u.PasswordHash = hash })
}

// swap sets the field get/set name to next while it holds prev.
func (r *Users) swap(tenant, id string, get func(*store.User) *string, prev, next string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := store.UserKey(tenant, id)
	u, ok := r.docs[key]
	if !ok || *get(&u) != prev {
		return false
	}
	*get(&u) = next
	u.UpdatedAt = ms(time.Time{})
	r.docs[key] = u
	return true
}

// RehashPassword implements identity.Credentials.
func (r *Users) RehashPassword(_ context.Context, tenant, id, prev, next string) (bool, error) {
	if err := required("rehash password", "tenant", tenant, "user id", id, "password hash", prev, "new password hash", next); err != nil {
		return false, err
	}
	return r.swap(tenant, id, func(u *store.User) *string { return &u.PasswordHash }, prev, next), nil
}

// SetPendingTOTP implements identity.Credentials.
func (r *Users) SetPendingTOTP(_ context.Context, tenant, id, secret string) (store.User, error) {
	if err := required("set pending totp", "tenant", tenant, "user id", id, "secret", secret); err != nil {
		return store.User{}, err
	}
	return r.update("set pending totp", tenant, id, func(u *store.User) { u.TOTPPending = secret })
}

// EnableTOTP implements identity.Credentials.
func (r *Users) EnableTOTP(_ context.Context, tenant, id, secret string) (store.User, error) {
	if err := required("enable totp", "tenant", tenant, "user id", id, "secret", secret); err != nil {
		return store.User{}, err
	}
	return r.update("enable totp", tenant, id, func(u *store.User) {
		u.TOTPSecret, u.MFAEnabled, u.TOTPPending = secret, true, ""
	})
}

// DisableTOTP implements identity.Credentials.
func (r *Users) DisableTOTP(_ context.Context, tenant, id string) (store.User, error) {
	if err := required("disable totp", "tenant", tenant, "user id", id); err != nil {
		return store.User{}, err
	}
	return r.update("disable totp", tenant, id, func(u *store.User) {
		u.MFAEnabled, u.TOTPSecret, u.TOTPPending = false, "", ""
	})
}

// ReplaceTOTPSecret implements identity.Credentials.
func (r *Users) ReplaceTOTPSecret(_ context.Context, tenant, id, field, prev, next string) (bool, error) {
	if err := required("replace totp secret", "tenant", tenant, "user id", id, "secret", prev, "new secret", next); err != nil {
		return false, err
	}
	switch field {
	case store.FieldTOTPSecret:
		return r.swap(tenant, id, func(u *store.User) *string { return &u.TOTPSecret }, prev, next), nil
	case store.FieldTOTPPending:
		return r.swap(tenant, id, func(u *store.User) *string { return &u.TOTPPending }, prev, next), nil
	}
	return false, fmt.Errorf("identitytest: replace totp secret: unknown field %q", field)
}

// Tenants is an in-memory identity.Tenants: ids are unique, look-alike ids
// (store.TenantNameKey) are refused, lists are oldest first.
type Tenants struct {
	mu   sync.Mutex
	docs map[string]store.Tenant
	// names maps a look-alike key to the tenant that claimed it.
	names map[string]string
}

// NewTenants returns an empty repository.
func NewTenants() *Tenants {
	return &Tenants{docs: map[string]store.Tenant{}, names: map[string]string{}}
}

// Create implements identity.Tenants.
func (r *Tenants) Create(_ context.Context, t store.Tenant) (store.Tenant, error) {
	if err := required("create tenant", "tenant id", t.ID, "tenant name", t.Name); err != nil {
		return store.Tenant{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.CreatedAt = ms(t.CreatedAt)
	key := store.TenantNameKey(t.ID)
	if owner, ok := r.names[key]; ok && owner != t.ID {
		return store.Tenant{}, fmt.Errorf("identitytest: create tenant %s: %w (%s)", t.ID, store.ErrLookAlike, owner)
	}
	r.names[key] = t.ID
	if _, ok := r.docs[t.ID]; ok {
		return store.Tenant{}, fmt.Errorf("identitytest: create tenant %s: %w", t.ID, store.ErrConflict)
	}
	r.docs[t.ID] = t
	return t, nil
}

// Upsert implements identity.Tenants: the name is set, the creation time
// kept from the first insert.
func (r *Tenants) Upsert(_ context.Context, t store.Tenant) error {
	if err := required("upsert tenant", "tenant id", t.ID, "tenant name", t.Name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.docs[t.ID]; ok {
		old.Name = t.Name
		r.docs[t.ID] = old
		return nil
	}
	t.CreatedAt = ms(t.CreatedAt)
	r.docs[t.ID] = t
	return nil
}

// Get implements identity.Tenants.
func (r *Tenants) Get(_ context.Context, id string) (store.Tenant, error) {
	if err := required("get tenant", "tenant id", id); err != nil {
		return store.Tenant{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.docs[id]
	if !ok {
		return store.Tenant{}, notFound("get tenant", id)
	}
	return t, nil
}

// List implements identity.Tenants.
func (r *Tenants) List(context.Context) ([]store.Tenant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []store.Tenant{}
	for _, t := range r.docs {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.Tenant) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Delete implements identity.Tenants.
func (r *Tenants) Delete(_ context.Context, id string) error {
	if err := required("delete tenant", "tenant id", id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[store.TenantNameKey(id)] == id {
		delete(r.names, store.TenantNameKey(id))
	}
	if _, ok := r.docs[id]; !ok {
		return notFound("delete tenant", id)
	}
	delete(r.docs, id)
	return nil
}
