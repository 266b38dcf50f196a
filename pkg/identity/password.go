package identity

import (
	"crypto/rand"
	"fmt"

	"github.com/alexedwards/argon2id"
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

// hashPassword returns the argon2id hash of pw with passwordParams.
func hashPassword(pw string) (string, error) {
	h, err := argon2id.CreateHash(pw, passwordParams)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}
