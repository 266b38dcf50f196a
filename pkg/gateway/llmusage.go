package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
)

// ProblemLLMBudget is the problem type of a call refused by the tenant's
// language model budget.
const ProblemLLMBudget = problemBase + "llm-budget-exceeded"

// budgetProblem is the 429 naming the budget that is used up, or nil when
// err is not a budget refusal.
func budgetProblem(err error, now time.Time) *Problem {
	var ee *budget.ExceededError
	if !errors.As(err, &ee) {
		return nil
	}
	secs := max(1, int((ee.Resets.Sub(now)+time.Second-1)/time.Second))
	amount := func(v float64) string {
		if ee.Unit() == "USD" {
			return "$" + strconv.FormatFloat(v, 'f', 4, 64)
		}
		return strconv.FormatFloat(v, 'f', 0, 64) + " tokens"
	}
	limit := amount(ee.Limit)
	if ee.Unit() == "USD" {
		limit = "$" + strconv.FormatFloat(ee.Limit, 'f', 2, 64)
	}
	p := problem(http.StatusTooManyRequests, ProblemLLMBudget, "Language model budget used up",
		fmt.Sprintf("Your organisation's language model budget %s (%s) is used up: %s used. It resets at %s, in %d seconds.",
			ee.Budget, limit, amount(ee.Used), ee.Resets.UTC().Format(time.RFC3339), secs))
	p.Budget = &api.LLMBudgetExceeded{Name: api.LLMBudgetExceededName(ee.Budget), Unit: api.LLMBudgetExceededUnit(ee.Unit()),
		Limit: ee.Limit, Used: ee.Used, ResetsAt: ee.Resets.UTC()}
	p.header = http.Header{headerRetryAfter: {strconv.Itoa(secs)}}
	return p
}

// getLLMUsage handles GET /v1/usage/llm: the tenant's use today and this
// month against its budgets.
func (s *Server) getLLMUsage(c echo.Context) error {
	u, err := s.llmBudget.Usage(c.Request().Context(), tenantOf(c))
	if err != nil {
		p := problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable",
			"The usage counts cannot be read right now. Retry shortly.")
		p.header = http.Header{headerRetryAfter: {"5"}}
		p.cause = err
		return p
	}
	return c.JSON(http.StatusOK, api.LLMUsage{Day: periodView(u.Day), Month: periodView(u.Month)})
}

func periodView(p budget.PeriodUsage) api.LLMPeriodUsage {
	v := api.LLMPeriodUsage{Period: p.Period, ResetsAt: p.Resets.UTC(), Models: make([]api.LLMModelUsage, 0, len(p.Models)),
		Tokens: api.LLMUsageAmount{Used: float64(p.Tokens), InFlight: float64(p.InFlightTokens)},
		USD:    api.LLMUsageAmount{Used: p.USD, InFlight: p.InFlightUSD}}
	if p.TokenLimit > 0 {
		l := float64(p.TokenLimit)
		v.Tokens.Limit = &l
	}
	if p.USDLimit > 0 {
		l := p.USDLimit
		v.USD.Limit = &l
	}
	for _, m := range p.Models {
		mv := api.LLMModelUsage{Provider: m.Provider, Model: m.Model, Calls: int(m.Calls), PromptTokens: int(m.PromptTokens),
			CompletionTokens: int(m.CompletionTokens), USD: m.USD}
		if m.PriceSource != "" {
			src := m.PriceSource
			mv.PriceSource = &src
		}
		v.Models = append(v.Models, mv)
	}
	return v
}
