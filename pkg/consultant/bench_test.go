package consultant_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// fakeFirstChunk is the fake provider's own delay before its first chunk in
// the time-to-first-token benchmark.
const fakeFirstChunk = 50 * time.Millisecond

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// benchLedger is a budget ledger on an embedded Redis-protocol server,
// pricing the provider "fake-openai" as the catalogue prices model.
func benchLedger(tb testing.TB, model string) *budget.Ledger {
	tb.Helper()
	mr := miniredis.NewMiniRedis()
	must(tb, mr.Start())
	tb.Cleanup(mr.Close)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	tb.Cleanup(func() { _ = rdb.Close() })
	cat, err := catalog.Load()
	must(tb, err)
	price, ok := budget.CataloguePrice(cat.HostedAPIs, model)
	if !ok {
		tb.Fatalf("no catalogue price for %s", model)
	}
	l, err := budget.New(rdb, budget.Limits{}, map[string]budget.Price{"fake-openai": price}, budget.Options{})
	must(tb, err)
	return l
}

func benchRouter(tb testing.TB, f *fakeopenai.Server, model string) *llm.Router {
	tb.Helper()
	r, err := llm.New(llm.Config{Providers: []llm.ProviderConfig{{Name: "fake-openai", Kind: llm.KindOpenAI, BaseURL: f.BaseURL(),
		Model: model, Key: llm.NewKey("sk-bench-0123456789"), Timeout: 10 * time.Second}}})
	must(tb, err)
	return r
}

// firstChunk is the time from sending a streamed request to the fake
// directly (plain HTTP on a kept-alive connection, no client library) until
// its first data line: the fake's own delay as any client sees it.
func firstChunk(tb testing.TB, c *http.Client, f *fakeopenai.Server) time.Duration {
	tb.Helper()
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	start := time.Now()
	resp, err := c.Post(f.BaseURL()+"/chat/completions", "application/json", strings.NewReader(body))
	must(tb, err)
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	var at time.Duration
	for sc.Scan() {
		if at == 0 && strings.HasPrefix(sc.Text(), "data: ") {
			at = time.Since(start)
		}
	}
	if at == 0 {
		tb.Fatal("the fake sent no data line")
	}
	return at
}

// firstText records when the first checked text reaches the user.
type firstText struct {
	start time.Time
	at    time.Duration
}

func (s *firstText) Text(string) error {
	if s.at == 0 {
		s.at = time.Since(s.start)
	}
	return nil
}
func (s *firstText) Tool(string, bool, string) error { return nil }
func (s *firstText) Retract(string) error            { return nil }

// BenchmarkChatTimeToFirstToken measures what the chat adds before a user
// sees the first token: from the message (Begin: the conversation, the
// assessment and the report read, the budget checked) through the prompt,
// the budget reservation, the provider router and the sentence check to the
// first text the sink receives, over the fake provider's own delay before its
// first chunk. The stores are in memory and no HTTP or SSE framing of the
// gateway is counted. Reported: the fake's delay (fake-ms), the time to first
// token (ttft-ms), their difference (overhead-ms) and ttft/fake.
func BenchmarkChatTimeToFirstToken(b *testing.B) {
	f := fakeopenai.New()
	b.Cleanup(f.Close)
	answer := "The plan runs on 8 GPUs. It costs about $12.3k a month on demand."
	f.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Text: answer, Delay: fakeFirstChunk, PromptTokens: 1500, CompletionTokens: 20}
	})
	body, err := json.Marshal(sampleReport())
	must(b, err)
	convs := &memConversations{m: map[string]store.Conversation{}}
	chat, err := consultant.NewChat(consultant.ChatDeps{LLM: benchRouter(b, f, "gpt-4o-mini"), Conversations: convs,
		Assessments: memAssessments{tenantA + "/" + aid: {ID: aid, TenantID: tenantA, Status: "completed"}},
		Reports:     memReports{tenantA + "/" + aid: {TenantID: tenantA, AssessmentID: aid, Body: string(body)}},
		Budget:      benchLedger(b, "gpt-4o-mini")}, consultant.ChatConfig{})
	must(b, err)
	who := consultant.Caller{Tenant: tenantA, User: userA, Tools: []string{consultant.ToolReadReport}}
	ctx := context.Background()

	// The fake's own delay, on a warm connection as the router's is.
	direct := &http.Client{}
	firstChunk(b, direct, f)
	var fake time.Duration
	const samples = 20
	for range samples {
		fake += firstChunk(b, direct, f)
	}
	fake /= samples
	var ttft time.Duration
	for b.Loop() {
		conv, err := chat.Start(ctx, who, aid, "")
		must(b, err)
		sink := &firstText{start: time.Now()}
		turn, err := chat.Begin(ctx, who, aid, conv.ConversationID, "How many GPUs, and what does it cost?")
		must(b, err)
		msg, err := turn.Run(ctx, sink)
		must(b, err)
		if !msg.Generated || sink.at == 0 {
			b.Fatalf("the answer was not generated: %+v", msg)
		}
		ttft += sink.at
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	avg := ttft / time.Duration(b.N)
	b.ReportMetric(ms(fake), "fake-ms")
	b.ReportMetric(ms(avg), "ttft-ms")
	b.ReportMetric(ms(avg-fake), "overhead-ms")
	b.ReportMetric(float64(avg)/float64(fake), "ttft/fake")
}

// BenchmarkNarrativeCostPerAssessment writes the CTO narrative of each
// bundled example's report (pkg/synth's golden copies, which the golden test
// keeps equal to the pipeline's output) through the metered provider router,
// and reports what the tenant's budget was charged: tokens and USD per
// assessment at the catalogue's price of the named model. The fake answers
// each section with its grounded deterministic summary padded to the
// prompt's 180-word target, and reports usage as the budget's estimator
// counts (characters / 4, OpenAI's rule of thumb); a real model's counts
// differ by its tokenizer. Every section passes the number check on the
// first call: a regenerated section costs a second call.
func BenchmarkNarrativeCostPerAssessment(b *testing.B) {
	examples := []string{"chatbot-70b-hipaa-us", "custom-architecture", "finetune-gdpr-eu", "impossible", "startup-rag"}
	for _, model := range []string{"gpt-4o-mini", "gpt-4o"} {
		for _, ex := range examples {
			b.Run(model+"/"+ex, func(b *testing.B) {
				raw, err := os.ReadFile(filepath.Join("..", "synth", "testdata", "golden", ex+".report.json"))
				must(b, err)
				doc, err := report.Decode(raw)
				must(b, err)
				f := fakeopenai.New()
				b.Cleanup(f.Close)
				// 180 words at three quarters of a word per token (OpenAI's
				// rule of thumb) is about 240 completion tokens a section.
				f.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
					chars := 0
					for _, m := range r.Body.Messages {
						chars += len(m.Content) + len(m.Role)
					}
					prompt := (chars+3)/4 + 4*len(r.Body.Messages) + 3
					return fakeopenai.Reply{Text: doc.Executive.Summary, PromptTokens: prompt, CompletionTokens: 240}
				})
				w, err := consultant.NewWriter(benchRouter(b, f, model), consultant.WriterConfig{}, nil)
				must(b, err)
				reports := memReports{"acme/" + doc.AssessmentID: {TenantID: "acme", AssessmentID: doc.AssessmentID, Body: string(raw)}}
				var tokens int64
				var usd float64
				sections := 0
				for b.Loop() {
					ledger := benchLedger(b, model)
					svc, err := consultant.New(nil, reports, &memNarratives{m: map[string]store.Narrative{}}, w,
						consultant.Config{Budget: ledger}, slog.New(slog.DiscardHandler))
					must(b, err)
					_, err = svc.Handle(context.Background(), completedEvent(b, "acme", doc.AssessmentID))
					must(b, err)
					u, err := ledger.Usage(context.Background(), "acme")
					must(b, err)
					tokens, usd = u.Day.Tokens, u.Day.USD
					sections = int(u.Day.Models[0].Calls)
				}
				b.ReportMetric(float64(sections), "sections")
				b.ReportMetric(float64(tokens), "tokens/assessment")
				b.ReportMetric(usd, "USD/assessment")
			})
		}
	}
}
