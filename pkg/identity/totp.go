package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// totpPeriod and totpSkew: the RFC 6238 defaults authenticator apps use
// (30-second steps, SHA-1, 6 digits), accepting the step before and after
// the current one for clock drift (RFC 6238 section 5.2 recommends at most
// one step of network delay).
const (
	totpPeriod = 30
	totpSkew   = 1
)

// totpUsedTTL covers every step a code is valid in (the current one and
// one each side), so a code cannot be replayed while it is still valid.
const totpUsedTTL = (2*totpSkew + 1) * totpPeriod * time.Second

var totpOpts = totp.ValidateOpts{
	Period:    totpPeriod,
	Skew:      totpSkew,
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// EnrollTOTP starts TOTP enrolment: a new secret is stored as pending and
// returned with its otpauth:// URL. MFA is unchanged (off, or on with the
// current secret) until ConfirmTOTP proves the user's app has the new one.
func (s *Service) EnrollTOTP(ctx context.Context, tenant, userID string) (TOTPEnrollment, error) {
	u, err := s.getUser(ctx, "enrol totp", tenant, userID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.opt.TOTPIssuer, AccountName: u.Email,
		Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("identity: enrol totp: %w", err)
	}
	if _, err := s.st.Users.SetPendingTOTP(ctx, tenant, userID, key.Secret()); err != nil {
		return TOTPEnrollment{}, notFound("enrol totp", err)
	}
	return TOTPEnrollment{Secret: key.Secret(), URL: key.URL()}, nil
}

// ConfirmTOTP turns MFA on with the pending secret when code is a valid,
// unused code for it; ErrInvalidMFACode otherwise, ErrConflict when no
// enrolment is pending.
func (s *Service) ConfirmTOTP(ctx context.Context, tenant, userID, code string) error {
	if err := validTOTPCode(code); err != nil {
		return err
	}
	u, err := s.getUser(ctx, "confirm totp", tenant, userID)
	if err != nil {
		return err
	}
	if u.TOTPPending == "" {
		return fmt.Errorf("identity: confirm totp: no enrolment is pending: %w", ErrConflict)
	}
	if err := s.useTOTPCode(ctx, u, u.TOTPPending, code); err != nil {
		return err
	}
	if _, err := s.st.Users.EnableTOTP(ctx, tenant, userID, u.TOTPPending); err != nil {
		return notFound("confirm totp", err)
	}
	return nil
}

// useTOTPCode accepts code for secret once: it must be valid now (within
// the skew) and not used by u before while still valid. ErrInvalidMFACode
// otherwise.
func (s *Service) useTOTPCode(ctx context.Context, u store.User, secret, code string) error {
	ok, err := totp.ValidateCustom(code, secret, s.opt.Now(), totpOpts)
	if err != nil {
		return fmt.Errorf("identity: validate totp code: %w", err)
	}
	if !ok {
		return ErrInvalidMFACode
	}
	// The key parts are ours: a tenant id, a user id and six digits.
	key := "auth:totp:used:" + u.TenantID + ":" + u.ID + ":" + code
	fresh, err := s.rdb.SetNX(ctx, key, "1", totpUsedTTL).Result()
	if err != nil {
		return fmt.Errorf("identity: record totp code: %w", err)
	}
	if !fresh {
		return ErrInvalidMFACode
	}
	return nil
}
