package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// One contract per port of pkg/app, run against the in-process fake
// (pkg/app/apptest) and the real adapter on embedded NATS and FerretDB
// (pkg/devstack): the fakes the use-case and handler tests run on behave as
// production does, or these tests fail.

// queued is what a worker receives for one queued assessment.
type queued struct {
	ID, Tenant, CorrelationID, Status string
	Families                          []string
	Request                           *inframindv1.AssessmentRequest
	Deadline                          time.Time
}

// queueHarness is a Queue and a way to read what it queued for a tenant.
type queueHarness struct {
	queue app.Queue
	of    func(t *testing.T, tenant string) []queued
	// deadline is the deadline scheduled for an assessment (zero: none).
	deadline func(t *testing.T, tenant, id string) time.Time
}

func TestContracts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	st, err := store.Connect(ctx, stack.MongoURI, "app_"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "app-contract"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	ch, err := cache.Connect(ctx, stack.RedisURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })
	readerContracts(t, st, ch)
	runEventLogContracts(t, b)
	// The same database read through the read model, as the services run.
	viewed, err := store.Connect(ctx, stack.MongoURI, st.Database().Name())
	require.NoError(t, err)
	t.Cleanup(func() { _ = viewed.Close(context.Background()) })
	_, err = readmodel.Use(ctx, b.JS, viewed, nil)
	require.NoError(t, err)
	t.Run("read-model", func(t *testing.T) {
		t.Parallel()
		readerContracts(t, viewed, ch)
		erasureContracts(t, viewed, b, ch)
	})
	erasureContracts(t, st, b, ch)

	state, err := progress.Open(ctx, b.JS)
	require.NoError(t, err)
	// As the gateway runs it: the read model, with progress laid over it.
	live, err := adapters.NewLiveAssessments(viewed.Assessments, state)
	require.NoError(t, err)
	repos := map[string]func() app.Assessments{
		"fake":             func() app.Assessments { return apptest.NewAssessments() },
		"store":            func() app.Assessments { return st.Assessments },
		"store-read-model": func() app.Assessments { return viewed.Assessments },
		"live":             func() app.Assessments { return live },
	}
	queues := map[string]func(t *testing.T) queueHarness{
		"fake": func(*testing.T) queueHarness {
			q := apptest.NewQueue()
			return queueHarness{queue: q, of: func(_ *testing.T, tenant string) []queued {
				var out []queued
				for _, e := range q.Of(tenant) {
					out = append(out, queued(e))
				}
				return out
			}, deadline: func(_ *testing.T, tenant, id string) time.Time {
				d, _ := q.DeadlineOf(tenant, id)
				return d.At
			}}
		},
		"bus": func(t *testing.T) queueHarness {
			q, err := adapters.NewBusQueue(b, "/services/gateway")
			require.NoError(t, err)
			return queueHarness{queue: q, of: func(t *testing.T, tenant string) []queued { return readQueued(t, b, tenant) },
				deadline: func(t *testing.T, tenant, id string) time.Time { return scheduledDeadline(t, b, tenant, id) }}
		},
	}
	for name, repo := range repos {
		t.Run("assessments/"+name, func(t *testing.T) {
			t.Parallel()
			testAssessmentsContract(t, repo())
		})
	}
	for name, h := range queues {
		t.Run("queue/"+name, func(t *testing.T) {
			t.Parallel()
			testQueueContract(t, h(t))
		})
	}
}

// readQueued reads every RequestAssessment command of tenant on the stream,
// with the status event published for each.
func readQueued(t *testing.T, b *bus.Bus, tenant string) []queued {
	t.Helper()
	subject := bus.SubjectRequested(tenant)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.JS.Stream(ctx, bus.StreamAssessments)
	require.NoError(t, err)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	want := int(info.State.Subjects[subject])
	var out []queued
	if want == 0 {
		return nil
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	require.NoError(t, b.ReplayFrom(rctx, bus.StreamAssessments, subject, 0, func(ev *bus.Event) error {
		var cmd inframindv1.RequestAssessment
		if err := ev.Decode(&cmd); err != nil {
			return err
		}
		status := firstStatus(t, b, tenant, ev.ID)
		out = append(out, queued{ID: ev.ID, Tenant: ev.Tenant, CorrelationID: cmd.GetMetadata().GetCorrelationId(),
			Status: status, Families: cmd.GetFamilies(), Request: cmd.GetRequest(), Deadline: scheduledDeadline(t, b, tenant, ev.ID)})
		if len(out) == want {
			rcancel()
		}
		return nil
	}))
	require.Len(t, out, want)
	return out
}

// scheduledDeadline is the deadline scheduled for an assessment on the
// DEADLINES stream (zero when none is).
func scheduledDeadline(t *testing.T, b *bus.Bus, tenant, id string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.JS.Stream(ctx, bus.StreamDeadlines)
	require.NoError(t, err)
	msg, err := st.GetLastMsgForSubject(ctx, bus.SubjectDeadlineSchedule(tenant, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return time.Time{}
	}
	require.NoError(t, err)
	require.Equal(t, bus.SubjectDeadlineDue(tenant, id), msg.Header.Get("Nats-Schedule-Target"))
	var d inframindv1.AssessmentDeadlineReached
	require.NoError(t, protojson.Unmarshal(msg.Data, &d))
	require.Equal(t, id, d.GetMetadata().GetAssessmentId())
	return d.GetDeadline().AsTime()
}

// firstStatus is the first status an assessment's progress stream carries.
func firstStatus(t *testing.T, b *bus.Bus, tenant, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var status string
	require.NoError(t, b.ReplayFrom(ctx, bus.StreamEvents, bus.SubjectStatus(tenant, id), 0, func(ev *bus.Event) error {
		var s inframindv1.AssessmentStatusChanged
		if err := ev.Decode(&s); err != nil {
			return err
		}
		if ev.ID != assessment.DeterministicID(id, s.GetStatus()) {
			return fmt.Errorf("status event id %s is not deterministic", ev.ID)
		}
		status = s.GetStatus()
		cancel()
		return nil
	}))
	return status
}

// seq makes ids and tenants unique across parallel runs sharing one store.
var seq atomic.Int64

func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%s", prefix, seq.Add(1), uuid.NewString()[:8])
}

func testQueueContract(t *testing.T, h queueHarness) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	req := &inframindv1.AssessmentRequest{Name: "Help-centre Q&A"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := store.Assessment{ID: uuid.NewString(), TenantID: tenant, Name: req.GetName(), Status: "queued",
		CorrelationID: "corr-1", CreatedAt: now, Deadline: now.Add(time.Hour)}

	// The deadline is scheduled before the assessment is stored, and
	// stands on its own: an assessment never queued still has it.
	require.NoError(t, h.queue.ScheduleDeadline(ctx, a))
	require.True(t, a.Deadline.Equal(h.deadline(t, tenant, a.ID)), "the deadline is scheduled before anything is queued")
	require.Empty(t, h.of(t, tenant), "scheduling a deadline queues nothing")
	later := a
	later.Deadline = a.Deadline.Add(time.Minute)
	require.NoError(t, h.queue.ScheduleDeadline(ctx, later))
	require.True(t, later.Deadline.Equal(h.deadline(t, tenant, a.ID)), "a later schedule replaces the first")

	require.NoError(t, h.queue.Enqueue(ctx, a, req))
	require.NoError(t, h.queue.Enqueue(ctx, a, req), "queueing again is safe")
	got := h.of(t, tenant)
	require.Len(t, got, 1, "queued twice, run once")
	require.Equal(t, a.ID, got[0].ID)
	require.Equal(t, tenant, got[0].Tenant)
	require.Equal(t, "corr-1", got[0].CorrelationID)
	require.Equal(t, "queued", got[0].Status, "the progress stream starts with queued")
	require.True(t, proto.Equal(req, got[0].Request))
	var families []string
	for _, f := range assessment.Families() {
		families = append(families, string(f))
	}
	require.Equal(t, families, got[0].Families, "every family is asked")
	require.True(t, later.Deadline.Equal(got[0].Deadline), "queueing leaves the deadline as scheduled: got %s, want %s", got[0].Deadline, later.Deadline)
	require.Empty(t, h.of(t, other), "a tenant's queue holds only its own assessments")
}

func testAssessmentsContract(t *testing.T, repo app.Assessments) {
	ctx := context.Background()
	tenant, other := uniq("acme"), uniq("globex")
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

	t.Run("create then get", func(t *testing.T) {
		a := store.Assessment{ID: uuid.NewString(), TenantID: tenant, Name: "n", Status: "queued", Request: `{"name":"n"}`,
			Families: map[string]store.FamilyState{"cloud": {Status: "pending"}}, CorrelationID: "c",
			CreatedAt: at, UpdatedAt: at, Deadline: at.Add(time.Minute)}
		require.NoError(t, repo.Create(ctx, a))
		got, err := repo.Get(ctx, tenant, a.ID)
		require.NoError(t, err)
		require.Equal(t, a.ID, got.ID)
		require.Equal(t, tenant, got.TenantID)
		require.Equal(t, "n", got.Name)
		require.Equal(t, `{"name":"n"}`, got.Request)
		require.Equal(t, "pending", got.Families["cloud"].Status)
		require.Equal(t, store.KindBase, got.Kind)
		require.True(t, got.CreatedAt.Equal(at.Truncate(time.Millisecond)), "times keep milliseconds: %v", got.CreatedAt)
		require.True(t, got.Deadline.Equal(at.Add(time.Minute).Truncate(time.Millisecond)))
	})
	t.Run("defaults", func(t *testing.T) {
		id := uuid.NewString()
		require.NoError(t, repo.Create(ctx, store.Assessment{ID: id, TenantID: tenant}))
		got, err := repo.Get(ctx, tenant, id)
		require.NoError(t, err)
		require.Equal(t, "queued", got.Status)
		require.NotNil(t, got.Families)
		require.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)
	})
	t.Run("conflict and isolation", func(t *testing.T) {
		id := uuid.NewString()
		require.NoError(t, repo.Create(ctx, store.Assessment{ID: id, TenantID: tenant}))
		require.ErrorIs(t, repo.Create(ctx, store.Assessment{ID: id, TenantID: tenant}), store.ErrConflict)
		_, err := repo.Get(ctx, other, id)
		require.ErrorIs(t, err, store.ErrNotFound, "another tenant's id reads like a missing one")
		require.NoError(t, repo.Create(ctx, store.Assessment{ID: id, TenantID: other}), "ids are per tenant")
		_, err = repo.Get(ctx, tenant, uuid.NewString())
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, repo.Create(ctx, store.Assessment{ID: id}), store.ErrInvalid)
	})
	t.Run("list pages newest first", func(t *testing.T) {
		lt := uniq("lister")
		var want []string
		for i := range 5 {
			id := uuid.NewString()
			require.NoError(t, repo.Create(ctx, store.Assessment{ID: id, TenantID: lt, CreatedAt: at.Add(time.Duration(i) * time.Second)}))
			want = append([]string{id}, want...)
		}
		require.NoError(t, repo.Create(ctx, store.Assessment{ID: uuid.NewString(), TenantID: uniq("else"), CreatedAt: at}))
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5)
			page, err := repo.List(ctx, lt, store.ListOptions{Limit: 2, Cursor: cursor})
			require.NoError(t, err)
			for _, a := range page.Items {
				got = append(got, a.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		require.Equal(t, want, got)
		_, err := repo.List(ctx, lt, store.ListOptions{Cursor: "not a cursor"})
		require.ErrorIs(t, err, store.ErrBadCursor)
		empty, err := repo.List(ctx, uniq("nobody"), store.ListOptions{})
		require.NoError(t, err)
		require.NotNil(t, empty.Items)
		require.Empty(t, empty.Items)
	})
	t.Run("children oldest first by kind", func(t *testing.T) {
		base := uuid.NewString()
		require.NoError(t, repo.Create(ctx, store.Assessment{ID: base, TenantID: tenant, CreatedAt: at}))
		v3 := store.Assessment{ID: store.VersionID(base, 3), TenantID: tenant, ParentID: base, Kind: store.KindVersion, Version: 3, CreatedAt: at.Add(2 * time.Second)}
		v2 := store.Assessment{ID: store.VersionID(base, 2), TenantID: tenant, ParentID: base, Kind: store.KindVersion, Version: 2, CreatedAt: at.Add(time.Second)}
		sc := store.Assessment{ID: uuid.NewString(), TenantID: tenant, ParentID: base, Kind: store.KindScenario, Overrides: `{"traffic_multiplier":2}`, CreatedAt: at.Add(time.Second)}
		for _, a := range []store.Assessment{v3, v2, sc, {ID: uuid.NewString(), TenantID: other, ParentID: base, Kind: store.KindScenario}} {
			require.NoError(t, repo.Create(ctx, a))
		}
		versions, err := repo.Children(ctx, tenant, base, store.KindVersion)
		require.NoError(t, err)
		require.Len(t, versions, 2)
		require.Equal(t, []string{v2.ID, v3.ID}, []string{versions[0].ID, versions[1].ID})
		require.Equal(t, 2, versions[0].Version)
		scenarios, err := repo.Children(ctx, tenant, base, store.KindScenario)
		require.NoError(t, err)
		require.Len(t, scenarios, 1)
		require.Equal(t, sc.Overrides, scenarios[0].Overrides)
		none, err := repo.Children(ctx, tenant, uuid.NewString(), store.KindVersion)
		require.NoError(t, err)
		require.NotNil(t, none)
		require.Empty(t, none)
	})
}
