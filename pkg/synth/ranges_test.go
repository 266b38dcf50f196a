package synth

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rangeText finds a low-high range as the reports print one: "2-3", "$146.75-$293.50",
// "$1,000.00 - $2,000.00" or "$5.00 to $9.00". A figure glued to a letter, a dot or another digit
// on either side is not a range end ("a3-highgpu-8g", "2026-12-06", "v8").
var rangeText = regexp.MustCompile(`(?:^|[^\w.$,-])(\$?\d[\d,]*(?:\.\d+)?)(-| - | to )(\$?\d[\d,]*(?:\.\d+)?)(?:$|[^\w.,%-]|\.(?:\s|$))`)

// TestExampleReportsPrintNoEqualEndedRange renders every example and fails on a range whose two
// ends are the same ("2-2 instances", "$911.86-$911.86"): one figure reads as what it is.
func TestExampleReportsPrintNoEqualEndedRange(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	seen := 0
	for _, f := range files {
		for kind, out := range exampleOutputs(t, filepath.Base(f)) {
			for _, line := range strings.Split(string(out), "\n") {
				for _, m := range rangeText.FindAllStringSubmatch(line, -1) {
					seen++
					require.NotEqual(t, m[1], m[3], "%s %s prints %q as a range: %s", filepath.Base(f), kind, m[0], line)
				}
			}
		}
	}
	require.Greater(t, seen, 100, "the pattern finds the reports' ranges")
}

func TestRangeTextFindsRanges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		text string
		want []string
	}{
		{"on 2-2 instances", []string{"2", "-", "2"}},
		{"costs $911.86-$911.86 a month", []string{"$911.86", "-", "$911.86"}},
		{"| $12,228.96 - $12,228.96 |", []string{"$12,228.96", " - ", "$12,228.96"}},
		{"costs $5.00 to $9.00.", []string{"$5.00", " to ", "$9.00"}},
		{"gcp a3-highgpu-8g in us-east4", nil},
		{"as of 2026-12-06", nil},
		{"headroom 20%-30%", nil},
	} {
		m := rangeText.FindStringSubmatch(tt.text)
		if tt.want == nil {
			require.Nil(t, m, tt.text)
			continue
		}
		require.NotNil(t, m, tt.text)
		require.Equal(t, tt.want, m[1:], tt.text)
	}
}
