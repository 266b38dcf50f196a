package telemetry

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every Infra Mind metric name.
const Namespace = "inframind"

// Message handling outcomes, the values of the MessagesHandled "outcome" label.
const (
	OutcomeAck        = "ack"
	OutcomeNak        = "nak"
	OutcomeTerm       = "term"
	OutcomeDeadLetter = "deadletter"
	// OutcomeAbandoned: the handler outlived the shutdown drain; the message is redelivered later.
	OutcomeAbandoned = "abandoned"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors, so every service
// exposes memory, goroutine and file-descriptor figures without each main wiring them.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// MustRegister cannot fail here: the registry is new and the two collectors describe disjoint metrics.
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Metrics holds the counters and histograms every service shares.
type Metrics struct {
	// MessagesHandled counts consumed messages by consumer and outcome (ack, nak, term, deadletter).
	MessagesHandled *prometheus.CounterVec
	// HandlerSeconds observes message handler duration by consumer.
	HandlerSeconds *prometheus.HistogramVec
	// Published counts published messages by type.
	Published *prometheus.CounterVec
	// HTTPRequests counts HTTP requests by method, route template and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPSeconds observes HTTP request duration by method and route template.
	HTTPSeconds *prometheus.HistogramVec
	// AssessmentsFinished counts assessments reaching a final status, by status.
	AssessmentsFinished *prometheus.CounterVec
	// StoreCommands counts the commands sent to the document store, by
	// command name (find, insert, update, findAndModify, ...): its round trips.
	StoreCommands *prometheus.CounterVec
	// StateRequests counts the requests sent to the pipeline's key-value
	// bucket (package progress), by operation (get, create, put): the rest of
	// the synthesizer's round trips.
	StateRequests *prometheus.CounterVec
}

// NewMetrics creates the shared metrics under the "inframind" namespace and registers them on reg.
// Calling it again with the same registry returns the already registered collectors, because the
// all-in-one development binary runs several services on one registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("new metrics: nil registerer")
	}
	var (
		m   Metrics
		err error
	)
	// Durations use the client library's default buckets (5ms to 10s, prometheus.DefBuckets in
	// github.com/prometheus/client_golang/prometheus/histogram.go), which span both API calls and the
	// deterministic calculators an agent runs per message.
	if m.MessagesHandled, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "messages_handled_total",
		Help:      "Messages consumed, by consumer and outcome (ack, nak, term, deadletter).",
	}, []string{"consumer", "outcome"})); err != nil {
		return nil, err
	}
	if m.HandlerSeconds, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace,
		Name:      "handler_duration_seconds",
		Help:      "Time spent in a message handler, by consumer.",
		Buckets:   prometheus.DefBuckets,
	}, []string{"consumer"})); err != nil {
		return nil, err
	}
	if m.Published, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "messages_published_total",
		Help:      "Messages published, by message type.",
	}, []string{"type"})); err != nil {
		return nil, err
	}
	if m.HTTPRequests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "http_requests_total",
		Help:      "HTTP requests served, by method, route template and status code.",
	}, []string{"method", "route", "code"})); err != nil {
		return nil, err
	}
	if m.HTTPSeconds, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace,
		Name:      "http_request_duration_seconds",
		Help:      "HTTP request duration, by method and route template.",
		Buckets:   prometheus.DefBuckets,
	}, []string{"method", "route"})); err != nil {
		return nil, err
	}
	if m.AssessmentsFinished, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "assessments_finished_total",
		Help:      "Assessments that reached a final status, by status.",
	}, []string{"status"})); err != nil {
		return nil, err
	}
	if m.StoreCommands, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "store_commands_total",
		Help:      "Commands sent to the document store, by command name.",
	}, []string{"command"})); err != nil {
		return nil, err
	}
	if m.StateRequests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "state_requests_total",
		Help:      "Requests sent to the pipeline state's key-value bucket, by operation.",
	}, []string{"op"})); err != nil {
		return nil, err
	}
	return &m, nil
}

// register registers c on reg, or returns the collector already registered under the same descriptor.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("register metric: %w", err)
}

// MessageObserver records the bus's settled messages and publishes on
// Metrics (it satisfies bus.Observer).
type MessageObserver struct{ m *Metrics }

// Messages returns the observer that records message metrics.
func (m *Metrics) Messages() MessageObserver { return MessageObserver{m: m} }

// Handled records one settled message.
func (o MessageObserver) Handled(consumer, outcome string, took time.Duration) {
	o.m.MessagesHandled.WithLabelValues(consumer, outcome).Inc()
	o.m.HandlerSeconds.WithLabelValues(consumer).Observe(took.Seconds())
}

// Published records one published message of eventType.
func (o MessageObserver) Published(eventType string) {
	o.m.Published.WithLabelValues(eventType).Inc()
}
