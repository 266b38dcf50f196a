package plan_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// A 70B BF16 model on 8 x L40S: 141 GB of weights fit 4 GPUs with almost no KV cache left, so TP 4
// replicas carry a request or two each; TP 8 carries many at the same price per GPU. The planner must
// size every degree, pick TP 8, keep the others on the candidate and say why in the working.
func TestLayoutSearchPicksTheCheapestGroup(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{
		Business: &inframindv1.Business{ProviderPreference: []string{"aws"}},
		Workloads: []*inframindv1.Workload{{Name: "chat", Kind: "llm_serving", Model: "llama-3.1-70b", Precision: "bf16",
			PeakRequestsPerSecond: 3, MeanInputTokens: 1000, MeanOutputTokens: 250, TtftP95Ms: 2000, InterTokenLatencyMs: 100}},
	}
	// Every candidate's working, as this one need not be among those a result shows.
	p, err := plan.BuildWithEveryWorking(load(t), req)
	require.NoError(t, err)
	c := candidate(t, p.Workloads[0], "aws", "g6e.48xlarge")
	require.True(t, c.Feasible, c.Reason)
	require.Equal(t, 8, c.TensorParallel)
	byLayout := map[string]plan.Layout{}
	for _, l := range c.Layouts {
		byLayout[l.String()] = l
	}
	for _, name := range []string{"TP 1", "TP 2", "TP 4", "TP 8", "PP 2 x TP 8", "PP 3 x TP 8", "PP 4 x TP 8"} {
		require.Contains(t, byLayout, name)
	}
	four, eight := byLayout["TP 4"], byLayout["TP 8"]
	require.True(t, eight.Feasible)
	if four.Feasible {
		require.Greater(t, four.MonthlyOnDemand.High, eight.MonthlyOnDemand.High)
		require.Greater(t, four.Replicas.High, eight.Replicas.High)
	}
	require.False(t, byLayout["TP 1"].Feasible, "141 GB of weights do not fit one 48 GB GPU")
	var why string
	for _, f := range c.Formulas {
		if strings.HasPrefix(f, "layout: TP 8:") {
			why = f
		}
	}
	require.Contains(t, why, "beats ", "the working names the runner-up: %v", c.Formulas)
	// Feasible layouts come first, cheapest first.
	require.Equal(t, "TP 8", c.Layouts[0].String())
}
