// Package ratelimit holds the request limits every gateway replica shares
// through Redis: sliding-window request limits (Limiter) and a cap on the
// things a tenant may have in flight at once (Slots). Callers build keys with
// cache.Key so every key carries its tenant.
package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// The sliding-window log (spendScript): each key is a sorted set of the
// admitted requests scored by their time in milliseconds. The script drops
// the entries older than the window, admits the request only if fewer than
// the limit remain, and reports {admitted, counted, oldest}: counted
// includes this request when admitted, oldest is the time of the oldest
// entry still in the window. Refused requests are not logged, so a caller
// hammering a spent limit neither grows the set nor delays its own reset.
// One script makes the check-and-add atomic across replicas.

// Limiter enforces sliding-window limits: at most Limit.Requests requests
// are admitted in any interval of length Limit.Window, wherever it starts.
// A fixed window (one counter per aligned window) would let a burst
// straddling a window edge pass twice the limit; a token bucket (GCRA) with
// a burst of the limit allows the burst plus a refill within one window,
// again up to twice the limit. The log keeps one small entry per admitted
// request (at most the limit per key) and costs one round trip; see
// docs/adr/0017-sliding-window-rate-limits.md.
type Limiter struct {
	rdb   redis.Scripter
	slide *redis.Script
	now   func() time.Time
}

// NewLimiter returns a limiter on rdb (the shared Redis client).
func NewLimiter(rdb redis.Scripter) *Limiter {
	return &Limiter{rdb: rdb, slide: redis.NewScript(spendScript), now: time.Now}
}

// spendScript is the sliding-window log below over each key in turn, with the same
// arguments per key, stopping after the first key whose limit refuses: the
// limits after it are not spent. It returns {admitted, counted, oldest} for
// each key it reached, one after the other, in one round trip.
//
// ARGV: now (ms), then per key: window (ms), limit, member.
const spendScript = `
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local win = tonumber(ARGV[i * 3 - 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  local n = redis.call('ZCARD', key)
  local admitted = 0
  if n < tonumber(ARGV[i * 3]) then
    redis.call('ZADD', key, now, ARGV[i * 3 + 1])
    n = n + 1
    admitted = 1
  end
  local oldest = now
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then oldest = tonumber(first[2]) end
  redis.call('PEXPIRE', key, win)
  out[#out + 1] = admitted
  out[#out + 1] = n
  out[#out + 1] = oldest
  if admitted == 0 then return out end
end
return out
`

// Check is one limit to spend a request of, under a key.
type Check struct {
	Key   string
	Limit Limit
}

// Allow counts one request against key under lim and reports whether it is
// within the limit. key identifies the caller (tenant, class, subject).
// Errors are Redis failures: the caller decides whether to fail open.
//
// The request's time is this replica's clock: replicas' clocks must agree
// to well under a window (NTP keeps them within milliseconds).
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	rs, err := l.Spend(ctx, Check{Key: key, Limit: lim})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// Spend counts one request against each check in order, as Allow does, in
// one round trip, and stops at the first check that refuses: the checks
// after it are not spent. It returns the results of the checks it reached,
// the refused one last. The keys go to one script, so they must live on one
// Redis server (the gateway's Redis is one server, not a cluster).
func (l *Limiter) Spend(ctx context.Context, checks ...Check) ([]Result, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	now := l.now().UnixMilli()
	keys := make([]string, len(checks))
	args := make([]any, 1, 1+3*len(checks))
	args[0] = now
	for i, c := range checks {
		if !c.Limit.Valid() {
			return nil, fmt.Errorf("ratelimit: invalid limit %d per %s", c.Limit.Requests, c.Limit.Window)
		}
		var nonce [8]byte
		_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go 1.24+)
		keys[i] = c.Key
		args = append(args, c.Limit.Window.Milliseconds(), c.Limit.Requests,
			strconv.FormatInt(now, 10)+"-"+hex.EncodeToString(nonce[:]))
	}
	vals, err := l.slide.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: count %s: %w", keys[0], err)
	}
	if len(vals) == 0 || len(vals)%3 != 0 || len(vals) > 3*len(checks) {
		return nil, fmt.Errorf("ratelimit: count %s: unexpected reply %v", keys[0], vals)
	}
	out := make([]Result, 0, len(vals)/3)
	for i := 0; i < len(vals); i += 3 {
		lim := checks[i/3].Limit
		win := lim.Window.Milliseconds()
		admitted, n, oldest := vals[i] == 1, int(vals[i+1]), vals[i+2]
		// The oldest counted request leaves the window at oldest+win; then
		// one more request fits.
		reset := time.Duration(max(0, oldest+win-now)) * time.Millisecond
		out = append(out, Result{
			Allowed:   admitted,
			Limit:     lim.Requests,
			Remaining: max(0, lim.Requests-n),
			Reset:     reset,
		})
	}
	return out, nil
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

// holdScript frees the holders ARGV[3..], adds a holder and keeps the set
// until its latest holder's expiry (never shortening it for the others).
const holdScript = `
for i = 3, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
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
// taking over its request's reservation), and frees the slots of release
// (that reservation) in the same step.
func (s *Slots) Hold(ctx context.Context, key, member string, until time.Time, release ...string) error {
	args := make([]any, 0, 2+len(release))
	args = append(args, until.UnixMilli(), member)
	for _, m := range release {
		args = append(args, m)
	}
	if err := s.hold.Run(ctx, s.rdb, []string{key}, args...).Err(); err != nil {
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
