package identity

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/infra-mind/infra-mind/pkg/auth"
)

// Input limits.
const (
	// maxEmailLen: the longest address a mail path can carry (RFC 5321
	// section 4.5.3.1.3 limits a path to 256 octets including the two angle
	// brackets; RFC 3696 erratum 1690).
	maxEmailLen = 254
	// minPasswordLen and maxPasswordLen follow NIST SP 800-63B section
	// 5.1.1.2 (length over composition): no composition rules (no "one
	// digit, one symbol"), at least 8 characters required, at least 64
	// permitted. Our minimum of 12 sits between that floor and the 15 that
	// SP 800-63B-4 (2025) asks of password-only sign-in; the cap of 128
	// stops an attacker from making the KDF hash megabytes per attempt.
	minPasswordLen = 12
	maxPasswordLen = 128
	maxNameLen     = 100
	totpDigits     = 6
)

// validTenantID checks a tenant id for creating things in it: a valid
// tenant id (auth.ValidTenant) that does not start with '_' (reserved for
// the platform, auth.PlatformTenant).
func validTenantID(field, id string) error {
	if id == "" {
		return &FieldError{Field: field, Reason: "is required"}
	}
	if !auth.ValidTenant(id) {
		return &FieldError{Field: field, Reason: "must be 1 to 64 letters, digits, '-' or '_'"}
	}
	if strings.HasPrefix(id, "_") {
		return &FieldError{Field: field, Reason: "must not start with '_' (reserved for the platform)"}
	}
	return nil
}

// normalizeEmail returns the address lower-cased, or a FieldError: a bare
// RFC 5322 addr-spec (net/mail), no display name, at most 254 characters.
func normalizeEmail(field, email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", &FieldError{Field: field, Reason: "is required"}
	}
	if len(email) > maxEmailLen {
		return "", &FieldError{Field: field, Reason: "must be at most 254 characters"}
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", &FieldError{Field: field, Reason: "must be an email address such as name@example.com"}
	}
	return strings.ToLower(addr.Address), nil
}

// validPassword applies the password policy to a new password, in the
// normalised form it is stored in (normalizePassword): 12 to 128
// characters, and not on the list of commonly breached passwords (NIST SP
// 800-63B section 5.1.1.2: a verifier SHALL compare new passwords against
// "passwords obtained from previous breach corpuses"), compared in lower
// case so that changing the case of a listed password does not pass.
func validPassword(field, pw string) error {
	if !utf8.ValidString(pw) {
		return &FieldError{Field: field, Reason: "must be valid UTF-8"}
	}
	normal := normalizePassword(pw)
	n := utf8.RuneCountInString(normal)
	switch {
	case n < minPasswordLen:
		return &FieldError{Field: field, Reason: "must be at least 12 characters"}
	case n > maxPasswordLen:
		return &FieldError{Field: field, Reason: "must be at most 128 characters"}
	case isBreached(normal):
		return &FieldError{Field: field, Reason: "is in a list of commonly breached passwords"}
	}
	return nil
}

// validLoginPassword only bounds a presented password: the policy may have
// changed since it was set, and a short one simply does not match.
func validLoginPassword(pw string) error {
	switch {
	case pw == "":
		return &FieldError{Field: "password", Reason: "is required"}
	case utf8.RuneCountInString(pw) > maxPasswordLen:
		return &FieldError{Field: "password", Reason: "must be at most 128 characters"}
	}
	return nil
}

func validName(field, name string) error {
	if utf8.RuneCountInString(name) > maxNameLen {
		return &FieldError{Field: field, Reason: "must be at most 100 characters"}
	}
	if strings.ContainsFunc(name, unicode.IsControl) || !utf8.ValidString(name) {
		return &FieldError{Field: field, Reason: "must be printable text"}
	}
	return nil
}

func validRole(field, role string) error {
	if role == "" {
		return &FieldError{Field: field, Reason: "is required"}
	}
	if !auth.ValidTenantRole(role) {
		return &FieldError{Field: field, Reason: "must be one of " + strings.Join(auth.TenantRoles, ", ")}
	}
	return nil
}

func validTOTPCode(code string) error {
	if len(code) != totpDigits || strings.ContainsFunc(code, func(r rune) bool { return r < '0' || r > '9' }) {
		return &FieldError{Field: "totp_code", Reason: "must be 6 digits"}
	}
	return nil
}

// validNewUser checks nu and returns it with the email normalised; prefix
// names the fields ("" or "owner.").
func validNewUser(prefix string, nu NewUser) (NewUser, error) {
	email, err := normalizeEmail(prefix+"email", nu.Email)
	if err != nil {
		return NewUser{}, err
	}
	nu.Email = email
	nu.Name = strings.TrimSpace(nu.Name)
	if err := validName(prefix+"name", nu.Name); err != nil {
		return NewUser{}, err
	}
	if err := validRole(prefix+"role", nu.Role); err != nil {
		return NewUser{}, err
	}
	if nu.Password != "" {
		if err := validPassword(prefix+"password", nu.Password); err != nil {
			return NewUser{}, err
		}
	}
	return nu, nil
}
