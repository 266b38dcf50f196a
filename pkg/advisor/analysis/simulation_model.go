package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
)

// srcReplicas is the capacity rule every stepped workload follows.
const srcReplicas = "replicas = ceil(demand / per-replica throughput at the SLO) (capacity by Little's law, Little 1961); per-replica throughput and price from the cloud family's plan"

// ceilSlack absorbs floating-point noise in peak x demand / capacity, so a
// demand of exactly two replicas' capacity is not rounded up to three.
const ceilSlack = 1e-9

// replicasAt is ceil(peak x demand / capacity): the replicas a workload
// needs when its peak grows by demand (capacity rule, reference figures).
func replicasAt(peak, demand, capacity float64) float64 {
	return math.Ceil(peak*demand/capacity - ceilSlack)
}

// steppedWorkload is a workload whose replica count is recomputed every
// month from the cloud plan's figures.
type steppedWorkload struct {
	name                    string
	peak, capLow, capHigh   float64
	price                   float64 // on-demand USD per replica per month
	replicasLow, replicasHi float64 // replicas at month 0: at capHigh and at capLow
	// floor is the plan's replica count today (its high-availability
	// minimum); demand never takes a workload below it.
	floor float64
}

// costModel is the plan's monthly on-demand cost as a function of demand:
// stepped workloads add whole replicas; the rest of the plan (workloads the
// cloud family gives no replica figures for, storage, networking) is assumed
// to scale linearly with demand.
type costModel struct {
	workloads []steppedWorkload
	// restLow and restHigh are the plan's cost at month 0 not explained by
	// the stepped workloads, on the low and high side.
	restLow, restHigh float64
}

// side evaluates the model with one capacity per workload and one rest.
func (c costModel) cost(demand float64, capacities []float64, rest float64) float64 {
	total := rest * demand
	for i, w := range c.workloads {
		total += math.Max(w.floor, replicasAt(w.peak, demand, capacities[i])) * w.price
	}
	return total
}

// lowCost is the optimistic side: every replica at its high capacity.
func (c costModel) lowCost(demand float64) float64 {
	caps := make([]float64, len(c.workloads))
	for i, w := range c.workloads {
		caps[i] = w.capHigh
	}
	return c.cost(demand, caps, c.restLow)
}

// highCost is the pessimistic side: every replica at its low capacity.
func (c costModel) highCost(demand float64) float64 {
	caps := make([]float64, len(c.workloads))
	for i, w := range c.workloads {
		caps[i] = w.capLow
	}
	return c.cost(demand, caps, c.restHigh)
}

// Monte Carlo settings. The generator is math/rand/v2's PCG with a fixed
// seed, so the same request and plan always give the same percentiles (the
// runs are reproducible, as the simulation family promises); 2,000 runs keep
// the P10/P90 estimates stable to about a percent while taking milliseconds.
const (
	mcRuns  = 2000
	mcSeed1 = 20261126 // the catalogue's collection date, an arbitrary fixed value
	mcSeed2 = 36       // the projection horizon in months, likewise arbitrary
	// priceFloor36 is the lowest price multiplier the runs reach by month 36:
	// one cut as deep as AWS's June 2025 P-family cut (up to 45% on P4 and P5
	// on-demand prices, AWS What's New, June 2025) within the horizon. No dated price rise
	// is recorded in the catalogue, so rises are not modelled (an optimistic
	// assumption, stated with every Monte Carlo metric).
	priceFloor36 = 0.55
)

// srcMonteCarlo states the Monte Carlo's inputs and assumptions.
const srcMonteCarlo = "Monte Carlo, 2,000 runs, math/rand/v2 PCG seeded (20261126, 36): per run growth exponent k ~ triangular(0.5, 1, 1.5) on demand = growth(t)^k; " +
	"each workload's replica capacity ~ uniform(replica_capacity_rps_low, _high); the rest of the plan ~ uniform between the plan's low and high; " +
	"price drift: monthly factor ~ uniform(0.55^(1/36), 1), prices x factor^t (down to a 45% cut by month 36, as AWS's June 2025 cut of up to 45% on P4 and P5 on-demand prices (AWS What's New, June 2025); rises not modelled); " +
	"percentiles by nearest rank (Hyndman and Fan 1996, definition 1)"

// mcResult holds the Monte Carlo percentiles per reported month and the
// probability of exceeding the budget in any month up to each horizon.
type mcResult struct {
	p10, p50, p90 map[int]float64
	exceed        map[int]float64
}

// triangular draws from triangular(a, c, b) by inverting its CDF (Kotz and
// van Dorp, "Beyond Beta", 2004, ch. 1).
func triangular(u, a, c, b float64) float64 {
	if u < (c-a)/(b-a) {
		return a + math.Sqrt(u*(b-a)*(c-a))
	}
	return b - math.Sqrt((1-u)*(b-a)*(b-c))
}

// nearestRank returns the p-quantile of sorted values by nearest rank, the
// inverse of the empirical CDF (Hyndman and Fan 1996, definition 1).
func nearestRank(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// percentiles are the 10th, 50th and 90th percentiles of vals by nearest
// rank, as nearestRank reads them from vals sorted, found by selection:
// each is the value at its rank in sorted order, so the answer is the same,
// without sorting all of vals (2,000 runs per reported month, and sorting
// them was a third of the Monte Carlo's time). vals is reordered.
func percentiles(vals []float64) (p10, p50, p90 float64) {
	n := len(vals)
	if n == 0 || slices.ContainsFunc(vals, math.IsNaN) {
		slices.Sort(vals)
		return nearestRank(vals, 0.10), nearestRank(vals, 0.50), nearestRank(vals, 0.90)
	}
	rank := func(p float64) int { return max(0, min(int(math.Ceil(p*float64(n)))-1, n-1)) }
	i10, i50, i90 := rank(0.10), rank(0.50), rank(0.90)
	// After selecting i50, everything before it is at most vals[i50] and
	// everything after at least, so the others are selected on each side.
	selectRank(vals, i50)
	selectRank(vals[:i50+1], i10)
	selectRank(vals[i50:], i90-i50)
	return vals[i10], vals[i50], vals[i90]
}

// selectRank reorders v so that v[k] is the value sorted order puts there,
// with nothing greater before it and nothing smaller after it (Hoare's
// selection, "Algorithm 65: Find", CACM 4(7), 1961, with a median-of-three
// pivot). v holds no NaN.
func selectRank(v []float64, k int) {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three: order v[lo], v[mid], v[hi], partition around v[mid].
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for pivot < v[j] {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		// Now v[lo..j] <= pivot <= v[i..hi], and v[j+1..i-1] == pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// monteCarlo simulates the monthly cost over the projection. Every run draws
// its inputs in the same order whatever the request, so a larger growth
// projection raises every run's cost path and never lowers a percentile.
func monteCarlo(model costModel, g growthCurve, reportMonths, horizons []int, budget float64) mcResult {
	rng := rand.New(rand.NewPCG(mcSeed1, mcSeed2))
	// Each reported month's costs, one per run, and per horizon the runs
	// over budget by then, by index: no map assignment in the runs' loop.
	perMonth := make([][]float64, projectionMonths+1)
	overBy := make([]int, len(horizons))
	caps := make([]float64, len(model.workloads))
	driftMin := math.Pow(priceFloor36, 1.0/projectionMonths)
	// The projected multiplier (kept as its logarithm) and whether a month
	// is reported do not change between runs. A run raises the multiplier
	// to its k as exp(k*ln(growth)), the identity math.Pow computes with
	// more steps: in the 2,000 runs x 37 months the powers were half of the
	// simulation's time.
	logGrowth := make([]float64, projectionMonths+1)
	reported := make([]bool, projectionMonths+1)
	for m := range logGrowth {
		logGrowth[m] = math.Log(g.at(m))
		reported[m] = slices.Contains(reportMonths, m)
		if reported[m] {
			perMonth[m] = make([]float64, 0, mcRuns)
		}
	}
	for range mcRuns {
		k := triangular(rng.Float64(), scenarioLowK, 1, scenarioHighK)
		rest := model.restLow + rng.Float64()*(model.restHigh-model.restLow)
		drift := driftMin + rng.Float64()*(1-driftMin)
		for i, w := range model.workloads {
			caps[i] = w.capLow + rng.Float64()*(w.capHigh-w.capLow)
		}
		firstOver := -1
		logDrift := math.Log(drift)
		for m := 0; m <= projectionMonths; m++ {
			// A month's cost is needed when it is reported or while the
			// budget has not been passed yet; the others are skipped.
			if !reported[m] && (budget <= 0 || firstOver >= 0) {
				continue
			}
			// g.scenario(m, k), with the month's multiplier computed once;
			// drift^m as exp(m*ln(drift)), likewise.
			c := math.Exp(float64(m)*logDrift) * model.cost(math.Exp(k*logGrowth[m]), caps, rest)
			if reported[m] {
				perMonth[m] = append(perMonth[m], c)
			}
			if budget > 0 && firstOver < 0 && c > budget {
				firstOver = m
			}
		}
		for i, h := range horizons {
			if firstOver >= 0 && firstOver <= h {
				overBy[i]++
			}
		}
	}
	out := mcResult{p10: map[int]float64{}, p50: map[int]float64{}, p90: map[int]float64{}, exceed: map[int]float64{}}
	for m, vals := range perMonth {
		if reported[m] {
			out.p10[m], out.p50[m], out.p90[m] = percentiles(vals)
		}
	}
	for i, h := range horizons {
		out.exceed[h] = float64(overBy[i]) / mcRuns
	}
	return out
}
