package sizing

import (
	"errors"
	"fmt"
	"math"
)

// SLO is a latency target for one replica; a zero field is not set.
type SLO struct {
	TTFTp95ms              float64
	ITLms                  float64
	MinTokensPerSecPerUser float64
}

// validate rejects negative or non-finite targets.
func (s SLO) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"slo.ttft_p95_ms", s.TTFTp95ms}, {"slo.itl_ms", s.ITLms}, {"slo.min_tokens_per_sec_per_user", s.MinTokensPerSecPerUser}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return invalid(f.name, "must be a non-negative number, got %v", f.v)
		}
	}
	return nil
}

// What limited a replica's capacity.
const (
	LimitMemory          = "memory"                  // the model and one sequence do not fit
	LimitKVCache         = "kv_cache"                // the KV cache holds no more sequences
	LimitTTFT            = "ttft_p95"                // the time-to-first-token target
	LimitITL             = "itl"                     // the inter-token latency target
	LimitTokensPerSecond = "tokens_per_sec_per_user" // the per-user streaming rate target
)

// Capacity is the most a replica carries while meeting an SLO.
type Capacity struct {
	// MaxConcurrency is the largest concurrency that meets the SLO (0 when even one request fails it).
	MaxConcurrency int
	// RequestsPerSec is the replica's throughput at MaxConcurrency.
	RequestsPerSec Range
	Meets          bool
	// Limit names the bound that stopped the search (Limit* constants); Reason says it in words.
	Limit  string
	Reason string
	ServingEstimate
}

// sloFailure names the first SLO target the estimate misses at its pessimistic end, or "".
// The pessimistic end is used so a plan meets the target across the whole estimated range, with requests
// arriving spread out: production traffic from many independent users, not the synchronised waves of a
// fixed-length benchmark (the planner's headroom over the peak is what covers bursts).
func sloFailure(e ServingEstimate, slo SLO) (string, string) {
	return sloFigures{ttftP95Ms: e.TTFTp95SpreadMs.High, itlMs: e.ITLSpreadMs.High}.failure(slo)
}

// failure is sloFailure on the figures it reads.
func (f sloFigures) failure(slo SLO) (string, string) {
	switch f.miss(slo) {
	case LimitTTFT:
		return LimitTTFT, fmt.Sprintf("TTFT p95 up to %.0f ms exceeds the %.0f ms target", f.ttftP95Ms, slo.TTFTp95ms)
	case LimitITL:
		return LimitITL, fmt.Sprintf("inter-token latency up to %.1f ms exceeds the %.1f ms target", f.itlMs, slo.ITLms)
	case LimitTokensPerSecond:
		return LimitTokensPerSecond, fmt.Sprintf("per-user rate down to %.1f tokens/s is below the %.1f target", 1e3/f.itlMs, slo.MinTokensPerSecPerUser)
	}
	return "", ""
}

// miss is failure's limit without its reason, for a search that only needs to know whether the SLO
// is met.
func (f sloFigures) miss(slo SLO) string {
	switch {
	case slo.TTFTp95ms > 0 && f.ttftP95Ms > slo.TTFTp95ms:
		return LimitTTFT
	case slo.ITLms > 0 && f.itlMs > slo.ITLms:
		return LimitITL
	case slo.MinTokensPerSecPerUser > 0 && 1e3/f.itlMs < slo.MinTokensPerSecPerUser:
		return LimitTokensPerSecond
	}
	return ""
}

// CapacityAtSLO finds the largest concurrency (up to the sequences the replica runs at once) at which the replica meets
// slo at the pessimistic end of every estimate, by binary search: latency never falls as concurrency
// rises (checked by the package's property tests). When even one request misses the SLO, or the model
// does not fit, it returns Meets=false with the limit and reason, and no error.
func CapacityAtSLO(in ServingInput, slo SLO) (Capacity, error) {
	return capacityAtSLO(in, slo, false)
}

// CapacityFigures is CapacityAtSLO without the working's text: the same
// figures, limit and reason, for callers that size many layouts and show the
// working of few (they ask CapacityAtSLO again for those).
func CapacityFigures(in ServingInput, slo SLO) (Capacity, error) {
	return capacityAtSLO(in, slo, true)
}

// CapacityWorking is CapacityAtSLO for a capacity that CapacityFigures
// found with the same input and SLO: the same result, working included,
// from the estimates the result shows (one request, the capacity, and the
// concurrency above it, whose miss names the limit) instead of the search
// again, which would take the same path to the same capacity.
func CapacityWorking(in ServingInput, slo SLO, figures Capacity) (Capacity, error) {
	if !figures.Meets {
		return capacityAtSLO(in, slo, false)
	}
	return capacitySearch(in, slo, false, figures.MaxConcurrency)
}

// capacityAtSLO is CapacityAtSLO; quiet leaves out the working's text.
func capacityAtSLO(in ServingInput, slo SLO, quiet bool) (Capacity, error) {
	return capacitySearch(in, slo, quiet, 0)
}

// capacitySearch is capacityAtSLO; found, when above 0, is the capacity a
// search with the same input already found, which is then not searched for.
// Only CapacityWorking passes found, and with quiet false, so the estimate
// at found is made once, with its working, at the end.
func capacitySearch(in ServingInput, slo SLO, quiet bool, found int) (Capacity, error) {
	if err := slo.validate(); err != nil {
		return Capacity{}, err
	}
	in.Concurrency = 1
	r, unfit, err := newReplica(in, quiet)
	if errors.Is(err, ErrDoesNotFit) {
		return Capacity{Limit: LimitMemory, Reason: err.Error(), ServingEstimate: unfit}, nil
	}
	if err != nil {
		return Capacity{}, err
	}
	// One request at a time is checked with the figures the check reads, as the search checks every
	// concurrency; it is estimated in full only when it is the answer.
	atOne := r.solved(1, spread{})
	if limit, reason := atOne.figures().failure(slo); limit != "" {
		return Capacity{Limit: limit, Reason: "even one request at a time: " + reason, ServingEstimate: r.estimateFrom(atOne)}, nil
	}
	maxRunning := r.capPes // the estimates' MaxRunning

	// The search checks each concurrency it tries against the SLO with the
	// figures the check reads (replica.misses), not a whole estimate; the
	// capacity found is estimated in full at the end, and the concurrency
	// above it, which names the limit, checked in full, both from what the
	// search solved for them.
	// Invariant: lo meets the SLO; hi is the first concurrency known to miss it, or MaxRunning + 1;
	// atLo and atHi hold what the search solved at them, if it did.
	lo, hi := 1, maxRunning+1
	var atLo, atHi spread
	if found > 0 && found <= maxRunning {
		// Where the search ended: found meets the SLO and, below the
		// replica's cap, found + 1 misses it.
		lo, hi = found, found+1
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if sp, miss := r.misses(mid, slo); miss {
			hi, atHi = mid, sp
		} else {
			lo, atLo = mid, sp
		}
	}
	atBest := atOne
	if lo > 1 {
		atBest = r.solved(lo, atLo)
	}
	best := r.estimateFrom(atBest)
	c := Capacity{MaxConcurrency: lo, RequestsPerSec: best.RequestsPerSec, Meets: true, ServingEstimate: best}
	if lo == maxRunning {
		c.Limit = LimitKVCache
		c.Reason = fmt.Sprintf("the replica runs at most %d sequences at once (KV cache and scheduler); more would queue for a place", lo)
	} else {
		// lo < MaxRunning, so the search ended with hi = lo + 1 missing the SLO: its figures say which
		// target stops the replica.
		c.Limit, c.Reason = r.solved(hi, atHi).figures().failure(slo)
		c.Reason = fmt.Sprintf("at concurrency %d %s", lo+1, c.Reason)
	}
	if !quiet { // boxing the arguments for a line quiet skips would allocate
		c.formula("capacity: largest concurrency meeting the SLO = %d, %s requests/s (requests/s = concurrency / request time, Little's law)",
			lo, c.RequestsPerSec)
	}
	return c, nil
}

// Replicas is how many replicas carry peakRPS with a headroom fraction to spare (0.2 = 20%), as a range:
// replicas = ceil(peak x (1 + headroom) / per-replica requests/s) (capacity by Little's law, J. D. C. Little, Operations Research 9(3), 1961; the
// per-replica rate is concurrency / request time by Little's law). The optimistic per-replica rate gives
// the low count.
func Replicas(peakRPS float64, perReplica Range, headroom float64) (low, high int, err error) {
	switch {
	case !(peakRPS >= 0) || math.IsInf(peakRPS, 0):
		return 0, 0, invalid("peak_rps", "must be a non-negative number, got %v", peakRPS)
	case !perReplica.valid() || perReplica.Low <= 0:
		return 0, 0, invalid("per_replica_rps", "must be a positive range, got %s", perReplica)
	case !(headroom >= 0) || math.IsInf(headroom, 0):
		return 0, 0, invalid("headroom", "must be a non-negative fraction, got %v", headroom)
	}
	demand := peakRPS * (1 + headroom)
	// The small tolerance keeps float rounding (3.0000000000000004) from adding a replica.
	count := func(rate float64) int { return int(math.Ceil(demand/rate - 1e-9)) }
	return count(perReplica.High), count(perReplica.Low), nil
}
