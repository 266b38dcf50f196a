// Package budgettest holds an in-memory fake of the language model ledger
// (budget.Ledger) for tests of its callers. The ledger's contract suite
// (pkg/llm/budget, contract_test.go) runs the fake and the Redis ledger
// through the same cases, so the two cannot drift.
package budgettest

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
)

// nanoPerUSD: the fake counts dollars in billionths, exactly as the ledger.
const nanoPerUSD = 1e9

// Ledger is a fake budget.Ledger: tenants' use per UTC day and month, kept
// in memory by one process. Like the ledger, a metered call reserves its
// estimate priced at the dearest provider, settles with the reported use at
// the answering provider's price (the estimate when it reported none), and
// releases the reservation when it failed without an answer; a call that
// would pass a budget is refused with *budget.ExceededError.
type Ledger struct {
	limits budget.Limits
	prices map[string]budget.Price
	worst  budget.Price
	now    func() time.Time

	mu     sync.Mutex
	counts map[string]*count // by tenant and period key
}

type count struct {
	tokens, nano           int64 // settled and reserved
	reservedTok, reservedN int64
	models                 map[[2]string]*budget.ModelUsage
	modelNano              map[[2]string]int64
}

// NewLedger returns a fake ledger with the tenants' limits and each
// provider's price; now is the clock (nil: time.Now). It panics on negative
// limits or prices, which the real constructor refuses.
func NewLedger(limits budget.Limits, prices map[string]budget.Price, now func() time.Time) *Ledger {
	if err := limits.Validate(); err != nil {
		panic(err)
	}
	if now == nil {
		now = time.Now
	}
	l := &Ledger{limits: limits, prices: map[string]budget.Price{}, now: now, counts: map[string]*count{}}
	for name, p := range prices {
		if p.InputUSDPerMTok < 0 || p.OutputUSDPerMTok < 0 {
			panic("budgettest: prices may not be negative")
		}
		l.prices[name] = p
		l.worst.InputUSDPerMTok = max(l.worst.InputUSDPerMTok, p.InputUSDPerMTok)
		l.worst.OutputUSDPerMTok = max(l.worst.OutputUSDPerMTok, p.OutputUSDPerMTok)
	}
	return l
}

// nanoUSD is the ledger's rounding: billionths of a dollar, rounded up.
func nanoUSD(p budget.Price, prompt, completion int64) int64 {
	return int64(math.Ceil(p.InputUSDPerMTok*float64(prompt)*1e3 + p.OutputUSDPerMTok*float64(completion)*1e3))
}

type period struct {
	key, name string
	resets    time.Time
}

func (l *Ledger) periods(tenant string) (day, month period) {
	now := l.now().UTC()
	d := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	day = period{key: tenant + "\x1fday\x1f" + d.Format("2006-01-02"), name: d.Format("2006-01-02"), resets: d.AddDate(0, 0, 1)}
	month = period{key: tenant + "\x1fmonth\x1f" + m.Format("2006-01"), name: m.Format("2006-01"), resets: m.AddDate(0, 1, 0)}
	return day, month
}

// countOf returns the count of key, made when absent; l.mu is held.
func (l *Ledger) countOf(key string) *count {
	c := l.counts[key]
	if c == nil {
		c = &count{models: map[[2]string]*budget.ModelUsage{}, modelNano: map[[2]string]int64{}}
		l.counts[key] = c
	}
	return c
}

// fits checks the four budgets against tokens and nano more; l.mu is held.
func (l *Ledger) fits(day, month period, tokens, nano int64) error {
	dc, mc := l.countOf(day.key), l.countOf(month.key)
	checks := []struct {
		name  string
		used  int64
		limit int64
		ask   int64
		p     period
	}{
		{budget.TokensPerDay, dc.tokens, l.limits.TokensPerDay, tokens, day},
		{budget.USDPerDay, dc.nano, int64(math.Round(l.limits.USDPerDay * nanoPerUSD)), nano, day},
		{budget.TokensPerMonth, mc.tokens, l.limits.TokensPerMonth, tokens, month},
		{budget.USDPerMonth, mc.nano, int64(math.Round(l.limits.USDPerMonth * nanoPerUSD)), nano, month},
	}
	for _, c := range checks {
		if c.limit <= 0 || c.used+c.ask <= c.limit {
			continue
		}
		e := &budget.ExceededError{Budget: c.name, Used: float64(c.used), Asked: float64(tokens), Resets: c.p.resets}
		switch c.name {
		case budget.TokensPerDay:
			e.Limit = float64(l.limits.TokensPerDay)
		case budget.TokensPerMonth:
			e.Limit = float64(l.limits.TokensPerMonth)
		case budget.USDPerDay:
			e.Limit, e.Used, e.Asked = l.limits.USDPerDay, float64(c.used)/nanoPerUSD, float64(nano)/nanoPerUSD
		case budget.USDPerMonth:
			e.Limit, e.Used, e.Asked = l.limits.USDPerMonth, float64(c.used)/nanoPerUSD, float64(nano)/nanoPerUSD
		}
		return e
	}
	return nil
}

// Check reports whether est would fit the tenant's budgets now, without
// reserving it.
func (l *Ledger) Check(_ context.Context, tenant string, est budget.Estimate) error {
	day, month := l.periods(tenant)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fits(day, month, est.PromptTokens+est.CompletionTokens, nanoUSD(l.worst, est.PromptTokens, est.CompletionTokens))
}

// reservation is one metered call's hold on its periods.
type reservation struct {
	l            *Ledger
	day, month   period
	tokens, nano int64
	est          budget.Estimate
}

func (l *Ledger) reserve(tenant string, est budget.Estimate) (*reservation, error) {
	day, month := l.periods(tenant)
	r := &reservation{l: l, day: day, month: month, est: est, tokens: est.PromptTokens + est.CompletionTokens,
		nano: nanoUSD(l.worst, est.PromptTokens, est.CompletionTokens)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.fits(day, month, r.tokens, r.nano); err != nil {
		return nil, err
	}
	for _, p := range []period{day, month} {
		c := l.countOf(p.key)
		c.tokens += r.tokens
		c.nano += r.nano
		c.reservedTok += r.tokens
		c.reservedN += r.nano
	}
	return r, nil
}

// settle replaces the reservation by the call's use (provider "" releases).
func (r *reservation) settle(provider, model string, prompt, completion int64) {
	l := r.l
	var tokens, cost int64
	if provider != "" {
		if prompt+completion == 0 {
			prompt, completion = r.est.PromptTokens, r.est.CompletionTokens
		}
		price, ok := l.prices[provider]
		if !ok {
			price = l.worst
		}
		tokens, cost = prompt+completion, nanoUSD(price, prompt, completion)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range []period{r.day, r.month} {
		c := l.countOf(p.key)
		c.tokens += tokens - r.tokens
		c.nano += cost - r.nano
		c.reservedTok -= r.tokens
		c.reservedN -= r.nano
		if provider == "" {
			continue
		}
		k := [2]string{provider, model}
		m := c.models[k]
		if m == nil {
			m = &budget.ModelUsage{Provider: provider, Model: model}
			c.models[k] = m
		}
		m.Calls++
		m.PromptTokens += prompt
		m.CompletionTokens += completion
		c.modelNano[k] += cost
	}
}

// Meter returns next metered against tenant's budgets, as budget.Ledger's.
func (l *Ledger) Meter(tenant string, next llm.Completer) llm.Completer {
	return metered{l: l, tenant: tenant, next: next}
}

type metered struct {
	l      *Ledger
	tenant string
	next   llm.Completer
}

func (m metered) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	return m.call(req, func() (llm.Response, error) { return m.next.Complete(ctx, req) })
}

func (m metered) Stream(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	return m.call(req, func() (llm.Response, error) { return m.next.Stream(ctx, req, onDelta) })
}

func (m metered) call(req llm.Request, do func() (llm.Response, error)) (llm.Response, error) {
	r, err := m.l.reserve(m.tenant, budget.EstimateOf(req))
	if err != nil {
		return llm.Response{}, err
	}
	res, err := do()
	if err != nil && res.Provider == "" {
		r.settle("", "", 0, 0)
		return res, err
	}
	r.settle(res.Provider, res.Model, int64(res.Usage.PromptTokens), int64(res.Usage.CompletionTokens))
	return res, err
}

// Usage reads the tenant's use today and this month.
func (l *Ledger) Usage(_ context.Context, tenant string) (budget.Usage, error) {
	day, month := l.periods(tenant)
	l.mu.Lock()
	defer l.mu.Unlock()
	return budget.Usage{
		Day:   l.read(day, l.limits.TokensPerDay, l.limits.USDPerDay),
		Month: l.read(month, l.limits.TokensPerMonth, l.limits.USDPerMonth),
	}, nil
}

// read is one period's usage; l.mu is held.
func (l *Ledger) read(p period, tokenLimit int64, usdLimit float64) budget.PeriodUsage {
	c := l.countOf(p.key)
	out := budget.PeriodUsage{Period: p.name, Resets: p.resets, TokenLimit: tokenLimit, USDLimit: usdLimit,
		InFlightTokens: max(0, c.reservedTok), InFlightUSD: float64(max(0, c.reservedN)) / nanoPerUSD,
		Tokens: max(0, c.tokens-c.reservedTok), USD: float64(max(0, c.nano-c.reservedN)) / nanoPerUSD,
		Models: make([]budget.ModelUsage, 0, len(c.models))}
	for k, m := range c.models {
		mu := *m
		mu.USD = float64(c.modelNano[k]) / nanoPerUSD
		mu.PriceSource = l.prices[m.Provider].Source
		out.Models = append(out.Models, mu)
	}
	sort.Slice(out.Models, func(i, j int) bool {
		if out.Models[i].Provider != out.Models[j].Provider {
			return out.Models[i].Provider < out.Models[j].Provider
		}
		return out.Models[i].Model < out.Models[j].Model
	})
	return out
}
