package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
			name: "a crit header it does not understand (RFC 7515 4.1.11)",
			token: func(t *testing.T) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims(now))
				tok.Header["kid"] = kid
				tok.Header["crit"] = []string{"exp-ext"}
				tok.Header["exp-ext"] = true
				out, err := tok.SignedString(priv)
				require.NoError(t, err)
				return out
			},
			want: "crit",
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

// testClock is a settable clock shared by a ring and its verifier, so key
// windows and token lifetimes are checked without sleeping.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// ringFixture is a key ring on a test clock with a verifier for testIssuer
// and testAudience, the way the gateway holds them.
type ringFixture struct {
	clock    *testClock
	ring     *KeyRing
	priv     ed25519.PrivateKey
	kid      string
	verifier *Verifier
}

func newRingFixture(t *testing.T, at time.Time) *ringFixture {
	t.Helper()
	priv := mustKey(t)
	ring, err := NewKeyRing(priv)
	require.NoError(t, err)
	clock := &testClock{now: at}
	ring.now = clock.Now
	return &ringFixture{
		clock: clock, ring: ring, priv: priv, kid: KeyID(priv.Public().(ed25519.PublicKey)),
		verifier: newRingVerifier(ring, testIssuer, testAudience, clock.Now),
	}
}

// issue signs a token with the ring's current key through its Signer.
func (f *ringFixture) issue(t *testing.T, ttl time.Duration) string {
	t.Helper()
	iss, err := f.ring.Signer(testIssuer, testAudience).IssueAccess("user-1", "acme", []string{RoleAnalyst}, "sid-1", ttl, time.Time{})
	require.NoError(t, err)
	return iss.Token
}

// reencodeSegment decodes one base64url segment of tok, lets edit change
// the bytes, and puts them back, leaving the other segments untouched.
func reencodeSegment(t *testing.T, tok string, seg int, edit func([]byte) []byte) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[seg])
	require.NoError(t, err)
	parts[seg] = base64.RawURLEncoding.EncodeToString(edit(raw))
	return strings.Join(parts, ".")
}

// TestOWASPAPI2JWTAttacks is the token part of the OWASP API Security Top 10
// (2023) API2:2023 Broken Authentication suite: forged, stale, misdirected
// and incomplete access tokens are refused with ErrInvalidToken (the gateway
// answers 401), while the "accepted" rows prove each attack's base token is
// otherwise good, so every rejection is for the attack alone. Revoked jti and
// sessions are checked by the gateway after this verification.
func TestOWASPAPI2JWTAttacks(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	attacker := mustKey(t)
	attackerKID := KeyID(attacker.Public().(ed25519.PublicKey))
	const accessTTL = 15 * time.Minute
	retain := accessTTL + ClockSkew

	tests := []struct {
		name  string
		token func(t *testing.T, f *ringFixture) string
		// reject is a phrase of the expected error; "" means the token is
		// accepted (the control rows).
		reject string
	}{
		{
			name:  "accepted: token the ring signed",
			token: func(t *testing.T, f *ringFixture) string { return f.issue(t, accessTTL) },
		},
		{
			name: "accepted: hand-built base claims of the attack rows",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, validClaims(t0))
			},
		},
		{
			name:   "alg none",
			reject: "signing method",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, f.kid, validClaims(t0))
			},
		},
		{
			name:   "algorithm confusion: HS256 keyed with the Ed25519 public key",
			reject: "signing method",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodHS256, []byte(f.priv.Public().(ed25519.PublicKey)), f.kid, validClaims(t0))
			},
		},
		{
			name:   "RS256 token",
			reject: "signing method",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodRS256, rsaKey, f.kid, validClaims(t0))
			},
		},
		{
			name:   "ES256 token",
			reject: "signing method",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodES256, ecKey, f.kid, validClaims(t0))
			},
		},
		{
			name:   "expired",
			reject: "expired",
			token: func(t *testing.T, f *ringFixture) string {
				tok := f.issue(t, accessTTL)
				f.clock.Advance(accessTTL + ClockSkew + time.Second)
				return tok
			},
		},
		{
			name: "accepted: expired by less than the clock skew",
			token: func(t *testing.T, f *ringFixture) string {
				tok := f.issue(t, accessTTL)
				f.clock.Advance(accessTTL + ClockSkew - time.Second)
				return tok
			},
		},
		{
			name:   "nbf in the future beyond the clock skew",
			reject: "not valid yet",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.NotBefore = jwt.NewNumericDate(t0.Add(ClockSkew + time.Second))
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name: "accepted: nbf in the future within the clock skew",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.NotBefore = jwt.NewNumericDate(t0.Add(ClockSkew - time.Second))
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name:   "wrong issuer",
			reject: "issuer",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.Issuer = "https://evil.test"
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name:   "wrong audience",
			reject: "audience",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.Audience = jwt.ClaimStrings{"another-api"}
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name:   "tampered payload with the original signature (tenant and role raised)",
			reject: "signature is invalid",
			token: func(t *testing.T, f *ringFixture) string {
				return reencodeSegment(t, f.issue(t, accessTTL), 1, func(b []byte) []byte {
					var c map[string]any
					require.NoError(t, json.Unmarshal(b, &c))
					c["tenant"], c["roles"] = "other-tenant", []string{RoleOwner}
					out, err := json.Marshal(c)
					require.NoError(t, err)
					return out
				})
			},
		},
		{
			name:   "tampered signature",
			reject: "signature is invalid",
			token: func(t *testing.T, f *ringFixture) string {
				return reencodeSegment(t, f.issue(t, accessTTL), 2, func(b []byte) []byte {
					b[0] ^= 0x01
					return b
				})
			},
		},
		{
			name:   "signed by another key under our kid",
			reject: "signature is invalid",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodEdDSA, attacker, f.kid, validClaims(t0))
			},
		},
		{
			name:   "unknown kid",
			reject: "unknown key id",
			token: func(t *testing.T, _ *ringFixture) string {
				return sign(t, jwt.SigningMethodEdDSA, attacker, attackerKID, validClaims(t0))
			},
		},
		{
			name:   "missing kid",
			reject: "unknown key id",
			token: func(t *testing.T, f *ringFixture) string {
				return sign(t, jwt.SigningMethodEdDSA, f.priv, "", validClaims(t0))
			},
		},
		{
			name:   "own key embedded in a jwk header",
			reject: "unknown key id",
			token: func(t *testing.T, _ *ringFixture) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims(t0))
				tok.Header["kid"] = attackerKID
				tok.Header["jwk"] = map[string]string{
					"kty": "OKP", "crv": "Ed25519", "kid": attackerKID,
					"x": base64.RawURLEncoding.EncodeToString(attacker.Public().(ed25519.PublicKey)),
				}
				s, err := tok.SignedString(attacker)
				require.NoError(t, err)
				return s
			},
		},
		{
			name: "accepted: key rotated out, inside its retain window",
			token: func(t *testing.T, f *ringFixture) string {
				tok := f.issue(t, accessTTL)
				require.NoError(t, f.ring.Rotate(mustKey(t), retain))
				f.clock.Advance(retain - time.Second)
				return tok
			},
		},
		{
			name:   "key rotated out, after its retain window",
			reject: "unknown key id",
			token: func(t *testing.T, f *ringFixture) string {
				// A long-lived token, so only the key's window can refuse it.
				tok := f.issue(t, 24*time.Hour)
				require.NoError(t, f.ring.Rotate(mustKey(t), retain))
				f.clock.Advance(retain)
				return tok
			},
		},
		{
			name:   "verification-only key removed from the bundle",
			reject: "unknown key id",
			token: func(t *testing.T, f *ringFixture) string {
				require.NoError(t, f.ring.SetVerificationKeys([]ed25519.PublicKey{attacker.Public().(ed25519.PublicKey)}))
				tok := sign(t, jwt.SigningMethodEdDSA, attacker, attackerKID, validClaims(t0))
				_, err := f.verifier.Verify(tok)
				require.NoError(t, err, "listed, the key verifies")
				require.NoError(t, f.ring.SetVerificationKeys(nil))
				return tok
			},
		},
		{
			name:   "missing jti",
			reject: "jti claim is missing",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.ID = ""
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name:   "missing tenant",
			reject: "tenant claim is missing",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.Tenant = ""
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name:   "missing iat",
			reject: "nbf and iat claims are required",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.IssuedAt = nil
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
		{
			name:   "missing exp",
			reject: "exp claim is required",
			token: func(t *testing.T, f *ringFixture) string {
				c := validClaims(t0)
				c.ExpiresAt = nil
				return sign(t, jwt.SigningMethodEdDSA, f.priv, f.kid, c)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRingFixture(t, t0)
			tok := tc.token(t, f)
			claims, err := f.verifier.Verify(tok)
			if tc.reject == "" {
				require.NoError(t, err)
				require.Equal(t, "acme", claims.Tenant)
				return
			}
			require.Nil(t, claims)
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorContains(t, err, tc.reject)
		})
	}
}

// TestIssueAccessFrom: a token asked for from a later time is issued from
// that second (iat, nbf and exp follow it) and still verifies within the
// clock-skew leeway; an earlier or zero time changes nothing.
func TestIssueAccessFrom(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 400_000_000, time.UTC)
	f := newRingFixture(t, at)
	signer := f.ring.Signer(testIssuer, testAudience)
	tests := []struct {
		name string
		from time.Time
		want time.Time
	}{
		{"no from: now, in whole seconds", time.Time{}, at.Truncate(time.Second)},
		{"an earlier from: now", at.Add(-time.Hour), at.Truncate(time.Second)},
		{"the next second", at.Truncate(time.Second).Add(time.Second), at.Truncate(time.Second).Add(time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss, err := signer.IssueAccess("user-1", "acme", []string{RoleAnalyst}, "sid-1", time.Minute, tc.from)
			require.NoError(t, err)
			cl, err := f.verifier.Verify(iss.Token)
			require.NoError(t, err)
			require.Equal(t, tc.want, cl.IssuedAt.Time.UTC())
			require.Equal(t, tc.want, cl.NotBefore.Time.UTC())
			require.Equal(t, tc.want.Add(time.Minute), cl.ExpiresAt.Time.UTC())
			require.Equal(t, tc.want.Add(time.Minute), iss.ExpiresAt)
		})
	}
}
