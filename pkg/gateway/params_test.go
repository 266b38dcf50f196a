package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// Routes are registered by the code generated from the OpenAPI document,
// whose wrapper binds typed query parameters before the handler runs (the
// fakes' server registers them the same way). A value
// of the wrong type must still be refused naming the field, as the
// handler's own parsing does, never with a bare 400.
func TestQueryParameterErrorsNameTheField(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	id := uuid.NewString()
	tests := []struct {
		name, path, field string
	}{
		{"list limit not a number", "/v1/assessments?limit=ten", "limit"},
		{"recommendations limit not a number", "/v1/assessments/" + id + "/recommendations?limit=x", "limit"},
		{"recommendations confidence not a number", "/v1/assessments/" + id + "/recommendations?min_confidence=high", "min_confidence"},
		{"diff from not a number", "/v1/assessments/" + id + "/versions/diff?from=first&to=2", "from"},
		{"diff without to", "/v1/assessments/" + id + "/versions/diff?from=1", "to"},
		{"audit limit not a number", "/v1/audit?limit=ten", "limit"},
		{"audit from not a time", "/v1/audit?from=yesterday", "from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.do(t, http.MethodGet, tc.path, "acme", "", nil, nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			p := decodeBody[Problem](t, resp)
			require.Len(t, p.Errors, 1, p.Detail)
			require.Equal(t, tc.field, p.Errors[0].Field)
		})
	}
}

// Every operation but the public ones runs middleware: an operationId
// missing from operationMiddlewares would register its route unprotected.
func TestEveryOperationHasItsMiddleware(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	methods := map[string]bool{"get": true, "post": true, "put": true, "patch": true, "delete": true}
	public := map[string]bool{"healthz": true, "readyz": true, "openapi": true, "getJWKS": true, "streamAssessmentEvents": true}
	mws := (&Server{}).operationMiddlewares()
	n := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if !methods[method] {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			require.NotEmptyf(t, op.OperationID, "%s %s has no operationId", method, path)
			n++
			if public[op.OperationID] {
				require.NotContainsf(t, mws, op.OperationID, "%s is public", op.OperationID)
				continue
			}
			require.NotEmptyf(t, mws[op.OperationID], "%s %s (%s) has no middleware", method, path, op.OperationID)
		}
	}
	require.Equal(t, 50, n)
	require.Len(t, mws, 50-len(public))
}

// Every query parameter and header of the document is a single value: sent
// twice, it is refused with a 400 naming it, on every operation that takes
// it, before the handler or the generated wrapper picks a value.
func TestRepeatedParametersNameTheField(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	params, err := operationParams(OpenAPI())
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	n := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if !httpMethods[method] {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			for _, p := range params[op.OperationID] {
				n++
				t.Run(op.OperationID+" "+p.In+" "+p.Name, func(t *testing.T) {
					t.Parallel()
					url := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllStringFunc(path, func(string) string { return uuid.NewString() })
					if p.In == "query" {
						url += "?" + p.Name + "=1&" + p.Name + "=2"
					}
					req, err := http.NewRequest(strings.ToUpper(method), f.http.URL+url, strings.NewReader("{}"))
					require.NoError(t, err)
					req.Header.Set("Authorization", "Bearer "+f.env.token("acme"))
					req.Header.Set("Content-Type", "application/json")
					if p.In == "header" {
						req.Header.Add(p.Name, "1")
						req.Header.Add(p.Name, "2")
					}
					resp, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					require.Equal(t, http.StatusBadRequest, resp.StatusCode)
					pr := decodeBody[Problem](t, resp)
					require.Len(t, pr.Errors, 1, pr.Detail)
					require.Equal(t, p.Name, pr.Errors[0].Field)
					require.Contains(t, pr.Errors[0].Reason, "sent 2 times")
				})
			}
		}
	}
	require.GreaterOrEqual(t, n, 20, "the document's parameters were read")
}

// RFC 6750 section 3.1: a request repeating the credential is an
// invalid_request (400) naming the header, not a credential to pick from.
func TestRepeatedAuthorizationIsRefused(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/v1/assessments", nil)
	req.Header.Add("Authorization", "Bearer a")
	req.Header.Add("Authorization", "Bearer b")
	c := echo.New().NewContext(req, httptest.NewRecorder())
	called := false
	err := (&Server{}).authenticate(func(echo.Context) error { called = true; return nil })(c)
	require.False(t, called)
	p := toProblem(err)
	require.Equal(t, http.StatusBadRequest, p.Status)
	require.Equal(t, "Authorization", p.Errors[0].Field)
	require.Equal(t, `Bearer realm="infra-mind", error="invalid_request"`, p.header.Get("WWW-Authenticate"))
}
