package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// auditRecords waits (a hang bound, not a speed check) until tenant's log
// holds at least n records, and returns them oldest first.
func auditRecords(t *testing.T, st *store.Store, tenant string, n int) []audit.Record {
	t.Helper()
	var recs []audit.Record
	require.Eventually(t, func() bool {
		page, err := st.Audit.List(context.Background(), tenant, store.AuditQuery{Limit: 100})
		require.NoError(t, err)
		recs = page.Items
		return len(recs) >= n
	}, 15*time.Second, 20*time.Millisecond, "audit records of %s", tenant)
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs
}

// byRequestID reads the records of one request straight from the
// collection, whatever their tenant (a failed authentication has none).
func byRequestID(t *testing.T, st *store.Store, reqID string) []audit.Record {
	t.Helper()
	var out []audit.Record
	require.Eventually(t, func() bool {
		cur, err := st.Database().Collection(store.CollAudit).Find(context.Background(), bson.D{{Key: "request_id", Value: reqID}})
		require.NoError(t, err)
		require.NoError(t, cur.All(context.Background(), &out))
		return len(out) > 0
	}, 15*time.Second, 20*time.Millisecond, "audit record of request %s", reqID)
	return out
}

func (e *env) tokenWithRoles(t *testing.T, tenant, subject string, roles ...string) string {
	t.Helper()
	tok, err := e.signer.Issue(subject, tenant, roles, time.Hour)
	require.NoError(t, err)
	return tok
}

// call sends a request with a raw Authorization header ("" for none).
func (e *env) call(t *testing.T, method, path, authz string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, nil)
	require.NoError(t, err)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	req.Header.Set("User-Agent", "audit-test/1")
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp
}

func TestAuditRecordsEveryAccess(t *testing.T) {
	t.Parallel()
	// The test client stands in for a proxy the gateway trusts, so its
	// X-Forwarded-For names the source address (TestTrustedProxies covers
	// an untrusted peer).
	e := newEnv(t, Config{TrustedProxies: []string{"127.0.0.1/32"}})
	acme, globex := "acme-audit", "globex-audit"
	globexID := e.create(t, globex, "Globex chatbot")
	acmeID := e.create(t, acme, "Acme chatbot")
	ownerTok := "Bearer " + e.token(acme)

	type step struct {
		name     string
		method   string
		path     string
		authz    string
		status   int
		action   string
		outcome  audit.Outcome
		resource string // resource id
	}
	steps := []step{
		{"read own assessment", http.MethodGet, "/v1/assessments/" + acmeID, ownerTok, 200, "assessment.read", audit.Success, acmeID},
		{"list", http.MethodGet, "/v1/assessments", ownerTok, 200, "assessment.list", audit.Success, ""},
		{"another tenant's id", http.MethodGet, "/v1/assessments/" + globexID, ownerTok, 404, "assessment.read", audit.NotFound, globexID},
		{"another tenant's report", http.MethodGet, "/v1/assessments/" + globexID + "/report", ownerTok, 404, "report.read", audit.NotFound, globexID},
		{"delete a missing webhook", http.MethodDelete, "/v1/webhooks/nope", ownerTok, 404, "webhook.delete", audit.NotFound, "nope"},
	}
	var reqIDs []string
	for _, s := range steps {
		resp := e.call(t, s.method, s.path, s.authz)
		require.Equalf(t, s.status, resp.StatusCode, s.name)
		reqIDs = append(reqIDs, resp.Header.Get("X-Request-Id"))
	}

	// The creation came first; then the steps, in order.
	recs := auditRecords(t, e.store, acme, 1+len(steps))
	require.Len(t, recs, 1+len(steps))
	create := recs[0]
	require.Equal(t, "assessment.create", create.Action)
	require.Equal(t, audit.Success, create.Outcome)
	require.Equal(t, http.StatusAccepted, create.Status)
	require.Equal(t, audit.Resource{Type: "assessment", ID: acmeID}, create.Resource)
	for i, s := range steps {
		r := recs[i+1]
		require.Equalf(t, s.action, r.Action, s.name)
		require.Equalf(t, s.outcome, r.Outcome, s.name)
		require.Equalf(t, s.status, r.Status, s.name)
		require.Equalf(t, s.resource, r.Resource.ID, s.name)
		require.Equalf(t, reqIDs[i], r.RequestID, s.name)
		require.Equalf(t, acme, r.Tenant, s.name)
		require.Equalf(t, "user-"+acme, r.Actor, s.name)
		require.Equalf(t, []string{"owner"}, r.Roles, s.name)
		require.Equalf(t, "198.51.100.9", r.SourceAddr, s.name)
		require.Equalf(t, "127.0.0.1", r.PeerAddr, s.name)
		require.Equalf(t, "audit-test/1", r.UserAgent, s.name)
		require.Falsef(t, r.Time.IsZero(), s.name)
	}

	// Globex sees its own creation only, never Acme's records.
	other := auditRecords(t, e.store, globex, 1)
	require.Len(t, other, 1)
	require.Equal(t, globexID, other[0].Resource.ID)
}

func TestAuditRecordsFailedAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	// A token signed by someone else, claiming a tenant and a subject.
	forger := newEnv(t, Config{})
	forged := "Bearer " + forger.tokenWithRoles(t, "acme-authfail", "admin@acme", "owner")

	tests := []struct {
		name  string
		authz string
	}{
		{"no token", ""},
		{"not a bearer token", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
		{"forged token", forged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.call(t, http.MethodGet, "/v1/assessments", tc.authz)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			recs := byRequestID(t, e.store, resp.Header.Get("X-Request-Id"))
			require.Len(t, recs, 1)
			r := recs[0]
			require.Equal(t, audit.ActionAuthFailed, r.Action)
			require.Equal(t, audit.Denied, r.Outcome)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Equal(t, audit.Anonymous, r.Actor, "an unverified subject is not recorded")
			require.Empty(t, r.Tenant, "an unverified tenant is not trusted")
			require.Equal(t, audit.Resource{Type: "route", ID: "GET /v1/assessments"}, r.Resource)
		})
	}
	page, err := e.store.Audit.List(t.Context(), "acme-authfail", store.AuditQuery{})
	require.NoError(t, err)
	require.Empty(t, page.Items, "a forged token writes nothing into the tenant's log")
}

func TestAuditReadAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	acme := "acme-auditread"
	id := e.create(t, acme, "Acme chatbot")
	auditRecords(t, e.store, acme, 1)

	tests := []struct {
		name   string
		roles  []string
		status int
	}{
		{"owner", []string{"owner"}, http.StatusOK},
		{"admin", []string{"analyst", "admin"}, http.StatusOK},
		{"analyst", []string{"analyst"}, http.StatusForbidden},
		{"viewer", []string{"viewer"}, http.StatusForbidden},
		{"no roles", nil, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := "Bearer " + e.tokenWithRoles(t, acme, "user-"+tc.name, tc.roles...)
			req, err := http.NewRequest(http.MethodGet, e.http.URL+"/v1/audit?action=assessment.create", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", tok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status != http.StatusOK {
				p := decodeBody[Problem](t, resp)
				require.Equal(t, problemBase+"forbidden", p.Type)
				recs := byRequestID(t, e.store, resp.Header.Get("X-Request-Id"))
				require.Equal(t, "audit.read", recs[0].Action)
				require.Equal(t, audit.Denied, recs[0].Outcome)
				return
			}
			body := decodeBody[api.AuditList](t, resp)
			require.Len(t, body.Items, 1)
			require.NotNil(t, body.Items[0].Resource.ID)
			require.Equal(t, id, *body.Items[0].Resource.ID)
			require.Equal(t, "assessment.create", body.Items[0].Action)
		})
	}

	// Another tenant's admin reads its own, empty, log.
	tok := "Bearer " + e.tokenWithRoles(t, "globex-auditread", "root", "admin")
	req, err := http.NewRequest(http.MethodGet, e.http.URL+"/v1/audit?action=assessment.create", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, decodeBody[api.AuditList](t, resp).Items)
}

func TestAuditQueryValidation(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t)
	tests := []struct {
		name, query, field string
	}{
		{"limit too big", "limit=101", "limit"},
		{"limit not a number", "limit=ten", "limit"},
		{"from not a time", "from=yesterday", "from"},
		{"to before from", "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
		{"foreign cursor", "cursor=abc", "cursor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.do(t, http.MethodGet, "/v1/audit?"+tc.query, "acme-auditq", "", nil, nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			p := decodeBody[Problem](t, resp)
			require.Len(t, p.Errors, 1)
			require.Equal(t, tc.field, p.Errors[0].Field)
		})
	}
}

func TestAuditShutdownDrainsTheQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Addr: "127.0.0.1:0"})
	require.NoError(t, e.srv.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx) }()

	tenant := "acme-drain"
	tok := "Bearer " + e.token(tenant)
	const n = 30
	for range n {
		req, err := http.NewRequest(http.MethodGet, "http://"+e.srv.Addr()+"/v1/assessments/missing", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	}
	cancel()
	require.NoError(t, <-served)

	// No waiting: Serve returned only after the queue was written.
	page, err := e.store.Audit.List(context.Background(), tenant, store.AuditQuery{Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Items, n)
	require.False(t, e.srv.audit.Record(audit.Record{}), "the recorder is closed after Serve")
}

func TestAuditRecordsUnknownRoutesGenerically(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	tests := []struct {
		name, method, path string
		status             int
		resource           string
	}{
		{"no such path", http.MethodGet, "/v1/nothing-here", http.StatusNotFound, "GET unmatched /v1/nothing-here"},
		{"no such method", http.MethodPut, "/v1/webhooks", http.StatusMethodNotAllowed, "PUT /v1/webhooks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.call(t, tc.method, tc.path, "Bearer "+e.token("acme-generic"))
			require.Equal(t, tc.status, resp.StatusCode)
			recs := byRequestID(t, e.store, resp.Header.Get("X-Request-Id"))
			require.Len(t, recs, 1)
			require.Equal(t, "request", recs[0].Action)
			require.Equal(t, audit.Resource{Type: "route", ID: tc.resource}, recs[0].Resource)
			require.Equal(t, audit.Anonymous, recs[0].Actor, "no route ran authentication")
		})
	}

	// Operations routes carry no tenant data and are not recorded.
	resp := e.call(t, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// One writer stores records in arrival order: once a later request's
	// record is stored, a record of /healthz would be too.
	later := e.call(t, http.MethodGet, "/v1/after-healthz", "")
	byRequestID(t, e.store, later.Header.Get("X-Request-Id"))
	n, err := e.store.Database().Collection(store.CollAudit).CountDocuments(context.Background(),
		bson.D{{Key: "request_id", Value: resp.Header.Get("X-Request-Id")}})
	require.NoError(t, err)
	require.Zero(t, n)
}

// flakyAudit fails its first fail inserts (as inserts timed out under a
// burst did) and can hold every insert until gate is closed.
type flakyAudit struct {
	next audit.Appender
	mu   sync.Mutex
	fail int
	gate chan struct{}
}

func (f *flakyAudit) Append(ctx context.Context, rec audit.Record) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	failing := f.fail > 0
	f.fail--
	f.mu.Unlock()
	if failing {
		return context.DeadlineExceeded
	}
	return f.next.Append(ctx, rec)
}

// TestAuditRecordsSurviveFailingInserts: with the audit store failing its
// first 25 inserts during a burst of 40 requests, every request's record is
// still stored, once.
func TestAuditRecordsSurviveFailingInserts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	rec, err := audit.NewRecorder(&flakyAudit{next: e.store.Audit, fail: 25},
		audit.Options{RetryInitial: time.Millisecond, RetryCap: 10 * time.Millisecond})
	require.NoError(t, err)
	e.srv.audit = rec
	tok := "Bearer " + e.token("acme-flaky")
	const n = 40
	for range n {
		require.Equal(t, http.StatusNotFound, e.call(t, http.MethodGet, "/v1/assessments/missing", tok).StatusCode)
	}
	require.NoError(t, rec.Close(t.Context()), "the drain stores every queued record")
	page, err := e.store.Audit.List(context.Background(), "acme-flaky", store.AuditQuery{Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Items, n, "no record lost")
}

// TestAuditQueueFullFailsClosed: when no record can be queued the request
// is refused with 503 before its handler runs, so nothing happens that the
// audit log does not hold; once the queue has room requests pass again.
func TestAuditQueueFullFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	gate := make(chan struct{})
	rec, err := audit.NewRecorder(&flakyAudit{next: e.store.Audit, gate: gate}, audit.Options{Buffer: 1})
	require.NoError(t, err)
	e.srv.audit = rec
	tok := "Bearer " + e.token("acme-full")

	require.Equal(t, http.StatusOK, e.call(t, http.MethodGet, "/v1/assessments", tok).StatusCode,
		"the first request's record takes the only place, held while its insert waits")
	resp := e.do(t, http.MethodPost, "/v1/assessments", "acme-full", "application/yaml",
		strings.NewReader(string(readExample(t, "startup-rag.yaml"))), nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	p := decodeBody[Problem](t, resp)
	require.Equal(t, ProblemUnavailable, p.Type)
	require.Contains(t, p.Detail, "audit log")
	list, err := e.store.Assessments.List(context.Background(), "acme-full", store.ListOptions{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list.Items, "the refused create did nothing")

	close(gate)
	require.Eventually(t, func() bool {
		return e.call(t, http.MethodGet, "/v1/assessments", tok).StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the queue has room again once the insert is stored")
	require.NoError(t, rec.Close(t.Context()))
}
