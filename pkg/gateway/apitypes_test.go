package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// strictInto decodes doc into the generated type T refusing any field the
// OpenAPI document does not name, and anything after the value: a field the
// gateway sends but the document (and so every generated client) does not
// know fails here.
func strictInto[T any](t *testing.T, what string, doc []byte) T {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var v T
	require.NoErrorf(t, dec.Decode(&v), "%s: the answer does not decode strictly into %T: %s", what, v, doc)
	_, err := dec.Token()
	require.ErrorIsf(t, err, io.EOF, "%s: more than one value: %s", what, doc)
	return v
}

// answer sends a request as e.do does and returns the body of an answer
// that has the wanted status.
func answer(t *testing.T, e *env, method, path, tenant, contentType, body string, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := e.do(t, method, path, tenant, contentType, rd, nil)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equalf(t, want, resp.StatusCode, "%s %s: %s", method, path, b)
	return b
}

// TestAnswersDecodeStrictlyIntoTheGeneratedTypes keeps the one source of the
// API types honest: the gateway's real answers on the main routes decode,
// with unknown fields refused, into the types pkg/api generates from the
// OpenAPI document, so the document names every field the server sends.
// The end-to-end suite (pkg/platform) does the same for reports, diffs and
// the pipeline's events through a strict client.
func TestAnswersDecodeStrictlyIntoTheGeneratedTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := t.Context()
	const tenant = "acme"

	// Assessments.
	created := strictInto[api.AssessmentCreated](t, "POST /v1/assessments",
		answer(t, e, http.MethodPost, "/v1/assessments", tenant, "application/yaml", string(readExample(t, "startup-rag.yaml")), http.StatusAccepted))
	require.Equal(t, api.AssessmentStatusQueued, created.Status)
	id := created.ID
	got := strictInto[api.Assessment](t, "GET /v1/assessments/{id}",
		answer(t, e, http.MethodGet, "/v1/assessments/"+id, tenant, "", "", http.StatusOK))
	require.Equal(t, id, got.ID)
	require.NotNil(t, got.Request, "the request as submitted is shown")
	list := strictInto[api.AssessmentList](t, "GET /v1/assessments",
		answer(t, e, http.MethodGet, "/v1/assessments?limit=1", tenant, "", "", http.StatusOK))
	require.Len(t, list.Items, 1)

	// Progress events, as the synthesizer publishes them.
	publishStatus(t, e.bus, tenant, id, "family_completed", "cloud")
	publishCompleted(t, e.bus, tenant, id)
	resp, stream := openStream(t, e, "/v1/assessments/"+id+"/events", tenant, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, want := range []string{"queued", "family_completed"} {
		ev := stream.next(t)
		require.Equal(t, "status", ev.Event)
		st := strictInto[api.StatusEvent](t, "status event", []byte(ev.Data))
		require.Equal(t, want, string(*st.Status))
	}
	ev := stream.next(t)
	require.Equal(t, "completed", ev.Event)
	done := strictInto[api.CompletedEvent](t, "completed event", []byte(ev.Data))
	require.Equal(t, api.CompletedEventStatusCompleted, *done.Status)

	// Recommendations, once stored.
	require.NoError(t, e.store.Recommendations.Upsert(ctx, store.Recommendations{TenantID: tenant, AssessmentID: id, Status: "completed", Set: hundred()}))
	recs := strictInto[api.RecommendationList](t, "GET /v1/assessments/{id}/recommendations",
		answer(t, e, http.MethodGet, "/v1/assessments/"+id+"/recommendations?limit=5", tenant, "", "", http.StatusOK))
	require.Len(t, recs.Items, 5)

	// Versions and scenarios (their reports, and so the diff, come from the pipeline).
	version := strictInto[api.ChildCreated](t, "POST /v1/assessments/{id}/versions",
		answer(t, e, http.MethodPost, "/v1/assessments/"+id+"/versions", tenant, "", "", http.StatusAccepted))
	require.Equal(t, id, version.BaseID)
	versions := strictInto[api.VersionList](t, "GET /v1/assessments/{id}/versions",
		answer(t, e, http.MethodGet, "/v1/assessments/"+id+"/versions", tenant, "", "", http.StatusOK))
	require.Len(t, versions.Items, 2)
	scenario := strictInto[api.ChildCreated](t, "POST /v1/assessments/{id}/scenarios",
		answer(t, e, http.MethodPost, "/v1/assessments/"+id+"/scenarios", tenant, "application/json",
			`{"name":"Traffic x2","overrides":{"traffic_multiplier":2}}`, http.StatusAccepted))
	scenarios := strictInto[api.ScenarioList](t, "GET /v1/assessments/{id}/scenarios",
		answer(t, e, http.MethodGet, "/v1/assessments/"+id+"/scenarios", tenant, "", "", http.StatusOK))
	require.Len(t, scenarios.Items, 1)
	sc := strictInto[api.Scenario](t, "GET /v1/assessments/{id}/scenarios/{sid}",
		answer(t, e, http.MethodGet, "/v1/assessments/"+id+"/scenarios/"+scenario.ID, tenant, "", "", http.StatusOK))
	require.Nil(t, sc.Diff, "no report yet, so no diff")

	// Estimates: feasible and not.
	for _, body := range []string{
		`{"model":"llama-3.1-70b","precision":"fp8","gpu":"h100-sxm","input_tokens":1000,"output_tokens":200,"concurrency":8,"slo":{"inter_token_latency_ms":50},"peak_requests_per_second":5}`,
		`{"model":"llama-3.1-8b","precision":"bf16","instance":{"provider":"gcp","name":"g2-standard-4"},"input_tokens":500,"output_tokens":100}`,
		`{"model":"llama-3.1-405b","precision":"bf16","gpu":"l4","tensor_parallel":1,"input_tokens":1000,"output_tokens":200}`,
	} {
		strictInto[api.InferenceEstimate](t, "POST /v1/estimates/inference "+body,
			answer(t, e, http.MethodPost, "/v1/estimates/inference", tenant, "application/json", body, http.StatusOK))
	}
	for _, body := range []string{
		`{"model":"llama-3.1-8b","method":"lora","precision":"bf16","instance":{"provider":"aws","name":"p5.48xlarge"},"dataset_tokens_billion":0.5,"epochs":2}`,
		`{"model":"llama-3.1-70b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1}`,
	} {
		strictInto[api.TrainingEstimate](t, "POST /v1/estimates/training "+body,
			answer(t, e, http.MethodPost, "/v1/estimates/training", tenant, "application/json", body, http.StatusOK))
	}

	// Webhooks and the audit trail.
	hook := strictInto[api.WebhookCreated](t, "POST /v1/webhooks",
		answer(t, e, http.MethodPost, "/v1/webhooks", tenant, "application/json", `{"url":"`+publicURL+`","event_types":["assessment.completed"]}`, http.StatusCreated))
	strictInto[api.WebhookList](t, "GET /v1/webhooks", answer(t, e, http.MethodGet, "/v1/webhooks", tenant, "", "", http.StatusOK))
	strictInto[api.WebhookDeliveryList](t, "GET /v1/webhooks/{id}/deliveries",
		answer(t, e, http.MethodGet, "/v1/webhooks/"+hook.ID+"/deliveries", tenant, "", "", http.StatusOK))
	auditRecords(t, e.store, tenant, 1) // the recorder writes asynchronously
	audit := strictInto[api.AuditList](t, "GET /v1/audit", answer(t, e, http.MethodGet, "/v1/audit", tenant, "", "", http.StatusOK))
	require.NotEmpty(t, audit.Items)

	// Operations.
	strictInto[api.Health](t, "GET /healthz", answer(t, e, http.MethodGet, "/healthz", "", "", "", http.StatusOK))
	strictInto[api.Health](t, "GET /readyz", answer(t, e, http.MethodGet, "/readyz", "", "", "", http.StatusOK))

	// Problems: a field error, a missing token, a missing assessment, a report not ready.
	for _, p := range []struct {
		method, path, tenant, body string
		status                     int
	}{
		{http.MethodPost, "/v1/assessments/" + id + "/scenarios", tenant, `{"overrides":{"traffic_multiplier":0}}`, http.StatusBadRequest},
		{http.MethodGet, "/v1/assessments", "", "", http.StatusUnauthorized},
		{http.MethodGet, "/v1/assessments/" + id, "globex", "", http.StatusNotFound},
		{http.MethodGet, "/v1/assessments/" + id + "/report", tenant, "", http.StatusNotFound},
	} {
		ct := ""
		if p.body != "" {
			ct = "application/json"
		}
		prob := strictInto[api.Problem](t, p.method+" "+p.path, answer(t, e, p.method, p.path, p.tenant, ct, p.body, p.status))
		require.Equal(t, p.status, prob.Status)
	}
}

// TestIdentityAnswersDecodeStrictlyIntoTheGeneratedTypes does the same for
// sign-in, users, API keys, tenants and the key set.
func TestIdentityAnswersDecodeStrictlyIntoTheGeneratedTypes(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	ctx := t.Context()
	const tenant, email, password = "acme-strict", "owner@acme-strict.example", "a long enough passphrase"
	_, _, _, err := e.ident.CreateTenant(ctx, tenant, "Acme Strict", identity.NewUser{Email: email, Password: password})
	require.NoError(t, err)
	const opEmail, opPassword = "operator@platform.example", "operator passphrase here"
	_, _, err = e.ident.CreateOperator(ctx, identity.NewUser{Email: opEmail, Password: opPassword})
	require.NoError(t, err)

	call := func(t *testing.T, method, path, bearer, body string, want int) []byte {
		t.Helper()
		status, _, got := oasSend(t, e, method, path, bearer, body)
		require.Equalf(t, want, status, "%s %s: %s", method, path, got)
		return got
	}
	login := strictInto[api.TokenResponse](t, "POST /v1/auth/login", call(t, http.MethodPost, "/v1/auth/login", "",
		`{"tenant":"`+tenant+`","email":"`+email+`","password":"`+password+`"}`, http.StatusOK))
	owner := login.AccessToken
	strictInto[api.TokenResponse](t, "POST /v1/auth/refresh", call(t, http.MethodPost, "/v1/auth/refresh", "",
		`{"refresh_token":"`+login.RefreshToken+`"}`, http.StatusOK))
	strictInto[api.Me](t, "GET /v1/me", call(t, http.MethodGet, "/v1/me", owner, "", http.StatusOK))
	strictInto[api.JSONWebKeySet](t, "GET /.well-known/jwks.json", call(t, http.MethodGet, "/.well-known/jwks.json", "", "", http.StatusOK))
	strictInto[api.TOTPEnrollment](t, "POST /v1/me/mfa/totp", call(t, http.MethodPost, "/v1/me/mfa/totp", owner,
		`{"password":"`+password+`"}`, http.StatusCreated))

	user := strictInto[api.UserCreated](t, "POST /v1/users", call(t, http.MethodPost, "/v1/users", owner,
		`{"email":"li@acme-strict.example","name":"Li","role":"analyst"}`, http.StatusCreated))
	strictInto[api.UserList](t, "GET /v1/users", call(t, http.MethodGet, "/v1/users", owner, "", http.StatusOK))
	strictInto[api.User](t, "GET /v1/users/{id}", call(t, http.MethodGet, "/v1/users/"+user.ID, owner, "", http.StatusOK))
	strictInto[api.User](t, "PATCH /v1/users/{id}", call(t, http.MethodPatch, "/v1/users/"+user.ID, owner, `{"role":"viewer"}`, http.StatusOK))
	strictInto[api.PasswordReset](t, "POST /v1/users/{id}/password", call(t, http.MethodPost, "/v1/users/"+user.ID+"/password", owner, "", http.StatusOK))

	strictInto[api.APIKeyCreated](t, "POST /v1/api-keys", call(t, http.MethodPost, "/v1/api-keys", owner,
		`{"name":"ci","role":"viewer","expires_at":"2099-01-01T00:00:00Z"}`, http.StatusCreated))
	strictInto[api.APIKeyList](t, "GET /v1/api-keys", call(t, http.MethodGet, "/v1/api-keys", owner, "", http.StatusOK))

	op := strictInto[api.TokenResponse](t, "POST /v1/auth/login (operator)", call(t, http.MethodPost, "/v1/auth/login", "",
		`{"tenant":"_platform","email":"`+opEmail+`","password":"`+opPassword+`"}`, http.StatusOK))
	strictInto[api.TenantCreated](t, "POST /v1/tenants", call(t, http.MethodPost, "/v1/tenants", op.AccessToken,
		`{"id":"globex-strict","name":"Globex","owner":{"email":"root@globex-strict.example"}}`, http.StatusCreated))
	strictInto[api.TenantList](t, "GET /v1/tenants", call(t, http.MethodGet, "/v1/tenants", op.AccessToken, "", http.StatusOK))

	strictInto[api.Problem](t, "POST /v1/auth/login (wrong password)", call(t, http.MethodPost, "/v1/auth/login", "",
		`{"tenant":"`+tenant+`","email":"`+email+`","password":"not the passphrase"}`, http.StatusUnauthorized))
}
