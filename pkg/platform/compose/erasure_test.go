package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/gateway"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// withPrivateWebhooks lets webhooks post to the test's own loopback receiver.
func withPrivateWebhooks(cfg *platform.Config) {
	cfg.Webhook = platform.WebhookConfig{AllowPrivate: true, Timeout: 5 * time.Second, MaxAttempts: 3}
}

// A finished assessment with a version and a scenario, a narrative and a
// delivered webhook, erased: nothing of it can be read afterwards through
// any route, nor found in any collection, stream, bucket or Redis key.
func TestErasureLeavesNothingInAnyStore(t *testing.T) {
	f := fakeopenai.New()
	defer f.Close()
	f.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Text: "The recommended deployment follows the data for this assessment."}
	})
	sys := startSystem(t, compose.AllRoles(), time.Minute, withFakeLLM(f), withPrivateWebhooks)
	checkErasure(t, sys, "acme", true)
}

// httpCall sends a request with the tenant owner's token and returns the
// status and body.
func httpCall(t *testing.T, sys *system, token, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, sys.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// checkErasure runs an example through the whole system for tenant, erases
// it and looks for it everywhere. narrative says a consultant is running.
func checkErasure(t *testing.T, sys *system, tenant string, narrative bool) {
	t.Helper()
	ctx := context.Background()
	token := sys.sign(tenant)
	c, err := client.New(sys.base, token, nil)
	require.NoError(t, err)
	// A name no other test uses: finding it anywhere afterwards is a leak.
	marker := "Erasure probe " + uuid.NewString()
	body := regexp.MustCompile(`(?m)^name: .*$`).ReplaceAll(example(t, "startup-rag.yaml"), []byte("name: "+marker))

	var posted atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(`"status":"completed"`)) || bytes.Contains(b, []byte(`"status": "completed"`)) {
			posted.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	code, hookBody := httpCall(t, sys, token, http.MethodPost, "/v1/webhooks",
		[]byte(`{"url":"`+receiver.URL+`","event_types":["assessment.completed"]}`))
	require.Equal(t, http.StatusCreated, code, string(hookBody))
	var hook struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(hookBody, &hook))

	acc, err := c.Submit(ctx, body, "application/yaml")
	require.NoError(t, err)
	base := acc.ID
	_, completed := follow(t, c, base)
	require.Equal(t, "completed", completed["status"])
	version, err := c.CreateVersion(ctx, base)
	require.NoError(t, err)
	scenario, err := c.CreateScenario(ctx, base, api.ScenarioRequest{Overrides: api.ScenarioOverrides{TrafficMultiplier: ptr(2.0)}})
	require.NoError(t, err)
	ids := []string{base, version.ID, scenario.ID}
	for _, id := range ids[1:] {
		_, done := follow(t, c, id)
		require.Equal(t, "completed", done["status"])
	}
	if narrative {
		require.Eventually(t, func() bool {
			_, err := sys.platform.Store.Narratives.Get(ctx, tenant, base, "cto")
			return err == nil
		}, 30*time.Second, 50*time.Millisecond, "the narrative is written")
	}
	require.Eventually(t, func() bool { return posted.Load() >= 3 }, 30*time.Second, 50*time.Millisecond,
		"the webhook received the completed events")
	var events []string
	for _, id := range ids {
		evs, err := sys.platform.Bus.AssessmentEventIDs(ctx, tenant, id)
		require.NoError(t, err)
		require.NotEmpty(t, evs)
		events = append(events, evs...)
	}
	require.Eventually(t, func() bool {
		logged, err := sys.platform.Store.Webhooks.ListDeliveries(ctx, tenant, hook.ID)
		return err == nil && len(logged) >= 3
	}, 30*time.Second, 50*time.Millisecond, "the delivery log has the deliveries")

	// With a provider, a user's chat about the assessment is erased with it.
	var cid string
	if narrative {
		conv, err := c.StartConversation(ctx, base, marker)
		require.NoError(t, err)
		cid = conv.ID
		_, err = c.Ask(ctx, base, cid, "Why this deployment for "+marker+"?", nil)
		require.NoError(t, err)
	}
	routes := getRoutes(t, base, scenario.ID, cid, narrative)
	for path, url := range routes {
		code, b := httpCall(t, sys, token, http.MethodGet, url, nil)
		if strings.HasSuffix(path, "/events") {
			require.NotEqual(t, http.StatusNotFound, code, "%s before: %s", path, b)
			continue
		}
		require.Equal(t, http.StatusOK, code, "%s before the erasure: %s", path, b)
	}
	_, err = c.Report(ctx, base) // cached now
	require.NoError(t, err)

	// Another tenant cannot erase it, an analyst may not.
	other, err := client.New(sys.base, sys.sign("other-"+tenant), nil)
	require.NoError(t, err)
	var p *client.Problem
	require.ErrorAs(t, other.Delete(ctx, base), &p)
	require.Equal(t, http.StatusNotFound, p.Status)

	require.NoError(t, c.Delete(ctx, base))

	for _, id := range ids {
		for path, url := range getRoutes(t, id, scenario.ID, cid, narrative) {
			code, b := httpCall(t, sys, token, http.MethodGet, url, nil)
			require.Equal(t, http.StatusNotFound, code, "%s of %s after the erasure: %s", path, id, b)
			require.NotContains(t, string(b), marker)
		}
	}
	for _, path := range []string{"/v1/assessments?limit=100", "/v1/webhooks/" + hook.ID + "/deliveries"} {
		code, b := httpCall(t, sys, token, http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, code, string(b))
		requireNone(t, path, b, marker, ids, events)
	}
	err = c.Delete(ctx, base)
	require.ErrorAs(t, err, &p)
	require.Equal(t, http.StatusNotFound, p.Status, "a second DELETE is a 404")

	// The store: every document of every collection but the audit log.
	db := sys.platform.Store.Database()
	colls, err := db.ListCollectionNames(ctx, bson.D{})
	require.NoError(t, err)
	for _, name := range colls {
		if name == store.CollAudit {
			continue
		}
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		require.NoError(t, err)
		var docs []bson.M
		require.NoError(t, cur.All(ctx, &docs))
		for _, d := range docs {
			b, err := json.Marshal(d)
			require.NoError(t, err)
			requireNone(t, "collection "+name, b, marker, ids, events)
		}
	}
	// The audit log names the erasure, never the content.
	audit := auditOf(t, sys, token)
	require.Contains(t, audit, `"action":"assessment.delete"`)
	require.NotContains(t, audit, marker)

	// Every stream, the key-value buckets' own streams included; tombstones
	// (ids only) excepted.
	js := sys.platform.Bus.JS
	for name := range js.StreamNames(ctx).Name() {
		forEachMessage(t, js, name, func(subject string, data []byte, headers string) {
			if strings.HasSuffix(subject, ".erased") {
				return
			}
			requireNone(t, "stream "+name+" "+subject, append(append([]byte(subject), data...), headers...), marker, ids, events)
		})
	}
	// Redis: every key of the tenant; the erased marks (ids only) excepted.
	rc := sys.platform.Cache.Client()
	keys, err := rc.Keys(ctx, cache.Key(tenant, "*")).Result()
	require.NoError(t, err)
	for _, k := range keys {
		if strings.HasPrefix(k, cache.Key(tenant, "erased")+":") {
			continue
		}
		var val []byte
		switch typ, _ := rc.Type(ctx, k).Result(); typ {
		case "string":
			val, _ = rc.Get(ctx, k).Bytes()
		case "zset":
			members, _ := rc.ZRange(ctx, k, 0, -1).Result()
			val = []byte(strings.Join(members, " "))
		}
		requireNone(t, "redis "+k, append([]byte(k+" "), val...), marker, ids, events)
	}
}

// requireNone fails when b mentions the marker, an id or an event id.
func requireNone(t *testing.T, where string, b []byte, marker string, ids, events []string) {
	t.Helper()
	s := string(b)
	require.NotContainsf(t, s, marker, "%s holds the erased assessment's name", where)
	for _, id := range ids {
		require.NotContainsf(t, s, id, "%s holds the erased assessment %s", where, id)
	}
	for _, e := range events {
		require.NotContainsf(t, s, e, "%s holds the erased event %s", where, e)
	}
}

// getRoutes are the OpenAPI document's GET routes of one assessment. The
// chat's routes answer only when a language model provider is configured
// (chat says so; cid is then a conversation about the assessment).
func getRoutes(t *testing.T, id, sid, cid string, chat bool) map[string]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(gateway.OpenAPI(), &doc))
	out := map[string]string{}
	chatRoutes := 0
	for path, ops := range doc.Paths {
		get, ok := ops["get"]
		if !ok || !strings.HasPrefix(path, "/v1/assessments/{id}") {
			continue
		}
		var op map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(get, &op))
		if _, needsLLM := op["x-requires-llm-provider"]; needsLLM {
			if !chat {
				continue
			}
			chatRoutes++
		}
		url := strings.NewReplacer("{id}", id, "{sid}", sid, "{cid}", cid).Replace(path)
		if strings.HasSuffix(path, "/versions/diff") {
			url += "?from=1&to=2"
		}
		out[path] = url
	}
	require.Len(t, out, 8+chatRoutes, "the assessment's GET routes")
	if chat {
		require.Equal(t, 2, chatRoutes, "the chat's GET routes")
	}
	return out
}

// auditOf is the tenant's audit log as JSON.
func auditOf(t *testing.T, sys *system, token string) string {
	t.Helper()
	var out string
	require.Eventually(t, func() bool {
		code, b := httpCall(t, sys, token, http.MethodGet, "/v1/audit?limit=100&action=assessment.delete", nil)
		out = string(b)
		return code == http.StatusOK && strings.Contains(out, "assessment.delete")
	}, 10*time.Second, 50*time.Millisecond, "the erasure is audited")
	code, b := httpCall(t, sys, token, http.MethodGet, "/v1/audit?limit=100", nil)
	require.Equal(t, http.StatusOK, code)
	return out + string(b)
}

// forEachMessage reads every message stream holds.
func forEachMessage(t *testing.T, js jetstream.JetStream, stream string, fn func(subject string, data []byte, headers string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	if info.State.Msgs == 0 {
		return
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		n := 0
		for m := range batch.Messages() {
			n++
			h, _ := json.Marshal(m.Headers())
			fn(m.Subject(), m.Data(), string(h))
			meta, err := m.Metadata()
			require.NoError(t, err)
			if meta.Sequence.Stream >= info.State.LastSeq {
				return
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			require.NoError(t, err)
		}
		if n == 0 {
			return
		}
		read += uint64(n) //nolint:gosec // a batch is at most 500
	}
}

func ptr[T any](v T) *T { return &v }
