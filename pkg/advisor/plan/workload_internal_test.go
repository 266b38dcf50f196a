package plan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
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
