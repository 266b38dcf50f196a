package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, ms(i))
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{name: "empty", in: nil, p: 50, want: 0},
		{name: "one sample", in: []time.Duration{ms(7)}, p: 99, want: ms(7)},
		{name: "p50 of 200", in: lat, p: 50, want: ms(100)},
		{name: "p99 of 200 is the 198th", in: lat, p: 99, want: ms(198)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, percentile(tt.in, tt.p))
		})
	}
}

// Counts are growth between two snapshots divided by the assessments, with
// store commands sorted into reads, writes and the rest.
func TestCountsBetweenSnapshots(t *testing.T) {
	t.Parallel()
	a := snapshot{
		streams:   map[string]uint64{"RESULTS": 100, "EVENTS": 50},
		consumers: map[string]uint64{"RESULTS/synthesizer": 100, "ASSESSMENTS/cloud": 10},
		api:       40,
		store:     map[string]float64{"find": 10, "insert": 5, "hello": 3},
	}
	b := snapshot{
		streams:   map[string]uint64{"RESULTS": 112, "EVENTS": 66, "ASSESSMENTS": 2},
		consumers: map[string]uint64{"RESULTS/synthesizer": 112, "ASSESSMENTS/cloud": 12, "EVENTS/new": 4},
		api:       44,
		store:     map[string]float64{"find": 18, "insert": 9, "update": 4, "findAndModify": 2, "hello": 5},
	}
	c := countsBetween(a, b, 2)
	require.InDelta(t, 15.0, c.Published, 1e-9) // (12+16+2)/2
	require.InDelta(t, 9.0, c.Delivered, 1e-9)  // (12+2+4)/2
	require.InDelta(t, 12.0, c.Messages(), 1e-9)
	require.InDelta(t, 2.0, c.APIRequests, 1e-9)
	require.InDelta(t, 4.0, c.Reads, 1e-9)
	require.InDelta(t, 5.0, c.Writes, 1e-9) // insert 2 + update 2 + findAndModify 1
	require.InDelta(t, 1.0, c.Other, 1e-9)
	require.Equal(t, "find 4.0, insert 2.0, update 2.0, findAndModify 1.0, hello 1.0", c.commandList())
}

func TestBoundsAreTheLowerOfBusAndStore(t *testing.T) {
	t.Parallel()
	r := Result{
		Baseline: Baseline{JetStreamPerSecond: 10000, LookupsPerSecond: 2000, InsertsPerSecond: 1000},
		Counts:   Counts{Published: 16, Delivered: 12, Reads: 20, Writes: 10},
	}
	b := r.Bounds()
	require.InDelta(t, 10000.0/14, b.Bus, 1e-9)
	require.InDelta(t, 1/(20.0/2000+10.0/1000), b.Store, 1e-9) // 50 assessments/s
	require.InDelta(t, 50.0, b.Bound(), 1e-9)
}

// A copy of a stored document gets the _id the store would give the new
// assessment, and names it wherever the original named the template.
func TestCloneRekeysLikeTheStore(t *testing.T) {
	t.Parallel()
	p := &preloader{tenant: "acme"}
	tests := []struct {
		name  string
		id    string
		newID func(string) string
	}{
		{name: "tenant/assessment key", id: "acme/a-1", newID: func(n string) string { return "acme/" + n }},
		{name: "hashed report id", id: assessment.DeterministicID("acme", "a-1"), newID: func(n string) string { return assessment.DeterministicID("acme", n) }},
		{name: "hashed result id", id: assessment.DeterministicID("acme", "a-1", "cloud"), newID: func(n string) string { return assessment.DeterministicID("acme", n, "cloud") }},
		{name: "hashed finish claim", id: assessment.DeterministicID("acme", "a-1", "finish"), newID: func(n string) string { return assessment.DeterministicID("acme", n, "finish") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := bson.D{{Key: "_id", Value: tt.id}, {Key: "tenant_id", Value: "acme"}, {Key: "assessment_id", Value: "a-1"},
				{Key: "body", Value: strings.Repeat("x", 1000)}}
			keyer, err := p.keyer("c", doc, "a-1")
			require.NoError(t, err)
			td := templateDoc{coll: "c", doc: doc, id: keyer}
			got := asMap(td.clone("a-1", "b-2", 0))
			require.Equal(t, tt.newID("b-2"), got["_id"])
			require.Equal(t, "b-2", got["assessment_id"])
			require.Equal(t, "acme", got["tenant_id"])
			require.Len(t, got["body"], 1000)
			require.Len(t, asMap(td.clone("a-1", "b-3", 100))["body"], 100, "a field limit cuts long strings")
		})
	}
}

// The embedded deployment runs end to end at a tiny size: every figure the
// table is built from is measured (none is zero), and the report is written.
func TestRunEmbeddedSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	_, file, _, _ := runtime.Caller(0)
	body, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", "startup-rag.yaml"))
	require.NoError(t, err)
	var out, log strings.Builder
	cfg := Config{
		Request: body, Samples: 3, TracedSamples: 3, InFlight: []int{2}, PerLevel: 4, Preload: []int{0, 20}, PreloadSamples: 2,
		BaselineMessages: 500, StoreOps: 100, ProfileAt: 2, ProfileFor: time.Second, PhaseBudget: time.Minute, SustainedBudget: time.Minute,
		OutDir: t.TempDir(), Deployments: []Deployment{Embedded{}}, Out: &out, Log: &log,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	results, err := Run(ctx, cfg)
	require.NoError(t, err, log.String())
	require.Len(t, results, 1)
	r := results[0]
	require.Equal(t, 3, r.Single.N)
	require.Zero(t, r.Single.NotCompleted, r.Single.Errors)
	require.Positive(t, r.Single.P50)
	require.Positive(t, r.Baseline.JetStreamPerSecond)
	require.Positive(t, r.Baseline.LookupsPerSecond)
	require.Positive(t, r.Baseline.InsertsPerSecond)
	require.Positive(t, r.Counts.Published, "messages stored per assessment")
	require.Positive(t, r.Counts.Delivered, "deliveries per assessment")
	// Every read by key of an assessment comes from the read model (ADR
	// 0030) and its close is an insert (ADR 0040): the store only takes writes.
	require.Zero(t, r.Counts.Reads, "store reads per assessment")
	require.Positive(t, r.Counts.Writes, "store writes per assessment")
	require.Len(t, r.Sustained, 1)
	require.Positive(t, r.Sustained[0].PerSecond)
	require.Len(t, r.Preloaded, 2)
	require.Equal(t, 20, r.Preloaded[1].Stored)
	require.Positive(t, r.Preloaded[1].Docs)
	require.Equal(t, 2, r.Preloaded[1].Latency.N)
	require.Len(t, r.Profiles, 2, "CPU and block profiles")
	require.Contains(t, out.String(), "| sustained, 2 in flight |")
	require.Contains(t, out.String(), "report.md")

	// Where the time went, from the services' spans of the traced run's
	// samples, a run of its own: the latency run's are not followed, so
	// their percentiles count no span's cost. Each service's steps are
	// there, inside the assessment's time, in the order the pipeline runs
	// them.
	require.Empty(t, r.Single.traced, "the latency run is not traced")
	require.Equal(t, 3, r.Traced.N)
	require.Len(t, r.Traced.traced, 3, "every completed sample of the traced run followed")
	require.Contains(t, out.String(), "| one at a time, followed by tracing (the breakdown's samples) |")
	require.Contains(t, out.String(), "embedded, where one assessment's time goes")
	steps := map[string]Step{}
	for _, s := range r.Breakdown {
		steps[s.Name] = s
		require.GreaterOrEqual(t, s.P50, time.Duration(0), s.Name)
		require.LessOrEqual(t, s.P50, r.Traced.Max, "%s takes no longer than a whole assessment", s.Name)
		require.Less(t, s.StartP50, r.Traced.Max, "%s starts within the assessment", s.Name)
		require.Greater(t, s.StartP50, -r.Traced.Max, s.Name)
		require.NotContains(t, s.Name, "close: process", "a consumer of the events the close published is not a step of the close")
	}
	want := []string{
		"whole assessment, as the client timed it", "gateway: " + postSpan,
		"synthesizer, the closing result: waiting in its stream", "synthesizer, the closing result: handler",
		"synthesizer, the closing result: publishing its outputs", "synthesizer, other results: handler",
		"synthesizer close: load results", "synthesizer close: build report", "synthesizer close: store report",
		"synthesizer close: recommendations", "synthesizer close: announce", "completed event to the client (SSE)",
		"synthesizer close: decode result", "synthesizer close: store result", "synthesizer close: mark family",
		"gateway POST: authenticate", "gateway POST: rate limits", "gateway POST: server-set fields",
		"gateway POST: active cap", "gateway POST: parse request", "gateway POST: submit admission",
		"gateway POST: submit schedule deadline", "gateway POST: submit store assessment", "gateway POST: submit enqueue",
		"gateway POST: active cap hold",
	}
	for _, f := range assessment.Families() {
		want = append(want, worker.DurableName(f)+": waiting in its stream", worker.DurableName(f)+": handler",
			worker.DurableName(f)+": publishing its outputs", worker.DurableName(f)+": acknowledging")
	}
	for _, name := range want {
		s, ok := steps[name]
		require.True(t, ok, "no step %q in %v", name, r.Breakdown)
		require.Positive(t, s.N, name)
	}
	require.Equal(t, 3, steps["synthesizer, the closing result: handler"].N, "one closing delivery per assessment")
	require.Equal(t, 15, steps["synthesizer, other results: handler"].N, "five other results per assessment")
	cloud, sim := worker.DurableName(assessment.FamilyCloud), worker.DurableName(assessment.FamilySimulation)
	require.Less(t, steps["gateway: "+postSpan].StartP50, steps[cloud+": handler"].StartP50)
	require.Less(t, steps["gateway POST: authenticate"].StartP50, steps["gateway POST: submit store assessment"].StartP50)
	require.Less(t, steps["gateway POST: submit store assessment"].StartP50, steps["gateway POST: submit enqueue"].StartP50,
		"an assessment is stored before it is queued")
	require.Less(t, steps[cloud+": handler"].StartP50, steps[sim+": handler"].StartP50, "the simulation waits for the cloud family's plan")
	// The close reads the results only once the simulation's is stored. The
	// delivery that closes may have started before the simulation did (a
	// synthesizer handler that was slow to read finds all six when it
	// looks), so its start is not ordered against the simulation's.
	require.Less(t, steps[sim+": handler"].StartP50, steps["synthesizer close: load results"].StartP50)
	require.Less(t, steps["synthesizer close: load results"].StartP50, steps["synthesizer close: announce"].StartP50)
	require.Less(t, steps["synthesizer, the closing result: handler"].StartP50, steps["completed event to the client (SSE)"].StartP50)
}

func asMap(d bson.D) map[string]any {
	m := map[string]any{}
	for _, e := range d {
		m[e.Key] = e.Value
	}
	return m
}

func TestProfiledRunOutlastsTheProfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fastest float64
		profile time.Duration
		want    int
	}{
		{"no rate yet keeps the usual size", 0, 10 * time.Second, 0},
		{"no profile keeps the usual size", 30, 0, 0},
		{"the profile's length at the fastest rate, and a quarter more", 30, 10 * time.Second, 375},
		{"a part of an assessment rounds up", 0.5, 3 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, profiledRunSize(tt.fastest, tt.profile))
		})
	}
}
