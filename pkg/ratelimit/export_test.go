package ratelimit

import "time"

// SetClock sets the clocks of a Limiter and Slots for the contract suite
// (package ratelimit_test), which cannot reach the unexported fields.
func SetClock(l *Limiter, s *Slots, now func() time.Time) {
	l.now = now
	s.now = now
}
