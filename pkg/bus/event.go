package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ErrUndecodable marks a payload that cannot be decoded. It is permanent:
// errors.Is(err, ErrUndecodable) implies errors.Is(err, ErrPermanent).
var ErrUndecodable = errors.New("undecodable payload")

// undecodableError wraps a decoding failure so it matches both ErrUndecodable
// and ErrPermanent: the same bytes will never decode on a later delivery.
type undecodableError struct{ err error }

func (e *undecodableError) Error() string   { return "undecodable payload: " + e.err.Error() }
func (e *undecodableError) Unwrap() []error { return []error{ErrUndecodable, ErrPermanent, e.err} }

// Undecodable wraps err as an undecodable-payload failure. A handler returns
// it (or any error wrapping it) when the event's data cannot be understood;
// the runner then terminates the message and dead-letters it with the reason
// instead of retrying. Event.Decode already returns errors of this kind.
func Undecodable(err error) error {
	if err == nil {
		err = errors.New("no detail")
	}
	return &undecodableError{err: err}
}

// Event is an incoming CloudEvent as a handler sees it.
type Event struct {
	ID        string
	Type      string
	Source    string
	Subject   string // NATS subject
	Tenant    string
	CESubject string
	Time      time.Time
	Data      []byte
	Headers   nats.Header
	// Deliveries is how many times JetStream has delivered this message (1 = first).
	Deliveries uint64
	// StreamSeq is the message's sequence in its stream.
	StreamSeq uint64
	// Stored is when the stream stored the message (its JetStream metadata
	// timestamp); zero for an event built without a broker.
	Stored time.Time

	msg jetstream.Msg
	// local holds what the consuming Bus published itself lately (nil: none kept).
	local *localCopies
	// Set by the runner from its Policy.
	lastDelivery bool
	retryDelay   time.Duration
}

// NewEvent reads the CloudEvents attributes and JetStream metadata of msg.
// Missing attributes are left empty; an unparsable ce-time is left zero.
func NewEvent(msg jetstream.Msg) (*Event, error) {
	md, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("bus: message metadata on %s: %w", msg.Subject(), err)
	}
	h := msg.Headers()
	e := &Event{
		ID:         h.Get(HeaderID),
		Type:       h.Get(HeaderType),
		Source:     h.Get(HeaderSource),
		Subject:    msg.Subject(),
		Tenant:     h.Get(HeaderTenant),
		CESubject:  h.Get(HeaderSubject),
		Data:       msg.Data(),
		Headers:    h,
		Deliveries: md.NumDelivered,
		StreamSeq:  md.Sequence.Stream,
		Stored:     md.Timestamp,
		msg:        msg,
		Time:       ceTime(h),
	}
	return e, nil
}

// ceTime is the ce-time attribute of h, zero when missing or unparsable.
func ceTime(h nats.Header) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, h.Get(HeaderTime))
	return t
}

// InProgress extends the ack deadline of a long-running handler.
func (e *Event) InProgress() error {
	if e.msg == nil {
		return errors.New("bus: event has no JetStream message")
	}
	if err := e.msg.InProgress(); err != nil {
		return fmt.Errorf("bus: in progress %s: %w", e.ID, err)
	}
	return nil
}

// LastDelivery reports whether a failure of this delivery is dead-lettered
// rather than retried (the consumer's MaxDeliver is reached).
func (e *Event) LastDelivery() bool { return e.lastDelivery }

// RetryDelay is how long the runner waits before the next delivery if this
// one fails (the consumer's BackOff entry for this delivery).
func (e *Event) RetryDelay() time.Duration { return e.retryDelay }

// Decode unmarshals Data (protojson, unknown fields rejected) into v; any
// other v is decoded with encoding/json. A failure wraps ErrUndecodable (and
// so ErrPermanent): returning it from a handler dead-letters the message.
// A message the consuming Bus published itself with these very bytes is
// copied from the value it was encoded from instead (Config.LocalCopies).
func (e *Event) Decode(v any) error {
	var err error
	if pm, ok := v.(proto.Message); ok {
		if e.local.copyInto(e.ID, e.Data, pm) {
			return nil
		}
		err = protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(e.Data, pm)
	} else {
		err = json.Unmarshal(e.Data, v)
	}
	if err != nil {
		return Undecodable(fmt.Errorf("decode %s event %s into %T: %w", e.Type, e.ID, v, err))
	}
	return nil
}

// EventFor builds the Event a handler would receive for m on its first
// delivery, without a broker: the same headers (including the trace context
// of ctx) and encoded data. It lets handler tests run without NATS; such an
// event has no stream sequence and InProgress reports an error.
func EventFor(ctx context.Context, m Message) (*Event, error) {
	msg, err := buildMsg(ctx, m)
	if err != nil {
		return nil, err
	}
	h := msg.Header
	e := &Event{
		ID:         m.ID,
		Type:       m.Type,
		Source:     m.Source,
		Subject:    m.Subject,
		Tenant:     m.Tenant,
		CESubject:  m.CESubject,
		Data:       msg.Data,
		Headers:    h,
		Deliveries: 1,
	}
	e.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderTime))
	return e, nil
}
