package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// API keys look like "imk_<id>_<secret>": the id (12 lower-case base32
// characters, 60 bits, never '_') names the stored key, the secret (32
// random bytes, base64url) proves possession.
const (
	// APIKeyPrefix starts every API key, so a caller can tell one from a JWT.
	APIKeyPrefix = "imk_"
	apiKeyIDLen  = 12
	// APIKeySubjectPrefix starts the subject of an API key's claims, so
	// the audit log and the gateway can tell a key from a user.
	APIKeySubjectPrefix = "apikey:"
)

var apiKeyIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// CreateAPIKey creates a key in tenant with one role and an optional
// expiry, and returns it with the full key, which is shown only this once
// (the store keeps its hash).
func (s *Service) CreateAPIKey(ctx context.Context, tenant string, nk NewAPIKey) (APIKey, string, error) {
	if err := validTenantID("tenant", tenant); err != nil {
		return APIKey{}, "", err
	}
	nk.Name = strings.TrimSpace(nk.Name)
	if nk.Name == "" {
		return APIKey{}, "", &FieldError{Field: "name", Reason: "is required"}
	}
	if err := validName("name", nk.Name); err != nil {
		return APIKey{}, "", err
	}
	if err := validRole("role", nk.Role); err != nil {
		return APIKey{}, "", err
	}
	if nk.CreatedBy == "" {
		return APIKey{}, "", &FieldError{Field: "created_by", Reason: "is required"}
	}
	now := s.now()
	k := store.APIKey{TenantID: tenant, Name: nk.Name, Role: nk.Role, CreatedBy: nk.CreatedBy, CreatedAt: now}
	if !nk.ExpiresAt.IsZero() {
		if !nk.ExpiresAt.After(now) {
			return APIKey{}, "", &FieldError{Field: "expires_at", Reason: "must be in the future"}
		}
		e := nk.ExpiresAt.UTC()
		k.ExpiresAt = &e
	}
	// A 60-bit id almost never collides; a collision is a conflict on
	// insert, and a new id is drawn.
	for attempt := 0; ; attempt++ {
		id, secret, err := newAPIKeyParts()
		if err != nil {
			return APIKey{}, "", fmt.Errorf("identity: create api key: %w", err)
		}
		k.ID = id
		k.SecretSHA256 = sha256Hex(secret)
		created, err := s.st.APIKeys.Create(ctx, k)
		if errors.Is(err, store.ErrConflict) && attempt < 2 {
			continue
		}
		if err != nil {
			return APIKey{}, "", fmt.Errorf("identity: create api key: %w", err)
		}
		return toAPIKey(created), APIKeyPrefix + id + "_" + secret, nil
	}
}

func newAPIKeyParts() (id, secret string, err error) {
	b := make([]byte, 8+tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate api key: %w", err)
	}
	id = apiKeyIDEncoding.EncodeToString(b[:8])[:apiKeyIDLen]
	return id, base64.RawURLEncoding.EncodeToString(b[8:]), nil
}

// parseAPIKey splits a presented key into its id and secret.
func parseAPIKey(presented string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(presented, APIKeyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || !ValidAPIKeyID(id) {
		return "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(b) != tokenBytes {
		return "", "", false
	}
	return id, secret, true
}

// ValidAPIKeyID reports whether id can be an API key's id (12 lower-case
// base32 characters), so callers can answer 404 without a lookup.
func ValidAPIKeyID(id string) bool {
	if len(id) != apiKeyIDLen {
		return false
	}
	_, err := apiKeyIDEncoding.DecodeString(id)
	return err == nil
}

// AuthenticateAPIKey returns the claims of a presented API key, or
// ErrInvalidCredentials for a malformed, unknown, wrong, revoked or expired
// one. The claims have no jti (revocation is the stored flag, read on
// every request) and the subject "apikey:<id>".
func (s *Service) AuthenticateAPIKey(ctx context.Context, presented string) (*auth.Claims, error) {
	id, secret, ok := parseAPIKey(presented)
	if !ok {
		return nil, ErrInvalidCredentials
	}
	k, err := s.st.APIKeys.Lookup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("identity: authenticate api key: %w", err)
	}
	sum := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(k.SecretSHA256)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil, ErrInvalidCredentials
	}
	if k.RevokedAt != nil || (k.ExpiresAt != nil && !s.now().Before(*k.ExpiresAt)) {
		return nil, ErrInvalidCredentials
	}
	return &auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: APIKeySubjectPrefix + k.ID},
		Tenant:           k.TenantID,
		Roles:            []string{k.Role},
	}, nil
}

// ListAPIKeys returns tenant's keys, oldest first, revoked ones included;
// never a secret or its hash.
func (s *Service) ListAPIKeys(ctx context.Context, tenant string) ([]APIKey, error) {
	if err := validTenantArg(tenant); err != nil {
		return nil, err
	}
	ks, err := s.st.APIKeys.List(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("identity: list api keys: %w", err)
	}
	out := make([]APIKey, 0, len(ks))
	for _, k := range ks {
		out = append(out, toAPIKey(k))
	}
	return out, nil
}

// GetAPIKey returns one of tenant's keys (ErrNotFound for another
// tenant's, or an id that cannot be a key's).
func (s *Service) GetAPIKey(ctx context.Context, tenant, id string) (APIKey, error) {
	if !ValidAPIKeyID(id) {
		return APIKey{}, fmt.Errorf("identity: get api key: %w", ErrNotFound)
	}
	k, err := s.st.APIKeys.Get(ctx, tenant, id)
	if err != nil {
		return APIKey{}, notFound("get api key", err)
	}
	return toAPIKey(k), nil
}

// RevokeAPIKey revokes one of tenant's keys (ErrNotFound for another
// tenant's); it stops working on the next request.
func (s *Service) RevokeAPIKey(ctx context.Context, tenant, id string) error {
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("identity: revoke api key: %w", ErrNotFound)
	}
	if _, err := s.st.APIKeys.Revoke(ctx, tenant, id, s.now()); err != nil {
		return notFound("revoke api key", err)
	}
	return nil
}

func toAPIKey(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, Tenant: k.TenantID, Name: k.Name, Role: k.Role, CreatedBy: k.CreatedBy,
		Prefix: APIKeyPrefix + k.ID, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}
