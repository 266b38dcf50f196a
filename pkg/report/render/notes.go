package render

import "github.com/infra-mind/infra-mind/pkg/report"

// notedFigure is a figure with the number of its source note (0 when it has no source).
type notedFigure struct {
	report.Figure
	Note int
}

// notedFigures are a table's figures and its notes: each distinct source once, numbered in the
// order the table first cites it, so a long source is printed once below the table instead of in
// every row.
type notedFigures struct {
	Rows  []notedFigure
	Notes []string
}

// numberSources numbers the distinct sources of a table's figures.
func numberSources(fs []report.Figure) notedFigures {
	var out notedFigures
	index := map[string]int{}
	for _, f := range fs {
		n := 0
		if f.Source != "" {
			var ok bool
			if n, ok = index[f.Source]; !ok {
				out.Notes = append(out.Notes, f.Source)
				n = len(out.Notes)
				index[f.Source] = n
			}
		}
		out.Rows = append(out.Rows, notedFigure{Figure: f, Note: n})
	}
	return out
}
