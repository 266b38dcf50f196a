package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// headerKID is the kid a token was signed under, read without verifying.
func headerKID(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	require.NoError(t, err)
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

func jwksKIDs(r *KeyRing) []string {
	var kids []string
	for _, k := range r.JWKS().Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestKeyRingRotation(t *testing.T) {
	t.Parallel()
	f := newRingFixture(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	retain := 15*time.Minute + ClockSkew
	first := f.kid
	old := f.issue(t, 15*time.Minute)
	require.Equal(t, first, headerKID(t, old))

	next := mustKey(t)
	require.NoError(t, f.ring.Rotate(next, retain))
	fresh := f.issue(t, 15*time.Minute)
	require.Equal(t, KeyID(pubOf(next)), headerKID(t, fresh), "new tokens are signed with the new key")
	require.Equal(t, KeyID(pubOf(next)), f.ring.CurrentKeyID())
	require.Equal(t, []string{KeyID(pubOf(next)), first}, jwksKIDs(f.ring), "current first, the previous key still published")
	_, err := f.verifier.Verify(old)
	require.NoError(t, err, "a token of the previous key verifies until it expires")

	// Rotating to the current key again (a watcher re-reading the same
	// secret) must not retire it or extend anything.
	require.NoError(t, f.ring.Rotate(next, retain))
	require.Equal(t, []string{KeyID(pubOf(next)), first}, jwksKIDs(f.ring))

	f.clock.Advance(retain)
	require.Equal(t, []string{KeyID(pubOf(next))}, jwksKIDs(f.ring), "the previous key is gone after its window")
	_, err = f.verifier.Verify(fresh)
	require.ErrorIs(t, err, ErrInvalidToken, "the fresh token has expired by now too")
	fresh = f.issue(t, 15*time.Minute)
	_, err = f.verifier.Verify(fresh)
	require.NoError(t, err)

	// Rotating back to a key still retained makes it current and drops its
	// retained entry, so it is listed once.
	third := mustKey(t)
	require.NoError(t, f.ring.Rotate(third, retain))
	require.NoError(t, f.ring.Rotate(next, retain))
	require.Equal(t, []string{KeyID(pubOf(next)), KeyID(pubOf(third))}, jwksKIDs(f.ring))

	require.ErrorIs(t, f.ring.Rotate(nil, retain), ErrInvalidKey)
	require.Equal(t, KeyID(pubOf(next)), f.ring.CurrentKeyID(), "a bad key leaves the ring as it was")
}

func TestKeyRingRotateWithoutRetainDropsOldKey(t *testing.T) {
	t.Parallel()
	f := newRingFixture(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	old := f.issue(t, 15*time.Minute)
	require.NoError(t, f.ring.Rotate(mustKey(t), 0))
	_, err := f.verifier.Verify(old)
	require.ErrorIs(t, err, ErrInvalidToken)
	require.ErrorContains(t, err, "unknown key id")
}

func TestKeyRingVerificationKeys(t *testing.T) {
	t.Parallel()
	f := newRingFixture(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	prev := mustKey(t)
	prevTok, err := NewSigner(prev, testIssuer, testAudience).Issue("user-1", "acme", nil, time.Hour)
	require.NoError(t, err)
	f.verifier = NewRingVerifier(f.ring, testIssuer, testAudience) // real clock: the token was issued now

	_, err = f.verifier.Verify(prevTok)
	require.ErrorIs(t, err, ErrInvalidToken, "an unlisted key does not verify")

	require.NoError(t, f.ring.SetVerificationKeys([]ed25519.PublicKey{pubOf(prev), pubOf(f.priv)}))
	_, err = f.verifier.Verify(prevTok)
	require.NoError(t, err, "a listed key verifies")
	require.Equal(t, []string{f.kid, KeyID(pubOf(prev))}, jwksKIDs(f.ring), "the signing key is listed once, first")

	require.ErrorIs(t, f.ring.SetVerificationKeys([]ed25519.PublicKey{pubOf(prev), {1, 2, 3}}), ErrInvalidKey)
	_, err = f.verifier.Verify(prevTok)
	require.NoError(t, err, "a rejected set leaves the previous one in place")

	require.NoError(t, f.ring.SetVerificationKeys(nil))
	_, err = f.verifier.Verify(prevTok)
	require.ErrorIs(t, err, ErrInvalidToken)
}

func TestNewKeyRingRejectsInvalidKeys(t *testing.T) {
	t.Parallel()
	good := mustKey(t)
	tests := []struct {
		name       string
		signing    ed25519.PrivateKey
		verifyOnly []ed25519.PublicKey
	}{
		{name: "no signing key", signing: nil},
		{name: "short signing key", signing: good[:32]},
		{name: "short verification key", signing: good, verifyOnly: []ed25519.PublicKey{pubOf(good)[:16]}},
		{name: "empty verification key", signing: good, verifyOnly: []ed25519.PublicKey{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewKeyRing(tc.signing, tc.verifyOnly...)
			require.Nil(t, r)
			require.ErrorIs(t, err, ErrInvalidKey)
		})
	}
}

func TestSignerWithoutValidKeyFails(t *testing.T) {
	t.Parallel()
	_, err := NewSigner(nil, testIssuer, testAudience).Issue("u", "acme", nil, time.Hour)
	require.ErrorContains(t, err, "no valid ed25519 key")
	_, err = NewVerifier(nil, testIssuer, testAudience).Verify(sign(t, jwt.SigningMethodEdDSA, mustKey(t), "", validClaims(time.Now())))
	require.ErrorIs(t, err, ErrInvalidToken)
}

// TestJWKSVerifiesRingTokens does what another service or an event
// subscriber does: fetch the JWKS document, decode it with go-jose, pick the
// key by the token's kid and verify the token with it.
func TestJWKSVerifiesRingTokens(t *testing.T) {
	t.Parallel()
	f := newRingFixture(t, time.Now().UTC().Truncate(time.Second))
	prev := mustKey(t)
	require.NoError(t, f.ring.SetVerificationKeys([]ed25519.PublicKey{pubOf(prev)}))
	tok := f.issue(t, 15*time.Minute)

	doc, err := f.ring.JWKSJSON()
	require.NoError(t, err)
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(doc, &raw))
	require.Len(t, raw.Keys, 2)
	for _, k := range raw.Keys {
		require.Equal(t, "OKP", k["kty"])
		require.Equal(t, "Ed25519", k["crv"])
		require.Equal(t, "EdDSA", k["alg"])
		require.Equal(t, "sig", k["use"])
		require.NotContains(t, k, "d", "no private part is published")
	}
	require.Equal(t, f.kid, raw.Keys[0]["kid"], "the current key comes first")

	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal(doc, &set))
	parsed, err := jwt.ParseWithClaims(tok, &Claims{}, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) != 1 {
			return nil, jwt.ErrTokenUnverifiable
		}
		return keys[0].Key, nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience))
	require.NoError(t, err)
	require.True(t, parsed.Valid)
	require.Equal(t, "acme", parsed.Claims.(*Claims).Tenant)

	// The other listed key is the operator's, and verifies its own tokens only.
	prevKeys := set.Key(KeyID(pubOf(prev)))
	require.Len(t, prevKeys, 1)
	require.True(t, pubOf(prev).Equal(prevKeys[0].Key))
}

func TestKeyRingConcurrentUse(t *testing.T) {
	t.Parallel()
	first := mustKey(t)
	ring, err := NewKeyRing(first)
	require.NoError(t, err)
	signer, verifier := ring.Signer(testIssuer, testAudience), NewRingVerifier(ring, testIssuer, testAudience)
	keys := []ed25519.PrivateKey{mustKey(t), mustKey(t), mustKey(t), first}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				tok, err := signer.Issue("u", "acme", nil, time.Minute)
				if err == nil {
					_, err = verifier.Verify(tok)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 40 {
			if err := ring.Rotate(keys[i%len(keys)], time.Hour); err != nil {
				errs <- err
				return
			}
			_ = ring.JWKS()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "every token signed during rotations verifies")
	}
}

func pemBlock(t *testing.T, typ string, key any) []byte {
	t.Helper()
	var der []byte
	var err error
	switch k := key.(type) {
	case ed25519.PrivateKey:
		der, err = x509.MarshalPKCS8PrivateKey(k)
	default:
		der, err = x509.MarshalPKIXPublicKey(k)
	}
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParsePEM(t *testing.T) {
	t.Parallel()
	a, b := mustKey(t), mustKey(t)
	pubA, pubB := pemBlock(t, "PUBLIC KEY", pubOf(a)), pemBlock(t, "PUBLIC KEY", pubOf(b))
	privA := pemBlock(t, "PRIVATE KEY", a)

	t.Run("private key", func(t *testing.T) {
		t.Parallel()
		got, err := ParsePrivateKeyPEM(privA)
		require.NoError(t, err)
		require.True(t, a.Equal(got))
	})
	t.Run("bundle of public keys", func(t *testing.T) {
		t.Parallel()
		got, err := ParsePublicKeysPEM(bytes.Join([][]byte{pubA, pubB}, []byte("\n")))
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.True(t, pubOf(a).Equal(got[0]))
		require.True(t, pubOf(b).Equal(got[1]))
	})

	bad := []struct {
		name  string
		parse func([]byte) error
		in    []byte
		want  string
	}{
		{name: "private: empty", parse: parsePriv, in: nil, want: "no PEM block"},
		{name: "private: public key given", parse: parsePriv, in: pubA, want: `"PUBLIC KEY", want "PRIVATE KEY"`},
		{name: "private: garbage in the block", parse: parsePriv, in: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}), want: "parse private key"},
		{name: "public: empty", parse: parsePubs, in: []byte("  \n"), want: "no PEM block"},
		{name: "public: private key in the bundle", parse: parsePubs, in: append(append([]byte{}, pubA...), privA...), want: `public key 2: PEM block is "PRIVATE KEY"`},
		{name: "public: trailing text", parse: parsePubs, in: append(append([]byte{}, pubA...), "oops"...), want: "data that is not a PEM block"},
		{name: "public: not PEM", parse: parsePubs, in: []byte("ssh-ed25519 AAAA"), want: "data that is not a PEM block"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorContains(t, tc.parse(tc.in), tc.want)
		})
	}
}

func parsePriv(b []byte) error {
	_, err := ParsePrivateKeyPEM(b)
	return err
}

func parsePubs(b []byte) error {
	_, err := ParsePublicKeysPEM(b)
	return err
}
