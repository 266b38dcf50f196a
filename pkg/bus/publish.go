package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// CloudEvents 1.0 binary-mode header names for NATS
// (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/nats-protocol-binding.md,
// which maps each attribute to a "ce-" prefixed header).
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderSource      = "ce-source"
	HeaderType        = "ce-type"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	// HeaderTenant is Infra Mind's CloudEvents extension attribute.
	HeaderTenant      = "ce-tenant"
	HeaderContentType = "content-type"
	// SpecVersion is the CloudEvents version written in ce-specversion.
	SpecVersion = "1.0"
	// ContentTypeJSON is the content type of every event's data.
	ContentTypeJSON = "application/json"
)

// Message is an outgoing CloudEvent.
type Message struct {
	ID      string // deterministic: becomes Nats-Msg-Id and ce-id
	Type    string // ce-type
	Source  string // ce-source, e.g. "/services/cloud"
	Subject string // NATS subject
	Tenant  string // ce-tenant extension attribute
	// CloudEvents subject attribute (ce-subject), e.g. the assessment id.
	CESubject string
	Time      time.Time
	// Data is any proto.Message (encoded with protojson) or []byte (sent as is);
	// content type application/json either way.
	Data any
	// Schedule, when set, makes Subject a message schedule: the stream keeps
	// the message and publishes it to Schedule.Target at Schedule.At.
	Schedule *Schedule
	// Unordered, in a handler's outputs, lets the runner store the message
	// in any order among the Unordered messages next to it: it publishes such
	// a run at once and waits for all of it to be stored before publishing
	// the next message. Every message that is not Unordered is still stored
	// after every message before it.
	Unordered bool
}

// Schedule is when and where the broker publishes a scheduled message (a
// JetStream message schedule: ADR-51 of nats-io/nats-architecture-and-design,
// nats-server 2.12 and later). The published copy keeps the CloudEvents
// headers and the data but not the Nats-Msg-Id. A later schedule on the same
// subject replaces an earlier one that has not fired.
type Schedule struct {
	At     time.Time
	Target string // a subject of the same stream
}

// Validate reports the first required field m lacks.
func (m Message) Validate() error {
	switch {
	case m.ID == "":
		return errors.New("bus: message ID is required")
	case m.Type == "":
		return errors.New("bus: message Type is required")
	case m.Source == "":
		return errors.New("bus: message Source is required")
	case m.Subject == "":
		return errors.New("bus: message Subject is required")
	case m.Schedule != nil && (m.Schedule.At.IsZero() || m.Schedule.Target == "" || m.Schedule.Target == m.Subject):
		return errors.New("bus: a scheduled message needs a time and a target subject other than its own")
	}
	return nil
}

// EncodeData turns a Message's Data into the JSON body.
func EncodeData(data any) ([]byte, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case proto.Message:
		// Proto field names (snake_case) so the JSON matches the schemas a
		// non-Go subscriber reads; zero values are omitted.
		b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("bus: encode %T: %w", d, err)
		}
		return b, nil
	case []byte:
		return d, nil
	default:
		return nil, fmt.Errorf("bus: data of type %T is neither a proto.Message nor []byte", data)
	}
}

// Publish sends m in CloudEvents binary mode (ce-* headers, JSON body), with
// Nats-Msg-Id = m.ID and the W3C traceparent/tracestate of ctx, and waits for
// the JetStream ack. A duplicate within the dedup window is not an error.
func (b *Bus) Publish(ctx context.Context, m Message) error {
	msg, err := buildMsg(ctx, m)
	if err != nil {
		return err
	}
	var opts []jetstream.PublishOpt
	if m.Schedule != nil {
		// "@at" is to the second; rounding up keeps a deadline from firing
		// before its time.
		at := m.Schedule.At
		if !at.Equal(at.Truncate(time.Second)) {
			at = at.Truncate(time.Second).Add(time.Second)
		}
		opts = append(opts, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(m.Schedule.Target))
	}
	if pm, ok := m.Data.(proto.Message); ok {
		// Kept before it is sent: a consumer on this Bus may be handed the
		// message before the stream's ack reaches us. Bytes the stream never
		// stored (a failed or duplicate publish) match no delivery.
		b.local.put(m.ID, msg.Data, pm)
	}
	ack, err := b.JS.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return fmt.Errorf("bus: publish %s to %s: %w", m.ID, m.Subject, err)
	}
	if ack.Duplicate {
		b.logger().Debug("duplicate publish ignored by the stream", "id", m.ID, "subject", m.Subject, "stream", ack.Stream)
		return nil
	}
	b.observer().Published(m.Type)
	return nil
}

func buildMsg(ctx context.Context, m Message) (*nats.Msg, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := EncodeData(m.Data)
	if err != nil {
		return nil, err
	}
	t := m.Time
	if t.IsZero() {
		t = time.Now()
	}
	h := nats.Header{}
	h.Set(HeaderSpecVersion, SpecVersion)
	h.Set(HeaderID, m.ID)
	h.Set(HeaderSource, m.Source)
	h.Set(HeaderType, m.Type)
	h.Set(HeaderTime, t.UTC().Format(time.RFC3339Nano))
	if m.CESubject != "" {
		h.Set(HeaderSubject, m.CESubject)
	}
	if m.Tenant != "" {
		h.Set(HeaderTenant, m.Tenant)
	}
	h.Set(HeaderContentType, ContentTypeJSON)
	h.Set(jetstream.MsgIDHeader, m.ID)
	propagation.TraceContext{}.Inject(ctx, HeaderCarrier(h))
	return &nats.Msg{Subject: m.Subject, Header: h, Data: data}, nil
}

// HeaderCarrier adapts nats.Header to OpenTelemetry's TextMapCarrier so W3C
// trace context travels in message headers. NATS header keys are
// case-sensitive; the propagator reads and writes lower-case names.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
