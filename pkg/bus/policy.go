package bus

import (
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of a consumer's Policy, owned here so no consumer restates them.
const (
	DefaultAckWait      = 30 * time.Second
	DefaultMaxDeliver   = 5
	DefaultConcurrency  = 1
	DefaultDrainTimeout = 15 * time.Second
)

// DefaultBackOff is the redelivery schedule of a consumer that sets none:
// quick first retry for blips, then longer pauses for outages.
func DefaultBackOff() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}
}

// Policy is how the runner consumes: acknowledgement deadline, retries,
// parallelism and shutdown. Build it with options; NewPolicy shows the result.
type Policy struct {
	// AckWait is how long a delivery may stay unacknowledged before JetStream
	// redelivers it. Long handlers call Event.InProgress.
	AckWait time.Duration
	// MaxDeliver bounds deliveries (-1 = unlimited). The last allowed
	// delivery that fails is dead-lettered instead of retried.
	MaxDeliver int
	// BackOff is the pause before delivery n+1 after delivery n failed
	// (entry n-1, the last entry repeating). It is also sent to the server,
	// raised to at least AckWait per entry, as the ack deadline of each
	// delivery, so a crashed worker's message comes back on the same
	// growing schedule.
	BackOff []time.Duration
	// MaxAckPending bounds unacknowledged deliveries (0 = server default).
	MaxAckPending int
	// Concurrency is how many handlers run at once.
	Concurrency int
	// DrainTimeout is how long Consume waits for in-flight handlers once its
	// context is cancelled; what has not finished by then is redelivered.
	DrainTimeout time.Duration
}

// Option sets one part of a consumer's Policy. A zero or negative value
// keeps the default, so a configuration field left unset can be passed as is.
type Option func(*Policy)

// AckWait sets Policy.AckWait (default DefaultAckWait).
func AckWait(d time.Duration) Option {
	return func(p *Policy) {
		if d > 0 {
			p.AckWait = d
		}
	}
}

// MaxDeliver sets Policy.MaxDeliver (default DefaultMaxDeliver; -1 = unlimited).
func MaxDeliver(n int) Option {
	return func(p *Policy) {
		if n > 0 || n == -1 {
			p.MaxDeliver = n
		}
	}
}

// BackOff sets Policy.BackOff (default DefaultBackOff; non-positive entries are ignored).
func BackOff(ds ...time.Duration) Option {
	return func(p *Policy) {
		var kept []time.Duration
		for _, d := range ds {
			if d > 0 {
				kept = append(kept, d)
			}
		}
		if len(kept) > 0 {
			p.BackOff = kept
		}
	}
}

// MaxAckPending sets Policy.MaxAckPending (default: the server's).
func MaxAckPending(n int) Option {
	return func(p *Policy) {
		if n > 0 {
			p.MaxAckPending = n
		}
	}
}

// Concurrency sets Policy.Concurrency (default DefaultConcurrency).
func Concurrency(n int) Option {
	return func(p *Policy) {
		if n > 0 {
			p.Concurrency = n
		}
	}
}

// DrainTimeout sets Policy.DrainTimeout (default DefaultDrainTimeout).
func DrainTimeout(d time.Duration) Option {
	return func(p *Policy) {
		if d > 0 {
			p.DrainTimeout = d
		}
	}
}

// NewPolicy is the defaults with opts applied in order.
func NewPolicy(opts ...Option) Policy {
	p := Policy{
		AckWait:      DefaultAckWait,
		MaxDeliver:   DefaultMaxDeliver,
		BackOff:      DefaultBackOff(),
		Concurrency:  DefaultConcurrency,
		DrainTimeout: DefaultDrainTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o(&p)
		}
	}
	p.BackOff = slices.Clone(p.BackOff)
	return p
}

// ConsumerConfig is the server-side declaration of a durable consumer with
// policy p. Exposed so operators and tests can see exactly what is declared.
func (p Policy) ConsumerConfig(durable string, sub Subscription) jetstream.ConsumerConfig {
	// The server uses BackOff[0] as the AckWait and BackOff[n] as the ack
	// deadline of delivery n+1, and rejects more entries than MaxDeliver.
	n := len(p.BackOff)
	if p.MaxDeliver > 0 && n > p.MaxDeliver {
		n = p.MaxDeliver
	}
	serverBackOff := make([]time.Duration, n)
	for i := range n {
		serverBackOff[i] = max(p.AckWait, p.BackOff[i])
	}
	// The server may deliver once more than the runner allows: when the last
	// allowed delivery never reports back (the process died, the handler
	// overran AckWait), that extra delivery reaches the runner, which
	// dead-letters it unhandled. Without it the server would stop silently
	// and the message would leave no record.
	serverMax := p.MaxDeliver
	if serverMax > 0 {
		serverMax++
	}
	return jetstream.ConsumerConfig{
		Durable:        durable,
		FilterSubjects: sub.Subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        p.AckWait,
		MaxDeliver:     serverMax,
		BackOff:        serverBackOff,
		MaxAckPending:  p.MaxAckPending,
	}
}

// RetryDelay is the pause before the delivery after delivery number n fails.
func (p Policy) RetryDelay(n uint64) time.Duration {
	if len(p.BackOff) == 0 {
		return 0
	}
	i := int(min(n, uint64(len(p.BackOff)))) - 1 //nolint:gosec // bounded by len
	return p.BackOff[max(i, 0)]
}

// lastDelivery reports whether a failure of delivery n is dead-lettered
// rather than retried.
func (p Policy) lastDelivery(n uint64) bool {
	return p.MaxDeliver > 0 && n >= uint64(p.MaxDeliver)
}
