package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/infra-mind/infra-mind/pkg/bench"
)

// runBench measures the pipeline (see pkg/bench): `make bench` runs it on
// the embedded deployment and on the services as separate processes
// against the integration harness's servers.
func runBench(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("bench", io)
	request := fs.String("request", "examples/startup-rag.yaml", "assessment request every run submits")
	samples := fs.Int("samples", 200, "assessments one at a time (latency percentiles)")
	inFlight := fs.String("in-flight", "8,32,128", "concurrency levels of the sustained runs")
	perLevel := fs.Int("per-level", 0, "assessments per sustained run; 0: 4 x the level, so the middle half it is read over has every slot busy, and at the profiled level at least enough to outlast the profile at the fastest rate seen")
	preload := fs.String("preload", "0,10000,100000", "stored assessments latency is measured after (0 is the one-at-a-time run)")
	fieldLimit := fs.Int("preload-field-limit", 0, "cut each string and binary field of the preloaded copies (the compressed report body among them) to this many bytes (0: full copies)")
	budget := fs.Duration("phase-budget", 10*time.Minute, "time bound of each one-at-a-time run (0: none); a run that spends it stops early and the table says so")
	sustainedBudget := fs.Duration("sustained-budget", 10*time.Minute, "time bound of each sustained run's submissions (0: none); the assessments in flight then finish")
	tracedSamples := fs.Int("traced-samples", 100, "assessments one at a time followed by tracing after the latency run, for where the time goes (0: none); the latency run itself is not traced, as people's requests are not")
	preloadSamples := fs.Int("preload-samples", 50, "assessments one at a time after each preload")
	baselineMsgs := fs.Int("baseline-messages", 20000, "messages the raw JetStream baseline moves")
	storeOps := fs.Int("store-ops", 2000, "inserts and key lookups the store baseline makes")
	profileAt := fs.Int("profile-at", 32, "sustained level the services are profiled at")
	profileFor := fs.Duration("profile-for", 10*time.Second, "how long each CPU and block profile records; 0 turns profiling off")
	out := fs.String("out", ".bench", "folder for the report, profiles, logs and the embedded deployment's data")
	deployments := fs.String("deployments", "embedded,processes", "which deployments to measure: embedded (all in this process on embedded servers), processes (each service its own binary on external servers)")
	binDir := fs.String("bin-dir", "bin", "folder of the service binaries (make build), for processes")
	natsURL := fs.String("nats-url", envOr(io.Env, "IM_TEST_NATS_URL", ""), "NATS server for processes")
	mongoURI := fs.String("mongo-uri", envOr(io.Env, "IM_TEST_MONGO_URI", ""), "MongoDB-protocol store for processes")
	mongoDB := fs.String("mongo-database", "inframind_bench", "database for processes")
	redisURL := fs.String("redis-url", envOr(io.Env, "IM_TEST_REDIS_URL", ""), "Redis for processes")
	servers := fs.String("servers", "external servers", "what the processes' servers are, for the table")
	if err := parse(fs, args); err != nil {
		return err
	}
	body, err := os.ReadFile(*request)
	if err != nil {
		return usageError{fmt.Errorf("--request: %w", err)}
	}
	levels, err := intList(*inFlight)
	if err != nil {
		return usageError{fmt.Errorf("--in-flight: %w", err)}
	}
	sizes, err := intList(*preload)
	if err != nil {
		return usageError{fmt.Errorf("--preload: %w", err)}
	}
	cfg := bench.Config{
		Request: body, Samples: *samples, TracedSamples: *tracedSamples, InFlight: levels, PerLevel: *perLevel, Preload: sizes,
		PreloadSamples: *preloadSamples, PreloadFieldLimit: *fieldLimit, PhaseBudget: *budget, SustainedBudget: *sustainedBudget, BaselineMessages: *baselineMsgs, StoreOps: *storeOps,
		ProfileAt: *profileAt, ProfileFor: *profileFor, OutDir: *out, Log: io.Stderr, Out: io.Stdout,
	}
	for d := range strings.SplitSeq(*deployments, ",") {
		switch strings.TrimSpace(d) {
		case "embedded":
			cfg.Deployments = append(cfg.Deployments, bench.Embedded{})
		case "processes":
			if *natsURL == "" || *mongoURI == "" || *redisURL == "" {
				return usageError{fmt.Errorf("processes need --nats-url, --mongo-uri and --redis-url (make bench gets them from scripts/integration.sh)")}
			}
			cfg.Deployments = append(cfg.Deployments, bench.Processes{
				BinDir: *binDir, NATSURL: *natsURL, MongoURI: *mongoURI, MongoDatabase: *mongoDB, Redis: *redisURL, Label: *servers,
			})
		default:
			return usageError{fmt.Errorf("--deployments: unknown deployment %q (embedded, processes)", d)}
		}
	}
	_, err = bench.Run(ctx, cfg)
	return err
}

// intList parses "8,32,128".
func intList(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a whole number of at least 0", part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no value in %q", s)
	}
	return out, nil
}
