package worker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

func startBus(t *testing.T) *bus.Bus {
	t.Helper()
	ctx := context.Background()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: t.Name(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func runWorker(t *testing.T, b *bus.Bus, f assessment.Family) {
	t.Helper()
	cat, err := catalog.Load()
	require.NoError(t, err)
	an, err := analysis.New(cat)
	require.NoError(t, err)
	w, err := worker.New(f, b, an, slog.New(slog.NewTextHandler(io.Discard, nil)), worker.Config{
		DrainTimeout: time.Second,
		Consumer:     []bus.Option{bus.AckWait(time.Second), bus.MaxDeliver(2), bus.BackOff(100 * time.Millisecond)},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func request() *inframindv1.AssessmentRequest {
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

func publishRequest(t *testing.T, b *bus.Bus, id, tenant string, data any) {
	t.Helper()
	require.NoError(t, b.Publish(context.Background(), bus.Message{
		ID: id, Type: bus.TypeAssessmentRequested, Source: "/test", Subject: bus.SubjectRequested(tenant),
		Tenant: tenant, CESubject: id, Time: time.Now(), Data: data,
	}))
}

// next returns the next message on subject in stream.
func next(t *testing.T, b *bus.Bus, stream, subject string) jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := b.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(t, err)
	msg, err := c.Next(jetstream.FetchMaxWait(15 * time.Second))
	require.NoError(t, err, "no message on %s", subject)
	return msg
}

func TestCloudAndSimulationChainThroughTheBus(t *testing.T) {
	b := startBus(t)
	runWorker(t, b, assessment.FamilyCloud)
	runWorker(t, b, assessment.FamilySimulation)
	publishRequest(t, b, "a1", "acme", &inframindv1.RequestAssessment{
		Metadata: &inframindv1.Metadata{EventId: "a1", TenantId: "acme", AssessmentId: "a1"},
		Request:  request(),
	})

	var sim inframindv1.AgentResultPublished
	msg := next(t, b, bus.StreamResults, bus.SubjectResult("acme", "simulation"))
	require.NoError(t, protojson.Unmarshal(msg.Data(), &sim))
	require.Equal(t, "ok", sim.GetStatus(), sim.GetError())
	require.Equal(t, []string{"cloud"}, sim.GetUpstreamFamilies())
	require.Equal(t, "a1", sim.GetMetadata().GetAssessmentId())
	require.Equal(t, worker.ResultID("a1", assessment.FamilySimulation), msg.Headers().Get("Nats-Msg-Id"))
	require.NotEmpty(t, sim.GetMetrics())
	require.Equal(t, "chatbot", sim.GetRequest().GetName(), "the result records the request it analysed")
	require.NotEmpty(t, sim.GetCatalogVersion(), "the result records its catalogue version")
}

func TestUnanalysableRequestStillGetsAFailedResult(t *testing.T) {
	b := startBus(t)
	runWorker(t, b, assessment.FamilyCloud)
	// A request without workloads is one the cloud family cannot analyse
	// (an impossible workload is analysed: its infeasibility is a finding).
	req := request()
	req.Workloads = nil
	publishRequest(t, b, "a2", "acme", &inframindv1.RequestAssessment{
		Metadata: &inframindv1.Metadata{EventId: "a2", TenantId: "acme", AssessmentId: "a2"},
		Request:  req,
	})
	var res inframindv1.AgentResultPublished
	require.NoError(t, protojson.Unmarshal(next(t, b, bus.StreamResults, bus.SubjectResult("acme", "cloud")).Data(), &res))
	require.Equal(t, "failed", res.GetStatus())
	require.Contains(t, res.GetError(), "workloads")
}

func TestBadInputsAreDeadLetteredWithTheReason(t *testing.T) {
	tests := []struct {
		name   string
		tenant string
		// subject is the tenant of the subject when it differs from the ce-tenant header.
		subject string
		data    any
		reason  string
	}{
		{name: "undecodable", tenant: "acme", data: []byte(`{"metadata": 42`), reason: "undecodable"},
		{name: "unknown field", tenant: "acme", data: []byte(`{"surprise": true}`), reason: "surprise"},
		{name: "tenant mismatch", tenant: "acme", data: &inframindv1.RequestAssessment{
			Metadata: &inframindv1.Metadata{EventId: "x", TenantId: "globex", AssessmentId: "x"}, Request: request(),
		}, reason: "does not match"},
		{name: "subject of another tenant", tenant: "globex", subject: "acme", data: &inframindv1.RequestAssessment{
			Metadata: &inframindv1.Metadata{EventId: "z", TenantId: "globex", AssessmentId: "z"}, Request: request(),
		}, reason: "does not match the subject"},
		{name: "no request", tenant: "acme", data: &inframindv1.RequestAssessment{
			Metadata: &inframindv1.Metadata{EventId: "y", TenantId: "acme", AssessmentId: "y"},
		}, reason: "request is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBus(t)
			runWorker(t, b, assessment.FamilyMLOps)
			subject := tt.tenant
			if tt.subject != "" {
				subject = tt.subject
			}
			require.NoError(t, b.Publish(context.Background(), bus.Message{
				ID: "bad-" + tt.name, Type: bus.TypeAssessmentRequested, Source: "/test", Subject: bus.SubjectRequested(subject),
				Tenant: tt.tenant, CESubject: "bad", Time: time.Now(), Data: tt.data,
			}))
			var dl inframindv1.DeadLetter
			msg := next(t, b, bus.StreamDeadLetter, bus.SubjectDeadLetter(bus.StreamAssessments, worker.DurableName(assessment.FamilyMLOps)))
			require.NoError(t, protojson.Unmarshal(msg.Data(), &dl))
			require.Contains(t, dl.GetReason(), tt.reason)
			require.Equal(t, bus.SubjectRequested(subject), dl.GetSubject())
		})
	}
}

// The worker returns its result for the runner to publish; it publishes
// nothing itself, so an unacked input never leaves a result behind it.
func TestHandleReturnsTheResultWithoutPublishing(t *testing.T) {
	b := startBus(t)
	cat, err := catalog.Load()
	require.NoError(t, err)
	an, err := analysis.New(cat)
	require.NoError(t, err)
	w, err := worker.New(assessment.FamilyCloud, b, an, slog.New(slog.DiscardHandler), worker.Config{})
	require.NoError(t, err)
	require.Equal(t, bus.Requests(), w.Subscription())

	e, err := bus.EventFor(context.Background(), bus.Message{
		ID: "a3", Type: bus.TypeAssessmentRequested, Source: "/test", Subject: bus.SubjectRequested("acme"), Tenant: "acme",
		Data: &inframindv1.RequestAssessment{
			Metadata: &inframindv1.Metadata{EventId: "a3", TenantId: "acme", AssessmentId: "a3"},
			Request:  request(),
		},
	})
	require.NoError(t, err)
	out, err := w.Handle(context.Background(), e)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, worker.ResultID("a3", assessment.FamilyCloud), out[0].ID)
	require.Equal(t, bus.SubjectResult("acme", "cloud"), out[0].Subject)
	require.Equal(t, "acme", out[0].Tenant)
	res, ok := out[0].Data.(*inframindv1.AgentResultPublished)
	require.True(t, ok)
	require.Equal(t, "ok", res.GetStatus(), res.GetError())

	st, err := b.JS.Stream(context.Background(), bus.StreamResults)
	require.NoError(t, err)
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "nothing published by the handler")

	sim, err := worker.New(assessment.FamilySimulation, b, an, slog.New(slog.DiscardHandler), worker.Config{})
	require.NoError(t, err)
	require.Equal(t, bus.Results("cloud"), sim.Subscription())
}
