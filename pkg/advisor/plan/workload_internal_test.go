package plan

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
)

// permute puts the element at from[k] at k, for any permutation: one cycle,
// several, fixed points, none.
func TestPermute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from []int
	}{
		{name: "empty"},
		{name: "identity", from: []int{0, 1, 2, 3}},
		{name: "one cycle", from: []int{3, 0, 1, 2}},
		{name: "reversed", from: []int{4, 3, 2, 1, 0}},
		{name: "two cycles and a fixed point", from: []int{1, 0, 2, 5, 3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs := make([]string, len(tc.from))
			want := make([]string, len(tc.from))
			for i := range cs {
				cs[i] = string(rune('a' + i))
			}
			for k, i := range tc.from {
				want[k] = cs[i]
			}
			permute(cs, append([]int(nil), tc.from...))
			require.Equal(t, want, cs)
		})
	}
}

// sortedRows points to the rows catalog.InstancesOf("") copies, in the same
// order, duplicates of provider, name and price region included: over the
// bundled catalogue and every price table the build holds.
func TestSortedRowsAreInstancesOf(t *testing.T) {
	t.Parallel()
	cur, err := catalog.Load()
	require.NoError(t, err)
	tables, err := catalog.PriceTables()
	require.NoError(t, err)
	require.NotEmpty(t, tables)
	for _, tb := range append([]catalog.PriceTable{{Version: cur.Version, Instances: cur.Instances}}, tables...) {
		t.Run(tb.Version, func(t *testing.T) {
			t.Parallel()
			c := *cur
			c.Instances = tb.Instances
			want := c.InstancesOf("")
			got := sortedRows(&c)
			require.Len(t, got, len(want))
			for i := range want {
				require.Equal(t, want[i], *got[i], "row %d", i)
			}
		})
	}
}

// rank orders candidates as the rule it documents, written as a stable sort over every key: for
// candidates in offer order (provider then instance, where the index settles ties of cost) and in any
// other, with ties of cost, GPU memory, provider and instance, NaN, -0 and infinities.
func TestRankOrdersAsTheStableRule(t *testing.T) {
	t.Parallel()
	cons := Constraints{Providers: []string{"gcp", "aws", "azure"}}
	want := func(cs []Candidate) []Candidate {
		out := append([]Candidate(nil), cs...)
		slices.SortStableFunc(out, func(a, b Candidate) int {
			if a.Feasible != b.Feasible {
				if a.Feasible {
					return -1
				}
				return 1
			}
			pa, pb := slices.Index(cons.Providers, a.Provider), slices.Index(cons.Providers, b.Provider)
			if !a.Feasible {
				return cmp.Or(cmp.Compare(b.GPUMemoryGB*float64(b.GPUsPerInstance), a.GPUMemoryGB*float64(a.GPUsPerInstance)),
					cmp.Compare(pa, pb), cmp.Compare(a.Instance, b.Instance))
			}
			return cmp.Or(cmp.Compare(costKey(&a), costKey(&b)), cmp.Compare(costKeyLow(&a), costKeyLow(&b)),
				cmp.Compare(pa, pb), cmp.Compare(a.Instance, b.Instance))
		})
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Ties, and the floats cmp.Compare orders specially: NaN, -0 beside 0, infinities.
	figures := []float64{math.NaN(), math.Inf(-1), -2.5, math.Copysign(0, -1), 0, 24, 48, 48, math.Inf(1)}
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("offer order %v", ordered), func(t *testing.T) {
			t.Parallel()
			for range 50 {
				cs := make([]Candidate, 40)
				for i := range cs {
					c := &cs[i]
					c.Provider = cons.Providers[rng.IntN(3)]
					c.Instance = fmt.Sprintf("m%d", rng.IntN(4))
					c.Region = fmt.Sprint(i) // tells equal keys apart
					c.GPUMemoryGB, c.GPUsPerInstance = figures[rng.IntN(len(figures))], 1+rng.IntN(2)
					c.Feasible = rng.IntN(4) > 0
					c.Monthly.OnDemand = sizing.Range{Low: figures[rng.IntN(len(figures))], High: figures[rng.IntN(len(figures))]}
				}
				if ordered {
					slices.SortStableFunc(cs, func(a, b Candidate) int {
						return cmp.Or(cmp.Compare(slices.Index(cons.Providers, a.Provider), slices.Index(cons.Providers, b.Provider)), cmp.Compare(a.Instance, b.Instance))
					})
				}
				wp := WorkloadPlan{Candidates: append([]Candidate(nil), cs...)}
				rank(&wp, cons)
				// Compared by the region each candidate was given: NaN figures are never equal.
				require.Equal(t, regions(want(cs)), regions(wp.Candidates))
			}
		})
	}
}

// regions lists the candidates' regions in order.
func regions(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i := range cs {
		out[i] = cs[i].Region
	}
	return out
}
