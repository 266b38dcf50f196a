// Package adapters holds the real implementations of pkg/app's ports that
// need more than a store repository: the queue publishes to JetStream, the
// event log reads the EVENTS stream and the report cache keeps reports in
// Redis. The repository ports are
// implemented by the store's repositories as they are. The contract suites
// in this package's tests run against these and against the fakes of
// pkg/app/apptest.
package adapters

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Publisher publishes one message; *bus.Bus is the real one.
type Publisher interface {
	Publish(ctx context.Context, m bus.Message) error
}

// BusQueue queues assessments on JetStream (app.Queue).
type BusQueue struct {
	pub    Publisher
	source string
}

// NewBusQueue returns a queue publishing through pub; source is the
// CloudEvents source of what it publishes ("/services/gateway").
func NewBusQueue(pub Publisher, source string) (*BusQueue, error) {
	if pub == nil {
		return nil, errors.New("adapters: a publisher is required")
	}
	if source == "" {
		return nil, errors.New("adapters: a CloudEvents source is required")
	}
	return &BusQueue{pub: pub, source: source}, nil
}

// ScheduleDeadline schedules the assessment's deadline on the DEADLINES
// stream: the broker publishes it when it falls due and the synthesizer
// closes what has not finished (ADR 0029). Its id is deterministic in the
// assessment and the time, so a retry is deduplicated by JetStream; a later
// schedule of the same assessment replaces an earlier one.
func (q *BusQueue) ScheduleDeadline(ctx context.Context, a store.Assessment) error {
	md := &inframindv1.Metadata{TenantId: a.TenantID, AssessmentId: a.ID, CorrelationId: a.CorrelationID,
		Traceparent: traceparent(ctx), Time: timestamppb.New(a.CreatedAt)}
	if err := q.pub.Publish(ctx, bus.DeadlineSchedule(q.source, md, a.Deadline)); err != nil {
		return fmt.Errorf("schedule the deadline of %s: %w", a.ID, err)
	}
	return nil
}

// traceparent is the W3C trace context of ctx, for the metadata.
func traceparent(ctx context.Context) string {
	carrier := map[string]string{}
	propagation.TraceContext{}.Inject(ctx, mapCarrier(carrier))
	return carrier["traceparent"]
}

// Enqueue publishes the queued status event and the RequestAssessment
// command. Both carry deterministic ids, so a retry is deduplicated by
// JetStream. The deadline was scheduled before the assessment was stored
// (ScheduleDeadline). The status goes before the command so a progress
// stream always starts with "queued". The trace context of ctx travels in
// the metadata.
func (q *BusQueue) Enqueue(ctx context.Context, a store.Assessment, req *inframindv1.AssessmentRequest) error {
	tp := traceparent(ctx)
	meta := func(eventID string) *inframindv1.Metadata {
		return &inframindv1.Metadata{
			EventId: eventID, TenantId: a.TenantID, AssessmentId: a.ID,
			CorrelationId: a.CorrelationID, Traceparent: tp,
			Time: timestamppb.New(a.CreatedAt),
		}
	}
	families := make([]string, 0, len(assessment.Families()))
	for _, f := range assessment.Families() {
		families = append(families, string(f))
	}
	statusID := assessment.DeterministicID(a.ID, string(assessment.StatusQueued))
	if err := q.pub.Publish(ctx, bus.Message{
		ID: statusID, Type: bus.TypeStatusChanged, Source: q.source,
		Subject: bus.SubjectStatus(a.TenantID, a.ID), Tenant: a.TenantID, CESubject: a.ID, Time: a.CreatedAt,
		Data: &inframindv1.AssessmentStatusChanged{
			Metadata: meta(statusID), Status: string(assessment.StatusQueued),
			TotalFamilies: int32(len(families)), Message: "assessment queued",
		},
	}); err != nil {
		return fmt.Errorf("publish queued status of %s: %w", a.ID, err)
	}
	if err := q.pub.Publish(ctx, bus.Message{
		ID: a.ID, Type: bus.TypeAssessmentRequested, Source: q.source,
		Subject: bus.SubjectRequested(a.TenantID), Tenant: a.TenantID, CESubject: a.ID, Time: a.CreatedAt,
		Data: &inframindv1.RequestAssessment{Metadata: meta(a.ID), Request: req, Families: families},
	}); err != nil {
		return fmt.Errorf("publish request of %s: %w", a.ID, err)
	}
	return nil
}

// mapCarrier adapts a map to the propagator's carrier interface.
type mapCarrier map[string]string

func (m mapCarrier) Get(k string) string { return m[k] }
func (m mapCarrier) Set(k, v string)     { m[k] = v }
func (m mapCarrier) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
