package consultant_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// newLedger is a budget ledger on an embedded Redis-protocol server.
func newLedger(t *testing.T, limits budget.Limits) *budget.Ledger {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := budget.New(rdb, limits, map[string]budget.Price{"fake-openai": {InputUSDPerMTok: 2.5, OutputUSDPerMTok: 10, Source: "test"}}, budget.Options{})
	require.NoError(t, err)
	return l
}

func TestAChatOverBudgetIsRefusedBeforeItsAnswerStarts(t *testing.T) {
	t.Parallel()
	l := newLedger(t, budget.Limits{TokensPerDay: 100})
	e := newChatEnvWith(t, consultant.ChatConfig{}, l)
	conv, err := e.chat.Start(t.Context(), analyst(), aid, "")
	require.NoError(t, err)
	_, err = e.chat.Begin(t.Context(), analyst(), aid, conv.ConversationID, "What does it cost?")
	var ee *budget.ExceededError
	require.ErrorAs(t, err, &ee, "600 completion tokens alone do not fit 100 a day")
	require.Equal(t, budget.TokensPerDay, ee.Budget)
	require.Empty(t, e.fake.Requests(), "no provider is called")
}

func TestAChatCallOverBudgetMidAnswerGivesTheDeterministicAnswerWithANote(t *testing.T) {
	t.Parallel()
	l := newLedger(t, budget.Limits{TokensPerDay: 50_000})
	e := newChatEnvWith(t, consultant.ChatConfig{}, l)
	e.fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		// The first call reports a large use, which spends the day's budget.
		return fakeopenai.Reply{ToolCalls: []fakeopenai.ToolCall{{ID: "c1", Name: "read_report", Arguments: `{"section":"summary"}`}},
			PromptTokens: 49_000, CompletionTokens: 500}
	})
	msg, ev := e.ask(t, analyst(), "What does it cost?")
	require.False(t, msg.Generated)
	require.Contains(t, msg.Note, "tokens_per_day (50000 tokens) is used up until 20")
	require.True(t, strings.HasPrefix(msg.Content, "From the report: "), msg.Content)
	require.Equal(t, msg.Content, ev.text())
	require.Len(t, e.fake.Requests(), 1, "the second call was refused before it reached the provider")

	u, err := l.Usage(t.Context(), tenantA)
	require.NoError(t, err)
	require.Equal(t, int64(49_500), u.Day.Tokens, "the answered call is counted at the use the provider reported")
	require.Zero(t, u.Day.InFlightTokens, "the refused call holds nothing")
	require.Equal(t, "fake-openai", u.Day.Models[0].Provider)
	other, err := l.Usage(t.Context(), tenantB)
	require.NoError(t, err)
	require.Zero(t, other.Day.Tokens, "another tenant's budget is untouched")
}

func TestANarrativeOverBudgetFallsBackToTheDeterministicSummaryWithANote(t *testing.T) {
	t.Parallel()
	l := newLedger(t, budget.Limits{USDPerDay: 0.05})
	e := newEnv(t, consultant.WriterConfig{})
	// 12,000 x 2.5 + 2,000 x 10 per million = $0.05: the first section
	// spends the day's $0.05, and the next does not fit.
	e.fake.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Text: "It runs on aws.", PromptTokens: 12_000, CompletionTokens: 2_000}
	})
	body, err := json.Marshal(sampleReport())
	require.NoError(t, err)
	reports := memReports{"acme/a1": {TenantID: "acme", AssessmentID: "a1", Body: string(body)}}
	narratives := &memNarratives{m: map[string]store.Narrative{}}
	svc, err := consultant.New(nil, reports, narratives, e.writer, consultant.Config{Budget: l}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	out, err := svc.Handle(context.Background(), completedEvent(t, "acme", "a1"))
	require.NoError(t, err, "a budget is not a failure to retry")
	require.Len(t, out, 1)
	require.Len(t, e.fake.Requests(), 1)
	stored, err := narratives.Get(context.Background(), "acme", "a1", "cto")
	require.NoError(t, err)
	var n report.Narrative
	require.NoError(t, json.Unmarshal([]byte(stored.Body), &n))
	require.True(t, n.Overall.Generated)
	require.Len(t, n.Families, 2)
	for _, f := range n.Families {
		require.False(t, f.Generated)
		require.Contains(t, f.Note, "budget usd_per_day ($0.05) is used up until")
	}
	require.Equal(t, "Sized 1 workload on aws p5.48xlarge: 8 GPUs at 0.45 utilisation.", n.Families[0].Text)

	u, err := l.Usage(context.Background(), "acme")
	require.NoError(t, err)
	require.InDelta(t, 0.05, u.Day.USD, 1e-9)
	require.Equal(t, time.Date(u.Day.Resets.Year(), u.Day.Resets.Month(), u.Day.Resets.Day(), 0, 0, 0, 0, time.UTC), u.Day.Resets)
}
