package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
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
	// enough to ride out a slow insert or a failover without refusing any.
	DefaultBuffer = 4096
	// DefaultWriteTimeout bounds one insert, so a hung database cannot stall
	// the writer forever; a timed-out insert is retried.
	DefaultWriteTimeout = 5 * time.Second
	// DefaultRetryInitial and DefaultRetryCap bound the backoff between retries
	// of a failed insert (exponential, with jitter).
	DefaultRetryInitial = 50 * time.Millisecond
	DefaultRetryCap     = 5 * time.Second
)

// Results counted by the records metric.
const (
	resultWritten = "written"
	resultRetried = "retried"
	resultRefused = "refused"
	resultFailed  = "failed"
)

// Options tunes a Recorder. Zero values take the defaults.
type Options struct {
	Buffer       int           // records queued or reserved at once (DefaultBuffer)
	WriteTimeout time.Duration // bound on one insert (DefaultWriteTimeout)
	RetryInitial time.Duration // first backoff after a failed insert (DefaultRetryInitial)
	RetryCap     time.Duration // longest backoff between retries (DefaultRetryCap)
	Logger       *slog.Logger  // nil discards
	// Registry receives the inframind_audit_records_total counter; nil
	// keeps it unregistered.
	Registry prometheus.Registerer
}

// Recorder queues records in a bounded queue drained by one writer
// goroutine, which retries a failed insert with backoff until it is stored.
//
// A record is never dropped while the process lives: a caller reserves a
// place before it acts (Reserve) and is refused when the queue is full, so
// the gateway fails closed (503) before a request does anything it could not
// record. The queue only fills when the database is slow or down for longer
// than the buffer covers; refusals are counted in
// inframind_audit_records_total{result="refused"} (alert on it). Close stops
// reservations and drains the queue, still retrying, until its context
// ends; only a record still unstored then is lost to the database, and it is
// written in full to the error log and counted as failed.
type Recorder struct {
	sink         Appender
	log          *slog.Logger
	timeout      time.Duration
	retryInitial time.Duration
	retryCap     time.Duration
	records      *prometheus.CounterVec

	// mu guards closed and abandoned: Reserve and Commit hold it shared,
	// Close exclusively while it changes them.
	mu sync.RWMutex
	// closed: no new reservation. abandoned: the drain gave up, so a late
	// commit is logged instead of queued.
	closed, abandoned bool
	// slots holds one token per reservation not yet stored or cancelled;
	// its capacity is the bound. queue has the same capacity, so a commit
	// never blocks.
	slots chan struct{}
	queue chan Record
	// pending counts reservations not yet stored or cancelled; Close waits
	// for it.
	pending sync.WaitGroup
	// stop ends the writer: cancelled when the drain finishes or gives up.
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}
}

// Reservation is a place in the queue for one record, taken before the
// action it records. Exactly one of Commit or Cancel must be called.
type Reservation struct {
	r    *Recorder
	once sync.Once
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
	if opt.RetryInitial <= 0 {
		opt.RetryInitial = DefaultRetryInitial
	}
	if opt.RetryCap < opt.RetryInitial {
		opt.RetryCap = max(DefaultRetryCap, opt.RetryInitial)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "inframind",
		Subsystem: "audit",
		Name:      "records_total",
		Help: "Audit records by result: written, retried (an insert failed and is tried again), refused (queue full: " +
			"the request was refused with 503) or failed (not stored when the drain at shutdown gave up; logged in full).",
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
		sink:         sink,
		log:          opt.Logger,
		timeout:      opt.WriteTimeout,
		retryInitial: opt.RetryInitial,
		retryCap:     opt.RetryCap,
		records:      counter,
		slots:        make(chan struct{}, opt.Buffer),
		queue:        make(chan Record, opt.Buffer),
		done:         make(chan struct{}),
	}
	r.ctx, r.stop = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

// Reserve takes a place in the queue for one record, or returns nil when
// the queue is full or the recorder closed: the caller must then not
// perform the action it would record.
func (r *Recorder) Reserve() *Reservation {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.records.WithLabelValues(resultRefused).Inc()
		return nil
	}
	select {
	case r.slots <- struct{}{}:
		r.pending.Add(1)
		return &Reservation{r: r}
	default:
		r.records.WithLabelValues(resultRefused).Inc()
		return nil
	}
}

// Commit queues rec in the reserved place; it never blocks.
func (v *Reservation) Commit(rec Record) {
	v.once.Do(func() {
		r := v.r
		r.mu.RLock()
		defer r.mu.RUnlock()
		if r.abandoned {
			// The drain gave up and the writer stopped: keep the record in
			// the log pipeline at least.
			r.lost(rec, errors.New("recorder closed before the record was queued"))
			r.release()
			return
		}
		r.queue <- rec
	})
}

// Cancel gives the reserved place back without a record.
func (v *Reservation) Cancel() { v.once.Do(v.r.release) }

// release frees one reservation.
func (r *Recorder) release() {
	<-r.slots
	r.pending.Done()
}

// Record reserves a place and queues rec at once. It reports false, and
// logs the record in full, when the queue is full or the recorder closed;
// callers that can refuse the action instead use Reserve first.
func (r *Recorder) Record(rec Record) bool {
	v := r.Reserve()
	if v == nil {
		r.log.Error("audit record not queued: queue full or closed", recordAttrs(rec)...)
		return false
	}
	v.Commit(rec)
	return true
}

// Close stops reservations and waits until every reserved record is
// stored, retrying failed inserts, or until ctx is done. Then the records
// still queued are written in full to the error log, counted as failed, and
// an error is returned.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.closed = true
	r.mu.Unlock()
	drained := make(chan struct{})
	go func() {
		r.pending.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("audit: drain queue: %w", ctx.Err())
	}
	r.mu.Lock()
	r.abandoned = true
	r.mu.Unlock()
	r.stop()
	<-r.done
	// The writer has stopped: whatever is still queued will not be stored.
	for {
		select {
		case rec := <-r.queue:
			r.lost(rec, err)
			r.release()
		default:
			return err
		}
	}
}

// run is the single writer: one insert at a time, in arrival order.
func (r *Recorder) run() {
	defer close(r.done)
	for {
		select {
		case <-r.ctx.Done():
			return
		case rec := <-r.queue:
			if err := r.write(rec); err != nil {
				r.lost(rec, err)
			}
			r.release()
		}
	}
}

// write inserts one record, retrying with exponential backoff until it is
// stored or the recorder gives up its drain: a database failover, a lost
// connection or an insert timed out under a burst fails an attempt and a
// later one succeeds. A duplicate id on a retry means an earlier attempt was
// stored and only its answer was lost.
func (r *Recorder) write(rec Record) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval = r.retryInitial, r.retryCap
	attempt := 0
	_, err := backoff.Retry(r.ctx, func() (struct{}, error) {
		attempt++
		ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
		err := r.sink.Append(ctx, rec)
		cancel()
		switch {
		case err == nil, attempt > 1 && errors.Is(err, ErrDuplicate):
			return struct{}{}, nil
		case errors.Is(err, ErrDuplicate):
			// A fresh UUIDv7 colliding is a bug, not a transient failure.
			return struct{}{}, backoff.Permanent(err)
		}
		r.records.WithLabelValues(resultRetried).Inc()
		r.log.Warn("audit insert failed, retrying", slog.String("audit_id", rec.ID),
			slog.Int("attempt", attempt), slog.String("error", err.Error()))
		return struct{}{}, err
	}, backoff.WithBackOff(bo), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return err
	}
	r.records.WithLabelValues(resultWritten).Inc()
	return nil
}

// lost records that rec will not reach the database: counted, and written
// in full to the log so the log pipeline keeps the trail.
func (r *Recorder) lost(rec Record, cause error) {
	r.records.WithLabelValues(resultFailed).Inc()
	msg := "unknown"
	if cause != nil {
		msg = cause.Error()
	}
	r.log.Error("audit record not stored", append(recordAttrs(rec), slog.String("error", msg))...)
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
