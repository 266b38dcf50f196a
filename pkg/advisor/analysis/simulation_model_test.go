package analysis

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// percentiles selects the same values nearestRank reads from the sorted
// runs, whatever their order, size or ties.
func TestPercentilesAreTheSortedNearestRanks(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		n := 1 + rng.IntN(2500)
		vals := make([]float64, n)
		for j := range vals {
			switch i % 3 {
			case 0:
				vals[j] = rng.Float64() * 1e6
			case 1:
				vals[j] = float64(rng.IntN(7)) // many ties
			default:
				vals[j] = float64(j) // already sorted
			}
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		p10, p50, p90 := percentiles(vals)
		require.Equal(t, nearestRank(sorted, 0.10), p10, "run %d, %d values", i, n)
		require.Equal(t, nearestRank(sorted, 0.50), p50, "run %d, %d values", i, n)
		require.Equal(t, nearestRank(sorted, 0.90), p90, "run %d, %d values", i, n)
	}
}
