package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/scenario"
	"github.com/infra-mind/infra-mind/pkg/store"
)

var ctx = context.Background()

type fixture struct {
	svc   *app.Service
	repo  *apptest.Assessments
	queue *apptest.Queue
	now   time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{repo: apptest.NewAssessments(), queue: apptest.NewQueue(), now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	svc, err := app.New(f.repo, f.queue, app.Options{Timeout: time.Minute, Now: func() time.Time { return f.now }})
	require.NoError(t, err)
	f.svc = svc
	return f
}

func request(name string) *inframindv1.AssessmentRequest {
	return &inframindv1.AssessmentRequest{Name: name, Business: &inframindv1.Business{CompanySize: "startup", Regions: []string{"us"}},
		Workloads: []*inframindv1.Workload{{Name: "api", Kind: "general", PeakRequestsPerSecond: 10}}}
}

var acme = app.Caller{Tenant: "acme", CorrelationID: "corr-1"}

func TestNewNeedsItsPorts(t *testing.T) {
	t.Parallel()
	_, err := app.New(nil, apptest.NewQueue(), app.Options{})
	require.ErrorContains(t, err, "repository is required")
	_, err = app.New(apptest.NewAssessments(), nil, app.Options{})
	require.ErrorContains(t, err, "queue is required")
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, err := f.svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	require.NoError(t, err)
	require.Equal(t, "queued", a.Status)
	require.Equal(t, "corr-1", a.CorrelationID)
	require.Equal(t, f.now.Add(time.Minute), a.Deadline, "the deadline is the timeout from now")
	require.Len(t, a.Families, 6)
	stored, err := f.repo.Get(ctx, "acme", a.ID)
	require.NoError(t, err)
	require.JSONEq(t, a.Request, stored.Request)
	q := f.queue.Of("acme")
	require.Len(t, q, 1)
	require.True(t, proto.Equal(request("bot"), q[0].Request))
}

func TestSubmitIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sub := app.Submission{Caller: acme, IdempotencyKey: "order-42", Request: request("bot")}
	first, err := f.svc.Submit(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, app.IdempotentID("acme", "order-42"), first.ID)
	again, err := f.svc.Submit(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	require.Len(t, f.queue.Of("acme"), 1)

	changed := sub
	changed.Request = request("another bot")
	_, err = f.svc.Submit(ctx, changed)
	require.ErrorIs(t, err, app.ErrIdempotencyKeyReused)

	other, err := f.svc.Submit(ctx, app.Submission{Caller: app.Caller{Tenant: "globex"}, IdempotencyKey: "order-42", Request: request("bot")})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID, "keys are per tenant")
	require.NotEmpty(t, other.CorrelationID, "a correlation id is made when none is given")
}

// A broker outage leaves the assessment stored; retrying with the key queues
// that same assessment.
func TestSubmitQueueDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.queue.Fail = errors.New("broker down")
	sub := app.Submission{Caller: acme, IdempotencyKey: "k", Request: request("bot")}
	_, err := f.svc.Submit(ctx, sub)
	var nq *app.NotQueuedError
	require.ErrorAs(t, err, &nq)
	require.Equal(t, "Retry with the same Idempotency-Key header to avoid a duplicate.", nq.Retry)
	_, err = f.repo.Get(ctx, "acme", app.IdempotentID("acme", "k"))
	require.NoError(t, err, "stored before queueing")

	f.queue.Fail = nil
	a, err := f.svc.Submit(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, nq.ID, a.ID)
	require.Len(t, f.queue.Of("acme"), 1)
}

// Accepted work finishes or fails visibly: every assessment stored has its
// deadline scheduled before it was stored, so one whose request never
// reached the pipeline (the publish refused, or the process stopped
// between the insert and the publish, which a failing Enqueue stands for)
// is closed by the pipeline at its deadline instead of staying queued.
func TestEveryStoredAssessmentHasItsDeadlineEvenIfNeverQueued(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base, err := f.svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	require.NoError(t, err)

	f.queue.Fail = errors.New("the process stopped before queueing")
	var nq *app.NotQueuedError
	_, err = f.svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	require.ErrorAs(t, err, &nq)
	_, err = f.svc.CreateVersion(ctx, acme, base.ID)
	require.ErrorAs(t, err, &nq)
	double := 2.0
	whatIf := app.Scenario{Overrides: scenario.Overrides{TrafficMultiplier: &double}}
	_, err = f.svc.CreateScenario(ctx, acme, base, whatIf)
	require.ErrorAs(t, err, &nq)

	page, err := f.repo.List(ctx, "acme", store.ListOptions{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Items, 4)
	for _, a := range page.Items {
		d, ok := f.queue.DeadlineOf("acme", a.ID)
		require.True(t, ok, "stored assessment %s (%s) has no deadline: it would stay queued for ever", a.ID, a.Kind)
		require.Equal(t, a.Deadline, d.At)
	}

	// A deadline that cannot be scheduled stores nothing: the client is told
	// to retry, and nothing is left queued without a deadline.
	f.queue.Fail, f.queue.FailSchedule = nil, errors.New("broker down")
	_, err = f.svc.Submit(ctx, app.Submission{Caller: acme, IdempotencyKey: "k", Request: request("bot")})
	require.ErrorAs(t, err, &nq)
	require.Equal(t, "Retry the request; nothing was stored.", nq.Retry)
	_, err = f.repo.Get(ctx, "acme", app.IdempotentID("acme", "k"))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.svc.CreateVersion(ctx, acme, base.ID)
	require.ErrorAs(t, err, &nq)
	_, err = f.svc.CreateScenario(ctx, acme, base, whatIf)
	require.ErrorAs(t, err, &nq)
	page, err = f.repo.List(ctx, "acme", store.ListOptions{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Items, 4, "nothing stored without its deadline")
}

func TestVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base, err := f.svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	require.NoError(t, err)
	// Something else already holds version 2's id: the re-run moves on to 3.
	require.NoError(t, f.repo.Create(ctx, store.Assessment{ID: store.VersionID(base.ID, 2), TenantID: "acme"}))
	v, err := f.svc.CreateVersion(ctx, acme, base.ID)
	require.NoError(t, err)
	require.Equal(t, 3, v.Version)
	require.Equal(t, base.ID, v.ParentID)
	require.Equal(t, base.Request, v.Request, "a version re-runs the stored request")
	f.now = f.now.Add(time.Second)
	v4, err := f.svc.CreateVersion(ctx, acme, base.ID)
	require.NoError(t, err)
	require.Equal(t, 4, v4.Version)

	gotBase, versions, err := f.svc.Versions(ctx, "acme", base.ID)
	require.NoError(t, err)
	require.Equal(t, base.ID, gotBase.ID)
	require.Equal(t, []int{3, 4}, []int{versions[0].Version, versions[1].Version})

	from, to, err := f.svc.VersionPair(ctx, "acme", base.ID, 1, 4)
	require.NoError(t, err)
	require.Equal(t, base.ID, from.ID)
	require.Equal(t, v4.ID, to.ID)
	_, _, err = f.svc.VersionPair(ctx, "acme", base.ID, 1, 9)
	var nv *app.NoVersionError
	require.ErrorAs(t, err, &nv)
	require.Equal(t, app.NoVersionError{Version: 9, Param: "to"}, *nv)

	_, err = f.svc.CreateVersion(ctx, acme, v.ID)
	var nb *app.NotBaseError
	require.ErrorAs(t, err, &nb, "a version is not a base")
	require.Equal(t, base.ID, nb.ParentID)
	_, err = f.svc.CreateVersion(ctx, app.Caller{Tenant: "globex"}, base.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base, err := f.svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	require.NoError(t, err)
	b, err := f.svc.Base(ctx, "acme", base.ID)
	require.NoError(t, err)
	double := 2.0
	sc, err := f.svc.CreateScenario(ctx, acme, b, app.Scenario{Overrides: scenario.Overrides{TrafficMultiplier: &double}})
	require.NoError(t, err)
	require.Equal(t, "bot (what-if)", sc.Name)
	require.JSONEq(t, `{"traffic_multiplier":2}`, sc.Overrides)
	require.Equal(t, store.KindScenario, sc.Kind)
	q := f.queue.Of("acme")
	require.Len(t, q, 2)
	require.InDelta(t, 20, q[1].Request.GetWorkloads()[0].GetPeakRequestsPerSecond(), 1e-9, "the overrides are applied")

	list, err := f.svc.Scenarios(ctx, "acme", base.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, got, err := f.svc.Scenario(ctx, "acme", base.ID, sc.ID)
	require.NoError(t, err)
	require.Equal(t, sc.ID, got.ID)
	_, _, err = f.svc.Scenario(ctx, "acme", base.ID, base.ID)
	require.ErrorIs(t, err, app.ErrNoScenario, "the base is not its own scenario")

	bad := -1.0
	_, err = f.svc.CreateScenario(ctx, acme, b, app.Scenario{Overrides: scenario.Overrides{TrafficMultiplier: &bad}})
	require.Error(t, err)
	require.Len(t, f.queue.Of("acme"), 2, "a refused scenario is not queued")
}

// busy is an Admission that refuses everything, counting the asks.
type busy struct{ asked int }

func (b *busy) Admit(context.Context) (func(), error) {
	b.asked++
	return nil, &app.BusyError{InFlight: 7, Limit: 7, RetryAfter: 3 * time.Second}
}

func TestSubmitRefusedWhenThePipelineIsFullStoresNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base, err := f.svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	require.NoError(t, err)
	b := &busy{}
	svc, err := app.New(f.repo, f.queue, app.Options{Timeout: time.Minute, Admission: b})
	require.NoError(t, err)

	_, err = svc.Submit(ctx, app.Submission{Caller: acme, Request: request("bot")})
	var be *app.BusyError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 3*time.Second, be.RetryAfter)
	_, err = svc.CreateVersion(ctx, acme, base.ID)
	require.ErrorAs(t, err, &be)
	double := 2.0
	_, err = svc.CreateScenario(ctx, acme, base, app.Scenario{Overrides: scenario.Overrides{TrafficMultiplier: &double}})
	require.ErrorAs(t, err, &be)
	require.Equal(t, 3, b.asked)

	page, err := f.repo.List(ctx, "acme", store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "only the first submission is stored")
	require.Len(t, f.queue.Of("acme"), 1, "and queued")
}
