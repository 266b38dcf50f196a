package render

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/report"
)

func TestFigureSourcesAreNumberedNotes(t *testing.T) {
	t.Parallel()
	long := "catalogue instance gcp/a2-ultragpu-1g: skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv at commit 006059e0f18a"
	m := report.Model{Name: "notes", Executive: report.Executive{KeyFigures: []report.Figure{
		{Label: "Monthly cost", Low: 1, High: 2, Unit: "USD", Source: long},
		{Label: "GPUs", Low: 2, High: 2, Unit: "GPUs", Source: long},
		{Label: "Growth", Low: 3, High: 3, Source: "the request's business.growth"},
		{Label: "Unsourced", Low: 4, High: 4},
	}}}
	md := string(Markdown(m))
	require.Equal(t, 1, strings.Count(md, long), "a source is printed once")
	require.Contains(t, md, "| figure | value | note |")
	require.Regexp(t, `\| Monthly cost \| [^|]+ \| \[1\] \|`, md)
	require.Regexp(t, `\| GPUs \| [^|]+ \| \[1\] \|`, md)
	require.Regexp(t, `\| Growth \| [^|]+ \| \[2\] \|`, md)
	require.Regexp(t, `\| Unsourced \| [^|]+ \|  \|`, md)
	require.Contains(t, md, "Notes:\n\n1. "+long+"\n2. the request's business.growth\n")

	html, err := HTML(m)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(html), long))
	require.Contains(t, string(html), "<td class=\"muted\">[2]</td>")
}
