// Package budget counts each tenant's language model use against its
// budgets, tokens and US dollars per UTC day and month, in Redis, so every
// gateway and consultant replica shares one count. A call reserves its
// estimated cost before it is sent (refused when that would pass a budget),
// settles with the usage the provider reports afterwards, and releases the
// reservation when it fails; each step is one Lua script, so two replicas
// cannot both take the last of a budget.
package budget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infra-mind/infra-mind/pkg/cache"
)

// Budgets, as ExceededError names them.
const (
	TokensPerDay   = "tokens_per_day"
	TokensPerMonth = "tokens_per_month"
	USDPerDay      = "usd_per_day"
	USDPerMonth    = "usd_per_month"
)

// Limits are a tenant's budgets; 0 leaves one unlimited.
type Limits struct {
	TokensPerDay   int64
	TokensPerMonth int64
	USDPerDay      float64
	USDPerMonth    float64
}

// Validate refuses negative budgets.
func (l Limits) Validate() error {
	if l.TokensPerDay < 0 || l.TokensPerMonth < 0 || l.USDPerDay < 0 || l.USDPerMonth < 0 ||
		math.IsNaN(l.USDPerDay) || math.IsNaN(l.USDPerMonth) {
		return errors.New("llm budget: budgets may not be negative (0 is unlimited)")
	}
	return nil
}

// USDBudgeted says whether a dollar budget is set.
func (l Limits) USDBudgeted() bool { return l.USDPerDay > 0 || l.USDPerMonth > 0 }

// Price is what one provider's model costs per million tokens, and where
// the figure comes from.
type Price struct {
	InputUSDPerMTok  float64
	OutputUSDPerMTok float64
	// Source names the catalogue row (with its own source and date) or the
	// setting the price was read from; empty for a provider without a price.
	Source string
}

// nanoUSD is the cost of the tokens in billionths of a dollar (Redis counts
// integers exactly), rounded up.
func (p Price) nanoUSD(prompt, completion int64) int64 {
	// USD per million tokens x tokens / 1e6 = USD; x 1e9 = nano-USD.
	return int64(math.Ceil(p.InputUSDPerMTok*float64(prompt)*1e3 + p.OutputUSDPerMTok*float64(completion)*1e3))
}

// ErrExceeded is what every ExceededError matches with errors.Is.
var ErrExceeded = errors.New("llm budget exceeded")

// ExceededError is a call refused because it would pass a budget.
type ExceededError struct {
	// Budget is TokensPerDay, TokensPerMonth, USDPerDay or USDPerMonth.
	Budget string
	// Limit and Used are in the budget's unit (tokens or USD); Used counts
	// settled calls and calls in flight; Asked is this call's estimate.
	Limit, Used, Asked float64
	// Resets is when the period ends and the count starts again.
	Resets time.Time
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("llm budget %s exceeded: used %s of %s, this call needs about %s more; resets at %s",
		e.Budget, e.format(e.Used), e.format(e.Limit), e.format(e.Asked), e.Resets.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrExceeded) true.
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Unit is "tokens" or "USD".
func (e *ExceededError) Unit() string {
	if strings.HasPrefix(e.Budget, "usd") {
		return "USD"
	}
	return "tokens"
}

func (e *ExceededError) format(v float64) string {
	if e.Unit() == "USD" {
		return "$" + strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " tokens"
}

// Estimate is a call's expected size before it is sent.
type Estimate struct {
	PromptTokens     int64
	CompletionTokens int64
}

// Ledger counts tenants' use in Redis. Keys are
// im:<tenant>:llm:usage:day:<YYYY-MM-DD> and im:<tenant>:llm:usage:month:<YYYY-MM>,
// hashes of the totals (settled and reserved) and of the settled use per
// provider and model; each expires an hour after its period ends (room for
// a call that began before midnight to settle).
type Ledger struct {
	rdb     redis.Cmdable
	limits  Limits
	prices  map[string]Price
	worst   Price
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
	reserve *redis.Script
	settle  *redis.Script
}

// Options are a ledger's optional parts.
type Options struct {
	// Metrics, when set, counts settled use per tenant, provider and model.
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// New returns a ledger on rdb with the tenants' limits and each provider's
// price (by provider name).
func New(rdb redis.Cmdable, limits Limits, prices map[string]Price, o Options) (*Ledger, error) {
	if rdb == nil {
		return nil, errors.New("llm budget: a Redis client is required")
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	l := &Ledger{rdb: rdb, limits: limits, prices: map[string]Price{}, metrics: o.Metrics, log: o.Logger, now: o.Now,
		reserve: redis.NewScript(reserveScript), settle: redis.NewScript(settleScript)}
	for name, p := range prices {
		if p.InputUSDPerMTok < 0 || p.OutputUSDPerMTok < 0 {
			return nil, fmt.Errorf("llm budget: provider %s: prices may not be negative", name)
		}
		l.prices[name] = p
		l.worst.InputUSDPerMTok = max(l.worst.InputUSDPerMTok, p.InputUSDPerMTok)
		l.worst.OutputUSDPerMTok = max(l.worst.OutputUSDPerMTok, p.OutputUSDPerMTok)
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Limits are the budgets every tenant has.
func (l *Ledger) Limits() Limits { return l.limits }

// period is one day or month of a tenant's count.
type period struct {
	key    string
	name   string
	resets time.Time
}

func (l *Ledger) periods(tenant string) (day, month period) {
	now := l.now().UTC()
	d := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	day = period{key: cache.Key(tenant, "llm", "usage", "day", d.Format("2006-01-02")), name: d.Format("2006-01-02"), resets: d.AddDate(0, 0, 1)}
	month = period{key: cache.Key(tenant, "llm", "usage", "month", m.Format("2006-01")), name: m.Format("2006-01"), resets: m.AddDate(0, 1, 0)}
	return day, month
}

// expireAfter is how long a period's key outlives the period.
const expireAfter = time.Hour

// Hash fields of a period's key.
const (
	fieldTokens           = "tokens"
	fieldNanoUSD          = "usd_nano"
	fieldReservedTokens   = "reserved_tokens"
	fieldReservedNanoUSD  = "reserved_usd_nano"
	modelFieldPrefix      = "m\x1f"
	modelFieldSeparator   = "\x1f"
	modelFieldPrompt      = "prompt"
	modelFieldCompletion  = "completion"
	modelFieldNanoUSD     = "usd_nano"
	modelFieldCalls       = "calls"
	nanoPerUSD            = 1e9
	unlimited             = "0"
	checkOnly, reserveToo = "1", "0"
)

// reserveScript checks the four budgets against the period totals (settled
// and reserved) plus this call's estimate, and, unless ARGV[9] is 1 (a check
// only), adds the estimate to the totals and to the reserved amounts. It
// returns {1} or {0, budget, used}. One script, so the check and the add
// are atomic across replicas. Integers arrive as strings and are passed to
// HINCRBY unchanged (Lua numbers are doubles).
//
// KEYS: day, month. ARGV: tokens, nano-USD, then the limits (tokens per
// day, per month, nano-USD per day, per month; 0 unlimited), the two keys'
// expiry times (unix seconds), check-only flag.
const reserveScript = `
local tok, usd = tonumber(ARGV[1]), tonumber(ARGV[2])
local checks = {
  {KEYS[1], 'tokens', ARGV[3], tok, 'tokens_per_day'},
  {KEYS[1], 'usd_nano', ARGV[5], usd, 'usd_per_day'},
  {KEYS[2], 'tokens', ARGV[4], tok, 'tokens_per_month'},
  {KEYS[2], 'usd_nano', ARGV[6], usd, 'usd_per_month'},
}
for _, c in ipairs(checks) do
  local limit = tonumber(c[3])
  if limit > 0 then
    local used = tonumber(redis.call('HGET', c[1], c[2]) or '0')
    if used + c[4] > limit then return {0, c[5], tostring(used)} end
  end
end
if ARGV[9] == '1' then return {1} end
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], 'tokens', ARGV[1])
  redis.call('HINCRBY', KEYS[i], 'usd_nano', ARGV[2])
  redis.call('HINCRBY', KEYS[i], 'reserved_tokens', ARGV[1])
  redis.call('HINCRBY', KEYS[i], 'reserved_usd_nano', ARGV[2])
  redis.call('EXPIREAT', KEYS[i], ARGV[6 + i])
end
return {1}
`

// settleScript replaces a reservation by the call's use: the totals move by
// (used - reserved), the reserved amounts drop by what was reserved, and the
// use is added to its provider and model's fields (none for a release).
//
// KEYS: day, month. ARGV: token delta, nano-USD delta, reserved tokens,
// reserved nano-USD (both negated), model field prefix ("" for a release),
// prompt tokens, completion tokens, nano-USD, the two keys' expiry times.
const settleScript = `
for i = 1, 2 do
  local k = KEYS[i]
  redis.call('HINCRBY', k, 'tokens', ARGV[1])
  redis.call('HINCRBY', k, 'usd_nano', ARGV[2])
  redis.call('HINCRBY', k, 'reserved_tokens', ARGV[3])
  redis.call('HINCRBY', k, 'reserved_usd_nano', ARGV[4])
  if ARGV[5] ~= '' then
    redis.call('HINCRBY', k, ARGV[5] .. 'prompt', ARGV[6])
    redis.call('HINCRBY', k, ARGV[5] .. 'completion', ARGV[7])
    redis.call('HINCRBY', k, ARGV[5] .. 'usd_nano', ARGV[8])
    redis.call('HINCRBY', k, ARGV[5] .. 'calls', 1)
  end
  redis.call('EXPIREAT', k, ARGV[8 + i])
end
return 1
`

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func nano(usd float64) int64 { return int64(math.Round(usd * nanoPerUSD)) }

// Reservation is an estimate held against a tenant's budgets until the call
// settles or is released. Its keys are the periods it was made in, so a
// call that crosses midnight settles where it was counted.
type Reservation struct {
	l            *Ledger
	tenant       string
	day, month   period
	tokens, nano int64
	est          Estimate
	done         bool
}

// Reserve holds est against the tenant's budgets, priced at the dearest
// provider (the call may fail over to any of them). It returns an
// *ExceededError when the estimate would pass a budget.
func (l *Ledger) Reserve(ctx context.Context, tenant string, est Estimate) (*Reservation, error) {
	day, month := l.periods(tenant)
	r := &Reservation{l: l, tenant: tenant, day: day, month: month, est: est,
		tokens: est.PromptTokens + est.CompletionTokens, nano: l.worst.nanoUSD(est.PromptTokens, est.CompletionTokens)}
	if err := l.run(ctx, tenant, day, month, r.tokens, r.nano, reserveToo); err != nil {
		return nil, err
	}
	return r, nil
}

// Check reports whether est would fit the tenant's budgets now, without
// reserving it (an *ExceededError when it would not).
func (l *Ledger) Check(ctx context.Context, tenant string, est Estimate) error {
	day, month := l.periods(tenant)
	return l.run(ctx, tenant, day, month, est.PromptTokens+est.CompletionTokens, l.worst.nanoUSD(est.PromptTokens, est.CompletionTokens), checkOnly)
}

func (l *Ledger) run(ctx context.Context, tenant string, day, month period, tokens, nanoUSD int64, mode string) error {
	res, err := l.reserve.Run(ctx, l.rdb, []string{day.key, month.key},
		itoa(tokens), itoa(nanoUSD),
		itoa(l.limits.TokensPerDay), itoa(l.limits.TokensPerMonth), itoa(nano(l.limits.USDPerDay)), itoa(nano(l.limits.USDPerMonth)),
		itoa(day.resets.Add(expireAfter).Unix()), itoa(month.resets.Add(expireAfter).Unix()), mode).Slice()
	if err != nil {
		return fmt.Errorf("llm budget: reserve in %s: %w", day.key, err)
	}
	if len(res) == 0 {
		return fmt.Errorf("llm budget: reserve in %s: empty reply", day.key)
	}
	if ok, _ := res[0].(int64); ok == 1 {
		return nil
	}
	if len(res) != 3 {
		return fmt.Errorf("llm budget: reserve in %s: unexpected reply %v", day.key, res)
	}
	name, _ := res[1].(string)
	usedText, _ := res[2].(string)
	used, _ := strconv.ParseFloat(usedText, 64)
	e := &ExceededError{Budget: name, Used: used, Asked: float64(tokens)}
	switch name {
	case TokensPerDay:
		e.Limit, e.Resets = float64(l.limits.TokensPerDay), day.resets
	case TokensPerMonth:
		e.Limit, e.Resets = float64(l.limits.TokensPerMonth), month.resets
	case USDPerDay:
		e.Limit, e.Used, e.Asked, e.Resets = l.limits.USDPerDay, used/nanoPerUSD, float64(nanoUSD)/nanoPerUSD, day.resets
	case USDPerMonth:
		e.Limit, e.Used, e.Asked, e.Resets = l.limits.USDPerMonth, used/nanoPerUSD, float64(nanoUSD)/nanoPerUSD, month.resets
	default:
		return fmt.Errorf("llm budget: reserve in %s: unknown budget %q", day.key, name)
	}
	if l.metrics != nil {
		l.metrics.refused(tenant, name)
	}
	return e
}

// Settle replaces the reservation by the use the provider reported for the
// call, priced at the answering provider's price. A provider that reported
// no usage is charged the estimate. Settling twice, or after Release, does
// nothing.
func (r *Reservation) Settle(ctx context.Context, provider, model string, prompt, completion int64) error {
	if r == nil || r.done {
		return nil
	}
	if prompt+completion == 0 {
		prompt, completion = r.est.PromptTokens, r.est.CompletionTokens
	}
	price, ok := r.l.prices[provider]
	if !ok {
		price = r.l.worst
	}
	cost := price.nanoUSD(prompt, completion)
	field := modelFieldPrefix + provider + modelFieldSeparator + model + modelFieldSeparator
	if err := r.apply(ctx, prompt+completion, cost, field, prompt, completion); err != nil {
		return err
	}
	if r.l.metrics != nil {
		r.l.metrics.settled(r.tenant, provider, model, prompt, completion, float64(cost)/nanoPerUSD)
	}
	return nil
}

// Release gives the reservation back (the call failed and cost nothing).
func (r *Reservation) Release(ctx context.Context) error {
	if r == nil || r.done {
		return nil
	}
	return r.apply(ctx, 0, 0, "", 0, 0)
}

func (r *Reservation) apply(ctx context.Context, tokens, cost int64, field string, prompt, completion int64) error {
	err := r.l.settle.Run(ctx, r.l.rdb, []string{r.day.key, r.month.key},
		itoa(tokens-r.tokens), itoa(cost-r.nano), itoa(-r.tokens), itoa(-r.nano),
		field, itoa(prompt), itoa(completion), itoa(cost),
		itoa(r.day.resets.Add(expireAfter).Unix()), itoa(r.month.resets.Add(expireAfter).Unix())).Err()
	if err != nil {
		return fmt.Errorf("llm budget: settle in %s: %w", r.day.key, err)
	}
	r.done = true
	return nil
}
