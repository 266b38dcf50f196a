package identitytest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/identity"
)

// ErrDown is what a fake answers while it is set down (SetDown), as the
// real adapter does when Redis cannot be reached.
var ErrDown = errors.New("identitytest: the server is down")

// entries is a map of values that expire on a clock, like Redis keys.
type entries struct {
	mu    sync.Mutex
	clock func() time.Time
	vals  map[string]entry
	down  bool
}

type entry struct {
	n   int64
	exp time.Time
}

func newEntries(clock func() time.Time) entries {
	if clock == nil {
		clock = time.Now
	}
	return entries{clock: clock, vals: map[string]entry{}}
}

// get returns the live entry at key; the caller holds the lock.
func (e *entries) get(key string) (entry, bool) {
	v, ok := e.vals[key]
	if ok && !e.clock().Before(v.exp) {
		delete(e.vals, key)
		return entry{}, false
	}
	return v, ok
}

// SetDown makes every call fail with ErrDown (true) or work again (false).
func (e *entries) SetDown(down bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.down = down
}

// Attempts is an in-memory identity.Attempts with Redis's rules: a window
// starts at the first attempt and ends window later on the clock.
type Attempts struct{ entries }

// NewAttempts returns an empty counter expiring on clock (nil: time.Now).
func NewAttempts(clock func() time.Time) *Attempts { return &Attempts{newEntries(clock)} }

func lock(tenant, email string) string   { return "lock\x00" + tenant + "\x00" + email }
func code(tenant, user, c string) string { return "code\x00" + tenant + "\x00" + user + "\x00" + c }

// Reserve implements identity.Attempts.
func (a *Attempts) Reserve(_ context.Context, tenant, email string, window time.Duration, limit int) (bool, time.Duration, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return false, 0, ErrDown
	}
	key := lock(tenant, email)
	v, ok := a.get(key)
	if !ok {
		v = entry{exp: a.clock().Add(window)}
	}
	if v.n+1 > int64(limit) {
		return false, v.exp.Sub(a.clock()).Truncate(time.Millisecond), nil
	}
	v.n++
	a.vals[key] = v
	return true, 0, nil
}

// Release implements identity.Attempts.
func (a *Attempts) Release(_ context.Context, tenant, email string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return ErrDown
	}
	key := lock(tenant, email)
	v, ok := a.get(key)
	if !ok || v.n <= 1 {
		delete(a.vals, key)
		return nil
	}
	v.n--
	a.vals[key] = v
	return nil
}

// Clear implements identity.Attempts.
func (a *Attempts) Clear(_ context.Context, tenant, email string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return ErrDown
	}
	delete(a.vals, lock(tenant, email))
	return nil
}

// UseCode implements identity.Attempts.
func (a *Attempts) UseCode(_ context.Context, tenant, userID, c string, ttl time.Duration) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return false, ErrDown
	}
	key := code(tenant, userID, c)
	if _, ok := a.get(key); ok {
		return false, nil
	}
	a.vals[key] = entry{n: 1, exp: a.clock().Add(ttl)}
	return true, nil
}

// Revocations is an in-memory identity.Revocations whose entries expire
// on a clock, like the Redis keys of the real one.
type Revocations struct{ entries }

// NewRevocations returns an empty list expiring on clock (nil: time.Now).
func NewRevocations(clock func() time.Time) *Revocations { return &Revocations{newEntries(clock)} }

func jtiKey(jti string) string         { return "jti\x00" + jti }
func sidKey(sid string) string         { return "sid\x00" + sid }
func subKey(tenant, sub string) string { return "sub\x00" + tenant + "\x00" + sub }
func (r *Revocations) set(key string, n int64, ttl time.Duration) {
	r.vals[key] = entry{n: n, exp: r.clock().Add(ttl)}
}

// RevokeToken implements identity.Revocations.
func (r *Revocations) RevokeToken(_ context.Context, jti string, ttl time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return ErrDown
	}
	r.set(jtiKey(jti), 1, ttl)
	return nil
}

// RevokeSessions implements identity.Revocations.
func (r *Revocations) RevokeSessions(_ context.Context, sids []string, ttl time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return ErrDown
	}
	for _, sid := range sids {
		r.set(sidKey(sid), 1, ttl)
	}
	return nil
}

// RevokeSubject implements identity.Revocations.
func (r *Revocations) RevokeSubject(_ context.Context, tenant, subject string, at time.Time, sids []string, ttl time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return ErrDown
	}
	r.set(subKey(tenant, subject), at.Unix(), ttl)
	for _, sid := range sids {
		r.set(sidKey(sid), 1, ttl)
	}
	return nil
}

// SubjectRevokedAt implements identity.Revocations.
func (r *Revocations) SubjectRevokedAt(_ context.Context, tenant, subject string) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return time.Time{}, ErrDown
	}
	v, ok := r.get(subKey(tenant, subject))
	if !ok {
		return time.Time{}, nil
	}
	return time.Unix(v.n, 0), nil
}

// Check implements identity.Revocations.
func (r *Revocations) Check(_ context.Context, q identity.RevocationQuery) (identity.RevocationState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q == (identity.RevocationQuery{}) {
		return identity.RevocationState{}, nil
	}
	if r.down {
		return identity.RevocationState{}, ErrDown
	}
	if _, ok := r.get(jtiKey(q.TokenID)); ok && q.TokenID != "" {
		return identity.RevocationState{Revoked: true}, nil
	}
	if _, ok := r.get(sidKey(q.Session)); ok && q.Session != "" {
		return identity.RevocationState{Revoked: true}, nil
	}
	if q.Subject == "" || q.Tenant == "" {
		return identity.RevocationState{}, nil
	}
	if v, ok := r.get(subKey(q.Tenant, q.Subject)); ok {
		return identity.RevocationState{SubjectRevokedAt: time.Unix(v.n, 0)}, nil
	}
	return identity.RevocationState{}, nil
}
