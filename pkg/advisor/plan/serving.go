package plan

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
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

// sourceOf names the catalogue rows behind a GPU offer with their as-of dates.
func sourceOf(in *catalog.Instance, g *catalog.GPU) string {
	return "catalogue instance " + in.Provider + "/" + in.Name + ": " + in.Source.Source + ", as of " + in.AsOf +
		"; GPU " + g.ID + ": " + g.Source.Source + ", as of " + g.AsOf
}

// sourceMemo is sourceOf, writing the text once for consecutive offers it is the same for: the
// catalogue has a row per machine and region, sorted by machine, and the text does not name the region.
func sourceMemo() func(*catalog.Instance, *catalog.GPU) string {
	var last struct {
		provider, name string
		source         catalog.Source
		gpu            *catalog.GPU
		text           string
	}
	return func(in *catalog.Instance, g *catalog.GPU) string {
		if last.text == "" || in.Provider != last.provider || in.Name != last.name || in.Source != last.source || g != last.gpu {
			last.provider, last.name, last.source, last.gpu = in.Provider, in.Name, in.Source, g
			last.text = sourceOf(in, g)
		}
		return last.text
	}
}

// baseCandidate starts a candidate for an offer.
func baseCandidate(o offer) Candidate {
	var c Candidate
	c.setOffer(o)
	return c
}

// setOffer names the offer on c, field by field: assigning a whole new candidate over a zero one in
// place writes every field of a large struct again.
func (c *Candidate) setOffer(o offer) {
	c.Provider, c.Instance, c.Region, c.GPU = o.inst.Provider, o.inst.Name, o.region, o.gpu.ID
	c.GPUsPerInstance, c.GPUMemoryGB, c.Source = o.inst.GPUCount, o.gpu.MemoryGB, o.source
}

// price fills the candidate's monthly costs for its instance count over hours a month, from the
// catalogue's prices: on demand and spot are USD/h x hours; commitments are published per month.
// withText also writes the working. The published options' ranges come from slab (nil: allocated here).
func price(c *Candidate, o offer, hours float64, withText bool, slab *rangeSlab) {
	in := o.inst
	n := c.Instances
	c.Monthly.OnDemand = sizing.NewRange(float64(n.Low)*in.OnDemandHourly*hours, float64(n.High)*in.OnDemandHourly*hours)
	if withText {
		addFormula(&c.Working, "on demand = %s x $%g/h x %g h = %s per month (catalogue %s price, %g h = one month)",
			span.Count(n.Low, n.High, "instance", "instances"), in.OnDemandHourly, hours, dollars(c.Monthly.OnDemand), in.PriceRegion, HoursPerMonth)
	}
	var opts *[3]sizing.Range
	if in.Commit1YMonthly > 0 || in.Commit3YMonthly > 0 || in.SpotHourly > 0 {
		opts = slab.next()
	}
	if in.Commit1YMonthly > 0 {
		r := &opts[0]
		*r = sizing.NewRange(float64(n.Low)*in.Commit1YMonthly, float64(n.High)*in.Commit1YMonthly)
		c.Monthly.Commit1Y = r
		if withText {
			addFormula(&c.Working, "1-year commitment = %s x $%g per month = %s", ints(n), in.Commit1YMonthly, dollars(*r))
		}
	}
	if in.Commit3YMonthly > 0 {
		r := &opts[1]
		*r = sizing.NewRange(float64(n.Low)*in.Commit3YMonthly, float64(n.High)*in.Commit3YMonthly)
		c.Monthly.Commit3Y = r
		if withText {
			addFormula(&c.Working, "3-year commitment = %s x $%g per month = %s", ints(n), in.Commit3YMonthly, dollars(*r))
		}
	}
	if in.SpotHourly > 0 {
		r := &opts[2]
		*r = sizing.NewRange(float64(n.Low)*in.SpotHourly*hours, float64(n.High)*in.SpotHourly*hours)
		c.Monthly.Spot = r
		if withText {
			addFormula(&c.Working, "spot = %s x $%g/h x %g h = %s (can be reclaimed at short notice)", ints(n), in.SpotHourly, hours, dollars(*r))
		}
	}
}

// rangeSlab hands out the published options' ranges (1-year, 3-year, spot) of many priced candidates
// from shared arrays: one allocation for many candidates instead of one each, as a plan prices thousands
// of offers. A nil slab allocates each.
type rangeSlab struct {
	free [][3]sizing.Range
}

// rangeSlabSize is how many candidates' ranges a slab allocates at once.
const rangeSlabSize = 128

// next returns one candidate's ranges, zero.
func (s *rangeSlab) next() *[3]sizing.Range {
	if s == nil {
		return new([3]sizing.Range)
	}
	if len(s.free) == 0 {
		s.free = make([][3]sizing.Range, rangeSlabSize)
	}
	r := &s.free[0]
	s.free = s.free[1:]
	return r
}

// Layout is one way to build a serving replica on an instance type: TensorParallel GPUs of one machine
// per pipeline stage, PipelineParallel machines per replica (1 = one machine), with what it costs to carry
// the workload that way.
type Layout struct {
	TensorParallel   int
	PipelineParallel int
	Feasible         bool
	Reason           string
	// MaxConcurrency and ReplicaCapacityRPS are one replica's capacity within the SLO.
	MaxConcurrency     int
	ReplicaCapacityRPS sizing.Range
	Replicas           IntRange
	Instances          IntRange
	MonthlyOnDemand    sizing.Range
}

// String names the layout the way the working does: "TP 8" or "PP 2 x TP 8".
func (l Layout) String() string {
	if l.PipelineParallel > 1 {
		return fmt.Sprintf("PP %d x TP %d", l.PipelineParallel, l.TensorParallel)
	}
	return fmt.Sprintf("TP %d", l.TensorParallel)
}

// layouts lists the replica layouts an instance type allows: tensor parallel 1, 2, 4 and 8 within one
// machine, and pipeline stages over 2 to 4 machines with tensor parallelism over each machine's GPUs
// (Narayanan et al., Megatron-LM, arXiv 2104.04473: tensor parallel within a node, pipeline parallel across
// nodes) on machines of 4 GPUs or more. The multi-machine layouts are offered even when one machine holds
// the model: they can hold more running sequences for the same bandwidth, and leaving them out only when
// the model fits would let a longer context (which forces them) make a plan cheaper.
func layouts(gpus int) [][2]int {
	var out [][2]int
	for tp := 1; tp <= gpus && tp <= sizing.MaxTensorParallel; tp *= 2 {
		out = append(out, [2]int{tp, 1})
	}
	if gpus >= 4 {
		tp := min(gpus, sizing.MaxTensorParallel)
		if tp&(tp-1) == 0 {
			for pp := 2; pp <= sizing.MaxPipelineParallel; pp++ {
				out = append(out, [2]int{tp, pp})
			}
		}
	}
	return out
}

// servingCandidate sizes one LLM workload on one offer. Every replica layout is sized and priced
// (tensor parallel 1-8 within a machine; pipeline stages over 2-4 machines, see layouts); the
// cheapest that meets every SLO at peak wins, by its pessimistic then optimistic monthly cost, then the
// fewest GPUs. Infeasible offers come back with the reason. withText also writes the working, the
// layouts with their prices at this offer (so a reader sees why the winner won), the layout's why and
// the replica's cost formula; the figures are the same without it. It writes the candidate into c, which is zero, in
// place: a candidate is large, and returning it by value copied it several times per offer.
func servingCandidate(c *Candidate, m resolvedModel, p, kv sizing.Precision, o offer, load servingLoad, memo *sizingMemo, withText bool) error {
	c.setOffer(o)
	if o.blocked != "" {
		c.Reason = o.blocked
		return nil
	}
	if ok, why := supports(*o.gpu, p); !ok {
		c.Reason = why
		return nil
	}
	acc := AcceleratorFromGPU(*o.gpu)
	fit, err := memo.fit(o, func() (sizing.MemoryFit, error) {
		_, fit, err := sizing.MinTensorParallelFigures(m.arch, p, kv, acc, o.inst.GPUCount, 0, load.context)
		return fit, err
	})
	if err != nil && !errors.Is(err, sizing.ErrDoesNotFit) {
		return fmt.Errorf("size %s on %s: %w", m.name, o.inst.Name, err)
	}

	// The layouts' replica and instance counts depend on the machine's shape, not its price or region:
	// work them out once per GPU model and count, then price each offer's layouts and size only the
	// cheapest one in full (its working names this offer's price).
	shape, err := memo.shape(o, func() (layoutShape, error) {
		var sh layoutShape
		lays := layouts(o.inst.GPUCount)
		sh.options, sh.capacities = make([]Layout, 0, len(lays)), make([]sizing.Capacity, 0, len(lays))
		for _, lay := range lays {
			tp, pp := lay[0], lay[1]
			opt := Layout{TensorParallel: tp, PipelineParallel: pp}
			in := servingInput(m, p, kv, acc, tp, pp, load)
			capy, err := memo.capacity(o, tp, pp, func() (sizing.Capacity, error) { return sizing.CapacityFigures(in, load.slo) })
			if err != nil {
				return sh, fmt.Errorf("capacity of %s on %s at %s: %w", m.name, o.inst.Name, opt, err)
			}
			if !capy.Meets {
				opt.Reason = capy.Reason
				if capy.Limit != sizing.LimitMemory {
					sh.misses = append(sh.misses, fmt.Sprintf("%s: %s", opt, capy.Reason))
				}
				sh.options = append(sh.options, opt)
				sh.capacities = append(sh.capacities, capy)
				continue
			}
			var sized Candidate
			if err := sizeReplicas(&sized, o, tp, pp, capy, load, false, &memo.ranges); err != nil {
				return sh, err
			}
			opt.Feasible, opt.MaxConcurrency, opt.ReplicaCapacityRPS = true, capy.MaxConcurrency, capy.RequestsPerSec
			opt.Replicas, opt.Instances = sized.Replicas, sized.Instances
			sh.options = append(sh.options, opt)
			sh.capacities = append(sh.capacities, capy)
		}
		if !slices.ContainsFunc(sh.options, func(l Layout) bool { return l.Feasible }) {
			// No layout is feasible on this shape, whatever its price: every offer of it gets the same
			// layouts and reason.
			sortLayouts(sh.options)
			sh.options = slices.Clip(sh.options)
			switch {
			case len(sh.misses) == 0:
				sh.reason = fmt.Sprintf("does not fit: weights %.4g GB + overhead %.4g GB + one %d-token sequence exceed every layout up to %d machines of %d x %.4g GB at 0.9 utilisation",
					fit.WeightsGB, fit.OverheadGB, load.context, sizing.MaxPipelineParallel, o.inst.GPUCount, o.gpu.MemoryGB)
			case load.batch:
				sh.reason = "no layout runs a batch: " + strings.Join(sh.misses, "; ")
			default:
				sh.reason = "SLO unmet even at concurrency 1 in every layout that fits: " + strings.Join(sh.misses, "; ")
			}
		}
		return sh, nil
	})
	if err != nil {
		return err
	}
	if shape.reason != "" {
		c.Layouts, c.Reason = shape.options, shape.reason
		if len(shape.misses) == 0 && withText {
			// The same fit with its working, which the memo's left out.
			_, fit, _ := sizing.MinTensorParallel(m.arch, p, kv, acc, o.inst.GPUCount, 0, load.context)
			merge(&c.Working, fit.Working)
		}
		return nil
	}
	// Each feasible layout priced at this offer, as price() computes it: instances x USD/h x hours.
	monthly := func(l *Layout) sizing.Range {
		return sizing.NewRange(float64(l.Instances.Low)*o.inst.OnDemandHourly*load.hours, float64(l.Instances.High)*o.inst.OnDemandHourly*load.hours)
	}
	bestIdx, bestCost := -1, layoutCost{}
	for i := range shape.options {
		l := &shape.options[i]
		if !l.Feasible {
			continue
		}
		cost := layoutCost{monthly: monthly(l), gpus: l.Instances.High * o.inst.GPUCount}
		if bestIdx < 0 || cost.cheaper(bestCost) {
			bestIdx, bestCost = i, cost
		}
	}
	// A shape with a feasible layout has a cheapest one at any price.
	opt := shape.options[bestIdx]
	capy := shape.capacities[bestIdx]
	if withText {
		// The same figures with their working, which the shape's search left out.
		tp, pp := opt.TensorParallel, opt.PipelineParallel
		in := servingInput(m, p, kv, acc, tp, pp, load)
		figures := capy
		if capy, err = memo.capacityWithText(o, tp, pp, func() (sizing.Capacity, error) { return sizing.CapacityWorking(in, load.slo, figures) }); err != nil {
			return fmt.Errorf("capacity of %s on %s at %s: %w", m.name, o.inst.Name, opt, err)
		}
	}
	if err := sizeReplicas(c, o, opt.TensorParallel, opt.PipelineParallel, capy, load, withText, &memo.ranges); err != nil {
		return err
	}
	if !withText {
		return nil
	}
	// The layouts priced at this offer, like the working only for the candidates a result shows:
	// copying and sorting them for every offer was a fifth of a plan's allocations.
	options := slices.Clone(shape.options)
	for i := range options {
		if options[i].Feasible {
			options[i].MonthlyOnDemand = monthly(&options[i])
		}
	}
	sortLayouts(options)
	c.Layouts = options
	explainLayout(c, options)
	return nil
}

// sortLayouts orders an offer's layouts as Candidate.Layouts lists them: feasible first, then by
// pessimistic and optimistic monthly cost, then the fewest GPUs.
func sortLayouts(options []Layout) {
	slices.SortStableFunc(options, func(a, b Layout) int {
		if a.Feasible != b.Feasible {
			if a.Feasible {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.MonthlyOnDemand.High, b.MonthlyOnDemand.High), cmp.Compare(a.MonthlyOnDemand.Low, b.MonthlyOnDemand.Low),
			cmp.Compare(a.TensorParallel*a.PipelineParallel, b.TensorParallel*b.PipelineParallel))
	})
}

// servingInput is one replica layout of the workload's model on acc, under the workload's token profile.
func servingInput(m resolvedModel, p, kv sizing.Precision, acc sizing.Accelerator, tp, pp int, load servingLoad) sizing.ServingInput {
	return sizing.ServingInput{Arch: m.arch, Weights: p, KV: kv, GPU: acc, TensorParallel: tp, PipelineParallel: pp,
		InputTokens: load.in, OutputTokens: load.out, ContextTokens: load.context}
}

// layoutCost is what one offer's feasible layouts are chosen by: the monthly on-demand cost and the
// GPUs at the pessimistic end. It holds only these, instead of a whole candidate for each layout.
type layoutCost struct {
	monthly sizing.Range
	gpus    int
}

// cheaper orders feasible layouts of one offer: pessimistic then optimistic monthly on-demand cost,
// then the fewest GPUs.
func (a layoutCost) cheaper(b layoutCost) bool {
	return cmp.Or(cmp.Compare(a.monthly.High, b.monthly.High), cmp.Compare(a.monthly.Low, b.monthly.Low),
		cmp.Compare(a.gpus, b.gpus)) < 0
}

// explainLayout says in the working why the chosen layout beat the runner-up meeting the SLO, with both
// layouts' replica counts and costs ("TP 8: 1 replica ... beats TP 4: 3-4 replicas ..."), or, when no
// other layout meets it, why the others do not.
func explainLayout(c *Candidate, options []Layout) {
	var won, next *Layout
	var others []string
	for i := range options {
		o := &options[i]
		switch {
		case o.TensorParallel == c.TensorParallel && o.PipelineParallel == max(c.PipelineParallel, 1):
			won = o
		case o.Feasible && next == nil:
			next = o
		case !o.Feasible:
			others = append(others, fmt.Sprintf("%s: %s", o, o.Reason))
		}
	}
	if won == nil {
		return
	}
	desc := func(l Layout) string {
		return fmt.Sprintf("%s: %s on %s at %s a month", l, span.Count(l.Replicas.Low, l.Replicas.High, "replica", "replicas"),
			span.Count(l.Instances.Low, l.Instances.High, "instance", "instances"), span.Format("$%.0f", l.MonthlyOnDemand.Low, l.MonthlyOnDemand.High))
	}
	switch {
	case next != nil:
		c.LayoutWhy = fmt.Sprintf("%s beats %s (cheapest of the %d layouts sized that meet the SLO at peak)", desc(*won), desc(*next), len(options))
	case len(others) > 0:
		c.LayoutWhy = fmt.Sprintf("%s, the only one of the %d layouts sized that meets the SLO at peak (%s)", desc(*won), len(options), strings.Join(others, "; "))
	default:
		c.LayoutWhy = fmt.Sprintf("%s, the only one this instance allows", desc(*won))
	}
	addFormula(&c.Working, "layout: %s", c.LayoutWhy)
}

// sizeReplicas turns a replica's capacity into replicas, instances, GPUs and cost; withText also writes
// the working (capy's included) and the replica's cost formula. The cost's ranges come from slab.
func sizeReplicas(c *Candidate, o offer, tp, pp int, capy sizing.Capacity, load servingLoad, withText bool, slab *rangeSlab) error {
	c.Feasible = true
	c.TensorParallel = tp
	c.PipelineParallel = pp
	c.ReplicasPerInstance = o.inst.GPUCount / tp
	if pp > 1 {
		c.ReplicasPerInstance = 0 // one replica spans pp instances
	}
	c.ReplicaCapacityRPS = capy.RequestsPerSec
	c.MaxConcurrency = capy.MaxConcurrency
	if withText {
		merge(&c.Working, capy.Working)
		addFormula(&c.Working, "capacity per replica (TP %d x PP %d on %s) = %d concurrent requests, %s requests/s within the SLO; limit: %s",
			tp, pp, o.gpu.Name, capy.MaxConcurrency, capy.RequestsPerSec, capy.Reason)
	}

	lo, _, err := sizing.Replicas(load.peakRPS, capy.RequestsPerSec, load.headroomLow)
	if err != nil {
		return fmt.Errorf("replicas on %s: %w", o.inst.Name, err)
	}
	_, hi, err := sizing.Replicas(load.peakRPS, capy.RequestsPerSec, load.headroomHigh)
	if err != nil {
		return fmt.Errorf("replicas on %s: %w", o.inst.Name, err)
	}
	switch {
	case !withText:
	case load.batch:
		addFormula(&c.Working, "replicas = ceil(%.4g requests/s needed / %s requests/s per replica) = %s (capacity by Little's law, Little 1961)",
			load.peakRPS, capy.RequestsPerSec, span.Format("%d", lo, hi))
	default:
		addFormula(&c.Working, "replicas = ceil(peak %.4g requests/s x (1 + headroom %.0f%%-%.0f%%) / %s requests/s per replica) = %s (capacity by Little's law, Little 1961)",
			load.peakRPS, load.headroomLow*100, load.headroomHigh*100, capy.RequestsPerSec, span.Format("%d", lo, hi))
	}
	lo, hi = max(lo, 1), max(hi, 1)
	minInstances := 1
	if load.availability >= HAAvailability {
		if withText && (lo < 2 || hi < 2) {
			addFormula(&c.Working, "availability %.4g >= %.2f: at least 2 replicas on 2 machines (AWS Well-Architected Reliability Pillar REL10, fault isolation)", load.availability, HAAvailability)
		}
		lo, hi = max(lo, 2), max(hi, 2)
		minInstances = 2
	}
	c.Replicas = IntRange{Low: lo, High: hi}
	if pp > 1 {
		c.Instances = IntRange{Low: max(minInstances, lo*pp), High: max(minInstances, hi*pp)}
		c.GPUs = IntRange{Low: c.Instances.Low * o.inst.GPUCount, High: c.Instances.High * o.inst.GPUCount}
		if withText {
			addFormula(&c.Working, "instances = %s x %d machines per replica (pipeline stages) = %s; GPUs = %s",
				span.Count(lo, hi, "replica", "replicas"), pp, ints(c.Instances), ints(c.GPUs))
		}
	} else {
		per := c.ReplicasPerInstance
		c.Instances = IntRange{
			Low:  max(minInstances, int(math.Ceil(float64(lo)/float64(per)))),
			High: max(minInstances, int(math.Ceil(float64(hi)/float64(per)))),
		}
		c.GPUs = IntRange{Low: c.Instances.Low * o.inst.GPUCount, High: c.Instances.High * o.inst.GPUCount}
		if withText {
			addFormula(&c.Working, "instances = max(%d, ceil(%s / %d per %s (%s / TP %d))) = %s; GPUs = %s",
				minInstances, span.Count(lo, hi, "replica", "replicas"), per, o.inst.Name, span.Count(o.inst.GPUCount, o.inst.GPUCount, "GPU", "GPUs"), tp, ints(c.Instances), ints(c.GPUs))
		}
	}
	price(c, o, load.hours, withText, slab)
	c.ReplicaMonthlyUSD = o.inst.OnDemandHourly * float64(tp*pp) / float64(o.inst.GPUCount) * load.hours
	if withText {
		c.ReplicaMonthlyFormula = fmt.Sprintf("one replica = $%g/h x %d GPUs (TP %d x PP %d) / %d GPUs per instance x %g h = $%.2f per month",
			o.inst.OnDemandHourly, tp*pp, tp, pp, o.inst.GPUCount, load.hours, c.ReplicaMonthlyUSD)
		addFormula(&c.Working, "%s", c.ReplicaMonthlyFormula)
	}
	if load.outputTokensPerMonth > 0 {
		mtok := load.outputTokensPerMonth / 1e6
		c.USDPerMTok = c.Monthly.OnDemand.Scale(1 / mtok)
		if withText {
			addFormula(&c.Working, "cost per million output tokens = %s / %.4g M tokens per month = %s",
				dollars(c.Monthly.OnDemand), mtok, span.Format("$%.4g", c.USDPerMTok.Low, c.USDPerMTok.High))
		}
	}
	return nil
}

// sizingMemo remembers one workload's sizing results by GPU model and layout. The catalogue has a
// row per instance type and region, so many offers share a GPU, and what fits on it and how fast it
// serves do not depend on the machine's price or region: each is computed once per workload.
// Capacities are kept twice: the figures every offer is sized with, and, for the few candidates whose
// working a plan shows, the same figures with their working.
type sizingMemo struct {
	fits       map[fitKey]memoFit
	capacities map[capKey]memoCapacity
	withText   map[capKey]memoCapacity
	shapes     map[fitKey]memoShape
	// trainings are the training estimates without their working, trainingsWithText with it.
	trainings         map[fitKey]memoTraining
	trainingsWithText map[fitKey]memoTraining
	// ranges holds the priced candidates' published options.
	ranges rangeSlab
}

// layoutShape is every layout of one machine shape (GPU model and count) with its replica and
// instance counts, without prices; capacities holds each layout's capacity, in the same order.
type layoutShape struct {
	options    []Layout
	capacities []sizing.Capacity
	misses     []string
	// reason is set when no layout is feasible: why no offer of the shape can serve the workload. options
	// are then sorted as Candidate.Layouts lists them, and shared by the shape's offers.
	reason string
}

type memoShape struct {
	shape layoutShape
	err   error
}

// shape returns the layouts of the offer's machine shape, computing them on first use. Callers copy
// options before changing them.
func (m *sizingMemo) shape(o offer, compute func() (layoutShape, error)) (layoutShape, error) {
	k := fitKey{o.gpu.ID, o.inst.GPUCount}
	r, ok := m.shapes[k]
	if !ok {
		r.shape, r.err = compute()
		m.shapes[k] = r
	}
	return r.shape, r.err
}

type (
	fitKey struct {
		gpu   string
		count int
	}
	capKey struct {
		gpu    string
		tp, pp int
	}
	memoFit struct {
		fit sizing.MemoryFit
		err error
	}
	memoCapacity struct {
		capy sizing.Capacity
		err  error
	}
)

func newSizingMemo() *sizingMemo {
	return &sizingMemo{fits: map[fitKey]memoFit{}, capacities: map[capKey]memoCapacity{}, withText: map[capKey]memoCapacity{},
		shapes: map[fitKey]memoShape{}, trainings: map[fitKey]memoTraining{}, trainingsWithText: map[fitKey]memoTraining{}}
}

// fit returns the memory fit of the workload on the offer's GPUs, without its working, computing it on
// first use.
func (m *sizingMemo) fit(o offer, compute func() (sizing.MemoryFit, error)) (sizing.MemoryFit, error) {
	k := fitKey{o.gpu.ID, o.inst.GPUCount}
	r, ok := m.fits[k]
	if !ok {
		r.fit, r.err = compute()
		m.fits[k] = r
	}
	return r.fit, r.err
}

// capacity returns a replica's capacity at the SLO on the offer's GPU in a layout, without its working,
// computing it on first use.
func (m *sizingMemo) capacity(o offer, tp, pp int, compute func() (sizing.Capacity, error)) (sizing.Capacity, error) {
	return remember(m.capacities, capKey{o.gpu.ID, tp, pp}, compute)
}

// capacityWithText is capacity with its working. The returned Working shares its slices with later
// calls: callers only read it.
func (m *sizingMemo) capacityWithText(o offer, tp, pp int, compute func() (sizing.Capacity, error)) (sizing.Capacity, error) {
	return remember(m.withText, capKey{o.gpu.ID, tp, pp}, compute)
}

// remember returns the capacity memo holds for k, computing it on first use.
func remember(memo map[capKey]memoCapacity, k capKey, compute func() (sizing.Capacity, error)) (sizing.Capacity, error) {
	r, ok := memo[k]
	if !ok {
		r.capy, r.err = compute()
		memo[k] = r
	}
	return r.capy, r.err
}
