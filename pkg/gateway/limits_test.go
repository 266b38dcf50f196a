package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// longWindow keeps a test's requests inside one rate window, so none
// leaves it mid-test.
const longWindow = 24 * time.Hour

// sharedStack starts one devstack whose servers several gateways share, as
// replicas in production share Redis.
func sharedStack(t *testing.T) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devstackStart.Lock()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	devstackStart.Unlock()
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	return stack
}

// doAs sends a request with a token for subject in tenant.
func (e *env) doAs(t *testing.T, method, path, tenant, subject, body string, hdr map[string]string) *http.Response {
	t.Helper()
	tok, err := e.signer.Issue(subject, tenant, []string{"owner"}, time.Hour)
	require.NoError(t, err)
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// requireTooMany checks a 429 problem with a usable Retry-After.
func requireTooMany(t *testing.T, resp *http.Response, wantType string) Problem {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	require.Positive(t, secs)
	p := decodeBody[Problem](t, resp)
	require.Equal(t, wantType, p.Type)
	require.Equal(t, http.StatusTooManyRequests, p.Status)
	return p
}

func TestRateLimitsAreSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	stack := sharedStack(t)
	cfg := Config{Limits: Limits{TenantRequests: 4, UserRequests: 100, ExpensiveRequests: 2, RateWindow: longWindow}}
	a := newEnvAt(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL)
	b := newEnvAt(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL)

	t.Run("tenant limit spent across both replicas", func(t *testing.T) {
		t.Parallel()
		for i, e := range []*env{a, b, a, b} {
			resp := e.doAs(t, http.MethodGet, "/v1/assessments", "acme", "user-1", "", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "request %d", i+1)
			require.Equal(t, "4", resp.Header.Get("RateLimit-Limit"))
			require.Equal(t, strconv.Itoa(3-i), resp.Header.Get("RateLimit-Remaining"))
			reset, err := strconv.Atoi(resp.Header.Get("RateLimit-Reset"))
			require.NoError(t, err)
			require.Positive(t, reset)
			resp.Body.Close()
		}
		for _, e := range []*env{a, b} {
			resp := e.doAs(t, http.MethodGet, "/v1/assessments", "acme", "user-2", "", nil)
			p := requireTooMany(t, resp, ProblemRateLimited)
			require.Contains(t, p.Detail, "organisation")
			require.Equal(t, "0", resp.Header.Get("RateLimit-Remaining"))
		}

		resp := b.doAs(t, http.MethodGet, "/v1/assessments", "globex", "user-1", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "another tenant is unaffected")
		resp.Body.Close()
	})

	t.Run("user limit", func(t *testing.T) {
		t.Parallel()
		e := newEnvAt(t, Config{Limits: Limits{TenantRequests: 100, UserRequests: 2, RateWindow: longWindow}},
			stack.NATSURL, stack.MongoURI, stack.RedisURL)
		for range 2 {
			resp := e.doAs(t, http.MethodGet, "/v1/assessments", "initech", "ann", "", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp.Body.Close()
		}
		p := requireTooMany(t, e.doAs(t, http.MethodGet, "/v1/assessments", "initech", "ann", "", nil), ProblemRateLimited)
		require.Contains(t, p.Detail, "your request limit")
		resp := e.doAs(t, http.MethodGet, "/v1/assessments", "initech", "bob", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "another user of the tenant is unaffected")
		resp.Body.Close()
	})

	t.Run("expensive routes are stricter per address", func(t *testing.T) {
		t.Parallel()
		// Bad bodies still count: the limit guards the route, not success.
		for i, e := range []*env{a, b} {
			resp := e.doAs(t, http.MethodPost, "/v1/estimates/inference", "umbrella", "user-1", "{}", nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "request %d", i+1)
			resp.Body.Close()
		}
		p := requireTooMany(t, a.doAs(t, http.MethodPost, "/v1/estimates/training", "umbrella", "user-1", "{}", nil), ProblemRateLimited)
		require.Contains(t, p.Detail, "start computation")

		// The fourth request of the tenant: within the tenant limit.
		resp := a.doAs(t, http.MethodGet, "/v1/assessments", "umbrella", "user-1", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "ordinary routes keep their own limits")
		resp.Body.Close()
	})
}

func TestActiveAssessmentsCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Limits: Limits{MaxActiveAssessments: 2}})
	first := e.create(t, "acme", "one")
	e.create(t, "acme", "two")

	p := requireTooMany(t, e.do(t, http.MethodPost, "/v1/assessments", "acme", "application/yaml",
		strings.NewReader(string(readExample(t, "startup-rag.yaml"))), nil), ProblemTooManyActive)
	require.Contains(t, p.Detail, "limit of active assessments is 2")
	p = requireTooMany(t, e.do(t, http.MethodPost, "/v1/assessments/"+first+"/scenarios", "acme", "application/json",
		strings.NewReader(`{}`), nil), ProblemTooManyActive)
	require.Contains(t, p.Detail, "2 assessments queued or running")

	e.create(t, "globex", "other tenant") // another tenant has its own cap

	_, won, err := e.store.Assessments.Finish(context.Background(), "acme", first, string(assessment.StatusCompleted), nil, "", time.Now())
	require.NoError(t, err)
	require.True(t, won)
	e.create(t, "acme", "three") // a finished assessment frees its slot

	resp := e.do(t, http.MethodPost, "/v1/assessments", "acme", "application/yaml",
		strings.NewReader(string(readExample(t, "startup-rag.yaml"))), nil)
	requireTooMany(t, resp, ProblemTooManyActive)

	// A rejected create leaves no slot behind: the reservations are gone.
	holders, err := e.srv.prot.slots.Holders(context.Background(), "im:acme:active")
	require.NoError(t, err)
	require.Len(t, holders, 2)
	for _, h := range holders {
		require.NotContains(t, h, reservationPrefix)
	}
}

// TestLimitsFailOpenButRevocationFailsClosedWhenRedisIsDown shows the two
// answers to a Redis outage (ADR 0009): an access token is refused with 503,
// since whether it was revoked cannot be known, while an API key, which is
// checked in the store, still gets through, because the rate limits and the
// active-assessment cap protect capacity, not data, and fail open.
func TestLimitsFailOpenButRevocationFailsClosedWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	const tenant = "acme"
	e := newEnv(t, Config{Limits: Limits{TenantRequests: 1, MaxActiveAssessments: 1, RateWindow: longWindow}})
	_, key, err := e.ident.CreateAPIKey(t.Context(), tenant, identity.NewAPIKey{
		Name: "ci", Role: auth.RoleAnalyst, CreatedBy: "user-" + tenant,
	})
	require.NoError(t, err)
	withKey := func(method, path, contentType, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}

	require.NoError(t, e.cache.Close())

	// Fail closed: a token whose revocation cannot be checked is not let in.
	resp := e.do(t, http.MethodGet, "/v1/assessments", tenant, "", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	require.Positive(t, secs)
	p := decodeBody[Problem](t, resp)
	require.Equal(t, ProblemUnavailable, p.Type)

	// Fail open: over the tenant's limit of 1 request and its cap of 1
	// active assessment, the API key's requests still pass.
	for range 2 {
		resp := withKey(http.MethodGet, "/v1/assessments", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
	}
	doc := string(readExample(t, "startup-rag.yaml"))
	for range 2 {
		resp := withKey(http.MethodPost, "/v1/assessments", "application/yaml", doc)
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		resp.Body.Close()
	}
	d := e.srv.prot.decisions
	require.Positive(t, testutil.ToFloat64(d.WithLabelValues("tenant", "redis_error")))
	require.Equal(t, float64(2), testutil.ToFloat64(d.WithLabelValues("active", "redis_error")))
	require.Zero(t, testutil.ToFloat64(d.WithLabelValues("tenant", "refused")))

	// The warning names every limit left uncounted, not only the first.
	e.logs.mu.Lock()
	logged := e.logs.lines.String()
	e.logs.mu.Unlock()
	require.Contains(t, logged, `"checks":["tenant","user","address"]`)
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://app.example.com", "https://evil.example.com"
	strict := newEnvOnFakes(t, Config{Limits: Limits{CORSAllowedOrigins: []string{allowed}}})
	none := newEnvOnFakes(t, Config{})

	tests := []struct {
		name      string
		e         *env
		method    string
		origin    string
		wantAllow string
	}{
		{"allowed origin", strict, http.MethodGet, allowed, allowed},
		{"other origin", strict, http.MethodGet, other, ""},
		{"look-alike subdomain", strict, http.MethodGet, "https://app.example.com.evil.net", ""},
		{"allowed preflight", strict, http.MethodOptions, allowed, allowed},
		{"other preflight", strict, http.MethodOptions, other, ""},
		{"no allow-list", none, http.MethodGet, allowed, ""},
		{"no allow-list preflight", none, http.MethodOptions, allowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, tc.e.http.URL+"/v1/assessments", nil)
			require.NoError(t, err)
			req.Header.Set("Origin", tc.origin)
			if tc.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", http.MethodPost)
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			} else {
				req.Header.Set("Authorization", "Bearer "+tc.e.token("acme"))
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.wantAllow, resp.Header.Get("Access-Control-Allow-Origin"))
			if tc.wantAllow == "" {
				require.Empty(t, resp.Header.Get("Access-Control-Allow-Methods"))
				require.Empty(t, resp.Header.Get("Access-Control-Expose-Headers"))
				return
			}
			if tc.method == http.MethodOptions {
				require.Equal(t, http.StatusNoContent, resp.StatusCode)
				require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), http.MethodPost)
				require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")
			} else {
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After")
			}
		})
	}
}

func TestProtectionRejectsLooseCORSOrigins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		origin string
	}{
		{"wildcard", "*"},
		{"no scheme", "app.example.com"},
		{"trailing slash", "https://app.example.com/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newProtection(Limits{CORSAllowedOrigins: []string{tc.origin}}, nil, nil, nil)
			require.ErrorContains(t, err, "exact scheme://host")
		})
	}
}

func TestListPageSizeIsCapped(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	tests := []struct {
		name, query string
		want        int
	}{
		{"largest page", "?limit=100", http.StatusOK},
		{"over the cap", "?limit=101", http.StatusBadRequest},
		{"zero", "?limit=0", http.StatusBadRequest},
		{"not a number", "?limit=lots", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.do(t, http.MethodGet, "/v1/assessments"+tc.query, "acme", "", nil, nil)
			require.Equal(t, tc.want, resp.StatusCode)
			if tc.want == http.StatusBadRequest {
				p := decodeBody[Problem](t, resp)
				require.Equal(t, "limit", p.Errors[0].Field)
				require.Contains(t, p.Errors[0].Reason, "from 1 to 100")
				return
			}
			resp.Body.Close()
		})
	}
}

func TestExpensiveRoutesExist(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	var expensive []string
	for _, r := range e.srv.echo.Routes() {
		if isExpensive(r.Method, r.Path) {
			expensive = append(expensive, r.Path)
		}
	}
	// Every route isExpensive names is a real route, so a renamed route
	// cannot silently lose its stricter limit. Sign-in and refresh count
	// once their handlers are registered.
	want := []string{"/v1/assessments", "/v1/assessments/:id/versions", "/v1/assessments/:id/scenarios",
		"/v1/estimates/inference", "/v1/estimates/training", "/v1/assessments/:id/conversations/:cid/messages"}
	for _, r := range e.srv.echo.Routes() {
		if r.Method == http.MethodPost && (r.Path == "/v1/auth/login" || r.Path == "/v1/auth/refresh") {
			want = append(want, r.Path)
		}
	}
	require.ElementsMatch(t, want, expensive)
	require.True(t, isExpensive(http.MethodPost, "/v1/auth/login"))
	require.True(t, isExpensive(http.MethodPost, "/v1/auth/refresh"))
}

// anonymousRoute registers a stand-in for a pre-authentication route (the
// sign-in handler lands separately) behind rateLimitAnonymous. Call it
// before the env serves any request.
func anonymousRoute(e *env) string {
	const path = "/test/anonymous"
	e.srv.echo.POST(path, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, e.srv.rateLimitAnonymous)
	return path
}

// postFrom posts to path with an X-Forwarded-For header ("" for none).
func postFrom(t *testing.T, e *env, path, xff string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+path, nil)
	require.NoError(t, err)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func TestRateLimitAnonymousPerAddress(t *testing.T) {
	t.Parallel()
	stack := sharedStack(t)
	cfg := Config{Limits: Limits{AuthRequests: 3, RateWindow: longWindow}}
	a := newEnvAt(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL)
	b := newEnvAt(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL)
	pa, pb := anonymousRoute(a), anonymousRoute(b)

	// Three tries from one address, spread over two replicas, spend the limit.
	for i, try := range []struct {
		e    *env
		path string
	}{{a, pa}, {b, pb}, {a, pa}} {
		resp := postFrom(t, try.e, try.path, "")
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "try %d", i+1)
		require.Equal(t, "3", resp.Header.Get("RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(2-i), resp.Header.Get("RateLimit-Remaining"))
		resp.Body.Close()
	}
	p := requireTooMany(t, postFrom(t, b, pb, ""), ProblemRateLimited)
	require.Contains(t, p.Detail, "sign-in and token requests from your address")
	require.Contains(t, p.Detail, "3 requests per window")

	// The tenant limits are untouched: the anonymous count has its own key.
	resp := a.doAs(t, http.MethodGet, "/v1/assessments", "acme", "user-1", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, float64(1), testutil.ToFloat64(b.srv.prot.decisions.WithLabelValues("auth-address", "refused")))
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	limits := Limits{AuthRequests: 2, RateWindow: longWindow}
	tests := []struct {
		name    string
		trusted []string
		// spoofed says whether the X-Forwarded-For entry becomes the client
		// address.
		believed bool
	}{
		{"no proxy configured: X-Forwarded-For is ignored", nil, false},
		{"the peer is not a trusted proxy", []string{"10.0.0.0/8", "2001:db8::/32"}, false},
		{"the peer is a trusted proxy", []string{"127.0.0.1/32"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A Redis of its own: the untrusted cases would share the peer's bucket.
			e := newEnv(t, Config{Limits: limits, TrustedProxies: tc.trusted})
			path := anonymousRoute(e)
			statuses := make([]int, 0, 3)
			for i := range 3 {
				resp := postFrom(t, e, path, "203.0.113."+strconv.Itoa(i+1))
				statuses = append(statuses, resp.StatusCode)
				resp.Body.Close()
			}
			if tc.believed {
				// Each forwarded client has its own bucket.
				require.Equal(t, []int{http.StatusNoContent, http.StatusNoContent, http.StatusNoContent}, statuses)
			} else {
				// One bucket, the peer's, however the header is spoofed.
				require.Equal(t, []int{http.StatusNoContent, http.StatusNoContent, http.StatusTooManyRequests}, statuses)
			}

			// The audit log's source address follows the same rule.
			const forwarded = "192.0.2.44"
			req, err := http.NewRequest(http.MethodGet, e.http.URL+"/v1/assessments", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+e.token("acme-proxies"))
			req.Header.Set("X-Forwarded-For", forwarded)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			rec := byRequestID(t, e.store, resp.Header.Get("X-Request-Id"))[0]
			require.Equal(t, "127.0.0.1", rec.PeerAddr)
			if tc.believed {
				require.Equal(t, forwarded, rec.SourceAddr)
			} else {
				require.Equal(t, "127.0.0.1", rec.SourceAddr)
			}
		})
	}
}

func TestNewRejectsInvalidTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	tests := []struct {
		name, cidr string
	}{
		{"bare address", "10.0.0.1"},
		{"hostname", "proxy.internal"},
		{"bad mask", "10.0.0.0/33"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := New(Config{TrustedProxies: []string{"192.0.2.0/24", tc.cidr}}, e.srv.deps)
			require.ErrorContains(t, err, `trusted proxy "`+tc.cidr+`" is not a CIDR`)
			require.Nil(t, srv)
		})
	}
	nets, err := parseTrustedProxies([]string{"192.0.2.0/24", " 2001:db8::/32 "})
	require.NoError(t, err)
	require.Len(t, nets, 2)
}

// TestEventStreamsAreCappedPerCredentialAndTenant opens event streams on two
// replicas sharing Redis: a credential may hold MaxStreamsPerCredential at
// once and a tenant MaxStreamsPerTenant, whatever replica serves them and
// whatever X-Request-Id the client repeats; the next answers 429 naming the
// cap, and a stream the client closes frees its slot.
func TestEventStreamsAreCappedPerCredentialAndTenant(t *testing.T) {
	t.Parallel()
	stack := sharedStack(t)
	cfg := Config{Limits: Limits{MaxStreamsPerCredential: 2, MaxStreamsPerTenant: 3}}
	rs := owaspReplicas(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL, 2) // one store, one key
	a, b := rs[0], rs[1]
	id := a.create(t, "acme", "followed")
	path := "/v1/assessments/" + id + "/events"
	sameID := map[string]string{"X-Request-Id": "one-id-for-every-stream"}
	open := func(e *env, subject string) *http.Response {
		t.Helper()
		resp := e.doAs(t, http.MethodGet, path, "acme", subject, "", sameID)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	first := open(a, "ann")
	require.Equal(t, http.StatusOK, first.StatusCode)
	require.Equal(t, http.StatusOK, open(b, "ann").StatusCode, "a second stream on another replica")
	p := requireTooMany(t, open(b, "ann"), ProblemTooManyStreams)
	require.Contains(t, p.Detail, "this credential's limit of open event streams is 2")
	require.Equal(t, http.StatusOK, open(a, "bob").StatusCode, "another credential has its own cap")
	p = requireTooMany(t, open(a, "bob"), ProblemTooManyStreams)
	require.Contains(t, p.Detail, "your organisation's limit of open event streams is 3")

	other := b.create(t, "globex", "other tenant")
	resp := b.doAs(t, http.MethodGet, "/v1/assessments/"+other+"/events", "globex", "ann", "", nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "another tenant has its own caps")

	// The client goes away: its slot is released when the server notices.
	require.NoError(t, first.Body.Close())
	require.Eventually(t, func() bool {
		resp := a.doAs(t, http.MethodGet, path, "acme", "ann", "", sameID)
		t.Cleanup(func() { resp.Body.Close() })
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "a closed stream frees its slot")
	holders, err := a.srv.prot.slots.Holders(context.Background(), "im:acme:sse:tenant")
	require.NoError(t, err)
	require.Len(t, holders, 3, "refused streams hold no slot")
}
