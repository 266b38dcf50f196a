package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// chatEnv is the gateway on embedded servers with the chat answered by the
// fake OpenAI server.
func newChatEnv(t *testing.T, cfg Config) (*env, *fakeopenai.Server) {
	t.Helper()
	return newChatEnvWithBudget(t, cfg, budget.Limits{})
}

// newChatEnvWithBudget is newChatEnv with the tenants' language model
// budgets counted in the embedded Redis, the fake provider priced as the
// catalogue prices gpt-4o-mini.
func newChatEnvWithBudget(t *testing.T, cfg Config, limits budget.Limits) (*env, *fakeopenai.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devstackStart.Lock()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	devstackStart.Unlock()
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	fake := fakeopenai.New()
	t.Cleanup(fake.Close)
	router, err := llm.New(llm.Config{InitialBackoff: 5 * time.Millisecond, Providers: []llm.ProviderConfig{{
		Name: "fake-openai", Kind: llm.KindOpenAI, BaseURL: fake.BaseURL(), Model: "gpt-test", Key: llm.NewKey("sk-test-gateway-key-0123456789"),
	}}})
	require.NoError(t, err)
	cat := testCatalogue(t)
	price, ok := budget.CataloguePrice(cat.HostedAPIs, "gpt-4o-mini")
	require.True(t, ok)
	ch, err := cache.Connect(ctx, stack.RedisURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })
	e := newEnvWith(t, cfg, stack.NATSURL, stack.MongoURI, stack.RedisURL, func(d *Deps) {
		d.LLM, d.LLMSecrets = router, router.Keys
		d.LLMBudget, err = budget.New(ch.Client(), limits, map[string]budget.Price{"fake-openai": price}, budget.Options{})
		require.NoError(t, err)
	})
	return e, fake
}

// completedWithReport creates an assessment of tenant and stores a report for it.
func (e *env) completedWithReport(t *testing.T, tenant string) string {
	t.Helper()
	id := e.create(t, tenant, "chat subject")
	doc := report.Document{Model: report.Model{AssessmentID: id, TenantID: tenant, Name: "chat subject", Status: "completed",
		Executive: report.Executive{Summary: "The plan costs $12,345.67 a month on 8 GPUs.",
			Families: []report.FamilyLine{{Family: "cloud", Status: "ok"}}},
		Cost: report.Cost{Options: []report.CostOption{{Option: "on demand", Available: true, Low: 12345.67, High: 15000}}}},
		Families: []report.FamilySection{{Family: "cloud", Status: "ok", Summary: "8 GPUs on aws p5.48xlarge.",
			Metrics: []report.Metric{{Name: "gpus", Value: 8, Formula: "ceil(peak / per-GPU throughput)", Source: "vLLM benchmarks"}}}}}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, e.store.Reports.Upsert(t.Context(), store.Report{TenantID: tenant, AssessmentID: id, Status: "completed", Body: string(b)}))
	return id
}

func (e *env) chatRequest(t *testing.T, method, path, tok, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func TestChatRoutesSayTheChatIsOffWithoutAProvider(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	id := e.create(t, "acme", "no chat")
	tok := e.tokenWithRoles(t, "acme", "u1", "owner")
	cid := uuid.NewString()
	for _, r := range [][3]string{
		{http.MethodPost, "/v1/assessments/" + id + "/conversations", ""},
		{http.MethodGet, "/v1/assessments/" + id + "/conversations", ""},
		{http.MethodGet, "/v1/assessments/" + id + "/conversations/" + cid, ""},
		{http.MethodPost, "/v1/assessments/" + id + "/conversations/" + cid + "/messages", `{"content":"hi"}`},
	} {
		resp := e.chatRequest(t, r[0], r[1], tok, r[2])
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, r[1])
		p := decodeBody[Problem](t, resp)
		require.Equal(t, ProblemChatOff, p.Type)
		require.Contains(t, p.Detail, "IM_LLM_PROVIDER_0_KIND")
	}
}

func TestChatAnswersOverSSEAndKeepsTheHistoryForItsUserOnly(t *testing.T) {
	t.Parallel()
	e, fake := newChatEnv(t, Config{})
	id := e.completedWithReport(t, "acme")
	fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if r.Body.Messages[len(r.Body.Messages)-1].Role != "tool" {
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "read_report", Arguments: `{"section":"family","family":"cloud"}`}}}
		}
		return fakeopenai.Reply{Text: "It runs on 8 GPUs. It costs $12,345.67 a month on demand."}
	})
	ann := e.tokenWithRoles(t, "acme", "ann", "viewer")

	resp := e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations", ann, `{"title":"Costs"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	conv := decodeBody[api.Conversation](t, resp)
	require.Equal(t, "/v1/assessments/"+id+"/conversations/"+conv.ID, resp.Header.Get("Location"))
	require.Equal(t, "Costs", conv.Title)

	resp = e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations/"+conv.ID+"/messages", ann, `{"content":"Why 8 GPUs?"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sse := readSSE(resp.Body)
	var names, text []string
	var final api.ChatMessage
	for ev := range sse.Events {
		names = append(names, ev.Event)
		switch ev.Event {
		case "token":
			var tok api.ChatTokenEvent
			require.NoError(t, json.Unmarshal([]byte(ev.Data), &tok))
			text = append(text, tok.Text)
		case "message":
			require.NoError(t, json.Unmarshal([]byte(ev.Data), &final))
		}
	}
	resp.Body.Close()
	require.Equal(t, []string{"tool", "tool", "token", "token", "message"}, names)
	require.Equal(t, []string{"It runs on 8 GPUs.", " It costs $12,345.67 a month on demand."}, text)
	require.NotNil(t, final.Generated)
	require.True(t, *final.Generated)
	require.Len(t, *final.Tools, 1)
	require.Contains(t, *(*final.Tools)[0].Result, "ceil(peak / per-GPU throughput)", "the figure comes with its working")
	// A viewer is offered reading the report, nothing that computes.
	require.Len(t, fake.Requests()[0].Body.Tools, 1)

	resp = e.chatRequest(t, http.MethodGet, "/v1/assessments/"+id+"/conversations/"+conv.ID, ann, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := decodeBody[api.Conversation](t, resp)
	require.Equal(t, 2, got.Turns)
	require.Len(t, *got.Messages, 2)
	require.Equal(t, "Why 8 GPUs?", (*got.Messages)[0].Content)

	resp = e.chatRequest(t, http.MethodGet, "/v1/assessments/"+id+"/conversations", ann, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	list := decodeBody[api.ConversationList](t, resp)
	require.Len(t, list.Items, 1)
	require.Nil(t, list.Items[0].Messages)

	// Another user of the tenant, and another tenant, see nothing of it.
	bob := e.tokenWithRoles(t, "acme", "bob", "owner")
	resp = e.chatRequest(t, http.MethodGet, "/v1/assessments/"+id+"/conversations/"+conv.ID, bob, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
	resp = e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations/"+conv.ID+"/messages", bob, `{"content":"hi"}`)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
	resp = e.chatRequest(t, http.MethodGet, "/v1/assessments/"+id+"/conversations", bob, "")
	require.Empty(t, decodeBody[api.ConversationList](t, resp).Items)
	eve := e.tokenWithRoles(t, "globex", "ann", "owner")
	resp = e.chatRequest(t, http.MethodGet, "/v1/assessments/"+id+"/conversations/"+conv.ID, eve, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
	resp = e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations", eve, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another tenant's assessment cannot be discussed")
	resp.Body.Close()
}

func TestChatRefusesBadMessagesWithProblems(t *testing.T) {
	t.Parallel()
	e, fake := newChatEnv(t, Config{})
	id := e.completedWithReport(t, "acme")
	pending := e.create(t, "acme", "still running")
	tok := e.tokenWithRoles(t, "acme", "ann", "analyst")
	start := func(aid string) string {
		resp := e.chatRequest(t, http.MethodPost, "/v1/assessments/"+aid+"/conversations", tok, "")
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		return decodeBody[api.Conversation](t, resp).ID
	}
	cid := start(id)
	send := "/v1/assessments/" + id + "/conversations/" + cid + "/messages"
	tests := []struct {
		name, path, body string
		status           int
		field, typ       string
	}{
		{name: "empty content", path: send, body: `{"content":"  "}`, status: 400, field: "content"},
		{name: "too long", path: send, body: `{"content":"` + strings.Repeat("x", 4001) + `"}`, status: 400, field: "content"},
		{name: "unknown field", path: send, body: `{"content":"hi","tenant_hint":"globex"}`, status: 400, field: "tenant_hint"},
		{name: "server-set field", path: send, body: `{"content":"hi","tenant_id":"globex"}`, status: 400, field: "tenant_id"},
		{name: "not JSON", path: send, body: `content=hi`, status: 400, field: "body"},
		{name: "no such conversation", path: "/v1/assessments/" + id + "/conversations/" + uuid.NewString() + "/messages",
			body: `{"content":"hi"}`, status: 404},
		{name: "report not written", path: "/v1/assessments/" + pending + "/conversations/" + start(pending) + "/messages",
			body: `{"content":"hi"}`, status: 404, typ: ProblemReportNotReady},
		{name: "title too long", path: "/v1/assessments/" + id + "/conversations", body: `{"title":"` + strings.Repeat("t", 81) + `"}`,
			status: 400, field: "title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.chatRequest(t, http.MethodPost, tt.path, tok, tt.body)
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
			p := decodeBody[Problem](t, resp)
			if tt.field != "" {
				require.NotEmpty(t, p.Errors, p.Detail)
				require.Equal(t, tt.field, p.Errors[0].Field)
			}
			if tt.typ != "" {
				require.Equal(t, tt.typ, p.Type)
			}
		})
	}
	require.Empty(t, fake.Requests(), "no refused message reached the model")
}

// A what-if asked in the chat goes through the scenarios use case: the
// scenario is a child assessment of the base like POST .../scenarios makes.
func TestChatWhatIfRunsAScenarioOfTheBase(t *testing.T) {
	t.Parallel()
	e, fake := newChatEnv(t, Config{Chat: chatConfigForTests()})
	id := e.completedWithReport(t, "acme")
	fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if r.Body.Messages[len(r.Body.Messages)-1].Role != "tool" {
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "run_scenario",
				Arguments: `{"name":"Traffic x3","overrides":{"traffic_multiplier":3}}`}}}
		}
		return fakeopenai.Reply{Text: "The what-if is running."}
	})
	tok := e.tokenWithRoles(t, "acme", "ann", "analyst")
	resp := e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations", tok, "")
	cid := decodeBody[api.Conversation](t, resp).ID
	resp = e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations/"+cid+"/messages", tok, `{"content":"What if traffic triples?"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var final api.ChatMessage
	for ev := range readSSE(resp.Body).Events {
		if ev.Event == "message" {
			require.NoError(t, json.Unmarshal([]byte(ev.Data), &final))
		}
	}
	resp.Body.Close()
	require.Len(t, *final.Tools, 1)
	// No worker runs in this test, so the report never comes: the tool
	// says where it will be.
	require.Contains(t, *(*final.Tools)[0].Error, "/v1/assessments/"+id+"/scenarios/")

	resp = e.chatRequest(t, http.MethodGet, "/v1/assessments/"+id+"/scenarios", tok, "")
	list := decodeBody[api.ScenarioList](t, resp)
	require.Len(t, list.Items, 1)
	require.Equal(t, "Traffic x3", list.Items[0].Name)
	require.Equal(t, api.ScenarioOverrides{TrafficMultiplier: optional(3.0)}, list.Items[0].Overrides)
}

func chatConfigForTests() consultant.ChatConfig {
	return consultant.ChatConfig{ScenarioWait: 300 * time.Millisecond, ScenarioPoll: 50 * time.Millisecond}
}

// A chat's use is counted per tenant and shown to its managers at
// GET /v1/usage/llm; a message the day's budget has no room for is refused
// with 429 naming the budget, before any event.
func TestChatUseIsCountedAndABudgetUsedUpIsA429NamingIt(t *testing.T) {
	t.Parallel()
	e, fake := newChatEnvWithBudget(t, Config{}, budget.Limits{TokensPerDay: 2000, USDPerMonth: 10})
	id := e.completedWithReport(t, "acme")
	fake.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Text: "It runs on 8 GPUs.", PromptTokens: 1400, CompletionTokens: 100, Model: "gpt-4o-mini-2024-07-18"}
	})
	owner := e.tokenWithRoles(t, "acme", "olga", "owner")
	viewer := e.tokenWithRoles(t, "acme", "vic", "viewer")

	resp := e.chatRequest(t, http.MethodPost, "/v1/assessments/"+id+"/conversations", owner, "")
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	conv := decodeBody[api.Conversation](t, resp)
	messages := "/v1/assessments/" + id + "/conversations/" + conv.ID + "/messages"
	resp = e.chatRequest(t, http.MethodPost, messages, owner, `{"content":"How many GPUs?"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events := 0
	for range readSSE(resp.Body).Events {
		events++
	}
	require.Positive(t, events)

	resp = e.chatRequest(t, http.MethodGet, "/v1/usage/llm", owner, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	u := decodeBody[api.LLMUsage](t, resp)
	require.Equal(t, time.Now().UTC().Format("2006-01-02"), u.Day.Period)
	require.InDelta(t, 1500, u.Day.Tokens.Used, 0)
	require.Zero(t, u.Day.Tokens.InFlight)
	require.NotNil(t, u.Day.Tokens.Limit)
	require.InDelta(t, 2000, *u.Day.Tokens.Limit, 0)
	require.Nil(t, u.Day.USD.Limit, "no dollar budget per day")
	require.InDelta(t, 10, *u.Month.USD.Limit, 0)
	// 1,400 x 0.15 + 100 x 0.60 per million tokens = $0.00027.
	require.InDelta(t, 0.00027, u.Month.USD.Used, 1e-9)
	require.Len(t, u.Day.Models, 1)
	m := u.Day.Models[0]
	require.Equal(t, "fake-openai", m.Provider)
	require.Equal(t, "gpt-4o-mini-2024-07-18", m.Model)
	require.Equal(t, 1, m.Calls)
	require.NotNil(t, m.PriceSource)
	require.Contains(t, *m.PriceSource, "gpt-4o-mini")

	other := e.tokenWithRoles(t, "globex", "gus", "owner")
	resp = e.chatRequest(t, http.MethodGet, "/v1/usage/llm", other, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Zero(t, decodeBody[api.LLMUsage](t, resp).Day.Tokens.Used, "another tenant sees only its own use")
	resp = e.chatRequest(t, http.MethodGet, "/v1/usage/llm", viewer, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_ = resp.Body.Close()

	// 500 tokens are left today; a message needs its 600-token cap at least.
	before := len(fake.Requests())
	resp = e.chatRequest(t, http.MethodPost, messages, owner, `{"content":"And the cost?"}`)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, retry)
	require.LessOrEqual(t, retry, 86400, "the day's budget resets at the next UTC midnight")
	p := decodeBody[api.Problem](t, resp)
	require.Equal(t, api.ProblemType(ProblemLLMBudget), p.Type)
	require.NotNil(t, p.Budget)
	require.Equal(t, api.LLMBudgetTokensPerDay, p.Budget.Name)
	require.Equal(t, api.LLMBudgetUnitTokens, p.Budget.Unit)
	require.InDelta(t, 2000, p.Budget.Limit, 0)
	require.InDelta(t, 1500, p.Budget.Used, 0)
	require.Contains(t, *p.Detail, "tokens_per_day")
	require.Len(t, fake.Requests(), before, "no provider was called")
}
