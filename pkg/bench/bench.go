// Package bench measures the whole pipeline the way people run it: one
// assessment at a time (latency percentiles over many samples), many in
// flight (sustained assessments per second), and after preloading stored
// assessments (does latency grow with the data?), each next to the bound
// the infrastructure allows, measured in the same run: the raw JetStream
// publish+consume rate and the store's key-lookup and insert rates, divided
// by the messages and store commands one assessment costs (counted at the
// edges: JetStream's stream and consumer state, and the services'
// store_commands_total). It profiles the services under load (pprof CPU
// and block) and prints a markdown table. `infra-mind bench` runs it;
// `make bench` runs that against both deployments.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Config says what to measure and how much.
type Config struct {
	// Request is the assessment request body (YAML) every run submits.
	Request []byte
	// Samples is the number of one-at-a-time assessments (latency percentiles).
	Samples int
	// InFlight are the concurrency levels of the sustained runs.
	InFlight []int
	// PerLevel is the number of assessments each sustained run submits;
	// 0 means 4 x the level, the fewest for which the middle half of the
	// completions (what the rate is read over) has every slot busy; at
	// ProfileAt, at least enough to outlast ProfileFor at the fastest rate
	// measured before it.
	PerLevel int
	// Preload are the numbers of stored assessments latency is measured
	// after (0 is the one-at-a-time run itself).
	Preload []int
	// PreloadFieldLimit, when above 0, cuts every string and binary field
	// of the preloaded copies to that many bytes (the request, the
	// compressed report body): the same documents and keys in a fraction of
	// the space. 0 stores full copies.
	PreloadFieldLimit int
	// PhaseBudget bounds each one-at-a-time run, SustainedBudget each
	// sustained run's submissions (the assessments in flight then finish);
	// a run that spends its budget stops early and says so (0: no bound).
	PhaseBudget     time.Duration
	SustainedBudget time.Duration
	// TracedSamples is the number of one-at-a-time assessments followed by
	// tracing after the latency run, for the breakdown of where the time
	// goes (0: none). They are a run of their own: a followed trace costs
	// the services its spans, which the latency percentiles would count.
	TracedSamples int
	// PreloadSamples is the number of one-at-a-time assessments per preload level.
	PreloadSamples int
	// BaselineMessages is how many messages the raw JetStream baseline moves.
	BaselineMessages int
	// StoreOps is how many inserts and key lookups the store baseline makes.
	StoreOps int
	// ProfileAt is the sustained level the services are profiled at, for ProfileFor.
	ProfileAt   int
	ProfileFor  time.Duration
	OutDir      string
	Deployments []Deployment
	// Log receives progress lines; the table goes to Out.
	Log io.Writer
	Out io.Writer
}

// Deployment starts one deployment of the system. Start returns it running;
// its Close stops it.
type Deployment interface {
	Name() string
	Start(ctx context.Context, dir string) (System, error)
}

// System is a running deployment under test.
type System interface {
	// BaseURL is the gateway's API root.
	BaseURL() string
	NATSURL() string
	// NATSOptions are how the services reach the broker beyond its URL (the
	// embedded deployment's in-memory pipe), for the raw JetStream baseline
	// to travel the same way.
	NATSOptions() []nats.Option
	MongoURI() string
	MongoDatabase() string
	// Token signs a bearer token for a user of tenant.
	Token(tenant string) (string, error)
	// StoreCommands are the store commands sent so far by every process, by name.
	StoreCommands(ctx context.Context) (map[string]float64, error)
	// Profile records CPU and block profiles of each service for d and
	// writes them under dir, returning the files written.
	Profile(ctx context.Context, d time.Duration, dir string) ([]ProfileFile, error)
	// Describe says in a few words what runs where (for the table's notes).
	Describe() string
	Close(ctx context.Context) error
}

// ProfileFile is one profile written by System.Profile.
type ProfileFile struct {
	Service string
	Kind    string // cpu or block
	Path    string
}

// Run measures every deployment in turn and writes the table to cfg.Out.
// It returns the results even when a deployment fails part-way, with the
// error.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.OutDir, 0o750); err != nil {
		return nil, fmt.Errorf("bench: output folder: %w", err)
	}
	var (
		results []Result
		errs    []error
	)
	for _, d := range cfg.Deployments {
		r, err := measure(ctx, cfg, d)
		results = append(results, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name(), err))
			logf(cfg.Log, "%s: %v", d.Name(), err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	report, rerr := writeReport(cfg, results)
	if rerr != nil {
		errs = append(errs, rerr)
	} else {
		fmt.Fprintf(cfg.Out, "\nprofiles and the full report: %s\n", report)
	}
	return results, errors.Join(errs...)
}

func (c *Config) validate() error {
	switch {
	case len(c.Request) == 0:
		return errors.New("bench: no request body")
	case c.Samples < 2:
		return errors.New("bench: samples must be at least 2")
	case c.TracedSamples < 0:
		return errors.New("bench: traced samples must not be negative")
	case c.PreloadSamples < 2:
		return errors.New("bench: preload samples must be at least 2")
	case len(c.Deployments) == 0:
		return errors.New("bench: no deployment to measure")
	case c.OutDir == "":
		return errors.New("bench: no output folder")
	}
	for _, n := range c.InFlight {
		if n < 1 {
			return fmt.Errorf("bench: in-flight level %d is below 1", n)
		}
	}
	for _, n := range c.Preload {
		if n < 0 {
			return fmt.Errorf("bench: preload level %d is negative", n)
		}
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	c.Preload = slices.Sorted(slices.Values(c.Preload))
	c.Preload = slices.Compact(c.Preload)
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s  %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// deploymentDir is where a deployment's data and profiles go.
func deploymentDir(cfg Config, d Deployment) string { return filepath.Join(cfg.OutDir, d.Name()) }
