// Package auth issues and verifies the bearer tokens the gateway accepts:
// Ed25519-signed JWTs (EdDSA) that name the caller's tenant and role. A
// KeyRing holds the signing key and the public keys that still verify
// (previous keys until their tokens expire) and publishes them as a JWKS, so
// other services and event subscribers can verify tokens too.
package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ErrInvalidToken is wrapped by every Verify failure, so callers can answer
// 401 without inspecting the reason.
var ErrInvalidToken = errors.New("invalid token")

// algorithm is the only signing algorithm issued and accepted. Pinning it
// closes the "alg: none" and HMAC-with-public-key confusion attacks.
const algorithm = "EdDSA"

// Roles a caller may hold. Owner, admin, analyst and viewer act inside one
// tenant; the platform operator provisions tenants and reads none of their
// data. The gateway's route x role matrix (pkg/gateway/access.go) says what
// each may do.
const (
	RoleOwner    = "owner"
	RoleAdmin    = "admin"
	RoleAnalyst  = "analyst"
	RoleViewer   = "viewer"
	RoleOperator = "platform-operator"
)

// PlatformTenant is the tenant claim of platform-operator tokens. It holds no
// tenant data, and tenant ids starting with '_' cannot be created.
const PlatformTenant = "_platform"

// TenantRoles are the roles a user or API key inside a tenant may hold.
var TenantRoles = []string{RoleOwner, RoleAdmin, RoleAnalyst, RoleViewer}

// ValidTenantRole reports whether r is one of TenantRoles.
func ValidTenantRole(r string) bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleAnalyst, RoleViewer:
		return true
	}
	return false
}

// Claims are the JWT claims of an Infra Mind access token.
type Claims struct {
	jwt.RegisteredClaims
	// Tenant is the organisation whose data the bearer may read and write.
	Tenant string `json:"tenant"`
	// Roles granted inside the tenant.
	Roles []string `json:"roles,omitempty"`
	// Session is the sign-in session (refresh-token family) the token was
	// issued for; empty for tokens minted outside a sign-in (development
	// tokens) and for API keys. Revoking the session revokes the token.
	Session string `json:"sid,omitempty"`
}

// GenerateKey returns a new random Ed25519 private key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return priv, nil
}

// WritePrivateKeyPEM writes k as a PKCS#8 "PRIVATE KEY" PEM file readable by
// its owner only (0600).
func WritePrivateKeyPEM(path string, k ed25519.PrivateKey) error {
	if len(k) != ed25519.PrivateKeySize {
		return fmt.Errorf("write private key %s: invalid ed25519 private key", path)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

// LoadPrivateKeyPEM reads a PKCS#8 PEM Ed25519 private key.
func LoadPrivateKeyPEM(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	k, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	return k, nil
}

// ParsePrivateKeyPEM parses a PKCS#8 "PRIVATE KEY" PEM Ed25519 key, the
// format WritePrivateKeyPEM writes and `openssl genpkey -algorithm ed25519`
// prints.
func ParsePrivateKeyPEM(b []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an ed25519 key", key)
	}
	return priv, nil
}

// WritePublicKeyPEM writes k as a PKIX "PUBLIC KEY" PEM file (0644).
func WritePublicKeyPEM(path string, k ed25519.PublicKey) error {
	if len(k) != ed25519.PublicKeySize {
		return fmt.Errorf("write public key %s: invalid ed25519 public key", path)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return fmt.Errorf("write public key %s: %w", path, err)
	}
	return writePEM(path, "PUBLIC KEY", der, 0o644)
}

// LoadPublicKeyPEM reads a PKIX PEM Ed25519 public key (the first key of
// the file).
func LoadPublicKeyPEM(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("load public key %s: no PEM block", path)
	}
	pub, err := parsePublicKeyBlock(block)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKeysPEM parses a bundle of one or more PKIX "PUBLIC KEY" PEM
// Ed25519 keys (the blocks WritePublicKeyPEM writes, concatenated), such as
// the verification-only keys an operator lists during a rotation. Anything
// in the bundle that is not such a key is an error, so a damaged bundle is
// not half-applied.
func ParsePublicKeysPEM(b []byte) ([]ed25519.PublicKey, error) {
	var pubs []ed25519.PublicKey
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		pub, err := parsePublicKeyBlock(block)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", len(pubs)+1, err)
		}
		pubs = append(pubs, pub)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("after %d public key(s): data that is not a PEM block", len(pubs))
	}
	if len(pubs) == 0 {
		return nil, errors.New("no PEM block")
	}
	return pubs, nil
}

func parsePublicKeyBlock(block *pem.Block) (ed25519.PublicKey, error) {
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an ed25519 key", key)
	}
	return pub, nil
}

func writePEM(path, blockType string, der []byte, perm os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	// Open with the final mode so a private key is never briefly world-readable,
	// then chmod in case the file already existed with a wider mode.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// KeyID derives a stable key id from pub: the unpadded base64url of the first
// 12 bytes of its SHA-256. Verifiers compare it with the token's kid header so
// a token signed by a rotated-out key fails clearly before signature checks.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// maxTenantLen bounds tenant ids; they appear in every subject and key.
const maxTenantLen = 64

// ValidTenant reports whether id can be a tenant id: 1 to 64 ASCII letters,
// digits, '-' or '_'. Tenant ids become NATS subject tokens and cache key
// parts, where '.', '*', '>' and spaces would change the meaning.
func ValidTenant(id string) bool {
	if id == "" || len(id) > maxTenantLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Signer issues tokens for one issuer and audience, signed with the
// current key of its KeyRing.
type Signer struct {
	ring     *KeyRing
	issuer   string
	audience string
	now      func() time.Time
}

// NewSigner returns a Signer for k that stamps issuer and audience on every
// token: a KeyRing of k alone. An invalid k makes every Issue fail.
func NewSigner(k ed25519.PrivateKey, issuer, audience string) *Signer {
	return &Signer{ring: signingRing(k), issuer: issuer, audience: audience, now: time.Now}
}

// Issued is a signed access token with the claims a caller needs to track it.
type Issued struct {
	Token     string
	ID        string // the jti, for revocation
	ExpiresAt time.Time
}

// Issue returns a signed token for subject in tenant, valid from now for ttl.
func (s *Signer) Issue(subject, tenant string, roles []string, ttl time.Duration) (string, error) {
	iss, err := s.IssueAccess(subject, tenant, roles, "", ttl, time.Time{})
	if err != nil {
		return "", err
	}
	return iss.Token, nil
}

// IssueAccess returns a signed access token for subject in tenant with roles,
// bound to the sign-in session (empty for none), valid for ttl from now, or
// from from when that is later (the identity service issues from the second
// after a revocation, so that iat, a whole second, tells the tokens the
// revocation covers from those it does not).
func (s *Signer) IssueAccess(subject, tenant string, roles []string, session string, ttl time.Duration, from time.Time) (Issued, error) {
	if !ValidTenant(tenant) {
		return Issued{}, fmt.Errorf("issue token: tenant %q is not a valid tenant id", tenant)
	}
	if ttl <= 0 {
		return Issued{}, errors.New("issue token: ttl must be positive")
	}
	key, kid, ok := s.ring.signing()
	if !ok {
		return Issued{}, errors.New("issue token: signer has no valid ed25519 key")
	}
	now := s.now().UTC().Truncate(time.Second)
	if from = from.UTC().Truncate(time.Second); from.After(now) {
		now = from
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		Tenant:  tenant,
		Roles:   roles,
		Session: session,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return Issued{}, fmt.Errorf("issue token: %w", err)
	}
	return Issued{Token: signed, ID: claims.ID, ExpiresAt: claims.ExpiresAt.Time}, nil
}

// Verifier checks tokens against the keys of a KeyRing, one issuer and one
// audience.
type Verifier struct {
	ring   *KeyRing
	parser *jwt.Parser
}

// ClockSkew is the difference between the issuer's and our clocks tolerated
// on exp, nbf and iat. A key rotated out must keep verifying for the
// access-token TTL plus ClockSkew.
const ClockSkew = 30 * time.Second

// NewVerifier returns a Verifier accepting only EdDSA tokens signed by pub's
// private key, issued by issuer for audience.
func NewVerifier(pub ed25519.PublicKey, issuer, audience string) *Verifier {
	return newRingVerifier(verificationRing(pub), issuer, audience, time.Now)
}

// NewRingVerifier returns a Verifier accepting only EdDSA tokens issued by
// issuer for audience and signed by a key ring holds at verification time,
// chosen by the token's kid header.
func NewRingVerifier(ring *KeyRing, issuer, audience string) *Verifier {
	return newRingVerifier(ring, issuer, audience, time.Now)
}

func newRingVerifier(ring *KeyRing, issuer, audience string, now func() time.Time) *Verifier {
	return &Verifier{
		ring: ring,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{algorithm}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(ClockSkew),
			jwt.WithTimeFunc(now),
		),
	}
}

// Verify parses token and returns its claims when the signature, algorithm,
// key id, issuer, audience, validity window, token id and tenant all check
// out. Every failure wraps ErrInvalidToken.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if v.ring == nil {
		return nil, fmt.Errorf("%w: verifier has no key ring", ErrInvalidToken)
	}
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// RFC 7515 section 4.1.11: a recipient must reject a token whose
		// "crit" header names extensions it does not understand, and this
		// verifier understands none.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New(`the "crit" header names extensions this verifier does not process`)
		}
		// Only keys of the ring, picked by kid: a token cannot bring its own
		// key (jwk/jku/x5u headers are never read).
		kid, _ := t.Header["kid"].(string)
		pub, ok := v.ring.publicKey(kid)
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return pub, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Tenant == "" {
		return nil, fmt.Errorf("%w: tenant claim is missing", ErrInvalidToken)
	}
	if !ValidTenant(claims.Tenant) {
		return nil, fmt.Errorf("%w: tenant claim %q is not a valid tenant id", ErrInvalidToken, claims.Tenant)
	}
	if claims.ID == "" {
		return nil, fmt.Errorf("%w: jti claim is missing", ErrInvalidToken)
	}
	if claims.NotBefore == nil || claims.IssuedAt == nil {
		return nil, fmt.Errorf("%w: nbf and iat claims are required", ErrInvalidToken)
	}
	return claims, nil
}
