package budget

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count settled language model use per tenant, provider and model,
// and refusals per budget. The tenant label is deliberate: use is billed per
// tenant, and the series grow with tenants x configured models (a handful
// of models), which the deployment's tenant count bounds.
type Metrics struct {
	tokens  *prometheus.CounterVec
	cost    *prometheus.CounterVec
	refusal *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg; a process hosting both the
// gateway and the consultant registers them once and both count into them.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("llm budget: a metrics registry is required")
	}
	m := &Metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_llm_tokens_total",
			Help: "Language model tokens used, as the providers reported them, by tenant, provider, model and kind (prompt, completion).",
		}, []string{"tenant", "provider", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_llm_cost_usd_total",
			Help: "Cost of the language model tokens used, in US dollars at the providers' prices, by tenant, provider and model.",
		}, []string{"tenant", "provider", "model"}),
		refusal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_llm_budget_refusals_total",
			Help: "Language model calls refused because they would pass a tenant's budget, by tenant and budget (tokens_per_day, tokens_per_month, usd_per_day, usd_per_month).",
		}, []string{"tenant", "budget"}),
	}
	m.tokens = register(reg, m.tokens)
	m.cost = register(reg, m.cost)
	m.refusal = register(reg, m.refusal)
	if m.tokens == nil || m.cost == nil || m.refusal == nil {
		return nil, errors.New("llm budget: metrics could not be registered")
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	return nil
}

func (m *Metrics) settled(tenant, provider, model string, prompt, completion int64, usd float64) {
	m.tokens.WithLabelValues(tenant, provider, model, "prompt").Add(float64(prompt))
	m.tokens.WithLabelValues(tenant, provider, model, "completion").Add(float64(completion))
	m.cost.WithLabelValues(tenant, provider, model).Add(usd)
}

func (m *Metrics) refused(tenant, budget string) { m.refusal.WithLabelValues(tenant, budget).Inc() }
