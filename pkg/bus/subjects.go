package bus

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names. Never rename: consumers and retained data are bound to them.
const (
	StreamAssessments = "ASSESSMENTS" // im.assessment.requested.<tenant>
	StreamResults     = "RESULTS"     // im.agent.result.<tenant>.<family>
	StreamEvents      = "EVENTS"      // im.assessment.{status,completed,narrative}.<tenant>.<assessment>
	StreamDeadLetter  = "DEADLETTER"  // im.deadletter.<stream>.<consumer>
	// StreamWebhooks holds one message per (event, endpoint) still to
	// deliver: im.webhook.delivery.<tenant>. Only the webhook dispatcher
	// declares it (WebhookStreamConfig).
	StreamWebhooks = "WEBHOOKS"
	// StreamDeadlines holds each running assessment's deadline as a
	// JetStream message schedule (im.deadline.schedule.<tenant>.<assessment>)
	// and the message the broker publishes when it falls due
	// (im.deadline.due.<tenant>.<assessment>): ADR 0029. It also holds the
	// purges of expired sign-in data (im.purge.schedule.all.<unix time>,
	// due on im.purge.due.all): ADR 0041.
	StreamDeadlines = "DEADLINES"
)

// Subject prefixes. Every subject is im.<kind>.<kind>.<tenant>[...]: the
// tenant is always the fourth token, so a subscriber can be limited to one
// tenant by subject permission and the runner can check it.
const (
	prefixRequested        = "im.assessment.requested."
	prefixResult           = "im.agent.result."
	prefixStatus           = "im.assessment.status."
	prefixCompleted        = "im.assessment.completed."
	prefixNarrative        = "im.assessment.narrative."
	prefixAssessmentEvent  = "im.assessment.*."
	prefixDeadLetter       = "im.deadletter."
	prefixWebhookDelivery  = "im.webhook.delivery."
	prefixDeadlineSchedule = "im.deadline.schedule."
	prefixDeadlineDue      = "im.deadline.due."
	prefixPurgeSchedule    = "im.purge.schedule."
	prefixPurgeDue         = "im.purge.due."
	// tenantToken is the index of the tenant among a subject's tokens.
	tenantToken = 3
)

// SubjectRequested is where the gateway publishes RequestAssessment.
func SubjectRequested(tenant string) string { return prefixRequested + tenant }

// SubjectResult is where a family publishes its AgentResultPublished.
func SubjectResult(tenant, family string) string { return prefixResult + tenant + "." + family }

// SubjectStatus carries AssessmentStatusChanged for one assessment (SSE reads it).
func SubjectStatus(tenant, assessmentID string) string {
	return prefixStatus + tenant + "." + assessmentID
}

// SubjectCompleted carries the AssessmentCompleted CloudEvent.
func SubjectCompleted(tenant, assessmentID string) string {
	return prefixCompleted + tenant + "." + assessmentID
}

// SubjectNarrative carries the consultant's NarrativeReady.
func SubjectNarrative(tenant, assessmentID string) string {
	return prefixNarrative + tenant + "." + assessmentID
}

// SubjectAssessmentEvents matches every status and completed event of one
// assessment (the filter of its Server-Sent Events replay).
func SubjectAssessmentEvents(tenant, assessmentID string) string {
	return prefixAssessmentEvent + tenant + "." + assessmentID
}

// SubjectWebhookDelivery is where the deliveries of tenant's events wait.
func SubjectWebhookDelivery(tenant string) string { return prefixWebhookDelivery + tenant }

// SubjectDeadlineSchedule holds the schedule of one assessment's deadline:
// a new schedule published there replaces the one before (the broker rolls
// the subject up), so an assessment has one deadline at a time.
func SubjectDeadlineSchedule(tenant, assessmentID string) string {
	return prefixDeadlineSchedule + tenant + "." + assessmentID
}

// SubjectDeadlineDue is where the broker publishes an assessment's deadline
// when its schedule falls due.
func SubjectDeadlineDue(tenant, assessmentID string) string {
	return prefixDeadlineDue + tenant + "." + assessmentID
}

// SubjectDeadLetter is where the runner dead-letters messages of a consumer.
func SubjectDeadLetter(stream, durable string) string {
	return prefixDeadLetter + stream + "." + durable
}

// TenantOfSubject returns the tenant token of one of the subjects above, and
// false for a subject that is not Infra Mind's or has no tenant token.
func TenantOfSubject(subject string) (string, bool) {
	parts := strings.Split(subject, ".")
	if len(parts) <= tenantToken || parts[0] != "im" || parts[tenantToken] == "" {
		return "", false
	}
	return parts[tenantToken], true
}

// Subscription is what a consumer reads: a stream and the subjects in it.
type Subscription struct {
	Stream   string
	Subjects []string
}

// Requests is every tenant's assessment requests.
func Requests() Subscription {
	return Subscription{Stream: StreamAssessments, Subjects: []string{prefixRequested + ">"}}
}

// Results is every tenant's results of the given families, or of every
// family when none is given.
func Results(families ...string) Subscription {
	if len(families) == 0 {
		return Subscription{Stream: StreamResults, Subjects: []string{prefixResult + ">"}}
	}
	subjects := make([]string, 0, len(families))
	for _, f := range families {
		subjects = append(subjects, SubjectResult("*", f))
	}
	return Subscription{Stream: StreamResults, Subjects: subjects}
}

// AssessmentEvents is every tenant's completed and status events.
func AssessmentEvents() Subscription {
	return Subscription{Stream: StreamEvents, Subjects: []string{prefixCompleted + ">", prefixStatus + ">"}}
}

// Completed is every tenant's completed events (the consultant reads them).
func Completed() Subscription {
	return Subscription{Stream: StreamEvents, Subjects: []string{prefixCompleted + ">"}}
}

// WebhookDeliveries is every tenant's pending webhook deliveries.
func WebhookDeliveries() Subscription {
	return Subscription{Stream: StreamWebhooks, Subjects: []string{prefixWebhookDelivery + ">"}}
}

// PurgeScope is the tenant token of the purge subjects: the purge of
// expired sign-in data is every tenant's at once.
const PurgeScope = "all"

// SubjectPurgeSchedule holds the schedule of the purge due at at (one
// subject per time, so several purges may be scheduled at once).
func SubjectPurgeSchedule(at time.Time) string {
	return prefixPurgeSchedule + PurgeScope + "." + strconv.FormatInt(at.Unix(), 10)
}

// SubjectPurgeDue is where the broker publishes a purge when it falls due.
func SubjectPurgeDue() string { return prefixPurgeDue + PurgeScope }

// PurgesDue is the purges of expired sign-in data that fell due (the
// gateway reads them).
func PurgesDue() Subscription {
	return Subscription{Stream: StreamDeadlines, Subjects: []string{prefixPurgeDue + ">"}}
}

// DeadlinesDue is every tenant's deadlines that fell due (the synthesizer reads them).
func DeadlinesDue() Subscription {
	return Subscription{Stream: StreamDeadlines, Subjects: []string{prefixDeadlineDue + ">"}}
}

// StreamConfigs returns the stream declarations Connect applies, with cfg's
// defaults filled in. Exposed so operators and tests can see exactly what is declared.
func StreamConfigs(cfg Config) []jetstream.StreamConfig {
	cfg = withDefaults(cfg)
	return []jetstream.StreamConfig{
		streamConfig(StreamAssessments, cfg.MaxAge, cfg.DuplicateWindow, cfg.Replicas, prefixRequested+">"),
		streamConfig(StreamResults, cfg.MaxAge, cfg.DuplicateWindow, cfg.Replicas, prefixResult+">"),
		streamConfig(StreamEvents, cfg.MaxAge, cfg.DuplicateWindow, cfg.Replicas, prefixStatus+">", prefixCompleted+">", prefixNarrative+">"),
		streamConfig(StreamDeadLetter, cfg.DeadLetterMaxAge, cfg.DuplicateWindow, cfg.Replicas, prefixDeadLetter+">"),
		deadlinesStream(cfg),
	}
}

// deadlinesStream is StreamDeadlines: message schedules (ADR-51 of
// nats-io/nats-architecture-and-design, nats-server 2.12 and later) let the
// broker hold each deadline and publish it when it falls due, so nothing
// polls the store for overdue assessments.
func deadlinesStream(cfg Config) jetstream.StreamConfig {
	sc := streamConfig(StreamDeadlines, cfg.MaxAge, cfg.DuplicateWindow, cfg.Replicas, prefixDeadlineSchedule+">", prefixDeadlineDue+">",
		prefixPurgeSchedule+">", prefixPurgeDue+">")
	sc.AllowMsgSchedules = true
	return sc
}

// WebhookStreamConfig is the WEBHOOKS stream (replicas and retention as
// given; zero or less: 1 replica, DefaultMaxAge).
func WebhookStreamConfig(replicas int, maxAge time.Duration) jetstream.StreamConfig {
	if replicas <= 0 {
		replicas = 1
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	// The dedup window may not exceed the retention (server rule).
	return streamConfig(StreamWebhooks, maxAge, min(DefaultDuplicateWindow, maxAge), replicas, prefixWebhookDelivery+">")
}

func streamConfig(name string, maxAge, dupes time.Duration, replicas int, subjects ...string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     maxAge,
		Duplicates: dupes,
		Replicas:   replicas,
	}
}

// FamilyConsumer is the durable consumer of a family's worker (on the
// requests, or on the results of the family it builds on). Never rename it:
// a new name re-consumes every retained message.
func FamilyConsumer(family string) string { return "family-" + family }
