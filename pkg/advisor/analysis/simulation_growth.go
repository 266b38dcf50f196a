package analysis

import (
	"fmt"
	"math"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// projectionMonths is how far simulation and strategy project: 36 months, the
// longest commitment term the catalogue prices (3 years).
const projectionMonths = 36

// Growth scenario exponents. The low and high scenarios realise half and one
// and a half times the projected change in demand (on a log scale: demand^k),
// so a flat projection stays flat in every scenario. They are Infra Mind's
// planning assumption for "the projection may be wrong either way", not a
// published figure; the Monte Carlo draws k between them.
const (
	scenarioLowK  = 0.5
	scenarioHighK = 1.5
)

const srcGrowth = "the request's business.growth; interpolation: linear between months 0 (x1), 6, 12 and 24; beyond month 24 the average compound monthly rate of months 0-24 continues (Infra Mind projection rule)"

// growthCurve is demand as a multiple of today's at months 0, 6, 12 and 24.
type growthCurve struct {
	months [4]int
	mult   [4]float64
	// flat is set when the request states no growth: demand is held at x1.
	flat bool
}

// at returns the multiplier at month m: linear between the stated months
// (the user states four points and nothing between them, so the simplest
// curve through them is used); beyond month 24 demand keeps growing at the
// average compound rate of months 0-24, m24^(m/24), which never turns
// negative and never falls when any stated multiplier rises.
func (g growthCurve) at(m int) float64 {
	if m <= 0 {
		return g.mult[0]
	}
	for k := 1; k < len(g.months); k++ {
		if m <= g.months[k] {
			m0, m1 := g.months[k-1], g.months[k]
			f := float64(m-m0) / float64(m1-m0)
			return g.mult[k-1] + f*(g.mult[k]-g.mult[k-1])
		}
	}
	last := g.mult[len(g.mult)-1]
	return last * math.Pow(last, float64(m-24)/24)
}

// scenario returns the multiplier at month m in a scenario realising k times
// the projected change on a log scale: at(m)^k.
func (g growthCurve) scenario(m int, k float64) float64 {
	return math.Pow(g.at(m), k)
}

func (g growthCurve) text() string {
	if g.flat {
		return "flat (no growth stated)"
	}
	return fmt.Sprintf("month 0 x1, month 6 x%s, month 12 x%s, month 24 x%s", num(g.mult[1]), num(g.mult[2]), num(g.mult[3]))
}

// readGrowth reads the growth projection, given as multipliers or as
// absolute demand (assessment.GrowthMultipliers). No projection means flat
// demand (the caller reports it as a finding); a partial one is an error
// naming the field.
func readGrowth(g *inframindv1.Growth) (growthCurve, error) {
	c := growthCurve{months: [4]int{0, 6, 12, 24}, mult: [4]float64{1, 1, 1, 1}}
	m6, m12, m24 := assessment.GrowthMultipliers(g)
	prefix := "month_%d_multiplier"
	if g.GetCurrentDemand() > 0 {
		prefix = "month_%d_demand"
	}
	vals := []struct {
		month int
		v     float64
	}{{6, m6}, {12, m12}, {24, m24}}
	if m6 == 0 && m12 == 0 && m24 == 0 {
		c.flat = true
		return c, nil
	}
	for k, v := range vals {
		if !(v.v > 0) || math.IsInf(v.v, 0) {
			return c, unanalysable("business.growth.%s: must be > 0 when a growth projection is given, got %v", fmt.Sprintf(prefix, v.month), v.v)
		}
		c.mult[k+1] = v.v
	}
	return c, nil
}
