package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// testTOTPKeys is a new TOTP key set for one gateway under test: its users'
// TOTP secrets are sealed at rest, as in production.
func testTOTPKeys(t *testing.T) *identity.TOTPKeyRing {
	t.Helper()
	line, err := identity.NewTOTPKeyLine("test1")
	require.NoError(t, err)
	k, err := identity.ParseTOTPKeys([]byte(line))
	require.NoError(t, err)
	return identity.NewTOTPKeyRing(k)
}

// TestOWASPTOTPSecretsEncryptedAtRest: an authenticator enrolled through the
// API leaves no TOTP secret readable in the store (OWASP API2:2023, broken
// authentication: a copy of the user collection must not yield second
// factors). The pending and the confirmed secret are stored sealed, naming
// their key, and sign-in with a code still works.
func TestOWASPTOTPSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	const tenant, ct = "atrest", echo.MIMEApplicationJSON
	pw := owaspPassword()
	_, owner, _, err := e.ident.CreateTenant(ctx, tenant, "At rest", identity.NewUser{Email: "owner@atrest.test", Password: pw})
	require.NoError(t, err)
	bearer := owaspLogin(t, e, tenant, owner.Email, pw).AccessToken
	var probes int

	enrol := owaspDecode[map[string]string](t, owaspSend(t, e, http.MethodPost, "/v1/me/mfa/totp", bearer, ct,
		owaspJSON(t, map[string]string{"password": pw}), nil), http.StatusCreated)
	secret := enrol["secret"]
	require.NotEmpty(t, secret)
	stored, err := e.store.Users.Get(ctx, tenant, owner.ID)
	require.NoError(t, err)
	probes++
	require.True(t, strings.HasPrefix(stored.TOTPPending, "enc:v1:test1:"), "the pending secret is sealed: %q", stored.TOTPPending)
	require.NotContains(t, stored.TOTPPending, secret)

	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	r := owaspSend(t, e, http.MethodPost, "/v1/me/mfa/totp/confirm", bearer, ct, `{"code":"`+code+`"}`, nil)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	stored, err = e.store.Users.Get(ctx, tenant, owner.ID)
	require.NoError(t, err)
	probes++
	require.True(t, stored.MFAEnabled)
	require.True(t, strings.HasPrefix(stored.TOTPSecret, "enc:v1:test1:"), "the confirmed secret is sealed: %q", stored.TOTPSecret)
	require.NotContains(t, stored.TOTPSecret, secret)
	require.Empty(t, stored.TOTPPending)

	// The sealed secret still checks codes: a sign-in with the next code works.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	probes++
	r = owaspTryLogin(t, e, tenant, owner.Email, pw, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status, "a code is required now")
	r = owaspSend(t, e, http.MethodPost, "/v1/auth/login", "", ct,
		owaspJSON(t, map[string]string{"tenant": tenant, "email": owner.Email, "password": pw, "totp_code": next}), nil)
	probes++
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	t.Logf("OWASP API2 (TOTP secrets at rest): %d probes: the pending and the confirmed secret are stored sealed, and a code signs in", probes)
}

// TestOWASPAPI4BurstAtTheWindowEdge: a burst timed to straddle a rate-limit
// window's edge does not pass twice the limit (OWASP API4:2023). A full
// burst lands just before a multiple of the window (where a fixed window
// would start afresh) and a second one just after it: the second is refused
// whole, because the window slides from each admitted request.
func TestOWASPAPI4BurstAtTheWindowEdge(t *testing.T) {
	t.Parallel()
	const limit, window = 5, 4 * time.Second
	e := newEnv(t, Config{Limits: Limits{TenantRequests: limit, UserRequests: 1000, RateWindow: window}})
	tok := "Bearer " + e.token("edge")
	var probes, admitted int
	burst := func() (ok, refused int) {
		for range limit {
			probes++
			switch st := e.call(t, http.MethodGet, "/v1/assessments", tok).StatusCode; st {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("status %d", st)
			}
		}
		return ok, refused
	}
	// 500 ms before the next multiple of the window, as an attacker would.
	edge := time.Now().Truncate(window).Add(window)
	if time.Until(edge) < 600*time.Millisecond {
		edge = edge.Add(window)
	}
	time.Sleep(time.Until(edge) - 500*time.Millisecond)
	ok, _ := burst()
	require.Equal(t, limit, ok, "the first burst fits the limit")
	admitted += ok
	time.Sleep(time.Until(edge) + 50*time.Millisecond)
	ok, refused := burst()
	admitted += ok
	require.Zero(t, ok, "a burst just after the edge is refused: the window slides")
	require.Equal(t, limit, refused)
	t.Logf("OWASP API4 (burst at the window edge): %d probes: %d admitted in bursts either side of a window edge, limit %d",
		probes, admitted, limit)
}

// TestOWASPAPI4EventStreamCap: one credential cannot hold open event streams
// without bound (OWASP API4:2023): across two replicas exactly the cap is
// served, the rest are refused with 429 and Retry-After (repeating one
// X-Request-Id does not reuse a slot), and another credential is served.
func TestOWASPAPI4EventStreamCap(t *testing.T) {
	t.Parallel()
	stack := sharedStack(t)
	const perCredential = 3
	rs := owaspReplicas(t, Config{Limits: Limits{MaxStreamsPerCredential: perCredential, MaxStreamsPerTenant: 50}},
		stack.NATSURL, stack.MongoURI, stack.RedisURL, 2)
	id := rs[0].create(t, "streams", "followed")
	path := "/v1/assessments/" + id + "/events"
	sameID := map[string]string{"X-Request-Id": "same-id"}
	var probes, served, refused int
	for i := range perCredential + 4 {
		probes++
		resp := rs[i%2].doAs(t, http.MethodGet, path, "streams", "mallory", "", sameID)
		t.Cleanup(func() { resp.Body.Close() })
		switch resp.StatusCode {
		case http.StatusOK:
			served++
		case http.StatusTooManyRequests:
			refused++
			require.NotEmpty(t, resp.Header.Get("Retry-After"))
			require.Equal(t, ProblemTooManyStreams, decodeBody[Problem](t, resp).Type)
		default:
			t.Fatalf("stream %d: status %d", i, resp.StatusCode)
		}
	}
	require.Equal(t, perCredential, served)
	require.Equal(t, 4, refused)
	probes++
	other := rs[1].doAs(t, http.MethodGet, path, "streams", "alice", "", nil)
	t.Cleanup(func() { other.Body.Close() })
	require.Equal(t, http.StatusOK, other.StatusCode, "another credential has its own cap")
	t.Logf("OWASP API4 (event stream cap): %d probes on two replicas: %d streams served, %d refused, cap %d per credential",
		probes, served+1, refused, perCredential)
}

// TestOWASPAuditBurstNotLost: a burst of concurrent requests while the
// audit store times out loses no record (OWASP API9:2023 asks for a complete
// inventory of access, and repudiation needs every record): 120 requests
// from 12 clients at once while the first 40 inserts fail, and the tenant's
// audit log holds 120 records.
func TestOWASPAuditBurstNotLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Limits: Limits{TenantRequests: 10000, UserRequests: 10000}})
	rec, err := audit.NewRecorder(&flakyAudit{next: e.store.Audit, fail: 40},
		audit.Options{RetryInitial: time.Millisecond, RetryCap: 20 * time.Millisecond})
	require.NoError(t, err)
	e.srv.audit = rec
	tok := "Bearer " + e.token("burst")
	const clients, each = 12, 10
	var wg sync.WaitGroup
	var answered atomic.Int64
	for range clients {
		wg.Go(func() {
			for range each {
				if e.call(t, http.MethodGet, "/v1/assessments/missing", tok).StatusCode == http.StatusNotFound {
					answered.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(clients*each), answered.Load())
	require.NoError(t, rec.Close(t.Context()))
	ids, total := map[string]bool{}, 0
	for q := (store.AuditQuery{Limit: 100}); ; {
		page, err := e.store.Audit.List(context.Background(), "burst", q)
		require.NoError(t, err)
		total += len(page.Items)
		for _, r := range page.Items {
			ids[r.RequestID] = true
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	require.Equal(t, clients*each, len(ids), "every request of the burst is in the audit log")
	require.Equal(t, clients*each, total, "each once")
	t.Logf("OWASP API9 (audit under a burst): %d probes from %d clients at once while 40 inserts failed: %d records stored",
		clients*each, clients, len(ids))
}

// TestOWASPWebhookFloodDoesNotDelayOtherTenants: a tenant that registers
// endpoints which never answer cannot hold up another tenant's deliveries
// (OWASP API4:2023, a shared resource exhausted by one tenant): with the
// flooding tenant's 20 endpoints hanging on every request, another tenant's
// delivery is recorded, read through the API, while all of them still hang.
func TestOWASPWebhookFloodDoesNotDelayOtherTenants(t *testing.T) {
	t.Parallel()
	policy := webhook.Policy{AllowPrivate: true}
	e := newEnv(t, Config{WebhookPolicy: policy})
	d, err := webhook.New(e.bus, e.store.Webhooks, e.logs.log, webhook.Config{
		Policy: policy, Timeout: 2 * time.Minute, MaxAttempts: 2, BackOff: []time.Duration{20 * time.Millisecond},
	})
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	var hanging, answered atomic.Int64
	hang := func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-release:
			answered.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	}
	var servers []*httptest.Server
	t.Cleanup(func() {
		open()
		stop()
		require.NoError(t, <-done)
		for _, s := range servers {
			s.Close()
		}
	})
	var probes int
	const ct = echo.MIMEApplicationJSON
	flooder := owaspDevToken(t, e, "flooder", "owner")
	for range app.MaxWebhooksPerTenant {
		srv := httptest.NewServer(http.HandlerFunc(hang))
		servers = append(servers, srv)
		probes++
		owaspDecode[api.WebhookCreated](t, owaspSend(t, e, http.MethodPost, "/v1/webhooks", flooder, ct,
			`{"url":"`+srv.URL+`/hook","event_types":["assessment.completed"]}`, nil), http.StatusCreated)
	}
	for range 3 {
		owaspPublishCompleted(t, e, "flooder")
	}
	require.Eventually(t, func() bool { return hanging.Load() >= webhook.DefaultTenantConcurrency }, 20*time.Second, 10*time.Millisecond,
		"the flooding tenant's posts hang")

	victim := owaspDevToken(t, e, "victim", "owner")
	healthy := newOWASPReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	probes++
	hook := owaspDecode[api.WebhookCreated](t, owaspSend(t, e, http.MethodPost, "/v1/webhooks", victim, ct,
		`{"url":"`+healthy.srv.URL+`/hook","event_types":["assessment.completed"]}`, nil), http.StatusCreated)
	owaspPublishCompleted(t, e, "victim")
	probes++
	got, _ := owaspSettled(t, e, victim, hook.ID)
	require.Equal(t, store.DeliverySucceeded, got.Status)
	require.Zero(t, answered.Load(), "delivered while every post of the flooding tenant still hung")
	require.Equal(t, int64(webhook.DefaultTenantConcurrency), hanging.Load(), "the flooding tenant holds only its own slots")
	t.Logf("OWASP API4 (webhook flood): %d probes: another tenant's delivery arrived while %d posts of a tenant with %d hanging endpoints still hung",
		probes, hanging.Load(), app.MaxWebhooksPerTenant)
}
