package gateway

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/identity"
	identityadapters "github.com/infra-mind/infra-mind/pkg/identity/adapters"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

const (
	testIssuer   = "https://infra-mind.test"
	testAudience = "infra-mind-api"
)

// embeddedCatalogue is the embedded catalogue and its versions' price
// tables, parsed once for the package's tests: parsing and validating them
// is most of what building a Server costs, and both are read-only.
var embeddedCatalogue = sync.OnceValues(func() (catalogueData, error) {
	cat, err := catalog.Load()
	if err != nil {
		return catalogueData{}, err
	}
	tables, err := catalog.PriceTables()
	return catalogueData{cat: cat, tables: tables}, err
})

type catalogueData struct {
	cat    *catalog.Catalog
	tables []catalog.PriceTable
}

// testCatalogue returns the embedded catalogue, parsed once per test binary.
func testCatalogue(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	c, err := embeddedCatalogue()
	require.NoError(tb, err)
	return c.cat
}

// withTestCatalogue gives d the catalogue and price tables parsed once per
// test binary.
func withTestCatalogue(tb testing.TB, d *Deps) {
	tb.Helper()
	c, err := embeddedCatalogue()
	require.NoError(tb, err)
	d.Catalog, d.PriceTables = c.cat, c.tables
}

// devstackStart serialises devstack.Start: FerretDB's embedded constructor
// writes package state, which races when two stacks start at once.
var devstackStart sync.Mutex

// env is a gateway on embedded NATS, FerretDB and Redis, served over HTTP.
type env struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	bus    *bus.Bus
	store  *store.Store
	cache  *cache.Cache
	signer *auth.Signer
	key    ed25519.PrivateKey
	// ident is the gateway's identity service; ring its signing key ring.
	ident *identity.Service
	ring  *auth.KeyRing
	// logs holds what the gateway logged and the credentials its traffic
	// carried (logcheck_test.go).
	logs *logSink
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devstackStart.Lock()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	devstackStart.Unlock()
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	return newEnvAt(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL)
}

// newEnvAt builds the gateway against servers at the given addresses.
func newEnvAt(t *testing.T, cfg Config, natsURL, mongoURI, redisURL string) *env {
	t.Helper()
	return newEnvWith(t, cfg, natsURL, mongoURI, redisURL, nil)
}

// newEnvWith is newEnvAt with more dependencies set by with (a language model).
func newEnvWith(t *testing.T, cfg Config, natsURL, mongoURI, redisURL string, with func(*Deps)) *env {
	t.Helper()
	logs := newLogSink(t) // first, so it is checked after the server closed
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{URL: natsURL, Name: "gateway-test", Logger: logs.log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	st, err := store.Connect(ctx, mongoURI, "gw_"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	ch, err := cache.Connect(ctx, redisURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })

	key, err := auth.GenerateKey()
	require.NoError(t, err)
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	require.NoError(t, err)
	logger := logs.log
	ring, err := auth.NewKeyRing(key)
	require.NoError(t, err)
	signer := ring.Signer(testIssuer, testAudience)
	ident, err := identity.New(realIdentityPorts(t, st, ch), signer, identity.Options{Logger: logger, TOTPKeys: testTOTPKeys(t)})
	require.NoError(t, err)
	deps := realDeps(t, b, st, ch)
	withTestCatalogue(t, &deps)
	deps.Verifier = auth.NewRingVerifier(ring, testIssuer, testAudience)
	deps.Logger, deps.Metrics, deps.Registry = logger, metrics, reg
	deps.Checks = []telemetry.Check{{Name: "nats", Fn: b.Ping}, {Name: "store", Fn: st.Ping}}
	deps.Identity, deps.Keys = ident, ring
	if with != nil {
		with(&deps)
	}
	srv, err := New(cfg, deps)
	require.NoError(t, err)
	hs := httptest.NewServer(logs.record(srv.Handler()))
	t.Cleanup(hs.Close)
	t.Cleanup(srv.closeStreams) // end open SSE streams before the server closes
	return &env{t: t, srv: srv, http: hs, bus: b, store: st, cache: ch, signer: signer, key: key, ident: ident, ring: ring, logs: logs}
}

// realIdentityPorts are the identity service's ports on st and ch's Redis.
func realIdentityPorts(t *testing.T, st *store.Store, ch *cache.Cache) identity.Ports {
	t.Helper()
	p, err := identityadapters.Ports(st, ch.Client())
	require.NoError(t, err)
	return p
}

func (e *env) token(tenant string) string {
	e.t.Helper()
	tok, err := e.signer.Issue("user-"+tenant, tenant, []string{"owner"}, time.Hour)
	require.NoError(e.t, err)
	return tok
}

// do sends a request as tenant ("" sends no token).
func (e *env) do(t *testing.T, method, path, tenant, contentType string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	require.NoError(t, err)
	if tenant != "" {
		req.Header.Set("Authorization", "Bearer "+e.token(tenant))
	}
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

func decodeBody[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	defer resp.Body.Close()
	var v T
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	require.NoError(t, err)
	return b
}

// create submits the startup example (renamed) and returns its id.
func (e *env) create(t *testing.T, tenant, name string) string {
	t.Helper()
	doc := strings.Replace(string(readExample(t, "startup-rag.yaml")), "name: Help-centre Q&A for a small SaaS", "name: "+name, 1)
	resp := e.do(t, http.MethodPost, "/v1/assessments", tenant, "application/yaml", strings.NewReader(doc), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	created := decodeBody[api.AssessmentCreated](t, resp)
	require.NotEmpty(t, created.ID)
	return created.ID
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	ID, Event, Data string
}

// sseReader parses an event stream: events go to Events, comments to Comments.
type sseReader struct {
	Events   chan sseEvent
	Comments chan string
	Done     chan error
}

func readSSE(body io.Reader) *sseReader {
	r := &sseReader{Events: make(chan sseEvent, 64), Comments: make(chan string, 64), Done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.Event != "" || cur.Data != "" {
					r.Events <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				select {
				case r.Comments <- strings.TrimSpace(strings.TrimPrefix(line, ":")):
				default:
				}
			case strings.HasPrefix(line, "id: "):
				cur.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.Data += strings.TrimPrefix(line, "data: ")
			}
		}
		r.Done <- sc.Err()
		close(r.Events)
	}()
	return r
}

// next returns the next event or fails after a generous bound (a hang, not a speed check).
func (r *sseReader) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-r.Events:
		require.True(t, ok, "stream ended early")
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15s")
		return sseEvent{}
	}
}
