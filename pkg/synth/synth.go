// Package synth is the synthesizer: it gathers the families' results for an
// assessment, stores them, publishes progress, writes the report when every
// family has answered (or the deadline passes) and publishes the completed
// CloudEvent. Every step is idempotent, so any message may arrive twice or late.
package synth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// DurableName is the synthesizer's consumer on the results stream. Never rename it.
const DurableName = "synthesizer"

const (
	resultFailed = "failed"
	source       = "/services/synthesizer"
	// announceTakeover is how long an announcement claim binds: longer
	// than the owner's whole retry schedule (8 deliveries, each up to the
	// 30 s ack deadline plus backoff), after which the owner is taken to
	// have given up and any later delivery for the assessment announces.
	announceTakeover = 10 * time.Minute
)

// DeadlineDurableName is the synthesizer's consumer of deadlines that fell
// due. Never rename it.
const DeadlineDurableName = "synthesizer-deadlines"

// Config tunes the synthesizer; the bus's policy defaults fill what is zero.
type Config struct {
	Concurrency  int
	DrainTimeout time.Duration
	// StallAfter is how long a family (or the synthesizer's own consumer)
	// holding unacknowledged work may go without acknowledging anything
	// before it is taken to be down. While one it waits for is working
	// through its queue, an overdue assessment's deadline moves on by
	// StallAfter instead of the assessment closing: the deadline measures a
	// family that is down, not a queue that is long.
	StallAfter time.Duration
	// Consumer is further consumer policy (retries, ack deadline), applied last.
	Consumer []bus.Option
	// Progress adjusts the pipeline state's client (for example to count its
	// round trips).
	Progress []progress.Option
}

func (c Config) withDefaults() Config {
	if c.StallAfter == 0 {
		c.StallAfter = time.Minute
	}
	return c
}

// resultsPolicy is the results consumer's retry schedule: more and quicker
// retries than the bus's default, because every assessment's completion
// waits on it and its failures are mostly brief store contention.
func resultsPolicy() []bus.Option {
	return []bus.Option{
		bus.MaxDeliver(8),
		bus.BackOff(500*time.Millisecond, 2*time.Second, 10*time.Second, 30*time.Second),
	}
}

// publisher is where the synthesizer's events go: for a consumed result or
// deadline, an outbox the runner publishes from.
type publisher interface {
	Publish(ctx context.Context, m bus.Message) error
}

// outbox collects the messages of one delivery for the runner to publish
// after the handler returns, in order. A message whose id it already holds
// is left out: the stream would drop it as a duplicate, after a round trip.
type outbox struct{ msgs []bus.Message }

func (o *outbox) Publish(_ context.Context, m bus.Message) error {
	if !slices.ContainsFunc(o.msgs, func(q bus.Message) bool { return q.ID == m.ID }) {
		o.msgs = append(o.msgs, m)
	}
	return nil
}

// Synthesizer turns results into reports.
type Synthesizer struct {
	bus   *bus.Bus
	pub   publisher
	store *store.Store
	// state holds each assessment's results and its finish and announcement
	// claims: key lookups, where the document store would read a whole
	// table on FerretDB with PostgreSQL (ADR 0021).
	state *progress.State
	log   *slog.Logger
	cfg   Config
	now   func() time.Time
	// onFinished is told the terminal status of each assessment this
	// instance finished (for metrics); may be nil.
	onFinished func(status string)
	// owner names the work in hand when claiming an announcement: the
	// delivered result or deadline (the same on its redelivery).
	owner string
	// decoded holds the results this process decoded, for closing their
	// assessment without parsing them again.
	decoded *decodedResults
}

// New returns a synthesizer; it binds to the pipeline state's bucket, which
// bus.Connect declared.
func New(ctx context.Context, b *bus.Bus, s *store.Store, logger *slog.Logger, cfg Config, onFinished func(status string)) (*Synthesizer, error) {
	if b == nil || s == nil {
		return nil, errors.New("synth: bus and store are required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	state, err := progress.Open(ctx, b.JS, cfg.Progress...)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return &Synthesizer{bus: b, pub: b, store: s, state: state, log: logger, cfg: cfg.withDefaults(), now: time.Now, onFinished: onFinished, decoded: newDecodedResults()}, nil
}

// Run consumes results and the deadlines that fall due until ctx is
// cancelled. A deadline is a message the broker publishes when it falls due
// (ADR 0029): nothing reads the store on a timer.
func (s *Synthesizer) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		opts := append(resultsPolicy(), bus.Concurrency(s.cfg.Concurrency), bus.DrainTimeout(s.cfg.DrainTimeout))
		return s.bus.Consume(gctx, DurableName, bus.Results(), s.Handle, append(opts, s.cfg.Consumer...)...)
	})
	g.Go(func() error {
		opts := append(resultsPolicy(), bus.DrainTimeout(s.cfg.DrainTimeout))
		return s.bus.Consume(gctx, DeadlineDurableName, bus.DeadlinesDue(), s.HandleDeadline, append(opts, s.cfg.Consumer...)...)
	})
	return g.Wait()
}

// Handle processes one family result: it stores it and, when the assessment
// closes, its report, and returns the events to publish (progress, outcome)
// for the runner to publish before it acknowledges.
func (s *Synthesizer) Handle(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
	out := &outbox{}
	delivery := *s
	delivery.pub = out
	delivery.owner = "result " + e.ID
	if err := delivery.handle(ctx, e); errors.Is(err, errErased) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return out.msgs, nil
}

// errErased stops the work on an assessment that was erased (docs/adr/0032):
// its state is removed and the message acknowledged, publishing nothing.
var errErased = errors.New("assessment erased")

func (s *Synthesizer) handle(ctx context.Context, e *bus.Event) error {
	var res inframindv1.AgentResultPublished
	_, span := s.step(ctx, "decode result")
	err := e.Decode(&res)
	endStep(span, err)
	if err != nil {
		return err // already marked undecodable: dead-lettered, never retried
	}
	meta := res.GetMetadata()
	tenant, id := meta.GetTenantId(), meta.GetAssessmentId()
	family, ok := assessment.ParseFamily(res.GetFamily())
	switch {
	case tenant == "" || id == "":
		return bus.Permanent(errors.New("metadata.tenant_id and metadata.assessment_id are required"))
	case !ok:
		return bus.Permanent(fmt.Errorf("family %q is unknown", res.GetFamily()))
	}

	// Stored as a reference to the message it came in (ADR 0056): the
	// RESULTS stream keeps the bytes just decoded as long as the bucket keeps
	// the reference, so they are not written a second time. An event from
	// no stream (EventFor, in tests) is stored with its bytes.
	//
	// The finish claim is read at the same time as the result is stored: one
	// round trip instead of two on every result. This adds no outcome to
	// those the read after the write had. The read answers before or after
	// the write lands; either way both are done before anything else here
	// (the result is stored before its family is marked, and before the
	// results are loaded). A read that sees a claim is the sequential case
	// of a claim made before the write. A read that misses one means the
	// claim came after the read: its claimant loaded the results before
	// claiming, so whether or not it saw this result is as when, in the
	// sequential order, the claim comes after the read (the write before
	// it), and this handler goes on to mark the family exactly as then. A
	// deadline, a replica or a redelivery is just such a claimant.
	now := s.now()
	// What the events need of the assessment comes with the result; the
	// document is written once, when the assessment closes (ADR 0029).
	a := store.Assessment{ID: id, TenantID: tenant, CorrelationID: meta.GetCorrelationId()}
	var (
		fin    progress.Finish
		closed bool
	)
	sctx, span := s.step(ctx, "store result")
	g, gctx := errgroup.WithContext(sctx)
	g.Go(func() error {
		r := progress.Result{TenantID: tenant, AssessmentID: id, Family: string(family), Seq: e.StreamSeq, ReceivedAt: now}
		if r.Seq == 0 || e.CESubject != id || e.Subject != bus.SubjectResult(tenant, string(family)) {
			// Not a message a reference could be checked against (readStored
			// compares its attributes with the result's): kept with its bytes.
			r.Seq, r.Data = 0, e.Data
		}
		if _, err := s.state.PutResult(gctx, r); err != nil {
			return fmt.Errorf("store %s result of %s: %w", family, id, err)
		}
		s.decoded.put(resultKey{tenant, id, string(family)}, e.StreamSeq, e.Data, &res)
		return nil
	})
	g.Go(func() error {
		var err error
		if fin, closed, err = s.state.Finished(gctx, tenant, id); err != nil {
			return fmt.Errorf("read finish of %s: %w", id, err)
		}
		return nil
	})
	err = g.Wait()
	endStep(span, err)
	if err != nil {
		return err
	}
	if closed {
		// A late result (after the deadline closed the assessment) is kept
		// with the others; completing again is idempotent and covers a
		// crash between closing and writing or publishing.
		closedA, err := s.close(ctx, fin)
		if err != nil {
			return err
		}
		results, _, err := s.loadResults(ctx, a, &res)
		if err != nil {
			return err
		}
		return s.complete(ctx, closedA, results)
	}
	sctx, span = s.step(ctx, "mark family")
	marks, err := s.state.MarkFamily(sctx, tenant, id, string(family), res.GetSummary(), now)
	endStep(span, err)
	if err != nil {
		return err
	}
	if len(marks.Families) == 1 {
		// The assessment's first result (or a late one after an erasure
		// removed the marks): it must exist. One read per assessment; the
		// read model answers it where the services run one (ADR 0030).
		if _, err := s.store.Assessments.Get(ctx, tenant, id); errors.Is(err, store.ErrNotFound) {
			return s.gone(ctx, tenant, id)
		} else if err != nil {
			return fmt.Errorf("read assessment %s: %w", id, err)
		}
	}
	if err := s.publishStatus(ctx, a, string(family), "family_completed", len(marks.Families),
		fmt.Sprintf("%s finished: %s", family, res.GetSummary())); err != nil {
		return err
	}
	if len(marks.Families) < len(assessment.Families()) {
		return nil
	}
	results, stored, err := s.loadResults(ctx, a, &res)
	if err != nil {
		return err
	}
	if len(results) < len(assessment.Families()) {
		// Marked only after its result is stored, so this cannot last.
		return fmt.Errorf("assessment %s: every family is marked but %d results are stored", id, len(results))
	}
	return s.finish(ctx, a, results, stored, nil, "")
}

// close writes a finish claim onto its assessment.
func (s *Synthesizer) close(ctx context.Context, fin progress.Finish) (store.Assessment, error) {
	var families map[string]store.FamilyState
	if fin.Families != nil {
		families = make(map[string]store.FamilyState, len(assessment.Families()))
		for _, f := range assessment.Families() {
			m, ok := fin.Families[string(f)]
			if !ok {
				families[string(f)] = store.FamilyState{Status: store.FamilyPending}
				continue
			}
			families[string(f)] = store.FamilyState{Status: store.FamilyCompleted, CompletedAt: m.CompletedAt, Summary: m.Summary}
		}
	}
	a, err := s.store.Assessments.Close(ctx, fin.TenantID, fin.AssessmentID, fin.Status, fin.MissingFamilies, fin.Reason, fin.At, families)
	if errors.Is(err, store.ErrNotFound) {
		return store.Assessment{}, s.gone(ctx, fin.TenantID, fin.AssessmentID)
	}
	if err != nil {
		return store.Assessment{}, fmt.Errorf("close assessment %s: %w", fin.AssessmentID, err)
	}
	return a, nil
}

// gone handles the close of an assessment that does not exist. One that was
// erased (a late result or deadline, after the erasure: docs/adr/0032)
// leaves nothing behind: the state stored for it is removed and errErased
// returned, so the message is acknowledged, not dead-lettered with its
// content. Any other is a permanent failure.
func (s *Synthesizer) gone(ctx context.Context, tenant, id string) error {
	erased, err := s.state.Erased(ctx, tenant, id)
	if err != nil {
		return err
	}
	if !erased {
		return bus.Permanent(fmt.Errorf("assessment %s of tenant %s does not exist", id, tenant))
	}
	if _, err := s.state.Erase(ctx, tenant, id); err != nil {
		return err
	}
	s.decoded.drop(tenant, id)
	s.log.InfoContext(ctx, "work on an erased assessment dropped", "assessment_id", id, "tenant_id", tenant)
	return errErased
}

// HandleDeadline handles an assessment's deadline falling due: unless the
// assessment has finished, it closes it as partial (some families answered)
// or failed (none did), naming the missing families, or, while a family it
// waits for is working through its queue, schedules the deadline again
// StallAfter later. It returns the events to publish, the new schedule
// among them.
func (s *Synthesizer) HandleDeadline(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
	var ev inframindv1.AssessmentDeadlineReached
	if err := e.Decode(&ev); err != nil {
		return nil, err
	}
	meta := ev.GetMetadata()
	if meta.GetTenantId() == "" || meta.GetAssessmentId() == "" {
		return nil, bus.Permanent(errors.New("metadata.tenant_id and metadata.assessment_id are required"))
	}
	out := &outbox{}
	delivery := *s
	delivery.pub = out
	delivery.owner = "deadline " + e.ID
	if _, err := delivery.expire(ctx, meta); errors.Is(err, errErased) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return out.msgs, nil
}

// expire closes the assessment md names, whose deadline has passed, unless it
// finished or a family it waits for is still working. It reports whether it
// closed it.
func (s *Synthesizer) expire(ctx context.Context, md *inframindv1.Metadata) (bool, error) {
	tenant, id := md.GetTenantId(), md.GetAssessmentId()
	if _, closed, err := s.state.Finished(ctx, tenant, id); err != nil {
		return false, fmt.Errorf("read finish of %s: %w", id, err)
	} else if closed {
		return false, nil
	}
	a := store.Assessment{ID: id, TenantID: tenant, CorrelationID: md.GetCorrelationId()}
	results, stored, err := s.loadResults(ctx, a, nil)
	if err != nil {
		return false, err
	}
	if len(stored) == 0 {
		// No family answered: the assessment may never have been stored (its
		// deadline is scheduled before the insert, which can then fail). One
		// read by key, at a deadline with nothing done, the rare case.
		if _, err := s.store.Assessments.Get(ctx, tenant, id); errors.Is(err, store.ErrNotFound) {
			erased, err := s.state.Erased(ctx, tenant, id)
			if err != nil {
				return false, err
			}
			if erased {
				return false, s.gone(ctx, tenant, id)
			}
			s.log.InfoContext(ctx, "deadline of an assessment that was never stored dropped", "assessment_id", id, "tenant_id", tenant)
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("read assessment %s: %w", id, err)
		}
	}
	done := answered(results)
	var missing []string
	for _, f := range assessment.Families() {
		if !slices.Contains(done, string(f)) {
			missing = append(missing, string(f))
		}
	}
	if len(missing) > 0 {
		working, err := s.working(ctx, missing, map[string]bool{})
		if err != nil {
			return false, err
		}
		if working {
			deadline := s.now().Add(s.cfg.StallAfter)
			// The new time is shown to people first, then scheduled; a
			// stop in between redelivers this deadline, which moves it again.
			if _, err := s.state.MoveDeadline(ctx, tenant, id, deadline, s.now()); err != nil {
				return false, err
			}
			if err := s.pub.Publish(ctx, bus.DeadlineSchedule(source, md, deadline)); err != nil {
				return false, fmt.Errorf("schedule the deadline of %s again: %w", id, err)
			}
			s.log.DebugContext(ctx, "deadline moved: the families it waits for are working through their queues",
				"assessment_id", id, "tenant_id", tenant, "missing", missing, "deadline", deadline)
			return false, nil
		}
	}
	var reason string
	if len(missing) > 0 {
		reason = "deadline passed with no result from: " + strings.Join(missing, ", ")
	}
	if err := s.finish(ctx, a, results, stored, missing, reason); err != nil {
		return false, err
	}
	return true, nil
}

// working reports whether a consumer the assessment still waits on is
// working through a queue: the synthesizer's own (results stored in the
// stream but not yet handled) or a missing family's. known caches what the
// broker said per consumer during one call.
func (s *Synthesizer) working(ctx context.Context, missing []string, known map[string]bool) (bool, error) {
	type input struct{ stream, durable string }
	inputs := []input{{bus.StreamResults, DurableName}}
	for _, f := range missing {
		stream := bus.StreamAssessments
		if len(analysis.Upstream(assessment.Family(f))) > 0 {
			stream = bus.StreamResults
		}
		inputs = append(inputs, input{stream, bus.FamilyConsumer(f)})
	}
	for _, in := range inputs {
		w, ok := known[in.durable]
		if !ok {
			p, found, err := s.bus.ConsumerProgress(ctx, in.stream, in.durable)
			if err != nil {
				return false, err
			}
			w = found && p.Working(s.now(), s.cfg.StallAfter)
			known[in.durable] = w
		}
		if w {
			return true, nil
		}
	}
	return false, nil
}

// finish closes the assessment, then writes its report and publishes the
// outcome. The close is claimed with one atomic create, so when the deadline
// and the last result race, exactly one status wins and the report follows it.
func (s *Synthesizer) finish(ctx context.Context, a store.Assessment, results map[string]*inframindv1.AgentResultPublished, stored []progress.Result, missing []string, reason string) error {
	status := assessment.StatusCompleted
	var failed []string
	for _, f := range assessment.Families() {
		if r, ok := results[string(f)]; ok && r.GetStatus() == resultFailed {
			failed = append(failed, fmt.Sprintf("%s (%s)", f, r.GetError()))
		}
	}
	switch {
	case len(results) == len(failed):
		status = assessment.StatusFailed
	case len(failed) > 0 || len(missing) > 0:
		status = assessment.StatusPartial
	}
	if len(failed) > 0 {
		if reason != "" {
			reason += "; "
		}
		reason += "could not analyse: " + strings.Join(failed, "; ")
	}
	// The first claim decides the outcome (the last result and the deadline
	// may race, and so may replicas); every caller then writes the
	// winning claim onto the assessment, which also completes a close whose
	// claimant stopped before writing it.
	marks := make(map[string]progress.Mark, len(stored))
	for _, r := range stored {
		marks[r.Family] = progress.Mark{CompletedAt: r.ReceivedAt.UTC().Truncate(time.Millisecond), Summary: results[r.Family].GetSummary()}
	}
	sctx, span := s.step(ctx, "claim finish")
	fin, changed, err := s.state.ClaimFinish(sctx, progress.Finish{
		TenantID: a.TenantID, AssessmentID: a.ID, Status: string(status), MissingFamilies: missing, Reason: reason,
		At: s.now().UTC().Truncate(time.Millisecond), Families: marks,
	})
	endStep(span, err)
	if err != nil {
		return fmt.Errorf("claim close of assessment %s: %w", a.ID, err)
	}
	sctx, span = s.step(ctx, "close assessment")
	closed, err := s.close(sctx, fin)
	endStep(span, err)
	if err != nil {
		return err
	}
	if changed {
		if s.onFinished != nil {
			s.onFinished(closed.Status)
		}
		s.log.InfoContext(ctx, "assessment finished", "assessment_id", a.ID, "tenant_id", a.TenantID,
			"status", closed.Status, "missing", closed.MissingFamilies)
	}
	return s.complete(ctx, closed, results)
}

// complete writes the report and the recommendations of a closed
// assessment, then publishes its outcome. Each step is idempotent, so it
// runs again on every redelivery: a crash between closing and publishing
// loses nothing.
func (s *Synthesizer) complete(ctx context.Context, a store.Assessment, results map[string]*inframindv1.AgentResultPublished) error {
	// The report and the recommendations are independent documents: they
	// are built and written at once, and both are written before the
	// completed event, so a subscriber's links resolve. Whether this
	// delivery announces is settled meanwhile: it asks the broker and the
	// progress bucket only, and its claim binds this delivery and its
	// redeliveries, which write the same documents before they publish.
	var (
		set  recommend.Set
		owns bool
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.writeReport(gctx, a, results) })
	g.Go(func() error {
		sctx, span := s.step(gctx, "recommendations")
		var err error
		set, err = s.recommendations(sctx, a, results)
		endStep(span, err)
		return err
	})
	g.Go(func() error {
		sctx, span := s.step(gctx, "announce")
		var err error
		owns, err = s.announces(sctx, a)
		endStep(span, err)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if owns {
		if err := s.announce(ctx, a, results, set); err != nil {
			return err
		}
	}
	s.decoded.drop(a.TenantID, a.ID)
	return nil
}

// writeReport builds and stores the report of a closed assessment. A
// written report is final: readers and the gateway's cache hold it, and a
// result arriving after the close is kept with the other results instead.
// The report is written with an insert, which leaves a written one as it
// is and costs no read (a read by key scans the table on FerretDB with
// PostgreSQL, ADR 0021); a close whose report was never written (a crash
// in between) writes it here.
func (s *Synthesizer) writeReport(ctx context.Context, a store.Assessment, results map[string]*inframindv1.AgentResultPublished) error {
	_, span := s.step(ctx, "build report")
	body, err := buildReport(a, results, s.now())
	endStep(span, err)
	if err != nil {
		return bus.Permanent(err)
	}
	sctx, span := s.step(ctx, "store report")
	err = s.store.Reports.Create(sctx, store.Report{
		ID:           store.ReportID(a.TenantID, a.ID),
		TenantID:     a.TenantID,
		AssessmentID: a.ID,
		Status:       a.Status,
		Body:         body,
		CreatedAt:    s.now(),
	})
	if errors.Is(err, store.ErrConflict) {
		err = nil
	}
	endStep(span, err)
	if err != nil {
		return fmt.Errorf("store report of %s: %w", a.ID, err)
	}
	return nil
}

// step starts a child span of the delivery's for one step of closing an
// assessment, so a trace shows where the close's time goes.
func (s *Synthesizer) step(ctx context.Context, name string) (context.Context, trace.Span) {
	return s.bus.Tracer().Start(ctx, "synthesizer "+name)
}

// endStep ends a step's span, recording its error.
func endStep(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// announces tells whether this delivery is to announce a closed
// assessment: its outcome is not published yet, and the delivery holds the
// assessment's announcement claim.
func (s *Synthesizer) announces(ctx context.Context, a store.Assessment) (bool, error) {
	// Once the completed event is in the stream the outcome is published and
	// every family's progress event precedes it; publishing again after the
	// dedup window would duplicate them.
	if _, found, err := s.bus.LastSeq(ctx, bus.StreamEvents, bus.SubjectCompleted(a.TenantID, a.ID)); err != nil {
		return false, fmt.Errorf("look up completed event of %s: %w", a.ID, err)
	} else if found {
		return false, nil
	}
	// Two handlers can both get here before either's outputs are published;
	// JetStream would store their completed events once, but core NATS
	// subscribers would get both. One owner per assessment announces
	// (ADR 0016); a redelivery of the owner's result is the same owner, so
	// a stop or a failed write before the publish loses nothing.
	claim, err := s.state.ClaimAnnouncement(ctx, progress.Announcement{
		TenantID: a.TenantID, AssessmentID: a.ID, Owner: s.owner, At: s.now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		return false, fmt.Errorf("claim announcement of %s: %w", a.ID, err)
	}
	return claim.Owner == s.owner || s.now().Sub(claim.At) >= announceTakeover, nil
}

// announce publishes a closed assessment's progress and outcome; the
// delivery announces (announces said so).
func (s *Synthesizer) announce(ctx context.Context, a store.Assessment, results map[string]*inframindv1.AgentResultPublished, set recommend.Set) error {
	// Another handler may not have published its family's progress yet (or
	// never will: it saw the assessment already closed). Publishing every
	// family's event here first, under the same ids, puts each one ahead of
	// the terminal events, where a reader stops.
	done := answered(results)
	for i, f := range done {
		if err := s.publishStatus(ctx, a, f, "family_completed", i+1,
			fmt.Sprintf("%s finished: %s", f, results[f].GetSummary())); err != nil {
			return err
		}
	}
	return s.publishOutcome(ctx, a, done, report.CatalogVersions(results), func(ev *inframindv1.AssessmentCompleted) {
		summarize(ev, a, results, set)
	})
}

// loadResults reads the assessment's stored results and decodes them;
// have, when not nil, is the result in hand (just stored), which is not
// decoded again.
func (s *Synthesizer) loadResults(ctx context.Context, a store.Assessment, have *inframindv1.AgentResultPublished) (map[string]*inframindv1.AgentResultPublished, []progress.Result, error) {
	ctx, span := s.step(ctx, "load results")
	rows, err := s.state.Results(ctx, a.TenantID, a.ID)
	if err == nil {
		err = s.readStored(ctx, rows)
	}
	if errors.Is(err, errResultGone) {
		// Erased meanwhile (docs/adr/0032): drop the work, leaving nothing,
		// as for any erased assessment. Otherwise the result outlived its
		// message (past the streams' retention): retrying cannot bring it back.
		erased, eerr := s.state.Erased(ctx, a.TenantID, a.ID)
		switch {
		case eerr != nil:
			err = eerr
		case erased:
			endStep(span, err)
			return nil, nil, s.gone(ctx, a.TenantID, a.ID)
		default:
			err = bus.Permanent(err)
		}
	}
	if err != nil {
		endStep(span, err)
		return nil, nil, fmt.Errorf("load results of %s: %w", a.ID, err)
	}
	results, err := decodeResults(rows, have, s.decoded)
	endStep(span, err)
	if err != nil {
		return nil, nil, bus.Permanent(err)
	}
	return results, rows, nil
}

// errResultGone is readStored's error for a referenced result the RESULTS
// stream does not hold: no message at its sequence, or another one.
var errResultGone = errors.New("a stored result is no longer in the RESULTS stream")

// readStored fills in the data of the rows stored as references to the
// RESULTS stream: from the results this process decoded when they came in
// the very message referenced, otherwise read from the stream by sequence,
// at once. A message the stream no longer holds, or one that is not the
// row's result (another tenant, assessment or family at that sequence), is
// errResultGone.
func (s *Synthesizer) readStored(ctx context.Context, rows []progress.Result) error {
	g, gctx := errgroup.WithContext(ctx)
	for i := range rows {
		r := &rows[i]
		if r.Seq == 0 || r.Data != nil {
			continue
		}
		if raw, ok := s.decoded.stored(resultKey{r.TenantID, r.AssessmentID, r.Family}, r.Seq); ok {
			r.Data = raw
			continue
		}
		g.Go(func() error {
			e, err := s.bus.Stored(gctx, bus.StreamResults, r.Seq)
			if errors.Is(err, bus.ErrNotStored) {
				return fmt.Errorf("%w: the %s result (RESULTS message %d): %w", errResultGone, r.Family, r.Seq, err)
			}
			if err != nil {
				return fmt.Errorf("read %s result: %w", r.Family, err)
			}
			if e.Tenant != r.TenantID || e.CESubject != r.AssessmentID || e.Subject != bus.SubjectResult(r.TenantID, r.Family) {
				return fmt.Errorf("%w: RESULTS message %d is %s of assessment %q, not the %s result of assessment %q",
					errResultGone, r.Seq, e.Subject, e.CESubject, r.Family, r.AssessmentID)
			}
			r.Data = e.Data
			return nil
		})
	}
	return g.Wait()
}

// publishOutcome publishes the terminal status event and the completed
// event; their ids are deterministic, so a repeat is deduplicated.
func (s *Synthesizer) publishOutcome(ctx context.Context, a store.Assessment, done, catalogs []string, withSummary func(*inframindv1.AssessmentCompleted)) error {
	msg := fmt.Sprintf("assessment %s", a.Status)
	if a.Reason != "" {
		msg += ": " + a.Reason
	}
	if err := s.publishStatus(ctx, a, "", a.Status, len(done), msg); err != nil {
		return err
	}
	ev := &inframindv1.AssessmentCompleted{
		Metadata:          s.metadata(a, assessment.DeterministicID(a.ID, "completed")),
		Status:            a.Status,
		CompletedFamilies: done,
		MissingFamilies:   a.MissingFamilies,
		ReportPath:        "/v1/assessments/" + a.ID + "/report",
		Reason:            a.Reason,
		CatalogVersions:   catalogs,
	}
	withSummary(ev)
	if err := s.pub.Publish(ctx, bus.Message{
		ID:        ev.Metadata.EventId,
		Type:      bus.TypeAssessmentCompleted,
		Source:    source,
		Subject:   bus.SubjectCompleted(a.TenantID, a.ID),
		Tenant:    a.TenantID,
		CESubject: a.ID,
		Time:      ev.Metadata.Time.AsTime(),
		Data:      ev,
	}); err != nil {
		return fmt.Errorf("publish completed event of %s: %w", a.ID, err)
	}
	return nil
}

func (s *Synthesizer) publishStatus(ctx context.Context, a store.Assessment, family, status string, completed int, message string) error {
	ev := &inframindv1.AssessmentStatusChanged{
		Metadata:          s.metadata(a, assessment.DeterministicID(a.ID, family, status)),
		Status:            status,
		Family:            family,
		CompletedFamilies: int32(completed), //nolint:gosec // at most six families
		TotalFamilies:     int32(len(assessment.Families())),
		Message:           message,
	}
	if err := s.pub.Publish(ctx, bus.Message{
		// The families' progress events may be stored in any order among
		// themselves; the terminal status and the completed event, which
		// readers stop at, are stored after every one before them.
		Unordered: family != "",
		ID:        ev.Metadata.EventId,
		Type:      bus.TypeStatusChanged,
		Source:    source,
		Subject:   bus.SubjectStatus(a.TenantID, a.ID),
		Tenant:    a.TenantID,
		CESubject: a.ID,
		Time:      ev.Metadata.Time.AsTime(),
		Data:      ev,
	}); err != nil {
		return fmt.Errorf("publish %s status of %s: %w", status, a.ID, err)
	}
	return nil
}

func (s *Synthesizer) metadata(a store.Assessment, eventID string) *inframindv1.Metadata {
	return &inframindv1.Metadata{
		EventId:       eventID,
		TenantId:      a.TenantID,
		AssessmentId:  a.ID,
		CorrelationId: a.CorrelationID,
		Time:          timestamppb.New(s.now()),
	}
}

// answered lists, in report order, the families that have a stored result.
func answered(results map[string]*inframindv1.AgentResultPublished) []string {
	var done []string
	for _, f := range assessment.Families() {
		if _, ok := results[string(f)]; ok {
			done = append(done, string(f))
		}
	}
	return done
}
