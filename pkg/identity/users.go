package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// CreateUser adds a user to an existing tenant. With an empty password one
// is generated and returned (the only time it is shown); otherwise the
// returned string is empty. ErrConflict when the email is taken in the tenant.
func (s *Service) CreateUser(ctx context.Context, tenant string, nu NewUser) (User, string, error) {
	if err := validTenantID("tenant", tenant); err != nil {
		return User{}, "", err
	}
	nu, err := validNewUser("", nu)
	if err != nil {
		return User{}, "", err
	}
	if _, err := s.st.Tenants.Get(ctx, tenant); err != nil {
		return User{}, "", notFound("create user: tenant "+tenant, err)
	}
	return s.createUser(ctx, tenant, nu)
}

// createUser stores a validated nu in tenant.
func (s *Service) createUser(ctx context.Context, tenant string, nu NewUser) (User, string, error) {
	generated := ""
	if nu.Password == "" {
		pw, err := generatePassword()
		if err != nil {
			return User{}, "", fmt.Errorf("identity: create user: %w", err)
		}
		nu.Password, generated = pw, pw
	}
	hash, err := s.hashPassword(nu.Password)
	if err != nil {
		return User{}, "", fmt.Errorf("identity: create user: %w", err)
	}
	u, err := s.st.Users.Create(ctx, store.User{
		ID: uuid.NewString(), TenantID: tenant, Email: nu.Email, Name: nu.Name, Role: nu.Role,
		PasswordHash: hash, CreatedAt: s.now(),
	})
	if errors.Is(err, store.ErrConflict) {
		return User{}, "", conflict("create user", "email %s is taken in tenant %s", nu.Email, tenant)
	}
	if err != nil {
		return User{}, "", fmt.Errorf("identity: create user: %w", err)
	}
	return toUser(u), generated, nil
}

// ListUsers returns tenant's users, oldest first.
func (s *Service) ListUsers(ctx context.Context, tenant string) ([]User, error) {
	if err := validTenantArg(tenant); err != nil {
		return nil, err
	}
	us, err := s.st.Users.List(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("identity: list users: %w", err)
	}
	out := make([]User, 0, len(us))
	for _, u := range us {
		out = append(out, toUser(u))
	}
	return out, nil
}

// GetUser returns one of tenant's users (ErrNotFound for another tenant's).
func (s *Service) GetUser(ctx context.Context, tenant, id string) (User, error) {
	u, err := s.getUser(ctx, "get user", tenant, id)
	if err != nil {
		return User{}, err
	}
	return toUser(u), nil
}

func (s *Service) getUser(ctx context.Context, op, tenant, id string) (store.User, error) {
	if err := validTenantArg(tenant); err != nil {
		return store.User{}, err
	}
	if id == "" {
		return store.User{}, fmt.Errorf("identity: %s: %w", op, ErrNotFound)
	}
	u, err := s.st.Users.Get(ctx, tenant, id)
	if err != nil {
		return store.User{}, notFound(op, err)
	}
	return u, nil
}

// SetRole changes a user's role; it applies to their access tokens from
// their next refresh. Demoting the tenant's last enabled owner is
// ErrConflict: a tenant must keep someone who can manage it.
func (s *Service) SetRole(ctx context.Context, tenant, id, role string) (User, error) {
	if err := validRole("role", role); err != nil {
		return User{}, err
	}
	u, err := s.getUser(ctx, "set role", tenant, id)
	if err != nil {
		return User{}, err
	}
	if u.Role == role {
		return toUser(u), nil
	}
	apply := func() (store.User, error) { return s.st.Users.SetRole(ctx, tenant, id, role) }
	if u.Role == auth.RoleOwner && !u.Disabled {
		undo := func() error { _, err := s.st.Users.SetRole(ctx, tenant, id, auth.RoleOwner); return err }
		u, err = s.keepAnOwner(ctx, "set role", tenant, apply, undo)
	} else {
		u, err = apply()
	}
	if err != nil {
		return User{}, notFound("set role", err)
	}
	// Keys the user made that outrank the new role go, as the person's
	// own access does: the access tokens already issued name the old role,
	// so revoke them (not the sessions); the next refresh issues one with
	// the new role, and the old one stops on every replica now.
	if err := s.revokeKeysOf(ctx, "set role", tenant, id, role); err != nil {
		return User{}, err
	}
	if err := s.st.Revocations.RevokeSubject(ctx, tenant, id, s.now(), nil, s.revocationTTL()); err != nil {
		return User{}, fmt.Errorf("identity: set role: revoke access tokens with the old role: %w", err)
	}
	return toUser(u), nil
}

// DisableUser stops a user from signing in and signs them out everywhere.
// Disabling the tenant's last enabled owner is ErrConflict.
func (s *Service) DisableUser(ctx context.Context, tenant, id string) error {
	u, err := s.getUser(ctx, "disable user", tenant, id)
	if err != nil {
		return err
	}
	apply := func() (store.User, error) { return s.st.Users.SetDisabled(ctx, tenant, id, true) }
	if u.Role == auth.RoleOwner && !u.Disabled {
		undo := func() error { _, err := s.st.Users.SetDisabled(ctx, tenant, id, false); return err }
		_, err = s.keepAnOwner(ctx, "disable user", tenant, apply, undo)
	} else {
		_, err = apply()
	}
	if err != nil {
		return notFound("disable user", err)
	}
	if err := s.revokeKeysOf(ctx, "disable user", tenant, id, ""); err != nil {
		return err
	}
	return s.RevokeUserSessions(ctx, tenant, id)
}

// roleRank orders the tenant roles by what they may do.
var roleRank = map[string]int{auth.RoleViewer: 1, auth.RoleAnalyst: 2, auth.RoleAdmin: 3, auth.RoleOwner: 4}

// revokeKeysOf revokes the API keys userID created whose role outranks
// upTo (every one of them when upTo is empty), so that a removed or
// demoted person keeps no access through a key they made.
func (s *Service) revokeKeysOf(ctx context.Context, op, tenant, userID, upTo string) error {
	keys, err := s.st.APIKeys.List(ctx, tenant)
	if err != nil {
		return fmt.Errorf("identity: %s: list API keys: %w", op, err)
	}
	for _, k := range keys {
		if k.CreatedBy != userID || k.RevokedAt != nil || (upTo != "" && roleRank[k.Role] <= roleRank[upTo]) {
			continue
		}
		if _, err := s.st.APIKeys.Revoke(ctx, tenant, k.ID, s.now()); err != nil {
			return fmt.Errorf("identity: %s: revoke API key %s: %w", op, k.ID, err)
		}
	}
	return nil
}

// keepAnOwner applies a change that takes an enabled owner away, unless it
// would leave tenant with none. Without transactions the check and the
// change are separate writes, so the count is taken again after the
// change: if two concurrent changes took the last two owners away, each
// sees zero, undoes its own change and answers ErrConflict.
func (s *Service) keepAnOwner(ctx context.Context, op, tenant string, apply func() (store.User, error), undo func() error) (store.User, error) {
	n, err := s.st.Users.CountEnabledOwners(ctx, tenant, auth.RoleOwner)
	if err != nil {
		return store.User{}, err
	}
	if n <= 1 {
		return store.User{}, conflict(op, "the tenant's last enabled owner must stay")
	}
	u, err := apply()
	if err != nil {
		return store.User{}, err
	}
	n, err = s.st.Users.CountEnabledOwners(ctx, tenant, auth.RoleOwner)
	if err != nil {
		return store.User{}, err
	}
	if n == 0 {
		if err := undo(); err != nil {
			return store.User{}, fmt.Errorf("identity: %s: undo after the last owner went: %w", op, err)
		}
		return store.User{}, conflict(op, "the tenant's last enabled owner must stay")
	}
	return u, nil
}

// CreateTenant creates a tenant and its first user, an owner (owner.Role
// may be empty or "owner"). The id is lower-cased: tenant ids are compared
// without case, so "ACME" names acme. Ids starting with '_' are reserved for
// the platform; ErrConflict if the tenant exists or another tenant's id reads
// the same (store.TenantNameKey: "acme_corp" and "acrne-c0rp" are
// "acme-corp"). The owner's fields are reported as "owner.email",
// "owner.password", ... in a FieldError.
func (s *Service) CreateTenant(ctx context.Context, id, name string, owner NewUser) (store.Tenant, User, string, error) {
	id = strings.ToLower(id)
	if err := validTenantID("tenant", id); err != nil {
		return store.Tenant{}, User{}, "", err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return store.Tenant{}, User{}, "", &FieldError{Field: "name", Reason: "is required"}
	}
	if err := validName("name", name); err != nil {
		return store.Tenant{}, User{}, "", err
	}
	if owner.Role == "" {
		owner.Role = auth.RoleOwner
	}
	if owner.Role != auth.RoleOwner {
		return store.Tenant{}, User{}, "", &FieldError{Field: "owner.role", Reason: "must be owner: a tenant's first user owns it"}
	}
	owner, err := validNewUser("owner.", owner)
	if err != nil {
		return store.Tenant{}, User{}, "", err
	}
	if other, err := s.lookAlike(ctx, id); err != nil {
		return store.Tenant{}, User{}, "", fmt.Errorf("identity: create tenant: %w", err)
	} else if other != "" {
		return store.Tenant{}, User{}, "", conflict("create tenant", "%s looks like the existing tenant %s", id, other)
	}
	t, err := s.st.Tenants.Create(ctx, store.Tenant{ID: id, Name: name, CreatedAt: s.now()})
	if errors.Is(err, store.ErrLookAlike) {
		return store.Tenant{}, User{}, "", conflict("create tenant", "%s looks like an existing tenant", id)
	}
	if errors.Is(err, store.ErrConflict) {
		return store.Tenant{}, User{}, "", conflict("create tenant", "%s exists", id)
	}
	if err != nil {
		return store.Tenant{}, User{}, "", fmt.Errorf("identity: create tenant: %w", err)
	}
	u, pw, err := s.createUser(ctx, id, owner)
	if err != nil {
		// No transactions: undo the tenant so that a retry can create both.
		if derr := s.st.Tenants.Delete(context.WithoutCancel(ctx), id); derr != nil {
			s.log.ErrorContext(ctx, "create tenant: tenant left without an owner", "tenant", id, "err", derr)
		}
		return store.Tenant{}, User{}, "", err
	}
	return t, u, pw, nil
}

// lookAlike returns the id of another tenant that reads like id, or "". The
// store refuses look-alikes of tenants it holds a name claim for; this also
// covers tenants created before the claims existed (and the platform's own).
// Creating a tenant is an operator's rare act, so reading the list is fine.
func (s *Service) lookAlike(ctx context.Context, id string) (string, error) {
	ts, err := s.st.Tenants.List(ctx)
	if err != nil {
		return "", err
	}
	key := store.TenantNameKey(id)
	for _, t := range ts {
		if t.ID != id && store.TenantNameKey(t.ID) == key {
			return t.ID, nil
		}
	}
	return "", nil
}

// CreateOperator creates a platform operator: a user of the reserved tenant
// auth.PlatformTenant with the platform-operator role, who may provision
// tenants and reads no tenant's data. The tenant is created on first use.
// An empty Password is generated and returned once. Operators are made from
// the command line (infra-mind operator), never through the API.
func (s *Service) CreateOperator(ctx context.Context, nu NewUser) (User, string, error) {
	if nu.Role != "" && nu.Role != auth.RoleOperator {
		return User{}, "", &FieldError{Field: "role", Reason: "must be " + auth.RoleOperator}
	}
	// validNewUser knows the tenant roles only; check the rest with one.
	nu.Role = auth.RoleOwner
	nu, err := validNewUser("", nu)
	if err != nil {
		return User{}, "", err
	}
	nu.Role = auth.RoleOperator
	if err := s.st.Tenants.Upsert(ctx, store.Tenant{ID: auth.PlatformTenant, Name: "Platform operators", CreatedAt: s.now()}); err != nil {
		return User{}, "", fmt.Errorf("identity: create operator: %w", err)
	}
	return s.createUser(ctx, auth.PlatformTenant, nu)
}
