package gateway

import (
	"context"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/identity/identitytest"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// identityHarness is the gateway with its whole middleware chain
// (authentication, the route x role matrix, rate limits, the audit
// recorder, log redaction) over in-process fakes: the identity service on
// the fakes of its ports (pkg/identity/identitytest), the assessment,
// report, webhook and audit use cases on pkg/app/apptest's, the audit
// recorder writing to a fake log. Only the rate limits keep a Redis-protocol
// server, the embedded one (miniredis), which starts in milliseconds. The
// contract suites of both fake packages keep the fakes true to the store and
// Redis; the OWASP suite and the end-to-end tests still run on real servers.
// The per-address sign-in limit is raised so that the tests' own sign-ins
// from 127.0.0.1 never meet it (limits_test.go covers that limit).
type identityHarness struct {
	*env
	// ports are the identity service's fakes; auditLog the fake audit log.
	ports    identity.Ports
	auditLog *auditSink
}

// auditSink is the fake audit log the recorder writes to, which also finds
// a request's records by its id.
type auditSink struct {
	*apptest.AuditLog
	mu    sync.Mutex
	byReq map[string][]audit.Record
}

// Append stores rec in the fake log and under its request id.
func (a *auditSink) Append(ctx context.Context, rec audit.Record) error {
	if err := a.AuditLog.Append(ctx, rec); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byReq[rec.RequestID] = append(a.byReq[rec.RequestID], rec)
	return nil
}

func (a *auditSink) of(reqID string) []audit.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.byReq[reqID])
}

func newIdentityHarness(t *testing.T) *identityHarness {
	t.Helper()
	return newFakeIdentityEnv(t, Config{Limits: Limits{AuthRequests: 10_000}})
}

// newFakeIdentityEnv builds the harness with cfg (New's defaults applied).
func newFakeIdentityEnv(t *testing.T, cfg Config) *identityHarness {
	t.Helper()
	logs := newLogSink(t) // first, so it is checked after the server closed
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mr := miniredis.RunT(t)
	ch, err := cache.Connect(ctx, "redis://"+mr.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })

	key, err := auth.GenerateKey()
	require.NoError(t, err)
	ring, err := auth.NewKeyRing(key)
	require.NoError(t, err)
	signer := ring.Signer(testIssuer, testAudience)
	ports := identitytest.Ports(nil)
	// Light argon2id parameters: the hashing's cost is not what these tests
	// are about (the OWASP suite runs with the production parameters).
	ident, err := identity.New(ports, signer, identity.Options{Logger: logs.log, TOTPKeys: testTOTPKeys(t),
		PasswordParams: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	require.NoError(t, err)
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)

	// As New builds the server, with fakes where it takes the store and the bus.
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.AssessmentTimeout <= 0 {
		cfg.AssessmentTimeout = DefaultAssessmentTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.CompletedWait <= 0 {
		cfg.CompletedWait = DefaultCompletedWait
	}
	if cfg.ReportCacheTTL <= 0 {
		cfg.ReportCacheTTL = DefaultReportCacheTTL
	}
	repo, reportStore, recs, hookStore := apptest.NewAssessments(), apptest.NewReports(), apptest.NewRecommendations(), apptest.NewWebhooks()
	reportCache := apptest.NewReportCache()
	d := Deps{Cache: ch, Verifier: auth.NewRingVerifier(ring, testIssuer, testAudience), Logger: logs.log,
		Metrics: metrics, Registry: reg, Identity: ident, Keys: ring,
		Assessments: repo, Queue: apptest.NewQueue(),
		ErasureStore: &apptest.ErasureStore{Assessments: repo, Reports: reportStore, Recommendations: recs,
			Narratives: apptest.NewNarratives(), Webhooks: hookStore},
		ErasureBroker: apptest.NewBroker()}
	cat, err := catalog.Load()
	require.NoError(t, err)
	d.Catalog = cat
	est, err := newEstimator(cat)
	require.NoError(t, err)
	svc, err := app.New(d.Assessments, d.Queue, app.Options{Timeout: cfg.AssessmentTimeout})
	require.NoError(t, err)
	reports, err := app.NewReports(app.ReportDeps{Assessments: d.Assessments, Reports: reportStore,
		Recommendations: recs, Cache: reportCache, Logger: logs.log})
	require.NoError(t, err)
	hooks, err := app.NewWebhooks(app.WebhookDeps{Store: hookStore, Policy: adapters.WebhookURLPolicy{Policy: cfg.WebhookPolicy},
		EventTypes: webhook.EventTypes(), NewSecret: webhook.NewSecret})
	require.NoError(t, err)
	auditLog := &auditSink{AuditLog: apptest.NewAuditLog(), byReq: map[string][]audit.Record{}}
	auditUC, err := app.NewAudit(auditLog)
	require.NoError(t, err)
	progress, err := app.NewProgress(d.Assessments, apptest.NewEventLog(), app.ProgressOptions{CompletedWait: cfg.CompletedWait})
	require.NoError(t, err)
	params, err := operationParams(openAPIDocument)
	require.NoError(t, err)
	erasure, err := newErasure(&d, reportCache, logs.log)
	require.NoError(t, err)
	prot, err := newProtection(cfg.Limits, ch, reg)
	require.NoError(t, err)
	trusted, err := parseTrustedProxies(cfg.TrustedProxies)
	require.NoError(t, err)
	llmBudget, err := budget.New(ch.Client(), budget.Limits{}, nil, budget.Options{Logger: logs.log})
	require.NoError(t, err)
	s := &Server{cfg: cfg, deps: d, log: logs.log, est: est, app: svc, reports: reports, hooks: hooks, auditLog: auditUC,
		progress: progress, params: params, prot: prot, trusted: trusted, erasure: erasure, llmBudget: llmBudget}
	s.priceTables, err = catalog.PriceTables()
	require.NoError(t, err)
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	s.audit, err = audit.NewRecorder(auditLog, audit.Options{Logger: logs.log, Registry: reg})
	require.NoError(t, err)
	s.echo = s.routes()
	s.console, s.consolePaths, err = s.consoleRoutes()
	require.NoError(t, err)
	requireBuiltLikeNew(t, s)

	hs := httptest.NewServer(logs.record(s.Handler()))
	t.Cleanup(hs.Close)
	t.Cleanup(s.closeStreams)
	e := &env{t: t, srv: s, http: hs, cache: ch, signer: signer, key: key, ident: ident, ring: ring, logs: logs}
	return &identityHarness{env: e, ports: ports, auditLog: auditLog}
}

// requireBuiltLikeNew fails when a field New sets is left unset here: a
// field New gains must be given to this harness too, or its tests would
// run a server production never builds.
func requireBuiltLikeNew(t *testing.T, s *Server) {
	t.Helper()
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch name {
		case "srv", "ln", "trusted": // the listener's (Serve), and empty without trusted proxies
			continue
		case "chat": // nil without a language model provider, as New leaves it
			continue
		}
		switch f.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Interface, reflect.Func, reflect.Slice:
			require.Falsef(t, f.IsNil(), "Server.%s is not set by the fake harness; build it as New does", name)
		}
	}
}

// auditOf returns the audit records of the request with id reqID, waiting
// for the recorder to write them.
func (h *identityHarness) auditOf(t *testing.T, reqID string) []audit.Record {
	t.Helper()
	var out []audit.Record
	require.Eventually(t, func() bool {
		out = h.auditLog.of(reqID)
		return len(out) > 0
	}, 15*time.Second, 10*time.Millisecond, "audit record of request %s", reqID)
	return out
}
