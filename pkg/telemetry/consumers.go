package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// consumerReadTimeout bounds one scrape's read of the consumers' state, well
// inside Prometheus' default scrape timeout (10s).
const consumerReadTimeout = 3 * time.Second

// ConsumerState is one durable consumer's backlog as the broker reports it.
type ConsumerState struct {
	Stream   string
	Consumer string
	// Pending are messages not yet delivered to any worker.
	Pending uint64
	// AckPending are messages delivered and not yet acknowledged (in flight).
	AckPending uint64
}

// ConsumerCollector exports the backlog of the consumers a process runs,
// read from the broker at each scrape: the numbers KEDA's nats-jetstream
// scaler adds up, on the process's own /metrics.
type ConsumerCollector struct {
	read       func(context.Context) ([]ConsumerState, error)
	pending    *prometheus.Desc
	ackPending *prometheus.Desc
}

// NewConsumerCollector returns a collector that calls read at each scrape.
func NewConsumerCollector(read func(context.Context) ([]ConsumerState, error)) *ConsumerCollector {
	labels := []string{"stream", "consumer"}
	return &ConsumerCollector{
		read: read,
		pending: prometheus.NewDesc(Namespace+"_consumer_pending_messages",
			"Messages of the consumer's stream not yet delivered to a worker, by stream and consumer.", labels, nil),
		ackPending: prometheus.NewDesc(Namespace+"_consumer_ack_pending_messages",
			"Messages delivered to a worker and not yet acknowledged, by stream and consumer.", labels, nil),
	}
}

// Describe sends the two gauges' descriptors.
func (c *ConsumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
}

// Collect reads the consumers' state; a failed read is reported as a scrape
// error and the rest of /metrics is still served.
func (c *ConsumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), consumerReadTimeout)
	defer cancel()
	states, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending), s.Stream, s.Consumer)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(s.AckPending), s.Stream, s.Consumer)
	}
}
