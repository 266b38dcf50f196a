package consultant

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// ChatMetrics are the chat's Prometheus metrics.
type ChatMetrics struct {
	checks    *checkMetrics
	answers   *prometheus.CounterVec
	withdrawn *prometheus.CounterVec
	tools     *prometheus.CounterVec
}

// NewChatMetrics registers the chat's metrics on reg.
func NewChatMetrics(reg prometheus.Registerer) (*ChatMetrics, error) {
	if reg == nil {
		return nil, errors.New("consultant: a metrics registry is required")
	}
	m := &ChatMetrics{
		checks: newCheckMetrics(
			"infra_mind_chat_answer_checks_total",
			"Generated chat answers checked (numbers grounded, no instructions or credentials repeated), by result (pass, fail).",
			"infra_mind_chat_answer_check_pass_ratio",
			"Share of generated chat answers that passed the check, since the process started (1 before any check)."),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_chat_answers_total",
			Help: "Chat answers given, by source: generated (passed the check) or deterministic (failed twice, or no provider answered).",
		}, []string{"source"}),
		withdrawn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_chat_answers_withheld_total",
			Help: "Generated chat answers withdrawn, by reason (numbers, instructions, credential, empty).",
		}, []string{"reason"}),
		tools: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infra_mind_chat_tool_calls_total",
			Help: "Tool calls of the chat, by tool and outcome (ok, error).",
		}, []string{"tool", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.checks.results, m.checks.ratio, m.answers, m.withdrawn, m.tools} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, s := range []string{"generated", "deterministic"} {
		m.answers.WithLabelValues(s)
	}
	return m, nil
}

func (m *ChatMetrics) check(ok bool) {
	if m == nil {
		return
	}
	m.checks.record(ok)
}

func (m *ChatMetrics) answer(generated bool) {
	if m == nil {
		return
	}
	if generated {
		m.answers.WithLabelValues("generated").Inc()
		return
	}
	m.answers.WithLabelValues("deterministic").Inc()
}

func (m *ChatMetrics) withheld(reason string) {
	if m == nil {
		return
	}
	m.withdrawn.WithLabelValues(reason).Inc()
}

func (m *ChatMetrics) tool(name string, ok bool) {
	if m == nil {
		return
	}
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.tools.WithLabelValues(name, outcome).Inc()
}

// NewChatAttempts registers the chat's provider-attempt counter on reg and
// returns its recorder (llm.Config.OnAttempt).
func NewChatAttempts(reg prometheus.Registerer) (func(provider, outcome string), error) {
	if reg == nil {
		return nil, errors.New("consultant: a metrics registry is required")
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "infra_mind_chat_llm_attempts_total",
		Help: "Calls of the chat to language model providers, by provider and outcome (ok, retryable_error, error, cancelled, circuit_open).",
	}, []string{"provider", "outcome"})
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return func(provider, outcome string) { c.WithLabelValues(provider, outcome).Inc() }, nil
}
