package plan

import (
	"errors"
	"fmt"
	"math"

	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
)

// Planning headroom over the stated peak: 20% at the optimistic end, 30% at the pessimistic end. This is
// Infra Mind's planning assumption for bursts above the stated peak and for rolling deploys (a replica
// drained while its successor starts); no published figure fixes it, so it is shown on every plan.
const (
	HeadroomLow  = 0.20
	HeadroomHigh = 0.30
)

// HAAvailability is the availability target from which a workload gets at least two replicas on two
// machines: one machine cannot give 99% or more through its own failures and maintenance, and the AWS
// Well-Architected Framework (Reliability Pillar, REL10 "Use fault isolation to protect your
// workload") recommends deploying across multiple locations for that reason.
const HAAvailability = 0.99

// servingLoad is what one LLM workload asks of its replicas.
type servingLoad struct {
	peakRPS, avgRPS float64
	in, out         int
	// context is the longest sequence one replica must hold (max_context_tokens, else in + out).
	context      int
	slo          sizing.SLO
	availability float64
	// headroomLow/High are the fractions over peak (0 for batch: the window is the buffer).
	headroomLow, headroomHigh float64
	// hours is the billed hours per month: 730 for an always-on service, less for a batch window.
	hours float64
	// outputTokensPerMonth is at average load (0 when unknown).
	outputTokensPerMonth float64
	batch                bool
}

// sourceOf names the catalogue rows behind an offer with their as-of dates.
func sourceOf(o offer) string {
	return fmt.Sprintf("catalogue instance %s/%s: %s, as of %s; GPU %s: %s, as of %s",
		o.inst.Provider, o.inst.Name, o.inst.Source.Source, o.inst.AsOf, o.gpu.ID, o.gpu.Source.Source, o.gpu.AsOf)
}

// baseCandidate starts a candidate for an offer.
func baseCandidate(o offer) Candidate {
	return Candidate{
		Provider: o.inst.Provider, Instance: o.inst.Name, Region: o.region, GPU: o.gpu.ID,
		GPUsPerInstance: o.inst.GPUCount, GPUMemoryGB: o.gpu.MemoryGB, Source: sourceOf(o),
	}
}

// price fills the candidate's monthly costs for its instance count over hours a month, from the
// catalogue's prices: on demand and spot are USD/h x hours; commitments are published per month.
func price(c *Candidate, o offer, hours float64) {
	in := o.inst
	n := c.Instances
	c.Monthly.OnDemand = sizing.NewRange(float64(n.Low)*in.OnDemandHourly*hours, float64(n.High)*in.OnDemandHourly*hours)
	addFormula(&c.Working, "on demand = %d-%d instances x $%g/h x %g h = $%.2f-$%.2f per month (catalogue %s price, 730 h = one month)",
		n.Low, n.High, in.OnDemandHourly, hours, c.Monthly.OnDemand.Low, c.Monthly.OnDemand.High, in.PriceRegion)
	if in.Commit1YMonthly > 0 {
		r := sizing.NewRange(float64(n.Low)*in.Commit1YMonthly, float64(n.High)*in.Commit1YMonthly)
		c.Monthly.Commit1Y = &r
		addFormula(&c.Working, "1-year commitment = %d-%d x $%g per month = $%.2f-$%.2f", n.Low, n.High, in.Commit1YMonthly, r.Low, r.High)
	}
	if in.Commit3YMonthly > 0 {
		r := sizing.NewRange(float64(n.Low)*in.Commit3YMonthly, float64(n.High)*in.Commit3YMonthly)
		c.Monthly.Commit3Y = &r
		addFormula(&c.Working, "3-year commitment = %d-%d x $%g per month = $%.2f-$%.2f", n.Low, n.High, in.Commit3YMonthly, r.Low, r.High)
	}
	if in.SpotHourly > 0 {
		r := sizing.NewRange(float64(n.Low)*in.SpotHourly*hours, float64(n.High)*in.SpotHourly*hours)
		c.Monthly.Spot = &r
		addFormula(&c.Working, "spot = %d-%d x $%g/h x %g h = $%.2f-$%.2f (can be reclaimed at short notice)", n.Low, n.High, in.SpotHourly, hours, r.Low, r.High)
	}
}

// servingCandidate sizes one LLM workload on one offer: the smallest tensor-parallel degree that holds
// the model, then each larger degree up to the machine's GPUs; the degree needing the fewest
// instances at the pessimistic end wins. Infeasible offers come back with the reason.
func servingCandidate(m resolvedModel, p, kv sizing.Precision, o offer, load servingLoad) (Candidate, error) {
	c := baseCandidate(o)
	if o.blocked != "" {
		c.Reason = o.blocked
		return c, nil
	}
	if ok, why := supports(o.gpu, p); !ok {
		c.Reason = why
		return c, nil
	}
	acc := AcceleratorFromGPU(o.gpu)
	minTP, fit, err := sizing.MinTensorParallel(m.arch, p, kv, acc, o.inst.GPUCount, 0, load.context)
	if errors.Is(err, sizing.ErrDoesNotFit) {
		c.Reason = fmt.Sprintf("does not fit: weights %.4g GB + overhead %.4g GB + one %d-token sequence exceed %d x %.4g GB at 0.9 utilisation; splitting over several machines (pipeline parallelism) is not sized",
			fit.WeightsGB, fit.OverheadGB, load.context, min(o.inst.GPUCount, sizing.MaxTensorParallel), o.gpu.MemoryGB)
		merge(&c.Working, fit.Working)
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("size %s on %s: %w", m.name, o.inst.Name, err)
	}

	var best *Candidate
	firstReason := ""
	for tp := minTP; tp <= o.inst.GPUCount && tp <= sizing.MaxTensorParallel; tp *= 2 {
		in := sizing.ServingInput{Arch: m.arch, Weights: p, KV: kv, GPU: acc, TensorParallel: tp, InputTokens: load.in, OutputTokens: load.out}
		capy, err := sizing.CapacityAtSLO(in, load.slo)
		if err != nil {
			return c, fmt.Errorf("capacity of %s on %s at TP %d: %w", m.name, o.inst.Name, tp, err)
		}
		if !capy.Meets {
			if firstReason == "" {
				firstReason = fmt.Sprintf("TP %d: %s", tp, capy.Reason)
			}
			continue
		}
		cand := c
		cand.Working = sizing.Working{}
		if err := sizeReplicas(&cand, o, tp, capy, load); err != nil {
			return c, err
		}
		if best == nil || cand.Instances.High < best.Instances.High ||
			(cand.Instances.High == best.Instances.High && cand.Instances.Low < best.Instances.Low) {
			best = &cand
		}
	}
	if best == nil {
		if load.batch {
			c.Reason = "no tensor-parallel degree runs a batch: " + firstReason
		} else {
			c.Reason = "SLO unmet even at concurrency 1: " + firstReason
		}
		c.TensorParallel = minTP
		return c, nil
	}
	return *best, nil
}

// sizeReplicas turns a replica's capacity into replicas, instances, GPUs and cost.
func sizeReplicas(c *Candidate, o offer, tp int, capy sizing.Capacity, load servingLoad) error {
	c.Feasible = true
	c.TensorParallel = tp
	c.ReplicasPerInstance = o.inst.GPUCount / tp
	c.ReplicaCapacityRPS = capy.RequestsPerSec
	c.MaxConcurrency = capy.MaxConcurrency
	merge(&c.Working, capy.Working)
	addFormula(&c.Working, "capacity per replica (TP %d on %s) = %d concurrent requests, %s requests/s within the SLO; limit: %s",
		tp, o.gpu.Name, capy.MaxConcurrency, capy.RequestsPerSec, capy.Reason)

	lo, _, err := sizing.Replicas(load.peakRPS, capy.RequestsPerSec, load.headroomLow)
	if err != nil {
		return fmt.Errorf("replicas on %s: %w", o.inst.Name, err)
	}
	_, hi, err := sizing.Replicas(load.peakRPS, capy.RequestsPerSec, load.headroomHigh)
	if err != nil {
		return fmt.Errorf("replicas on %s: %w", o.inst.Name, err)
	}
	if load.batch {
		addFormula(&c.Working, "replicas = ceil(%.4g requests/s needed / %s requests/s per replica) = %d-%d (ai-infra-figures.md Capacity)",
			load.peakRPS, capy.RequestsPerSec, lo, hi)
	} else {
		addFormula(&c.Working, "replicas = ceil(peak %.4g requests/s x (1 + headroom %.0f%%-%.0f%%) / %s requests/s per replica) = %d-%d (ai-infra-figures.md Capacity)",
			load.peakRPS, load.headroomLow*100, load.headroomHigh*100, capy.RequestsPerSec, lo, hi)
	}
	lo, hi = max(lo, 1), max(hi, 1)
	minInstances := 1
	if load.availability >= HAAvailability {
		if lo < 2 || hi < 2 {
			addFormula(&c.Working, "availability %.4g >= %.2f: at least 2 replicas on 2 machines (AWS Well-Architected Reliability Pillar REL10, fault isolation)", load.availability, HAAvailability)
		}
		lo, hi = max(lo, 2), max(hi, 2)
		minInstances = 2
	}
	c.Replicas = IntRange{Low: lo, High: hi}
	per := c.ReplicasPerInstance
	c.Instances = IntRange{
		Low:  max(minInstances, int(math.Ceil(float64(lo)/float64(per)))),
		High: max(minInstances, int(math.Ceil(float64(hi)/float64(per)))),
	}
	c.GPUs = IntRange{Low: c.Instances.Low * o.inst.GPUCount, High: c.Instances.High * o.inst.GPUCount}
	addFormula(&c.Working, "instances = max(%d, ceil(%d-%d replicas / %d per %s (%d GPUs / TP %d))) = %d-%d; GPUs = %d-%d",
		minInstances, lo, hi, per, o.inst.Name, o.inst.GPUCount, tp, c.Instances.Low, c.Instances.High, c.GPUs.Low, c.GPUs.High)
	price(c, o, load.hours)
	c.ReplicaMonthlyUSD = o.inst.OnDemandHourly * float64(tp) / float64(o.inst.GPUCount) * load.hours
	addFormula(&c.Working, "one replica = $%g/h x TP %d / %d GPUs x %g h = $%.2f per month", o.inst.OnDemandHourly, tp, o.inst.GPUCount, load.hours, c.ReplicaMonthlyUSD)
	if load.outputTokensPerMonth > 0 {
		mtok := load.outputTokensPerMonth / 1e6
		c.USDPerMTok = c.Monthly.OnDemand.Scale(1 / mtok)
		addFormula(&c.Working, "cost per million output tokens = $%.2f-$%.2f / %.4g M tokens per month = $%.4g-$%.4g",
			c.Monthly.OnDemand.Low, c.Monthly.OnDemand.High, mtok, c.USDPerMTok.Low, c.USDPerMTok.High)
	}
	return nil
}
