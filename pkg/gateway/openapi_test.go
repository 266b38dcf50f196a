package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

func TestOpenAPIPublishedCopyIsIdentical(t *testing.T) {
	t.Parallel()
	published, err := os.ReadFile(filepath.Join("..", "..", "docs", "api", "openapi.json"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(OpenAPI(), published),
		"docs/api/openapi.json differs from pkg/gateway/openapi/openapi.json; copy the latter over the former")
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
	require.Len(t, e.Routes(), 23)
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

		_, has401 := response(t, op, components, "401")
		require.Equalf(t, access.Kind != AccessPublic, has401, "%s: 401 is documented exactly when a token is needed", name)
		forbidden, has403 := response(t, op, components, "403")
		require.Equalf(t, access.Kind == AccessRoles, has403, "%s: 403 is documented exactly when the route is role-limited", name)
		if has403 {
			require.Equalf(t, "#/components/schemas/Problem", forbidden.Content[contentTypeProblem].Schema.Ref, "%s: 403 is not a problem", name)
		}
		checked++
	}
	require.GreaterOrEqual(t, checked, 19, "every existing /v1 operation was checked")
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
		ProblemInternal, ProblemRateLimited, ProblemTooManyActive, ProblemRecommendationsNotReady, ProblemNotAcceptable,
	} {
		require.Truef(t, slices.Contains(enum, typ), "problem type %s is not listed in the OpenAPI document", typ)
	}
}
