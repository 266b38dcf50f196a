package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

func TestOpenAPIPublishedCopyIsIdentical(t *testing.T) {
	t.Parallel()
	published, err := os.ReadFile(filepath.Join("..", "..", "docs", "api", "openapi.json"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(OpenAPI(), published),
		"docs/api/openapi.json differs from pkg/gateway/openapi/openapi.json; run make generate")
}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)

	// Routes are read without dependencies; no handler runs.
	e := (&Server{}).routes()
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, r := range e.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		ops, ok := doc.Paths[path]
		require.Truef(t, ok, "route %s %s is not in the OpenAPI document", r.Method, path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.Truef(t, ok, "route %s %s is not in the OpenAPI document", r.Method, path)
	}
	// 23 routes before the identity work, 21 after it: the key set, sign-in,
	// refresh, sign-out, /v1/me, three MFA routes, the password change, seven
	// user, three API-key and two tenant routes; /metrics left the public port for the operations listener;
	// the catalogue version diff; the erasure of an assessment; the four chat routes; the language model usage.
	require.Len(t, e.Routes(), 50)
}

func TestOpenAPIRequestSchemaMatchesValidator(t *testing.T) {
	t.Parallel()
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	var schema map[string]any
	require.NoError(t, json.Unmarshal(assessment.RequestSchema(), &schema))

	rewrite := func(v any) any {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		b = bytes.ReplaceAll(b, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`))
		var out any
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	defs := schema["$defs"].(map[string]any)
	for name, def := range defs {
		require.Equalf(t, rewrite(def), doc.Components.Schemas[name], "components.schemas.%s differs from the request schema's $defs.%s", name, name)
	}
	root := map[string]any{}
	for k, v := range schema {
		switch k {
		case "$schema", "$id", "$defs", "title":
		default:
			root[k] = v
		}
	}
	require.Equal(t, rewrite(root), doc.Components.Schemas["AssessmentRequest"],
		"components.schemas.AssessmentRequest differs from the request schema")
}

// openAPIOperation is the part of an operation the access checks read.
type openAPIOperation struct {
	Summary       string                     `json:"summary"`
	Description   string                     `json:"description"`
	RequiredRoles []string                   `json:"x-required-roles"`
	Responses     map[string]json.RawMessage `json:"responses"`
}

// openAPIResponse is a response object or a $ref to one.
type openAPIResponse struct {
	Ref     string                     `json:"$ref"`
	Headers map[string]json.RawMessage `json:"headers"`
	Content map[string]struct {
		Schema struct {
			Ref string `json:"$ref"`
		} `json:"schema"`
	} `json:"content"`
}

// docOperations returns the document's operations keyed "METHOD /route"
// with echo's :param templates, and the document's component responses.
func docOperations(t *testing.T) (map[string]openAPIOperation, map[string]openAPIResponse) {
	t.Helper()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]openAPIResponse `json:"responses"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	ops := map[string]openAPIOperation{}
	for path, byMethod := range doc.Paths {
		for method, raw := range byMethod {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			require.NoError(t, json.Unmarshal(raw, &op))
			ops[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = op
		}
	}
	return ops, doc.Components.Responses
}

// response resolves an operation's response for code through its $ref.
func response(t *testing.T, op openAPIOperation, components map[string]openAPIResponse, code string) (openAPIResponse, bool) {
	t.Helper()
	raw, ok := op.Responses[code]
	if !ok {
		return openAPIResponse{}, false
	}
	var r openAPIResponse
	require.NoError(t, json.Unmarshal(raw, &r))
	if name, isRef := strings.CutPrefix(r.Ref, "#/components/responses/"); isRef {
		r, ok = components[name]
		require.Truef(t, ok, "response %s is not in components", name)
	}
	return r, true
}

func TestOpenAPIRequiredRolesMatchTheMatrix(t *testing.T) {
	t.Parallel()
	ops, _ := docOperations(t)
	e := (&Server{}).routes()
	for _, r := range e.Routes() {
		name := r.Method + " " + r.Path
		access, ok := RouteRoles(r.Method, r.Path)
		require.Truef(t, ok, "%s is not in the access matrix", name)
		op, ok := ops[name]
		require.Truef(t, ok, "%s is not in the OpenAPI document", name)
		require.Equalf(t, access.Labels(), op.RequiredRoles, "%s: x-required-roles differs from the access matrix", name)
	}
	// Documented operations whose handler lands later follow the matrix too.
	for name, op := range ops {
		method, route, _ := strings.Cut(name, " ")
		access, ok := RouteRoles(method, route)
		require.Truef(t, ok, "%s is documented but not in the access matrix", name)
		require.Equalf(t, access.Labels(), op.RequiredRoles, "%s: x-required-roles differs from the access matrix", name)
		// The prose says the same as the extension.
		var mention string
		switch access.Kind {
		case AccessPublic:
			mention = "Public: no token needed."
		case AccessAuthenticated:
			mention = "Any authenticated caller"
		default:
			mention = "Roles: " + orList(access.Roles) + ";"
		}
		require.Truef(t, strings.Contains(op.Description, mention) || strings.Contains(op.Summary, mention),
			"%s: the description does not say %q", name, mention)
	}
}

func TestOpenAPIDocumentsAuthErrorsAndRateLimits(t *testing.T) {
	t.Parallel()
	ops, components := docOperations(t)
	var checked int
	for name, op := range ops {
		method, route, _ := strings.Cut(name, " ")
		if !strings.HasPrefix(route, "/v1/") {
			continue
		}
		access, ok := RouteRoles(method, route)
		require.Truef(t, ok, "%s is not in the access matrix", name)

		tooMany, ok := response(t, op, components, "429")
		require.Truef(t, ok, "%s does not document 429", name)
		for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			require.Containsf(t, tooMany.Headers, h, "%s: 429 does not document %s", name, h)
		}
		require.Equalf(t, "#/components/schemas/Problem", tooMany.Content[contentTypeProblem].Schema.Ref, "%s: 429 is not a problem", name)

		if access.Kind != AccessPublic {
			unauth, ok := response(t, op, components, "401")
			require.Truef(t, ok, "%s: a token is needed, so 401 is documented", name)
			require.Equalf(t, "#/components/schemas/Problem", unauth.Content[contentTypeProblem].Schema.Ref, "%s: 401 is not a problem", name)
			// The credential check fails closed (revocation list or key store
			// unreachable): a 503 with Retry-After, never an unchecked token.
			unavailable, ok := response(t, op, components, "503")
			require.Truef(t, ok, "%s: the credential check can answer 503, so 503 is documented", name)
			require.Containsf(t, unavailable.Headers, "Retry-After", "%s: 503 does not document Retry-After", name)
		} else if raw, ok := op.Responses["401"]; ok {
			// A public route refuses only the credential it checks itself
			// (a password, a refresh token), never a missing bearer token.
			require.NotContainsf(t, string(raw), "#/components/responses/Unauthorized",
				"%s: a public route does not answer 401 for a missing bearer token", name)
		}
		forbidden, has403 := response(t, op, components, "403")
		require.Equalf(t, access.Kind == AccessRoles, has403, "%s: 403 is documented exactly when the route is role-limited", name)
		if has403 {
			require.Equalf(t, "#/components/schemas/Problem", forbidden.Content[contentTypeProblem].Schema.Ref, "%s: 403 is not a problem", name)
		}
		checked++
	}
	require.GreaterOrEqual(t, checked, 35, "every existing /v1 operation was checked")
}

func TestOpenAPIListsEveryProblemType(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Type struct {
							Enum []string `json:"enum"`
						} `json:"type"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	enum := doc.Components.Schemas.Problem.Properties.Type.Enum
	for _, typ := range []string{
		ProblemInvalidRequest, ProblemUnauthorized, ProblemForbidden, ProblemNotFound, ProblemReportNotReady,
		ProblemTooLarge, ProblemUnsupportedType, ProblemIdempotencyKey, ProblemMethod, ProblemUnavailable,
		ProblemInternal, ProblemRateLimited, ProblemTooManyActive, ProblemTooManyStreams, ProblemRecommendationsNotReady, ProblemNotAcceptable,
		ProblemSignInLocked, ProblemMFARequired, ProblemRefreshReused, ProblemConflict, ProblemLLMBudget,
	} {
		require.Truef(t, slices.Contains(enum, typ), "problem type %s is not listed in the OpenAPI document", typ)
	}
}

// oasSchemas compiles schemas out of the served OpenAPI document, with
// formats (email, uuid, date-time, uri) asserted, to check that examples
// and live answers have the shapes the document promises.
type oasSchemas struct {
	c *jsonschema.Compiler
}

func newOASSchemas(t *testing.T) *oasSchemas {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(OpenAPI()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	require.NoError(t, c.AddResource(openAPIURL, doc))
	return &oasSchemas{c: c}
}

// requireValid checks the JSON doc against the schema at the document's
// JSON pointer, such as "/components/schemas/User".
func (s *oasSchemas) requireValid(t *testing.T, pointer string, doc []byte) {
	t.Helper()
	sch, err := s.c.Compile(openAPIURL + "#" + pointer)
	require.NoErrorf(t, err, "compile %s", pointer)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	require.NoErrorf(t, err, "%s: not JSON: %s", pointer, doc)
	require.NoErrorf(t, sch.Validate(v), "%s does not describe %s", pointer, doc)
}

// oasPointerToken escapes one JSON pointer token (RFC 6901 section 3).
func oasPointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func TestOpenAPIExamplesMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	var doc any
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	schemas := newOASSchemas(t)

	// Walk the document: a JSON Schema's examples is an array of instances;
	// a JSON media type's (or a parameter's) examples is a map of Example
	// objects whose value is an instance of the sibling schema, and its
	// example is one instance.
	checked := map[string]int{}
	check := func(pointer, schemaPointer string, example any) {
		b, err := json.Marshal(example)
		require.NoError(t, err)
		schemas.requireValid(t, schemaPointer, b)
		checked[pointer]++
	}
	var walk func(pointer, key string, node any)
	walk = func(pointer, key string, node any) {
		switch n := node.(type) {
		case []any:
			for i, v := range n {
				walk(pointer+"/"+strconv.Itoa(i), "", v)
			}
		case map[string]any:
			_, hasSchema := n["schema"]
			jsonMedia := !strings.HasPrefix(pointer, "/components/schemas") && (strings.HasSuffix(key, "json") || !strings.Contains(key, "/"))
			switch ex := n["examples"].(type) {
			case []any:
				for _, v := range ex {
					check(pointer, pointer, v)
				}
			case map[string]any:
				if hasSchema && jsonMedia {
					for name, v := range ex {
						obj, ok := v.(map[string]any)
						require.Truef(t, ok, "%s/examples/%s is not an Example object", pointer, name)
						check(pointer, pointer+"/schema", obj["value"])
					}
				}
			}
			if ex, ok := n["example"]; ok && hasSchema && jsonMedia {
				check(pointer, pointer+"/schema", ex)
			}
			for k, v := range n {
				if k == "examples" || k == "example" {
					continue
				}
				walk(pointer+"/"+oasPointerToken(k), k, v)
			}
		}
	}
	walk("", "", doc)

	// The sign-in examples are among those checked.
	for _, p := range []string{
		"/components/schemas/LoginRequest",
		"/components/schemas/TokenResponse",
		"/paths/~1v1~1auth~1login/post/requestBody/content/application~1json",
		"/paths/~1v1~1auth~1login/post/responses/200/content/application~1json",
		"/paths/~1v1~1auth~1login/post/responses/401/content/application~1problem+json",
		"/paths/~1v1~1auth~1login/post/responses/429/content/application~1problem+json",
	} {
		require.Positivef(t, checked[p], "the examples of %s were not checked", p)
	}
	t.Logf("%d example sets checked against their schemas", len(checked))
}

// oasSend sends a request with an optional bearer credential and JSON body
// and returns the status, content type and body.
func oasSend(t *testing.T, e *env, method, path, bearer, body string) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestOpenAPIIdentityAnswersMatchTheirSchemas calls every identity
// operation that answers with a body, as a client following the document
// would, and checks each request it sends and each answer it gets against
// the schemas the document names for them.
func TestOpenAPIIdentityAnswersMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	schemas := newOASSchemas(t)
	ctx := t.Context()
	const tenant, email, password = "acme-oas", "owner@acme-oas.example", "a long enough passphrase"
	_, _, _, err := e.ident.CreateTenant(ctx, tenant, "Acme OAS", identity.NewUser{Email: email, Password: password})
	require.NoError(t, err)
	const opEmail, opPassword = "operator@platform.example", "operator passphrase here"
	_, _, err = e.ident.CreateOperator(ctx, identity.NewUser{Email: opEmail, Password: opPassword})
	require.NoError(t, err)

	// call sends body (checked against the request schema, when named) and
	// checks the answer's status and body against the response schema.
	call := func(t *testing.T, method, path, bearer, reqSchema, body string, want int, respSchema string) []byte {
		t.Helper()
		if reqSchema != "" {
			schemas.requireValid(t, "/components/schemas/"+reqSchema, []byte(body))
		}
		status, ct, got := oasSend(t, e, method, path, bearer, body)
		require.Equalf(t, want, status, "%s %s: %s", method, path, got)
		if respSchema != "" {
			schemas.requireValid(t, "/components/schemas/"+respSchema, got)
		}
		if len(got) > 0 && want >= 400 {
			require.Equal(t, contentTypeProblem, ct)
		}
		return got
	}
	field := func(t *testing.T, doc []byte, path ...string) string {
		t.Helper()
		var v any
		require.NoError(t, json.Unmarshal(doc, &v))
		for _, p := range path {
			m, ok := v.(map[string]any)
			require.Truef(t, ok, "%s has no %v", doc, path)
			v = m[p]
		}
		s, ok := v.(string)
		require.Truef(t, ok, "%s: %v is not a string", doc, path)
		return s
	}

	login := call(t, http.MethodPost, "/v1/auth/login", "", "LoginRequest",
		`{"tenant":"`+tenant+`","email":"`+email+`","password":"`+password+`"}`, http.StatusOK, "TokenResponse")
	call(t, http.MethodGet, "/v1/me", field(t, login, "access_token"), "", "", http.StatusOK, "Me")
	refreshed := call(t, http.MethodPost, "/v1/auth/refresh", "", "RefreshRequest",
		`{"refresh_token":"`+field(t, login, "refresh_token")+`"}`, http.StatusOK, "TokenResponse")
	owner := field(t, refreshed, "access_token")

	status, ct, jwks := oasSend(t, e, http.MethodGet, "/.well-known/jwks.json", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/jwk-set+json", ct)
	schemas.requireValid(t, "/components/schemas/JSONWebKeySet", jwks)

	call(t, http.MethodPost, "/v1/me/mfa/totp", owner, "", "", http.StatusBadRequest, "Problem")
	call(t, http.MethodPost, "/v1/me/mfa/totp", owner, "TOTPEnrollRequest", `{"password":"`+password+`"}`,
		http.StatusCreated, "TOTPEnrollment")
	call(t, http.MethodPost, "/v1/me/mfa/totp/confirm", owner, "TOTPConfirmRequest", `{"code":"000000"}`,
		http.StatusBadRequest, "Problem")

	user := call(t, http.MethodPost, "/v1/users", owner, "CreateUserRequest",
		`{"email":"li@acme-oas.example","name":"Li","role":"analyst"}`, http.StatusCreated, "UserCreated")
	require.NotEmpty(t, field(t, user, "password"), "a generated password is returned once")
	userPath := "/v1/users/" + field(t, user, "id")
	call(t, http.MethodGet, "/v1/users", owner, "", "", http.StatusOK, "UserList")
	call(t, http.MethodGet, userPath, owner, "", "", http.StatusOK, "User")
	call(t, http.MethodPatch, userPath, owner, "UpdateUserRequest", `{"role":"viewer"}`, http.StatusOK, "User")
	call(t, http.MethodPost, userPath+"/revoke-sessions", owner, "", "", http.StatusNoContent, "")
	call(t, http.MethodPost, "/v1/users", owner, "CreateUserRequest",
		`{"email":"li@acme-oas.example","role":"viewer"}`, http.StatusConflict, "Problem")

	key := call(t, http.MethodPost, "/v1/api-keys", owner, "CreateAPIKeyRequest",
		`{"name":"ci","role":"viewer","expires_at":"2099-01-01T00:00:00Z"}`, http.StatusCreated, "APIKeyCreated")
	call(t, http.MethodGet, "/v1/me", field(t, key, "key"), "", "", http.StatusOK, "Me")
	call(t, http.MethodGet, "/v1/api-keys", owner, "", "", http.StatusOK, "APIKeyList")
	// The id the document gives the key is the id DELETE takes.
	call(t, http.MethodDelete, "/v1/api-keys/"+field(t, key, "id"), owner, "", "", http.StatusNoContent, "")

	opLogin := call(t, http.MethodPost, "/v1/auth/login", "", "LoginRequest",
		`{"tenant":"_platform","email":"`+opEmail+`","password":"`+opPassword+`"}`, http.StatusOK, "TokenResponse")
	operator := field(t, opLogin, "access_token")
	call(t, http.MethodGet, "/v1/me", operator, "", "", http.StatusOK, "Me")
	call(t, http.MethodPost, "/v1/tenants", operator, "CreateTenantRequest",
		`{"id":"globex-oas","name":"Globex","owner":{"email":"root@globex.example"}}`, http.StatusCreated, "TenantCreated")
	call(t, http.MethodGet, "/v1/tenants", operator, "", "", http.StatusOK, "TenantList")

	call(t, http.MethodPost, "/v1/auth/logout", owner, "", "", http.StatusNoContent, "")
	call(t, http.MethodPost, "/v1/auth/refresh", "", "RefreshRequest",
		`{"refresh_token":"`+field(t, login, "refresh_token")+`"}`, http.StatusUnauthorized, "Problem")
}
