package gateway

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/console/consoletest"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/identity/identitytest"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/llm/budget/budgettest"
	"github.com/infra-mind/infra-mind/pkg/ratelimit/ratelimittest"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// identityHarness is the gateway with its whole middleware chain
// (authentication, the route x role matrix, rate limits, the audit
// recorder, log redaction) over in-process fakes: the identity service on
// the fakes of its ports (pkg/identity/identitytest), the assessment,
// report, webhook and audit use cases on pkg/app/apptest's, the audit
// recorder writing to a fake log, the rate limits, the console's sign-in
// challenges and the language model ledger on their fakes (fakePorts): no
// server at all. The contract suites of the fake packages keep the
// fakes true to the store and Redis; the OWASP suite and the end-to-end tests still run on real servers.
// The per-address sign-in limit is raised so that the tests' own sign-ins
// from 127.0.0.1 never meet it (limits_test.go covers that limit).
type identityHarness struct {
	*env
	// ports are the identity service's fakes; fakes the gateway's own;
	// auditLog the fake audit log (fakes.audit, indexed by request).
	ports    identity.Ports
	fakes    *fakePorts
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

	fakes := newFakePorts(t)
	auditLog := &auditSink{AuditLog: fakes.audit, byReq: map[string][]audit.Record{}}
	d := fakes.deps
	d.Store.Audit = auditLog
	d.Verifier, d.Logger, d.Metrics, d.Registry = auth.NewRingVerifier(ring, testIssuer, testAudience), logs.log, metrics, reg
	d.Identity, d.Keys = ident, ring
	s, err := New(cfg, d)
	require.NoError(t, err)

	hs := httptest.NewServer(logs.record(s.Handler()))
	t.Cleanup(hs.Close)
	t.Cleanup(s.closeStreams)
	e := &env{t: t, srv: s, http: hs, signer: signer, key: key, ident: ident, ring: ring, logs: logs}
	return &identityHarness{env: e, ports: ports, fakes: fakes, auditLog: auditLog}
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

// fakePorts are the gateway's ports on in-process fakes: pkg/app/apptest's,
// the console's sign-in challenges (consoletest), the rate limits and caps
// (ratelimittest) and the language model ledger (budgettest), with no
// budgets.
type fakePorts struct {
	deps    Deps
	repo    *apptest.Assessments
	queue   *apptest.Queue
	reports *apptest.Reports
	recs    *apptest.Recommendations
	hooks   *apptest.Webhooks
	audit   *apptest.AuditLog
	events  *apptest.EventLog
	cache   *apptest.ReportCache
	broker  *apptest.Broker
}

func newFakePorts(t *testing.T) *fakePorts {
	t.Helper()
	f := &fakePorts{repo: apptest.NewAssessments(), queue: apptest.NewQueue(), reports: apptest.NewReports(),
		recs: apptest.NewRecommendations(), hooks: apptest.NewWebhooks(), audit: apptest.NewAuditLog(),
		events: apptest.NewEventLog(), cache: apptest.NewReportCache(), broker: apptest.NewBroker()}
	narratives := apptest.NewNarratives()
	f.deps = Deps{Assessments: f.repo, Queue: f.queue, Events: f.events,
		ErasureStore: &apptest.ErasureStore{Assessments: f.repo, Reports: f.reports, Recommendations: f.recs,
			Narratives: narratives, Webhooks: f.hooks},
		ErasureBroker: f.broker,
		Store:         Stores{Reports: f.reports, Recommendations: f.recs, Narratives: narratives, Webhooks: f.hooks, Audit: f.audit},
		ReportCache:   f.cache,
		Limiter:       ratelimittest.NewLimiter(nil), Slots: ratelimittest.NewSlots(nil),
	}
	f.deps.Challenges = consoletest.NewChallenges()
	f.deps.LLMBudget = budgettest.NewLedger(budget.Limits{}, nil, nil)
	withTestCatalogue(t, &f.deps)
	return f
}

// newEnvOnFakes is newEnv on the fake harness: the whole middleware chain
// over in-process fakes, for the tests that only talk HTTP to the gateway.
func newEnvOnFakes(t *testing.T, cfg Config) *env {
	t.Helper()
	return newFakeIdentityEnv(t, cfg).env
}
