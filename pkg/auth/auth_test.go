package auth

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "infra-mind-test"
)

func mustKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	require.NoError(t, err)
	return k
}

func validClaims(now time.Time) Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "user-1",
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        "jti-1",
		},
		Tenant: "acme",
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	tok, err := NewSigner(priv, testIssuer, testAudience).Issue("user-1", "acme", []string{"admin"}, time.Hour)
	require.NoError(t, err)

	claims, err := NewVerifier(pub, testIssuer, testAudience).Verify(tok)
	require.NoError(t, err)
	require.Equal(t, "acme", claims.Tenant)
	require.Equal(t, "user-1", claims.Subject)
	require.Equal(t, []string{"admin"}, claims.Roles)
	require.NotEmpty(t, claims.ID)

	other, err := NewSigner(priv, testIssuer, testAudience).Issue("user-1", "acme", nil, time.Hour)
	require.NoError(t, err)
	otherClaims, err := NewVerifier(pub, testIssuer, testAudience).Verify(other)
	require.NoError(t, err)
	require.NotEqual(t, claims.ID, otherClaims.ID, "every token gets its own jti")
}

func TestIssueRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := NewSigner(mustKey(t), testIssuer, testAudience)
	_, err := s.Issue("u", "", nil, time.Hour)
	require.Error(t, err)
	_, err = s.Issue("u", "a b", nil, time.Hour)
	require.Error(t, err)
	_, err = s.Issue("u", "acme", nil, 0)
	require.Error(t, err)
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	kid := KeyID(pub)
	otherPriv := mustKey(t)
	now := time.Now().UTC().Truncate(time.Second)

	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  string
	}{
		{
			name: "alg none",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims(now))
			},
			want: "signing method",
		},
		{
			name: "HS256 keyed with the public key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, []byte(pub), kid, validClaims(now))
			},
			want: "signing method",
		},
		{
			name: "wrong kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, priv, "not-our-key", validClaims(now))
			},
			want: "unknown key id",
		},
		{
			name: "missing kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, priv, "", validClaims(now))
			},
			want: "unknown key id",
		},
		{
			name: "signed by another key under our kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, otherPriv, kid, validClaims(now))
			},
			want: "signature is invalid",
		},
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				good := sign(t, jwt.SigningMethodEdDSA, priv, kid, validClaims(now))
				c := validClaims(now)
				c.Tenant = "other-tenant"
				forged := sign(t, jwt.SigningMethodEdDSA, otherPriv, kid, c)
				parts, forgedParts := strings.Split(good, "."), strings.Split(forged, ".")
				return parts[0] + "." + forgedParts[1] + "." + parts[2]
			},
			want: "signature is invalid",
		},
		{
			name: "expired",
			token: func(t *testing.T) string {
				c := validClaims(now.Add(-2 * time.Hour))
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "expired",
		},
		{
			name: "no exp",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.ExpiresAt = nil
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "exp claim is required",
		},
		{
			name: "nbf in the future",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.NotBefore = jwt.NewNumericDate(now.Add(10 * time.Minute))
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "not valid yet",
		},
		{
			name: "iat in the future",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.IssuedAt = jwt.NewNumericDate(now.Add(10 * time.Minute))
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "before issued",
		},
		{
			name: "missing nbf",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.NotBefore = nil
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "nbf and iat",
		},
		{
			name: "missing tenant",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.Tenant = ""
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "tenant claim is missing",
		},
		{
			name: "tenant that would change a subject",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.Tenant = "acme.>"
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "not a valid tenant id",
		},
		{
			name: "missing jti",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.ID = ""
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "jti claim is missing",
		},
		{
			name: "wrong issuer",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.Issuer = "https://evil.test"
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "issuer",
		},
		{
			name: "wrong audience",
			token: func(t *testing.T) string {
				c := validClaims(now)
				c.Audience = jwt.ClaimStrings{"someone-else"}
				return sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
			},
			want: "audience",
		},
		{
			name:  "garbage",
			token: func(*testing.T) string { return "not.a.jwt" },
			want:  "malformed",
		},
		{
			name:  "empty",
			token: func(*testing.T) string { return "" },
			want:  "malformed",
		},
	}
	v := NewVerifier(pub, testIssuer, testAudience)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			claims, err := v.Verify(tc.token(t))
			require.Nil(t, claims)
			require.ErrorIs(t, err, ErrInvalidToken)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestValidClaimsAccepted(t *testing.T) {
	t.Parallel()
	// Guards the rejection table: its base claims must pass, so each case fails for its own reason.
	priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	now := time.Now().UTC().Truncate(time.Second)
	_, err := NewVerifier(pub, testIssuer, testAudience).Verify(sign(t, jwt.SigningMethodEdDSA, priv, KeyID(pub), validClaims(now)))
	require.NoError(t, err)
}

func TestKeyPEMRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	privPath, pubPath := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub.pem")

	require.NoError(t, WritePrivateKeyPEM(privPath, priv))
	require.NoError(t, WritePublicKeyPEM(pubPath, pub))

	st, err := os.Stat(privPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(pubPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	gotPriv, err := LoadPrivateKeyPEM(privPath)
	require.NoError(t, err)
	require.True(t, priv.Equal(gotPriv))
	gotPub, err := LoadPublicKeyPEM(pubPath)
	require.NoError(t, err)
	require.True(t, pub.Equal(gotPub))

	_, err = LoadPrivateKeyPEM(pubPath)
	require.ErrorContains(t, err, "PUBLIC KEY")
	_, err = LoadPublicKeyPEM(filepath.Join(dir, "missing.pem"))
	require.Error(t, err)
}

func TestKeyIDStable(t *testing.T) {
	t.Parallel()
	a, b := mustKey(t), mustKey(t)
	pa := a.Public().(ed25519.PublicKey)
	require.Equal(t, KeyID(pa), KeyID(append(ed25519.PublicKey(nil), pa...)))
	require.NotEqual(t, KeyID(pa), KeyID(b.Public().(ed25519.PublicKey)))
	require.Len(t, KeyID(pa), 16)
}
