package identity

import (
	"context"
	"crypto/rand"
	_ "embed" // the breached-password list
	"errors"
	"fmt"
	"strings"

	"github.com/alexedwards/argon2id"
	"golang.org/x/text/unicode/norm"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// passwordParams are the OWASP Password Storage Cheat Sheet's argon2id
// settings: "a minimum configuration of 19 MiB of memory, an iteration
// count of 2, and 1 degree of parallelism"
// (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id),
// with a 16-byte salt (RFC 9106 section 4: 128 bits suffice) and a 32-byte
// key. The
// parameters are stored in each hash, so raising them later still
// verifies existing passwords.
var passwordParams = &argon2id.Params{
	Memory:      19 * 1024, // KiB
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// generatedPasswordLen characters from a 62-symbol alphabet carry about
// 119 bits of entropy.
const generatedPasswordLen = 20

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// generatePassword returns generatedPasswordLen characters chosen
// uniformly from passwordAlphabet with crypto/rand.
func generatePassword() (string, error) {
	// Bytes at or above the largest multiple of the alphabet size are
	// rejected, so every symbol is equally likely.
	const limit = 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, generatedPasswordLen)
	buf := make([]byte, 32)
	for len(out) < generatedPasswordLen {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < generatedPasswordLen {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}

// normalizePassword is the form of a password that is hashed and compared:
// its Unicode NFKC normalisation, so that one password typed on two
// keyboards or systems (a composed "é" or an "e" and a combining accent, a
// full-width "Ａ" or an "A") is one password (NIST SP 800-63B section
// 5.1.1.2: "the verifier SHOULD apply the Normalization Process for
// Stabilized Strings using either the NFKC or NFKD normalization").
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

// breachedPasswords is breached/passwords.txt: the entries of 12 characters
// or more of the UK NCSC's 100,000 most used passwords, lower case, one a
// line (source, licence and filter in breached/README.md).
//
//go:embed breached/passwords.txt
var breachedPasswords string

// isBreached reports whether the normalised password pw, in lower case, is
// on the breached list.
func isBreached(pw string) bool {
	key := strings.ToLower(pw)
	if key == "" || strings.Contains(key, "\n") {
		return false
	}
	return strings.HasPrefix(breachedPasswords, key+"\n") || strings.Contains(breachedPasswords, "\n"+key+"\n")
}

// hashPassword returns the argon2id hash of pw's normalised form with the
// service's parameters (passwordParams unless Options.PasswordParams).
func (s *Service) hashPassword(pw string) (string, error) {
	h, err := argon2id.CreateHash(normalizePassword(pw), s.opt.PasswordParams)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// validCurrentPassword bounds a presented password sent under field, as
// validLoginPassword does for sign-in.
func validCurrentPassword(field, pw string) error {
	if err := validLoginPassword(pw); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return &FieldError{Field: field, Reason: fe.Reason}
		}
		return err
	}
	return nil
}

// verifyPassword checks a signed-in user's password under the sign-in
// lockout of their (tenant, email): the attempt is counted before the
// comparison, exactly as a sign-in is (Attempts.Reserve), so a stolen access
// token cannot be used to guess the password faster than the sign-in form
// allows, and a locked account refuses the right password too. A wrong
// password (or a disabled user) is ErrInvalidCredentials and stays
// counted; the right one clears the count, as a sign-in does; a locked
// account is a *LockedError.
func (s *Service) verifyPassword(ctx context.Context, u store.User, password string) error {
	return s.underLockout(ctx, u.TenantID, u.Email, "check password", func() error {
		ok, err := s.matchPassword(ctx, u, password)
		if err != nil {
			return fmt.Errorf("identity: check password: %w", err)
		}
		if !ok || u.Disabled {
			return ErrInvalidCredentials
		}
		return nil
	})
}

// matchPassword compares a presented password with u's stored hash, in its
// normalised form (normalizePassword). Passwords set before normalisation
// was applied were hashed as typed, so when the normalised form does not
// match and differs from the presented one, the presented one is compared
// too; if that matches, the hash is replaced by one of the normalised form
// (only if it is still the hash compared, so a change made meanwhile is
// not undone), and the next sign-in needs one comparison. An ASCII password
// is its own NFKC form, so only non-ASCII passwords ever take the second
// comparison (compareDummy does the same, so timing tells nothing of
// whether the account exists).
func (s *Service) matchPassword(ctx context.Context, u store.User, password string) (bool, error) {
	normal := normalizePassword(password)
	ok, err := argon2id.ComparePasswordAndHash(normal, u.PasswordHash)
	if err != nil {
		return false, fmt.Errorf("user %s has an unreadable password hash: %w", u.ID, err)
	}
	if ok || normal == password {
		return ok, nil
	}
	if ok, err = argon2id.ComparePasswordAndHash(password, u.PasswordHash); err != nil || !ok {
		return false, err
	}
	hash, err := s.hashPassword(normal)
	if err == nil {
		_, err = s.st.Credentials.RehashPassword(ctx, u.TenantID, u.ID, u.PasswordHash, hash)
	}
	if err != nil {
		// The password was right; the rehash is tried again next time.
		s.log.WarnContext(ctx, "could not store the normalised password hash", "tenant", u.TenantID, "user", u.ID, "err", err)
	}
	return true, nil
}

// ChangePassword is a signed-in user changing their own password: current
// must be their password (checked under the sign-in lockout, see
// verifyPassword) and next follows the password policy and differs from it.
// Every other session of the user is then revoked, with its refresh tokens
// and access tokens, on every replica: whoever knew the old password and
// signed in with it is out. The session keep (the one the change was made
// in) stays signed in; an empty keep revokes every session.
//
// Errors: a FieldError naming current_password or new_password,
// ErrInvalidCredentials for a wrong current password, *LockedError, and
// ErrNotFound for another tenant's user.
func (s *Service) ChangePassword(ctx context.Context, tenant, userID, keep, current, next string) error {
	if current == "" {
		return &FieldError{Field: "current_password", Reason: "is required"}
	}
	if err := validCurrentPassword("current_password", current); err != nil {
		return err
	}
	if next == "" {
		return &FieldError{Field: "new_password", Reason: "is required"}
	}
	if err := validPassword("new_password", next); err != nil {
		return err
	}
	u, err := s.getUser(ctx, "change password", tenant, userID)
	if err != nil {
		return err
	}
	if err := s.verifyPassword(ctx, u, current); err != nil {
		return err
	}
	if normalizePassword(next) == normalizePassword(current) {
		return &FieldError{Field: "new_password", Reason: "must differ from the current password"}
	}
	if err := s.setPassword(ctx, "change password", tenant, userID, next); err != nil {
		return err
	}
	now := s.now()
	sids, err := s.st.Sessions.RevokeUserExcept(ctx, tenant, userID, keep, now)
	if err != nil {
		return fmt.Errorf("identity: change password: revoke other sessions: %w", err)
	}
	if err := s.st.Revocations.RevokeSessions(ctx, sids, s.revocationTTL()); err != nil {
		return fmt.Errorf("identity: change password: revoke the other sessions' access tokens: %w", err)
	}
	return nil
}

// ResetPassword is an owner's or admin's reset of one of tenant's users'
// password, for a user who forgot theirs: with an empty password one is
// generated and returned (the only time it is shown); otherwise it must
// follow the policy and the returned string is empty. Every session of the
// user is revoked, and the sign-in lockout of the account is cleared so the
// new password works at once. The second factor is left as it is (ResetMFA
// is separate). Errors: a FieldError naming new_password, ErrNotFound.
func (s *Service) ResetPassword(ctx context.Context, tenant, userID, password string) (string, error) {
	if password != "" {
		if err := validPassword("new_password", password); err != nil {
			return "", err
		}
	}
	u, err := s.getUser(ctx, "reset password", tenant, userID)
	if err != nil {
		return "", err
	}
	generated := ""
	if password == "" {
		if password, err = generatePassword(); err != nil {
			return "", fmt.Errorf("identity: reset password: %w", err)
		}
		generated = password
	}
	if err := s.setPassword(ctx, "reset password", tenant, userID, password); err != nil {
		return "", err
	}
	if err := s.RevokeUserSessions(ctx, tenant, userID); err != nil {
		return "", err
	}
	if err := s.st.Attempts.Clear(ctx, u.TenantID, u.Email); err != nil {
		return "", fmt.Errorf("identity: reset password: clear the lockout: %w", err)
	}
	return generated, nil
}

// setPassword hashes pw and stores it as the user's password.
func (s *Service) setPassword(ctx context.Context, op, tenant, userID, pw string) error {
	hash, err := s.hashPassword(pw)
	if err != nil {
		return fmt.Errorf("identity: %s: %w", op, err)
	}
	if _, err := s.st.Credentials.SetPassword(ctx, tenant, userID, hash); err != nil {
		return notFound(op, err)
	}
	return nil
}
