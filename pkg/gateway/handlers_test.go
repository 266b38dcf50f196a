package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/apptest"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// The tests in this file (and the estimate tests) drive the handlers (decode, call the use
// case, encode, map errors to problems) through the server New builds, with
// its whole middleware chain, on in-process fakes of the use cases' ports
// (identity_fakes_test.go): no server is started. The end-to-end tests on
// real servers (gateway_test.go, access_test.go, owasp_test.go) guard the
// adapters beneath.

// fakeEnv serves the API over HTTP on fakes, with the fakes at hand to
// arrange and inspect what the routes stored and queued. Its requests carry
// an owner's token of the tenant they name; the rate limits and the cap on
// active assessments are raised out of the tests' way unless cfg sets them
// (limits_test.go covers them).
type fakeEnv struct {
	*fakePorts
	env  *env
	http *httptest.Server
}

func newFakeEnv(t *testing.T) *fakeEnv {
	t.Helper()
	return newFakeEnvWith(t, Config{})
}

// newFakeEnvWith is newFakeEnv with cfg (New's defaults, except a 90 s
// assessment deadline and an hour between keep-alive comments, applied to
// what cfg leaves zero).
func newFakeEnvWith(t *testing.T, cfg Config) *fakeEnv {
	t.Helper()
	if cfg.AssessmentTimeout == 0 {
		cfg.AssessmentTimeout = 90 * time.Second
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = time.Hour
	}
	const plenty = 1_000_000
	l := &cfg.Limits
	for _, v := range []*int{&l.TenantRequests, &l.UserRequests, &l.ExpensiveRequests, &l.AuthRequests,
		&l.MaxActiveAssessments, &l.MaxStreamsPerCredential, &l.MaxStreamsPerTenant} {
		if *v == 0 {
			*v = plenty
		}
	}
	h := newFakeIdentityEnv(t, cfg)
	return &fakeEnv{fakePorts: h.fakes, env: h.env, http: h.http}
}

// finished stores a finished assessment of tenant and returns its id.
func (f *fakeEnv) finished(t *testing.T, tenant, name, status string) string {
	t.Helper()
	id := uuid.NewString()
	require.NoError(t, f.repo.Create(context.Background(), store.Assessment{ID: id, TenantID: tenant, Name: name, Status: status}))
	return id
}

// do sends a request as tenant.
func (f *fakeEnv) do(t *testing.T, method, path, tenant, contentType string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.env.token(tenant))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func TestCreateAssessment(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	tests := []struct {
		name, contentType string
		body              []byte
		wantName          string
	}{
		{name: "yaml", contentType: "application/yaml", body: readExample(t, "chatbot-70b-hipaa-us.yaml"), wantName: "Patient support chatbot (Llama 3.1 70B)"},
		{name: "json", contentType: "application/json; charset=utf-8", wantName: "JSON bot",
			body: []byte(`{"name":"JSON bot","business":{"company_size":"smb","regions":["eu"]},"workloads":[{"name":"api","kind":"general","peak_requests_per_second":20}]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			resp := f.do(t, http.MethodPost, "/v1/assessments", "acme", tc.contentType, bytes.NewReader(tc.body), nil)
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
			created := decodeBody[api.AssessmentCreated](t, resp)
			require.Equal(t, "/v1/assessments/"+created.ID, resp.Header.Get("Location"))
			require.Equal(t, api.AssessmentStatus("queued"), created.Status)
			require.Equal(t, "/v1/assessments/"+created.ID, created.StatusURL)
			require.Equal(t, "/v1/assessments/"+created.ID+"/events", created.EventsURL)
			require.Equal(t, "/v1/assessments/"+created.ID+"/report", created.ReportURL)

			a, err := f.repo.Get(t.Context(), "acme", created.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantName, a.Name)
			require.Equal(t, "queued", a.Status)
			require.Equal(t, store.KindBase, a.Kind)
			require.Len(t, a.Families, 6)
			for _, fam := range assessment.Families() {
				require.Equal(t, "pending", a.Families[string(fam)].Status)
			}
			require.NotEmpty(t, a.CorrelationID)
			require.WithinDuration(t, before.Add(90*time.Second), a.Deadline, 10*time.Second)

			// Queued once, with the request, every family and the correlation id.
			var found []apptest.Queued
			for _, q := range f.queue.Of("acme") {
				if q.ID == created.ID {
					found = append(found, q)
				}
			}
			require.Len(t, found, 1)
			require.Equal(t, tc.wantName, found[0].Request.GetName())
			require.Len(t, found[0].Families, 6)
			require.Equal(t, a.CorrelationID, found[0].CorrelationID)

			// GET shows it, with the request as submitted.
			resp = f.do(t, http.MethodGet, "/v1/assessments/"+created.ID, "acme", "", nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			view := decodeBody[map[string]any](t, resp)
			require.Equal(t, tc.wantName, view["name"])
			require.Equal(t, tc.wantName, view["request"].(map[string]any)["name"])

			// Another tenant reads it as missing.
			resp = f.do(t, http.MethodGet, "/v1/assessments/"+created.ID, "globex", "", nil, nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			resp.Body.Close()
		})
	}
}

func TestCreateAssessmentIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	body := readExample(t, "startup-rag.yaml")
	post := func(tenant, key string, b []byte) *http.Response {
		return f.do(t, http.MethodPost, "/v1/assessments", tenant, "application/yaml", bytes.NewReader(b), map[string]string{"Idempotency-Key": key})
	}
	first := post("acme", "order-42", body)
	require.Equal(t, http.StatusAccepted, first.StatusCode)
	a := decodeBody[api.AssessmentCreated](t, first)
	again := post("acme", "order-42", body)
	require.Equal(t, http.StatusAccepted, again.StatusCode)
	b := decodeBody[api.AssessmentCreated](t, again)
	require.Equal(t, a.ID, b.ID)
	require.Len(t, f.queue.Of("acme"), 1, "one command despite two POSTs")

	other := post("globex", "order-42", body)
	require.Equal(t, http.StatusAccepted, other.StatusCode)
	require.NotEqual(t, a.ID, decodeBody[api.AssessmentCreated](t, other).ID, "keys are per tenant")

	changed := post("acme", "order-42", bytes.Replace(body, []byte("corpus_gb: 5"), []byte("corpus_gb: 6"), 1))
	require.Equal(t, http.StatusUnprocessableEntity, changed.StatusCode)
	require.Equal(t, ProblemIdempotencyKey, decodeBody[Problem](t, changed).Type)

	bad := post("acme", "has space", body)
	require.Equal(t, http.StatusBadRequest, bad.StatusCode)
	require.Equal(t, "Idempotency-Key", decodeBody[Problem](t, bad).Errors[0].Field)
}

func TestCreateAssessmentRejects(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	valid := string(readExample(t, "startup-rag.yaml"))
	huge := valid + "\n# " + strings.Repeat("x", 2<<20) + "\n"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		problemType string
		field       string
	}{
		{name: "missing workloads", contentType: "application/json", body: `{"name":"x","business":{"company_size":"startup","regions":["us"]}}`,
			status: 400, problemType: ProblemInvalidRequest, field: "workloads"},
		{name: "negative rate", contentType: "application/yaml", body: strings.Replace(valid, "peak_requests_per_second: 50", "peak_requests_per_second: -50", 1),
			status: 400, problemType: ProblemInvalidRequest, field: "workloads[1].peak_requests_per_second"},
		{name: "bad enum", contentType: "application/yaml", body: strings.Replace(valid, "kind: general", "kind: webapp", 1),
			status: 400, problemType: ProblemInvalidRequest, field: "workloads[1].kind"},
		{name: "unknown field", contentType: "application/json",
			body:   `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"a","kind":"general","peak_requests_per_second":1,"gpu":"h100"}]}`,
			status: 400, problemType: ProblemInvalidRequest, field: "workloads[0].gpu"},
		{name: "bad yaml", contentType: "application/yaml", body: "name: [oops\nbusiness: {",
			status: 400, problemType: ProblemInvalidRequest, field: ""},
		{name: "yaml sent as json", contentType: "application/json", body: valid,
			status: 400, problemType: ProblemInvalidRequest, field: ""},
		{name: "body over 1 MiB", contentType: "application/yaml", body: huge,
			status: 413, problemType: ProblemTooLarge},
		{name: "unsupported content type", contentType: "text/plain", body: valid,
			status: 415, problemType: ProblemUnsupportedType},
		{name: "no content type", contentType: "", body: valid,
			status: 415, problemType: ProblemUnsupportedType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.do(t, http.MethodPost, "/v1/assessments", "acme", tc.contentType, strings.NewReader(tc.body), nil)
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
			p := decodeBody[Problem](t, resp)
			require.Equal(t, tc.problemType, p.Type)
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, "/v1/assessments", p.Instance)
			require.NotEmpty(t, p.RequestID)
			if tc.status == 400 {
				require.NotEmpty(t, p.Errors)
				var fields []string
				for _, fe := range p.Errors {
					fields = append(fields, fe.Field)
					require.NotEmpty(t, fe.Reason)
				}
				require.Contains(t, fields, tc.field)
			}
		})
	}
	// A streamed body with no Content-Length is cut at the limit too.
	req, err := http.NewRequest(http.MethodPost, f.http.URL+"/v1/assessments", io.MultiReader(strings.NewReader(huge)))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+f.env.token("acme"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp.Body.Close()
	require.Empty(t, f.queue.Of("acme"), "nothing refused is queued")
}

// A broker outage leaves the assessment stored and answers 503 with
// Retry-After and how to retry without a duplicate; the retry with the same
// key queues it.
func TestCreateAssessmentQueueDown(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	body := readExample(t, "startup-rag.yaml")
	f.queue.Fail = errors.New("nats: no responders")
	hdr := map[string]string{"Idempotency-Key": "k-1"}
	resp := f.do(t, http.MethodPost, "/v1/assessments", "acme", "application/yaml", bytes.NewReader(body), hdr)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	p := decodeBody[Problem](t, resp)
	require.Equal(t, ProblemUnavailable, p.Type)
	require.Equal(t, "The assessment could not be queued. Retry with the same Idempotency-Key header to avoid a duplicate.", p.Detail)
	require.NotContains(t, p.Detail, "nats", "the cause is logged, not shown")

	f.queue.Fail = nil
	resp = f.do(t, http.MethodPost, "/v1/assessments", "acme", "application/yaml", bytes.NewReader(body), hdr)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	created := decodeBody[api.AssessmentCreated](t, resp)
	require.Equal(t, app.IdempotentID("acme", "k-1"), created.ID)
	require.Len(t, f.queue.Of("acme"), 1)
}

// Versions and scenarios hang off the base: a version re-runs it under the
// next number, a scenario runs it with overrides, and neither can be made of
// a child.
func TestVersionsAndScenarios(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	resp := f.do(t, http.MethodPost, "/v1/assessments", "acme", "application/yaml", bytes.NewReader(readExample(t, "startup-rag.yaml")), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	base := decodeBody[api.AssessmentCreated](t, resp)

	for want := 2; want <= 3; want++ {
		resp = f.do(t, http.MethodPost, "/v1/assessments/"+base.ID+"/versions", "acme", "", nil, nil)
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		v := decodeBody[api.ChildCreated](t, resp)
		require.NotNil(t, v.Version)
		require.Equal(t, want, *v.Version)
		require.Equal(t, base.ID, v.BaseID)
		require.Equal(t, store.VersionID(base.ID, want), v.ID)
		require.Equal(t, "/v1/assessments/"+base.ID, v.Links.Base)
	}
	resp = f.do(t, http.MethodGet, "/v1/assessments/"+base.ID+"/versions", "acme", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	versions := decodeBody[api.VersionList](t, resp)
	require.Len(t, versions.Items, 3)
	for i, v := range versions.Items {
		require.Equal(t, i+1, v.Version)
	}
	require.Equal(t, base.ID, versions.Items[0].ID)

	resp = f.do(t, http.MethodPost, "/v1/assessments/"+base.ID+"/scenarios", "acme", "application/json",
		strings.NewReader(`{"name":"double traffic","overrides":{"traffic_multiplier":2}}`), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", readAll(t, resp))
	sc := decodeBody[api.ChildCreated](t, resp)
	stored, err := f.repo.Get(t.Context(), "acme", sc.ID)
	require.NoError(t, err)
	require.Equal(t, "double traffic", stored.Name)
	require.Equal(t, store.KindScenario, stored.Kind)
	require.JSONEq(t, `{"traffic_multiplier":2}`, stored.Overrides)

	resp = f.do(t, http.MethodGet, "/v1/assessments/"+base.ID+"/scenarios", "acme", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	scs := decodeBody[api.ScenarioList](t, resp)
	require.Len(t, scs.Items, 1)
	require.Equal(t, sc.ID, scs.Items[0].ID)
	require.Len(t, f.queue.Of("acme"), 4, "the base, two versions and the scenario")

	// A child is not a base: 409 naming the base.
	resp = f.do(t, http.MethodPost, "/v1/assessments/"+sc.ID+"/versions", "acme", "", nil, nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	p := decodeBody[Problem](t, resp)
	require.Equal(t, "Not a base assessment", p.Title)
	require.Contains(t, p.Detail, "/v1/assessments/"+base.ID)

	// Another tenant sees nothing.
	resp = f.do(t, http.MethodGet, "/v1/assessments/"+base.ID+"/versions", "globex", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()

	// An override the request cannot take names its field.
	resp = f.do(t, http.MethodPost, "/v1/assessments/"+base.ID+"/scenarios", "acme", "application/json",
		strings.NewReader(`{"overrides":{"traffic_multiplier":-1}}`), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.NotEmpty(t, decodeBody[Problem](t, resp).Errors)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}
