package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
