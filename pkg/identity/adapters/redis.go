// Package adapters connects the identity use cases' ports to the real
// servers: the store's repositories (FerretDB or MongoDB) and Redis. Its
// tests run one contract suite per port against these adapters and against
// the in-process fakes of pkg/identity/identitytest.
package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Ports wires the identity use cases to the store's repositories and to
// Redis (sign-in attempts, one-time TOTP codes, revocation).
func Ports(st *store.Store, rdb redis.UniversalClient) (identity.Ports, error) {
	if st == nil || rdb == nil {
		return identity.Ports{}, errors.New("identity adapters: a store and a Redis client are required")
	}
	return identity.Ports{
		Users: st.Users, Credentials: st.Users, Tenants: st.Tenants, Sessions: st.Sessions, APIKeys: st.APIKeys,
		Attempts: NewRedisAttempts(rdb), Revocations: NewRedisRevocations(rdb),
	}, nil
}

// reserveScript counts a sign-in attempt against (tenant, email) before
// the password is checked: INCR, and start the window on the first
// attempt. Past the maximum it undoes its own count and answers "locked"
// with the window's remaining milliseconds. Counting first, atomically,
// means parallel guesses cannot all slip in below the limit; an attempt
// that turns out not to be a failure gives its count back (releaseScript)
// or clears the counter (success).
// KEYS[1] counter; ARGV[1] window ms; ARGV[2] max failures.
const reserveScript = `
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[1])
  return {0, redis.call('PTTL', KEYS[1])}
end
return {1, n}
`

// releaseScript gives back one reserved attempt (the password was right
// but a TOTP code is still needed, or the store failed).
const releaseScript = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 1 then return redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[1])
return 0
`

// RedisAttempts is identity.Attempts on Redis, shared by every replica.
type RedisAttempts struct {
	rdb              redis.UniversalClient
	reserve, release *redis.Script
}

// NewRedisAttempts returns the sign-in attempt counter on rdb.
func NewRedisAttempts(rdb redis.UniversalClient) *RedisAttempts {
	return &RedisAttempts{rdb: rdb, reserve: redis.NewScript(reserveScript), release: redis.NewScript(releaseScript)}
}

// lockKey is the failure counter of (tenant, email). The email is hashed:
// it is user input (it may contain ':') and need not sit in Redis in clear.
func lockKey(tenant, email string) string {
	sum := sha256.Sum256([]byte(email))
	return "auth:lock:" + tenant + ":" + hex.EncodeToString(sum[:])
}

// Reserve implements identity.Attempts.
func (a *RedisAttempts) Reserve(ctx context.Context, tenant, email string, window time.Duration, limit int) (bool, time.Duration, error) {
	res, err := a.reserve.Run(ctx, a.rdb, []string{lockKey(tenant, email)}, window.Milliseconds(), limit).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("unexpected reply %v", res)
	}
	if res[0] == 0 {
		return false, time.Duration(res[1]) * time.Millisecond, nil
	}
	return true, 0, nil
}

// Release implements identity.Attempts.
func (a *RedisAttempts) Release(ctx context.Context, tenant, email string) error {
	return a.release.Run(ctx, a.rdb, []string{lockKey(tenant, email)}).Err()
}

// Clear implements identity.Attempts.
func (a *RedisAttempts) Clear(ctx context.Context, tenant, email string) error {
	return a.rdb.Del(ctx, lockKey(tenant, email)).Err()
}

// UseCode implements identity.Attempts.
func (a *RedisAttempts) UseCode(ctx context.Context, tenant, userID, code string, ttl time.Duration) (bool, error) {
	// The key parts are ours: a tenant id, a user id and six digits.
	return a.rdb.SetNX(ctx, "auth:totp:used:"+tenant+":"+userID+":"+code, "1", ttl).Result()
}

// Redis key prefixes of the revocation lists. Every key part after them is
// ours (token ids, session ids, user ids, tenant ids that cannot hold ':').
const (
	revokedJTI = "auth:revoked:jti:"
	revokedSID = "auth:revoked:sid:"
	revokedSub = "auth:revoked:sub:"
)

func subjectKey(tenant, subject string) string { return revokedSub + tenant + ":" + subject }

// RedisRevocations is identity.Revocations on Redis: every replica reads
// the same entries, and each expires with the tokens it names.
type RedisRevocations struct {
	rdb redis.UniversalClient
}

// NewRedisRevocations returns the revocation list on rdb.
func NewRedisRevocations(rdb redis.UniversalClient) *RedisRevocations {
	return &RedisRevocations{rdb: rdb}
}

// RevokeToken implements identity.Revocations.
func (r *RedisRevocations) RevokeToken(ctx context.Context, jti string, ttl time.Duration) error {
	return r.rdb.Set(ctx, revokedJTI+jti, "1", ttl).Err()
}

// RevokeSessions implements identity.Revocations.
func (r *RedisRevocations) RevokeSessions(ctx context.Context, sids []string, ttl time.Duration) error {
	switch len(sids) {
	case 0:
		return nil
	case 1:
		return r.rdb.Set(ctx, revokedSID+sids[0], "1", ttl).Err()
	}
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, sid := range sids {
			p.Set(ctx, revokedSID+sid, "1", ttl)
		}
		return nil
	})
	return err
}

// RevokeSubject implements identity.Revocations: the subject entry holds
// at's Unix second.
func (r *RedisRevocations) RevokeSubject(ctx context.Context, tenant, subject string, at time.Time, sids []string, ttl time.Duration) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, subjectKey(tenant, subject), strconv.FormatInt(at.Unix(), 10), ttl)
		for _, sid := range sids {
			p.Set(ctx, revokedSID+sid, "1", ttl)
		}
		return nil
	})
	return err
}

// SubjectRevokedAt implements identity.Revocations.
func (r *RedisRevocations) SubjectRevokedAt(ctx context.Context, tenant, subject string) (time.Time, error) {
	v, err := r.rdb.Get(ctx, subjectKey(tenant, subject)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return parseSecond(v)
}

func parseSecond(v string) (time.Time, error) {
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("unreadable revocation time %q", v)
	}
	return time.Unix(at, 0), nil
}

// Check implements identity.Revocations with one MGET.
func (r *RedisRevocations) Check(ctx context.Context, q identity.RevocationQuery) (identity.RevocationState, error) {
	var keys []string
	if q.TokenID != "" {
		keys = append(keys, revokedJTI+q.TokenID)
	}
	if q.Session != "" {
		keys = append(keys, revokedSID+q.Session)
	}
	sub := -1
	if q.Subject != "" && q.Tenant != "" {
		sub = len(keys)
		keys = append(keys, subjectKey(q.Tenant, q.Subject))
	}
	if len(keys) == 0 {
		return identity.RevocationState{}, nil
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return identity.RevocationState{}, err
	}
	for i, v := range vals {
		if i != sub && v != nil {
			return identity.RevocationState{Revoked: true}, nil
		}
	}
	if sub < 0 || vals[sub] == nil {
		return identity.RevocationState{}, nil
	}
	str, _ := vals[sub].(string)
	at, err := parseSecond(str)
	if err != nil {
		return identity.RevocationState{}, err
	}
	return identity.RevocationState{SubjectRevokedAt: at}, nil
}
