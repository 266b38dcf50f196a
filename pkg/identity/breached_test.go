package identity

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestBreachedListShape holds breached/passwords.txt to what its README
// says: sorted by byte value, lower case, no duplicates, every entry 12
// characters or more (shorter ones could never match), 1,187 entries.
func TestBreachedListShape(t *testing.T) {
	t.Parallel()
	require.True(t, strings.HasSuffix(breachedPasswords, "\n"))
	entries := strings.Split(strings.TrimSuffix(breachedPasswords, "\n"), "\n")
	require.Len(t, entries, 1187)
	require.True(t, slices.IsSorted(entries))
	require.Len(t, slices.Compact(slices.Clone(entries)), len(entries), "no duplicates")
	for _, e := range entries {
		require.GreaterOrEqual(t, utf8.RuneCountInString(e), minPasswordLen, e)
		require.Equal(t, strings.ToLower(e), e)
		require.Equal(t, normalizePassword(e), e)
		require.True(t, isBreached(e), e)
	}
}

// TestValidPasswordBreached: a new password on the list is refused in any
// case and in any Unicode form that normalises to it; others pass.
func TestValidPasswordBreached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pw string
		breached bool
	}{
		{"the first entry", "000000000000", true},
		{"an entry", "qwerty123456", true},
		{"an entry in upper case", "QWERTY123456", true},
		{"an entry in full-width letters and digits (NFKC)", "ｑｗｅｒｔｙ１２３４５６", true},
		{"the last entry", strings.Split(strings.TrimSuffix(breachedPasswords, "\n"), "\n")[1186], true},
		{"an entry with a character more", "qwerty1234567x", false},
		{"part of an entry", "werty123456", false},
		{"a passphrase", "a long enough passphrase", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validPassword("password", tc.pw)
			if !tc.breached {
				if err != nil {
					require.NotContains(t, err.Error(), "breached")
				}
				return
			}
			require.EqualError(t, err, "password: is in a list of commonly breached passwords")
		})
	}
}

// TestNormalizePassword: one password typed two ways is one password.
func TestNormalizePassword(t *testing.T) {
	t.Parallel()
	require.Equal(t, normalizePassword("caf\u00e9 au lait, s'il vous pla\u00eet"), normalizePassword("cafe\u0301 au lait, s'il vous plai\u0302t"))
	require.Equal(t, "fine passphrase", normalizePassword("\ufb01ne passphrase"))
	require.Equal(t, "ABC", normalizePassword("\uff21\uff22\uff23"))
}
