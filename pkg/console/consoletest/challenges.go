// Package consoletest holds in-process fakes of the console's ports, for
// tests that serve the console without Redis. The contract suite in
// pkg/console runs the same tests on each fake and on the real adapter.
package consoletest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Challenges is a fake of console.Challenges in memory. Entries expire on
// its clock, which stands still until Advance moves it, as the embedded
// Redis-protocol server's does.
type Challenges struct {
	mu      sync.Mutex
	now     time.Time
	entries map[string]challenge
}

type challenge struct {
	b     []byte
	until time.Time
}

// NewChallenges returns an empty fake.
func NewChallenges() *Challenges {
	return &Challenges{now: time.Unix(0, 0), entries: map[string]challenge{}}
}

// Put keeps b under id for ttl, replacing what id held.
func (c *Challenges) Put(_ context.Context, id string, b []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("keep sign-in challenge: ttl must be positive")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[id] = challenge{b: slices.Clone(b), until: c.now.Add(ttl)}
	return nil
}

// Take returns and removes the challenge under id.
func (c *Challenges) Take(_ context.Context, id string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	delete(c.entries, id)
	if !ok || !c.now.Before(e.until) {
		return nil, false, nil
	}
	return e.b, true, nil
}

// Advance moves the fake's clock by d.
func (c *Challenges) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
