package synth

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// BenchmarkCloseCPU measures the CPU work of closing an assessment over each
// bundled example's results, without the store's round trips: building and
// encoding the report, compressing it and encoding its stored document (as
// Reports.Create and the read model's copy do), and building the
// recommendations and encoding their document. The report and the
// recommendations run one after the other here; the synthesizer runs them at
// once.
func BenchmarkCloseCPU(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(b, err)
	require.NotEmpty(b, files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		req, results := exampleResults(b, filepath.Base(f))
		a := store.Assessment{ID: "0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e", TenantID: "acme", Name: req.GetName(), Status: "completed"}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				body, err := buildReport(a, results, goldenAt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := store.MarshalReport(store.Report{ID: store.ReportID(a.TenantID, a.ID), TenantID: a.TenantID,
					AssessmentID: a.ID, Status: a.Status, Body: body, CreatedAt: goldenAt}); err != nil {
					b.Fatal(err)
				}
				set := recommend.Build(results)
				if _, err := store.MarshalRecommendations(store.Recommendations{ID: store.RecommendationsID(a.TenantID, a.ID), TenantID: a.TenantID,
					AssessmentID: a.ID, Status: a.Status, Set: set, CreatedAt: goldenAt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
