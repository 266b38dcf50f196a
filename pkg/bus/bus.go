// Package bus is Infra Mind's JetStream transport: stream and consumer
// declarations, CloudEvents publishing with deterministic message ids, and a
// consumer runner where only the runner acknowledges.
//
// API CONTRACT (implemented by the bus owner; other packages code against it):
// signatures below are fixed, bodies are to be written.
package bus

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream names. Never rename: consumers and retained data are bound to them.
const (
	StreamAssessments = "ASSESSMENTS" // im.assessment.requested.<tenant>
	StreamResults     = "RESULTS"     // im.agent.result.<tenant>.<family>
	StreamEvents      = "EVENTS"      // im.assessment.status.<tenant>.<assessment>, im.assessment.completed.<tenant>.<assessment>
	StreamDeadLetter  = "DEADLETTER"  // im.deadletter.<stream>.<consumer>
)

// CloudEvents types (the ce-type header).
const (
	TypeAssessmentRequested  = "dev.inframind.assessment.requested.v1"
	TypeAgentResultPublished = "dev.inframind.agent.result.v1"
	TypeStatusChanged        = "dev.inframind.assessment.status.v1"
	TypeAssessmentCompleted  = "dev.inframind.assessment.completed.v1"
	TypeDeadLetter           = "dev.inframind.deadletter.v1"
)

// SubjectRequested is where the gateway publishes RequestAssessment.
func SubjectRequested(tenant string) string { return "im.assessment.requested." + tenant }

// SubjectResult is where a family publishes its AgentResultPublished.
func SubjectResult(tenant, family string) string { return "im.agent.result." + tenant + "." + family }

// SubjectStatus carries AssessmentStatusChanged for one assessment (SSE reads it).
func SubjectStatus(tenant, assessmentID string) string {
	return "im.assessment.status." + tenant + "." + assessmentID
}

// SubjectCompleted carries the AssessmentCompleted CloudEvent.
func SubjectCompleted(tenant, assessmentID string) string {
	return "im.assessment.completed." + tenant + "." + assessmentID
}

// ErrPermanent marks a handler error that retrying cannot fix: the runner
// terminates the message and dead-letters it with the reason.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so errors.Is(err, ErrPermanent) holds.
func Permanent(err error) error { return errors.Join(ErrPermanent, err) }

// Config for Connect.
type Config struct {
	URL  string // nats://host:port
	Name string // client name shown by the server
	// Replicas for streams (1 for development, 3 in a cluster).
	Replicas int
	// MaxAge of retained messages in the streams.
	MaxAge time.Duration
	// DuplicateWindow is the JetStream dedup window for Nats-Msg-Id.
	DuplicateWindow time.Duration
}

// Bus is a connection to JetStream with Infra Mind's streams declared.
type Bus struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials NATS, and declares every stream idempotently
// (CreateOrUpdateStream), so any service may start first.
func Connect(ctx context.Context, cfg Config) (*Bus, error) { panic("unimplemented") }

// Close drains the connection.
func (b *Bus) Close() error { panic("unimplemented") }

// Ping checks the server answers and JetStream is enabled (for /readyz).
func (b *Bus) Ping(ctx context.Context) error { panic("unimplemented") }

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
}

// Publish sends m in CloudEvents binary mode (ce-* headers, JSON body), with
// Nats-Msg-Id = m.ID and the W3C traceparent/tracestate of ctx, and waits for
// the JetStream ack. A duplicate within the dedup window is not an error.
func (b *Bus) Publish(ctx context.Context, m Message) error { panic("unimplemented") }

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

	msg jetstream.Msg
}

// InProgress extends the ack deadline of a long-running handler.
func (e *Event) InProgress() error { panic("unimplemented") }

// Decode unmarshals Data (protojson, unknown fields rejected) into v.
func (e *Event) Decode(v any) error { panic("unimplemented") }

// Handler processes one event. nil -> ack; ErrPermanent or undecodable -> term
// and dead-letter; any other error -> nak with backoff; MaxDeliver reached ->
// dead-letter. The handler must publish its outputs before returning nil.
type Handler func(ctx context.Context, e *Event) error

// ConsumerSpec declares a durable pull consumer. Durable names are constants in
// the caller and are never renamed casually.
type ConsumerSpec struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	AckWait        time.Duration
	MaxDeliver     int
	BackOff        []time.Duration
	MaxAckPending  int
	// Concurrency is how many handlers run at once (default 1).
	Concurrency int
}

// Consume declares the consumer idempotently and runs h on every message until
// ctx is cancelled; then it stops fetching, waits up to drainTimeout for
// in-flight handlers, and returns. Messages whose handler did not finish are
// not acked and are redelivered after AckWait.
func (b *Bus) Consume(ctx context.Context, spec ConsumerSpec, drainTimeout time.Duration, h Handler) error {
	panic("unimplemented")
}

// ReplayFrom streams the events on subject starting after stream sequence
// afterSeq (0 = from the beginning), in order, until ctx is cancelled. Used by
// the SSE endpoint for Last-Event-ID replay; it creates no durable state.
func (b *Bus) ReplayFrom(ctx context.Context, stream, subject string, afterSeq uint64, fn func(e *Event) error) error {
	panic("unimplemented")
}
