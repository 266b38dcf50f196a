package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Appender stores records. It must only insert: the log is append-only.
// The store's audit repository implements it.
type Appender interface {
	Append(ctx context.Context, rec Record) error
}

// ErrDuplicate is wrapped by an Appender's error when a record with the
// same id is already stored: records are never replaced.
var ErrDuplicate = errors.New("audit: duplicate record id")

// ErrClosed is returned by Close when the recorder was already closed.
var ErrClosed = errors.New("audit: recorder closed")

// Defaults for Options' zero fields.
const (
	// DefaultBuffer holds about a few seconds of a busy gateway's requests,
	// enough to ride out a slow insert without dropping.
	DefaultBuffer = 4096
	// DefaultWriteTimeout bounds one insert, so a hung database cannot stall
	// the writer forever.
	DefaultWriteTimeout = 5 * time.Second
)

// Results counted by the records metric.
const (
	resultWritten = "written"
	resultDropped = "dropped"
	resultFailed  = "failed"
)

// Options tunes a Recorder. Zero values take the defaults.
type Options struct {
	Buffer       int           // records queued before Record drops (DefaultBuffer)
	WriteTimeout time.Duration // bound on one insert (DefaultWriteTimeout)
	Logger       *slog.Logger  // nil discards
	// Registry receives the inframind_audit_records_total counter; nil
	// keeps it unregistered.
	Registry prometheus.Registerer
}

// Recorder queues records in a bounded channel drained by one writer
// goroutine.
//
// When the queue is full Record drops the record instead of blocking. The
// queue only fills when the database is slow or down; blocking (even with a
// short timeout) would then add that stall to every API request, and turn a
// database incident into a gateway outage for routes that do not need the
// database at all. A dropped record is not silent: it is counted in
// inframind_audit_records_total{result="dropped"} (alert on it) and written
// in full to the log at warning level, so the log pipeline keeps the trail.
type Recorder struct {
	sink    Appender
	log     *slog.Logger
	timeout time.Duration
	records *prometheus.CounterVec

	// mu guards closed and the send on queue: Record holds it shared, Close
	// exclusively, so nothing sends on the channel after it is closed.
	mu     sync.RWMutex
	closed bool
	queue  chan Record
	done   chan struct{}
}

// NewRecorder starts the writer goroutine; Close stops it after draining.
func NewRecorder(sink Appender, opt Options) (*Recorder, error) {
	if sink == nil {
		return nil, errors.New("audit: new recorder: Appender is required")
	}
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "inframind",
		Subsystem: "audit",
		Name:      "records_total",
		Help:      "Audit records by result: written, dropped (queue full) or failed (insert error).",
	}, []string{"result"})
	if opt.Registry != nil {
		if err := opt.Registry.Register(counter); err != nil {
			var are prometheus.AlreadyRegisteredError
			existing, ok := counter, false
			if errors.As(err, &are) {
				existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
			}
			if !ok {
				return nil, fmt.Errorf("audit: register metric: %w", err)
			}
			// The all-in-one binary shares one registry between components.
			counter = existing
		}
	}
	r := &Recorder{
		sink:    sink,
		log:     opt.Logger,
		timeout: opt.WriteTimeout,
		records: counter,
		queue:   make(chan Record, opt.Buffer),
		done:    make(chan struct{}),
	}
	go r.run()
	return r, nil
}

// Record queues rec without blocking. It reports false when rec was dropped
// (queue full, or the recorder closed).
func (r *Recorder) Record(rec Record) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.closed {
		select {
		case r.queue <- rec:
			return true
		default:
		}
	}
	r.records.WithLabelValues(resultDropped).Inc()
	r.log.Warn("audit record dropped: queue full or closed", recordAttrs(rec)...)
	return false
}

// Close stops accepting records and waits until every queued record is
// written, or until ctx is done (the records still queued are then written
// by the goroutine in the background as long as the process lives).
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.closed = true
	close(r.queue)
	r.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: drain queue: %w", ctx.Err())
	}
}

// run is the single writer: one insert at a time, in arrival order.
func (r *Recorder) run() {
	defer close(r.done)
	for rec := range r.queue {
		r.write(rec)
	}
}

// write inserts one record, retrying once: a database failover or a lost
// connection fails one insert and the next succeeds. A duplicate id on the
// retry means the first insert was stored and only its answer was lost.
func (r *Recorder) write(rec Record) {
	var err error
	for attempt := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		err = r.sink.Append(ctx, rec)
		cancel()
		if err == nil || (attempt > 0 && errors.Is(err, ErrDuplicate)) {
			r.records.WithLabelValues(resultWritten).Inc()
			return
		}
		if errors.Is(err, ErrDuplicate) {
			break // a fresh UUIDv7 colliding is a bug, not a transient failure
		}
	}
	r.records.WithLabelValues(resultFailed).Inc()
	r.log.Error("audit record not stored", append(recordAttrs(rec), slog.String("error", err.Error()))...)
}

// recordAttrs renders rec for the log, so a record that could not be stored
// is still kept by the log pipeline.
func recordAttrs(rec Record) []any {
	return []any{
		slog.String("audit_id", rec.ID),
		slog.Time("time", rec.Time),
		slog.String("tenant", rec.Tenant),
		slog.String("actor", rec.Actor),
		slog.Any("roles", rec.Roles),
		slog.String("action", rec.Action),
		slog.String("resource_type", rec.Resource.Type),
		slog.String("resource_id", rec.Resource.ID),
		slog.String("outcome", string(rec.Outcome)),
		slog.Int("status", rec.Status),
		slog.String("request_id", rec.RequestID),
		slog.String("source_addr", rec.SourceAddr),
		slog.String("peer_addr", rec.PeerAddr),
	}
}
