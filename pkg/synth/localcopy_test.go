package synth

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// TestCopiedResultsEqualDecodedOnes holds, for every family's result on
// every bundled example, that a copy of the value a result was published
// from (what a consumer on the publishing process receives, bus
// Config.LocalCopies) equals decoding the JSON sent for it (what any other
// consumer receives): floats, timestamps, empty lists and maps included.
func TestCopiedResultsEqualDecodedOnes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	cat, err := catalog.Load()
	require.NoError(t, err)
	an, err := analysis.New(cat)
	require.NoError(t, err)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			t.Parallel()
			req, results := exampleResults(t, filepath.Base(f))
			up := map[assessment.Family]*inframindv1.AgentResultPublished{}
			for family, res := range results {
				up[assessment.Family(family)] = res
			}
			for _, family := range assessment.Families() {
				// The value as a worker builds it, never encoded before.
				o, err := an.Analyze(family, req, up)
				if errors.Is(err, analysis.ErrUnanalysable) {
					continue // its result carries the reason only
				}
				require.NoError(t, err)
				res := &inframindv1.AgentResultPublished{
					Metadata: &inframindv1.Metadata{EventId: "a1/" + string(family), TenantId: "acme", AssessmentId: "a1"},
					Family:   string(family), Status: "ok", Summary: o.Summary, Metrics: o.Metrics, Findings: o.Findings,
					CostBands: o.CostBands, CatalogVersion: an.CatalogVersion(), FinishedAt: timestamppb.New(goldenAt),
					UpstreamFamilies: []string{},
				}
				data, err := bus.EncodeData(res)
				require.NoError(t, err)
				var decoded, copied inframindv1.AgentResultPublished
				require.NoError(t, protojson.Unmarshal(data, &decoded))
				proto.Merge(&copied, proto.Clone(res))
				require.True(t, proto.Equal(&decoded, &copied), "%s: the copy differs from the decoded result", family)
				again, err := bus.EncodeData(&copied)
				require.NoError(t, err)
				require.Equal(t, string(data), string(again), "%s: the copy encodes to other JSON", family)
			}
		})
	}
}
