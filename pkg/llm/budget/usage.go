package budget

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Usage is a tenant's use today and this month (UTC) against its budgets.
type Usage struct {
	Day   PeriodUsage
	Month PeriodUsage
}

// PeriodUsage is one period's count.
type PeriodUsage struct {
	// Period is YYYY-MM-DD for a day, YYYY-MM for a month; Resets its end.
	Period string
	Resets time.Time
	// Tokens and USD are settled calls; InFlight* are reservations of calls
	// still running (counted against the budgets too).
	Tokens         int64
	USD            float64
	InFlightTokens int64
	InFlightUSD    float64
	// TokenLimit and USDLimit are the budgets (0: unlimited).
	TokenLimit int64
	USDLimit   float64
	// Models are the settled use per provider and model, by provider then model.
	Models []ModelUsage
}

// ModelUsage is the settled use of one provider's model.
type ModelUsage struct {
	Provider         string
	Model            string
	Calls            int64
	PromptTokens     int64
	CompletionTokens int64
	USD              float64
	// PriceSource is where the provider's price came from ("" when it has none).
	PriceSource string
}

// Usage reads the tenant's use today and this month.
func (l *Ledger) Usage(ctx context.Context, tenant string) (Usage, error) {
	day, month := l.periods(tenant)
	d, err := l.read(ctx, day, l.limits.TokensPerDay, l.limits.USDPerDay)
	if err != nil {
		return Usage{}, err
	}
	m, err := l.read(ctx, month, l.limits.TokensPerMonth, l.limits.USDPerMonth)
	if err != nil {
		return Usage{}, err
	}
	return Usage{Day: d, Month: m}, nil
}

func (l *Ledger) read(ctx context.Context, p period, tokenLimit int64, usdLimit float64) (PeriodUsage, error) {
	h, err := l.rdb.HGetAll(ctx, p.key).Result()
	if err != nil {
		return PeriodUsage{}, fmt.Errorf("llm budget: read %s: %w", p.key, err)
	}
	num := func(f string) int64 {
		v, _ := strconv.ParseInt(h[f], 10, 64)
		return v
	}
	out := PeriodUsage{Period: p.name, Resets: p.resets, TokenLimit: tokenLimit, USDLimit: usdLimit,
		InFlightTokens: max(0, num(fieldReservedTokens)), InFlightUSD: float64(max(0, num(fieldReservedNanoUSD))) / nanoPerUSD}
	out.Tokens = max(0, num(fieldTokens)-num(fieldReservedTokens))
	out.USD = float64(max(0, num(fieldNanoUSD)-num(fieldReservedNanoUSD))) / nanoPerUSD
	models := map[[2]string]*ModelUsage{}
	for f, v := range h {
		rest, ok := strings.CutPrefix(f, modelFieldPrefix)
		if !ok {
			continue
		}
		parts := strings.Split(rest, modelFieldSeparator)
		if len(parts) != 3 {
			continue
		}
		k := [2]string{parts[0], parts[1]}
		m := models[k]
		if m == nil {
			m = &ModelUsage{Provider: parts[0], Model: parts[1], PriceSource: l.prices[parts[0]].Source}
			models[k] = m
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch parts[2] {
		case modelFieldPrompt:
			m.PromptTokens = n
		case modelFieldCompletion:
			m.CompletionTokens = n
		case modelFieldNanoUSD:
			m.USD = float64(n) / nanoPerUSD
		case modelFieldCalls:
			m.Calls = n
		}
	}
	out.Models = make([]ModelUsage, 0, len(models))
	for _, m := range models {
		out.Models = append(out.Models, *m)
	}
	sort.Slice(out.Models, func(i, j int) bool {
		if out.Models[i].Provider != out.Models[j].Provider {
			return out.Models[i].Provider < out.Models[j].Provider
		}
		return out.Models[i].Model < out.Models[j].Model
	})
	return out, nil
}
