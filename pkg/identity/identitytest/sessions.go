package identitytest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// Sessions is an in-memory identity.Sessions: sessions and refresh tokens
// with the store's one-time use of a token (a second use is
// store.ErrRefreshUsed with the token) and its purge of expired documents.
type Sessions struct {
	mu       sync.Mutex
	sessions map[string]store.Session
	tokens   map[string]store.RefreshToken
	// uses are the use claims by token hash, with their token's expiry.
	uses map[string]time.Time
}

// NewSessions returns an empty repository.
func NewSessions() *Sessions {
	return &Sessions{sessions: map[string]store.Session{}, tokens: map[string]store.RefreshToken{}, uses: map[string]time.Time{}}
}

// Create implements identity.Sessions.
func (r *Sessions) Create(_ context.Context, s store.Session) (store.Session, error) {
	if err := required("create session", "tenant", s.TenantID, "session id", s.ID, "user id", s.UserID); err != nil {
		return store.Session{}, err
	}
	if s.ExpiresAt.IsZero() {
		return store.Session{}, fmt.Errorf("identitytest: create session: %w: expires_at is required", store.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sessions[s.ID]; ok {
		return store.Session{}, fmt.Errorf("identitytest: create session %s: %w", s.ID, store.ErrConflict)
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = ms(s.CreatedAt), ms(s.ExpiresAt), nil
	r.sessions[s.ID] = s
	return s, nil
}

// Get implements identity.Sessions.
func (r *Sessions) Get(_ context.Context, tenant, id string) (store.Session, error) {
	if err := required("get session", "tenant", tenant, "session id", id); err != nil {
		return store.Session{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	if !ok || s.TenantID != tenant {
		return store.Session{}, notFound("get session", id)
	}
	return s, nil
}

// Revoke implements identity.Sessions; the first revocation time is kept.
func (r *Sessions) Revoke(_ context.Context, tenant, id string, at time.Time) error {
	if err := required("get session", "tenant", tenant, "session id", id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	if !ok || s.TenantID != tenant {
		return notFound("get session", id)
	}
	if s.RevokedAt == nil {
		s.RevokedAt = msPtr(&at)
		r.sessions[id] = s
	}
	return nil
}

// RevokeUser implements identity.Sessions.
func (r *Sessions) RevokeUser(ctx context.Context, tenant, userID string, at time.Time) ([]string, error) {
	return r.RevokeUserExcept(ctx, tenant, userID, "", at)
}

// RevokeUserExcept implements identity.Sessions: open sessions that end
// after at, in no particular order.
func (r *Sessions) RevokeUserExcept(_ context.Context, tenant, userID, keep string, at time.Time) ([]string, error) {
	if err := required("revoke other sessions", "tenant", tenant, "user id", userID); err != nil {
		return nil, err
	}
	at = ms(at)
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := []string{}
	for id, s := range r.sessions {
		if s.TenantID != tenant || s.UserID != userID || s.RevokedAt != nil || !s.ExpiresAt.After(at) || (keep != "" && id == keep) {
			continue
		}
		s.RevokedAt = &at
		r.sessions[id] = s
		ids = append(ids, id)
	}
	return ids, nil
}

// CreateRefresh implements identity.Sessions.
func (r *Sessions) CreateRefresh(_ context.Context, t store.RefreshToken) (store.RefreshToken, error) {
	if err := required("create refresh token", "tenant", t.TenantID, "token hash", t.ID,
		"user id", t.UserID, "session id", t.SessionID); err != nil {
		return store.RefreshToken{}, err
	}
	if t.ExpiresAt.IsZero() {
		return store.RefreshToken{}, fmt.Errorf("identitytest: create refresh token: %w: expires_at is required", store.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.tokens[t.ID]; ok {
		return store.RefreshToken{}, fmt.Errorf("identitytest: create refresh token: %w", store.ErrConflict)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = ms(t.CreatedAt), ms(t.ExpiresAt), nil
	r.tokens[t.ID] = t
	return t, nil
}

// UseRefresh implements identity.Sessions.
func (r *Sessions) UseRefresh(_ context.Context, hash string, at time.Time) (store.RefreshToken, error) {
	if err := required("get refresh token", "token hash", hash); err != nil {
		return store.RefreshToken{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tokens[hash]
	if !ok {
		return store.RefreshToken{}, notFound("get refresh token", "")
	}
	if _, used := r.uses[hash]; used {
		return t, fmt.Errorf("identitytest: use refresh token: %w", store.ErrRefreshUsed)
	}
	r.uses[hash] = t.ExpiresAt
	t.UsedAt = msPtr(&at)
	r.tokens[hash] = t
	return t, nil
}

// PurgeExpired implements identity.Sessions: up to limit of each kind that
// expired before before, use claims first, in key order.
func (r *Sessions) PurgeExpired(_ context.Context, before time.Time, limit int) (store.PurgeCounts, error) {
	if before.IsZero() {
		return store.PurgeCounts{}, fmt.Errorf("identitytest: purge expired: %w: before is required", store.ErrInvalid)
	}
	if limit <= 0 {
		limit = store.DefaultPurgeLimit
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var c store.PurgeCounts
	n, more := purge(r.uses, func(exp time.Time) bool { return exp.Before(before) }, limit)
	c.RefreshUses, c.More = n, c.More || more
	n, more = purge(r.tokens, func(t store.RefreshToken) bool { return t.ExpiresAt.Before(before) }, limit)
	c.RefreshTokens, c.More = n, c.More || more
	n, more = purge(r.sessions, func(s store.Session) bool { return s.ExpiresAt.Before(before) }, limit)
	c.Sessions, c.More = n, c.More || more
	return c, nil
}

// purge deletes up to limit entries of m that expired; more when it found limit.
func purge[V any](m map[string]V, expired func(V) bool, limit int) (int64, bool) {
	var ids []string
	for id, v := range m {
		if expired(v) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if len(ids) > limit {
		ids = ids[:limit]
	}
	for _, id := range ids {
		delete(m, id)
	}
	return int64(len(ids)), len(ids) == limit
}

// APIKeys is an in-memory identity.APIKeys: ids are global, every
// tenant-scoped read checks the tenant, lists are oldest first.
type APIKeys struct {
	mu   sync.Mutex
	docs map[string]store.APIKey
}

// NewAPIKeys returns an empty repository.
func NewAPIKeys() *APIKeys { return &APIKeys{docs: map[string]store.APIKey{}} }

// Create implements identity.APIKeys.
func (r *APIKeys) Create(_ context.Context, k store.APIKey) (store.APIKey, error) {
	if err := required("create api key", "tenant", k.TenantID, "api key id", k.ID, "name", k.Name,
		"role", k.Role, "created by", k.CreatedBy, "secret hash", k.SecretSHA256); err != nil {
		return store.APIKey{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.docs[k.ID]; ok {
		return store.APIKey{}, fmt.Errorf("identitytest: create api key %s: %w", k.ID, store.ErrConflict)
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = ms(k.CreatedAt), msPtr(k.ExpiresAt), nil
	r.docs[k.ID] = k
	return k, nil
}

// Get implements identity.APIKeys.
func (r *APIKeys) Get(_ context.Context, tenant, id string) (store.APIKey, error) {
	if err := required("get api key", "tenant", tenant, "api key id", id); err != nil {
		return store.APIKey{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.docs[id]
	if !ok || k.TenantID != tenant {
		return store.APIKey{}, notFound("get api key", id)
	}
	return k, nil
}

// Lookup implements identity.APIKeys.
func (r *APIKeys) Lookup(_ context.Context, id string) (store.APIKey, error) {
	if err := required("look up api key", "api key id", id); err != nil {
		return store.APIKey{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.docs[id]
	if !ok {
		return store.APIKey{}, notFound("look up api key", id)
	}
	return k, nil
}

// List implements identity.APIKeys.
func (r *APIKeys) List(_ context.Context, tenant string) ([]store.APIKey, error) {
	if err := required("list api keys", "tenant", tenant); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []store.APIKey{}
	for _, k := range r.docs {
		if k.TenantID == tenant {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b store.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Revoke implements identity.APIKeys; the first revocation time is kept.
func (r *APIKeys) Revoke(_ context.Context, tenant, id string, at time.Time) (store.APIKey, error) {
	if err := required("get api key", "tenant", tenant, "api key id", id); err != nil {
		return store.APIKey{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.docs[id]
	if !ok || k.TenantID != tenant {
		return store.APIKey{}, notFound("get api key", id)
	}
	if k.RevokedAt == nil {
		k.RevokedAt = msPtr(&at)
		r.docs[id] = k
	}
	return k, nil
}
