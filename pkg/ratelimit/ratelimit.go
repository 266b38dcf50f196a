// Package ratelimit holds the request limits every gateway replica shares
// through Redis: fixed-window request counters (Limiter) and a cap on the
// things a tenant may have in flight at once (Slots). Callers build keys with
// cache.Key so every key carries its tenant.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is a number of requests allowed per window.
type Limit struct {
	Requests int
	Window   time.Duration
}

// Valid reports whether the limit can be enforced.
func (l Limit) Valid() bool { return l.Requests > 0 && l.Window >= time.Second }

// Result is the outcome of one Allow call, with what the RateLimit headers
// report (draft-ietf-httpapi-ratelimit-headers: limit, remaining, reset).
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int
	// Reset is the time until the current window ends and the count starts
	// again; it is also how long a refused caller should wait.
	Reset time.Duration
}

// ResetSeconds is Reset rounded up to whole seconds, at least 1, the unit of
// Retry-After (RFC 9110 section 10.2.3) and RateLimit-Reset.
func (r Result) ResetSeconds() int {
	s := int((r.Reset + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}

// incrScript counts one request in a window and sets the window's expiry on
// its first request, atomically, so concurrent replicas never lose a count
// or leave a counter without expiry.
const incrScript = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`

// Limiter enforces fixed-window limits. A fixed window (count per aligned
// window, one key per window) costs one round trip and one small key, and
// every replica agrees on the window because windows are aligned to the Unix
// epoch; its known weakness is that a caller may send up to twice the limit
// across a window boundary, acceptable for abuse protection.
type Limiter struct {
	rdb  redis.Scripter
	incr *redis.Script
	now  func() time.Time
}

// NewLimiter returns a limiter on rdb (the shared Redis client).
func NewLimiter(rdb redis.Scripter) *Limiter {
	return &Limiter{rdb: rdb, incr: redis.NewScript(incrScript), now: time.Now}
}

// Allow counts one request against key under lim and reports whether it is
// within the limit. key identifies the caller (tenant, class, subject); the
// window number is appended here. Errors are Redis failures: the caller
// decides whether to fail open.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	if !lim.Valid() {
		return Result{}, fmt.Errorf("ratelimit: invalid limit %d per %s", lim.Requests, lim.Window)
	}
	now := l.now()
	win := lim.Window.Milliseconds()
	ms := now.UnixMilli()
	idx := ms / win
	reset := time.Duration((idx+1)*win-ms) * time.Millisecond
	// The key outlives its window by one window so a replica whose clock
	// runs slightly behind still finds the count.
	n, err := l.incr.Run(ctx, l.rdb, []string{key + ":" + strconv.FormatInt(idx, 10)}, 2*win).Int()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: count %s: %w", key, err)
	}
	return Result{
		Allowed:   n <= lim.Requests,
		Limit:     lim.Requests,
		Remaining: max(0, lim.Requests-n),
		Reset:     reset,
	}, nil
}

// acquireScript drops expired holders, then adds member if fewer than the
// cap hold a slot (or member already holds one). It returns {admitted, held}.
// Doing it in one script makes the check-and-add atomic across replicas, so
// two concurrent requests cannot both take the last slot.
const acquireScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
  return {1, redis.call('ZCARD', KEYS[1])}
end
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then return {0, n} end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], top[2])
return {1, n + 1}
`

// holdScript adds a holder and keeps the set until its latest holder's
// expiry (never shortening it for the others).
const holdScript = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], top[2])
return 1
`

// Slots caps how many things (assessments in flight) one key may hold at
// once. Each holder is a member of a sorted set scored by the time its hold
// expires, so a holder that is never released (a crashed replica) frees its
// slot at that time without a sweeper.
type Slots struct {
	rdb     redis.Cmdable
	acquire *redis.Script
	hold    *redis.Script
	now     func() time.Time
}

// NewSlots returns slots on rdb (the shared Redis client).
func NewSlots(rdb redis.Cmdable) *Slots {
	return &Slots{rdb: rdb, acquire: redis.NewScript(acquireScript), hold: redis.NewScript(holdScript), now: time.Now}
}

// Acquire gives member a slot of key until until, unless capacity slots are
// already held. It returns whether member holds a slot and how many are held.
func (s *Slots) Acquire(ctx context.Context, key, member string, capacity int, until time.Time) (bool, int, error) {
	if capacity < 1 {
		return false, 0, errors.New("ratelimit: slots capacity must be at least 1")
	}
	now := s.now()
	if !until.After(now) {
		return false, 0, fmt.Errorf("ratelimit: acquire %s: hold ends in the past", key)
	}
	res, err := s.acquire.Run(ctx, s.rdb, []string{key},
		now.UnixMilli(), capacity, member, until.UnixMilli()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: acquire %s: %w", key, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("ratelimit: acquire %s: unexpected reply %v", key, res)
	}
	return res[0] == 1, int(res[1]), nil
}

// Hold gives member a slot of key until until whatever the count, for a
// holder that replaces one admitted by Acquire (the created assessment
// taking over its request's reservation).
func (s *Slots) Hold(ctx context.Context, key, member string, until time.Time) error {
	if err := s.hold.Run(ctx, s.rdb, []string{key}, until.UnixMilli(), member).Err(); err != nil {
		return fmt.Errorf("ratelimit: hold %s: %w", key, err)
	}
	return nil
}

// Release frees member's slot; a member without one is not an error.
func (s *Slots) Release(ctx context.Context, key string, members ...string) error {
	if len(members) == 0 {
		return nil
	}
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	if err := s.rdb.ZRem(ctx, key, args...).Err(); err != nil {
		return fmt.Errorf("ratelimit: release %s: %w", key, err)
	}
	return nil
}

// Holders lists the members of key whose hold has not expired.
func (s *Slots) Holders(ctx context.Context, key string) ([]string, error) {
	out, err := s.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(s.now().UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: holders of %s: %w", key, err)
	}
	return out, nil
}
