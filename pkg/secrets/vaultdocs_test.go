package secrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// The fake Vault stands in for a server that cannot be built here (the
// module proxy refuses OpenBao's and Vault's server modules; see
// docs/security.md, "Secrets"). These tests keep it honest: each response
// shape the provider relies on is checked against Vault's published HTTP API
// documentation, one case per documented shape, with the page it comes from.
// A shape lists the members the documentation shows, each with its JSON
// type ("object", "string", "bool", "number", "null", "array", or
// "null|object" where either is documented).

const (
	docKVv2   = "https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2 (Read secret version)"
	docHealth = "https://developer.hashicorp.com/vault/api-docs/system/health (Read health information)"
	docErrors = "https://developer.hashicorp.com/vault/api-docs#http-status-codes (errors: a JSON object with an errors array)"
	docDelete = "https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2 (a deleted version keeps its metadata, deletion_time set, and no data)"
)

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// member follows a dotted path through decoded JSON objects.
func member(doc any, path string) (any, bool) {
	cur := doc
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestFakeVaultMatchesTheDocumentedAPI(t *testing.T) {
	t.Parallel()
	secretPath := "/v1/" + mount + "/data/" + path
	cases := []struct {
		name    string
		doc     string
		setup   func(f *fakeVault)
		path    string
		token   string
		status  int
		shape   map[string]string
		members map[string]any // exact values the documentation states
	}{
		{
			name: "read the latest version", doc: docKVv2, path: secretPath, token: "tok", status: http.StatusOK,
			shape: map[string]string{
				"request_id": "string", "lease_id": "string", "renewable": "bool", "lease_duration": "number",
				"data": "object", "data.data": "object", "data.metadata": "object",
				"data.metadata.created_time": "string", "data.metadata.deletion_time": "string",
				"data.metadata.destroyed": "bool", "data.metadata.version": "number",
				"data.metadata.custom_metadata": "null|object",
			},
			members: map[string]any{"data.metadata.version": float64(2), "data.metadata.deletion_time": "", "data.data.auth_public_key": "pem-2"},
		},
		{
			name: "read a version with ?version=", doc: docKVv2, path: secretPath + "?version=1", token: "tok", status: http.StatusOK,
			shape:   map[string]string{"data.data": "object", "data.metadata.version": "number"},
			members: map[string]any{"data.metadata.version": float64(1), "data.data.auth_public_key": "pem-1"},
		},
		{
			name: "read a soft-deleted version", doc: docDelete, path: secretPath + "?version=1", token: "tok", status: http.StatusNotFound,
			setup:   func(f *fakeVault) { f.deleteVersion(1, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) },
			shape:   map[string]string{"data.data": "null", "data.metadata": "object", "data.metadata.deletion_time": "string", "data.metadata.version": "number"},
			members: map[string]any{"data.metadata.deletion_time": "2026-12-01T00:00:00Z", "data.metadata.destroyed": false},
		},
		{
			name: "a path with no secret", doc: docErrors, path: "/v1/" + mount + "/data/elsewhere", token: "tok", status: http.StatusNotFound,
			shape: map[string]string{"errors": "array"},
		},
		{
			name: "a token without access", doc: docErrors, path: secretPath, token: "wrong", status: http.StatusForbidden,
			shape: map[string]string{"errors": "array"}, members: map[string]any{"errors": []any{"permission denied"}},
		},
		{
			name: "a request while sealed", doc: docErrors, setup: func(f *fakeVault) { f.setSealed(true) },
			path: secretPath, token: "tok", status: http.StatusServiceUnavailable,
			shape: map[string]string{"errors": "array"}, members: map[string]any{"errors": []any{"Vault is sealed"}},
		},
		{
			name: "health: initialized, unsealed and active", doc: docHealth, path: "/v1/sys/health", status: http.StatusOK,
			shape:   map[string]string{"initialized": "bool", "sealed": "bool", "standby": "bool", "version": "string"},
			members: map[string]any{"initialized": true, "sealed": false, "standby": false},
		},
		{
			name: "health: sealed answers 503 by default", doc: docHealth, setup: func(f *fakeVault) { f.setSealed(true) },
			path: "/v1/sys/health", status: http.StatusServiceUnavailable,
			shape: map[string]string{"sealed": "bool"}, members: map[string]any{"sealed": true},
		},
		{
			// The client asks for 299 in every state so that it can read the body.
			name: "health: sealedcode picks the status", doc: docHealth, setup: func(f *fakeVault) { f.setSealed(true) },
			path: "/v1/sys/health?sealedcode=299&uninitcode=299&standbycode=299", status: 299,
			shape: map[string]string{"sealed": "bool", "initialized": "bool"}, members: map[string]any{"sealed": true},
		},
		{
			name: "health: activecode picks the status", doc: docHealth,
			path: "/v1/sys/health?activecode=299", status: 299,
			shape: map[string]string{"sealed": "bool"}, members: map[string]any{"sealed": false},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeVault(t, mount, path, "tok")
			f.put(map[string]any{"auth_public_key": "pem-1"})
			f.put(map[string]any{"auth_public_key": "pem-2"})
			if tc.setup != nil {
				tc.setup(f)
			}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+tc.path, nil)
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("X-Vault-Token", tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equalf(t, tc.status, resp.StatusCode, "status documented in %s", tc.doc)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var doc any
			require.NoErrorf(t, json.Unmarshal(body, &doc), "%s", body)
			for p, want := range tc.shape {
				v, ok := member(doc, p)
				require.Truef(t, ok, "%s: member %s missing from %s (documented in %s)", tc.name, p, body, tc.doc)
				require.Containsf(t, strings.Split(want, "|"), jsonType(v), "%s: member %s is %s, documented as %s in %s", tc.name, p, jsonType(v), want, tc.doc)
			}
			for p, want := range tc.members {
				v, ok := member(doc, p)
				require.Truef(t, ok, "%s: member %s missing", tc.name, p)
				require.Equalf(t, want, v, "%s: member %s (documented in %s)", tc.name, p, tc.doc)
			}
		})
	}
}

// The provider reads a soft-deleted version (404 with metadata and no
// data) as not found, naming why, and still reads the other versions.
func TestVaultDeletedVersionIsNotFound(t *testing.T) {
	t.Parallel()
	f, srv := newFakeVault(t, mount, path, "tok")
	f.put(map[string]any{"auth_public_key": "pem-1"})
	f.put(map[string]any{"auth_public_key": "pem-2"})
	f.deleteVersion(1, time.Now())
	v := newVault(t, srv.URL, "tok")
	ctx := context.Background()
	_, err := v.GetVersion(ctx, "auth_public_key", 1)
	require.ErrorIs(t, err, secrets.ErrNotFound)
	require.ErrorContains(t, err, "has no data at this version")
	s, err := v.Get(ctx, "auth_public_key")
	require.NoError(t, err)
	require.Equal(t, "pem-2", string(s.Value))
	f.deleteVersion(2, time.Now())
	_, err = v.Get(ctx, "auth_public_key")
	require.ErrorIs(t, err, secrets.ErrNotFound, "the latest version deleted: nothing to read")
}
