// Package identity signs people and machines in to a tenant: users with
// argon2id passwords, lockout and optional TOTP; sign-in sessions whose
// refresh tokens rotate on every use (reuse revokes the family); revocation
// that every gateway replica sees at once (Redis); API keys; and tenants.
// The gateway is its only caller; it maps the errors here to HTTP.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Issuer mints access tokens, issued now or at from when that is later;
// *auth.Signer implements it.
type Issuer interface {
	IssueAccess(subject, tenant string, roles []string, session string, ttl time.Duration, from time.Time) (auth.Issued, error)
}

// Options tune the service; zero values take the defaults named below.
type Options struct {
	AccessTTL     time.Duration // 15m
	RefreshTTL    time.Duration // 720h: absolute lifetime of a sign-in session (refresh family)
	MaxFailures   int           // 5 failed sign-ins per (tenant, email) ...
	LockoutWindow time.Duration // ... within 15m lock it until the window ends
	TOTPIssuer    string        // "Infra Mind"
	// TOTPKeys encrypts TOTP secrets at rest (see totpkeys.go). Nil keeps
	// them in plain text, as before encryption; New logs a warning then.
	TOTPKeys *TOTPKeyRing
	Now      func() time.Time
	Logger   *slog.Logger
	// PasswordParams are the argon2id parameters new password hashes are
	// made with; nil takes the OWASP ones (passwordParams). Every hash
	// carries its own, so any stored hash still verifies. Lower ones are
	// for tests whose subject is not the hashing.
	PasswordParams *argon2id.Params
	// Purges schedules the purge of a sign-in session's data for when it
	// expires (nil schedules nothing; PurgeExpired still runs when called).
	Purges PurgeScheduler
}

// Defaults applied by New to zero Options fields.
const (
	DefaultAccessTTL     = 15 * time.Minute
	DefaultRefreshTTL    = 720 * time.Hour
	DefaultMaxFailures   = 5
	DefaultLockoutWindow = 15 * time.Minute
	DefaultTOTPIssuer    = "Infra Mind"
)

// Service is the identity application: every method takes the tenant it
// acts in, and never reads or changes another tenant's users or keys.
type Service struct {
	st  Ports
	iss Issuer
	opt Options
	log *slog.Logger
	// dummyHash is compared against when the tenant or email is unknown,
	// so the answer takes as long as for a wrong password.
	dummyHash string
}

func errMissingPort(name string) error {
	return fmt.Errorf("identity: the %s port is required", name)
}

// New returns a Service over its ports (users, credentials, tenants,
// sessions, API keys, sign-in attempts, revocations) and iss (access
// tokens); adapters.Ports wires the store and Redis.
func New(p Ports, iss Issuer, opt Options) (*Service, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if iss == nil {
		return nil, errors.New("identity: an issuer is required")
	}
	if opt.AccessTTL < 0 || opt.RefreshTTL < 0 || opt.MaxFailures < 0 || opt.LockoutWindow < 0 {
		return nil, errors.New("identity: durations and MaxFailures must not be negative")
	}
	if opt.AccessTTL == 0 {
		opt.AccessTTL = DefaultAccessTTL
	}
	if opt.RefreshTTL == 0 {
		opt.RefreshTTL = DefaultRefreshTTL
	}
	if opt.MaxFailures == 0 {
		opt.MaxFailures = DefaultMaxFailures
	}
	if opt.LockoutWindow == 0 {
		opt.LockoutWindow = DefaultLockoutWindow
	}
	if opt.LockoutWindow < time.Millisecond {
		return nil, errors.New("identity: LockoutWindow must be at least a millisecond")
	}
	if opt.TOTPIssuer == "" {
		opt.TOTPIssuer = DefaultTOTPIssuer
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PasswordParams == nil {
		opt.PasswordParams = passwordParams
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pw, err := generatePassword()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	dummy, err := argon2id.CreateHash(pw, opt.PasswordParams)
	if err != nil {
		return nil, fmt.Errorf("identity: dummy hash: %w", err)
	}
	if opt.TOTPKeys == nil {
		log.Warn("no TOTP key set: TOTP secrets are stored in plain text (set IM_AUTH_TOTP_KEYS_SECRET or IM_AUTH_TOTP_KEYS_FILE)")
	} else if opt.TOTPKeys.Keys() == nil {
		return nil, errors.New("identity: the TOTP key ring holds no key set")
	}
	return &Service{st: p, iss: iss, opt: opt, log: log.With("component", "identity"), dummyHash: dummy}, nil
}

// now is the service's clock in UTC, to the millisecond the store keeps.
func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Millisecond) }

// User is a tenant's user as callers see it: no password hash, no TOTP secret.
type User struct {
	ID, Tenant, Email, Name, Role string
	MFAEnabled, Disabled          bool
	CreatedAt                     time.Time
}

func toUser(u store.User) User {
	return User{ID: u.ID, Tenant: u.TenantID, Email: u.Email, Name: u.Name, Role: u.Role,
		MFAEnabled: u.MFAEnabled, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

// NewUser is a user to create. An empty Password makes the service
// generate one and return it once.
type NewUser struct{ Email, Name, Role, Password string }

// LoginInput is a sign-in attempt.
type LoginInput struct{ Tenant, Email, Password, TOTPCode string }

// Session is the result of a sign-in or a refresh: an access token, the
// refresh token that replaces the one presented, and the signed-in user.
type Session struct {
	AccessToken      string
	TokenID          string // the access token's jti
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time // the session's absolute end
	SessionID        string
	User             User
}

// TOTPEnrollment is a pending TOTP secret, shown to the user once.
type TOTPEnrollment struct {
	Secret string
	URL    string // the otpauth:// URL for authenticator apps (and QR codes)
}

// APIKey is a tenant's API key as callers see it: never its secret or hash.
type APIKey struct {
	ID, Tenant, Name, Role, CreatedBy string
	// Prefix is "imk_<id>", the public start of the key, so a user can tell
	// which key is which.
	Prefix    string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// NewAPIKey is an API key to create; a zero ExpiresAt means no expiry.
type NewAPIKey struct {
	Name, Role, CreatedBy string
	ExpiresAt             time.Time
}

// TenantExists reports whether tenant is a tenant's id, exactly as given.
// An id that cannot be a tenant's is false without a read.
func (s *Service) TenantExists(ctx context.Context, tenant string) (bool, error) {
	if !auth.ValidTenant(tenant) {
		return false, nil
	}
	_, err := s.st.Tenants.Get(ctx, tenant)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("identity: read tenant: %w", err)
}

// ListTenants returns every tenant (the platform operator's view).
func (s *Service) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	ts, err := s.st.Tenants.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: list tenants: %w", err)
	}
	// The operators' own tenant is the platform's, not a customer's.
	return slices.DeleteFunc(ts, func(t store.Tenant) bool { return t.ID == auth.PlatformTenant }), nil
}
