package gateway

// The OWASP API Security Top 10 (2023) suite, HTTP-level against gateways on
// the embedded servers (NATS, FerretDB, Redis). Each TestOWASPAPI<N> test
// logs its probe count as "OWASP API<N>: ...", so
//
//	go test ./gateway/ -run OWASP -v | grep 'OWASP API'
//
// collects them. Elsewhere: API2's token-level attacks (pkg/auth
// TestOWASPAPI2JWTAttacks), API3's mass assignment
// (TestOWASPAPI3MassAssignment) and API5's route x role matrix
// (TestOWASPAPI5RoleMatrix).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// owaspPublicURL is an https URL on a public address literal, so a webhook
// registers without DNS.
const owaspPublicURL = "https://93.184.215.14/hooks/owasp"

// owaspResult is one answer, read whole (an event stream is not read).
type owaspResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// problem decodes the answer as problem JSON.
func (r owaspResult) problem(t *testing.T) Problem {
	t.Helper()
	require.Equalf(t, contentTypeProblem, r.Header.Get("Content-Type"), "%d %s", r.Status, r.Body)
	var p Problem
	require.NoError(t, json.Unmarshal(r.Body, &p), string(r.Body))
	require.Equal(t, r.Status, p.Status)
	return p
}

// owaspSend sends one request to e with bearer as the Authorization token
// ("" sends none) and reads the answer. An event stream's body is left
// unread, so a stream that stays open cannot hang the probe.
func owaspSend(t *testing.T, e *env, method, path, bearer, contentType, body string, hdr map[string]string) owaspResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a hang bound
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.http.URL+path, rd)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := owaspResult{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return out
	}
	out.Body, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	return out
}

func owaspJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func owaspDecode[T any](t *testing.T, r owaspResult, wantStatus int) T {
	t.Helper()
	require.Equalf(t, wantStatus, r.Status, "%s", r.Body)
	var v T
	require.NoError(t, json.Unmarshal(r.Body, &v), string(r.Body))
	return v
}

// owaspLogin signs in over HTTP and returns the token response.
func owaspLogin(t *testing.T, e *env, tenant, email, password string) tokenResponse {
	t.Helper()
	r := owaspSend(t, e, http.MethodPost, "/v1/auth/login", "", echo.MIMEApplicationJSON,
		owaspJSON(t, map[string]string{"tenant": tenant, "email": email, "password": password}), nil)
	return owaspDecode[tokenResponse](t, r, http.StatusOK)
}

// owaspTryLogin signs in over HTTP and returns the raw answer.
func owaspTryLogin(t *testing.T, e *env, tenant, email, password string, hdr map[string]string) owaspResult {
	t.Helper()
	return owaspSend(t, e, http.MethodPost, "/v1/auth/login", "", echo.MIMEApplicationJSON,
		owaspJSON(t, map[string]string{"tenant": tenant, "email": email, "password": password}), hdr)
}

// owaspPassword is a fresh password of the policy's length.
func owaspPassword() string { return "pw-" + uuid.NewString() }

// owaspDevToken is a development token (no session) for a random subject,
// so it spends no other caller's user limit.
func owaspDevToken(t *testing.T, e *env, tenant, role string) string {
	t.Helper()
	tok, err := e.signer.Issue("dev-"+uuid.NewString()[:8], tenant, []string{role}, time.Hour)
	require.NoError(t, err)
	return tok
}

// owaspReplicas builds n gateways on one store database, one Redis and one
// signing key, as replicas behind a load balancer run: each has its own key
// ring loaded from the same key (as each process reads the same key file),
// its own identity service and its own HTTP server. newEnvAt cannot: it
// gives every gateway its own key and its own database.
func owaspReplicas(t *testing.T, cfg Config, natsURL, mongoURI, redisURL string, n int) []*env {
	t.Helper()
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	db := "gw_owasp_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	out := make([]*env, n)
	logs := newLogSink(t) // one log for the replicas: a credential one issued must not reach another's log
	for i := range out {
		out[i] = owaspReplica(t, cfg, natsURL, mongoURI, redisURL, db, key, i, logs)
	}
	return out
}

func owaspReplica(t *testing.T, cfg Config, natsURL, mongoURI, redisURL, db string, key ed25519.PrivateKey, i int, logs *logSink) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{URL: natsURL, Name: "gateway-owasp-" + strconv.Itoa(i), Logger: logs.log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	st, err := store.Connect(ctx, mongoURI, db)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	ch, err := cache.Connect(ctx, redisURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })

	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	logger := logs.log.With("replica", i)
	ring, err := auth.NewKeyRing(key)
	require.NoError(t, err)
	signer := ring.Signer(testIssuer, testAudience)
	ident, err := identity.New(realIdentityPorts(t, st, ch), signer, identity.Options{Logger: logger, TOTPKeys: testTOTPKeys(t)})
	require.NoError(t, err)
	deps := realDeps(t, b, st, ch)
	withTestCatalogue(t, &deps)
	deps.Verifier = auth.NewRingVerifier(ring, testIssuer, testAudience)
	deps.Logger, deps.Metrics, deps.Registry = logger, metrics, reg
	deps.Checks = []telemetry.Check{{Name: "nats", Fn: b.Ping}, {Name: "store", Fn: st.Ping}}
	deps.Identity, deps.Keys = ident, ring
	srv, err := New(cfg, deps)
	require.NoError(t, err)
	hs := httptest.NewServer(logs.record(srv.Handler()))
	t.Cleanup(hs.Close)
	t.Cleanup(srv.closeStreams)
	return &env{t: t, srv: srv, http: hs, bus: b, store: st, cache: ch, signer: signer, key: key, ident: ident, ring: ring, logs: logs}
}

// owaspWorld is one tenant with one of every kind of resource, created
// through the API by its signed-in owner.
type owaspWorld struct {
	tenant, ownerEmail, password string
	owner                        tokenResponse      // the owner, signed in
	analyst                      userView           // Password: generated, shown once
	key                          apiKeyView         // an owner API key; Key shown once
	base, version, scenario      string             // assessment ids
	webhook                      api.WebhookCreated // Secret shown once
	delivery                     string             // a delivery of webhook
	conversation                 string             // the owner's conversation about base (chat on only)
}

func owaspNewWorld(t *testing.T, e *env, tenant string) owaspWorld {
	t.Helper()
	ctx := context.Background()
	w := owaspWorld{tenant: tenant, ownerEmail: "owner@" + tenant + ".test", password: owaspPassword()}
	_, _, _, err := e.ident.CreateTenant(ctx, tenant, "Tenant "+tenant, identity.NewUser{Email: w.ownerEmail, Password: w.password})
	require.NoError(t, err)
	w.owner = owaspLogin(t, e, tenant, w.ownerEmail, w.password)
	bearer := w.owner.AccessToken
	const ct = echo.MIMEApplicationJSON

	w.analyst = owaspDecode[userView](t, owaspSend(t, e, http.MethodPost, "/v1/users", bearer, ct,
		`{"email":"analyst@`+tenant+`.test","role":"analyst"}`, nil), http.StatusCreated)
	require.NotEmpty(t, w.analyst.Password, "a generated password is shown once")
	w.key = owaspDecode[apiKeyView](t, owaspSend(t, e, http.MethodPost, "/v1/api-keys", bearer, ct,
		`{"name":"ci","role":"owner"}`, nil), http.StatusCreated)
	require.NotEmpty(t, w.key.Key)

	w.base = owaspCreate(t, e, bearer, "OWASP "+tenant, nil)
	w.version = owaspDecode[api.ChildCreated](t, owaspSend(t, e, http.MethodPost, "/v1/assessments/"+w.base+"/versions",
		bearer, "", "", nil), http.StatusAccepted).ID
	w.scenario = owaspDecode[api.ChildCreated](t, owaspSend(t, e, http.MethodPost, "/v1/assessments/"+w.base+"/scenarios",
		bearer, ct, `{"name":"double traffic","overrides":{"traffic_multiplier":2}}`, nil), http.StatusAccepted).ID

	w.webhook = owaspDecode[api.WebhookCreated](t, owaspSend(t, e, http.MethodPost, "/v1/webhooks", bearer, ct,
		`{"url":"`+owaspPublicURL+`","event_types":["assessment.completed"]}`, nil), http.StatusCreated)
	require.NotEmpty(t, w.webhook.Secret)
	w.delivery = store.DeliveryID(tenant, w.webhook.ID, "event-"+tenant)
	require.NoError(t, e.store.Webhooks.SaveDelivery(ctx, store.Delivery{
		ID: w.delivery, TenantID: tenant, WebhookID: w.webhook.ID, EventID: "event-" + tenant,
		EventType: webhook.EventAssessmentCompleted, Status: store.DeliverySucceeded,
		Attempts: []store.DeliveryAttempt{{Attempt: 1, StatusCode: http.StatusNoContent}},
	}))
	if e.srv.chat != nil {
		w.conversation = owaspDecode[api.Conversation](t, owaspSend(t, e, http.MethodPost, "/v1/assessments/"+w.base+"/conversations",
			bearer, ct, `{"title":"OWASP"}`, nil), http.StatusCreated).ID
	}
	return w
}

// owaspCreate submits the startup example as bearer and returns its id.
func owaspCreate(t *testing.T, e *env, bearer, name string, hdr map[string]string) string {
	t.Helper()
	doc := strings.Replace(string(readExample(t, "startup-rag.yaml")), "name: Help-centre Q&A for a small SaaS", "name: "+name, 1)
	return owaspDecode[api.AssessmentCreated](t, owaspSend(t, e, http.MethodPost, "/v1/assessments", bearer, "application/yaml", doc, hdr),
		http.StatusAccepted).ID
}

// ids names every identifier of the world another tenant must never see.
func (w owaspWorld) ids() map[string]string {
	ids := map[string]string{
		"tenant": w.tenant, "owner email": w.ownerEmail, "owner id": w.owner.User.ID, "session": w.owner.SessionID,
		"analyst id": w.analyst.ID, "analyst email": w.analyst.Email, "API key id": w.key.ID,
		"assessment": w.base, "version": w.version, "scenario": w.scenario,
		"webhook": w.webhook.ID, "delivery": w.delivery,
	}
	if w.conversation != "" {
		ids["conversation"] = w.conversation
	}
	return ids
}

// owaspAuditLog reads tenant's whole audit log from the store.
func owaspAuditLog(t *testing.T, st *store.Store, tenant string) []audit.Record {
	t.Helper()
	var out []audit.Record
	q := store.AuditQuery{Limit: maxPageSize}
	for {
		page, err := st.Audit.List(context.Background(), tenant, q)
		require.NoError(t, err)
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		q.Cursor = page.NextCursor
	}
}

// owaspBOLAProbe is one request naming another tenant's object, and its twin
// naming objects that never existed: the two answers must not differ.
type owaspBOLAProbe struct {
	path, twin string
	ct, body   string
	// own: the path names only the owner's (tenant A's) objects, so A
	// itself must get an answer that differs from the twin's (which proves
	// the probe names something real).
	own bool
}

// TestOWASPAPI1BrokenObjectLevelAuthorization checks OWASP API1:2023: tenant
// B's owner (so the role is never the reason), with a session and with an
// API key, names each of tenant A's objects on every route taking an id and
// gets the same 404 as for an object that never existed; B's lists hold
// none of A's ids; nothing of A changes.
func TestOWASPAPI1BrokenObjectLevelAuthorization(t *testing.T) {
	t.Parallel()
	e, _ := newChatEnv(t, Config{Limits: Limits{AuthRequests: 1000}})
	a := owaspNewWorld(t, e, "bola-a")
	b := owaspNewWorld(t, e, "bola-b")
	aIDs := a.ids()
	creds := []struct{ name, bearer string }{
		{"B's signed-in owner", b.owner.AccessToken},
		{"B's owner API key", b.key.Key},
	}
	var listProbes, idProbes, idemProbes int
	requireNoneOfA := func(t *testing.T, what string, body []byte) {
		t.Helper()
		for label, id := range aIDs {
			require.NotContainsf(t, string(body), id, "%s shows tenant A's %s", what, label)
		}
	}

	// Lists first: once B has probed A's ids, B's own audit log names them.
	t.Run("lists", func(t *testing.T) {
		// The audit log is written asynchronously: wait until both logs hold
		// their assessment's creation.
		for _, w := range []owaspWorld{a, b} {
			require.Eventually(t, func() bool {
				for _, r := range owaspAuditLog(t, e.store, w.tenant) {
					if r.Action == "assessment.create" && r.Resource.ID == w.base {
						return true
					}
				}
				return false
			}, 15*time.Second, 20*time.Millisecond, "audit log of %s", w.tenant)
		}
		lists := []struct {
			name string
			path func(w owaspWorld) string
			want func(w owaspWorld) string // an id the owner's own list shows
		}{
			{"assessments", func(owaspWorld) string { return "/v1/assessments?limit=100" }, func(w owaspWorld) string { return w.base }},
			{"versions", func(w owaspWorld) string { return "/v1/assessments/" + w.base + "/versions" }, func(w owaspWorld) string { return w.version }},
			{"scenarios", func(w owaspWorld) string { return "/v1/assessments/" + w.base + "/scenarios" }, func(w owaspWorld) string { return w.scenario }},
			{"webhooks", func(owaspWorld) string { return "/v1/webhooks" }, func(w owaspWorld) string { return w.webhook.ID }},
			{"deliveries", func(w owaspWorld) string { return "/v1/webhooks/" + w.webhook.ID + "/deliveries" }, func(w owaspWorld) string { return w.delivery }},
			{"users", func(owaspWorld) string { return "/v1/users" }, func(w owaspWorld) string { return w.analyst.ID }},
			{"api keys", func(owaspWorld) string { return "/v1/api-keys" }, func(w owaspWorld) string { return w.key.ID }},
			{"audit", func(owaspWorld) string { return "/v1/audit?limit=100" }, func(w owaspWorld) string { return w.base }},
			{"me", func(owaspWorld) string { return "/v1/me" }, func(w owaspWorld) string { return w.tenant }},
		}
		for _, l := range lists {
			// The control: A's own list shows the id searched for in B's.
			ra := owaspSend(t, e, http.MethodGet, l.path(a), a.owner.AccessToken, "", "", nil)
			require.Equal(t, http.StatusOK, ra.Status, "%s as A: %s", l.name, ra.Body)
			require.Contains(t, string(ra.Body), l.want(a), "%s: A's own list shows A's id", l.name)
			for _, c := range creds {
				rb := owaspSend(t, e, http.MethodGet, l.path(b), c.bearer, "", "", nil)
				listProbes++
				require.Equal(t, http.StatusOK, rb.Status, "%s as %s: %s", l.name, c.name, rb.Body)
				require.Contains(t, string(rb.Body), l.want(b), "%s as %s: B's list is not simply empty", l.name, c.name)
				requireNoneOfA(t, l.name+" as "+c.name, rb.Body)
			}
		}
	})

	t.Run("every route taking an id", func(t *testing.T) {
		rnd := func() string { return uuid.NewString() }
		// API key ids are 12 base32 characters.
		rndKey := func() string { return strings.ToLower(strings.ReplaceAll(uuid.NewString(), "-", "")[:12]) }
		assessmentIDs := []string{a.base, a.version, a.scenario}
		perAssessment := func(suffix, ct, body string) []owaspBOLAProbe {
			var out []owaspBOLAProbe
			for _, id := range assessmentIDs {
				out = append(out, owaspBOLAProbe{path: "/v1/assessments/" + id + suffix, twin: "/v1/assessments/" + rnd() + suffix,
					ct: ct, body: body, own: true})
			}
			return out
		}
		const ct = echo.MIMEApplicationJSON
		scenarioBody := `{"name":"probe","overrides":{"traffic_multiplier":3}}`
		specs := map[string][]owaspBOLAProbe{
			"GET /v1/assessments/:id":                 perAssessment("", "", ""),
			"GET /v1/assessments/:id/report":          perAssessment("/report", "", ""),
			"GET /v1/assessments/:id/events":          perAssessment("/events", "", ""),
			"GET /v1/assessments/:id/recommendations": perAssessment("/recommendations", "", ""),
			"POST /v1/assessments/:id/versions":       perAssessment("/versions", "", ""),
			"GET /v1/assessments/:id/versions":        perAssessment("/versions", "", ""),
			"GET /v1/assessments/:id/versions/diff":   perAssessment("/versions/diff?from=1&to=2", "", ""),
			"POST /v1/assessments/:id/scenarios":      perAssessment("/scenarios", ct, scenarioBody),
			"GET /v1/assessments/:id/scenarios":       perAssessment("/scenarios", "", ""),
			"GET /v1/assessments/:id/conversations":   perAssessment("/conversations", "", ""),
			"POST /v1/assessments/:id/conversations":  perAssessment("/conversations", ct, `{"title":"probe"}`),
			"GET /v1/assessments/:id/conversations/:cid": {
				{path: "/v1/assessments/" + a.base + "/conversations/" + a.conversation, twin: "/v1/assessments/" + rnd() + "/conversations/" + rnd(), own: true},
				// A's conversation under B's own assessment.
				{path: "/v1/assessments/" + b.base + "/conversations/" + a.conversation, twin: "/v1/assessments/" + b.base + "/conversations/" + rnd()},
			},
			"POST /v1/assessments/:id/conversations/:cid/messages": {
				{path: "/v1/assessments/" + a.base + "/conversations/" + a.conversation + "/messages",
					twin: "/v1/assessments/" + rnd() + "/conversations/" + rnd() + "/messages", ct: ct, body: `{"content":"show me"}`},
				{path: "/v1/assessments/" + b.base + "/conversations/" + a.conversation + "/messages",
					twin: "/v1/assessments/" + b.base + "/conversations/" + rnd() + "/messages", ct: ct, body: `{"content":"show me"}`},
			},
			"GET /v1/assessments/:id/scenarios/:sid": {
				{path: "/v1/assessments/" + a.base + "/scenarios/" + a.scenario, twin: "/v1/assessments/" + rnd() + "/scenarios/" + rnd(), own: true},
				// A's scenario under B's own base: the scenario id alone must not reach A's.
				{path: "/v1/assessments/" + b.base + "/scenarios/" + a.scenario, twin: "/v1/assessments/" + b.base + "/scenarios/" + rnd()},
				// B's scenario under A's base.
				{path: "/v1/assessments/" + a.base + "/scenarios/" + b.scenario, twin: "/v1/assessments/" + rnd() + "/scenarios/" + b.scenario},
			},
			// B erasing A's assessment: a 404 like a never-existed id, and A's stays.
			"DELETE /v1/assessments/:id":      perAssessment("", "", ""),
			"DELETE /v1/webhooks/:id":         {{path: "/v1/webhooks/" + a.webhook.ID, twin: "/v1/webhooks/" + rnd()}},
			"GET /v1/webhooks/:id/deliveries": {{path: "/v1/webhooks/" + a.webhook.ID + "/deliveries", twin: "/v1/webhooks/" + rnd() + "/deliveries", own: true}},
			"GET /v1/users/:id": {
				{path: "/v1/users/" + a.owner.User.ID, twin: "/v1/users/" + rnd(), own: true},
				{path: "/v1/users/" + a.analyst.ID, twin: "/v1/users/" + rnd(), own: true},
			},
			"PATCH /v1/users/:id": {
				{path: "/v1/users/" + a.analyst.ID, twin: "/v1/users/" + rnd(), ct: ct, body: `{"disabled":true}`},
				{path: "/v1/users/" + a.owner.User.ID, twin: "/v1/users/" + rnd(), ct: ct, body: `{"role":"viewer"}`},
			},
			"POST /v1/users/:id/revoke-sessions": {
				{path: "/v1/users/" + a.owner.User.ID + "/revoke-sessions", twin: "/v1/users/" + rnd() + "/revoke-sessions"},
				{path: "/v1/users/" + a.analyst.ID + "/revoke-sessions", twin: "/v1/users/" + rnd() + "/revoke-sessions"},
			},
			"POST /v1/users/:id/mfa/reset": {
				{path: "/v1/users/" + a.owner.User.ID + "/mfa/reset", twin: "/v1/users/" + rnd() + "/mfa/reset"},
				{path: "/v1/users/" + a.analyst.ID + "/mfa/reset", twin: "/v1/users/" + rnd() + "/mfa/reset"},
			},
			"POST /v1/users/:id/password": {
				{path: "/v1/users/" + a.owner.User.ID + "/password", twin: "/v1/users/" + rnd() + "/password"},
				{path: "/v1/users/" + a.analyst.ID + "/password", twin: "/v1/users/" + rnd() + "/password",
					ct: ct, body: `{"new_password":"chosen by tenant B"}`},
			},
			"DELETE /v1/api-keys/:id": {{path: "/v1/api-keys/" + a.key.ID, twin: "/v1/api-keys/" + rndKey()}},
		}
		routes := map[string]bool{}
		for _, r := range e.srv.echo.Routes() {
			name := r.Method + " " + r.Path
			routes[name] = true
			// Catalogue versions are the build's public price data, the same for every tenant: no object to isolate.
			if strings.Contains(r.Path, "/:") && !strings.HasPrefix(r.Path, "/v1/catalogue/versions/") {
				require.Containsf(t, specs, name, "%s takes an id but has no BOLA probe: add one to TestOWASPAPI1BrokenObjectLevelAuthorization", name)
			}
		}
		for name := range specs {
			require.Truef(t, routes[name], "%s has a BOLA probe but is not registered: remove the stale probe", name)
		}

		names := make([]string, 0, len(specs))
		for name := range specs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			method, _, _ := strings.Cut(name, " ")
			for _, p := range specs[name] {
				for _, c := range creds {
					got := owaspSend(t, e, method, p.path, c.bearer, p.ct, p.body, nil)
					twin := owaspSend(t, e, method, p.twin, c.bearer, p.ct, p.body, nil)
					idProbes++
					where := fmt.Sprintf("%s %s as %s", method, p.path, c.name)
					require.Equalf(t, http.StatusNotFound, got.Status, "%s: %s", where, got.Body)
					gp, tp := got.problem(t), twin.problem(t)
					require.Equal(t, ProblemNotFound, gp.Type, where)
					// Indistinguishable from an object that never existed.
					require.Equal(t, tp.Status, gp.Status, where)
					require.Equal(t, tp.Title, gp.Title, where)
					require.Equal(t, tp.Detail, gp.Detail, where)
					require.Equal(t, tp.Errors, gp.Errors, where)
					gp.Instance = "" // the path B sent, which names A's id
					requireNoneOfA(t, where, []byte(owaspJSON(t, gp)))
				}
				if p.own && method == http.MethodGet {
					// The control: the owner's answer is not the "never existed" one.
					mine := owaspSend(t, e, method, p.path, a.owner.AccessToken, "", "", nil)
					twin := owaspSend(t, e, method, p.twin, a.owner.AccessToken, "", "", nil)
					differs := mine.Status != twin.Status
					if !differs && mine.Status >= 400 {
						differs = mine.problem(t).Type != twin.problem(t).Type
					}
					require.Truef(t, differs, "%s as A answers like a missing object (%d %s): the probe names nothing real", name, mine.Status, mine.Body)
				}
			}
		}
	})

	t.Run("an idempotency key reused by another tenant", func(t *testing.T) {
		hdr := map[string]string{HeaderIdempotencyKey: "owasp-shared-key"}
		first := owaspCreate(t, e, a.owner.AccessToken, "idempotent A", hdr)
		for _, c := range creds {
			r := owaspSend(t, e, http.MethodPost, "/v1/assessments", c.bearer, "application/yaml",
				string(readExample(t, "startup-rag.yaml")), hdr)
			idemProbes++
			require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.Status, string(r.Body))
			require.NotContains(t, string(r.Body), first, "B's retry key must not land on A's assessment")
		}
	})

	t.Run("tenant A is untouched", func(t *testing.T) {
		bearer := a.owner.AccessToken // A's owner session survived B's revoke-sessions and reset probes
		versions := owaspDecode[api.VersionList](t, owaspSend(t, e, http.MethodGet, "/v1/assessments/"+a.base+"/versions", bearer, "", "", nil), http.StatusOK)
		require.Len(t, versions.Items, 2, "B's version probes created none")
		scenarios := owaspDecode[api.ScenarioList](t, owaspSend(t, e, http.MethodGet, "/v1/assessments/"+a.base+"/scenarios", bearer, "", "", nil), http.StatusOK)
		require.Len(t, scenarios.Items, 1, "B's scenario probes created none")
		for _, id := range []string{a.base, a.version, a.scenario} {
			r := owaspSend(t, e, http.MethodGet, "/v1/assessments/"+id, bearer, "", "", nil)
			require.Equal(t, http.StatusOK, r.Status, "B's DELETE erased A's assessment %s: %s", id, r.Body)
		}
		hooks := owaspSend(t, e, http.MethodGet, "/v1/webhooks", bearer, "", "", nil)
		require.Contains(t, string(hooks.Body), a.webhook.ID, "B's DELETE left A's webhook")
		analyst := owaspDecode[userView](t, owaspSend(t, e, http.MethodGet, "/v1/users/"+a.analyst.ID, bearer, "", "", nil), http.StatusOK)
		require.False(t, analyst.Disabled, "B's PATCH did not disable A's user")
		require.Equal(t, auth.RoleAnalyst, analyst.Role)
		owner := owaspDecode[userView](t, owaspSend(t, e, http.MethodGet, "/v1/users/"+a.owner.User.ID, bearer, "", "", nil), http.StatusOK)
		require.Equal(t, auth.RoleOwner, owner.Role, "B's PATCH did not demote A's owner")
		r := owaspSend(t, e, http.MethodGet, "/v1/assessments", a.key.Key, "", "", nil)
		require.Equal(t, http.StatusOK, r.Status, "B's DELETE left A's API key working: %s", r.Body)
		refreshed := owaspSend(t, e, http.MethodPost, "/v1/auth/refresh", "", echo.MIMEApplicationJSON,
			`{"refresh_token":"`+a.owner.RefreshToken+`"}`, nil)
		require.Equal(t, http.StatusOK, refreshed.Status, "B's revoke-sessions left A's refresh token working: %s", refreshed.Body)
		analystSession := owaspLogin(t, e, a.tenant, a.analyst.Email, a.analyst.Password)
		require.NotEmpty(t, analystSession.AccessToken, "A's analyst still signs in")
	})

	t.Run("B's probes stay in B's audit log", func(t *testing.T) {
		bSubjects := []string{b.owner.User.ID, identity.APIKeySubjectPrefix + b.key.ID}
		var bRecs []audit.Record
		require.Eventually(t, func() bool {
			bRecs = owaspAuditLog(t, e.store, b.tenant)
			n := 0
			for _, r := range bRecs {
				if r.Status == http.StatusNotFound {
					n++
				}
			}
			return n >= 2*idProbes // each probe and its twin
		}, 15*time.Second, 20*time.Millisecond)
		for _, r := range bRecs {
			raw := owaspJSON(t, r)
			for label, id := range aIDs {
				if !strings.Contains(raw, id) {
					continue
				}
				// B's own refused request naming A's id is B's business; nothing else is.
				require.Containsf(t, bSubjects, r.Actor, "B's audit log names A's %s in a record not of B's making: %s", label, raw)
				require.Equalf(t, http.StatusNotFound, r.Status, "B's audit log names A's %s outside a refused request: %s", label, raw)
				r.Resource = audit.Resource{}
				require.NotContainsf(t, owaspJSON(t, r), id, "A's %s appears beyond the resource B named", label)
			}
		}
		for _, r := range owaspAuditLog(t, e.store, a.tenant) {
			require.NotContainsf(t, bSubjects, r.Actor, "B's request landed in A's audit log: %s", owaspJSON(t, r))
		}
	})

	t.Logf("OWASP API1: %d probes: %d id probes (each against a never-existed twin) on every :id route as B's session and API key, "+
		"%d list probes free of A's ids, %d idempotency-key probes; A's objects untouched", listProbes+idProbes+idemProbes, idProbes, listProbes, idemProbes)
}

// owaspSignedToken signs claims with key under kid (none when kid is ""),
// adding extra header fields.
func owaspSignedToken(t *testing.T, method jwt.SigningMethod, key any, kid string, c auth.Claims, extra map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range extra {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// owaspReencode rewrites segment seg (0 header, 1 payload, 2 signature) of
// a compact JWT, keeping the others as they are.
func owaspReencode(t *testing.T, token string, seg int, edit func([]byte) []byte) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[seg])
	require.NoError(t, err)
	parts[seg] = base64.RawURLEncoding.EncodeToString(edit(raw))
	return strings.Join(parts, ".")
}

// owaspRequireUnauthorized checks a 401 problem with the RFC 6750 challenge that
// does not echo the credential presented.
func owaspRequireUnauthorized(t *testing.T, r owaspResult, credential, where string) Problem {
	t.Helper()
	require.Equalf(t, http.StatusUnauthorized, r.Status, "%s: %s", where, r.Body)
	p := r.problem(t)
	require.Containsf(t, []string{ProblemUnauthorized, ProblemRefreshReused}, p.Type, where)
	if p.Type == ProblemUnauthorized {
		require.Containsf(t, r.Header.Get("WWW-Authenticate"), `Bearer realm="infra-mind"`, where)
	}
	if credential != "" {
		require.NotContainsf(t, string(r.Body), credential, "%s: the refusal echoes the credential", where)
	}
	return p
}

// TestOWASPAPI2BrokenAuthentication checks OWASP API2:2023 over HTTP on two
// gateway replicas that share the store, Redis and the signing key: forged,
// stale and misdirected tokens are refused; logout, refresh-token reuse,
// "sign out everywhere", disabling a user, the sign-in lockout and API key
// revocation made on one replica hold on the other at once.
func TestOWASPAPI2BrokenAuthentication(t *testing.T) {
	t.Parallel()
	stack := sharedStack(t)
	rs := owaspReplicas(t, Config{Limits: Limits{AuthRequests: 1000}}, stack.NATSURL, stack.MongoURI, stack.RedisURL, 2)
	r1, r2 := rs[0], rs[1]
	ctx := context.Background()
	const tenant, other = "authn-a", "authn-b"
	pw := owaspPassword()
	ownerEmail := "owner@" + tenant + ".test"
	_, _, _, err := r1.ident.CreateTenant(ctx, tenant, "A", identity.NewUser{Email: ownerEmail, Password: pw})
	require.NoError(t, err)
	_, _, _, err = r1.ident.CreateTenant(ctx, other, "B", identity.NewUser{Email: "owner@" + other + ".test", Password: owaspPassword()})
	require.NoError(t, err)
	newUser := func(t *testing.T, name, role string) (string, string) {
		t.Helper()
		email := name + "@" + tenant + ".test"
		p := owaspPassword()
		_, _, err := r2.ident.CreateUser(ctx, tenant, identity.NewUser{Email: email, Role: role, Password: p})
		require.NoError(t, err)
		return email, p
	}
	owner := owaspLogin(t, r1, tenant, ownerEmail, pw)
	var probes int
	me := func(t *testing.T, e *env, bearer string) owaspResult {
		t.Helper()
		probes++
		return owaspSend(t, e, http.MethodGet, "/v1/me", bearer, "", "", nil)
	}
	refresh := func(t *testing.T, e *env, token string) owaspResult {
		t.Helper()
		probes++
		return owaspSend(t, e, http.MethodPost, "/v1/auth/refresh", "", echo.MIMEApplicationJSON, `{"refresh_token":"`+token+`"}`, nil)
	}

	t.Run("forged, stale and misdirected tokens", func(t *testing.T) {
		attacker, err := auth.GenerateKey()
		require.NoError(t, err)
		attackerPub := attacker.Public().(ed25519.PublicKey)
		kid := r1.ring.CurrentKeyID()
		claims := func() auth.Claims {
			now := time.Now()
			return auth.Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer: testIssuer, Audience: jwt.ClaimStrings{testAudience}, Subject: owner.User.ID, ID: uuid.NewString(),
					IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
				},
				Tenant: tenant, Roles: []string{auth.RoleOwner}, Session: owner.SessionID,
			}
		}
		with := func(edit func(c *auth.Claims)) auth.Claims {
			c := claims()
			edit(&c)
			return c
		}
		good := func(c auth.Claims) string { return owaspSignedToken(t, jwt.SigningMethodEdDSA, r1.key, kid, c, nil) }
		payload := func(edit func(m map[string]any)) string {
			return owaspReencode(t, owner.AccessToken, 1, func(b []byte) []byte {
				var m map[string]any
				require.NoError(t, json.Unmarshal(b, &m))
				edit(m)
				out, err := json.Marshal(m)
				require.NoError(t, err)
				return out
			})
		}
		tests := []struct {
			name  string
			token string
			// ok: a control row, accepted, so each attack row is refused for
			// its attack alone.
			ok bool
		}{
			{name: "control: the session's access token", token: owner.AccessToken, ok: true},
			{name: "control: hand-built claims signed with the ring's key", token: good(claims()), ok: true},
			{name: "alg none", token: owaspSignedToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims(), nil)},
			{name: "HS256 keyed with the public key", token: owaspSignedToken(t, jwt.SigningMethodHS256,
				[]byte(r1.key.Public().(ed25519.PublicKey)), kid, claims(), nil)},
			{name: "wrong issuer", token: good(with(func(c *auth.Claims) { c.Issuer = "https://evil.test" }))},
			{name: "wrong audience", token: good(with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"another-api"} }))},
			{name: "expired", token: good(with(func(c *auth.Claims) {
				past := time.Now().Add(-time.Hour)
				c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(past), jwt.NewNumericDate(past), jwt.NewNumericDate(past.Add(15*time.Minute))
			}))},
			{name: "nbf in the future", token: good(with(func(c *auth.Claims) {
				c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(10*time.Minute)), jwt.NewNumericDate(time.Now().Add(20*time.Minute))
			}))},
			{name: "no jti", token: good(with(func(c *auth.Claims) { c.ID = "" }))},
			{name: "no tenant", token: good(with(func(c *auth.Claims) { c.Tenant = "" }))},
			{name: "tampered payload: tenant changed", token: payload(func(m map[string]any) { m["tenant"] = other })},
			{name: "tampered payload: subject changed", token: payload(func(m map[string]any) { m["sub"] = uuid.NewString() })},
			{name: "tampered payload: expiry extended", token: payload(func(m map[string]any) { m["exp"] = time.Now().Add(24 * time.Hour).Unix() })},
			{name: "tampered signature", token: owaspReencode(t, owner.AccessToken, 2, func(b []byte) []byte { b[0] ^= 1; return b })},
			{name: "signature stripped", token: strings.Join(strings.Split(owner.AccessToken, ".")[:2], ".") + "."},
			{name: "unknown kid, signed by another key", token: owaspSignedToken(t, jwt.SigningMethodEdDSA, attacker, auth.KeyID(attackerPub), claims(), nil)},
			{name: "our kid, signed by another key", token: owaspSignedToken(t, jwt.SigningMethodEdDSA, attacker, kid, claims(), nil)},
			{name: "no kid, signed by another key", token: owaspSignedToken(t, jwt.SigningMethodEdDSA, attacker, "", claims(), nil)},
			{name: "embedded jwk header with the attacker's key", token: owaspSignedToken(t, jwt.SigningMethodEdDSA, attacker, "", claims(),
				map[string]any{"jwk": map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerPub)}})},
			{name: "jku header pointing elsewhere", token: owaspSignedToken(t, jwt.SigningMethodEdDSA, attacker, auth.KeyID(attackerPub), claims(),
				map[string]any{"jku": "https://evil.test/jwks.json"})},
			{name: "garbage", token: "not-a-token"},
			{name: "malformed API key", token: "imk_garbage"},
			{name: "API key with a wrong secret", token: "imk_abcdefghijkl_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		}
		for _, tc := range tests {
			for i, e := range rs {
				r := me(t, e, tc.token)
				where := fmt.Sprintf("%s on replica %d", tc.name, i+1)
				if tc.ok {
					require.Equalf(t, http.StatusOK, r.Status, "%s: %s", where, r.Body)
					continue
				}
				require.Equal(t, ProblemUnauthorized, owaspRequireUnauthorized(t, r, tc.token, where).Type, where)
			}
		}
		// Credentials in other places than a Bearer header are not read.
		for _, hdr := range []map[string]string{
			{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(ownerEmail+":"+pw))},
			{"Authorization": "Bearer"},
			{"Authorization": owner.AccessToken},
			{"Cookie": "access_token=" + owner.AccessToken},
			{"X-Api-Key": "imk_x"},
		} {
			r := owaspSend(t, r2, http.MethodGet, "/v1/me", "", "", "", hdr)
			probes++
			owaspRequireUnauthorized(t, r, owner.AccessToken, fmt.Sprintf("credential in %v", hdr))
		}
		r := owaspSend(t, r2, http.MethodGet, "/v1/me?access_token="+owner.AccessToken, "", "", "", nil)
		probes++
		owaspRequireUnauthorized(t, r, owner.AccessToken, "token in the query string")
	})

	t.Run("logout on one replica ends the token on the other", func(t *testing.T) {
		email, p := newUser(t, "leaver", auth.RoleAnalyst)
		s := owaspLogin(t, r1, tenant, email, p)
		require.Equal(t, http.StatusOK, me(t, r2, s.AccessToken).Status)
		probes++
		out := owaspSend(t, r1, http.MethodPost, "/v1/auth/logout", s.AccessToken, "", "", nil)
		require.Equal(t, http.StatusNoContent, out.Status, string(out.Body))
		owaspRequireUnauthorized(t, me(t, r2, s.AccessToken), s.AccessToken, "revoked jti on replica 2")
		owaspRequireUnauthorized(t, me(t, r1, s.AccessToken), s.AccessToken, "revoked jti on replica 1")
		owaspRequireUnauthorized(t, refresh(t, r2, s.RefreshToken), s.RefreshToken, "the logged-out session's refresh token")
	})

	t.Run("refresh token reuse revokes the session on every replica", func(t *testing.T) {
		email, p := newUser(t, "rotator", auth.RoleViewer)
		s0 := owaspLogin(t, r1, tenant, email, p)
		s1 := owaspDecode[tokenResponse](t, refresh(t, r1, s0.RefreshToken), http.StatusOK)
		require.Equal(t, s0.SessionID, s1.SessionID)
		require.Equal(t, http.StatusOK, me(t, r2, s1.AccessToken).Status)

		reused := refresh(t, r2, s0.RefreshToken)
		require.Equal(t, ProblemRefreshReused, owaspRequireUnauthorized(t, reused, s0.RefreshToken, "reused refresh token").Type)
		for i, e := range rs {
			owaspRequireUnauthorized(t, me(t, e, s1.AccessToken), s1.AccessToken, fmt.Sprintf("the reused session's newest access token on replica %d", i+1))
			owaspRequireUnauthorized(t, me(t, e, s0.AccessToken), s0.AccessToken, fmt.Sprintf("the reused session's first access token on replica %d", i+1))
		}
		owaspRequireUnauthorized(t, refresh(t, r1, s1.RefreshToken), s1.RefreshToken, "the reused session's newest refresh token")
	})

	t.Run("sign out everywhere and disabling hold on the other replica", func(t *testing.T) {
		email, p := newUser(t, "revoked", auth.RoleAnalyst)
		s := owaspLogin(t, r1, tenant, email, p)
		require.Equal(t, http.StatusOK, me(t, r1, s.AccessToken).Status)
		r := owaspSend(t, r2, http.MethodPost, "/v1/users/"+s.User.ID+"/revoke-sessions", owner.AccessToken, "", "", nil)
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		owaspRequireUnauthorized(t, me(t, r1, s.AccessToken), s.AccessToken, "a signed-out-everywhere user's access token")
		owaspRequireUnauthorized(t, refresh(t, r1, s.RefreshToken), s.RefreshToken, "a signed-out-everywhere user's refresh token")

		email, p = newUser(t, "disabled", auth.RoleAnalyst)
		s = owaspLogin(t, r2, tenant, email, p)
		r = owaspSend(t, r1, http.MethodPatch, "/v1/users/"+s.User.ID, owner.AccessToken, echo.MIMEApplicationJSON, `{"disabled":true}`, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		owaspRequireUnauthorized(t, me(t, r2, s.AccessToken), s.AccessToken, "a disabled user's access token")
		owaspRequireUnauthorized(t, refresh(t, r2, s.RefreshToken), s.RefreshToken, "a disabled user's refresh token")
		probes++
		owaspRequireUnauthorized(t, owaspTryLogin(t, r2, tenant, email, p, nil), p, "a disabled user's sign-in")
	})

	t.Run("the sign-in lockout counts across replicas", func(t *testing.T) {
		email, p := newUser(t, "target", auth.RoleViewer)
		for i := range identity.DefaultMaxFailures {
			probes++
			owaspRequireUnauthorized(t, owaspTryLogin(t, r1, tenant, email, "wrong-"+owaspPassword(), nil), p, fmt.Sprintf("failure %d", i+1))
		}
		// Locked on both replicas, even with the right password.
		for _, e := range []*env{r2, r1} {
			probes++
			requireTooMany(t, owaspHTTPResponse(owaspTryLogin(t, e, tenant, email, p, nil)), ProblemSignInLocked)
		}
		probes++
		require.Equal(t, http.StatusOK, owaspTryLogin(t, r2, tenant, ownerEmail, pw, nil).Status, "another account is not locked")
	})

	t.Run("an API key revoked on one replica is refused by the other", func(t *testing.T) {
		k := owaspDecode[apiKeyView](t, owaspSend(t, r1, http.MethodPost, "/v1/api-keys", owner.AccessToken, echo.MIMEApplicationJSON,
			`{"name":"deploy","role":"analyst"}`, nil), http.StatusCreated)
		probes++
		require.Equal(t, http.StatusOK, owaspSend(t, r2, http.MethodGet, "/v1/assessments", k.Key, "", "", nil).Status)
		r := owaspSend(t, r1, http.MethodDelete, "/v1/api-keys/"+k.ID, owner.AccessToken, "", "", nil)
		require.Equalf(t, http.StatusNoContent, r.Status, "the owner revokes key %s: %s", k.ID, r.Body)
		probes++
		owaspRequireUnauthorized(t, owaspSend(t, r2, http.MethodGet, "/v1/assessments", k.Key, "", "", nil), k.Key, "a revoked API key")

		expiring := owaspDecode[apiKeyView](t, owaspSend(t, r1, http.MethodPost, "/v1/api-keys", owner.AccessToken, echo.MIMEApplicationJSON,
			`{"name":"short","role":"viewer","expires_at":"`+time.Now().Add(1500*time.Millisecond).UTC().Format(time.RFC3339Nano)+`"}`, nil), http.StatusCreated)
		require.Eventually(t, func() bool {
			probes++
			return owaspSend(t, r2, http.MethodGet, "/v1/assessments", expiring.Key, "", "", nil).Status == http.StatusUnauthorized
		}, 10*time.Second, 100*time.Millisecond, "an expired API key is refused")
	})

	t.Logf("OWASP API2: %d probes over HTTP on two replicas sharing the store, Redis and one key ring; forged, stale and misdirected tokens, "+
		"logout, refresh reuse, sign-out-everywhere, disabling, lockout and API key revocation seen by the other replica", probes)
}

// httpResponse turns a read answer back into a response for helpers that
// take one.
func owaspHTTPResponse(r owaspResult) *http.Response {
	return &http.Response{StatusCode: r.Status, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.Body))}
}

// owaspJSONMembers returns every object member name in a JSON document, at
// any depth (nil when body is not JSON).
func owaspJSONMembers(body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				out = append(out, k)
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// owaspFirstEvent opens an event stream and returns its first event's data.
func owaspFirstEvent(t *testing.T, e *env, path, bearer string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev := readSSE(resp.Body).next(t)
	return ev.Event + "\n" + ev.Data
}

// TestOWASPAPI3PropertyExposure checks OWASP API3:2023 (excessive data
// exposure; mass assignment is TestOWASPAPI3MassAssignment): after a user
// enrolled TOTP and keys, webhooks and users with generated passwords were
// made, no GET answer carries a password, a password hash, a TOTP secret,
// an API key or its hash, a webhook secret or a token, by value or by member
// name; one-time secrets appear only in their creation answer, which is not
// cacheable; refusals do not echo the credential presented.
func TestOWASPAPI3PropertyExposure(t *testing.T) {
	t.Parallel()
	e, _ := newChatEnv(t, Config{Limits: Limits{AuthRequests: 1000}})
	ctx := context.Background()
	w := owaspNewWorld(t, e, "props")
	bearer := w.owner.AccessToken
	const ct = echo.MIMEApplicationJSON
	var probes int
	secretMember := regexp.MustCompile(`(?i)password|secret|totp|hash|otpauth|refresh_token|access_token|^key$|private`)
	oneTime := func(t *testing.T, what string, r owaspResult, want int) owaspResult {
		t.Helper()
		require.Equalf(t, want, r.Status, "%s: %s", what, r.Body)
		require.Equalf(t, "no-store", r.Header.Get("Cache-Control"), "%s carries a secret: it must not be stored by caches", what)
		return r
	}

	enrol := owaspDecode[map[string]string](t, oneTime(t, "TOTP enrolment",
		owaspSend(t, e, http.MethodPost, "/v1/me/mfa/totp", bearer, ct, owaspJSON(t, map[string]string{"password": w.password}), nil), http.StatusCreated), http.StatusCreated)
	totpSecret := enrol["secret"]
	require.NotEmpty(t, totpSecret)
	code, err := totp.GenerateCode(totpSecret, time.Now())
	require.NoError(t, err)
	r := owaspSend(t, e, http.MethodPost, "/v1/me/mfa/totp/confirm", bearer, ct, `{"code":"`+code+`"}`, nil)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))

	// A password the admin chose is never echoed back.
	chosen := owaspPassword()
	r = oneTime(t, "user creation", owaspSend(t, e, http.MethodPost, "/v1/users", bearer, ct,
		`{"email":"chosen@props.test","role":"viewer","password":"`+chosen+`"}`, nil), http.StatusCreated)
	probes++
	require.NotContains(t, string(r.Body), chosen)
	require.NotContains(t, owaspJSONMembers(r.Body), "password")
	chosenUser := owaspDecode[userView](t, r, http.StatusCreated)

	// The platform operator provisions a tenant with a chosen owner password.
	opPassword, newOwnerPassword := owaspPassword(), owaspPassword()
	_, _, err = e.ident.CreateOperator(ctx, identity.NewUser{Email: "ops@platform.test", Password: opPassword})
	require.NoError(t, err)
	op := owaspLogin(t, e, auth.PlatformTenant, "ops@platform.test", opPassword)
	t.Run("a tenant's chosen owner password is not echoed", func(t *testing.T) {
		r := oneTime(t, "tenant creation", owaspSend(t, e, http.MethodPost, "/v1/tenants", op.AccessToken, ct,
			`{"id":"props-new","name":"New","owner":{"email":"owner@props-new.test","password":"`+newOwnerPassword+`"}}`, nil), http.StatusCreated)
		probes++
		require.NotContains(t, string(r.Body), newOwnerPassword)
		require.NotContains(t, owaspJSONMembers(r.Body), "password")
	})

	ownerRec, err := e.store.Users.Get(ctx, w.tenant, w.owner.User.ID)
	require.NoError(t, err)
	require.True(t, ownerRec.MFAEnabled)
	analystRec, err := e.store.Users.Get(ctx, w.tenant, w.analyst.ID)
	require.NoError(t, err)
	keyRec, err := e.store.APIKeys.Get(ctx, w.tenant, w.key.ID)
	require.NoError(t, err)
	// "imk_<id>_<secret>": the id has no '_', the base64url secret may.
	keySecret := strings.SplitN(w.key.Key, "_", 3)[2]
	secrets := map[string]string{
		"owner password": w.password, "generated password": w.analyst.Password, "chosen password": chosen,
		"operator password": opPassword, "new owner password": newOwnerPassword,
		"owner password hash": ownerRec.PasswordHash, "analyst password hash": analystRec.PasswordHash,
		"TOTP secret": totpSecret, "stored TOTP secret": ownerRec.TOTPSecret, "otpauth URL": enrol["otpauth_url"],
		"API key": w.key.Key, "API key secret": keySecret, "API key hash": keyRec.SecretSHA256,
		"webhook secret": w.webhook.Secret, "refresh token": w.owner.RefreshToken, "access token": bearer,
	}
	for label, v := range secrets {
		require.NotEmptyf(t, v, "%s: the fixture lacks it", label)
		require.GreaterOrEqualf(t, len(v), 12, "%s is too short to search for", label)
	}
	scan := func(t *testing.T, where string, body []byte, members bool) {
		t.Helper()
		probes++
		for label, v := range secrets {
			require.NotContainsf(t, string(body), v, "%s exposes the %s", where, label)
		}
		require.NotContainsf(t, string(body), "$argon2id$", "%s exposes a password hash", where)
		for _, f := range []string{"password_hash", "secret_sha256", "totp_secret", "totp_pending"} {
			require.NotContainsf(t, string(body), f, "%s names the stored field %s", where, f)
		}
		if members {
			for _, m := range owaspJSONMembers(body) {
				require.Falsef(t, secretMember.MatchString(m), "%s has a member %q", where, m)
			}
		}
	}

	t.Run("control: the scan sees a one-time secret", func(t *testing.T) {
		created := oneTime(t, "webhook creation", owaspSend(t, e, http.MethodPost, "/v1/webhooks", bearer, ct,
			`{"url":"`+owaspPublicURL+`","event_types":["assessment.status"]}`, nil), http.StatusCreated)
		hook := owaspDecode[api.WebhookCreated](t, created, http.StatusCreated)
		require.Contains(t, string(created.Body), hook.Secret)
		require.True(t, slices.ContainsFunc(owaspJSONMembers(created.Body), secretMember.MatchString))
		key := oneTime(t, "API key creation", owaspSend(t, e, http.MethodPost, "/v1/api-keys", bearer, ct,
			`{"name":"once","role":"viewer"}`, nil), http.StatusCreated)
		require.Contains(t, owaspJSONMembers(key.Body), "key")
		require.True(t, slices.ContainsFunc(owaspJSONMembers(key.Body), secretMember.MatchString))
	})

	t.Run("every GET", func(t *testing.T) {
		bearers := map[string]string{"/v1/tenants": op.AccessToken}
		var paths []string
		for _, rt := range e.srv.echo.Routes() {
			if rt.Method != http.MethodGet {
				continue
			}
			var filled []string
			switch {
			case strings.HasPrefix(rt.Path, "/v1/assessments/:id"):
				for _, id := range []string{w.base, w.version, w.scenario} {
					conv := w.conversation
					if conv == "" || id != w.base {
						conv = uuid.NewString()
					}
					p := strings.NewReplacer(":id", id, ":sid", w.scenario, ":cid", conv).Replace(rt.Path)
					if strings.HasSuffix(p, "/diff") {
						p += "?from=1&to=2"
					}
					filled = append(filled, p)
				}
			case strings.HasPrefix(rt.Path, "/v1/webhooks/:id"):
				filled = []string{strings.Replace(rt.Path, ":id", w.webhook.ID, 1)}
			case strings.HasPrefix(rt.Path, "/v1/catalogue/versions/:version"):
				filled = []string{strings.Replace(rt.Path, ":version", "2026-12-06.2", 1)}
			case strings.HasPrefix(rt.Path, "/v1/users/:id"):
				for _, id := range []string{w.owner.User.ID, w.analyst.ID, chosenUser.ID} {
					filled = append(filled, strings.Replace(rt.Path, ":id", id, 1))
				}
			default:
				filled = []string{rt.Path}
			}
			for _, p := range filled {
				require.NotContainsf(t, p, "/:", "GET %s: add how to fill its ids to this test", rt.Path)
			}
			paths = append(paths, filled...)
		}
		for _, p := range paths {
			b := bearer
			if v, ok := bearers[p]; ok {
				b = v
			}
			if strings.HasSuffix(p, "/events") {
				scan(t, "GET "+p, []byte(owaspFirstEvent(t, e, p, b)), false)
				continue
			}
			r := owaspSend(t, e, http.MethodGet, p, b, "", "", nil)
			require.Lessf(t, r.Status, 500, "GET %s: %s", p, r.Body)
			switch p {
			case "/openapi.json":
				// It documents the request members (password, secret) by design.
				scan(t, "GET "+p, r.Body, false)
			case "/.well-known/jwks.json":
				scan(t, "GET "+p, r.Body, true)
				var set struct{ Keys []map[string]any }
				require.NoError(t, json.Unmarshal(r.Body, &set))
				require.NotEmpty(t, set.Keys)
				for _, k := range set.Keys {
					for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
						require.NotContainsf(t, k, private, "the JWKS publishes the private member %q", private)
					}
				}
			default:
				scan(t, "GET "+p, r.Body, p != "/metrics")
			}
		}
		// The same reads as the API key, the analyst and an operator.
		analyst := owaspLogin(t, e, w.tenant, w.analyst.Email, w.analyst.Password)
		for _, c := range []struct{ name, bearer, path string }{
			{"API key", w.key.Key, "/v1/me"},
			{"API key", w.key.Key, "/v1/users"},
			{"API key", w.key.Key, "/v1/api-keys"},
			{"analyst", analyst.AccessToken, "/v1/me"},
			{"analyst", analyst.AccessToken, "/v1/assessments/" + w.base},
			{"operator", op.AccessToken, "/v1/me"},
		} {
			r := owaspSend(t, e, http.MethodGet, c.path, c.bearer, "", "", nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			scan(t, "GET "+c.path+" as "+c.name, r.Body, true)
		}
		me := owaspDecode[meView](t, owaspSend(t, e, http.MethodGet, "/v1/me", bearer, "", "", nil), http.StatusOK)
		require.True(t, me.User.MFAEnabled, "GET /v1/me says MFA is on, and only that")
	})

	t.Run("answers to changes and refusals do not echo credentials", func(t *testing.T) {
		long := strings.Repeat("x", 129) + w.password
		for _, c := range []struct {
			name string
			r    owaspResult
		}{
			{"wrong password", owaspTryLogin(t, e, w.tenant, w.ownerEmail, w.password+"-wrong", nil)},
			{"over-long password", owaspTryLogin(t, e, w.tenant, w.ownerEmail, long, nil)},
			{"mfa required", owaspTryLogin(t, e, w.tenant, w.ownerEmail, w.password, nil)},
			{"bogus refresh token", owaspSend(t, e, http.MethodPost, "/v1/auth/refresh", "", ct, `{"refresh_token":"`+w.owner.RefreshToken+`x"}`, nil)},
			{"bogus access token", owaspSend(t, e, http.MethodGet, "/v1/me", w.owner.AccessToken+"x", "", "", nil)},
			{"bogus API key", owaspSend(t, e, http.MethodGet, "/v1/me", w.key.Key+"x", "", "", nil)},
			{"password in a PATCH", owaspSend(t, e, http.MethodPatch, "/v1/users/"+w.analyst.ID, bearer, ct, `{"password":"`+w.password+`"}`, nil)},
			{"role change", owaspSend(t, e, http.MethodPatch, "/v1/users/"+w.analyst.ID, bearer, ct, `{"role":"viewer"}`, nil)},
			{"refresh", owaspSend(t, e, http.MethodPost, "/v1/auth/refresh", "", ct, `{"refresh_token":"`+w.owner.RefreshToken+`"}`, nil)},
		} {
			require.Lessf(t, c.r.Status, 500, "%s: %s", c.name, c.r.Body)
			if c.name == "refresh" {
				// A new pair of tokens, once, not cacheable; never the old ones.
				oneTime(t, c.name, c.r, http.StatusOK)
				scan(t, c.name, c.r.Body, false)
				continue
			}
			scan(t, c.name, c.r.Body, c.r.Status < 400)
			require.NotContains(t, string(c.r.Body), "x"+w.password)
		}
	})

	t.Logf("OWASP API3: %d probes: every GET route (as owner, API key, analyst, operator) and every credential-bearing "+
		"answer scanned for %d secret values and secret-named members; one-time secrets only in no-store creation answers", probes, len(secrets))
}

// owaspChunked hides a body's length, so it is sent chunked and the limit
// applies while reading rather than to a declared Content-Length.
type owaspChunked struct{ r io.Reader }

func (c owaspChunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestOWASPAPI4ResourceConsumption checks OWASP API4:2023 on two replicas
// sharing Redis: the tenant, user and pre-authentication address limits and
// the active-assessment cap are spent across replicas and answer 429 with
// Retry-After (an X-Forwarded-For from an untrusted peer does not buy a new
// budget); a body over the limit is 413 on every route that reads one, a
// page size over the cap is 400 naming limit, and a tenant's webhooks are
// capped.
func TestOWASPAPI4ResourceConsumption(t *testing.T) {
	t.Parallel()
	stack := sharedStack(t)
	const bodyLimit = 16 << 10
	cfg := Config{BodyLimit: bodyLimit, Limits: Limits{
		TenantRequests: 6, UserRequests: 3, AuthRequests: 4, MaxActiveAssessments: 2, RateWindow: longWindow,
	}}
	rs := owaspReplicas(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL, 2)
	r1, r2 := rs[0], rs[1]
	ctx := context.Background()
	var probes int
	send := func(t *testing.T, e *env, method, path, bearer, ct, body string, hdr map[string]string) owaspResult {
		t.Helper()
		probes++
		return owaspSend(t, e, method, path, bearer, ct, body, hdr)
	}
	// Sessions come from the identity service, not POST /v1/auth/login:
	// every sign-in over HTTP spends the one per-address budget (shared by
	// both replicas) that the pre-authentication subtest measures.
	type account struct {
		session identity.Session
		key     string
		email   string
		pw      string
	}
	newAccount := func(t *testing.T, tenant string) account {
		t.Helper()
		a := account{email: "owner@" + tenant + ".test", pw: owaspPassword()}
		_, _, _, err := r1.ident.CreateTenant(ctx, tenant, tenant, identity.NewUser{Email: a.email, Password: a.pw})
		require.NoError(t, err)
		a.session, err = r2.ident.Login(ctx, identity.LoginInput{Tenant: tenant, Email: a.email, Password: a.pw})
		require.NoError(t, err)
		_, a.key, err = r1.ident.CreateAPIKey(ctx, tenant, identity.NewAPIKey{Name: "ci", Role: auth.RoleOwner, CreatedBy: a.session.User.ID})
		require.NoError(t, err)
		return a
	}

	t.Run("tenant limit across replicas, a session and an API key", func(t *testing.T) {
		a := newAccount(t, "rl-tenant")
		for i := range 3 {
			for j, c := range []struct {
				e      *env
				bearer string
			}{{r1, a.session.AccessToken}, {r2, a.key}} {
				r := send(t, c.e, http.MethodGet, "/v1/assessments", c.bearer, "", "", nil)
				require.Equalf(t, http.StatusOK, r.Status, "request %d: %s", 2*i+j+1, r.Body)
			}
		}
		for _, e := range rs {
			p := requireTooMany(t, owaspHTTPResponse(send(t, e, http.MethodGet, "/v1/assessments", owaspDevToken(t, e, "rl-tenant", auth.RoleViewer), "", "", nil)), ProblemRateLimited)
			require.Contains(t, p.Detail, "organisation")
		}
		r := send(t, r2, http.MethodGet, "/v1/assessments", owaspDevToken(t, r2, "rl-other", auth.RoleViewer), "", "", nil)
		require.Equal(t, http.StatusOK, r.Status, "another tenant is unaffected")
	})

	t.Run("user limit across replicas", func(t *testing.T) {
		a := newAccount(t, "rl-user")
		for i, e := range []*env{r1, r2, r1} {
			r := send(t, e, http.MethodGet, "/v1/me", a.session.AccessToken, "", "", nil)
			require.Equalf(t, http.StatusOK, r.Status, "request %d: %s", i+1, r.Body)
		}
		p := requireTooMany(t, owaspHTTPResponse(send(t, r2, http.MethodGet, "/v1/me", a.session.AccessToken, "", "", nil)), ProblemRateLimited)
		require.Contains(t, p.Detail, "your request limit")
		require.Equal(t, http.StatusOK, send(t, r2, http.MethodGet, "/v1/me", a.key, "", "", nil).Status, "another caller of the tenant is unaffected")
	})

	t.Run("active assessments across replicas", func(t *testing.T) {
		const tenant = "rl-active"
		first := owaspCreate(t, r1, owaspDevToken(t, r1, tenant, auth.RoleAnalyst), "one", nil)
		owaspCreate(t, r2, owaspDevToken(t, r2, tenant, auth.RoleAnalyst), "two", nil)
		probes += 2
		doc := string(readExample(t, "startup-rag.yaml"))
		for _, c := range []struct {
			e             *env
			path, ct, doc string
		}{
			{r1, "/v1/assessments", "application/yaml", doc},
			{r2, "/v1/assessments/" + first + "/versions", "", ""},
			{r1, "/v1/assessments/" + first + "/scenarios", echo.MIMEApplicationJSON, `{"overrides":{"traffic_multiplier":2}}`},
		} {
			r := send(t, c.e, http.MethodPost, c.path, owaspDevToken(t, c.e, tenant, auth.RoleAnalyst), c.ct, c.doc, nil)
			p := requireTooMany(t, owaspHTTPResponse(r), ProblemTooManyActive)
			require.Contains(t, p.Detail, "limit of active assessments is 2", c.path)
		}
	})

	t.Run("a body over the limit", func(t *testing.T) {
		big := `{"name":"` + strings.Repeat("x", bodyLimit) + `"}`
		takesBody := map[string]string{ // route -> the role that may call it
			"POST /v1/assessments":                                 auth.RoleAnalyst,
			"POST /v1/assessments/:id/versions":                    auth.RoleAnalyst,
			"POST /v1/assessments/:id/scenarios":                   auth.RoleAnalyst,
			"POST /v1/estimates/inference":                         auth.RoleAnalyst,
			"POST /v1/estimates/training":                          auth.RoleAnalyst,
			"POST /v1/webhooks":                                    auth.RoleOwner,
			"POST /v1/assessments/:id/conversations":               auth.RoleViewer,
			"POST /v1/assessments/:id/conversations/:cid/messages": auth.RoleViewer,
			"POST /v1/users":                                       auth.RoleOwner,
			"PATCH /v1/users/:id":                                  auth.RoleOwner,
			"POST /v1/api-keys":                                    auth.RoleOwner,
			"POST /v1/me/mfa/totp/confirm":                         auth.RoleViewer,
			"POST /v1/me/mfa/totp":                                 auth.RoleViewer,
			"POST /v1/me/password":                                 auth.RoleViewer,
			"POST /v1/users/:id/password":                          auth.RoleOwner,
			"POST /v1/tenants":                                     auth.RoleOperator,
			"POST /v1/auth/login":                                  "", // pre-authentication: the subtest below
			"POST /v1/auth/refresh":                                "",
			"POST /v1/auth/logout":                                 "-", // reads no body
			"POST /v1/users/:id/revoke-sessions":                   "-",
			"POST /v1/users/:id/mfa/reset":                         "-",
		}
		n := 0
		for _, rt := range r1.srv.echo.Routes() {
			name := rt.Method + " " + rt.Path
			if rt.Method != http.MethodPost && rt.Method != http.MethodPatch && rt.Method != http.MethodPut {
				continue
			}
			role, ok := takesBody[name]
			require.Truef(t, ok, "%s: say whether it reads a body (and check its limit) in this test", name)
			if role == "" || role == "-" {
				continue
			}
			path := strings.NewReplacer(":id", uuid.NewString()).Replace(rt.Path)
			for _, chunked := range []bool{false, true} {
				n++
				// A tenant per probe: the small tenant limit is not what is measured.
				tenant := fmt.Sprintf("rl-body-%d", n)
				if role == auth.RoleOperator {
					tenant = auth.PlatformTenant
				}
				var rd io.Reader = strings.NewReader(big)
				if chunked {
					rd = owaspChunked{strings.NewReader(big)}
				}
				req, err := http.NewRequest(rt.Method, r1.http.URL+path, rd)
				require.NoError(t, err)
				tok, err := r1.signer.Issue("body-"+strconv.Itoa(n), tenant, []string{role}, time.Hour)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", echo.MIMEApplicationJSON)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				probes++
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				resp.Body.Close()
				res := owaspResult{Status: resp.StatusCode, Header: resp.Header, Body: body}
				require.Equalf(t, http.StatusRequestEntityTooLarge, res.Status, "%s (chunked %v): %s", name, chunked, body)
				p := res.problem(t)
				require.Equal(t, ProblemTooLarge, p.Type)
				require.Contains(t, p.Detail, "16 KiB", name)
			}
		}
	})

	t.Run("page size over the cap", func(t *testing.T) {
		n := 0
		for _, path := range []string{"/v1/assessments", "/v1/audit", "/v1/assessments/" + uuid.NewString() + "/recommendations"} {
			for _, limit := range []string{"101", "100000000", "-1", "0"} {
				n++
				tenant := fmt.Sprintf("rl-page-%d", n)
				r := send(t, r2, http.MethodGet, path+"?limit="+limit, owaspDevToken(t, r2, tenant, auth.RoleOwner), "", "", nil)
				require.Equalf(t, http.StatusBadRequest, r.Status, "%s?limit=%s: %s", path, limit, r.Body)
				p := r.problem(t)
				require.Len(t, p.Errors, 1)
				require.Equal(t, "limit", p.Errors[0].Field)
				require.Contains(t, p.Errors[0].Reason, "from 1 to 100")
			}
		}
	})

	t.Run("a tenant's webhooks are capped", func(t *testing.T) {
		const tenant = "rl-hooks"
		for range app.MaxWebhooksPerTenant {
			_, err := r1.store.Webhooks.Create(ctx, store.Webhook{ID: uuid.NewString(), TenantID: tenant, URL: owaspPublicURL,
				EventTypes: []string{webhook.EventAssessmentStatus}, Secret: "whsec_fixture"})
			require.NoError(t, err)
		}
		r := send(t, r2, http.MethodPost, "/v1/webhooks", owaspDevToken(t, r2, tenant, auth.RoleOwner), echo.MIMEApplicationJSON,
			`{"url":"`+owaspPublicURL+`","event_types":["assessment.status"]}`, nil)
		require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
		require.Contains(t, r.problem(t).Detail, "at most 20 webhooks")
	})

	t.Run("the pre-authentication limit per address, across replicas", func(t *testing.T) {
		a := newAccount(t, "rl-auth")
		login := func(e *env, password, xff string) owaspResult {
			return send(t, e, http.MethodPost, "/v1/auth/login", "", echo.MIMEApplicationJSON,
				owaspJSON(t, map[string]string{"tenant": "rl-auth", "email": a.email, "password": password}),
				map[string]string{"X-Forwarded-For": xff, "X-Real-IP": xff, "Forwarded": "for=" + xff})
		}
		// Four requests from one peer, each claiming another address, spread
		// over both replicas and over sign-in and refresh, spend the budget.
		require.Equal(t, http.StatusUnauthorized, login(r1, "wrong-"+a.pw, "203.0.113.1").Status)
		over := send(t, r2, http.MethodPost, "/v1/auth/login", "", echo.MIMEApplicationJSON,
			`{"tenant":"rl-auth","email":"`+a.email+`","password":"`+strings.Repeat("x", bodyLimit)+`"}`, map[string]string{"X-Forwarded-For": "203.0.113.2"})
		require.Equal(t, http.StatusRequestEntityTooLarge, over.Status, string(over.Body))
		require.Equal(t, http.StatusUnauthorized, send(t, r1, http.MethodPost, "/v1/auth/refresh", "", echo.MIMEApplicationJSON,
			`{"refresh_token":"imr_bogus"}`, map[string]string{"X-Forwarded-For": "203.0.113.3"}).Status)
		ok := login(r2, a.pw, "203.0.113.4")
		require.Equal(t, http.StatusOK, ok.Status, string(ok.Body))
		require.Equal(t, "0", ok.Header.Get("RateLimit-Remaining"))

		for i, r := range []owaspResult{
			login(r1, a.pw, "203.0.113.5"),
			send(t, r2, http.MethodPost, "/v1/auth/refresh", "", echo.MIMEApplicationJSON,
				`{"refresh_token":"`+owaspDecode[tokenResponse](t, ok, http.StatusOK).RefreshToken+`"}`, map[string]string{"X-Forwarded-For": "198.51.100.7"}),
		} {
			p := requireTooMany(t, owaspHTTPResponse(r), ProblemRateLimited)
			require.Containsf(t, p.Detail, "sign-in and token requests from your address", "request %d", i+5)
		}
	})

	t.Logf("OWASP API4: %d probes on two replicas sharing Redis: tenant, user and per-address pre-auth limits and the "+
		"active-assessment cap answer 429 with Retry-After across replicas; bodies over %d bytes 413 on every body route "+
		"(declared and chunked); page sizes over the cap 400 naming limit; webhooks capped at %d", probes, bodyLimit, app.MaxWebhooksPerTenant)
}

// owaspNormalise is a problem answer without its request id, path and
// numbers (seconds to wait), so two answers compare by their words.
func owaspNormalise(t *testing.T, r owaspResult) string {
	t.Helper()
	p := r.problem(t)
	p.RequestID, p.Instance = "", ""
	digits := regexp.MustCompile(`[0-9]+`)
	return fmt.Sprintf("%d %s www-authenticate=%q retry-after=%t", r.Status,
		digits.ReplaceAllString(owaspJSON(t, p), "#"), r.Header.Get("WWW-Authenticate"), r.Header.Get("Retry-After") != "")
}

// TestOWASPAPI6SignInBruteForce checks OWASP API6:2023 for the one sensitive
// flow the API has, signing in: five failures lock the account for the
// window, equally for an unknown email or tenant (so the answers cannot tell
// which accounts exist: they are word for word the same), for email spelling
// variants and for wrong second-factor codes; the locked account refuses even
// its right password, and other accounts are unaffected.
func TestOWASPAPI6SignInBruteForce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Limits: Limits{AuthRequests: 1000}})
	ctx := context.Background()
	const tenant = "brute"
	pw := owaspPassword()
	_, _, _, err := e.ident.CreateTenant(ctx, tenant, "Brute", identity.NewUser{Email: "owner@brute.test", Password: pw})
	require.NoError(t, err)
	for _, email := range []string{"target@brute.test", "mixed@brute.test", "mfa@brute.test", "bystander@brute.test"} {
		_, _, err := e.ident.CreateUser(ctx, tenant, identity.NewUser{Email: email, Role: auth.RoleViewer, Password: pw})
		require.NoError(t, err)
	}
	mfaUser, err := e.store.Users.GetByEmail(ctx, tenant, "mfa@brute.test")
	require.NoError(t, err)
	en, err := e.ident.EnrollTOTP(ctx, tenant, mfaUser.ID, identity.Reauth{Password: pw})
	require.NoError(t, err)
	code, err := totp.GenerateCode(en.Secret, time.Now())
	require.NoError(t, err)
	require.NoError(t, e.ident.ConfirmTOTP(ctx, tenant, mfaUser.ID, code))

	var probes int
	attempt := func(tenant, email, password, totpCode string) owaspResult {
		probes++
		body := map[string]string{"tenant": tenant, "email": email, "password": password}
		if totpCode != "" {
			body["totp_code"] = totpCode
		}
		return owaspSend(t, e, http.MethodPost, "/v1/auth/login", "", echo.MIMEApplicationJSON, owaspJSON(t, body), nil)
	}
	wrong := "wrong-" + owaspPassword()
	// wrongCode is the n-th six-digit code that no window the service
	// accepts (the current one and one either side) makes valid.
	wrongCode := func(n int) string {
		valid := map[string]bool{}
		for k := -2; k <= 2; k++ {
			c, err := totp.GenerateCode(en.Secret, time.Now().Add(time.Duration(k)*30*time.Second))
			require.NoError(t, err)
			valid[c] = true
		}
		for c := n; ; c += 100 {
			if code := fmt.Sprintf("%06d", c); !valid[code] {
				return code
			}
		}
	}
	tests := []struct {
		name string
		// fail is the n-th failing attempt; last is the attempt after the
		// lockout, with the right credentials where there are any.
		fail, last func(n int) owaspResult
	}{
		{
			name: "existing account, wrong password",
			fail: func(int) owaspResult { return attempt(tenant, "target@brute.test", wrong, "") },
			last: func(int) owaspResult { return attempt(tenant, "target@brute.test", pw, "") },
		},
		{
			name: "unknown email",
			fail: func(int) owaspResult { return attempt(tenant, "nobody@brute.test", wrong, "") },
			last: func(int) owaspResult { return attempt(tenant, "nobody@brute.test", pw, "") },
		},
		{
			name: "unknown tenant",
			fail: func(int) owaspResult { return attempt("no-such-tenant", "target@brute.test", wrong, "") },
			last: func(int) owaspResult { return attempt("no-such-tenant", "target@brute.test", pw, "") },
		},
		{
			name: "spelling variants of one email",
			fail: func(n int) owaspResult {
				return attempt(tenant, []string{"Mixed@Brute.test", "MIXED@BRUTE.TEST", " mixed@brute.test", "mixed@Brute.Test ", "mIxEd@bRuTe.TeSt"}[n], wrong, "")
			},
			last: func(int) owaspResult { return attempt(tenant, "mixed@brute.test", pw, "") },
		},
		{
			name: "wrong second-factor codes",
			fail: func(n int) owaspResult { return attempt(tenant, "mfa@brute.test", pw, wrongCode(n)) },
			last: func(int) owaspResult {
				c, err := totp.GenerateCode(en.Secret, time.Now())
				require.NoError(t, err)
				return attempt(tenant, "mfa@brute.test", pw, c)
			},
		},
	}
	failures := map[string]string{}
	locked := map[string]string{}
	for _, tc := range tests {
		for n := range identity.DefaultMaxFailures {
			r := tc.fail(n)
			require.Equalf(t, http.StatusUnauthorized, r.Status, "%s, attempt %d: %s", tc.name, n+1, r.Body)
			failures[tc.name] = owaspNormalise(t, r)
		}
		r := tc.last(identity.DefaultMaxFailures)
		requireTooMany(t, owaspHTTPResponse(r), ProblemSignInLocked)
		locked[tc.name] = owaspNormalise(t, r)
		// Still locked for a wrong password, with the same answer.
		again := tc.fail(0)
		require.Equal(t, locked[tc.name], owaspNormalise(t, again), tc.name)
	}

	// No enumeration: a wrong password, an unknown email and an unknown
	// tenant are refused word for word alike, before and after the lockout.
	for _, name := range []string{"unknown email", "unknown tenant", "spelling variants of one email"} {
		require.Equal(t, failures["existing account, wrong password"], failures[name], name)
	}
	for name := range locked {
		require.Equal(t, locked["existing account, wrong password"], locked[name], name)
	}

	// The lock is per account: another account of the tenant signs in.
	r := attempt(tenant, "bystander@brute.test", pw, "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))

	t.Logf("OWASP API6: %d probes: sign-in locked after %d failures for an existing account, an unknown email, an unknown "+
		"tenant, email spelling variants and wrong TOTP codes, with identical 401 and 429 answers (no enumeration)", probes, identity.DefaultMaxFailures)
}

// owaspResolver answers for the names it knows and asks the system for
// the others (localhost).
type owaspResolver map[string][]netip.Addr

func (r owaspResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// TestOWASPAPI7SSRF checks OWASP API7:2023 through POST /v1/webhooks, the
// one place a tenant names a URL the platform will call: loopback, private,
// link-local and metadata, unique-local, reserved and multicast addresses,
// in every spelling (IPv4-mapped, NAT64, hostnames resolving to them, a
// public name with one private address), plain http without the
// development opt-in, other schemes and credentials in the URL are refused
// with 400 naming url, and nothing refused is stored. Delivery-time checks
// (DNS rebinding, redirects) are in TestOWASPAPI10UnsafeConsumption and
// pkg/webhook.
func TestOWASPAPI7SSRF(t *testing.T) {
	t.Parallel()
	addrs := func(ss ...string) []netip.Addr {
		out := make([]netip.Addr, len(ss))
		for i, s := range ss {
			out[i] = netip.MustParseAddr(s)
		}
		return out
	}
	e := newEnv(t, Config{WebhookPolicy: webhook.Policy{Resolver: owaspResolver{
		"public.example.test":    addrs("93.184.215.14"),
		"metadata.attacker.test": addrs("169.254.169.254"),
		"internal.attacker.test": addrs("10.0.0.7"),
		"loop.attacker.test":     addrs("127.0.0.1"),
		"mixed.attacker.test":    addrs("93.184.215.14", "192.168.1.1"),
		"ula.attacker.test":      addrs("fd00::1"),
		"mapped.attacker.test":   addrs("::ffff:10.0.0.1"),
	}}})
	owner := owaspDevToken(t, e, "ssrf", auth.RoleOwner)
	register := func(url string) owaspResult {
		return owaspSend(t, e, http.MethodPost, "/v1/webhooks", owner, echo.MIMEApplicationJSON,
			owaspJSON(t, map[string]any{"url": url, "event_types": []string{"assessment.completed"}}), nil)
	}
	refused := []string{
		// Loopback.
		"https://127.0.0.1/h", "https://127.1.2.3/h", "https://[::1]/h", "https://[::ffff:127.0.0.1]/h",
		"https://localhost/h", "https://loop.attacker.test/h", "https://127.0.0.1:8080/h",
		// RFC 1918 and unique local.
		"https://10.0.0.1/h", "https://172.16.0.1/h", "https://172.31.255.254/h", "https://192.168.0.1/h",
		"https://[fd00::1]/h", "https://[fc00::1]/h", "https://[::ffff:10.0.0.1]/h",
		// Link-local and cloud metadata.
		"https://169.254.169.254/latest/meta-data/", "https://169.254.0.1/h", "https://[fe80::1]/h",
		"https://[fd00:ec2::254]/h", "https://[::ffff:169.254.169.254]/h", "https://[64:ff9b::a9fe:a9fe]/h",
		// Unspecified, carrier-grade NAT, multicast, broadcast, reserved.
		"https://0.0.0.0/h", "https://[::]/h", "https://100.64.0.1/h", "https://224.0.0.1/h",
		"https://255.255.255.255/h", "https://240.0.0.1/h", "https://198.18.0.1/h",
		// Names resolving to internal addresses, one of several included.
		"https://metadata.attacker.test/h", "https://internal.attacker.test/h", "https://mixed.attacker.test/h",
		"https://ula.attacker.test/h", "https://mapped.attacker.test/h",
		// Userinfo tricks: the host is what follows the '@'.
		"https://93.184.215.14@127.0.0.1/h", "https://public.example.test@169.254.169.254/h",
		// Schemes and credentials.
		"http://93.184.215.14/h", "http://public.example.test/h", "ftp://93.184.215.14/h", "file:///etc/passwd",
		"gopher://93.184.215.14:70/_h", "javascript:alert(1)", "//93.184.215.14/h", "93.184.215.14/h",
		"https://user:pass@93.184.215.14/h", "https:///h", "https://",
	}
	var probes int
	for _, u := range refused {
		r := register(u)
		probes++
		require.Equalf(t, http.StatusBadRequest, r.Status, "%s: %s", u, r.Body)
		p := r.problem(t)
		require.Lenf(t, p.Errors, 1, u)
		require.Equalf(t, "url", p.Errors[0].Field, "%s: %s", u, r.Body)
	}
	// The controls: a public address and a name resolving only to one.
	for _, u := range []string{"https://93.184.215.14/h", "https://public.example.test/h"} {
		r := register(u)
		probes++
		require.Equalf(t, http.StatusCreated, r.Status, "%s: %s", u, r.Body)
	}
	list := owaspDecode[api.WebhookList](t, owaspSend(t, e, http.MethodGet, "/v1/webhooks", owner, "", "", nil), http.StatusOK)
	require.Len(t, list.Items, 2, "only the two public endpoints were stored")

	t.Logf("OWASP API7: %d probes: %d internal, reserved or malformed webhook URLs refused with 400 naming url, 2 public controls accepted, nothing refused stored",
		probes, len(refused))
}

// owaspLeaks are substrings of internals a client must never see: stack
// traces, Go error and type names, infrastructure names and addresses.
func owaspLeaks() []string {
	return []string{
		"goroutine ", ".go:", "runtime error", "runtime.", "panic", "Go struct", "Go value", "struct field",
		"gateway.", "main.", "json: cannot", "*errors.", "%!", "<nil>",
		"mongo", "ferret", "sqlite", "redis", "nats:", "jetstream", "dial tcp", "connection refused", "10.1.2.3",
	}
}

// owaspRequireNoLeak checks an error answer for internals. The problem's
// instance is the path the client sent, so it is not searched.
func owaspRequireNoLeak(t *testing.T, where string, body []byte) {
	t.Helper()
	var p Problem
	if json.Unmarshal(body, &p) == nil {
		p.Instance = ""
		body = []byte(owaspJSON(t, p))
	}
	low := strings.ToLower(string(body))
	for _, l := range owaspLeaks() {
		require.NotContainsf(t, low, strings.ToLower(l), "%s leaks %q: %s", where, l, body)
	}
}

// owaspRequireSecurityHeaders checks the headers every answer carries.
func owaspRequireSecurityHeaders(t *testing.T, where string, r owaspResult) {
	t.Helper()
	h := r.Header
	require.Equalf(t, "nosniff", h.Get("X-Content-Type-Options"), where)
	require.Equalf(t, "DENY", h.Get("X-Frame-Options"), where)
	require.Containsf(t, h.Get("Content-Security-Policy"), "default-src 'none'", where)
	require.Containsf(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", where)
	require.Equalf(t, "no-referrer", h.Get("Referrer-Policy"), where)
	require.NotEmptyf(t, h.Get("X-Request-Id"), where)
	require.Emptyf(t, h.Get("Server"), "%s names the server software", where)
	require.Emptyf(t, h.Get("X-Powered-By"), "%s names the framework", where)
	require.Emptyf(t, h.Get("Access-Control-Allow-Origin"), "%s: no Origin was sent", where)
	switch cc := h.Get("Cache-Control"); {
	case cc == "no-store":
	case strings.HasPrefix(h.Get("Content-Type"), "text/event-stream"):
		// The SSE convention; a stream is never complete enough to cache.
		require.Equalf(t, "no-cache", cc, where)
	default:
		// Only the public documents may be cached.
		require.Truef(t, strings.HasPrefix(cc, "public, max-age="), "%s: Cache-Control %q", where, cc)
	}
}

// owaspAuditByRequest reads the audit records of one request, whatever
// their tenant.
func owaspAuditByRequest(t *testing.T, st *store.Store, reqID string) []audit.Record {
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

// TestOWASPAPI8SecurityMisconfiguration checks OWASP API8:2023: every class
// of answer (2xx, 4xx, 429, 5xx from a panic, a failure and a Redis outage,
// an event stream) carries the security headers, and no error answer shows a
// stack trace, a Go error or type name or an infrastructure detail, also for
// malformed bodies on every route that reads one; CORS admits only the
// allow-listed origin, never with credentials; X-Forwarded-For and its
// cousins from an untrusted peer are ignored; a wrong method is 405; no
// debug or undocumented endpoint answers.
func TestOWASPAPI8SecurityMisconfiguration(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	e := newEnv(t, Config{BodyLimit: 4 << 10, Limits: Limits{CORSAllowedOrigins: []string{allowed}, UserRequests: 3, AuthRequests: 1000}})
	// Routes only this env has, added before it serves: a handler that
	// panics and one that fails, each with internals in its error.
	const internal = "mongo: dial tcp 10.1.2.3:27017: connect: connection refused"
	e.srv.echo.GET("/owasp/crash", func(echo.Context) error { panic(fmt.Errorf("gateway.loadTenant: %s", internal)) })
	e.srv.echo.GET("/owasp/fail", func(echo.Context) error { return fmt.Errorf("load tenant: %s", internal) })
	const tenant = "misconf"
	owner := func() string { return owaspDevToken(t, e, tenant, auth.RoleOwner) }
	const ct = echo.MIMEApplicationJSON
	var probes int
	check := func(t *testing.T, where string, r owaspResult, want int) {
		t.Helper()
		probes++
		require.Equalf(t, want, r.Status, "%s: %s", where, r.Body)
		owaspRequireSecurityHeaders(t, where, r)
		if r.Status >= 400 {
			p := r.problem(t)
			require.Equalf(t, r.Header.Get("X-Request-Id"), p.RequestID, "%s: the problem names its request", where)
			owaspRequireNoLeak(t, where, r.Body)
		}
	}

	t.Run("every class of answer", func(t *testing.T) {
		id := owaspCreate(t, e, owner(), "misconf", nil)
		hook := owaspDecode[api.WebhookCreated](t, owaspSend(t, e, http.MethodPost, "/v1/webhooks", owner(), ct,
			`{"url":"`+owaspPublicURL+`","event_types":["assessment.completed"]}`, nil), http.StatusCreated)
		spent := owaspDevToken(t, e, tenant, auth.RoleViewer)
		for range 3 {
			require.Equal(t, http.StatusOK, owaspSend(t, e, http.MethodGet, "/v1/assessments", spent, "", "", nil).Status)
		}
		doc := string(readExample(t, "startup-rag.yaml"))
		classes := []struct {
			name                     string
			method, path, bearer, ct string
			body                     string
			want                     int
		}{
			{"health", http.MethodGet, "/healthz", "", "", "", http.StatusOK},
			{"readiness", http.MethodGet, "/readyz", "", "", "", http.StatusOK},
			{"metrics are not on the public port", http.MethodGet, "/metrics", "", "", "", http.StatusNotFound},
			{"OpenAPI", http.MethodGet, "/openapi.json", "", "", "", http.StatusOK},
			{"JWKS", http.MethodGet, "/.well-known/jwks.json", "", "", "", http.StatusOK},
			{"list", http.MethodGet, "/v1/assessments", owner(), "", "", http.StatusOK},
			{"event stream", http.MethodGet, "/v1/assessments/" + id + "/events", owner(), "", "", http.StatusOK},
			{"created", http.MethodPost, "/v1/webhooks", owner(), ct, `{"url":"` + owaspPublicURL + `","event_types":["assessment.status"]}`, http.StatusCreated},
			{"accepted", http.MethodPost, "/v1/assessments", owner(), "application/yaml", doc, http.StatusAccepted},
			{"no content", http.MethodDelete, "/v1/webhooks/" + hook.ID, owner(), "", "", http.StatusNoContent},
			{"bad query", http.MethodGet, "/v1/assessments?limit=lots", owner(), "", "", http.StatusBadRequest},
			{"bad body", http.MethodPost, "/v1/assessments", owner(), ct, `{"name":`, http.StatusBadRequest},
			{"no token", http.MethodGet, "/v1/assessments", "", "", "", http.StatusUnauthorized},
			{"bad token", http.MethodGet, "/v1/assessments", "x.y.z", "", "", http.StatusUnauthorized},
			{"wrong role", http.MethodPost, "/v1/webhooks", owaspDevToken(t, e, tenant, auth.RoleViewer), ct, `{}`, http.StatusForbidden},
			{"unknown route", http.MethodGet, "/v1/nothing-here", owner(), "", "", http.StatusNotFound},
			{"unknown id", http.MethodGet, "/v1/assessments/" + uuid.NewString(), owner(), "", "", http.StatusNotFound},
			{"wrong method", http.MethodPut, "/v1/assessments", owner(), "", "", http.StatusMethodNotAllowed},
			{"too large", http.MethodPost, "/v1/assessments", owner(), "application/yaml", strings.Repeat("#", 5<<10), http.StatusRequestEntityTooLarge},
			{"unsupported type", http.MethodPost, "/v1/assessments", owner(), "text/plain", "x", http.StatusUnsupportedMediaType},
			{"rate limited", http.MethodGet, "/v1/assessments", spent, "", "", http.StatusTooManyRequests},
			{"sign-in refused", http.MethodPost, "/v1/auth/login", "", ct, `{"tenant":"misconf","email":"a@b.test","password":"wrong-password"}`, http.StatusUnauthorized},
			{"panic", http.MethodGet, "/owasp/crash", "", "", "", http.StatusInternalServerError},
			{"failure", http.MethodGet, "/owasp/fail", "", "", "", http.StatusInternalServerError},
		}
		for _, c := range classes {
			check(t, c.name, owaspSend(t, e, c.method, c.path, c.bearer, c.ct, c.body, nil), c.want)
		}
		// The metrics are not public; on the operations listener they carry route templates, never a
		// tenant or an id.
		m := owaspSend(t, e, http.MethodGet, "/metrics", "", "", "", nil)
		probes++
		require.Equal(t, http.StatusNotFound, m.Status)
		families, err := e.srv.deps.Registry.Gather()
		require.NoError(t, err)
		for _, f := range families {
			for _, mt := range f.GetMetric() {
				for _, l := range mt.GetLabel() {
					require.NotContains(t, l.GetValue(), tenant)
					require.NotContains(t, l.GetValue(), id)
				}
			}
		}
		// Public readiness says ready or not, never which dependencies there are.
		r := owaspSend(t, e, http.MethodGet, "/readyz", "", "", "", nil)
		probes++
		for _, name := range []string{"nats", "store", "redis", "mongo"} {
			require.NotContains(t, strings.ToLower(string(r.Body)), name)
		}
	})

	t.Run("malformed bodies name the field, not the implementation", func(t *testing.T) {
		var leaks []string
		bodies := []string{`[]`, `"text"`, `5`, `{"name":`, `{"email":["x"]}`, `{"url":5,"event_types":"x"}`,
			`{"code":5}`, `{"role":5}`, `{"refresh_token":5}`, `{"id":{"x":1}}`, "\x00\xff"}
		for _, rt := range e.srv.echo.Routes() {
			if rt.Method != http.MethodPost && rt.Method != http.MethodPatch {
				continue
			}
			path := strings.NewReplacer(":id", uuid.NewString(), ":sid", uuid.NewString()).Replace(rt.Path)
			bearer := owner()
			if rt.Path == "/v1/tenants" {
				var err error
				bearer, err = e.signer.Issue("ops", auth.PlatformTenant, []string{auth.RoleOperator}, time.Hour)
				require.NoError(t, err)
			}
			for _, b := range bodies {
				r := owaspSend(t, e, rt.Method, path, bearer, ct, b, nil)
				probes++
				where := fmt.Sprintf("%s %s with %q", rt.Method, rt.Path, b)
				require.Lessf(t, r.Status, 500, "%s: %s", where, r.Body)
				low := strings.ToLower(string(r.Body))
				for _, l := range owaspLeaks() {
					if r.Status >= 400 && strings.Contains(low, strings.ToLower(l)) {
						leaks = append(leaks, fmt.Sprintf("%s leaks %q: %s", where, l, r.problem(t).Detail))
						break
					}
				}
			}
		}
		require.Empty(t, leaks, "error answers name the implementation:\n%s", strings.Join(leaks, "\n"))
	})

	t.Run("CORS admits only the allow-listed origin", func(t *testing.T) {
		origins := []struct {
			origin string
			ok     bool
		}{
			{allowed, true},
			{"https://evil.example.com", false},
			{"null", false},
			{"https://app.example.com.evil.net", false},
			{"https://evil-app.example.com", false},
			{"http://app.example.com", false},
			{"https://app.example.com:8443", false},
			{"https://app.example.co", false},
		}
		for _, o := range origins {
			simple := owaspSend(t, e, http.MethodGet, "/v1/assessments", owner(), "", "", map[string]string{"Origin": o.origin})
			pre := owaspSend(t, e, http.MethodOptions, "/v1/assessments", "", "", "", map[string]string{
				"Origin": o.origin, "Access-Control-Request-Method": http.MethodPost, "Access-Control-Request-Headers": "authorization,content-type"})
			probes += 2
			for _, r := range []owaspResult{simple, pre} {
				require.NotEqualf(t, "true", r.Header.Get("Access-Control-Allow-Credentials"), "%s: bearer tokens need no credentialed CORS", o.origin)
				require.NotEqualf(t, "*", r.Header.Get("Access-Control-Allow-Origin"), o.origin)
			}
			if o.ok {
				require.Equal(t, allowed, simple.Header.Get("Access-Control-Allow-Origin"))
				require.Contains(t, simple.Header.Values("Vary"), "Origin", "a cache must not hand one origin's answer to another")
				require.Equal(t, allowed, pre.Header.Get("Access-Control-Allow-Origin"))
				require.Contains(t, pre.Header.Get("Access-Control-Allow-Methods"), http.MethodPost)
				continue
			}
			for _, r := range []owaspResult{simple, pre} {
				for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Expose-Headers"} {
					require.Emptyf(t, r.Header.Get(h), "%s: %s", o.origin, h)
				}
			}
		}
	})

	t.Run("forwarding headers from an untrusted peer are ignored", func(t *testing.T) {
		sent := map[string]string{} // header -> request id
		for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "Forwarded", "True-Client-IP", "CF-Connecting-IP", "X-Client-IP"} {
			v := "192.0.2.44"
			if h == "Forwarded" {
				v = "for=192.0.2.44"
			}
			r := owaspSend(t, e, http.MethodGet, "/v1/assessments", owner(), "", "", map[string]string{h: v})
			probes++
			require.Equal(t, http.StatusOK, r.Status)
			sent[h] = r.Header.Get("X-Request-Id")
		}
		for h, id := range sent {
			rec := owaspAuditByRequest(t, e.store, id)[0]
			require.Equalf(t, "127.0.0.1", rec.SourceAddr, "%s from an untrusted peer became the client address", h)
		}
	})

	t.Run("a wrong method is 405", func(t *testing.T) {
		byPath := map[string][]string{}
		for _, rt := range e.srv.echo.Routes() {
			if !strings.HasPrefix(rt.Path, "/owasp/") {
				byPath[rt.Path] = append(byPath[rt.Path], rt.Method)
			}
		}
		for path, methods := range byPath {
			url := strings.NewReplacer(":id", uuid.NewString(), ":sid", uuid.NewString()).Replace(path)
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodTrace} {
				if slices.Contains(methods, m) {
					continue
				}
				r := owaspSend(t, e, m, url, "", "", "", nil)
				check(t, m+" "+path, r, http.StatusMethodNotAllowed)
				require.Equal(t, ProblemMethod, r.problem(t).Type)
			}
		}
	})

	t.Run("no debug or undocumented endpoint answers", func(t *testing.T) {
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=2", "/debug/vars", "/v0/assessments", "/v2/assessments",
			"/api/v1/assessments", "/admin", "/.env", "/.git/config", "/swagger/index.html", "/swagger.json", "/server-status",
			"/actuator/health", "/v1/assessments/../../etc/passwd", "/v1/internal/config", "/graphql"} {
			r := owaspSend(t, e, http.MethodGet, p, owner(), "", "", nil)
			check(t, "GET "+p, r, http.StatusNotFound)
		}
	})

	// Last: it takes Redis away from this env.
	t.Run("a Redis outage", func(t *testing.T) {
		require.NoError(t, e.cache.Close())
		r := owaspSend(t, e, http.MethodGet, "/v1/me", owner(), "", "", nil)
		check(t, "token check without Redis", r, http.StatusServiceUnavailable)
		require.NotEmpty(t, r.Header.Get("Retry-After"))
		r = owaspTryLogin(t, e, tenant, "a@b.test", "wrong-password", nil)
		probes++
		// Sign-in fails closed: without the lockout counter no password is checked.
		require.GreaterOrEqualf(t, r.Status, 500, "%s", r.Body)
		t.Logf("sign-in without Redis: %d %s", r.Status, r.problem(t).Type)
		owaspRequireSecurityHeaders(t, "sign-in without Redis", r)
		owaspRequireNoLeak(t, "sign-in without Redis", r.Body)
	})

	t.Logf("OWASP API8: %d probes: security headers and leak-free problems on every answer class, malformed bodies on "+
		"every body route, CORS allow-list, forwarding headers ignored, 405 on wrong methods, no debug endpoints", probes)
}

// TestOWASPAPI9InventoryManagement checks OWASP API9:2023: the routes the
// gateway serves, the operations the OpenAPI document describes and the
// access matrix's rows are one set (nothing undocumented, nothing stale),
// every operation has a unique operationId, and every route but the
// operational ones sits under the versioned /v1 prefix.
func TestOWASPAPI9InventoryManagement(t *testing.T) {
	t.Parallel()
	served := map[string]bool{}
	for _, r := range (&Server{}).routes().Routes() { // routes only: no handler runs
		served[r.Method+" "+r.Path] = true
	}
	matrix := map[string]bool{}
	for _, row := range AccessMatrix() {
		matrix[row.Method+" "+row.Route] = true
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	documented := map[string]bool{}
	operationIDs := map[string]string{}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for path, ops := range doc.Paths {
		for m, raw := range ops {
			if !slices.Contains(methods, m) {
				continue
			}
			name := strings.ToUpper(m) + " " + param.ReplaceAllString(path, ":$1")
			documented[name] = true
			var op struct {
				OperationID string `json:"operationId"`
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			require.NotEmptyf(t, op.OperationID, "%s has no operationId", name)
			other, dup := operationIDs[op.OperationID]
			require.Falsef(t, dup, "operationId %s names both %s and %s", op.OperationID, other, name)
			operationIDs[op.OperationID] = name
		}
	}
	missing := func(from, in map[string]bool) []string {
		var out []string
		for k := range from {
			if !in[k] {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	require.Empty(t, missing(served, documented), "served but not in the OpenAPI document")
	require.Empty(t, missing(documented, served), "in the OpenAPI document but not served (stale)")
	require.Empty(t, missing(served, matrix), "served but not in the access matrix")
	require.Empty(t, missing(matrix, served), "in the access matrix but not served (stale)")
	operational := []string{"/healthz", "/readyz", "/openapi.json", "/.well-known/jwks.json"}
	for name := range served {
		_, path, _ := strings.Cut(name, " ")
		require.Truef(t, strings.HasPrefix(path, "/v1/") || slices.Contains(operational, path), "%s is outside the versioned API", name)
	}
	t.Logf("OWASP API9: %d probes: %d served routes, %d documented operations and %d access-matrix rows compared as one set, "+
		"operationIds unique, every API route under /v1", len(served)+len(documented)+len(matrix), len(served), len(documented), len(matrix))
}

// owaspReceiver is a webhook endpoint under test control, counting the
// requests it got.
type owaspReceiver struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newOWASPReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *owaspReceiver {
	t.Helper()
	rc := &owaspReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		// Read the delivery first: the server notices a client that hung
		// up (and cancels r's context) only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// owaspRunDispatcher runs the webhook dispatcher on e's bus and store until
// the test ends.
func owaspRunDispatcher(t *testing.T, e *env, policy webhook.Policy) {
	t.Helper()
	d, err := webhook.New(e.bus, e.store.Webhooks, e.logs.log, webhook.Config{
		Policy: policy, Timeout: time.Second, MaxAttempts: 2, BackOff: []time.Duration{20 * time.Millisecond},
	})
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
}

// owaspPublishCompleted publishes an assessment's completed event as the
// synthesizer does, which the dispatcher delivers to the tenant's webhooks.
func owaspPublishCompleted(t *testing.T, e *env, tenant string) string {
	t.Helper()
	id := uuid.NewString()
	msgID := assessment.DeterministicID(id, "completed-event")
	require.NoError(t, e.bus.Publish(context.Background(), bus.Message{
		ID: msgID, Type: bus.TypeAssessmentCompleted, Source: "/services/synthesizer",
		Subject: bus.SubjectCompleted(tenant, id), Tenant: tenant, CESubject: id, Time: time.Now(),
		Data: &inframindv1.AssessmentCompleted{
			Metadata: &inframindv1.Metadata{EventId: msgID, TenantId: tenant, AssessmentId: id},
			Status:   "completed", ReportPath: "/v1/assessments/" + id + "/report",
		},
	}))
	return msgID
}

// owaspSettled waits (a hang bound) until the tenant's only delivery to
// hook is settled, read through the API, and returns the raw answer.
func owaspSettled(t *testing.T, e *env, bearer, hookID string) (store.Delivery, []byte) {
	t.Helper()
	var d store.Delivery
	var raw []byte
	require.Eventually(t, func() bool {
		r := owaspSend(t, e, http.MethodGet, "/v1/webhooks/"+hookID+"/deliveries", bearer, "", "", nil)
		var list struct{ Items []store.Delivery }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &list) != nil || len(list.Items) == 0 {
			return false
		}
		d, raw = list.Items[0], r.Body
		return d.Status == store.DeliverySucceeded || d.Status == store.DeliveryFailed
	}, 20*time.Second, 50*time.Millisecond, "delivery to webhook %s", hookID)
	return d, raw
}

// TestOWASPAPI10UnsafeConsumption checks OWASP API10:2023 where the platform
// consumes another API: webhook receivers' answers (no LLM provider is
// called yet). A receiver's answer is read as a status code only: a huge
// body is not read beyond a bound, a body (a lie, markup, another tenant's
// name) is neither stored nor shown to the tenant, a redirect loop is cut,
// a receiver that never answers times out, and an endpoint that now points
// at an internal address (DNS rebinding) is never connected to.
func TestOWASPAPI10UnsafeConsumption(t *testing.T) {
	t.Parallel()
	const marker = "OWASP-RECEIVER-MARKER <script>alert(1)</script>"
	var probes atomic.Int64

	// The two cases run at once, in this test's own turn, on gateways of
	// their own: each waits at its end for its dispatcher to stop, which
	// takes a fetch's wait (5 s). (Parallel subtests would queue behind
	// every other parallel test of the package for a turn.)
	var cases sync.WaitGroup
	cases.Go(func() {
		t.Run("receivers' answers", func(t *testing.T) {
			// The development opt-in lets the local receivers register; their
			// answers are what is tested.
			e := newEnv(t, Config{WebhookPolicy: webhook.Policy{AllowPrivate: true}})
			owaspRunDispatcher(t, e, webhook.Policy{AllowPrivate: true})

			var written atomic.Int64
			huge := newOWASPReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusInternalServerError)
				chunk := []byte(marker + strings.Repeat("x", 32<<10))
				for range 16 << 10 { // up to 512 MiB, unless the client stops reading
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			liar := newOWASPReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Set-Cookie", "session="+marker)
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, `{"tenant":"other-tenant","status":"failed","error":"`+marker+`"}`)
			})
			var loop *owaspReceiver
			loop = newOWASPReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, loop.srv.URL+"/again", http.StatusTemporaryRedirect)
			})
			silent := newOWASPReceiver(t, func(_ http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
			})
			receivers := []struct {
				name string
				rc   *owaspReceiver
				ok   bool
				// maxHits bounds the requests the receiver may get over both attempts.
				maxHits int64
			}{
				{"a huge error body", huge, false, 2},
				{"a lying success body", liar, true, 1},
				{"a redirect loop", loop, false, 2 * 4},
				{"no answer", silent, false, 2},
			}
			for i, rc := range receivers {
				tenant := "consume-" + strconv.Itoa(i)
				owner := owaspDevToken(t, e, tenant, auth.RoleOwner)
				hook := owaspDecode[api.WebhookCreated](t, owaspSend(t, e, http.MethodPost, "/v1/webhooks", owner, echo.MIMEApplicationJSON,
					`{"url":"`+rc.rc.srv.URL+`/hook","event_types":["assessment.completed"]}`, nil), http.StatusCreated)
				owaspPublishCompleted(t, e, tenant)
				d, raw := owaspSettled(t, e, owner, hook.ID)
				probes.Add(1)
				if rc.ok {
					require.Equal(t, store.DeliverySucceeded, d.Status, rc.name)
				} else {
					require.Equal(t, store.DeliveryFailed, d.Status, rc.name)
				}
				require.NotContainsf(t, string(raw), "OWASP-RECEIVER-MARKER", "%s: the receiver's words reached the tenant's delivery log", rc.name)
				require.NotContainsf(t, string(raw), "other-tenant", rc.name)
				require.LessOrEqualf(t, rc.rc.hits.Load(), rc.maxHits, rc.name)
				require.Positivef(t, rc.rc.hits.Load(), rc.name)
				stored, err := e.store.Webhooks.GetDelivery(context.Background(), tenant, d.ID)
				require.NoError(t, err)
				require.NotContainsf(t, owaspJSON(t, stored), "OWASP-RECEIVER-MARKER", "%s: the receiver's words were stored", rc.name)
			}
			// Two attempts read at most 64 KiB each; the receiver's writes stop
			// once the socket buffers between them are full, far short of 512 MiB.
			require.Less(t, written.Load(), int64(64<<20), "the huge body was read beyond the bound")
			t.Logf("the huge receiver wrote %d KiB of its 512 MiB before the dispatcher stopped reading", written.Load()>>10)
		})

	})
	cases.Go(func() {
		t.Run("an endpoint re-pointed at an internal address", func(t *testing.T) {
			e := newEnv(t, Config{})
			owaspRunDispatcher(t, e, webhook.Policy{}) // the production policy
			internal := newOWASPReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			const tenant = "rebind"
			owner := owaspDevToken(t, e, tenant, auth.RoleOwner)
			// Registered while its name pointed at a public address; the store
			// holds what a re-pointed name now reaches: the loopback receiver.
			secret, err := webhook.NewSecret()
			require.NoError(t, err)
			hook, err := e.store.Webhooks.Create(context.Background(), store.Webhook{ID: uuid.NewString(), TenantID: tenant,
				URL: strings.Replace(internal.srv.URL, "http://", "https://", 1) + "/hook", EventTypes: []string{webhook.EventAssessmentCompleted}, Secret: secret})
			require.NoError(t, err)
			owaspPublishCompleted(t, e, tenant)
			d, _ := owaspSettled(t, e, owner, hook.ID)
			probes.Add(1)
			require.Equal(t, store.DeliveryFailed, d.Status)
			require.Contains(t, d.Attempts[0].Error, webhook.ErrForbiddenURL.Error())
			require.Zero(t, internal.hits.Load(), "the dispatcher connected to an internal address")
		})
	})
	cases.Wait()

	t.Logf("OWASP API10: %d probes: webhook receivers' answers (huge, lying, redirect loop, silent) read as status codes "+
		"only, bounded in size, redirects and time; an endpoint re-pointed at an internal address never connected to", probes.Load())
}
