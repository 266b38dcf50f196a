package consultant

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the consultant's Prometheus metrics.
type Metrics struct {
	checks   *prometheus.CounterVec
	sections *prometheus.CounterVec
	attempts *prometheus.CounterVec
	passed   atomic.Int64
	checked  atomic.Int64
}

// NewMetrics registers the consultant's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("consultant: a metrics registry is required")
	}
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_narrative_number_checks_total",
			Help: "Generated narrative texts checked against the report's numbers, by result (pass, fail).",
		}, []string{"result"}),
		sections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_narrative_sections_total",
			Help: "Narrative sections stored, by source: generated (passed the check) or deterministic (failed twice).",
		}, []string{"source"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_llm_attempts_total",
			Help: "Calls to language model providers, by provider and outcome (ok, retryable_error, error, cancelled, circuit_open).",
		}, []string{"provider", "outcome"}),
	}
	ratio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "infra_mind_narrative_number_check_pass_ratio",
		Help: "Share of generated narrative texts whose every number was found in the report, since the process started (1 before any check).",
	}, func() float64 {
		c := m.checked.Load()
		if c == 0 {
			return 1
		}
		return float64(m.passed.Load()) / float64(c)
	})
	for _, c := range []prometheus.Collector{m.checks, m.sections, m.attempts, ratio} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"pass", "fail"} {
		m.checks.WithLabelValues(r)
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
	m.checked.Add(1)
	if ok {
		m.passed.Add(1)
		m.checks.WithLabelValues("pass").Inc()
		return
	}
	m.checks.WithLabelValues("fail").Inc()
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
