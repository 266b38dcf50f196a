package consultant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// memConversations is an in-process fake of the conversations port; the
// store's contract suite runs the same behaviour on FerretDB.
type memConversations struct {
	mu sync.Mutex
	m  map[string]store.Conversation
}

func (s *memConversations) Create(_ context.Context, c store.Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := store.ConversationKey(c.TenantID, c.ConversationID)
	if _, ok := s.m[k]; ok {
		return store.ErrConflict
	}
	c.Key = k
	s.m[k] = c
	return nil
}

func (s *memConversations) Get(_ context.Context, tenant, user, id string) (store.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[store.ConversationKey(tenant, id)]
	if !ok || c.TenantID != tenant || c.UserID != user {
		return store.Conversation{}, store.ErrNotFound
	}
	c.Messages = append([]store.ChatMessage(nil), c.Messages...)
	return c, nil
}

func (s *memConversations) List(_ context.Context, tenant, user, aid string) ([]store.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []store.Conversation{}
	for _, c := range s.m {
		if c.TenantID == tenant && c.UserID == user && c.AssessmentID == aid {
			c.Messages = nil
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memConversations) Append(_ context.Context, tenant, id string, msgs ...store.ChatMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := store.ConversationKey(tenant, id)
	c, ok := s.m[k]
	if !ok {
		return store.ErrNotFound
	}
	c.Messages = append(c.Messages, msgs...)
	c.Turns += len(msgs)
	s.m[k] = c
	return nil
}

type memAssessments map[string]store.Assessment

func (m memAssessments) Get(_ context.Context, tenant, id string) (store.Assessment, error) {
	a, ok := m[tenant+"/"+id]
	if !ok {
		return store.Assessment{}, store.ErrNotFound
	}
	return a, nil
}

// readLog records which tenant's reports were read.
type readLog struct {
	memReports
	mu    sync.Mutex
	reads []string
}

func (r *readLog) Get(ctx context.Context, tenant, id string) (store.Report, error) {
	r.mu.Lock()
	r.reads = append(r.reads, tenant+"/"+id)
	r.mu.Unlock()
	return r.memReports.Get(ctx, tenant, id)
}

// fakeEstimator answers like the estimate engine would, from a fixed table.
type fakeEstimator struct{ calls []string }

func (f *fakeEstimator) Estimate(_ context.Context, kind string, body []byte) (any, error) {
	f.calls = append(f.calls, kind)
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil || in["model"] == nil {
		return nil, errors.New("invalid estimate request: model: is required")
	}
	return map[string]any{"gpus": map[string]float64{"low": 16, "high": 24}, "monthly_cost_usd": map[string]float64{"low": 41000, "high": 52000}}, nil
}

// fakeWhatIfs runs a scenario whose report is ready after readyAfter polls.
type fakeWhatIfs struct {
	mu         sync.Mutex
	started    []string
	readyAfter int
	polls      int
	diff       report.ReportDiff
}

func (f *fakeWhatIfs) Start(_ context.Context, c consultant.Caller, baseID, name string, overrides []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, c.Tenant+"/"+baseID+"/"+name+"/"+string(overrides))
	return "scenario-1", nil
}

func (f *fakeWhatIfs) Diff(_ context.Context, _, _, _ string) (report.ReportDiff, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	if f.polls <= f.readyAfter {
		return report.ReportDiff{}, false, nil
	}
	return f.diff, true, nil
}

// events records what a sink received.
type events struct {
	mu  sync.Mutex
	seq []string
}

func (e *events) Text(s string) error { e.add("text:" + s); return nil }
func (e *events) Tool(name string, done bool, failure string) error {
	e.add(fmt.Sprintf("tool:%s:%v:%s", name, done, failure))
	return nil
}
func (e *events) Retract(reason string) error { e.add("retract:" + reason); return nil }
func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq = append(e.seq, s)
}

// text is the answer as a client shows it: text since the last retraction.
func (e *events) text() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, s := range e.seq {
		switch {
		case strings.HasPrefix(s, "retract:"):
			b.Reset()
		case strings.HasPrefix(s, "text:"):
			b.WriteString(strings.TrimPrefix(s, "text:"))
		}
	}
	return b.String()
}

// all is every text ever sent, retracted or not.
func (e *events) all() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, s := range e.seq {
		if strings.HasPrefix(s, "text:") {
			b.WriteString(strings.TrimPrefix(s, "text:"))
		}
	}
	return b.String()
}

func (e *events) count(prefix string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, s := range e.seq {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

const (
	tenantA = "acme"
	tenantB = "globex"
	userA   = "u-ann"
	aid     = "a1"
	// otherAid is tenant B's assessment, which no chat of A may reach.
	otherAid = "b-secret-assessment"
)

// otherReport is tenant B's report, with numbers that appear nowhere in A's.
func otherReport() report.Document {
	d := sampleReport()
	d.AssessmentID, d.TenantID, d.Name = otherAid, tenantB, "Globex secret plan"
	d.Executive.Summary = "Globex spends $777,777.77 a month on 512 GPUs."
	d.Cost.Options = []report.CostOption{{Option: "on demand", Available: true, Low: 777777.77, High: 888888.88}}
	return d
}

type chatEnv struct {
	fake      *fakeopenai.Server
	chat      *consultant.Chat
	convs     *memConversations
	reports   *readLog
	estimates *fakeEstimator
	whatifs   *fakeWhatIfs
	reg       *prometheus.Registry
	key       string
}

func newChatEnv(t *testing.T, cfg consultant.ChatConfig) *chatEnv {
	t.Helper()
	return newChatEnvWith(t, cfg, nil)
}

// newChatEnvWith is newChatEnv with the tenants' budgets metered by b.
func newChatEnvWith(t *testing.T, cfg consultant.ChatConfig, meter consultant.Budget) *chatEnv {
	t.Helper()
	f := fakeopenai.New()
	t.Cleanup(f.Close)
	key := "sk-test-" + strings.Repeat("k", 24)
	r, err := llm.New(llm.Config{InitialBackoff: 5 * time.Millisecond, Providers: []llm.ProviderConfig{{
		Name: "fake-openai", Kind: llm.KindOpenAI, BaseURL: f.BaseURL(), Model: "gpt-test", Key: llm.NewKey(key), MaxRetries: 0,
	}}})
	require.NoError(t, err)
	a, err := json.Marshal(sampleReport())
	require.NoError(t, err)
	b, err := json.Marshal(otherReport())
	require.NoError(t, err)
	reports := &readLog{memReports: memReports{
		tenantA + "/" + aid:      {TenantID: tenantA, AssessmentID: aid, Body: string(a)},
		tenantB + "/" + otherAid: {TenantID: tenantB, AssessmentID: otherAid, Body: string(b)},
	}}
	assessments := memAssessments{
		tenantA + "/" + aid:      {ID: aid, TenantID: tenantA, Status: "completed", Name: "Clinical assistant"},
		tenantA + "/pending":     {ID: "pending", TenantID: tenantA, Status: "running"},
		tenantB + "/" + otherAid: {ID: otherAid, TenantID: tenantB, Status: "completed"},
	}
	reg := prometheus.NewRegistry()
	m, err := consultant.NewChatMetrics(reg)
	require.NoError(t, err)
	if cfg.ScenarioPoll == 0 {
		cfg.ScenarioPoll = time.Millisecond
	}
	e := &chatEnv{fake: f, convs: &memConversations{m: map[string]store.Conversation{}}, reports: reports,
		estimates: &fakeEstimator{}, whatifs: &fakeWhatIfs{readyAfter: 2, diff: report.ReportDiff{BaseID: aid, OtherID: "scenario-1", Changed: true,
			Summary: "Monthly cost rises from $12,345.67 to $24,691.34 with traffic_multiplier 2."}}, reg: reg, key: key}
	e.chat, err = consultant.NewChat(consultant.ChatDeps{LLM: r, Conversations: e.convs, Assessments: assessments, Reports: reports,
		Estimates: e.estimates, WhatIfs: e.whatifs, Metrics: m, Secrets: func() []string { return []string{key} }, Budget: meter}, cfg)
	require.NoError(t, err)
	return e
}

func analyst() consultant.Caller {
	return consultant.Caller{Tenant: tenantA, User: userA, Tools: consultant.Tools()}
}

func viewer() consultant.Caller {
	return consultant.Caller{Tenant: tenantA, User: userA, Tools: []string{consultant.ToolReadReport}}
}

// ask starts a conversation and sends one message.
func (e *chatEnv) ask(t *testing.T, who consultant.Caller, content string) (store.ChatMessage, *events) {
	t.Helper()
	conv, err := e.chat.Start(t.Context(), who, aid, "")
	require.NoError(t, err)
	return e.askIn(t, who, conv.ConversationID, content)
}

func (e *chatEnv) askIn(t *testing.T, who consultant.Caller, cid, content string) (store.ChatMessage, *events) {
	t.Helper()
	turn, err := e.chat.Begin(t.Context(), who, aid, cid, content)
	require.NoError(t, err)
	ev := &events{}
	msg, err := turn.Run(t.Context(), ev)
	require.NoError(t, err)
	return msg, ev
}

func lastUser(r fakeopenai.Request) string {
	for i := len(r.Body.Messages) - 1; i >= 0; i-- {
		if r.Body.Messages[i].Role == "user" {
			return r.Body.Messages[i].Content
		}
	}
	return ""
}

func hasToolResult(r fakeopenai.Request) bool {
	return r.Body.Messages[len(r.Body.Messages)-1].Role == "tool"
}

func TestGroundedAnswerStreamsBySentenceAndIsStored(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if !hasToolResult(r) {
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "read_report", Arguments: `{"section":"family","family":"cloud","match":"cost"}`}}}
		}
		return fakeopenai.Reply{Text: "The plan runs on 8 GPUs. It costs about $12.3k a month on demand.\nA 3-year commitment brings it to $7,407.40.",
			Chunks: []string{"The plan runs", " on 8 GPUs. It costs about $12", ".3k a month on demand.\nA 3-year", " commitment brings it to $7,407.40."}}
	})
	msg, ev := e.ask(t, analyst(), "Why does it cost what it costs?")
	require.True(t, msg.Generated)
	require.Empty(t, msg.Note)
	require.Equal(t, "fake-openai", msg.Provider)
	require.Equal(t, "The plan runs on 8 GPUs. It costs about $12.3k a month on demand.\nA 3-year commitment brings it to $7,407.40.", ev.text())
	// Text is released a whole sentence at a time, never a number cut in two.
	require.Equal(t, []string{"tool:read_report:false:", "tool:read_report:true:", "text:The plan runs on 8 GPUs.",
		"text: It costs about $12.3k a month on demand.\n", "text:A 3-year commitment brings it to $7,407.40."}, ev.seq)
	require.Len(t, msg.Tools, 1)
	require.Contains(t, msg.Tools[0].Result, "monthly_cost_usd_low", "the family's figure with its name, filtered by match")
	require.NotContains(t, msg.Tools[0].Result, `"gpus"`)

	convs, err := e.chat.List(t.Context(), analyst(), aid)
	require.NoError(t, err)
	require.Len(t, convs, 1)
	conv, err := e.chat.Get(t.Context(), analyst(), aid, convs[0].ConversationID)
	require.NoError(t, err)
	require.Len(t, conv.Messages, 2)
	require.Equal(t, "Why does it cost what it costs?", conv.Messages[0].Content)
	require.Equal(t, ev.text(), conv.Messages[1].Content)

	reqs := e.fake.Requests()
	require.Len(t, reqs, 2)
	require.True(t, reqs[0].Body.Stream, "answers are streamed")
	require.Equal(t, consultant.DefaultChatMaxTokens, reqs[0].Body.MaxCompletionTokens, "the output cap is sent")
	require.Len(t, reqs[0].Body.Tools, 4, "an analyst is offered every tool")
	require.Contains(t, reqs[0].Body.Messages[1].Content, "<assessment-data>")
	require.Contains(t, reqs[1].Body.Messages[len(reqs[1].Body.Messages)-1].Content, "<tool-result>")
	require.InDelta(t, 1, gauge(t, e.reg, "infra_mind_chat_answer_check_pass_ratio"), 1e-9)
	require.InDelta(t, 1, testutil.ToFloat64(counter(t, e.reg, "infra_mind_chat_tool_calls_total", "read_report")), 0)
}

func TestAnUngroundedAnswerIsWithdrawnAndWrittenAgain(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Enqueue(
		fakeopenai.Reply{Text: "It runs on 8 GPUs. It would save 40% with spot instances."},
		fakeopenai.Reply{Text: "It runs on 8 GPUs at 45% utilisation."},
	)
	msg, ev := e.ask(t, analyst(), "Can we save money?")
	require.True(t, msg.Generated)
	require.Equal(t, "It runs on 8 GPUs at 45% utilisation.", ev.text())
	require.Equal(t, "It runs on 8 GPUs.It runs on 8 GPUs at 45% utilisation.", ev.all(), "only checked sentences were ever sent")
	require.Equal(t, 1, ev.count("retract:"))
	require.Contains(t, ev.seq[1], "40%")
	reqs := e.fake.Requests()
	require.Contains(t, lastUser(reqs[1]), "not in the assessment data or the tool results: 40%")
	require.InDelta(t, 0.5, gauge(t, e.reg, "infra_mind_chat_answer_check_pass_ratio"), 1e-9)
}

func TestAnAnswerFailingTwiceIsReplacedByTheDeterministicOne(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Text: "You need 16 GPUs for $99,000 a month."}
	})
	msg, ev := e.ask(t, analyst(), "How many GPUs?")
	require.False(t, msg.Generated)
	require.Contains(t, msg.Note, "16")
	require.Equal(t, "From the report: "+sampleReport().Executive.Summary, msg.Content)
	require.Equal(t, msg.Content, ev.text())
	require.NotContains(t, ev.all(), "99,000", "no failing sentence was ever sent")
	require.InDelta(t, 1, testutil.ToFloat64(counter(t, e.reg, "infra_mind_chat_answers_total", "deterministic")), 0)
	require.InDelta(t, 0, gauge(t, e.reg, "infra_mind_chat_answer_check_pass_ratio"), 1e-9)
}

func TestNoProviderGivesTheDeterministicAnswer(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Respond(func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Status: 503} })
	msg, _ := e.ask(t, analyst(), "Summarise it.")
	require.False(t, msg.Generated)
	require.Equal(t, consultant.NoteChatNoProvider, msg.Note)
}

func TestAWhatIfWaitsForItsReportAndAnswersWithTheDiff(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if !hasToolResult(r) {
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "run_scenario",
				Arguments: `{"name":"Traffic x2","overrides":{"traffic_multiplier":2}}`}}}
		}
		return fakeopenai.Reply{Text: "With twice the traffic the monthly cost rises from $12,345.67 to $24,691.34."}
	})
	msg, ev := e.ask(t, analyst(), "What if traffic doubles?")
	require.True(t, msg.Generated, msg.Note)
	require.Equal(t, "With twice the traffic the monthly cost rises from $12,345.67 to $24,691.34.", ev.text(),
		"24,691.34 is grounded by the scenario's diff")
	require.Equal(t, []string{tenantA + "/" + aid + `/Traffic x2/{"traffic_multiplier":2}`}, e.whatifs.started)
	require.Equal(t, 3, e.whatifs.polls, "it polled until the report was written")
}

func TestAWhatIfThatOutlastsItsWaitSaysWhereItsResultWillBe(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{ScenarioWait: 20 * time.Millisecond, ScenarioPoll: 5 * time.Millisecond})
	e.whatifs.readyAfter = 1 << 30
	e.fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if !hasToolResult(r) {
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "run_scenario", Arguments: `{"overrides":{"traffic_multiplier":3}}`}}}
		}
		return fakeopenai.Reply{Text: "The what-if is still running."}
	})
	msg, _ := e.ask(t, analyst(), "What if traffic triples?")
	require.Len(t, msg.Tools, 1)
	require.Contains(t, msg.Tools[0].Error, "/v1/assessments/a1/scenarios/scenario-1")
	require.Contains(t, msg.Tools[0].Error, "not written within 20ms")
}

func TestAViewerIsOfferedOnlyReadingAndCannotRunAWhatIf(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if !hasToolResult(r) {
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{
				{ID: "c1", Name: "run_scenario", Arguments: `{"overrides":{"traffic_multiplier":2}}`},
				{ID: "c2", Name: "estimate_inference", Arguments: `{"model":"llama-3.1-70b"}`},
			}}
		}
		return fakeopenai.Reply{Text: "I can only read this report."}
	})
	msg, ev := e.ask(t, viewer(), "What if traffic doubles?")
	require.Len(t, e.fake.Requests()[0].Body.Tools, 1)
	require.Equal(t, "read_report", e.fake.Requests()[0].Body.Tools[0].Function.Name)
	require.Empty(t, e.whatifs.started, "no scenario was started")
	require.Empty(t, e.estimates.calls, "no estimate was run")
	require.Len(t, msg.Tools, 2)
	for _, u := range msg.Tools {
		require.Contains(t, u.Error, "there is no tool")
	}
	require.Equal(t, 2, ev.count("tool:run_scenario"))
}

func TestAMessageIsCheckedBeforeAnythingIsStreamed(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{MaxContentChars: 20, MaxMessages: 4})
	conv, err := e.chat.Start(t.Context(), analyst(), aid, "Costs")
	require.NoError(t, err)
	var fe *consultant.FieldError
	_, err = e.chat.Begin(t.Context(), analyst(), aid, conv.ConversationID, "  ")
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "content", fe.Field)
	_, err = e.chat.Begin(t.Context(), analyst(), aid, conv.ConversationID, strings.Repeat("x", 21))
	require.ErrorAs(t, err, &fe)
	_, err = e.chat.Begin(t.Context(), consultant.Caller{Tenant: tenantA, User: "u-bob"}, aid, conv.ConversationID, "hi")
	require.ErrorIs(t, err, consultant.ErrNoConversation, "another user of the tenant cannot use it")
	_, err = e.chat.Begin(t.Context(), consultant.Caller{Tenant: tenantB, User: userA}, aid, conv.ConversationID, "hi")
	require.ErrorIs(t, err, consultant.ErrNoConversation, "nor another tenant")
	_, err = e.chat.Start(t.Context(), analyst(), otherAid, "")
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's assessment cannot be discussed")
	_, err = e.chat.Start(t.Context(), analyst(), aid, strings.Repeat("t", 81))
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "title", fe.Field)

	pending, err := e.chat.Start(t.Context(), analyst(), "pending", "")
	require.NoError(t, err)
	var nr *consultant.ReportNotReadyError
	_, err = e.chat.Begin(t.Context(), analyst(), "pending", pending.ConversationID, "hi")
	require.ErrorAs(t, err, &nr)
	require.Equal(t, "running", nr.Status)

	e.fake.Respond(func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Text: "It runs on 8 GPUs."} })
	e.askIn(t, analyst(), conv.ConversationID, "GPUs?")
	e.askIn(t, analyst(), conv.ConversationID, "Again?")
	_, err = e.chat.Begin(t.Context(), analyst(), aid, conv.ConversationID, "More?")
	require.ErrorIs(t, err, consultant.ErrConversationFull)
	require.Len(t, e.fake.Requests(), 2)
}

func TestHistoryAndEarlierToolResultsCarryToTheNextTurn(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t, consultant.ChatConfig{})
	e.fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		switch {
		case strings.Contains(lastUser(r), "Size it") && !hasToolResult(r):
			return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "estimate_inference", Arguments: `{"model":"llama-3.1-70b"}`}}}
		case hasToolResult(r):
			return fakeopenai.Reply{Text: "Serving it takes 16 to 24 GPUs."}
		}
		return fakeopenai.Reply{Text: "As estimated, about $41,000 a month at the low end."}
	})
	conv, err := e.chat.Start(t.Context(), analyst(), aid, "")
	require.NoError(t, err)
	first, _ := e.askIn(t, analyst(), conv.ConversationID, "Size it for llama")
	require.True(t, first.Generated, first.Note)
	second, _ := e.askIn(t, analyst(), conv.ConversationID, "And the cost?")
	require.True(t, second.Generated, "41,000 is grounded by the earlier tool result: %s", second.Note)
	last := e.fake.Requests()[len(e.fake.Requests())-1]
	var roles []string
	for _, m := range last.Body.Messages {
		roles = append(roles, m.Role)
	}
	require.Equal(t, []string{"system", "user", "user", "assistant", "user"}, roles, "the history is sent, tool rounds folded into the data")
	require.Contains(t, last.Body.Messages[1].Content, "earlier_tool_results")
}
