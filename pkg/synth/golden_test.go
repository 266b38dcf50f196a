package synth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/report/render"
	"github.com/infra-mind/infra-mind/pkg/store"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the current code")

// exampleResults runs every family on a bundled example as the workers do
// (families without upstream first) and returns their results as the
// synthesizer reads them back from the progress bucket.
func exampleResults(t testing.TB, file string) (*inframindv1.AssessmentRequest, map[string]*inframindv1.AgentResultPublished) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	require.NoError(t, err)
	req, err := assessment.ParseRequest(doc)
	require.NoError(t, err)
	cat, err := catalog.Load()
	require.NoError(t, err)
	an, err := analysis.New(cat)
	require.NoError(t, err)

	order := slices.Clone(assessment.Families())
	slices.SortStableFunc(order, func(a, b assessment.Family) int {
		return len(analysis.Upstream(a)) - len(analysis.Upstream(b))
	})
	results := map[string]*inframindv1.AgentResultPublished{}
	up := map[assessment.Family]*inframindv1.AgentResultPublished{}
	for _, f := range order {
		o, err := an.Analyze(f, req, up)
		res := &inframindv1.AgentResultPublished{
			Family: string(f), Summary: o.Summary, Metrics: o.Metrics, Findings: o.Findings, CostBands: o.CostBands, Status: "ok",
			CatalogVersion: an.CatalogVersion(), FinishedAt: timestamppb.New(goldenAt),
		}
		if err != nil {
			res = &inframindv1.AgentResultPublished{Family: string(f), Status: resultFailed, Error: err.Error(),
				CatalogVersion: an.CatalogVersion(), FinishedAt: timestamppb.New(goldenAt)}
		}
		// Through the store's encoding, as the synthesizer reads results back.
		b, err := protojson.Marshal(res)
		require.NoError(t, err)
		rows := []progress.Result{{Family: string(f), Data: b}}
		decoded, err := decodeResults(rows, nil, nil)
		require.NoError(t, err)
		results[string(f)] = decoded[string(f)]
		up[f] = decoded[string(f)]
	}
	return req, results
}

// goldenAt is when the golden examples' families finished and their reports were written.
var goldenAt = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// exampleOutputs runs every family on a bundled example (exampleResults),
// then closes the assessment as the synthesizer does, and returns what a
// reader receives: the report as GET /report answers it in JSON and
// Markdown, the recommendations and the completed event.
func exampleOutputs(t *testing.T, file string) map[string][]byte {
	t.Helper()
	req, results := exampleResults(t, file)
	at := goldenAt

	a := store.Assessment{ID: "0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e", TenantID: "acme", Name: req.GetName(), Status: "completed"}
	stored, err := buildReport(a, results, at)
	require.NoError(t, err)
	document, err := report.Decode([]byte(stored))
	require.NoError(t, err)
	// GET /report answers the stored document as JSON and renders the rest.
	reportJSON := []byte(stored)

	set := recommend.Build(results)
	recs, err := json.Marshal(set)
	require.NoError(t, err)

	ev := &inframindv1.AssessmentCompleted{Status: a.Status}
	summarize(ev, a, results, set)
	completed, err := protojson.Marshal(ev)
	require.NoError(t, err)

	return map[string][]byte{
		"report.json":          indent(t, reportJSON),
		"recommendations.json": indent(t, recs),
		"completed.json":       indent(t, completed),
		"report.md":            render.Markdown(document.Model),
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, b, "", "  "))
	out.WriteByte('\n')
	return out.Bytes()
}

// TestExampleOutputsMatchGolden holds what a reader receives for every
// bundled example byte for byte to the files under testdata/golden, so a
// change in how results travel from the families to the reader cannot change
// what users see unnoticed. A deliberate change of the advice regenerates them
// with `go test ./pkg/synth -run Golden -update` and explains the diff in its
// commit.
func TestExampleOutputsMatchGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			for kind, got := range exampleOutputs(t, filepath.Base(f)) {
				path := filepath.Join("testdata", "golden", name+"."+kind)
				if *updateGolden {
					require.NoError(t, os.WriteFile(path, got, 0o644))
					continue
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "golden file missing; run with -update")
				require.Equal(t, string(want), string(got), "%s differs from its golden file", path)
			}
		})
	}
}
