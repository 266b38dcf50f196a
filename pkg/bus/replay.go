package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReplayFrom streams the events on subject starting after stream sequence
// afterSeq (0 = from the beginning), in order, until ctx is cancelled; it then
// returns nil. After the stored events it keeps delivering new ones as they
// are published (live tail). Used by the SSE endpoint for Last-Event-ID
// replay; it creates no durable state (an ordered, ephemeral consumer). An
// error from fn stops the replay and is returned.
func (b *Bus) ReplayFrom(ctx context.Context, stream, subject string, afterSeq uint64, fn func(e *Event) error) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// The server's backstop for a replay whose deletion below never
		// ran (the process died): the client's default keeps it 5 minutes.
		InactiveThreshold: replayInactive,
	}
	if afterSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	cons, err := b.JS.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("bus: replay %s on %s: %w", subject, stream, err)
	}
	// A stopped iterator leaves its consumer on the server until the
	// inactive threshold: at one replay per event stream a client opens,
	// they would pile up against the stream's consumer limit (nats-server's
	// default is 1,000 per stream) and refuse new replays. Delete it when
	// the replay ends.
	defer b.deleteOrdered(ctx, stream, cons)
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("bus: replay %s on %s: %w", subject, stream, err)
	}
	defer iter.Stop()
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bus: replay %s on %s: %w", subject, stream, err)
		}
		ev, err := NewEvent(msg)
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return fmt.Errorf("bus: replay %s: handler: %w", subject, err)
		}
	}
}

// replayInactive is how long the server keeps a replay's consumer with no
// client pulling from it.
const replayInactive = 30 * time.Second

// deleteOrdered removes the server's consumer behind an ordered consumer,
// even when ctx has ended (the usual way a replay stops). A consumer already
// gone, or a broker out of reach, leaves it to replayInactive.
func (b *Bus) deleteOrdered(ctx context.Context, stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	_ = b.JS.DeleteConsumer(dctx, stream, info.Name)
}

// LastSeq returns the stream sequence of the last message on subject, and
// false when the stream holds none.
func (b *Bus) LastSeq(ctx context.Context, stream, subject string) (uint64, bool, error) {
	st, err := b.JS.Stream(ctx, stream)
	if err != nil {
		return 0, false, fmt.Errorf("bus: open stream %s: %w", stream, err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("bus: last message on %s: %w", subject, err)
	}
	return msg.Sequence, true, nil
}

// ErrNotStored is Stored's error for a sequence the stream does not hold
// (never stored, aged out, or erased).
var ErrNotStored = errors.New("bus: the stream holds no message at that sequence")

// Stored returns the message stream holds at seq as an Event: its
// CloudEvents attributes, data and sequence, without delivery state
// (Deliveries is 0 and InProgress reports an error). It is one request to
// the server, which reads the message by its sequence, not by scanning.
func (b *Bus) Stored(ctx context.Context, stream string, seq uint64) (*Event, error) {
	st, err := b.stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %s %d", ErrNotStored, stream, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: read %s message %d: %w", stream, seq, err)
	}
	h := m.Header
	e := &Event{
		ID: h.Get(HeaderID), Type: h.Get(HeaderType), Source: h.Get(HeaderSource), Subject: m.Subject,
		Tenant: h.Get(HeaderTenant), CESubject: h.Get(HeaderSubject), Data: m.Data, Headers: h,
		StreamSeq: m.Sequence, Stored: m.Time, Time: ceTime(h),
	}
	return e, nil
}

// stream is the handle of stream, opened once.
func (b *Bus) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if st, ok := b.streams.Load(name); ok {
		return st.(jetstream.Stream), nil
	}
	st, err := b.JS.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("bus: open stream %s: %w", name, err)
	}
	b.streams.Store(name, st)
	return st, nil
}
