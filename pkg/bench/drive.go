package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/client"
)

// assessmentTimeout bounds one assessment from POST to completed event.
const assessmentTimeout = 5 * time.Minute

// driver submits assessments through the public API and follows each over
// its event stream, as a user's client does.
type driver struct {
	sys  System
	body []byte
	http *http.Client

	mu      sync.Mutex
	clients map[string]*client.Client
	// sink, when the system's spans reach the benchmark, is where the
	// traced samples' spans go.
	sink *spanSink
}

func newDriver(sys System, body []byte) *driver {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every in-flight assessment holds an event stream and posts the next
	// one: keep enough connections alive for the highest level.
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	d := &driver{sys: sys, body: body, http: &http.Client{Transport: traceHeaders{tr}}, clients: map[string]*client.Client{}}
	if ts, ok := sys.(tracedSystem); ok {
		d.sink = ts.spanSink()
	}
	return d
}

func (d *driver) close() { d.http.CloseIdleConnections() }

// client is tenant's API client (one user per tenant).
func (d *driver) client(tenant string) (*client.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clients[tenant]; ok {
		return c, nil
	}
	tok, err := d.sys.Token(tenant)
	if err != nil {
		return nil, err
	}
	c, err := client.New(d.sys.BaseURL(), tok, d.http)
	if err != nil {
		return nil, err
	}
	d.clients[tenant] = c
	return c, nil
}

// outcome is one assessment as the client saw it.
type outcome struct {
	ID      string
	Status  string // the completed event's status: completed, partial, failed
	Took    time.Duration
	Done    time.Time
	Retries int // answers 429 or 503 before the POST was accepted
	Err     error
	// Trace is the assessment's trace when it was followed; Posted when
	// the accepted POST was sent.
	Trace  trace.TraceID
	Posted time.Time
}

// one submits an assessment for tenant and waits for its completed event.
// Took runs from the accepted POST to the completed event; refused POSTs
// (429 or 503, the gateway's admission control) are retried after a pause
// and counted.
func (d *driver) one(ctx context.Context, tenant string) outcome {
	return d.run(ctx, tenant, false)
}

// run is one, and with traced (and a system whose spans reach the
// benchmark) the assessment's spans are kept: the POST carries a trace the
// gateway and every service after it join.
func (d *driver) run(ctx context.Context, tenant string, traced bool) outcome {
	c, err := d.client(tenant)
	if err != nil {
		return outcome{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, assessmentTimeout)
	defer cancel()
	var o outcome
	if traced && d.sink != nil {
		o.Trace = newTraceID()
		d.sink.follow(o.Trace)
		ctx = withTrace(ctx, o.Trace)
	}
	pause := 100 * time.Millisecond
	var start time.Time
	for {
		start = time.Now()
		acc, err := c.Submit(ctx, d.body, "application/yaml")
		if err == nil {
			o.ID, o.Posted = acc.ID, start
			break
		}
		var p *client.Problem
		if !errors.As(err, &p) || (p.Status != http.StatusTooManyRequests && p.Status != http.StatusServiceUnavailable) {
			o.Err = fmt.Errorf("submit: %w", err)
			return o
		}
		o.Retries++
		select {
		case <-ctx.Done():
			o.Err = fmt.Errorf("submit: still refused after %d tries: %w", o.Retries, err)
			return o
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
	err = c.Events(ctx, o.ID, 0, func(e client.Event) error {
		if e.Type != "completed" {
			return nil
		}
		o.Took, o.Done = time.Since(start), time.Now()
		var ev struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(e.Data, &ev) == nil {
			o.Status = ev.Status
		}
		return nil
	})
	if err != nil {
		o.Err = fmt.Errorf("follow %s: %w", o.ID, err)
	} else if o.Done.IsZero() {
		o.Err = fmt.Errorf("follow %s: the stream ended without a completed event", o.ID)
	}
	return o
}

// Latency is a one-at-a-time run: POST to completed event.
type Latency struct {
	N        int
	P50, P99 time.Duration
	Mean     time.Duration
	Max      time.Duration
	// NotCompleted counts assessments that ended partial or failed, or
	// whose stream broke; they are left out of the percentiles.
	NotCompleted int
	Errors       []string
	// BudgetSpent: the run stopped before its samples because its time budget was spent.
	BudgetSpent bool
	// traced are the completed samples whose spans were followed.
	traced []tracedSample
}

// sequential runs n assessments one after another for tenant, or as many
// as budget allows (Latency.N says how many ran; BudgetSpent that it stopped early).
func (d *driver) sequential(ctx context.Context, tenant string, n int, budget time.Duration, traced bool) Latency {
	lat := make([]time.Duration, 0, n)
	var l Latency
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			break
		}
		if budget > 0 && time.Since(start) > budget {
			l.BudgetSpent = true
			break
		}
		o := d.run(ctx, tenant, traced)
		l.N++
		if o.Err != nil || o.Status != "completed" {
			l.NotCompleted++
			l.Errors = appendErr(l.Errors, o)
			continue
		}
		lat = append(lat, o.Took)
		if o.Trace.IsValid() {
			l.traced = append(l.traced, tracedSample{trace: o.Trace, posted: o.Posted, got: o.Done})
		}
	}
	slices.Sort(lat)
	l.P50, l.P99 = percentile(lat, 50), percentile(lat, 99)
	if len(lat) > 0 {
		var sum time.Duration
		for _, x := range lat {
			sum += x
		}
		l.Mean, l.Max = sum/time.Duration(len(lat)), lat[len(lat)-1]
	}
	return l
}

// Sustained is a run with a fixed number of assessments in flight.
type Sustained struct {
	InFlight int
	N        int
	// PerSecond is read over the middle half of the completions (from the
	// N/4-th to the 3N/4-th), when every slot is busy: the ramp-up and the
	// drain at the end are left out.
	PerSecond    float64
	P50, P99     time.Duration
	NotCompleted int
	Retries      int
	Took         time.Duration
	Errors       []string
	// BudgetSpent: fewer than the planned assessments were submitted because the time budget was spent.
	BudgetSpent bool
}

// concurrent keeps inFlight assessments in flight until n have been
// submitted or budget is spent; worker i uses tenant(i), so per-tenant caps
// (event streams, active assessments) do not throttle the run.
func (d *driver) concurrent(ctx context.Context, inFlight, n int, tenant func(int) string, budget time.Duration) Sustained {
	s := Sustained{InFlight: inFlight, N: n}
	jobs := make(chan struct{})
	out := make(chan outcome, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range inFlight {
		wg.Go(func() {
			for range jobs {
				out <- d.one(ctx, tenant(w))
			}
		})
	}
	submitted := 0
	for range n {
		if ctx.Err() != nil {
			break
		}
		if budget > 0 && time.Since(start) > budget {
			s.BudgetSpent = true
			break
		}
		jobs <- struct{}{}
		submitted++
	}
	close(jobs)
	s.N = submitted
	wg.Wait()
	close(out)
	s.Took = time.Since(start)
	var done []time.Time
	var lat []time.Duration
	for o := range out {
		s.Retries += o.Retries
		if o.Err != nil || o.Status != "completed" {
			s.NotCompleted++
			s.Errors = appendErr(s.Errors, o)
			continue
		}
		done = append(done, o.Done)
		lat = append(lat, o.Took)
	}
	slices.SortFunc(done, func(a, b time.Time) int { return a.Compare(b) })
	slices.Sort(lat)
	s.P50, s.P99 = percentile(lat, 50), percentile(lat, 99)
	if k1, k2 := len(done)/4, 3*len(done)/4; k2 > k1 && done[k2-1].After(done[k1]) {
		s.PerSecond = float64(k2-1-k1) / done[k2-1].Sub(done[k1]).Seconds()
	}
	return s
}

// appendErr keeps the first few distinct failures for the report.
func appendErr(errs []string, o outcome) []string {
	msg := "status " + o.Status
	if o.Err != nil {
		msg = o.Err.Error()
	}
	if len(errs) >= 5 || slices.Contains(errs, msg) {
		return errs
	}
	return append(errs, msg)
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[min(i, len(sorted)-1)]
}
