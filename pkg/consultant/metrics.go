package consultant

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the consultant's Prometheus metrics.
type Metrics struct {
	checks   *checkMetrics
	sections *prometheus.CounterVec
	attempts *prometheus.CounterVec
}

// checkMetrics counts the results of a grounding check (pass, fail) and
// exports the share that passed since the process started.
type checkMetrics struct {
	results *prometheus.CounterVec
	ratio   prometheus.GaugeFunc
	passed  atomic.Int64
	checked atomic.Int64
}

func newCheckMetrics(countName, countHelp, ratioName, ratioHelp string) *checkMetrics {
	c := &checkMetrics{results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: countName, Help: countHelp}, []string{"result"})}
	c.ratio = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ratioName, Help: ratioHelp}, func() float64 {
		n := c.checked.Load()
		if n == 0 {
			return 1
		}
		return float64(c.passed.Load()) / float64(n)
	})
	for _, r := range []string{"pass", "fail"} {
		c.results.WithLabelValues(r)
	}
	return c
}

func (c *checkMetrics) record(ok bool) {
	c.checked.Add(1)
	if ok {
		c.passed.Add(1)
		c.results.WithLabelValues("pass").Inc()
		return
	}
	c.results.WithLabelValues("fail").Inc()
}

// NewMetrics registers the consultant's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("consultant: a metrics registry is required")
	}
	m := &Metrics{
		checks: newCheckMetrics(
			"infra_mind_narrative_number_checks_total",
			"Generated narrative texts checked against the report's numbers, by result (pass, fail).",
			"infra_mind_narrative_number_check_pass_ratio",
			"Share of generated narrative texts whose every number was found in the report, since the process started (1 before any check)."),
		sections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_narrative_sections_total",
			Help: "Narrative sections stored, by source: generated (passed the check) or deterministic (failed twice).",
		}, []string{"source"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_llm_attempts_total",
			Help: "Calls to language model providers, by provider and outcome (ok, retryable_error, error, cancelled, circuit_open).",
		}, []string{"provider", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.checks.results, m.checks.ratio, m.sections, m.attempts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, s := range []string{"generated", "deterministic"} {
		m.sections.WithLabelValues(s)
	}
	return m, nil
}

func (m *Metrics) check(ok bool) {
	if m == nil {
		return
	}
	m.checks.record(ok)
}

func (m *Metrics) section(generated bool) {
	if m == nil {
		return
	}
	if generated {
		m.sections.WithLabelValues("generated").Inc()
		return
	}
	m.sections.WithLabelValues("deterministic").Inc()
}

// Attempt records one provider call's outcome (llm.Config.OnAttempt).
func (m *Metrics) Attempt(provider, outcome string) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(provider, outcome).Inc()
}
