package secrets

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Cached keeps each secret for a TTL so a hot path (every request's token
// check) does not call Vault each time; a rotation is seen within one TTL.
type Cached struct {
	next Provider
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]cachedEntry
}

type cachedEntry struct {
	secret  Secret
	fetched time.Time
}

// NewCached wraps next; now is the clock (nil means time.Now).
func NewCached(next Provider, ttl time.Duration, now func() time.Time) (*Cached, error) {
	if next == nil {
		return nil, errors.New("cached secrets: provider is required")
	}
	if ttl <= 0 {
		return nil, errors.New("cached secrets: TTL must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Cached{next: next, ttl: ttl, now: now, entries: make(map[string]cachedEntry)}, nil
}

// Get implements Provider. Errors are not cached: the next call retries.
func (c *Cached) Get(ctx context.Context, name string) (Secret, error) {
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.secret, nil
	}
	s, err := c.next.Get(ctx, name)
	if err != nil {
		return Secret{}, err
	}
	c.mu.Lock()
	c.entries[name] = cachedEntry{secret: s, fetched: c.now()}
	c.mu.Unlock()
	return s, nil
}
