package budget_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/llm/budget/budgettest"
)

// meteredLedger is what the ledger's callers take (gateway.LLMBudget,
// consultant.Budget): both the Redis ledger and the fake are checked here.
type meteredLedger interface {
	Check(ctx context.Context, tenant string, est budget.Estimate) error
	Meter(tenant string, c llm.Completer) llm.Completer
	Usage(ctx context.Context, tenant string) (budget.Usage, error)
}

// newContractLedger builds one implementation with limits and prices on
// the clock now; tenant names a tenant no other run on the same server used.
type newContractLedger func(t *testing.T, limits budget.Limits, prices map[string]budget.Price, now func() time.Time) (l meteredLedger, tenant func(string) string)

func fakeContractLedger(_ *testing.T, limits budget.Limits, prices map[string]budget.Price, now func() time.Time) (meteredLedger, func(string) string) {
	return budgettest.NewLedger(limits, prices, now), func(s string) string { return s }
}

// redisContractLedger is the Redis ledger on rdb; its tenants carry a
// prefix of their own, so runs on one server never share a key.
func redisContractLedger(rdb redis.Cmdable) newContractLedger {
	return func(t *testing.T, limits budget.Limits, prices map[string]budget.Price, now func() time.Time) (meteredLedger, func(string) string) {
		t.Helper()
		l, err := budget.New(rdb, limits, prices, budget.Options{Now: now})
		require.NoError(t, err)
		prefix := fmt.Sprintf("contract%d-", time.Now().UnixNano())
		return l, func(s string) string { return prefix + s }
	}
}

// TestLedgerContract runs the contract on the fake and on the Redis ledger
// on the embedded Redis-protocol server.
func TestLedgerContract(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	runLedgerContract(t, map[string]newContractLedger{"fake": fakeContractLedger, "redis": redisContractLedger(rdb)})
}

// scripted is a language model that answers what it is given, counting its
// calls; during a call it runs during (to look at the ledger mid-call).
type scripted struct {
	mu      sync.Mutex
	answers []scriptedAnswer
	calls   int
	during  func()
}

type scriptedAnswer struct {
	res llm.Response
	err error
}

func (s *scripted) next() (llm.Response, error) {
	s.mu.Lock()
	during := s.during
	s.calls++
	a := s.answers[0]
	s.answers = s.answers[1:]
	s.mu.Unlock()
	if during != nil {
		during()
	}
	return a.res, a.err
}

func (s *scripted) Complete(context.Context, llm.Request) (llm.Response, error) { return s.next() }

func (s *scripted) Stream(_ context.Context, _ llm.Request, onDelta func(string) error) (llm.Response, error) {
	res, err := s.next()
	if err == nil && res.Text != "" {
		err = onDelta(res.Text)
	}
	return res, err
}

func (s *scripted) answer(res llm.Response, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, scriptedAnswer{res: res, err: err})
}

func (s *scripted) called() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// contractClock is a clock the suite sets by hand.
type contractClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *contractClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *contractClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func runLedgerContract(t *testing.T, impls map[string]newContractLedger) {
	ctx := context.Background()
	// 2.5 and 10 USD per million prompt and completion tokens.
	dear := budget.Price{InputUSDPerMTok: 2.5, OutputUSDPerMTok: 10, Source: "contract price"}
	cheap := budget.Price{InputUSDPerMTok: 0.15, OutputUSDPerMTok: 0.6}
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "How many GPUs?"}}, MaxTokens: 400}
	est := budget.EstimateOf(req)

	// The suite's day lies ahead of the wall clock, so the keys' expiry
	// (on the server's own clock) lies in the future, and is not a month's
	// last, so the month goes on counting across its midnight.
	wall := time.Now().UTC()
	day := time.Date(wall.Year(), wall.Month(), wall.Day()+2, 0, 0, 0, 0, time.UTC)
	for day.AddDate(0, 0, 1).Day() == 1 {
		day = day.AddDate(0, 0, 1)
	}
	midday, nextDay := day.Add(12*time.Hour), day.AddDate(0, 0, 1)
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	nextMonth := month.AddDate(0, 1, 0)

	for name, newLedger := range impls {
		t.Run(name, func(t *testing.T) {
			t.Run("metered calls count the reported use per provider and model", func(t *testing.T) {
				c := &contractClock{t: midday}
				l, tenant := newLedger(t, budget.Limits{TokensPerDay: 100_000}, map[string]budget.Price{"openai": dear, "local": cheap}, c.now)
				model := &scripted{}
				m := l.Meter(tenant("acme"), model)
				var mid budget.Usage
				model.during = func() {
					var err error
					mid, err = l.Usage(ctx, tenant("acme"))
					require.NoError(t, err)
				}
				model.answer(llm.Response{Text: "Eight.", Provider: "openai", Model: "gpt-4o", Usage: llm.Usage{PromptTokens: 1200, CompletionTokens: 150}}, nil)
				_, err := m.Complete(ctx, req)
				require.NoError(t, err)
				require.Equal(t, est.PromptTokens+est.CompletionTokens, mid.Day.InFlightTokens, "the estimate counts while the call runs")
				require.Zero(t, mid.Day.Tokens)
				// The reservation is priced at the dearest provider.
				require.InDelta(t, (float64(est.PromptTokens)*2.5+float64(est.CompletionTokens)*10)/1e6, mid.Day.InFlightUSD, 1e-9)
				model.during = nil
				model.answer(llm.Response{Text: "Two.", Provider: "local", Model: "llama", Usage: llm.Usage{PromptTokens: 100, CompletionTokens: 100}}, nil)
				var streamed string
				_, err = m.Stream(ctx, req, func(s string) error { streamed += s; return nil })
				require.NoError(t, err)
				require.Equal(t, "Two.", streamed)

				u, err := l.Usage(ctx, tenant("acme"))
				require.NoError(t, err)
				for _, p := range []budget.PeriodUsage{u.Day, u.Month} {
					require.Equal(t, int64(1550), p.Tokens)
					// 1200 x 2.5 + 150 x 10, then 100 x 0.15 + 100 x 0.6, per million.
					require.InDelta(t, 0.0045+0.000075, p.USD, 1e-9)
					require.Zero(t, p.InFlightTokens)
					require.Zero(t, p.InFlightUSD)
					require.Equal(t, []budget.ModelUsage{
						{Provider: "local", Model: "llama", Calls: 1, PromptTokens: 100, CompletionTokens: 100, USD: 0.000075},
						{Provider: "openai", Model: "gpt-4o", Calls: 1, PromptTokens: 1200, CompletionTokens: 150, USD: 0.0045, PriceSource: "contract price"},
					}, p.Models)
				}
				require.Equal(t, day.Format("2006-01-02"), u.Day.Period)
				require.Equal(t, month.Format("2006-01"), u.Month.Period)
				require.Equal(t, nextDay, u.Day.Resets)
				require.Equal(t, nextMonth, u.Month.Resets)
				require.Equal(t, int64(100_000), u.Day.TokenLimit)
				require.Zero(t, u.Month.TokenLimit)

				other, err := l.Usage(ctx, tenant("globex"))
				require.NoError(t, err)
				require.Zero(t, other.Day.Tokens, "another tenant has its own count")
				require.Empty(t, other.Day.Models)
			})

			t.Run("a failed call costs nothing, an answered one is paid for", func(t *testing.T) {
				c := &contractClock{t: midday}
				l, tenant := newLedger(t, budget.Limits{}, map[string]budget.Price{"openai": dear}, c.now)
				model := &scripted{}
				m := l.Meter(tenant("acme"), model)
				model.answer(llm.Response{}, errors.New("no provider answered"))
				_, err := m.Complete(ctx, req)
				require.Error(t, err)
				u, err := l.Usage(ctx, tenant("acme"))
				require.NoError(t, err)
				require.Zero(t, u.Day.Tokens)
				require.Zero(t, u.Day.InFlightTokens, "the failed call's reservation was released")
				require.Empty(t, u.Day.Models)

				// Answered but stopped (no usage reported): the estimate is
				// charged, by a provider without a price at the dearest one's.
				stop := errors.New("caller stopped")
				model.answer(llm.Response{Text: "one two", Provider: "vllm", Model: "llama"}, nil)
				_, err = m.Stream(ctx, req, func(string) error { return stop })
				require.ErrorIs(t, err, stop)
				u, err = l.Usage(ctx, tenant("acme"))
				require.NoError(t, err)
				require.Equal(t, est.PromptTokens+est.CompletionTokens, u.Day.Tokens)
				usd := (float64(est.PromptTokens)*2.5 + float64(est.CompletionTokens)*10) / 1e6
				require.InDelta(t, usd, u.Day.USD, 1e-9)
				require.Len(t, u.Day.Models, 1)
				require.InDelta(t, usd, u.Day.Models[0].USD, 1e-9)
				u.Day.Models[0].USD = 0
				require.Equal(t, []budget.ModelUsage{{Provider: "vllm", Model: "llama", Calls: 1,
					PromptTokens: est.PromptTokens, CompletionTokens: est.CompletionTokens}}, u.Day.Models)
			})

			// 500 x 2.5 + 500 x 10 per million = 0.00625 USD a call.
			for _, tc := range []struct {
				name   string
				limits budget.Limits
				want   string
				limit  float64
				used   float64
				resets time.Time
			}{
				{name: "tokens per day", limits: budget.Limits{TokensPerDay: 1500, TokensPerMonth: 10000}, want: budget.TokensPerDay,
					limit: 1500, used: 1000, resets: nextDay},
				{name: "tokens per month", limits: budget.Limits{TokensPerMonth: 1500}, want: budget.TokensPerMonth,
					limit: 1500, used: 1000, resets: nextMonth},
				{name: "usd per day", limits: budget.Limits{USDPerDay: 0.01}, want: budget.USDPerDay,
					limit: 0.01, used: 0.00625, resets: nextDay},
				{name: "usd per month", limits: budget.Limits{USDPerMonth: 0.01, USDPerDay: 1}, want: budget.USDPerMonth,
					limit: 0.01, used: 0.00625, resets: nextMonth},
			} {
				t.Run("over budget: "+tc.name, func(t *testing.T) {
					c := &contractClock{t: midday}
					l, tenant := newLedger(t, tc.limits, map[string]budget.Price{"openai": dear}, c.now)
					model := &scripted{}
					m := l.Meter(tenant("acme"), model)
					model.answer(llm.Response{Provider: "openai", Model: "gpt-4o", Usage: llm.Usage{PromptTokens: 500, CompletionTokens: 500}}, nil)
					_, err := m.Complete(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, MaxTokens: 10})
					require.NoError(t, err)
					require.NoError(t, l.Check(ctx, tenant("acme"), budget.Estimate{PromptTokens: 100}), "a small call still fits")
					big := budget.Estimate{PromptTokens: 500, CompletionTokens: 500}
					err = l.Check(ctx, tenant("acme"), big)
					var ee *budget.ExceededError
					require.ErrorAs(t, err, &ee)
					require.ErrorIs(t, err, budget.ErrExceeded)
					require.Equal(t, tc.want, ee.Budget)
					require.InDelta(t, tc.limit, ee.Limit, 1e-12)
					require.InDelta(t, tc.used, ee.Used, 1e-12)
					require.Equal(t, tc.resets, ee.Resets)

					// A metered call that would pass it never reaches the model.
					before := model.called()
					_, err = m.Complete(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, MaxTokens: 1000})
					require.ErrorAs(t, err, &ee)
					require.Equal(t, tc.want, ee.Budget)
					require.Equal(t, before, model.called())
				})
			}

			t.Run("the day rolls over at UTC midnight and the month keeps counting", func(t *testing.T) {
				c := &contractClock{t: nextDay.Add(-time.Minute)}
				l, tenant := newLedger(t, budget.Limits{TokensPerDay: 1000}, nil, c.now)
				model := &scripted{}
				m := l.Meter(tenant("acme"), model)
				model.answer(llm.Response{Provider: "p", Model: "m", Usage: llm.Usage{PromptTokens: 400, CompletionTokens: 400}}, nil)
				_, err := m.Complete(ctx, llm.Request{MaxTokens: 100})
				require.NoError(t, err)
				require.ErrorIs(t, l.Check(ctx, tenant("acme"), budget.Estimate{PromptTokens: 300}), budget.ErrExceeded)
				c.set(nextDay.Add(time.Second))
				require.NoError(t, l.Check(ctx, tenant("acme"), budget.Estimate{PromptTokens: 300}))
				u, err := l.Usage(ctx, tenant("acme"))
				require.NoError(t, err)
				require.Equal(t, nextDay.Format("2006-01-02"), u.Day.Period)
				require.Zero(t, u.Day.Tokens)
				require.Equal(t, int64(800), u.Month.Tokens)
			})
		})
	}
}
