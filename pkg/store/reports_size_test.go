package store_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/report/render"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// exampleReport builds the stored report of a bundled example as the
// synthesizer does: the six families' analyses, then report.Build.
func exampleReport(t testing.TB, cat *catalog.Catalog, file string) string {
	t.Helper()
	body, _ := exampleOutputs(t, cat, file)
	return body
}

// exampleOutputs returns a bundled example's report, as exampleReport, and
// the families' results it was built from.
func exampleOutputs(t testing.TB, cat *catalog.Catalog, file string) (string, map[string]*inframindv1.AgentResultPublished) {
	t.Helper()
	doc, err := os.ReadFile(file)
	require.NoError(t, err)
	req, err := assessment.ParseRequest(doc)
	require.NoError(t, err)
	an, err := analysis.New(cat)
	require.NoError(t, err)
	order := slices.Clone(assessment.Families())
	slices.SortStableFunc(order, func(a, b assessment.Family) int { return len(analysis.Upstream(a)) - len(analysis.Upstream(b)) })
	up := map[assessment.Family]*inframindv1.AgentResultPublished{}
	all := map[string]*inframindv1.AgentResultPublished{}
	for _, f := range order {
		o, err := an.Analyze(f, req, up)
		res := &inframindv1.AgentResultPublished{Family: string(f), Status: "ok", CatalogVersion: an.CatalogVersion(),
			Summary: o.Summary, Metrics: o.Metrics, Findings: o.Findings, CostBands: o.CostBands}
		if err != nil {
			res = &inframindv1.AgentResultPublished{Family: string(f), Status: "failed", Error: err.Error(), CatalogVersion: an.CatalogVersion()}
		}
		up[f], all[string(f)] = res, res
	}
	b, err := report.Encode(report.Build(report.Input{AssessmentID: "a-1", TenantID: "acme", Name: req.GetName(),
		Status: "completed", GeneratedAt: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), Results: all}))
	require.NoError(t, err)
	return string(b), all
}

// TestReportsAreStoredCompressed: every bundled example's report is stored
// at a fraction of its size and read back byte for byte, so its JSON and
// every rendering people get are what they were.
func TestReportsAreStoredCompressed(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir(), SkipNATS: true, SkipRedis: true})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "reports_size")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	cat, err := catalog.Load()
	require.NoError(t, err)

	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body := exampleReport(t, cat, f)
			tenant := uniq("tenant")
			require.NoError(t, s.Reports.Create(ctx, store.Report{TenantID: tenant, AssessmentID: "a-1", Status: "completed", Body: body}))
			got, err := s.Reports.Get(ctx, tenant, "a-1")
			require.NoError(t, err)
			require.Equal(t, body, got.Body, "the report reads back byte for byte")
			want, err := report.Decode([]byte(body))
			require.NoError(t, err)
			doc, err := report.Decode([]byte(got.Body))
			require.NoError(t, err)
			require.Equal(t, render.Markdown(want.Model), render.Markdown(doc.Model))

			raw, err := s.Database().Collection(store.CollReports).FindOne(ctx, bson.D{{Key: "_id", Value: store.ReportID(tenant, "a-1")}}).Raw()
			require.NoError(t, err)
			t.Logf("%s: report %d bytes, stored document %d bytes", filepath.Base(f), len(body), len(raw))
			require.Less(t, len(raw)*4, len(body), "stored at less than a quarter of its size")
		})
	}
}
