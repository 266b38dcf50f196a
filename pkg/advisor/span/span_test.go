package span

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRangesWithEqualEndsReadAsOneFigure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"different ends", Text("2", "3"), "2-3"},
		{"equal ends", Text("2", "2"), "2"},
		{"money", Format("$%.2f", 146.75, 146.75), "$146.75"},
		{"money range", Format("$%.2f", 146.75, 293.5), "$146.75-$293.50"},
		{"ends equal at the precision shown", Format("%.0f", 2.4, 2.2), "2"},
		{"integers", Format("%d", 8192, 8192), "8192"},
		{"one thing", Count(1, 1, "instance", "instances"), "1 instance"},
		{"several things", Count(2, 2, "instance", "instances"), "2 instances"},
		{"a range of things", Count(1, 2, "replica", "replicas"), "1-2 replicas"},
		{"another separator", Join("$1.00", "$2.00", " - "), "$1.00 - $2.00"},
		{"another separator, equal ends", Join("$1.00", "$1.00", " - "), "$1.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.got)
		})
	}
}
