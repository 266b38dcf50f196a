// Package consultant writes each finished assessment's executive narrative
// with a language model, per family and overall, for a named audience (CTO,
// CFO, engineer), from the stored report. Every number in the generated
// text is checked against the report's numbers; text that fails is
// regenerated once and then replaced by the deterministic summary. The
// service consumes the completed events through its own durable consumer,
// stores each narrative under a deterministic id and announces it with a
// NarrativeReady event. Without a configured provider it does not run.
package consultant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Durable is the consultant's consumer on EVENTS (completed events only).
// Never rename: a new name re-reads every retained completed event.
const Durable = "consultant"

const source = "/services/consultant"

// Reports reads stored reports (store.Reports).
type Reports interface {
	Get(ctx context.Context, tenant, assessmentID string) (store.Report, error)
}

// Narratives stores narratives (store.Narratives).
type Narratives interface {
	Get(ctx context.Context, tenant, assessmentID, audience string) (store.Narrative, error)
	Upsert(ctx context.Context, n store.Narrative) error
}

// Erasures says whether an assessment was erased (progress.State).
type Erasures interface {
	Erased(ctx context.Context, tenant, assessmentID string) (bool, error)
}

// Config is the service's.
type Config struct {
	// Erasures, when set, lets a completed event of an erased assessment
	// (its report gone) be dropped instead of retried and dead-lettered.
	Erasures Erasures
	// Budget, when set, meters the narratives' calls against each tenant's
	// budgets; sections over a budget are the deterministic summaries.
	Budget Budget
	// Audiences are written for each assessment (default: cto).
	Audiences    []string
	Concurrency  int
	DrainTimeout time.Duration
	// AckWait bounds one delivery (every section of every audience); the
	// handler extends it after each section. Default 2 minutes.
	AckWait time.Duration
}

// Service is the consultant's consumer.
type Service struct {
	bus        *bus.Bus
	reports    Reports
	narratives Narratives
	writer     *Writer
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
}

// New builds the service; b may be nil for a service whose Handle is
// called directly (tests).
func New(b *bus.Bus, reports Reports, narratives Narratives, w *Writer, cfg Config, log *slog.Logger) (*Service, error) {
	if reports == nil || narratives == nil || w == nil || log == nil {
		return nil, errors.New("consultant: reports, narratives, writer and logger are required")
	}
	if len(cfg.Audiences) == 0 {
		cfg.Audiences = []string{AudienceCTO}
	}
	for _, a := range cfg.Audiences {
		if !ValidAudience(a) {
			return nil, fmt.Errorf("consultant: audience %q: want cto, cfo or engineer", a)
		}
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 2 * time.Minute
	}
	return &Service{bus: b, reports: reports, narratives: narratives, writer: w, cfg: cfg, log: log, now: time.Now}, nil
}

// Run consumes completed events until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.bus == nil {
		return errors.New("consultant: no bus to consume from")
	}
	return s.bus.Consume(ctx, Durable, bus.Completed(), s.Handle,
		bus.AckWait(s.cfg.AckWait),
		bus.MaxDeliver(5),
		// A provider that is down for minutes gets minutes; the last
		// delivery stores the deterministic narrative instead of failing.
		bus.BackOff(10*time.Second, 30*time.Second, time.Minute, 5*time.Minute),
		bus.Concurrency(s.cfg.Concurrency),
		bus.DrainTimeout(s.cfg.DrainTimeout))
}

// Handle writes (or finds already written) the narratives of one completed
// assessment and returns their NarrativeReady events.
func (s *Service) Handle(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
	var ev inframindv1.AssessmentCompleted
	if err := e.Decode(&ev); err != nil {
		return nil, err
	}
	md := ev.GetMetadata()
	tenant, id := md.GetTenantId(), md.GetAssessmentId()
	if tenant == "" || id == "" {
		return nil, bus.Undecodable(errors.New("completed event without metadata.tenant_id or metadata.assessment_id"))
	}
	rep, err := s.reports.Get(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) && s.cfg.Erasures != nil {
		// Erased after it completed (docs/adr/0032): nothing to write, and
		// no copy of the event to keep in a dead letter.
		erased, eerr := s.cfg.Erasures.Erased(ctx, tenant, id)
		if eerr != nil {
			return nil, fmt.Errorf("read tombstone of %s: %w", id, eerr)
		}
		if erased {
			s.log.InfoContext(ctx, "completed event of an erased assessment dropped", "assessment_id", id, "tenant_id", tenant)
			return nil, nil
		}
	}
	if err != nil {
		// The synthesizer stores the report before it publishes the event.
		return nil, fmt.Errorf("read report of %s: %w", id, err)
	}
	doc, err := report.Decode([]byte(rep.Body))
	if err != nil {
		return nil, bus.Permanent(fmt.Errorf("stored report of %s: %w", id, err))
	}
	var out []bus.Message
	for _, audience := range s.cfg.Audiences {
		n, err := s.narrative(ctx, e, tenant, id, audience, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, s.ready(tenant, id, md.GetCorrelationId(), n))
	}
	return out, nil
}

// narrative returns the stored narrative, or writes and stores it.
func (s *Service) narrative(ctx context.Context, e *bus.Event, tenant, id, audience string, doc report.Document) (stored, error) {
	got, err := s.narratives.Get(ctx, tenant, id, audience)
	if err == nil {
		var n report.Narrative
		if err := json.Unmarshal([]byte(got.Body), &n); err == nil {
			return stored{Narrative: n}, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return stored{}, fmt.Errorf("read narrative of %s: %w", id, err)
	}
	n, usage, err := s.writer.metered(s.cfg.Budget, tenant).Write(ctx, doc, audience, func() { _ = e.InProgress() })
	if err != nil {
		if !e.LastDelivery() || ctx.Err() != nil {
			return stored{}, fmt.Errorf("write %s narrative of %s: %w", audience, id, err)
		}
		s.log.WarnContext(ctx, "no provider answered on the last delivery: storing the deterministic narrative",
			"assessment_id", id, "audience", audience, "error", err.Error())
		n = Fallback(doc, audience, NoteNoProvider)
	}
	body, err := json.Marshal(n)
	if err != nil {
		return stored{}, fmt.Errorf("encode narrative of %s: %w", id, err)
	}
	if err := s.narratives.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: audience, Body: string(body)}); err != nil {
		return stored{}, fmt.Errorf("store narrative of %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "narrative stored", "assessment_id", id, "audience", audience, "provider", n.Provider,
		"generated_sections", n.GeneratedSections(), "prompt_tokens", usage.PromptTokens, "completion_tokens", usage.CompletionTokens)
	return stored{Narrative: n, promptTokens: usage.PromptTokens, completionTokens: usage.CompletionTokens}, nil
}

type stored struct {
	report.Narrative
	promptTokens, completionTokens int
}

// ready is the NarrativeReady event of a stored narrative; its id is
// derived from (assessment, audience), so a repeat is deduplicated.
func (s *Service) ready(tenant, id, correlation string, n stored) bus.Message {
	ev := &inframindv1.NarrativeReady{
		Metadata: &inframindv1.Metadata{
			EventId: assessment.DeterministicID(id, "narrative", n.Audience), TenantId: tenant, AssessmentId: id,
			CorrelationId: correlation, Time: timestamppb.New(s.now()),
		},
		Audience: n.Audience, Provider: n.Provider, Model: n.Model,
		Sections:          int32(1 + len(n.Families)),   //nolint:gosec // seven at most
		GeneratedSections: int32(n.GeneratedSections()), //nolint:gosec // seven at most
		ReportPath:        "/v1/assessments/" + id + "/report",
		PromptTokens:      int32(n.promptTokens),     //nolint:gosec // bounded by the output caps
		CompletionTokens:  int32(n.completionTokens), //nolint:gosec // bounded by the output caps
	}
	return bus.Message{
		ID: ev.Metadata.EventId, Type: bus.TypeNarrativeReady, Source: source,
		Subject: bus.SubjectNarrative(tenant, id), Tenant: tenant, CESubject: id,
		Time: ev.Metadata.Time.AsTime(), Data: ev,
	}
}
