package bus

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// TypeDeadlineReached is the CloudEvents type of AssessmentDeadlineReached.
const TypeDeadlineReached = "dev.inframind.assessment.deadline.v1"

// DeadlineSchedule is the message that schedules an assessment's deadline:
// at deadline the broker publishes an AssessmentDeadlineReached to
// SubjectDeadlineDue, and a later schedule of the same assessment replaces
// this one if it has not fired. md names the tenant, the assessment and its
// correlation id; its event id is set here, deterministic in the assessment
// and the deadline, so scheduling one deadline twice stores it once.
func DeadlineSchedule(source string, md *inframindv1.Metadata, deadline time.Time) Message {
	tenant, id := md.GetTenantId(), md.GetAssessmentId()
	eventID := "deadline." + id + "." + strconv.FormatInt(deadline.UnixMilli(), 10)
	meta := &inframindv1.Metadata{
		EventId: eventID, TenantId: tenant, AssessmentId: id,
		CorrelationId: md.GetCorrelationId(), Traceparent: md.GetTraceparent(), Time: md.GetTime(),
	}
	return Message{
		ID: eventID, Type: TypeDeadlineReached, Source: source,
		Subject: SubjectDeadlineSchedule(tenant, id), Tenant: tenant, CESubject: id,
		Data:     &inframindv1.AssessmentDeadlineReached{Metadata: meta, Deadline: timestamppb.New(deadline)},
		Schedule: &Schedule{At: deadline, Target: SubjectDeadlineDue(tenant, id)},
	}
}
