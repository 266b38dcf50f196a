package synth_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/synth"
)

type env struct {
	bus   *bus.Bus
	store *store.Store
	// state is the pipeline state the synthesizer keeps (results, claims).
	state *progress.State
	synth *synth.Synthesizer
	// mongoURI lets a test connect a second replica to the same database.
	mongoURI string
}

// start runs a synthesizer on embedded servers; run=false leaves its
// consumers stopped so a test can hand it results and deadlines itself.
func start(t *testing.T, run bool) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "synth-test"})
	require.NoError(t, err)
	s, err := store.Connect(ctx, stack.MongoURI, "synth_test")
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sy, err := synth.New(ctx, b, s, log, synth.Config{DrainTimeout: time.Second, Consumer: []bus.Option{bus.AckWait(2 * time.Second)}}, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	if run {
		go func() { done <- sy.Run(ctx) }()
	} else {
		done <- nil
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		_ = s.Close(context.Background())
		_ = b.Close()
		stack.Close()
	})
	state, err := progress.Open(ctx, b.JS)
	require.NoError(t, err)
	return &env{bus: b, store: s, state: state, synth: sy, mongoURI: stack.MongoURI}
}

// create stores a queued assessment and schedules its deadline, as the
// gateway does.
func (e *env) create(t *testing.T, tenant, id string, deadline time.Time) {
	t.Helper()
	fams := map[string]store.FamilyState{}
	for _, f := range assessment.Families() {
		fams[string(f)] = store.FamilyState{Status: store.FamilyPending}
	}
	require.NoError(t, e.store.Assessments.Create(context.Background(), store.Assessment{
		ID: id, TenantID: tenant, Name: "test " + id, Status: string(assessment.StatusQueued),
		Families: fams, CorrelationID: id, Deadline: deadline,
	}))
	require.NoError(t, e.bus.Publish(context.Background(), bus.DeadlineSchedule("/test",
		&inframindv1.Metadata{TenantId: tenant, AssessmentId: id, CorrelationId: id}, deadline)))
}

// deadlineEvent is the delivery of an assessment's deadline as the broker
// publishes it when it falls due.
func deadlineEvent(t *testing.T, tenant, id string) *bus.Event {
	t.Helper()
	m := bus.DeadlineSchedule("/test", &inframindv1.Metadata{TenantId: tenant, AssessmentId: id, CorrelationId: id}, time.Now())
	m.Subject, m.Schedule = bus.SubjectDeadlineDue(tenant, id), nil
	ev, err := bus.EventFor(context.Background(), m)
	require.NoError(t, err)
	return ev
}

// expire hands sy an assessment's deadline and publishes what it returns,
// as the runner does; it returns the messages.
func (e *env) expire(t *testing.T, sy *synth.Synthesizer, tenant, id string) []bus.Message {
	t.Helper()
	out, err := sy.HandleDeadline(context.Background(), deadlineEvent(t, tenant, id))
	require.NoError(t, err)
	publishAll(t, e.bus, out)
	return out
}

// publishResult publishes a family's result under msgID (a redelivery past
// the dedup window is a new message id with the same content).
func (e *env) publishResult(t *testing.T, tenant, id string, f assessment.Family, msgID string) {
	t.Helper()
	res := &inframindv1.AgentResultPublished{
		Metadata: &inframindv1.Metadata{EventId: msgID, TenantId: tenant, AssessmentId: id, Time: timestamppb.Now()},
		Family:   string(f),
		Status:   "ok",
		Summary:  string(f) + " summary",
		Metrics:  []*inframindv1.Metric{{Name: "n", Value: 1, Unit: "count", Formula: "one", Source: "test"}},
		Request:  &inframindv1.AssessmentRequest{Name: "x"},
	}
	require.NoError(t, e.bus.Publish(context.Background(), bus.Message{
		ID: msgID, Type: bus.TypeAgentResultPublished, Source: "/test", Subject: bus.SubjectResult(tenant, string(f)),
		Tenant: tenant, CESubject: id, Time: time.Now(), Data: res,
	}))
}

// subjectCounts counts the messages stored per subject in the events stream.
func (e *env) subjectCounts(t *testing.T) map[string]uint64 {
	t.Helper()
	st, err := e.bus.JS.Stream(context.Background(), bus.StreamEvents)
	require.NoError(t, err)
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(">"))
	require.NoError(t, err)
	return info.State.Subjects
}

func waitStatus(t *testing.T, s *store.Store, tenant, id string, want assessment.Status) store.Assessment {
	t.Helper()
	var a store.Assessment
	require.Eventually(t, func() bool {
		var err error
		a, err = s.Assessments.Get(context.Background(), tenant, id)
		return err == nil && a.Status == string(want)
	}, 20*time.Second, 50*time.Millisecond, "assessment %s never reached %s (last: %+v)", id, want, a)
	return a
}

func TestDuplicateResultsProduceOneOfEverything(t *testing.T) {
	e := start(t, true)
	e.create(t, "acme", "a1", time.Now().Add(time.Hour))
	for _, f := range assessment.Families() {
		// Each result arrives twice: once within the dedup window (same
		// id) and once as if redelivered after it (a new id).
		e.publishResult(t, "acme", "a1", f, "r-"+string(f))
		e.publishResult(t, "acme", "a1", f, "r-"+string(f))
		e.publishResult(t, "acme", "a1", f, "again-"+string(f))
	}
	waitStatus(t, e.store, "acme", "a1", assessment.StatusCompleted)

	rows, err := e.state.Results(context.Background(), "acme", "a1")
	require.NoError(t, err)
	require.Len(t, rows, len(assessment.Families()))

	require.Eventually(t, func() bool {
		return e.subjectCounts(t)[bus.SubjectCompleted("acme", "a1")] == 1
	}, 10*time.Second, 50*time.Millisecond)
	// Let every duplicate be handled, then check nothing was published twice.
	time.Sleep(500 * time.Millisecond)
	counts := e.subjectCounts(t)
	require.EqualValues(t, 1, counts[bus.SubjectCompleted("acme", "a1")])
	// one family_completed per family plus the terminal status
	require.EqualValues(t, len(assessment.Families())+1, counts[bus.SubjectStatus("acme", "a1")])

	rep, err := e.store.Reports.Get(context.Background(), "acme", "a1")
	require.NoError(t, err)
	require.Equal(t, "completed", rep.Status)
}

func TestDeadlineClosesAssessmentsNamingMissingFamilies(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	e.create(t, "acme", "none", time.Now().Add(time.Hour))
	e.create(t, "acme", "some", time.Now().Add(time.Hour))
	for _, f := range []assessment.Family{assessment.FamilyCloud, assessment.FamilyStrategy} {
		data := `{"metadata":{"tenant_id":"acme","assessment_id":"some"},"family":"` + string(f) + `","status":"ok","summary":"s"}`
		_, err := e.state.PutResult(ctx, progress.Result{TenantID: "acme", AssessmentID: "some", Family: string(f), Data: []byte(data)})
		require.NoError(t, err)
	}

	e.expire(t, e.synth, "acme", "none")
	e.expire(t, e.synth, "acme", "some")

	none := waitStatus(t, e.store, "acme", "none", assessment.StatusFailed)
	require.Len(t, none.MissingFamilies, len(assessment.Families()))
	some := waitStatus(t, e.store, "acme", "some", assessment.StatusPartial)
	require.Equal(t, []string{"mlops", "compliance", "research", "simulation"}, some.MissingFamilies)
	require.Contains(t, some.Reason, "mlops, compliance, research, simulation")
	require.Equal(t, store.FamilyCompleted, some.Families["cloud"].Status, "the families that answered are written with the close")
	require.Equal(t, "s", some.Families["cloud"].Summary)
	require.Equal(t, store.FamilyPending, some.Families["mlops"].Status)

	rep, err := e.store.Reports.Get(ctx, "acme", "some")
	require.NoError(t, err)
	body, err := report.Decode([]byte(rep.Body))
	require.NoError(t, err)
	require.Equal(t, "partial", body.Status)
	require.Equal(t, some.MissingFamilies, body.Missing)

	// The same deadline again (a redelivery) finds nothing left to close.
	require.Empty(t, e.expire(t, e.synth, "acme", "some"))
	require.EqualValues(t, 1, e.subjectCounts(t)[bus.SubjectCompleted("acme", "some")])
}

// The gateway schedules a deadline before it stores the assessment, so a
// deadline can fall due for one whose insert failed: it is acknowledged
// with nothing closed, claimed or published, not dead-lettered.
func TestADeadlineOfAnAssessmentNeverStoredIsDropped(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	out, err := e.synth.HandleDeadline(ctx, deadlineEvent(t, "acme", "never-stored"))
	require.NoError(t, err)
	require.Empty(t, out)
	_, closed, err := e.state.Finished(ctx, "acme", "never-stored")
	require.NoError(t, err)
	require.False(t, closed, "no finish is claimed for an assessment that does not exist")
}

// The broker holds the deadline the gateway scheduled and publishes it when
// it falls due; the synthesizer's consumer closes the assessment then, and
// not before.
func TestTheBrokerDeliversTheDeadlineWhenItFallsDue(t *testing.T) {
	e := start(t, true)
	ctx := context.Background()
	due := time.Now().Add(2 * time.Second)
	e.create(t, "acme", "due", due)
	e.create(t, "acme", "later", time.Now().Add(time.Hour))

	a := waitStatus(t, e.store, "acme", "due", assessment.StatusFailed)
	require.False(t, a.CompletedAt.Before(due.Truncate(time.Second)), "closed at %s, before its deadline %s", a.CompletedAt, due)
	later, err := e.store.Assessments.Get(ctx, "acme", "later")
	require.NoError(t, err)
	require.Equal(t, string(assessment.StatusQueued), later.Status)
}

func TestLateResultIsKeptButDoesNotReopen(t *testing.T) {
	e := start(t, true)
	ctx := context.Background()
	e.create(t, "acme", "late", time.Now().Add(-time.Second))
	waitStatus(t, e.store, "acme", "late", assessment.StatusFailed)
	var before store.Report
	require.Eventually(t, func() bool {
		var err error
		before, err = e.store.Reports.Get(ctx, "acme", "late")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the report follows the close")

	e.publishResult(t, "acme", "late", assessment.FamilyCloud, "late-cloud")
	require.Eventually(t, func() bool {
		rows, err := e.state.Results(ctx, "acme", "late")
		return err == nil && len(rows) == 1
	}, 10*time.Second, 50*time.Millisecond, "the late result is stored")

	// The written report is final (readers and caches hold it) and the
	// assessment stays closed.
	after, err := e.store.Reports.Get(ctx, "acme", "late")
	require.NoError(t, err)
	require.Equal(t, before.Body, after.Body)
	a, err := e.store.Assessments.Get(ctx, "acme", "late")
	require.NoError(t, err)
	require.Equal(t, "failed", a.Status)
	require.EqualValues(t, 1, e.subjectCounts(t)[bus.SubjectCompleted("acme", "late")])
}

func TestDeadlineRacingTheLastResultClosesOnce(t *testing.T) {
	e := start(t, true)
	e.create(t, "acme", "race", time.Now().Add(300*time.Millisecond))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		for range 5 {
			out, err := e.synth.HandleDeadline(context.Background(), deadlineEvent(t, "acme", "race"))
			require.NoError(t, err)
			publishAll(t, e.bus, out)
		}
	}()
	for _, f := range assessment.Families() {
		e.publishResult(t, "acme", "race", f, "race-"+string(f))
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		a, err := e.store.Assessments.Get(context.Background(), "acme", "race")
		return err == nil && assessment.Status(a.Status).Terminal()
	}, 10*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	require.EqualValues(t, 1, e.subjectCounts(t)[bus.SubjectCompleted("acme", "race")])
	a, err := e.store.Assessments.Get(context.Background(), "acme", "race")
	require.NoError(t, err)
	rep, err := e.store.Reports.Get(context.Background(), "acme", "race")
	require.NoError(t, err)
	require.Equal(t, a.Status, rep.Status, "the report follows the status that won")
}

// resultEvent is the delivery of a family's result as the runner hands it
// to the synthesizer's handler.
func resultEvent(t *testing.T, tenant, id string, f assessment.Family, msgID string, seq uint64) *bus.Event {
	t.Helper()
	data, err := bus.EncodeData(&inframindv1.AgentResultPublished{
		Metadata: &inframindv1.Metadata{EventId: msgID, TenantId: tenant, AssessmentId: id, Time: timestamppb.Now()},
		Family:   string(f),
		Status:   "ok",
		Summary:  string(f) + " summary",
		Metrics:  []*inframindv1.Metric{{Name: "n", Value: 1, Unit: "count", Formula: "one", Source: "test"}},
		Request:  &inframindv1.AssessmentRequest{Name: "x"},
	})
	require.NoError(t, err)
	return &bus.Event{
		ID: msgID, Type: bus.TypeAgentResultPublished, Source: "/test", Subject: bus.SubjectResult(tenant, string(f)),
		Tenant: tenant, CESubject: id, Time: time.Now(), Data: data, Deliveries: 1, StreamSeq: seq,
	}
}

// storedResultEvent is resultEvent published to the RESULTS stream and read
// back as stored, so its sequence is the message's: a replica that did not
// handle it reads it from the stream.
func storedResultEvent(t *testing.T, b *bus.Bus, tenant, id string, f assessment.Family, msgID string) *bus.Event {
	t.Helper()
	ctx := context.Background()
	ev := resultEvent(t, tenant, id, f, msgID, 0)
	require.NoError(t, b.Publish(ctx, bus.Message{
		ID: ev.ID, Type: ev.Type, Source: ev.Source, Subject: ev.Subject, Tenant: tenant, CESubject: id, Data: ev.Data,
	}))
	seq, found, err := b.LastSeq(ctx, bus.StreamResults, ev.Subject)
	require.NoError(t, err)
	require.True(t, found)
	stored, err := b.Stored(ctx, bus.StreamResults, seq)
	require.NoError(t, err)
	require.Equal(t, ev.Data, stored.Data)
	stored.Deliveries = 1
	return stored
}

// replica is a second synthesizer on e's bus and database, with a store
// connection and decoded results of its own.
func (e *env) replica(t *testing.T) *synth.Synthesizer {
	t.Helper()
	ctx := context.Background()
	other, err := store.Connect(ctx, e.mongoURI, "synth_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close(context.Background()) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	replica, err := synth.New(ctx, e.bus, other, log, synth.Config{}, nil)
	require.NoError(t, err)
	return replica
}

// racingReplicas sets up two synthesizer replicas (separate store
// connections, one bus) and an assessment of which every family but the
// last two has answered. It returns a core NATS subscription to the
// assessment's completed subject.
func racingReplicas(t *testing.T, e *env, tenant, id string) ([]*synth.Synthesizer, *nats.Subscription) {
	t.Helper()
	ctx := context.Background()
	replica := e.replica(t)

	e.create(t, tenant, id, time.Now().Add(time.Hour))
	sub, err := e.bus.NC.SubscribeSync(bus.SubjectCompleted(tenant, id))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	// Both racing results are stored before either handler reads the
	// results: each replica then sees every family answered.
	for _, f := range assessment.Families() {
		res := resultEvent(t, tenant, id, f, "r-"+string(f), 0)
		_, err := e.state.PutResult(ctx, progress.Result{
			TenantID: tenant, AssessmentID: id, Family: string(f), Data: res.Data, ReceivedAt: time.Now(),
		})
		require.NoError(t, err)
		if !slices.Contains(racingFamilies(), f) {
			_, err := e.state.MarkFamily(ctx, tenant, id, string(f), "done", time.Now())
			require.NoError(t, err)
		}
	}
	return []*synth.Synthesizer{e.synth, replica}, sub
}

// racingFamilies are the last two results, handled one on each replica.
func racingFamilies() []assessment.Family {
	return []assessment.Family{assessment.FamilyResearch, assessment.FamilySimulation}
}

func publishAll(t *testing.T, b *bus.Bus, msgs []bus.Message) {
	t.Helper()
	for _, m := range msgs {
		require.NoError(t, b.Publish(context.Background(), m))
	}
}

// deliveries counts the messages a core NATS subscription receives until
// the subject has been quiet for a second.
func deliveries(t *testing.T, b *bus.Bus, sub *nats.Subscription) int {
	t.Helper()
	require.NoError(t, b.NC.Flush())
	n := 0
	for {
		if _, err := sub.NextMsg(time.Second); err != nil {
			require.ErrorIs(t, err, nats.ErrTimeout)
			return n
		}
		n++
	}
}

// TestTwoReplicasAnnounceACompletedAssessmentOnce drives the race of two
// synthesizer replicas handling the last two results of one assessment:
// both see every family answered before either's outputs are published (the
// runner publishes after the handler returns). A core NATS subscriber, which
// JetStream's dedup does not protect, must still get the completed event once.
func TestTwoReplicasAnnounceACompletedAssessmentOnce(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	const tenant, id = "acme", "twice"
	replicas, sub := racingReplicas(t, e, tenant, id)

	var outputs [][]bus.Message
	for i, sy := range replicas {
		f := racingFamilies()[i]
		out, err := sy.Handle(ctx, storedResultEvent(t, e.bus, tenant, id, f, "r-"+string(f)))
		require.NoError(t, err)
		outputs = append(outputs, out)
	}
	// Each runner publishes its handler's outputs, in order, then acks.
	for _, out := range outputs {
		publishAll(t, e.bus, out)
	}
	require.Equal(t, 1, deliveries(t, e.bus, sub), "core NATS deliveries of the completed event")
	require.EqualValues(t, 1, e.subjectCounts(t)[bus.SubjectCompleted(tenant, id)])
	// Every family's progress and the terminal status precede it in the stream.
	require.EqualValues(t, len(assessment.Families())+1, e.subjectCounts(t)[bus.SubjectStatus(tenant, id)])
}

// TestAnnouncementSurvivesTheAnnouncerStopping: the replica that owns the
// announcement stops before its runner publishes; the redelivery of its
// result, on the other replica, announces.
func TestAnnouncementSurvivesTheAnnouncerStopping(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	const tenant, id = "acme", "stopped"
	replicas, sub := racingReplicas(t, e, tenant, id)

	owner := storedResultEvent(t, e.bus, tenant, id, racingFamilies()[0], "r-"+string(racingFamilies()[0]))
	_, err := replicas[0].Handle(ctx, owner) // outputs lost with the process
	require.NoError(t, err)
	f := racingFamilies()[1]
	out, err := replicas[1].Handle(ctx, storedResultEvent(t, e.bus, tenant, id, f, "r-"+string(f)))
	require.NoError(t, err)
	publishAll(t, e.bus, out)

	redelivered := *owner
	redelivered.Deliveries = 2
	out, err = replicas[1].Handle(ctx, &redelivered)
	require.NoError(t, err)
	publishAll(t, e.bus, out)
	require.Equal(t, 1, deliveries(t, e.bus, sub), "core NATS deliveries of the completed event")
	require.EqualValues(t, 1, e.subjectCounts(t)[bus.SubjectCompleted(tenant, id)])

	// Once it is in the stream, no later delivery announces again.
	out, err = replicas[0].Handle(ctx, &redelivered)
	require.NoError(t, err)
	require.Empty(t, out)
}

// TestAnAbandonedAnnouncementIsTakenOver: an owner that never published
// (its result dead-lettered) binds only for a while; a later delivery for
// the assessment then announces.
func TestAnAbandonedAnnouncementIsTakenOver(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	const tenant, id = "acme", "abandoned"
	replicas, sub := racingReplicas(t, e, tenant, id)
	_, err := e.state.ClaimAnnouncement(ctx, progress.Announcement{
		TenantID: tenant, AssessmentID: id, Owner: "result gone", At: time.Now().Add(-time.Hour),
	})
	require.NoError(t, err)
	for i, sy := range replicas {
		f := racingFamilies()[i]
		out, err := sy.Handle(ctx, storedResultEvent(t, e.bus, tenant, id, f, "r-"+string(f)))
		require.NoError(t, err)
		publishAll(t, e.bus, out)
	}
	require.Equal(t, 1, deliveries(t, e.bus, sub), "core NATS deliveries of the completed event")
}

// A burst leaves a family with a long queue: an assessment waiting in it
// passes its deadline while the family is working. The deadline is
// scheduled again StallAfter later instead of the assessment closing; once
// the family stops acknowledging anything for StallAfter it is taken to be
// down and the assessment closes naming what is missing.
func TestDeadlineWaitsForAFamilyWorkingThroughItsQueue(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	const stall = time.Second
	sy, err := synth.New(ctx, e.bus, e.store, slog.New(slog.NewTextHandler(io.Discard, nil)), synth.Config{StallAfter: stall}, nil)
	require.NoError(t, err)
	e.create(t, "acme", "queued", time.Now().Add(time.Hour))

	// The cloud family acknowledges one request, then works on the next
	// for as long as the test holds it, with a third waiting behind it.
	var handled sync.WaitGroup
	handled.Add(1)
	release := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		first := true
		consumed <- e.bus.Consume(cctx, "family-cloud", bus.Requests(), func(context.Context, *bus.Event) ([]bus.Message, error) {
			if first {
				first = false
				defer handled.Done()
				return nil, nil
			}
			<-release
			return nil, nil
		}, bus.DrainTimeout(time.Second))
	}()
	t.Cleanup(func() {
		close(release)
		cancel()
		require.NoError(t, <-consumed)
	})
	for i := range 3 {
		id := "req-" + string(rune('a'+i))
		require.NoError(t, e.bus.Publish(ctx, bus.Message{
			ID: id, Type: bus.TypeAssessmentRequested, Source: "/test", Subject: bus.SubjectRequested("acme"),
			Tenant: "acme", CESubject: id, Data: []byte(`{}`),
		}))
	}
	handled.Wait()

	out := e.expire(t, sy, "acme", "queued")
	require.Len(t, out, 1, "nothing closed while cloud works through its queue; the deadline is scheduled again")
	require.NotNil(t, out[0].Schedule)
	require.Equal(t, bus.SubjectDeadlineDue("acme", "queued"), out[0].Schedule.Target)
	require.WithinDuration(t, time.Now().Add(stall), out[0].Schedule.At, time.Second)
	a, err := e.store.Assessments.Get(ctx, "acme", "queued")
	require.NoError(t, err)
	require.Equal(t, string(assessment.StatusQueued), a.Status)
	m, found, err := e.state.Marks(ctx, "acme", "queued")
	require.NoError(t, err)
	require.True(t, found)
	require.True(t, m.Deadline.Equal(out[0].Schedule.At), "people see the deadline moved: %s", m.Deadline)

	// Cloud acknowledges nothing more: past StallAfter it is down.
	time.Sleep(stall + 500*time.Millisecond)
	e.expire(t, sy, "acme", "queued")
	closed := waitStatus(t, e.store, "acme", "queued", assessment.StatusFailed)
	require.Len(t, closed.MissingFamilies, len(assessment.Families()))
}

// A result that came from the RESULTS stream is kept in the progress
// bucket as a reference to its message, not as a second copy of it, and a
// replica that never handled it reads it from the stream to close the
// assessment (TestAnnouncementSurvivesTheAnnouncerStopping).
func TestAResultIsStoredAsAReferenceToItsMessage(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	e.create(t, "acme", "ref", time.Now().Add(time.Hour))
	ev := storedResultEvent(t, e.bus, "acme", "ref", assessment.FamilyCloud, "r-ref")
	_, err := e.synth.Handle(ctx, ev)
	require.NoError(t, err)

	kv, err := e.bus.JS.KeyValue(ctx, bus.BucketProgress)
	require.NoError(t, err)
	entry, err := kv.Get(ctx, assessment.DeterministicID("acme", "ref")+".result.cloud")
	require.NoError(t, err)
	require.Less(t, len(entry.Value()), 300, "a reference, not the %d bytes of the result", len(ev.Data))
	require.NotContains(t, string(entry.Value()), "cloud summary")
}
