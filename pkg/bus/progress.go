package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Progress is what the broker knows of a durable consumer's work.
type Progress struct {
	// Outstanding is how many messages the consumer has not acknowledged:
	// waiting to be delivered plus delivered and in progress.
	Outstanding uint64
	// LastAck is when the consumer last acknowledged a message (zero when
	// it has not since the broker started).
	LastAck time.Time
}

// Working reports whether the consumer has work and acknowledged a message
// within window of now: a queue being worked through, not a consumer that
// is down.
func (p Progress) Working(now time.Time, window time.Duration) bool {
	return p.Outstanding > 0 && !p.LastAck.IsZero() && now.Sub(p.LastAck) <= window
}

// ConsumerProgress returns the progress of durable on stream, and false when
// no such consumer is declared (its service never started).
func (b *Bus) ConsumerProgress(ctx context.Context, stream, durable string) (Progress, bool, error) {
	c, err := b.JS.Consumer(ctx, stream, durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return Progress{}, false, nil
	}
	if err != nil {
		return Progress{}, false, fmt.Errorf("bus: consumer %s on %s: %w", durable, stream, err)
	}
	info := c.CachedInfo()
	p := Progress{Outstanding: info.NumPending + uint64(info.NumAckPending)} //nolint:gosec // a count is never negative
	if info.AckFloor.Last != nil {
		p.LastAck = *info.AckFloor.Last
	}
	return p, true, nil
}
