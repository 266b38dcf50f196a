//go:build chart

package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

// syncBuffer is a process's output, written by its pipes and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// workerProcess is a family's service binary running as Kubernetes runs it:
// configured by the environment the chart renders for it.
type workerProcess struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

func startWorker(t *testing.T, bin string, env []string) *workerProcess {
	t.Helper()
	p := &workerProcess{cmd: exec.Command(bin), logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// TestWorkerStopsWithinTheChartsGracePeriod sends SIGTERM to the cloud
// family's service while it has messages in flight, with the chart's
// settings: it must exit cleanly within the pod's grace period having
// acknowledged or released every message it held, and a second worker must
// finish the rest with every message delivered exactly once.
func TestWorkerStopsWithinTheChartsGracePeriod(t *testing.T) {
	family := assessment.FamilyCloud
	objs := renderAndDecode(t, []string{"values.yaml"})
	dep := byKind[*appsv1.Deployment](objs)[release+"-"+string(family)]
	require.NotNil(t, dep)
	grace := time.Duration(*dep.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	var env []string
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		switch e.Name {
		case "IM_SHUTDOWN_TIMEOUT", "IM_CONCURRENCY", "IM_LOG_LEVEL":
			env = append(env, e.Name+"="+e.Value)
		}
	}
	require.Len(t, env, 3, "the chart sets the drain, concurrency and log level")

	bin := filepath.Join(t.TempDir(), string(family))
	build := exec.Command("go", "build", "-o", bin, "./services/"+string(family))
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build: %s", out)

	url, _ := startNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{URL: url, Name: "shutdown-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	const n = 400
	for i := range n {
		id := "a" + strconv.Itoa(i)
		require.NoError(t, b.Publish(ctx, bus.Message{
			ID: id, Type: bus.TypeAssessmentRequested, Source: "/test", Subject: bus.SubjectRequested("acme"),
			Tenant: "acme", CESubject: id, Time: time.Now(),
			Data: &inframindv1.RequestAssessment{
				Metadata: &inframindv1.Metadata{EventId: id, TenantId: "acme", AssessmentId: id},
				Request:  shutdownRequest(),
			},
		}))
	}

	env = append(env, "IM_NATS_URL="+url, "IM_METRICS_ADDR=127.0.0.1:0")
	first := startWorker(t, bin, env)

	sub := worker.SubscriptionOf(family)
	info := func() *jetstream.ConsumerInfo {
		c, err := b.JS.Consumer(ctx, sub.Stream, worker.DurableName(family))
		require.NoError(t, err)
		return c.CachedInfo()
	}
	// Wait until the worker is busy: some messages acknowledged, some in flight.
	var before *jetstream.ConsumerInfo
	require.Eventually(t, func() bool {
		c, err := b.JS.Consumer(ctx, sub.Stream, worker.DurableName(family))
		if err != nil {
			return false
		}
		before = c.CachedInfo()
		return before.AckFloor.Consumer > 0 && before.NumAckPending > 0
	}, 60*time.Second, 5*time.Millisecond, "the worker never had messages in flight:\n%s", first.logs)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	signalled := time.Now()
	select {
	case err := <-first.done:
		require.NoError(t, err, "exit status after SIGTERM:\n%s", first.logs)
	case <-time.After(grace):
		t.Fatalf("the worker did not exit within the chart's grace period (%s):\n%s", grace, first.logs)
	}
	took := time.Since(signalled)
	require.Contains(t, first.logs.String(), "stopped cleanly")

	after := info()
	// A message the broker sent the worker's last pull request after the
	// stop was released (nak) unhandled (bus.Consume keeps the request's
	// subscription until it expires); the broker counts it unacknowledged
	// until it delivers it again. Anything more than a pull request's worth
	// of such messages means the worker abandoned work.
	stranded := after.NumAckPending
	require.LessOrEqual(t, stranded, before.NumAckPending+4,
		"the stopped worker left no more than a pull request's worth of unseen messages unacknowledged")
	require.Zero(t, after.NumRedelivered)
	require.Positive(t, after.NumPending, "the test stopped the worker before it finished (raise n if this fails)")
	t.Logf("SIGTERM with %d in flight and %d acknowledged; exited in %s (grace %s); %d left for the next worker, %d sent as the fetch ended",
		before.NumAckPending, before.AckFloor.Consumer, took.Round(time.Millisecond), grace, after.NumPending, stranded)

	second := startWorker(t, bin, env)
	require.Eventually(t, func() bool {
		i := info()
		return i.NumPending == 0 && i.NumAckPending == 0
	}, 90*time.Second, 50*time.Millisecond, "the second worker did not finish:\n%s", second.logs)
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-second.done, second.logs.String())

	final := info()
	require.Equal(t, uint64(n)+uint64(stranded), final.Delivered.Consumer, //nolint:gosec // a count of messages is not negative
		"every message delivered once, and again only if the stopped worker never received it")
	require.Zero(t, final.NumRedelivered, "nothing is left redelivered and unacknowledged")
	results, err := b.JS.Stream(ctx, bus.StreamResults)
	require.NoError(t, err)
	state, err := results.Info(ctx, jetstream.WithSubjectFilter(bus.SubjectResult("acme", string(family))))
	require.NoError(t, err)
	var published uint64
	for _, count := range state.State.Subjects {
		published += count
	}
	require.Equal(t, uint64(n), published, "one result per request: none lost")
}

func shutdownRequest() *inframindv1.AssessmentRequest {
	return &inframindv1.AssessmentRequest{
		Name: "chatbot",
		Business: &inframindv1.Business{
			CompanySize: "startup", Industry: "retail", Regions: []string{"us"}, MonthlyBudgetUsd: 20000,
			Growth: &inframindv1.Growth{Month_6Multiplier: 1.5, Month_12Multiplier: 2, Month_24Multiplier: 3},
			Team:   &inframindv1.Team{Engineers: 4, MlEngineers: 1, OpsEngineers: 1, Expertise: "intermediate"},
		},
		Workloads: []*inframindv1.Workload{{
			Name: "chat", Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "bf16",
			PeakRequestsPerSecond: 5, MeanInputTokens: 500, MeanOutputTokens: 200,
		}},
	}
}
