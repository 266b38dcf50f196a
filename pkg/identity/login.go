package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Login signs a user in to a tenant and starts a session. Unknown tenant,
// unknown email, wrong password and disabled user all answer
// ErrInvalidCredentials after the same work (a dummy hash is compared), and
// all count towards the lockout of (tenant, email); once it is locked the
// answer is a *LockedError before any password is checked.
func (s *Service) Login(ctx context.Context, in LoginInput) (Session, error) {
	// Tenant ids are lower case (CreateTenant), so "ACME" signs in to acme.
	in.Tenant = strings.ToLower(in.Tenant)
	if in.Tenant == "" {
		return Session{}, &FieldError{Field: "tenant", Reason: "is required"}
	}
	if !auth.ValidTenant(in.Tenant) {
		return Session{}, &FieldError{Field: "tenant", Reason: "must be 1 to 64 letters, digits, '-' or '_'"}
	}
	email, err := normalizeEmail("email", in.Email)
	if err != nil {
		return Session{}, err
	}
	if err := validLoginPassword(in.Password); err != nil {
		return Session{}, err
	}
	if in.TOTPCode != "" {
		if err := validTOTPCode(in.TOTPCode); err != nil {
			return Session{}, err
		}
	}

	var u store.User
	err = s.underLockout(ctx, in.Tenant, email, "login", func() error {
		var err error
		u, err = s.checkCredentials(ctx, in.Tenant, email, in.Password, in.TOTPCode)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	return s.startSession(ctx, u)
}

// checkCredentials returns the user whose credentials these are, or
// ErrInvalidCredentials, ErrMFARequired, ErrInvalidMFACode, or a store or
// Redis error.
func (s *Service) checkCredentials(ctx context.Context, tenant, email, password, code string) (store.User, error) {
	if _, err := s.st.Tenants.Get(ctx, tenant); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, fmt.Errorf("identity: login: %w", err)
		}
		s.compareDummy(password)
		return store.User{}, ErrInvalidCredentials
	}
	u, err := s.st.Users.GetByEmail(ctx, tenant, email)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, fmt.Errorf("identity: login: %w", err)
		}
		s.compareDummy(password)
		return store.User{}, ErrInvalidCredentials
	}
	ok, err := s.matchPassword(ctx, u, password)
	if err != nil {
		return store.User{}, fmt.Errorf("identity: login: %w", err)
	}
	if !ok || u.Disabled {
		return store.User{}, ErrInvalidCredentials
	}
	if !u.MFAEnabled {
		return u, nil
	}
	if code == "" {
		return store.User{}, ErrMFARequired
	}
	if _, err := s.useTOTPCode(ctx, u, store.FieldTOTPSecret, u.TOTPSecret, code); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// compareDummy spends the time a real comparison takes: two comparisons
// when the password is not in its normalised form, as matchPassword makes
// for a wrong one.
func (s *Service) compareDummy(password string) {
	normal := normalizePassword(password)
	_, _ = argon2id.ComparePasswordAndHash(normal, s.dummyHash)
	if normal != password {
		_, _ = argon2id.ComparePasswordAndHash(password, s.dummyHash)
	}
}

// startSession creates a session for u with its first refresh token and
// an access token.
func (s *Service) startSession(ctx context.Context, u store.User) (Session, error) {
	now := s.now()
	sess, err := s.st.Sessions.Create(ctx, store.Session{
		ID: uuid.NewString(), TenantID: u.TenantID, UserID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.opt.RefreshTTL),
	})
	if err != nil {
		return Session{}, fmt.Errorf("identity: start session: %w", err)
	}
	s.schedulePurge(ctx, sess)
	return s.issue(ctx, u, sess, now)
}

// issue mints a refresh token in sess (expiring with it) and an access
// token carrying u's current role.
func (s *Service) issue(ctx context.Context, u store.User, sess store.Session, now time.Time) (Session, error) {
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return Session{}, fmt.Errorf("identity: %w", err)
	}
	if _, err := s.st.Sessions.CreateRefresh(ctx, store.RefreshToken{
		ID: hash, TenantID: u.TenantID, UserID: u.ID, SessionID: sess.ID,
		CreatedAt: now, ExpiresAt: sess.ExpiresAt,
	}); err != nil {
		return Session{}, fmt.Errorf("identity: store refresh token: %w", err)
	}
	from, err := s.issueFrom(ctx, u)
	if err != nil {
		return Session{}, fmt.Errorf("identity: issue access token: %w", err)
	}
	access, err := s.iss.IssueAccess(u.ID, u.TenantID, []string{u.Role}, sess.ID, s.opt.AccessTTL, from)
	if err != nil {
		return Session{}, fmt.Errorf("identity: issue access token: %w", err)
	}
	return Session{
		AccessToken: access.Token, TokenID: access.ID, AccessExpiresAt: access.ExpiresAt,
		RefreshToken: refresh, RefreshExpiresAt: sess.ExpiresAt,
		SessionID: sess.ID, User: toUser(u),
	}, nil
}

// underLockout runs check as one attempt against the account lockout of
// (tenant, email), shared by sign-in and every re-authentication (password change, MFA
// changes). The attempt is counted before check runs (atomically, so
// parallel guesses cannot all slip in under the limit); a locked account is
// a *LockedError without running check. ErrInvalidCredentials and
// ErrInvalidMFACode stay counted; success clears the count; any other
// outcome (MFA required, a store or Redis error) gives the attempt back.
func (s *Service) underLockout(ctx context.Context, tenant, email, op string, check func() error) error {
	ok, retry, err := s.st.Attempts.Reserve(ctx, tenant, email, s.opt.LockoutWindow, s.opt.MaxFailures)
	if err != nil {
		return fmt.Errorf("identity: %s: count attempt: %w", op, err)
	}
	if !ok {
		s.log.InfoContext(ctx, "refused: locked out", "op", op, "retry_after", retry)
		return &LockedError{RetryAfter: max(retry, 0)}
	}
	err = check()
	switch {
	case err == nil:
		if err := s.st.Attempts.Clear(ctx, tenant, email); err != nil {
			return fmt.Errorf("identity: %s: clear failures: %w", op, err)
		}
		return nil
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrInvalidMFACode):
		return err // the reserved attempt stays counted
	default:
		if rerr := s.st.Attempts.Release(ctx, tenant, email); rerr != nil {
			s.log.WarnContext(ctx, "give back attempt", "op", op, "err", rerr)
		}
		return err
	}
}
