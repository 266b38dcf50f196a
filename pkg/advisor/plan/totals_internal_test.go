package plan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFindingNamesAMachineOnceWithItsRegions checks that a machine type failing for the same reason
// in several regions is listed once in the finding, with its regions, and that a different reason
// or machine still gets a line of its own.
func TestFindingNamesAMachineOnceWithItsRegions(t *testing.T) {
	t.Parallel()
	const reason = "SLO unmet even at concurrency 1 in every layout that fits: PP 4 x TP 8: TTFT p95 up to 2091 ms exceeds the 200 ms target"
	wp := WorkloadPlan{Label: "giant-chat", Recommended: -1, FastestUnpriced: -1, Candidates: []Candidate{
		{Provider: "azure", Instance: "ND96isr_MI300X_v5", Region: "northeurope", Reason: reason},
		{Provider: "azure", Instance: "ND96isr_MI300X_v5", Region: "swedencentral", Reason: reason},
		{Provider: "azure", Instance: "ND96isr_MI300X_v5", Region: "westeurope", Reason: reason},
		{Provider: "aws", Instance: "p5en.48xlarge", Region: "us-east-1", Reason: "SLO unmet even at concurrency 1 in every layout that fits: PP 2 x TP 8"},
	}}
	explain(&wp, Constraints{Providers: []string{"aws", "azure"}})
	require.Len(t, wp.Findings, 1)
	d := wp.Findings[0].Detail
	require.Equal(t, "No offered hardware meets the SLO of giant-chat", wp.Findings[0].Title)
	require.Equal(t, 1, strings.Count(d, "ND96isr_MI300X_v5"), d)
	require.Contains(t, d, "azure/ND96isr_MI300X_v5 (northeurope, swedencentral, westeurope): "+reason)
	require.Contains(t, d, "aws/p5en.48xlarge: SLO unmet even at concurrency 1 in every layout that fits: PP 2 x TP 8")
	require.NotContains(t, d, "more")
}
