// Package ratelimittest holds in-process fakes of the shared limits
// (ratelimit.Limiter and ratelimit.Slots), for tests of their callers that
// run without Redis. The contract suite in pkg/ratelimit runs the same
// tests on each fake and on the Redis-backed type, so the fakes keep its
// behaviour: a sliding-window log in milliseconds, refused requests not
// counted, holders whose hold has lapsed freeing their slot.
package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/ratelimit"
)

// Limiter is a fake of ratelimit.Limiter in memory, on the clock now.
type Limiter struct {
	mu  sync.Mutex
	now func() time.Time
	log map[string][]int64 // admitted requests' times (ms), oldest first
}

// NewLimiter returns an empty limiter on now (time.Now when nil).
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, log: map[string][]int64{}}
}

// Allow counts one request against key under lim.
func (l *Limiter) Allow(_ context.Context, key string, lim ratelimit.Limit) (ratelimit.Result, error) {
	if !lim.Valid() {
		return ratelimit.Result{}, fmt.Errorf("ratelimit: invalid limit %d per %s", lim.Requests, lim.Window)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now, win := l.now().UnixMilli(), lim.Window.Milliseconds()
	kept := slices.DeleteFunc(l.log[key], func(at int64) bool { return at <= now-win })
	admitted := len(kept) < lim.Requests
	if admitted {
		kept = append(kept, now)
	}
	l.log[key] = kept
	oldest := now
	if len(kept) > 0 {
		oldest = kept[0]
	}
	return ratelimit.Result{
		Allowed:   admitted,
		Limit:     lim.Requests,
		Remaining: max(0, lim.Requests-len(kept)),
		Reset:     time.Duration(max(0, oldest+win-now)) * time.Millisecond,
	}, nil
}

// Spend counts one request against each check in order and stops at the
// first that refuses.
func (l *Limiter) Spend(ctx context.Context, checks ...ratelimit.Check) ([]ratelimit.Result, error) {
	for _, c := range checks {
		if !c.Limit.Valid() {
			return nil, fmt.Errorf("ratelimit: invalid limit %d per %s", c.Limit.Requests, c.Limit.Window)
		}
	}
	out := make([]ratelimit.Result, 0, len(checks))
	for _, c := range checks {
		r, err := l.Allow(ctx, c.Key, c.Limit)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if !r.Allowed {
			break
		}
	}
	return out, nil
}

// Slots is a fake of ratelimit.Slots in memory, on the clock now.
type Slots struct {
	mu   sync.Mutex
	now  func() time.Time
	sets map[string]map[string]int64 // key -> member -> hold's end (ms)
}

// NewSlots returns empty slots on now (time.Now when nil).
func NewSlots(now func() time.Time) *Slots {
	if now == nil {
		now = time.Now
	}
	return &Slots{now: now, sets: map[string]map[string]int64{}}
}

// set returns key's holders with the lapsed ones dropped. s.mu is held.
func (s *Slots) set(key string, now int64) map[string]int64 {
	set := s.sets[key]
	if set == nil {
		set = map[string]int64{}
		s.sets[key] = set
	}
	for m, until := range set {
		if until <= now {
			delete(set, m)
		}
	}
	return set
}

// Acquire gives member a slot of key until until, unless capacity slots are
// already held.
func (s *Slots) Acquire(_ context.Context, key, member string, capacity int, until time.Time) (bool, int, error) {
	if capacity < 1 {
		return false, 0, errors.New("ratelimit: slots capacity must be at least 1")
	}
	now := s.now()
	if !until.After(now) {
		return false, 0, fmt.Errorf("ratelimit: acquire %s: hold ends in the past", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.set(key, now.UnixMilli())
	if _, ok := set[member]; !ok && len(set) >= capacity {
		return false, len(set), nil
	}
	set[member] = until.UnixMilli()
	return true, len(set), nil
}

// Hold frees the slots of release and gives member a slot of key until
// until whatever the count.
func (s *Slots) Hold(_ context.Context, key, member string, until time.Time, release ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.set(key, s.now().UnixMilli())
	for _, m := range release {
		delete(set, m)
	}
	set[member] = until.UnixMilli()
	return nil
}

// Release frees the members' slots.
func (s *Slots) Release(_ context.Context, key string, members ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range members {
		delete(s.sets[key], m)
	}
	return nil
}

// Holders lists the members of key whose hold has not lapsed, the soonest
// to lapse first.
func (s *Slots) Holders(_ context.Context, key string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.set(key, s.now().UnixMilli())
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if set[out[i]] != set[out[j]] {
			return set[out[i]] < set[out[j]]
		}
		return out[i] < out[j]
	})
	return out, nil
}
