package plan_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// withoutWorking is a candidate's figures, Reason and Source: its working
// (the layout's why, the replica's cost formula and a feasible candidate's
// layouts priced at its offer included) left out.
func withoutWorking(c plan.Candidate) plan.Candidate {
	c.Working = sizing.Working{}
	c.LayoutWhy, c.ReplicaMonthlyFormula = "", ""
	if c.Feasible {
		c.Layouts = nil
	}
	return c
}

// Build sizes every candidate without its working and writes it for the
// candidates a result shows only. The plan must be the one the planner gives
// when it writes every candidate's working: the same ranking and figures for
// every candidate, and, for each shown candidate, the same working word for
// word; the others carry no text. Over the bundled examples (serving, RAG,
// batch, training, general services, an impossible request) and a training
// job whose residency has no priced region.
func TestBuildWritesTheWorkingOfShownCandidatesOnly(t *testing.T) {
	t.Parallel()
	cat := load(t)
	unpriced := proto.Clone(example(t, "finetune-gdpr-eu.yaml")).(*inframindv1.AssessmentRequest)
	unpriced.Business.DataResidency = []string{"mx"} // one catalogued region, no instance priced in it
	tests := []struct {
		name string
		req  *inframindv1.AssessmentRequest
	}{
		{"chatbot-70b-hipaa-us", example(t, "chatbot-70b-hipaa-us.yaml")},
		{"custom-architecture", example(t, "custom-architecture.yaml")},
		{"finetune-gdpr-eu", example(t, "finetune-gdpr-eu.yaml")},
		{"impossible", example(t, "impossible.yaml")},
		{"startup-rag", example(t, "startup-rag.yaml")},
		{"training without a priced region", unpriced},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := plan.Build(cat, tc.req)
			require.NoError(t, err)
			want, err := plan.BuildWithEveryWorking(cat, tc.req)
			require.NoError(t, err)
			require.Len(t, got.Workloads, len(want.Workloads))
			shown := 0
			for wi := range want.Workloads {
				w, g := &want.Workloads[wi], &got.Workloads[wi]
				require.Len(t, g.Candidates, len(w.Candidates))
				if w.Recommended >= 0 {
					require.True(t, w.Shows(w.Recommended), "%s: the recommended candidate is shown", w.Label)
				}
				for ci, c := range g.Candidates {
					// One candidate at a time, so a difference reads as one.
					if w.Shows(ci) {
						shown++
						require.NotEmpty(t, c.Formulas, "%s: shown candidate %d has its working", w.Label, ci)
						require.Equal(t, w.Candidates[ci], c, "%s: shown candidate %d", w.Label, ci)
						continue
					}
					require.Equal(t, withoutWorking(c), c, "%s: candidate %d is not shown and carries no text", w.Label, ci)
					require.Equal(t, withoutWorking(w.Candidates[ci]), c, "%s: candidate %d's figures", w.Label, ci)
				}
				w.Candidates, g.Candidates = nil, nil
			}
			require.Equal(t, want, got)
			if tc.name != "impossible" {
				require.NotZero(t, shown)
			}
		})
	}
	// The training job outside every priced region shows its fastest machine.
	p, err := plan.Build(cat, unpriced)
	require.NoError(t, err)
	require.Equal(t, plan.KindTraining, p.Workloads[0].Kind)
	require.Equal(t, -1, p.Workloads[0].Recommended)
	require.GreaterOrEqual(t, p.Workloads[0].FastestUnpriced, 0)
}
