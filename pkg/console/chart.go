package console

import (
	"fmt"
	"math"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// growthChart is the server-rendered SVG of the growth projection: the
// P10-P90 band of monthly cost, the P50 line, and labelled axes. The page
// draws it from these strings; no script runs.
type growthChart struct {
	W, H   float64
	Left   float64
	Bottom float64
	Right  float64
	Top    float64
	// Band is the polygon of P10..P90; P50 the polyline of the median.
	Band, P50, P10, P90 string
	XTicks, YTicks      []tick
	// Desc is the chart's text alternative for screen readers.
	Desc string
	// Rows are the table under the chart (every 6th month), the chart's
	// accessible equivalent.
	Rows []report.Band
}

type tick struct {
	X, Y  float64
	Label string
}

// chartOf builds the chart of the Monte Carlo bands; nil without bands.
func chartOf(bands []report.Band) *growthChart {
	if len(bands) == 0 {
		return nil
	}
	g := &growthChart{W: 720, H: 300, Left: 72, Right: 16, Top: 16, Bottom: 36}
	maxM, maxV := 0, 0.0
	for _, b := range bands {
		maxM = max(maxM, b.Month)
		maxV = max(maxV, b.P90)
	}
	if maxM == 0 {
		maxM = 1
	}
	step := niceStep(maxV / 4)
	if step == 0 {
		step = 1
	}
	top := math.Ceil(maxV/step) * step
	if top == 0 {
		top = 1
	}
	x := func(m int) float64 { return g.Left + float64(m)/float64(maxM)*(g.W-g.Left-g.Right) }
	y := func(v float64) float64 { return g.H - g.Bottom - v/top*(g.H-g.Top-g.Bottom) }
	var upper, lower, mid, p10, p90 []string
	for _, b := range bands {
		upper = append(upper, pt(x(b.Month), y(b.P90)))
		mid = append(mid, pt(x(b.Month), y(b.P50)))
		p10 = append(p10, pt(x(b.Month), y(b.P10)))
		p90 = append(p90, pt(x(b.Month), y(b.P90)))
	}
	for i := len(bands) - 1; i >= 0; i-- {
		lower = append(lower, pt(x(bands[i].Month), y(bands[i].P10)))
	}
	g.Band = strings.Join(append(upper, lower...), " ")
	g.P50, g.P10, g.P90 = strings.Join(mid, " "), strings.Join(p10, " "), strings.Join(p90, " ")
	for v := 0.0; v <= top+step/2; v += step {
		g.YTicks = append(g.YTicks, tick{X: g.Left - 6, Y: y(v), Label: shortMoney(v)})
	}
	mStep := 6
	if maxM <= 12 {
		mStep = 3
	}
	for m := 0; m <= maxM; m += mStep {
		g.XTicks = append(g.XTicks, tick{X: x(m), Y: g.H - g.Bottom + 18, Label: fmt.Sprintf("%d", m)})
	}
	for _, b := range bands {
		if b.Month%6 == 0 || b.Month == bands[len(bands)-1].Month {
			g.Rows = append(g.Rows, b)
		}
	}
	last := bands[len(bands)-1]
	g.Desc = fmt.Sprintf("Monthly cost by month from %d to %d: at month %d the median is %s, with 80%% of simulated outcomes between %s and %s.",
		bands[0].Month, last.Month, last.Month, report.Money(last.P50), report.Money(last.P10), report.Money(last.P90))
	return g
}

func pt(x, y float64) string { return fmt.Sprintf("%.1f,%.1f", x, y) }

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// shortMoney is an axis label: $0, $50k, $1.2M.
func shortMoney(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("$%.1f", v/1e6), "0"), ".") + "M"
	case v >= 1e3:
		return fmt.Sprintf("$%.0fk", v/1e3)
	}
	return fmt.Sprintf("$%.0f", v)
}
