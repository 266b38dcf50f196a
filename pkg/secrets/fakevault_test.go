package secrets_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVault is a FAKE of Vault's KV v2 HTTP API, not Vault: no Vault server
// can be built or installed here (see docs/adr/0008-secrets-provider.md). It
// implements only what the provider calls, with the status codes and JSON
// shapes of Vault's documented API: GET /v1/sys/health (sealed and
// initialized flags, honouring activecode and sealedcode), GET
// /v1/<mount>/data/<path> with ?version=, 404 with metadata and no data for
// a soft-deleted version, 403 for a wrong X-Vault-Token, 503 while sealed,
// 404 for an unknown path or version. vaultdocs_test.go checks each shape
// against Vault's published API documentation.
type fakeVault struct {
	mount, path, token string

	mu       sync.Mutex
	sealed   bool
	versions []map[string]any // versions[i] is version i+1
	deleted  map[int]time.Time
	reads    int
}

// deleteVersion soft-deletes version n, as `vault kv delete -versions=n`
// does: reading it then answers 404 with the version's metadata (its
// deletion_time set) and no data.
func (f *fakeVault) deleteVersion(n int, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted == nil {
		f.deleted = map[int]time.Time{}
	}
	f.deleted[n] = at
}

func newFakeVault(t *testing.T, mount, path, token string) (*fakeVault, *httptest.Server) {
	t.Helper()
	f := &fakeVault{mount: mount, path: path, token: token}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// put writes a new version, as `vault kv put` does on rotation.
func (f *fakeVault) put(data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.versions = append(f.versions, data)
}

func (f *fakeVault) setSealed(s bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sealed = s
}

func (f *fakeVault) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func vaultErrors(w http.ResponseWriter, code int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, code, map[string]any{"errors": msgs})
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodGet {
		vaultErrors(w, http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/v1/sys/health" {
		// Vault answers 503 when sealed unless the caller picks another code.
		code := http.StatusOK
		if c, err := strconv.Atoi(r.URL.Query().Get("activecode")); err == nil && !f.sealed {
			code = c
		}
		if f.sealed {
			code = http.StatusServiceUnavailable
			if c, err := strconv.Atoi(r.URL.Query().Get("sealedcode")); err == nil {
				code = c
			}
		}
		writeJSON(w, code, map[string]any{"initialized": true, "sealed": f.sealed, "standby": false, "version": "fake"})
		return
	}
	if f.sealed {
		vaultErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if r.Header.Get("X-Vault-Token") != f.token {
		vaultErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	if r.URL.Path != "/v1/"+f.mount+"/data/"+f.path {
		vaultErrors(w, http.StatusNotFound)
		return
	}
	f.reads++
	v := len(f.versions)
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		n, err := strconv.Atoi(q)
		if err != nil {
			vaultErrors(w, http.StatusBadRequest, "invalid version")
			return
		}
		v = n
	}
	if v < 1 || v > len(f.versions) {
		vaultErrors(w, http.StatusNotFound)
		return
	}
	code, data, deletion := http.StatusOK, any(f.versions[v-1]), ""
	if at, ok := f.deleted[v]; ok {
		code, data, deletion = http.StatusNotFound, nil, at.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, code, map[string]any{
		"request_id": "fake", "lease_id": "", "renewable": false, "lease_duration": 0,
		"wrap_info": nil, "warnings": nil, "auth": nil,
		"data": map[string]any{
			"data": data,
			"metadata": map[string]any{
				"version": v, "created_time": time.Date(2026, 1, 1, 0, 0, v, 0, time.UTC).Format(time.RFC3339Nano),
				"deletion_time": deletion, "destroyed": false, "custom_metadata": nil,
			},
		},
	})
}

// closedAddr is an address nothing listens on (a server started and closed).
func closedAddr(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	return strings.TrimSpace(addr)
}
