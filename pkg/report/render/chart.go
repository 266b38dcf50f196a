package render

import (
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// Chart geometry shared by the HTML (SVG) and PDF renderers, in chart units.
const (
	chartW    = 640.0
	chartH    = 260.0
	chartPadL = 90.0
	chartPadR = 20.0
	chartPadT = 20.0
	chartPadB = 40.0
)

// bar is one bar of the cost chart: a low-high range for a label.
type bar struct {
	Label            string
	X, Y, W, H, YLow float64 // the high bar; YLow is where the low end sits
	LabelX, LabelY   float64
	Value            string
}

// axisTick is a value label on an axis.
type axisTick struct {
	X, Y  float64
	Label string
}

// costBars lays out one bar per cost line, the full height being the high end
// and a marker at the low end.
func costBars(lines []report.CostLine) ([]bar, []axisTick) {
	maxV := 0.0
	for _, l := range lines {
		maxV = max(maxV, l.High)
	}
	if maxV <= 0 || len(lines) == 0 {
		return nil, nil
	}
	plotW := chartW - chartPadL - chartPadR
	plotH := chartH - chartPadT - chartPadB
	slot := plotW / float64(len(lines))
	bars := make([]bar, 0, len(lines))
	for i, l := range lines {
		h := l.High / maxV * plotH
		x := chartPadL + float64(i)*slot + slot*0.2
		bars = append(bars, bar{
			Label: l.Name, X: x, W: slot * 0.6, Y: chartPadT + plotH - h, H: h,
			YLow: chartPadT + plotH - l.Low/maxV*plotH, LabelX: x + slot*0.3, LabelY: chartH - chartPadB + 16,
			Value: costText(l.Low, l.High),
		})
	}
	return bars, yTicks(maxV)
}

// yTicks labels 0, half and the maximum of a money axis.
func yTicks(maxV float64) []axisTick {
	plotH := chartH - chartPadT - chartPadB
	var t []axisTick
	for _, f := range []float64{0, 0.5, 1} {
		t = append(t, axisTick{X: chartPadL - 6, Y: chartPadT + plotH - f*plotH, Label: money(f * maxV)})
	}
	return t
}

// projectionGeometry returns the P10-P90 band polygon, the P50 line (SVG
// point lists) and the axis ticks.
func projectionGeometry(bands []report.Band) (band, median string, xt, yt []axisTick) {
	if len(bands) == 0 {
		return "", "", nil, nil
	}
	maxV, maxM := 0.0, 0
	for _, b := range bands {
		maxV = max(maxV, b.P90)
		maxM = max(maxM, b.Month)
	}
	if maxV <= 0 {
		return "", "", nil, nil
	}
	px, py := projector(maxV, maxM)
	var upper, lower, mid []string
	for _, b := range bands {
		upper = append(upper, fmt.Sprintf("%.1f,%.1f", px(b.Month), py(b.P90)))
		mid = append(mid, fmt.Sprintf("%.1f,%.1f", px(b.Month), py(b.P50)))
	}
	for i := len(bands) - 1; i >= 0; i-- {
		lower = append(lower, fmt.Sprintf("%.1f,%.1f", px(bands[i].Month), py(bands[i].P10)))
	}
	for _, b := range bands {
		xt = append(xt, axisTick{X: px(b.Month), Y: chartH - chartPadB + 16, Label: fmt.Sprintf("m%d", b.Month)})
	}
	return strings.Join(append(upper, lower...), " "), strings.Join(mid, " "), xt, yTicks(maxV)
}

// projector maps (month, USD) to chart coordinates.
func projector(maxV float64, maxM int) (func(int) float64, func(float64) float64) {
	plotW := chartW - chartPadL - chartPadR
	plotH := chartH - chartPadT - chartPadB
	den := float64(max(maxM, 1))
	return func(m int) float64 { return chartPadL + float64(m)/den*plotW },
		func(v float64) float64 { return chartPadT + plotH - v/maxV*plotH }
}
