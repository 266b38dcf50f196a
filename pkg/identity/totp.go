package identity

import (
	"context"
	"errors"
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
//
// An access token alone never enrols, so a stolen one cannot put the
// thief's authenticator on the account and lock its owner out:
//   - While MFA is off (the first enrolment), proof.Password must be the
//     user's password: a FieldError ("password") without one, and
//     ErrInvalidCredentials for a wrong one, which counts towards the
//     account's sign-in lockout like a failed sign-in (see verifyPassword).
//     A code sent is not checked: there is nothing to check it against.
//   - While MFA is on (replacing the authenticator), proof.Code must be a
//     current, unused code of the confirmed secret: ErrMFARequired without
//     one, ErrInvalidMFACode for a wrong or used one (it counts towards the
//     lockout too; a right one is used up, so it cannot be replayed at
//     sign-in or here; see verifyCode). A password sent is not checked:
//     the authenticator in use is the stronger proof.
//
// A code that is not six digits is a FieldError ("code") either way, and a
// locked account is a *LockedError.
func (s *Service) EnrollTOTP(ctx context.Context, tenant, userID string, proof Reauth) (TOTPEnrollment, error) {
	if proof.Code != "" {
		if err := validCode("code", proof.Code); err != nil {
			return TOTPEnrollment{}, err
		}
	}
	if proof.Password != "" {
		if err := validCurrentPassword("password", proof.Password); err != nil {
			return TOTPEnrollment{}, err
		}
	}
	u, err := s.getUser(ctx, "enrol totp", tenant, userID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	switch {
	case u.MFAEnabled && proof.Code == "":
		return TOTPEnrollment{}, fmt.Errorf("identity: enrol totp: MFA is on: %w", ErrMFARequired)
	case u.MFAEnabled:
		err = s.verifyCode(ctx, u, proof.Code)
	case proof.Password == "":
		return TOTPEnrollment{}, &FieldError{Field: "password", Reason: "is required: enrolling an authenticator needs the account's password"}
	default:
		err = s.verifyPassword(ctx, u, proof.Password)
	}
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
	stored, err := s.sealTOTP(tenant, userID, key.Secret())
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("identity: enrol totp: %w", err)
	}
	if _, err := s.st.Credentials.SetPendingTOTP(ctx, tenant, userID, stored); err != nil {
		return TOTPEnrollment{}, notFound("enrol totp", err)
	}
	return TOTPEnrollment{Secret: key.Secret(), URL: key.URL()}, nil
}

// Reauth is what a signed-in user proves again before a change an access
// token alone must not make (enrolling or turning off a second factor): a
// current code from their authenticator app, or their password.
// DisableTOTP takes exactly one; EnrollTOTP takes the one the account's
// state asks for.
type Reauth struct {
	Code     string
	Password string
}

// DisableTOTP turns one of tenant's users' second factor off, after proof
// that the request comes from the user and not only from their access
// token: a current, unused TOTP code (a wrong one counts towards the
// sign-in lockout, a right one is used up), or the password (a wrong one counts towards the
// sign-in lockout of the account, like a failed sign-in). Errors: a
// FieldError ("code" or "password") for a missing, doubled or malformed
// proof, ErrInvalidMFACode, ErrInvalidCredentials, *LockedError, and
// ErrConflict when MFA is not on. The pending enrolment, if any, goes too;
// the user's sessions stay open.
func (s *Service) DisableTOTP(ctx context.Context, tenant, userID string, proof Reauth) error {
	switch {
	case proof.Code == "" && proof.Password == "":
		return &FieldError{Field: "code", Reason: "is required: send the current code from the authenticator app, or password"}
	case proof.Code != "" && proof.Password != "":
		return &FieldError{Field: "password", Reason: "send code or password, not both"}
	case proof.Code != "":
		if err := validCode("code", proof.Code); err != nil {
			return err
		}
	default:
		if err := validCurrentPassword("password", proof.Password); err != nil {
			return err
		}
	}
	u, err := s.getUser(ctx, "disable totp", tenant, userID)
	if err != nil {
		return err
	}
	if !u.MFAEnabled {
		return conflict("disable totp", "the second factor is not on")
	}
	if proof.Code != "" {
		err = s.verifyCode(ctx, u, proof.Code)
	} else {
		err = s.verifyPassword(ctx, u, proof.Password)
	}
	if err != nil {
		return err
	}
	if _, err := s.st.Credentials.DisableTOTP(ctx, tenant, userID); err != nil {
		return notFound("disable totp", err)
	}
	return nil
}

// ResetMFA is an admin's answer to a lost authenticator: one of tenant's
// users' second factor is turned off (secret and pending enrolment
// removed) and every session of theirs revoked, so whoever holds one of
// their sessions has to sign in again, with the password alone, and can
// then enrol a new authenticator. Resetting a user without MFA still
// revokes their sessions. ErrNotFound for another tenant's user.
func (s *Service) ResetMFA(ctx context.Context, tenant, userID string) error {
	if _, err := s.getUser(ctx, "reset mfa", tenant, userID); err != nil {
		return err
	}
	if _, err := s.st.Credentials.DisableTOTP(ctx, tenant, userID); err != nil {
		return notFound("reset mfa", err)
	}
	return s.RevokeUserSessions(ctx, tenant, userID)
}

// validCode checks a TOTP code sent under field (the sign-in calls it
// totp_code; the account routes call it code).
func validCode(field, code string) error {
	if err := validTOTPCode(code); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return &FieldError{Field: field, Reason: fe.Reason}
		}
		return err
	}
	return nil
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
		return conflict("confirm totp", "no enrolment is pending")
	}
	stored, err := s.useTOTPCode(ctx, u, store.FieldTOTPPending, u.TOTPPending, code)
	if err != nil {
		return err
	}
	// The sealed form moves as it is: it is bound to the user, not the field.
	if _, err := s.st.Credentials.EnableTOTP(ctx, tenant, userID, stored); err != nil {
		return notFound("confirm totp", err)
	}
	return nil
}

// verifyCode checks a signed-in user's current code before a change an
// access token alone must not make. Like verifyPassword it runs under the
// account's sign-in lockout: a wrong or replayed code stays counted, so a
// stolen access token cannot guess codes (a million of them) at the
// request rate; the right one clears the count.
func (s *Service) verifyCode(ctx context.Context, u store.User, code string) error {
	return s.underLockout(ctx, u.TenantID, u.Email, "check code", func() error {
		_, err := s.useTOTPCode(ctx, u, store.FieldTOTPSecret, u.TOTPSecret, code)
		return err
	})
}

// useTOTPCode accepts code once for the secret stored in u's field: it must
// be valid now (within the skew) and not used by u before while still
// valid. ErrInvalidMFACode otherwise. It returns the secret's stored form,
// sealed again with the current key when it was in plain text or under an
// older key (and stored so, unless it changed meanwhile).
func (s *Service) useTOTPCode(ctx context.Context, u store.User, field, stored, code string) (string, error) {
	secret, err := s.openTOTP(u, stored)
	if err != nil {
		return "", fmt.Errorf("identity: totp secret of user %s: %w", u.ID, err)
	}
	ok, err := totp.ValidateCustom(code, secret, s.opt.Now(), totpOpts)
	if err != nil {
		return "", fmt.Errorf("identity: validate totp code: %w", err)
	}
	if !ok {
		return "", ErrInvalidMFACode
	}
	fresh, err := s.st.Attempts.UseCode(ctx, u.TenantID, u.ID, code, totpUsedTTL)
	if err != nil {
		return "", fmt.Errorf("identity: record totp code: %w", err)
	}
	if !fresh {
		return "", ErrInvalidMFACode
	}
	return s.resealTOTP(ctx, u, field, stored, secret), nil
}

// sealTOTP is the form a new secret of one of tenant's users is stored in:
// sealed with the current key, or plain text without a key set.
func (s *Service) sealTOTP(tenant, userID, secret string) (string, error) {
	if s.opt.TOTPKeys == nil {
		return secret, nil
	}
	return s.opt.TOTPKeys.Keys().seal(tenant, userID, secret)
}

// openTOTP returns the secret a stored form holds.
func (s *Service) openTOTP(u store.User, stored string) (string, error) {
	if !isSealed(stored) {
		return stored, nil // stored before encryption, or without a key set
	}
	if s.opt.TOTPKeys == nil {
		return "", errors.New("the secret is encrypted and no TOTP key set is configured")
	}
	secret, _, err := s.opt.TOTPKeys.Keys().open(u.TenantID, u.ID, stored)
	return secret, err
}

// resealTOTP migrates a stored secret that is in plain text or under a key
// other than the current one: it is sealed with the current key and
// replaced in field, only if the field still holds stored. It returns the
// form to use from now on; a failure is logged and the old form kept (it
// still opens, and the next use tries again).
func (s *Service) resealTOTP(ctx context.Context, u store.User, field, stored, secret string) string {
	if s.opt.TOTPKeys == nil {
		return stored
	}
	keys := s.opt.TOTPKeys.Keys()
	if sealedKeyID(stored) == keys.Current() {
		return stored
	}
	next, err := keys.seal(u.TenantID, u.ID, secret)
	if err != nil {
		s.log.WarnContext(ctx, "seal totp secret again", "tenant", u.TenantID, "user_id", u.ID, "err", err)
		return stored
	}
	done, err := s.st.Credentials.ReplaceTOTPSecret(ctx, u.TenantID, u.ID, field, stored, next)
	if err != nil {
		s.log.WarnContext(ctx, "store totp secret sealed again", "tenant", u.TenantID, "user_id", u.ID, "err", err)
		return stored
	}
	if !done {
		return stored // changed meanwhile: the new value is not ours to replace
	}
	s.log.InfoContext(ctx, "totp secret sealed with the current key", "tenant", u.TenantID, "user_id", u.ID,
		"from_key", sealedKeyID(stored), "to_key", keys.Current())
	return next
}
