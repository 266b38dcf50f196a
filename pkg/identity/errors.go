package identity

import (
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// Sentinel errors the gateway branches on (errors.Is).
var (
	// ErrInvalidCredentials is the one answer to an unknown tenant, an
	// unknown email, a wrong password, a disabled user and a bad, unknown,
	// expired or revoked API key, so a caller cannot tell which it was.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrLocked is wrapped by *LockedError.
	ErrLocked = errors.New("too many failed sign-ins; try again later")
	// ErrMFARequired: the password was right and the user has MFA on; sign
	// in again with a TOTP code.
	ErrMFARequired = errors.New("a TOTP code is required")
	// ErrInvalidMFACode: wrong or already used TOTP code.
	ErrInvalidMFACode = errors.New("invalid TOTP code")
	// ErrRefreshInvalid: unknown or expired refresh token, or its session
	// was revoked, or its user disabled or signed out everywhere.
	ErrRefreshInvalid = errors.New("invalid refresh token")
	// ErrRefreshReused: a refresh token was presented after it had been
	// rotated; its whole session is now revoked.
	ErrRefreshReused = errors.New("refresh token reused; the session is revoked")
	// ErrRevoked: the access token was revoked (logout, session revoked,
	// user signed out everywhere).
	ErrRevoked = errors.New("token revoked")
	// ErrNotFound: no such user, key or tenant in the caller's tenant
	// (another tenant's id included). It wraps store.ErrNotFound.
	ErrNotFound = fmt.Errorf("identity: %w", store.ErrNotFound)
	// ErrConflict: the email is taken in the tenant, the tenant exists, or
	// the change would leave the tenant without an enabled owner. It wraps
	// store.ErrConflict.
	ErrConflict = fmt.Errorf("identity: %w", store.ErrConflict)
)

// ConflictError is a change refused because of what exists: the email is
// taken, the tenant exists, the tenant would lose its last enabled owner,
// there is no second factor to disable or confirm. It wraps ErrConflict.
type ConflictError struct {
	// Op is the operation refused ("create user").
	Op string
	// Detail says what conflicts, in words the caller can act on
	// ("email a@b.c is taken in tenant acme").
	Detail string
}

func (e *ConflictError) Error() string {
	return "identity: " + e.Op + ": " + e.Detail + ": " + ErrConflict.Error()
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

func conflict(op, format string, args ...any) error {
	return &ConflictError{Op: op, Detail: fmt.Sprintf(format, args...)}
}

// LockedError refuses a sign-in while its (tenant, email) is locked out.
type LockedError struct {
	// RetryAfter is how long until the lockout window ends.
	RetryAfter time.Duration
}

// Error says the sign-in is locked and for how long.
func (e *LockedError) Error() string {
	return fmt.Sprintf("%s (retry after %s)", ErrLocked, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// FieldError is invalid input: the field (its JSON name) and why.
type FieldError struct {
	Field  string
	Reason string
}

// Error is "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// notFound maps a store ErrNotFound to ErrNotFound with context; other
// errors are wrapped as they are.
func notFound(op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("identity: %s: %w", op, ErrNotFound)
	}
	return fmt.Errorf("identity: %s: %w", op, err)
}
