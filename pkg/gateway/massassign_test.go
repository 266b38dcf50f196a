package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestRejectServerFields(t *testing.T) {
	t.Parallel()
	fields := serverSetFields()
	tests := []struct {
		name   string
		body   string
		isYAML bool
		want   []string // fields named, in order; nil: accepted
	}{
		{"clean JSON", `{"name":"x","workloads":[]}`, false, nil},
		{"tenant", `{"name":"x","tenant":"globex"}`, false, []string{"tenant"}},
		{"every offender named", `{"id":"1","name":"x","status":"completed"}`, false, []string{"id", "status"}},
		{"case does not hide a field", `{"Tenant_ID":"globex"}`, false, []string{"Tenant_ID"}},
		{"escapes do not hide a field", `{"ten\u0061nt":"globex"}`, false, []string{"tenant"}},
		{"a duplicate key does not hide a field", `{"name":"x","role":"owner","name":"y","role":"owner"}`, false, []string{"role", "role"}},
		{"nested fields are the schema's business", `{"business":{"id":"b1","status":"ok"}}`, false, nil},
		{"YAML", "name: x\nowner_id: u2\n", true, []string{"owner_id"}},
		{"YAML merge keys", "base: &b\n  created_at: now\nname: x\n<<: *b\n", true, []string{"created_at"}},
		{"JSON sent as YAML", `{"_id":"x"}`, true, []string{"_id"}},
		{"empty body", ``, false, nil},
		{"not an object", `["tenant"]`, false, nil},
		{"not JSON", `tenant: globex`, false, nil},
		{"a value naming a field", `{"name":"tenant"}`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := rejectServerFields([]byte(tc.body), tc.isYAML, fields...)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var p *Problem
			require.ErrorAs(t, err, &p)
			require.Equal(t, http.StatusBadRequest, p.Status)
			require.Equal(t, ProblemInvalidRequest, p.Type)
			var got []string
			for _, fe := range p.Errors {
				got = append(got, fe.Field)
				require.Equal(t, reasonServerSet, fe.Reason)
				require.Contains(t, p.Detail, fe.Field+": is set by the server and cannot be sent")
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestServerSetFieldsExcept(t *testing.T) {
	t.Parallel()
	login := serverSetFields("tenant")
	require.NotContains(t, login, "tenant")
	require.Contains(t, login, "tenant_id")
	require.Contains(t, serverSetFields(), "tenant", "except does not change the shared list")
	require.NotContains(t, bodyServerFields["POST /v1/users"], "role", "an admin gives a user its role")
	require.Contains(t, bodyServerFields["POST /v1/users"], "roles")
}

func TestEveryBodyRouteRefusesServerFields(t *testing.T) {
	t.Parallel()
	e := (&Server{}).routes()
	for _, r := range e.Routes() {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			fields, ok := bodyServerFields[routeKey(r.Method, r.Path)]
			require.Truef(t, ok, "%s %s takes a body but has no bodyServerFields entry (massassign.go)", r.Method, r.Path)
			require.NotEmpty(t, fields)
		}
	}
}

// TestOWASPAPI3MassAssignment checks OWASP API3:2023 (broken object
// property level authorization, mass assignment): every route that takes a
// body, given an otherwise valid body plus one field only the server sets,
// answers 400 naming that field, and stores nothing. The same bodies
// without the field are accepted, so the refusals are about the field.
// It runs on the fake ports through the whole middleware chain, and reads
// what was stored and queued from the fakes.
func TestOWASPAPI3MassAssignment(t *testing.T) {
	t.Parallel()
	e := newFakeEnvWith(t, Config{Limits: Limits{ExpensiveRequests: 1000}})
	const tenant = "acme-mass"
	base := e.env.create(t, tenant, "mass assignment base")
	yamlDoc := string(readExample(t, "startup-rag.yaml"))
	jsonDoc, err := yaml.YAMLToJSON([]byte(yamlDoc))
	require.NoError(t, err)

	// withField adds a top-level field to a JSON object body.
	withField := func(body, field string) string {
		v, err := json.Marshal(field + "-from-client")
		require.NoError(t, err)
		rest := strings.TrimPrefix(strings.TrimSpace(body), "{")
		if strings.TrimSpace(rest) == "}" {
			return `{"` + field + `":` + string(v) + `}`
		}
		return `{"` + field + `":` + string(v) + `,` + rest
	}
	routes := []struct {
		name, method, route, path, contentType, body string
		accepted                                     int
		add                                          func(body, field string) string
	}{
		{"assessment as YAML", http.MethodPost, "/v1/assessments", "/v1/assessments", "application/yaml", yamlDoc, http.StatusAccepted,
			func(body, field string) string { return body + "\n" + field + ": from-client\n" }},
		{"assessment as JSON", http.MethodPost, "/v1/assessments", "/v1/assessments", "application/json", string(jsonDoc), http.StatusAccepted, withField},
		{"version", http.MethodPost, "/v1/assessments/:id/versions", "/v1/assessments/" + base + "/versions", "application/json", `{}`, http.StatusAccepted, withField},
		{"scenario", http.MethodPost, "/v1/assessments/:id/scenarios", "/v1/assessments/" + base + "/scenarios", "application/json",
			`{"name":"double traffic","overrides":{"traffic_multiplier":2}}`, http.StatusAccepted, withField},
		{"inference estimate", http.MethodPost, "/v1/estimates/inference", "/v1/estimates/inference", "application/json",
			`{"model":"llama-3.1-70b","precision":"fp8","gpu":"h100-sxm","input_tokens":1000,"output_tokens":200,"concurrency":1,"peak_requests_per_second":10,"headroom":0.2}`,
			http.StatusOK, withField},
		{"training estimate", http.MethodPost, "/v1/estimates/training", "/v1/estimates/training", "application/json",
			`{"model":"llama-3.1-70b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":8,"tokens_billion":1}`, http.StatusOK, withField},
		{"webhook", http.MethodPost, "/v1/webhooks", "/v1/webhooks", "application/json",
			`{"url":"` + publicURL + `","event_types":["assessment.completed"]}`, http.StatusCreated, withField},
	}

	var probes atomic.Int64
	t.Run("probes", func(t *testing.T) {
		for _, r := range routes {
			fields := bodyServerFields[routeKey(r.method, r.route)]
			require.NotEmptyf(t, fields, "%s %s has no server-set fields", r.method, r.route)
			for _, field := range fields {
				t.Run(r.name+" with "+field, func(t *testing.T) {
					resp := e.do(t, r.method, r.path, tenant, r.contentType, strings.NewReader(r.add(r.body, field)), nil)
					require.Equal(t, http.StatusBadRequest, resp.StatusCode)
					p := decodeBody[Problem](t, resp)
					require.Equal(t, ProblemInvalidRequest, p.Type)
					require.Equal(t, field+": is set by the server and cannot be sent", p.Detail)
					require.Equal(t, []assessment.FieldError{{Field: field, Reason: reasonServerSet}}, p.Errors)
					probes.Add(1)
				})
			}
		}
	})
	t.Logf("OWASP API3:2023 mass assignment: %d probes over %d body routes, each refused with 400", probes.Load(), len(routes))

	// Nothing refused was stored or queued: the tenant has only the base and
	// what the control requests below create.
	resp := e.do(t, http.MethodGet, "/v1/assessments", tenant, "", nil, nil)
	require.Len(t, decodeBody[api.AssessmentList](t, resp).Items, 1)
	resp = e.do(t, http.MethodGet, "/v1/webhooks", tenant, "", nil, nil)
	require.Empty(t, decodeBody[api.WebhookList](t, resp).Items)
	stored, err := e.repo.List(t.Context(), tenant, store.ListOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, stored.Items, 1, "only the base is stored, no version or scenario")
	require.Equal(t, base, stored.Items[0].ID)
	require.Len(t, e.queue.Of(tenant), 1, "only the base is queued")
	hooks, err := e.hooks.List(t.Context(), tenant)
	require.NoError(t, err)
	require.Empty(t, hooks, "no webhook is stored")

	for _, r := range routes {
		t.Run("control "+r.name, func(t *testing.T) {
			resp := e.do(t, r.method, r.path, tenant, r.contentType, strings.NewReader(r.body), nil)
			defer resp.Body.Close()
			require.Equal(t, r.accepted, resp.StatusCode, "the body without a server-set field is accepted")
		})
	}
}
