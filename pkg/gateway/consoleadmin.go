package gateway

import (
	"context"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// consoleAdmin is the console's settings port over the same operations the
// identity handlers call (identity.go), with the same rules beyond the
// route's roles and the same errors, so the console's users and API keys
// pages refuse exactly what the API refuses.
type consoleAdmin struct{ s *Server }

func (a consoleAdmin) ListUsers(ctx context.Context, cl *auth.Claims) ([]identity.User, error) {
	users, err := a.s.deps.Identity.ListUsers(ctx, cl.Tenant)
	if err != nil {
		return nil, identityErr("list users", err)
	}
	return users, nil
}

func (a consoleAdmin) CreateUser(ctx context.Context, cl *auth.Claims, nu identity.NewUser) (identity.User, string, error) {
	return a.s.createUserAs(ctx, cl, nu)
}

func (a consoleAdmin) SetRole(ctx context.Context, cl *auth.Claims, id, role string) (identity.User, error) {
	return a.s.updateUserAs(ctx, cl, id, &role, false)
}

func (a consoleAdmin) DisableUser(ctx context.Context, cl *auth.Claims, id string) error {
	_, err := a.s.updateUserAs(ctx, cl, id, nil, true)
	return err
}

func (a consoleAdmin) RevokeSessions(ctx context.Context, cl *auth.Claims, id string) error {
	return a.s.revokeSessionsAs(ctx, cl, id)
}

func (a consoleAdmin) ResetMFA(ctx context.Context, cl *auth.Claims, id string) error {
	return a.s.resetMFAAs(ctx, cl, id)
}

func (a consoleAdmin) ResetPassword(ctx context.Context, cl *auth.Claims, id string) (string, error) {
	_, pw, err := a.s.resetPasswordAs(ctx, cl, id, "")
	return pw, err
}

func (a consoleAdmin) ListAPIKeys(ctx context.Context, cl *auth.Claims) ([]identity.APIKey, error) {
	keys, err := a.s.deps.Identity.ListAPIKeys(ctx, cl.Tenant)
	if err != nil {
		return nil, identityErr("list API keys", err)
	}
	return keys, nil
}

func (a consoleAdmin) CreateAPIKey(ctx context.Context, cl *auth.Claims, nk identity.NewAPIKey) (identity.APIKey, string, error) {
	return a.s.createAPIKeyAs(ctx, cl, nk)
}

func (a consoleAdmin) RevokeAPIKey(ctx context.Context, cl *auth.Claims, id string) error {
	return a.s.revokeAPIKeyAs(ctx, cl, id)
}
