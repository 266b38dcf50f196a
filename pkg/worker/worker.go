// Package worker runs one agent family: it consumes the inputs the family
// needs from JetStream, runs the family's pure analysis and returns a typed
// result, which the bus runner publishes before it acknowledges.
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
func DurableName(f assessment.Family) string { return bus.FamilyConsumer(string(f)) }

// ResultID is the deterministic message id of a family's result for an assessment.
func ResultID(assessmentID string, f assessment.Family) string {
	return assessment.DeterministicID(assessmentID, string(f), "result")
}

// Config tunes a worker's consumer; the bus's policy defaults fill what is zero.
type Config struct {
	Concurrency  int
	DrainTimeout time.Duration
	// Consumer is further consumer policy (retries, ack deadline), applied last.
	Consumer []bus.Option
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
	return &Worker{family: family, bus: b, an: an, log: logger.With("family", string(family)), cfg: cfg, now: time.Now}, nil
}

// Subscription is what the worker consumes (SubscriptionOf its family).
func (w *Worker) Subscription() bus.Subscription { return SubscriptionOf(w.family) }

// SubscriptionOf is what family f's worker consumes: families without
// upstream read the requests; a family with upstream subscribes to that
// family's results. Deployment manifests scale each family on this stream
// and DurableName's consumer (deploy/chart_test.go checks the chart).
func SubscriptionOf(f assessment.Family) bus.Subscription {
	up := analysis.Upstream(f)
	if len(up) == 0 {
		return bus.Requests()
	}
	families := make([]string, 0, len(up))
	for _, u := range up {
		families = append(families, string(u))
	}
	return bus.Results(families...)
}

// Run consumes until ctx is cancelled, then drains in-flight messages.
func (w *Worker) Run(ctx context.Context) error {
	opts := append([]bus.Option{bus.Concurrency(w.cfg.Concurrency), bus.DrainTimeout(w.cfg.DrainTimeout)}, w.cfg.Consumer...)
	return w.bus.Consume(ctx, DurableName(w.family), w.Subscription(), w.Handle, opts...)
}

// Handle analyses one input event and returns the family's result for the
// runner to publish; exported for tests that drive a worker without a consumer.
func (w *Worker) Handle(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
	started := w.now()
	meta, req, upstream, err := w.decode(e)
	if err != nil {
		return nil, err
	}
	if up := analysis.Upstream(w.family); len(up) > 0 && len(upstream) < len(up) {
		// Only one upstream family exists today; with more, a join store is needed.
		return nil, bus.Permanent(fmt.Errorf("family %s needs %v, got %d results", w.family, up, len(upstream)))
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
		return nil, fmt.Errorf("analyse %s: %w", w.family, err)
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
	w.log.InfoContext(ctx, "family analysed",
		"assessment_id", meta.GetAssessmentId(), "tenant_id", meta.GetTenantId(),
		"status", result.Status, "took_ms", finished.Sub(started).Milliseconds())
	return []bus.Message{{
		ID:        result.Metadata.EventId,
		Type:      bus.TypeAgentResultPublished,
		Source:    "/services/" + string(w.family),
		Subject:   bus.SubjectResult(meta.GetTenantId(), string(w.family)),
		Tenant:    meta.GetTenantId(),
		CESubject: meta.GetAssessmentId(),
		Time:      finished,
		Data:      result,
	}}, nil
}

// decode reads the event the worker consumes (the runner has already checked
// that its tenants agree).
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
	case req == nil:
		return nil, nil, nil, bus.Permanent(errors.New("request is missing"))
	}
	return meta, req, upstream, nil
}
