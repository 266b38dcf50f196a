package console

import (
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// familyNames are the agent families as people read them.
var familyNames = map[string]string{
	"strategy": "Strategy", "cloud": "Cloud", "mlops": "MLOps", "compliance": "Compliance",
	"research": "Research", "simulation": "Simulation",
}

// familyName is a family's display name.
func familyName(f string) string {
	if n, ok := familyNames[f]; ok {
		return n
	}
	return titleCase(f)
}

// figureText shows a figure as the report does, except probabilities, which
// read as percentages ("100%", "12% - 40%").
func figureText(f report.Figure) string {
	if f.Unit != "probability" {
		return f.Text()
	}
	pct := func(v float64) string {
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v*100), "0"), ".") + "%"
	}
	if f.High != f.Low {
		return pct(f.Low) + " - " + pct(f.High)
	}
	return pct(f.Low)
}

// recommendation is a workload's recommendation split for reading: the
// headline (what to deploy, its size and cost), why it was chosen, and the
// working behind its numbers, which the page folds away.
type recommendation struct {
	Head, Why, Working string
}

// splitRecommendation splits the cloud family's recommendation text at its
// "Chosen as" and "Working:" parts; a text without them is all headline.
func splitRecommendation(s string) recommendation {
	var r recommendation
	if i := strings.Index(s, " Working: "); i >= 0 {
		r.Working = strings.TrimSpace(s[i+len(" Working: "):])
		s = s[:i]
	}
	if i := strings.Index(s, " Chosen as "); i >= 0 {
		r.Why = strings.TrimSpace(s[i+1:])
		s = s[:i]
	}
	r.Head = strings.TrimSpace(s)
	return r
}
