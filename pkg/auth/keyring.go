package auth

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeyRing holds the Ed25519 key that signs new tokens and every public key
// that may still verify one: the previous signing keys until their tokens
// have expired, and the verification-only keys an operator lists (the next
// or previous keys of a planned rotation). Signers and verifiers built on a
// ring see a rotation at once. It is safe for concurrent use.
type KeyRing struct {
	now func() time.Time

	mu       sync.RWMutex
	current  ringKey   // priv is nil for a verification-only ring (NewVerifier)
	retained []ringKey // previous signing keys, each verifying until its until
	verify   []ringKey // configured verification-only keys
}

type ringKey struct {
	kid   string
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
	until time.Time // retained keys only
}

// ErrInvalidKey is wrapped when a key handed to a KeyRing is not a valid
// Ed25519 key.
var ErrInvalidKey = errors.New("invalid ed25519 key")

// NewKeyRing returns a ring signing with signing and also accepting tokens
// signed by the private halves of verifyOnly.
func NewKeyRing(signing ed25519.PrivateKey, verifyOnly ...ed25519.PublicKey) (*KeyRing, error) {
	cur, err := signingKey(signing)
	if err != nil {
		return nil, fmt.Errorf("key ring: signing key: %w", err)
	}
	verify, err := verificationKeys(verifyOnly)
	if err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	return &KeyRing{now: time.Now, current: cur, verify: verify}, nil
}

// verificationRing is the ring behind NewVerifier: one public key and no
// signing key. An invalid key leaves it empty, so every token fails.
func verificationRing(pub ed25519.PublicKey) *KeyRing {
	r := &KeyRing{now: time.Now}
	if len(pub) == ed25519.PublicKeySize {
		r.verify = []ringKey{{kid: KeyID(pub), pub: slices.Clone(pub)}}
	}
	return r
}

// signingRing is the ring behind NewSigner: one private key. An invalid key
// leaves it without a signing key, so every Issue fails.
func signingRing(k ed25519.PrivateKey) *KeyRing {
	r := &KeyRing{now: time.Now}
	if cur, err := signingKey(k); err == nil {
		r.current = cur
	}
	return r
}

func signingKey(k ed25519.PrivateKey) (ringKey, error) {
	if len(k) != ed25519.PrivateKeySize {
		return ringKey{}, fmt.Errorf("%w: private key has %d bytes, want %d", ErrInvalidKey, len(k), ed25519.PrivateKeySize)
	}
	priv := slices.Clone(k)
	pub, _ := priv.Public().(ed25519.PublicKey)
	return ringKey{kid: KeyID(pub), pub: pub, priv: priv}, nil
}

func verificationKeys(pubs []ed25519.PublicKey) ([]ringKey, error) {
	keys := make([]ringKey, 0, len(pubs))
	for i, p := range pubs {
		if len(p) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: verification key %d has %d bytes, want %d", ErrInvalidKey, i+1, len(p), ed25519.PublicKeySize)
		}
		keys = append(keys, ringKey{kid: KeyID(p), pub: slices.Clone(p)})
	}
	return keys, nil
}

func (r *KeyRing) clock() time.Time {
	if r.now == nil {
		return time.Now()
	}
	return r.now()
}

// Rotate makes next the signing key from now on. The previous signing key
// keeps verifying until now+retain, so the tokens it signed stay valid until
// they expire: pass the access-token TTL plus the clock skew tolerated.
// A retain of zero or less drops the previous key at once. Rotating to the
// current key changes nothing; rotating back to a retained key makes it
// current again.
func (r *KeyRing) Rotate(next ed25519.PrivateKey, retain time.Duration) error {
	k, err := signingKey(next)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	now := r.clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current.kid == k.kid {
		return nil
	}
	r.retained = slices.DeleteFunc(r.retained, func(old ringKey) bool {
		return old.kid == k.kid || !now.Before(old.until)
	})
	if r.current.priv != nil && retain > 0 {
		r.retained = append(r.retained, ringKey{kid: r.current.kid, pub: r.current.pub, until: now.Add(retain)})
	}
	r.current = k
	return nil
}

// SetVerificationKeys replaces the verification-only keys (the ones an
// operator lists in a public-key bundle) with pubs; an empty pubs removes
// them all. The signing key and retained keys are not affected.
func (r *KeyRing) SetVerificationKeys(pubs []ed25519.PublicKey) error {
	keys, err := verificationKeys(pubs)
	if err != nil {
		return fmt.Errorf("set verification keys: %w", err)
	}
	r.mu.Lock()
	r.verify = keys
	r.mu.Unlock()
	return nil
}

// CurrentKeyID is the kid new tokens carry ("" when the ring cannot sign).
func (r *KeyRing) CurrentKeyID() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.current.priv == nil {
		return ""
	}
	return r.current.kid
}

// Signer returns a Signer that issues tokens for issuer and audience with
// whichever key is current when each token is issued.
func (r *KeyRing) Signer(issuer, audience string) *Signer {
	return &Signer{ring: r, issuer: issuer, audience: audience, now: r.clock}
}

// signing returns the current private key and its kid.
func (r *KeyRing) signing() (ed25519.PrivateKey, string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current.priv, r.current.kid, r.current.priv != nil
}

// publicKey returns the key a token with this kid must be signed by: the
// current key, a retained key still inside its window, or a
// verification-only key.
func (r *KeyRing) publicKey(kid string) (ed25519.PublicKey, bool) {
	if kid == "" {
		return nil, false
	}
	for _, k := range r.keys() {
		if k.kid == kid {
			return k.pub, true
		}
	}
	return nil, false
}

// keys lists every key that verifies now, current first, without duplicates.
func (r *KeyRing) keys() []ringKey {
	now := r.clock()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ringKey, 0, 1+len(r.retained)+len(r.verify))
	seen := make(map[string]bool, cap(out))
	add := func(k ringKey) {
		if k.pub == nil || seen[k.kid] {
			return
		}
		seen[k.kid] = true
		out = append(out, k)
	}
	add(r.current)
	for _, k := range r.retained {
		if now.Before(k.until) {
			add(k)
		}
	}
	for _, k := range r.verify {
		add(k)
	}
	return out
}

// JWKS is the ring's public keys as a JSON Web Key Set (RFC 7517), the
// document served at /.well-known/jwks.json: each key is an OKP/Ed25519 key
// with its kid, alg "EdDSA" and use "sig", the current signing key first.
func (r *KeyRing) JWKS() jose.JSONWebKeySet {
	keys := r.keys()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       k.pub,
			KeyID:     k.kid,
			Algorithm: string(jose.EdDSA),
			Use:       "sig",
		})
	}
	return set
}

// JWKSJSON is JWKS encoded as JSON.
func (r *KeyRing) JWKSJSON() ([]byte, error) {
	b, err := json.Marshal(r.JWKS())
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return b, nil
}
