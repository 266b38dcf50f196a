package bench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"
)

// Result is everything measured on one deployment.
type Result struct {
	Deployment string
	Describe   string
	Started    time.Time
	Took       time.Duration
	Baseline   Baseline
	Counts     Counts
	Single     Latency
	// Traced is a one-at-a-time run of its own whose assessments are
	// followed by tracing; Breakdown is where their time went, from the
	// services' spans.
	Traced    Latency
	Breakdown []Step
	Sustained []Sustained
	Preloaded []PreloadResult
	Profiles  []ProfileSummary
	// ProfiledAt is the sustained level the profiles were taken at.
	ProfiledAt int
	Notes      []string
}

// Bounds are the assessments per second the infrastructure allows, from
// the baselines and the per-assessment counts of the same run.
type Bounds struct {
	// Bus is the raw JetStream rate over the publish+consume pairs one
	// assessment costs; Store is the store's time for one assessment's
	// reads at the key-lookup rate and writes at the insert rate, inverted.
	Bus, Store float64
}

// Bounds computes the bounds (0 where a figure is missing).
func (r Result) Bounds() Bounds {
	var b Bounds
	if m := r.Counts.Messages(); m > 0 {
		b.Bus = r.Baseline.JetStreamPerSecond / m
	}
	var perAssessment float64
	if r.Baseline.LookupsPerSecond > 0 {
		perAssessment += r.Counts.Reads / r.Baseline.LookupsPerSecond
	}
	if r.Baseline.InsertsPerSecond > 0 {
		perAssessment += r.Counts.Writes / r.Baseline.InsertsPerSecond
	}
	if perAssessment > 0 {
		b.Store = 1 / perAssessment
	}
	return b
}

// Bound is the lower of the two bounds: the infrastructure's limit.
func (b Bounds) Bound() float64 {
	switch {
	case b.Bus == 0:
		return b.Store
	case b.Store == 0:
		return b.Bus
	default:
		return min(b.Bus, b.Store)
	}
}

// tenants: one-at-a-time runs and the preload use soloTenant; worker i of
// a sustained run uses its own tenant.
const soloTenant = "bench-solo"

func workerTenant(level int) func(int) string {
	return func(i int) string { return fmt.Sprintf("bench-%d-%d", level, i) }
}

// measure runs every measurement on one deployment.
func measure(ctx context.Context, cfg Config, d Deployment) (res Result, err error) {
	res = Result{Deployment: d.Name(), Started: time.Now().UTC()}
	defer func() { res.Took = time.Since(res.Started) }()
	dir := deploymentDir(cfg, d)
	logf(cfg.Log, "%s: starting", d.Name())
	sys, err := d.Start(ctx, dir)
	if err != nil {
		return res, fmt.Errorf("start: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := sys.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("stop: %w", cerr)
		}
	}()
	res.Describe = sys.Describe()
	drv := newDriver(sys, cfg.Request)
	defer drv.close()

	// Warm-up: streams, consumers, indexes, connections; the first
	// assessment is also the template the preload copies.
	warm := drv.one(ctx, soloTenant)
	if warm.Err != nil || warm.Status != "completed" {
		return res, fmt.Errorf("warm-up assessment (status %q): %w", warm.Status, warm.Err)
	}
	for range 2 {
		drv.one(ctx, soloTenant)
	}

	logf(cfg.Log, "%s: raw JetStream baseline (%d messages)", d.Name(), cfg.BaselineMessages)
	if res.Baseline.JetStreamPerSecond, err = jetStreamRate(ctx, sys.NATSURL(), sys.NATSOptions(), cfg.BaselineMessages); err != nil {
		return res, fmt.Errorf("JetStream baseline: %w", err)
	}
	logf(cfg.Log, "%s: store baseline (%d inserts, %d key lookups)", d.Name(), cfg.StoreOps, cfg.StoreOps)
	if res.Baseline.LookupsPerSecond, res.Baseline.InsertsPerSecond, err = storeRates(ctx, sys.MongoURI(), sys.MongoDatabase(), cfg.StoreOps); err != nil {
		return res, fmt.Errorf("store baseline: %w", err)
	}

	logf(cfg.Log, "%s: %d assessments one at a time", d.Name(), cfg.Samples)
	before, err := takeSnapshot(ctx, sys.NATSURL(), sys)
	if err != nil {
		return res, err
	}
	res.Single = drv.sequential(ctx, soloTenant, cfg.Samples, cfg.PhaseBudget, false)
	after, err := takeSnapshot(ctx, sys.NATSURL(), sys)
	if err != nil {
		return res, err
	}
	res.Counts = countsBetween(before, after, res.Single.N)
	if drv.sink != nil && cfg.TracedSamples > 0 {
		logf(cfg.Log, "%s: %d assessments one at a time, followed by tracing", d.Name(), cfg.TracedSamples)
		res.Traced = drv.sequential(ctx, soloTenant, cfg.TracedSamples, cfg.PhaseBudget, true)
		waitForSpans(ctx, drv.sink, res.Traced.traced, spanWait)
		res.Breakdown = breakdown(drv.sink, res.Traced.traced)
	}
	logf(cfg.Log, "%s: p50 %s p99 %s; per assessment %.1f messages stored, %.1f delivered, %.1f store reads, %.1f writes",
		d.Name(), ms(res.Single.P50), ms(res.Single.P99), res.Counts.Published, res.Counts.Delivered, res.Counts.Reads, res.Counts.Writes)

	var fastest float64 // the best sustained rate so far, assessments/s
	for _, level := range cfg.InFlight {
		n := cfg.PerLevel
		if n <= 0 {
			n = 4 * level
			if level == cfg.ProfileAt {
				n = max(n, profiledRunSize(fastest, cfg.ProfileFor))
			}
		}
		logf(cfg.Log, "%s: %d assessments with %d in flight", d.Name(), n, level)
		var profiled chan error
		if level == cfg.ProfileAt && cfg.ProfileFor > 0 {
			profiled = make(chan error, 1)
			go func() {
				files, perr := sys.Profile(ctx, cfg.ProfileFor, filepath.Join(dir, "profiles"))
				if perr == nil {
					res.Profiles, perr = summarise(ctx, files)
				}
				profiled <- perr
			}()
		}
		s := drv.concurrent(ctx, level, n, workerTenant(level), cfg.SustainedBudget)
		res.Sustained = append(res.Sustained, s)
		fastest = max(fastest, s.PerSecond)
		logf(cfg.Log, "%s: %.2f assessments/s, %d not completed, %d refused and retried", d.Name(), s.PerSecond, s.NotCompleted, s.Retries)
		if profiled != nil {
			if perr := <-profiled; perr != nil {
				res.Notes = append(res.Notes, "profiles: "+perr.Error())
			}
			res.ProfiledAt = level
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}

	res.Preloaded = append(res.Preloaded, PreloadResult{Latency: res.Single})
	var pre *preloader
	for _, level := range cfg.Preload {
		if level == 0 {
			continue
		}
		if pre == nil {
			if pre, err = newPreloader(ctx, sys.NATSURL(), sys.MongoURI(), sys.MongoDatabase(), soloTenant, warm.ID); err != nil {
				return res, fmt.Errorf("preload: %w", err)
			}
			defer pre.close(ctx)
		}
		add := level - pre.stored
		logf(cfg.Log, "%s: preloading %d stored assessments (%d documents each)", d.Name(), add, len(pre.docs))
		start := time.Now()
		docs, err := pre.load(ctx, add, cfg.PreloadFieldLimit, cfg.Log)
		pr := PreloadResult{Stored: level, Added: add, Docs: docs, LoadFor: time.Since(start)}
		if err != nil {
			res.Preloaded = append(res.Preloaded, pr)
			return res, fmt.Errorf("preload: %w", err)
		}
		logf(cfg.Log, "%s: preloaded %d documents in %s; %d assessments one at a time", d.Name(), docs, pr.LoadFor.Round(time.Second), cfg.PreloadSamples)
		pr.Latency = drv.sequential(ctx, soloTenant, cfg.PreloadSamples, cfg.PhaseBudget, false)
		res.Preloaded = append(res.Preloaded, pr)
		logf(cfg.Log, "%s: after %d stored: p50 %s p99 %s", d.Name(), level, ms(pr.Latency.P50), ms(pr.Latency.P99))
	}
	if pre != nil {
		res.Notes = append(res.Notes, pre.Notes...)
	}
	return res, ctx.Err()
}

// spanWait bounds the wait for the traced samples' spans: services in
// their own processes export them in batches every few seconds.
const spanWait = 15 * time.Second

// ms formats a duration in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// profiledRunSize is how many assessments the profiled sustained run
// submits so that its load outlasts the profile: the profile's length at
// the fastest rate measured so far, and a quarter more, since a level with
// more in flight may not run faster. Without a rate yet (the profiled level
// comes first) it is 0 and the run keeps its usual size.
func profiledRunSize(fastest float64, profile time.Duration) int {
	if fastest <= 0 || profile <= 0 {
		return 0
	}
	return int(math.Ceil(fastest * profile.Seconds() * 1.25))
}
