// Package worker runs one agent family: it consumes the inputs the family
// needs from JetStream, runs the family's pure analysis and publishes a typed
// result. Only the bus runner acknowledges, after the result is published.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Result statuses carried in AgentResultPublished.status.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
)

// DurableName is the durable consumer of a family. Never rename it: a new
// name re-consumes every retained message.
func DurableName(f assessment.Family) string { return "family-" + string(f) }

// ResultID is the deterministic message id of a family's result for an assessment.
func ResultID(assessmentID string, f assessment.Family) string {
	return assessment.DeterministicID(assessmentID, string(f), "result")
}

// Config tunes a worker's consumer.
type Config struct {
	AckWait      time.Duration
	MaxDeliver   int
	BackOff      []time.Duration
	Concurrency  int
	DrainTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if len(c.BackOff) == 0 {
		c.BackOff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 15 * time.Second
	}
	return c
}

// Worker runs one family.
type Worker struct {
	family assessment.Family
	bus    *bus.Bus
	an     *analysis.Analyzer
	log    *slog.Logger
	cfg    Config
	now    func() time.Time
}

// New returns a worker for family publishing on b, analysing with an.
func New(family assessment.Family, b *bus.Bus, an *analysis.Analyzer, logger *slog.Logger, cfg Config) (*Worker, error) {
	if _, ok := assessment.ParseFamily(string(family)); !ok {
		return nil, fmt.Errorf("worker: unknown family %q", family)
	}
	if b == nil || an == nil {
		return nil, errors.New("worker: bus and analyzer are required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Worker{family: family, bus: b, an: an, log: logger.With("family", string(family)), cfg: cfg.withDefaults(), now: time.Now}, nil
}

// Spec is the consumer the worker declares: families without upstream read
// the requests; a family with upstream subscribes to that family's results.
func (w *Worker) Spec() bus.ConsumerSpec {
	spec := bus.ConsumerSpec{
		Stream:         bus.StreamAssessments,
		Durable:        DurableName(w.family),
		FilterSubjects: []string{"im.assessment.requested.>"},
		AckWait:        w.cfg.AckWait,
		MaxDeliver:     w.cfg.MaxDeliver,
		BackOff:        w.cfg.BackOff,
		Concurrency:    w.cfg.Concurrency,
	}
	if up := analysis.Upstream(w.family); len(up) > 0 {
		spec.Stream = bus.StreamResults
		spec.FilterSubjects = nil
		for _, f := range up {
			spec.FilterSubjects = append(spec.FilterSubjects, "im.agent.result.*."+string(f))
		}
	}
	return spec
}

// Run consumes until ctx is cancelled, then drains in-flight messages.
func (w *Worker) Run(ctx context.Context) error {
	return w.bus.Consume(ctx, w.Spec(), w.cfg.DrainTimeout, w.Handle)
}

// Handle processes one input event; exported for tests that drive a worker
// without a consumer.
func (w *Worker) Handle(ctx context.Context, e *bus.Event) error {
	started := w.now()
	meta, req, upstream, err := w.decode(e)
	if err != nil {
		return err
	}
	if up := analysis.Upstream(w.family); len(up) > 0 && len(upstream) < len(up) {
		// Only one upstream family exists today; with more, a join store is needed.
		return bus.Permanent(fmt.Errorf("family %s needs %v, got %d results", w.family, up, len(upstream)))
	}

	result := &inframindv1.AgentResultPublished{
		Metadata: &inframindv1.Metadata{
			EventId:       ResultID(meta.GetAssessmentId(), w.family),
			TenantId:      meta.GetTenantId(),
			AssessmentId:  meta.GetAssessmentId(),
			CorrelationId: meta.GetCorrelationId(),
			Traceparent:   meta.GetTraceparent(),
		},
		Family:         string(w.family),
		Request:        req,
		StartedAt:      timestamppb.New(started),
		CatalogVersion: w.an.CatalogVersion(),
	}
	for _, f := range analysis.Upstream(w.family) {
		result.UpstreamFamilies = append(result.UpstreamFamilies, string(f))
	}

	out, err := w.an.Analyze(w.family, req, upstream)
	switch {
	case errors.Is(err, analysis.ErrUnanalysable):
		// The request cannot be analysed by this family: report it so the
		// assessment ends now, naming the reason.
		result.Status = ResultFailed
		result.Error = err.Error()
		result.Summary = fmt.Sprintf("%s could not analyse the request: %v", w.family, err)
	case err != nil:
		return fmt.Errorf("analyse %s: %w", w.family, err)
	default:
		result.Status = ResultOK
		result.Summary = out.Summary
		result.Metrics = out.Metrics
		result.Findings = out.Findings
		result.CostBands = out.CostBands
	}
	finished := w.now()
	result.FinishedAt = timestamppb.New(finished)
	result.Metadata.Time = timestamppb.New(finished)

	err = w.bus.Publish(ctx, bus.Message{
		ID:        result.Metadata.EventId,
		Type:      bus.TypeAgentResultPublished,
		Source:    "/services/" + string(w.family),
		Subject:   bus.SubjectResult(meta.GetTenantId(), string(w.family)),
		Tenant:    meta.GetTenantId(),
		CESubject: meta.GetAssessmentId(),
		Time:      finished,
		Data:      result,
	})
	if err != nil {
		return fmt.Errorf("publish %s result for %s: %w", w.family, meta.GetAssessmentId(), err)
	}
	w.log.InfoContext(ctx, "family result published",
		"assessment_id", meta.GetAssessmentId(), "tenant_id", meta.GetTenantId(),
		"status", result.Status, "took_ms", finished.Sub(started).Milliseconds())
	return nil
}

// decode reads the event the worker consumes and checks that the tenant in
// the payload is the tenant of the subject and headers.
func (w *Worker) decode(e *bus.Event) (*inframindv1.Metadata, *inframindv1.AssessmentRequest, map[assessment.Family]*inframindv1.AgentResultPublished, error) {
	var (
		meta     *inframindv1.Metadata
		req      *inframindv1.AssessmentRequest
		upstream map[assessment.Family]*inframindv1.AgentResultPublished
	)
	switch e.Type {
	case bus.TypeAssessmentRequested:
		var cmd inframindv1.RequestAssessment
		if err := e.Decode(&cmd); err != nil {
			return nil, nil, nil, err // already marked undecodable
		}
		meta, req = cmd.GetMetadata(), cmd.GetRequest()
	case bus.TypeAgentResultPublished:
		var res inframindv1.AgentResultPublished
		if err := e.Decode(&res); err != nil {
			return nil, nil, nil, err
		}
		f, ok := assessment.ParseFamily(res.GetFamily())
		if !ok {
			return nil, nil, nil, bus.Permanent(fmt.Errorf("result of unknown family %q", res.GetFamily()))
		}
		meta, req = res.GetMetadata(), res.GetRequest()
		upstream = map[assessment.Family]*inframindv1.AgentResultPublished{f: &res}
	default:
		return nil, nil, nil, bus.Permanent(fmt.Errorf("unexpected event type %q", e.Type))
	}
	switch {
	case meta.GetAssessmentId() == "" || meta.GetTenantId() == "":
		return nil, nil, nil, bus.Permanent(errors.New("metadata.assessment_id and metadata.tenant_id are required"))
	case meta.GetTenantId() != e.Tenant:
		return nil, nil, nil, bus.Permanent(fmt.Errorf("metadata.tenant_id %q does not match the event's tenant %q", meta.GetTenantId(), e.Tenant))
	case !bus.SubjectHasTenant(e.Subject, meta.GetTenantId()):
		return nil, nil, nil, bus.Permanent(fmt.Errorf("metadata.tenant_id %q does not match the subject %q", meta.GetTenantId(), e.Subject))
	case req == nil:
		return nil, nil, nil, bus.Permanent(errors.New("request is missing"))
	}
	return meta, req, upstream, nil
}
