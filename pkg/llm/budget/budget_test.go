package budget_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
)

// clock is a settable clock shared by ledgers (replicas) and miniredis.
type clock struct {
	mu sync.Mutex
	t  time.Time
	mr *miniredis.Miniredis
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	c.mr.SetTime(t)
}

func newRedis(t *testing.T, at time.Time) (*redis.Client, *miniredis.Miniredis, *clock) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := &clock{mr: mr}
	c.set(at)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, mr, c
}

// gpt4oMini is the catalogue's price of gpt-4o-mini (0.15 and 0.60 USD per
// million tokens), so the tests' dollar figures are the product's.
func gpt4oMini(t *testing.T) budget.Price {
	t.Helper()
	cat, err := catalog.Load()
	require.NoError(t, err)
	p, ok := budget.CataloguePrice(cat.HostedAPIs, "gpt-4o-mini")
	require.True(t, ok)
	return p
}

func newLedger(t *testing.T, rdb *redis.Client, c *clock, limits budget.Limits, prices map[string]budget.Price, m *budget.Metrics) *budget.Ledger {
	t.Helper()
	l, err := budget.New(rdb, limits, prices, budget.Options{Now: c.now, Metrics: m})
	require.NoError(t, err)
	return l
}

var noon = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func TestReserveSettleCountsTheReportedUsePerProviderAndModel(t *testing.T) {
	t.Parallel()
	rdb, _, c := newRedis(t, noon)
	price := gpt4oMini(t)
	reg := prometheus.NewRegistry()
	m, err := budget.NewMetrics(reg)
	require.NoError(t, err)
	l := newLedger(t, rdb, c, budget.Limits{}, map[string]budget.Price{"openai": price}, m)
	ctx := context.Background()

	r, err := l.Reserve(ctx, "acme", budget.Estimate{PromptTokens: 1000, CompletionTokens: 600})
	require.NoError(t, err)
	u, err := l.Usage(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, int64(1600), u.Day.InFlightTokens, "the reservation counts while the call runs")
	require.Equal(t, int64(0), u.Day.Tokens)
	// 1000 x 0.15 + 600 x 0.60 per million = 0.00051 USD.
	require.InDelta(t, 0.00051, u.Day.InFlightUSD, 1e-9)

	require.NoError(t, r.Settle(ctx, "openai", "gpt-4o-mini-2024-07-18", 1200, 150))
	require.NoError(t, r.Settle(ctx, "openai", "gpt-4o-mini-2024-07-18", 1200, 150), "a second settle does nothing")
	u, err = l.Usage(ctx, "acme")
	require.NoError(t, err)
	// 1200 x 0.15 + 150 x 0.60 per million = 0.00027 USD.
	for _, p := range []budget.PeriodUsage{u.Day, u.Month} {
		require.Equal(t, int64(1350), p.Tokens)
		require.InDelta(t, 0.00027, p.USD, 1e-9)
		require.Zero(t, p.InFlightTokens)
		require.Zero(t, p.InFlightUSD)
		require.Equal(t, []budget.ModelUsage{{Provider: "openai", Model: "gpt-4o-mini-2024-07-18", Calls: 1,
			PromptTokens: 1200, CompletionTokens: 150, USD: 0.00027, PriceSource: price.Source}}, p.Models)
	}
	require.Equal(t, "2026-12-06", u.Day.Period)
	require.Equal(t, "2026-12", u.Month.Period)
	require.Equal(t, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), u.Day.Resets)
	require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), u.Month.Resets)
	require.Contains(t, price.Source, "platform.openai.com/docs/pricing", "the price names its original source")

	other, err := l.Usage(ctx, "globex")
	require.NoError(t, err)
	require.Zero(t, other.Day.Tokens, "another tenant has its own count")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP infra_mind_llm_tokens_total Language model tokens used, as the providers reported them, by tenant, provider, model and kind (prompt, completion).
# TYPE infra_mind_llm_tokens_total counter
infra_mind_llm_tokens_total{kind="completion",model="gpt-4o-mini-2024-07-18",provider="openai",tenant="acme"} 150
infra_mind_llm_tokens_total{kind="prompt",model="gpt-4o-mini-2024-07-18",provider="openai",tenant="acme"} 1200
`), "infra_mind_llm_tokens_total"))
	// A second registration (the gateway and the consultant in one process) shares the counters.
	m2, err := budget.NewMetrics(reg)
	require.NoError(t, err)
	require.NotNil(t, m2)
}

func TestAProviderWithoutUsageIsChargedTheEstimate(t *testing.T) {
	t.Parallel()
	rdb, _, c := newRedis(t, noon)
	l := newLedger(t, rdb, c, budget.Limits{}, nil, nil)
	ctx := context.Background()
	r, err := l.Reserve(ctx, "acme", budget.Estimate{PromptTokens: 300, CompletionTokens: 200})
	require.NoError(t, err)
	require.NoError(t, r.Settle(ctx, "vllm", "llama", 0, 0))
	u, err := l.Usage(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, int64(500), u.Day.Tokens)
}

func TestReleaseGivesTheReservationBack(t *testing.T) {
	t.Parallel()
	rdb, _, c := newRedis(t, noon)
	l := newLedger(t, rdb, c, budget.Limits{TokensPerDay: 1000}, nil, nil)
	ctx := context.Background()
	r, err := l.Reserve(ctx, "acme", budget.Estimate{PromptTokens: 600, CompletionTokens: 400})
	require.NoError(t, err)
	_, err = l.Reserve(ctx, "acme", budget.Estimate{PromptTokens: 1})
	require.ErrorIs(t, err, budget.ErrExceeded, "the reservation holds the whole budget")
	require.NoError(t, r.Release(ctx))
	require.NoError(t, r.Settle(ctx, "p", "m", 10, 10), "a released reservation settles nothing")
	u, err := l.Usage(ctx, "acme")
	require.NoError(t, err)
	require.Zero(t, u.Day.Tokens)
	require.Zero(t, u.Day.InFlightTokens)
	require.Empty(t, u.Day.Models)
	_, err = l.Reserve(ctx, "acme", budget.Estimate{PromptTokens: 600, CompletionTokens: 400})
	require.NoError(t, err)
}

func TestOverBudgetNamesTheBudgetItsLimitUseAndReset(t *testing.T) {
	t.Parallel()
	price := budget.Price{InputUSDPerMTok: 2.5, OutputUSDPerMTok: 10}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		limits budget.Limits
		want   string
		limit  float64
		used   float64
		resets time.Time
	}{
		{name: "tokens per day", limits: budget.Limits{TokensPerDay: 1500, TokensPerMonth: 10000}, want: budget.TokensPerDay,
			limit: 1500, used: 1000, resets: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{name: "tokens per month", limits: budget.Limits{TokensPerMonth: 1500}, want: budget.TokensPerMonth,
			limit: 1500, used: 1000, resets: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		// 500 x 2.5 + 500 x 10 per million = 0.00625 USD a call.
		{name: "usd per day", limits: budget.Limits{USDPerDay: 0.01}, want: budget.USDPerDay,
			limit: 0.01, used: 0.00625, resets: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{name: "usd per month", limits: budget.Limits{USDPerMonth: 0.01, USDPerDay: 1}, want: budget.USDPerMonth,
			limit: 0.01, used: 0.00625, resets: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb, _, c := newRedis(t, noon)
			l := newLedger(t, rdb, c, tc.limits, map[string]budget.Price{"openai": price}, nil)
			est := budget.Estimate{PromptTokens: 500, CompletionTokens: 500}
			r, err := l.Reserve(ctx, "acme", est)
			require.NoError(t, err)
			require.NoError(t, r.Settle(ctx, "openai", "gpt-4o", 500, 500))
			require.NoError(t, l.Check(ctx, "acme", budget.Estimate{PromptTokens: 100}), "a small call still fits")
			_, err = l.Reserve(ctx, "acme", est)
			var ee *budget.ExceededError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tc.want, ee.Budget)
			require.InDelta(t, tc.limit, ee.Limit, 1e-12)
			require.InDelta(t, tc.used, ee.Used, 1e-12)
			require.Equal(t, tc.resets, ee.Resets)
			require.ErrorIs(t, l.Check(ctx, "acme", est), budget.ErrExceeded, "Check agrees with Reserve")
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// Two replicas (two ledgers, two connections) and many goroutines reserve
// against one budget at once: exactly as many calls as fit are admitted.
func TestConcurrentReplicasCannotOverspend(t *testing.T) {
	t.Parallel()
	rdb, mr, c := newRedis(t, noon)
	rdb2 := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb2.Close() })
	price := budget.Price{InputUSDPerMTok: 1, OutputUSDPerMTok: 1}
	limits := budget.Limits{TokensPerDay: 10_000, USDPerMonth: 1}
	replicas := []*budget.Ledger{
		newLedger(t, rdb, c, limits, map[string]budget.Price{"p": price}, nil),
		newLedger(t, rdb2, c, limits, map[string]budget.Price{"p": price}, nil),
	}
	ctx := context.Background()
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := replicas[i%2].Reserve(ctx, "acme", budget.Estimate{PromptTokens: 700, CompletionTokens: 300})
			if errors.Is(err, budget.ErrExceeded) {
				refused.Add(1)
				return
			}
			if !errors.Is(err, nil) {
				t.Errorf("reserve: %v", err)
				return
			}
			admitted.Add(1)
			if err := r.Settle(ctx, "p", "m", 700, 300); err != nil {
				t.Errorf("settle: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(10), admitted.Load(), "10 calls of 1,000 tokens fit a budget of 10,000")
	require.Equal(t, int64(50), refused.Load())
	u, err := replicas[0].Usage(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, int64(10_000), u.Day.Tokens)
	require.Zero(t, u.Day.InFlightTokens)
	require.Equal(t, int64(10), u.Day.Models[0].Calls)
}

func TestTheDayRollsOverAtUTCMidnightAndTheMonthKeepsCounting(t *testing.T) {
	t.Parallel()
	late := time.Date(2026, 12, 31, 23, 59, 30, 0, time.UTC)
	rdb, mr, c := newRedis(t, late)
	l := newLedger(t, rdb, c, budget.Limits{TokensPerDay: 1000, TokensPerMonth: 1500}, nil, nil)
	ctx := context.Background()
	est := budget.Estimate{PromptTokens: 800}

	r, err := l.Reserve(ctx, "acme", est)
	require.NoError(t, err)
	c.set(late.Add(40 * time.Second)) // the call ends after midnight
	require.NoError(t, r.Settle(ctx, "p", "m", 900, 0))
	u, err := l.Usage(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "2027-01-01", u.Day.Period)
	require.Zero(t, u.Day.Tokens, "the call is counted in the day and month it began")
	require.Equal(t, "2027-01", u.Month.Period)
	require.Zero(t, u.Month.Tokens)

	c.set(late)
	_, err = l.Reserve(ctx, "acme", est)
	var ee *budget.ExceededError
	require.ErrorAs(t, err, &ee, "900 of 1,000 used today: 800 more do not fit")
	require.Equal(t, budget.TokensPerDay, ee.Budget)

	c.set(late.Add(31 * time.Second)) // 2027-01-01 00:00:01: a new day and a new month
	r, err = l.Reserve(ctx, "acme", est)
	require.NoError(t, err)
	require.NoError(t, r.Settle(ctx, "p", "m", 800, 0))

	// December's keys expire an hour after December ends: last written at
	// 00:00:10, they have 59m50s left.
	dayKey, monthKey := "im:acme:llm:usage:day:2026-12-31", "im:acme:llm:usage:month:2026-12"
	require.True(t, mr.Exists(dayKey))
	require.Equal(t, time.Hour-10*time.Second, mr.TTL(dayKey))
	require.Equal(t, time.Hour-10*time.Second, mr.TTL(monthKey))
	mr.FastForward(time.Hour)
	require.False(t, mr.Exists(dayKey))
	require.False(t, mr.Exists(monthKey))
	require.True(t, mr.Exists("im:acme:llm:usage:day:2027-01-01"))
}

func TestMeteredCallsReserveSettleAndRelease(t *testing.T) {
	t.Parallel()
	rdb, _, c := newRedis(t, noon)
	fake := fakeopenai.New()
	t.Cleanup(fake.Close)
	router, err := llm.New(llm.Config{Providers: []llm.ProviderConfig{{Name: "openai", Kind: llm.KindOpenAI, BaseURL: fake.BaseURL(),
		Model: "gpt-4o-mini", Key: llm.NewKey("sk-test"), Timeout: 5 * time.Second}}, InitialBackoff: time.Millisecond})
	require.NoError(t, err)
	l := newLedger(t, rdb, c, budget.Limits{TokensPerDay: 1200}, map[string]budget.Price{"openai": gpt4oMini(t)}, nil)
	meter := l.Meter("acme", router)
	ctx := context.Background()
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "How many GPUs?"}}, MaxTokens: 400}

	fake.Enqueue(fakeopenai.Reply{Text: "Eight.", PromptTokens: 250, CompletionTokens: 50})
	res, err := meter.Complete(ctx, req)
	require.NoError(t, err)
	require.Equal(t, "Eight.", res.Text)
	var chunks []string
	fake.Enqueue(fakeopenai.Reply{Text: "Two more.", PromptTokens: 300, CompletionTokens: 100})
	_, err = meter.Stream(ctx, req, func(s string) error { chunks = append(chunks, s); return nil })
	require.NoError(t, err)
	require.NotEmpty(t, chunks)

	fake.Enqueue(fakeopenai.Reply{Status: 400}) // a client error: not retried, nothing answered
	_, err = meter.Complete(ctx, req)
	require.Error(t, err)

	u, err := l.Usage(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, int64(700), u.Day.Tokens, "settled with the provider's usage: 250+50 and 300+100")
	require.Zero(t, u.Day.InFlightTokens, "the failed call's reservation was released")
	require.Equal(t, int64(2), u.Day.Models[0].Calls)

	// A stream the caller stops after the provider answered is paid for:
	// the usage never arrived, so the estimate is charged.
	stop := errors.New("caller stopped")
	fake.Enqueue(fakeopenai.Reply{Text: "one two three four", PromptTokens: 10, CompletionTokens: 10})
	_, err = meter.Stream(ctx, req, func(string) error { return stop })
	require.ErrorIs(t, err, stop)
	u, err = l.Usage(ctx, "acme")
	require.NoError(t, err)
	est := budget.EstimateOf(req)
	require.Equal(t, 700+est.PromptTokens+est.CompletionTokens, u.Day.Tokens)

	// Over the budget the provider is never called.
	before := len(fake.Requests())
	_, err = meter.Complete(ctx, req)
	var ee *budget.ExceededError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, budget.TokensPerDay, ee.Budget)
	require.Len(t, fake.Requests(), before)
}

func TestEstimateCountsTextToolsAndTheCap(t *testing.T) {
	t.Parallel()
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "0123456789abcdef"}}, MaxTokens: 50}
	// ("system" 6 + 16 characters + 3) / 4 = 6, +4 for the message, +3 for the reply.
	require.Equal(t, budget.Estimate{PromptTokens: 13, CompletionTokens: 50}, budget.EstimateOf(req))
	req.MaxTokens = 0
	req.Tools = []llm.Tool{{Name: "read_report", Parameters: []byte(`{"type":"object"}`)}}
	got := budget.EstimateOf(req)
	require.Equal(t, int64(budget.DefaultCompletionEstimate), got.CompletionTokens)
	require.Greater(t, got.PromptTokens, int64(13), "tool definitions are sent, so they count")
}

func TestCataloguePriceMatchesDatedSnapshotsOnly(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Load()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, model string
		input       float64
		ok          bool
	}{
		{name: "exact", model: "gpt-4o", input: 2.5, ok: true},
		{name: "case", model: "GPT-4o-Mini", input: 0.15, ok: true},
		{name: "dated snapshot of the longer id", model: "gpt-4o-mini-2024-07-18", input: 0.15, ok: true},
		{name: "dated snapshot", model: "gpt-4o-2024-08-06", input: 2.5, ok: true},
		{name: "another model that shares a prefix", model: "gpt-4.1-mini", ok: false},
		{name: "self-hosted", model: "meta-llama/Llama-3.1-8B-Instruct", ok: false},
		{name: "empty", model: "", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, ok := budget.CataloguePrice(cat.HostedAPIs, tc.model)
			require.Equal(t, tc.ok, ok)
			require.InDelta(t, tc.input, p.InputUSDPerMTok, 1e-12)
			if ok {
				require.Contains(t, p.Source, "as of 20")
			}
		})
	}
}

func TestNegativeBudgetsAndPricesAreRefused(t *testing.T) {
	t.Parallel()
	rdb, _, _ := newRedis(t, noon)
	_, err := budget.New(rdb, budget.Limits{TokensPerDay: -1}, nil, budget.Options{})
	require.Error(t, err)
	_, err = budget.New(rdb, budget.Limits{}, map[string]budget.Price{"p": {InputUSDPerMTok: -1}}, budget.Options{})
	require.ErrorContains(t, err, "provider p")
}
