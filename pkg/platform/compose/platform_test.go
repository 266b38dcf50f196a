package compose_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// system is the whole pipeline on embedded servers, reached through its API.
type system struct {
	client *client.Client
	sign   func(tenant string) string
	base   string
	// metrics is the operations listener, where /metrics is served.
	metrics string
	// platform is the running process (its store, for checks the API does not serve).
	platform *compose.Platform
}

type tb interface {
	require.TestingT
	Helper()
	TempDir() string
	Cleanup(func())
}

// servers are where a system's broker, store and cache are.
type servers struct {
	nats, mongo, mongoDB, redis string
	// natsInProcess is the embedded broker (nil for external servers).
	natsInProcess nats.InProcessConnProvider
}

// startSystem runs the embedded servers and a platform hosting roles.
func startSystem(t tb, roles compose.Roles, assessmentTimeout time.Duration, configure ...func(*platform.Config)) *system {
	t.Helper()
	stack, err := devstack.Start(context.Background(), devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	return startSystemOn(t, servers{nats: stack.NATSURL, mongo: stack.MongoURI, mongoDB: "e2e", redis: stack.RedisURL,
		natsInProcess: stack.NATSInProcess()}, roles, assessmentTimeout, configure...)
}

// startSystemOn runs a platform hosting roles against srv; configure
// adjusts the configuration first.
func startSystemOn(t tb, srv servers, roles compose.Roles, assessmentTimeout time.Duration, configure ...func(*platform.Config)) *system {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	pub, _ := key.Public().(ed25519.PublicKey)
	signer := auth.NewSigner(key, "infra-mind", "infra-mind-api")

	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	cfg := platform.Config{
		Common: platform.Common{NATSURL: srv.nats, StreamReplicas: 1, ShutdownTimeout: 5 * time.Second, Concurrency: 4,
			MetricsAddr: "127.0.0.1:0"},
		Store: platform.StoreConfig{MongoURI: srv.mongo, MongoDatabase: srv.mongoDB},
		Gateway: platform.GatewayConfig{
			HTTPAddr: "127.0.0.1:0", RedisURL: srv.redis, BodyLimitBytes: 1 << 20,
			AssessmentTimeout: assessmentTimeout, SSEKeepAlive: time.Second, ReportCacheTTL: time.Minute,
		},
	}
	for _, c := range configure {
		c(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := compose.New(ctx, cfg, roles, compose.Deps{
		Logger: log, Registry: reg, Metrics: metrics, NATSInProcess: srv.natsInProcess,
		Verifier: auth.NewVerifier(pub, "infra-mind", "infra-mind-api"),
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		p.Close(context.Background())
	})

	sign := func(tenant string) string {
		tok, err := signer.Issue("user-"+tenant, tenant, []string{"owner"}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	if !roles.Gateway {
		return &system{sign: sign, platform: p}
	}
	base := "http://" + p.GatewayAddr()
	// Strict: every answer the suite reads must decode into the generated API
	// types with no field the OpenAPI document leaves out.
	c, err := client.New(base, sign("acme"), nil, client.Strict())
	require.NoError(t, err)
	return &system{client: c, sign: sign, base: base, metrics: "http://" + p.MetricsAddr(), platform: p}
}

func example(t tb, name string) []byte {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", name))
	require.NoError(t, err)
	return b
}

// follow returns the event types seen until the assessment ends.
func follow(t *testing.T, c *client.Client, id string) (statuses []string, completed map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := c.Events(ctx, id, 0, func(e client.Event) error {
		var m map[string]any
		if err := json.Unmarshal(e.Data, &m); err != nil {
			return err
		}
		if e.Type == "completed" {
			completed = m
		} else {
			s, _ := m["status"].(string)
			statuses = append(statuses, s)
		}
		return nil
	})
	require.NoError(t, err)
	return statuses, completed
}

func TestExampleAssessmentRunsEndToEnd(t *testing.T) {
	sys := startSystem(t, compose.AllRoles(), time.Minute)
	ctx := context.Background()

	for _, name := range []string{"chatbot-70b-hipaa-us.yaml", "finetune-gdpr-eu.yaml", "startup-rag.yaml"} {
		t.Run(name, func(t *testing.T) {
			acc, err := sys.client.Submit(ctx, example(t, name), "application/yaml")
			require.NoError(t, err)
			statuses, completed := follow(t, sys.client, acc.ID)

			require.Equal(t, "completed", completed["status"], "completed event: %v", completed)
			families := 0
			for _, s := range statuses {
				if s == "family_completed" {
					families++
				}
			}
			require.Equal(t, len(assessment.Families()), families, "one progress event per family: %v", statuses)

			rep, err := sys.client.Report(ctx, acc.ID)
			require.NoError(t, err)
			require.Equal(t, acc.ID, rep.AssessmentID)
			require.Equal(t, "acme", rep.TenantID)
			require.Equal(t, "completed", rep.Status)
			require.Len(t, rep.CatalogVersions, 1, "the report records the catalogue version")
			require.Len(t, rep.Families, len(assessment.Families()))
			for _, f := range rep.Families {
				require.Equal(t, "ok", f.Status, "family %s", f.Family)
				for _, m := range f.Metrics {
					require.NotEmpty(t, m.Formula, "%s.%s has no formula", f.Family, m.Name)
					require.NotEmpty(t, m.Source, "%s.%s has no source", f.Family, m.Name)
				}
			}

			got, err := sys.client.Get(ctx, acc.ID)
			require.NoError(t, err)
			require.Equal(t, api.AssessmentStatusCompleted, got.Status)

			// The completed event carries the summary, and its link serves
			// the ranked recommendations.
			links, _ := completed["links"].(map[string]any)
			require.Equal(t, "/v1/assessments/"+acc.ID+"/recommendations", links["recommendations"], "completed event: %v", completed)
			require.NotEmpty(t, completed["top_recommendations"])
			if name == "chatbot-70b-hipaa-us.yaml" {
				require.NotNil(t, completed["monthly_cost"], "the priced plan's range is in the event")
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, sys.base+links["recommendations"].(string), nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+sys.sign("acme"))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var recs struct {
				Items []map[string]any `json:"items"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&recs))
			require.NotEmpty(t, recs.Items)
		})
	}

	// The bus reports what it handled to the metrics every service serves
	// (the synthesizer acks its last message just after announcing completion).
	want := []string{
		`inframind_messages_handled_total{consumer="family-cloud",outcome="ack"} 3`,
		`inframind_messages_handled_total{consumer="synthesizer",outcome="ack"} 18`,
		`inframind_messages_published_total{type="dev.inframind.assessment.completed.v1"} 3`,
		`inframind_assessments_finished_total{status="completed"} 3`,
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(sys.metrics + "/metrics")
		require.NoError(c, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(c, err)
		for _, w := range want {
			assert.Contains(c, string(body), w)
		}
	}, 10*time.Second, 100*time.Millisecond)
}

func TestAnotherTenantCannotSeeTheAssessment(t *testing.T) {
	sys := startSystem(t, compose.AllRoles(), time.Minute)
	ctx := context.Background()
	acc, err := sys.client.Submit(ctx, example(t, "startup-rag.yaml"), "application/yaml")
	require.NoError(t, err)
	follow(t, sys.client, acc.ID)

	other, err := client.New(sys.base, sys.sign("globex"), nil)
	require.NoError(t, err)
	_, err = other.Get(ctx, acc.ID)
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, 404, p.Status)
	_, err = other.Report(ctx, acc.ID)
	require.ErrorAs(t, err, &p)
	require.Equal(t, 404, p.Status)
}

func TestMissingFamilyEndsPartialAfterDeadline(t *testing.T) {
	// No research worker runs: the assessment must not wait forever.
	var families []assessment.Family
	for _, f := range assessment.Families() {
		if f != assessment.FamilyResearch {
			families = append(families, f)
		}
	}
	sys := startSystem(t, compose.Roles{Gateway: true, Synthesizer: true, Families: families}, 2*time.Second)
	ctx := context.Background()
	acc, err := sys.client.Submit(ctx, example(t, "startup-rag.yaml"), "application/yaml")
	require.NoError(t, err)
	_, completed := follow(t, sys.client, acc.ID)
	require.Equal(t, "partial", completed["status"])
	require.Equal(t, []any{"research"}, completed["missing_families"])

	rep, err := sys.client.Report(ctx, acc.ID)
	require.NoError(t, err)
	require.Equal(t, "partial", rep.Status)
	require.Equal(t, []string{"research"}, rep.MissingFamilies)
}
