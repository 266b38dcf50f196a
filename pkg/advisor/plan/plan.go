// Package plan turns an assessment request and the catalogue into a deployment plan: for every
// workload the candidate deployments over the catalogue's instances (sized with pkg/advisor/sizing,
// with the user's constraints applied), ranked, the recommended one and the cheapest per provider,
// and the recommended plan's totals as ranges. It is pure: no I/O, the same input gives the same plan.
package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// ErrNoWorkloads marks a request with nothing to plan.
var ErrNoWorkloads = errors.New("plan: the request has no workloads")

// HoursPerMonth is the one month every monthly figure uses: the month the
// catalogue's monthly commitment prices are stated for (catalog.HoursPerMonth).
const HoursPerMonth = catalog.HoursPerMonth

// Workload kinds.
const (
	KindServing  = "llm_serving"
	KindBatch    = "batch_inference"
	KindTraining = "training"
	KindRAG      = "rag"
	KindGeneral  = "general"
)

// Finding severities, as the Finding message documents them.
const (
	SeverityInfo   = "info"
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// Finding is a qualitative result of planning: an impossibility, a constraint that bit, an assumption
// the user should check.
type Finding struct {
	Severity string
	Title    string
	Detail   string
	// Workload is the workload's label, empty for plan-level findings.
	Workload string
}

// IntRange is a count estimate with its optimistic and pessimistic ends.
type IntRange struct {
	Low  int
	High int
}

// Float is the range as a sizing.Range.
func (r IntRange) Float() sizing.Range { return sizing.NewRange(float64(r.Low), float64(r.High)) }

// Costs are a deployment's monthly costs (USD, 730 h) by purchase option. A nil option is not
// published for the instance in the catalogue.
type Costs struct {
	OnDemand sizing.Range
	Commit1Y *sizing.Range
	Commit3Y *sizing.Range
	Spot     *sizing.Range
}

// Candidate is one way to deploy a workload on one instance type.
type Candidate struct {
	Provider string
	Instance string
	Region   string
	GPU      string
	// GPUsPerInstance is the instance's GPU count.
	GPUsPerInstance int
	// GPUMemoryGB is one GPU's memory.
	GPUMemoryGB float64
	// Feasible is false when the deployment cannot serve the workload; Reason says why.
	Feasible bool
	Reason   string
	// Serving: the tensor-parallel degree of a replica and how many replicas one instance holds.
	TensorParallel int
	// PipelineParallel is the machines one replica spans (pipeline stages); 0 or 1 is one machine.
	PipelineParallel    int
	ReplicasPerInstance int
	// Layouts are every replica layout sized on this instance, cheapest feasible first; the chosen one is
	// TensorParallel x PipelineParallel. Like the working, they are filled for the candidates a result
	// shows (WorkloadPlan.Shows), and for every candidate of a machine no layout serves (shared, with
	// the reason).
	Layouts []Layout
	// LayoutWhy says why the chosen layout won over the others sized; empty when no layout was compared.
	LayoutWhy string
	// ReplicaMonthlyFormula is the working of ReplicaMonthlyUSD.
	ReplicaMonthlyFormula string
	// ReplicaCapacityRPS is what one replica serves within the SLO (serving) or at full batch (batch).
	ReplicaCapacityRPS sizing.Range
	MaxConcurrency     int
	Replicas           IntRange
	Instances          IntRange
	GPUs               IntRange
	// Monthly is the recurring cost; zero for a one-off training job.
	Monthly Costs
	// ReplicaMonthlyUSD is the on-demand cost of one replica's share of its instance per month.
	ReplicaMonthlyUSD float64
	// USDPerMTok is the on-demand cost per million output tokens at average load (0 when unknown).
	USDPerMTok sizing.Range
	// Training is set for training workloads.
	Training *TrainingResult
	// Source is the catalogue rows' sources and as-of dates.
	Source string
	// Working is the candidate's working, filled for the candidates a result shows (WorkloadPlan.Shows);
	// LayoutWhy, ReplicaMonthlyFormula and Layouts are part of it. The other candidates carry their
	// figures, Reason and Source only: formatting every candidate's formulas was most of a plan's cost.
	sizing.Working
	// offer indexes the offers the workload was planned over, to size the candidate again with its working.
	offer int
}

// TrainingResult is a training candidate's compute, time, memory and one-off cost.
type TrainingResult struct {
	GPUs           int
	GPUHours       sizing.Range
	WallClockHours sizing.Range
	// DeadlineHours is 0 when no deadline is stated.
	DeadlineHours float64
	// MeetsDeadline is "yes" (even the pessimistic end meets it), "maybe" (only the optimistic end
	// does), "no", or "" without a deadline.
	MeetsDeadline string
	CostUSD       sizing.Range
	// Strategy names the memory strategy (zero3, lora, qlora) and MemoryPerGPUGB its model states.
	Strategy       string
	MemoryPerGPUGB float64
	// FitsPerGPU reports whether the model states fit one GPU of the candidate.
	FitsPerGPU bool
	// Unpriced is set on a candidate outside the residency: compute, time and memory hold, CostUSD is zero.
	Unpriced bool
}

// Component is a supporting piece of infrastructure (storage, vector store, load balancer, egress),
// sized but not priced: the catalogue holds no prices for them.
type Component struct {
	// Key names the component in metric names (model_weights_gb, vector_store_gb, ...).
	Key      string
	Kind     string
	Name     string
	Size     sizing.Range
	Unit     string
	Workload string
	sizing.Working
}

// ProviderBest is the cheapest feasible candidate of one provider, as an index into Candidates.
type ProviderBest struct {
	Provider string
	Index    int
}

// WorkloadPlan is one workload's candidates, ranked, and the choice made.
type WorkloadPlan struct {
	Index int
	Label string
	Kind  string
	// Model describes the model sized (catalogue id or custom architecture), empty without one.
	Model string
	// Candidates are ranked: feasible first, then by the pessimistic monthly (or one-off) cost.
	Candidates []Candidate
	// Recommended indexes Candidates; -1 when no candidate is feasible.
	Recommended int
	// FastestUnpriced indexes, when no candidate is recommended, the training candidate outside the
	// residency whose model states fit a GPU and that finishes first; -1 otherwise.
	FastestUnpriced     int
	CheapestPerProvider []ProviderBest
	Components          []Component
	Findings            []Finding
	// PeakRPS is the stated peak request rate (0 when not stated).
	PeakRPS float64
	// OutputTokensPerMonth is served at the stated average load (0 when unknown).
	OutputTokensPerMonth float64
	// Instances is the general-service instance count when no GPU candidate applies.
	Instances IntRange
	sizing.Working
}

// ShownCandidates is how many ranked feasible candidates per workload a result shows with their working.
const ShownCandidates = 3

// Shows reports whether a result shows candidate i with its working: one of the first ShownCandidates
// feasible candidates, the recommended one, or the fastest training candidate outside the residency.
// Build writes the working of these candidates only.
func (w WorkloadPlan) Shows(i int) bool {
	return (i < ShownCandidates && i < len(w.Candidates) && w.Candidates[i].Feasible) || i == w.Recommended || i == w.FastestUnpriced
}

// Chosen returns the recommended candidate, if any.
func (w WorkloadPlan) Chosen() (Candidate, bool) {
	if w.Recommended < 0 || w.Recommended >= len(w.Candidates) {
		return Candidate{}, false
	}
	return w.Candidates[w.Recommended], true
}

// Totals are the recommended plan's sums over the workloads that have a recommended deployment.
type Totals struct {
	Monthly Costs
	// Commit1Y, Commit3Y and Spot in Monthly are set only when every priced workload's chosen
	// instance publishes that price.
	GPUs IntRange
	// OneOffUSD sums the training jobs' costs.
	OneOffUSD            sizing.Range
	OutputTokensPerMonth float64
	// USDPerMTok is the LLM workloads' monthly on-demand cost per million output tokens at average load.
	USDPerMTok sizing.Range
	// Priced and Unpriced name the workloads included in and left out of the monthly totals.
	Priced   []string
	Unpriced []string
	// Sources lists the distinct catalogue sources behind the chosen instances.
	Sources []string
	sizing.Working
}

// Plan is the deployment plan for one request over one catalogue version.
type Plan struct {
	CatalogVersion string
	Providers      []string
	Constraints    Constraints
	Workloads      []WorkloadPlan
	Totals         Totals
	// BudgetUSD is the stated monthly budget (0 when not stated).
	BudgetUSD float64
	Findings  []Finding
}

// AllFindings returns the plan-level findings followed by every workload's, in order.
func (p Plan) AllFindings() []Finding {
	out := append([]Finding(nil), p.Findings...)
	for _, w := range p.Workloads {
		out = append(out, w.Findings...)
	}
	return out
}

// Planner plans requests over one catalogue. What does not depend on the request (the instance rows in
// order, the GPU rows by id, the text naming each row's sources) is worked out once, when the planner is
// made, instead of for every plan, where it was a tenth of the plan's time. The catalogue must not change
// afterwards.
type Planner struct {
	cat *catalog.Catalog
	// rows are the catalogue's instances (sortedRows), providers the providers they name, in order.
	rows      []*catalog.Instance
	providers []string
	// byProvider is where each provider's rows lie in rows, from the first to before the last.
	byProvider map[string][2]int
	// gpuOf[i] is rows[i]'s GPU row (the first of its id, as cat.GPU returns), nil for a CPU machine or
	// a GPU the catalogue does not describe; gpuRows and cpuRows count the rows with one and the CPU
	// machines.
	gpuOf            []*catalog.GPU
	gpuRows, cpuRows int
	// sources[i] names the catalogue rows behind rows[i]: sourceOf for a machine with a catalogued GPU,
	// cpuSourceOf for a CPU machine, "" for a GPU the catalogue does not describe.
	sources []string
	// places are the provider and price region pairs of the rows; place[i] indexes rows[i]'s, and
	// offered[i] says whether rows[i] is offered in its price region.
	places  [][2]string
	place   []int
	offered []bool
}

// NewPlanner prepares cat for planning.
func NewPlanner(cat *catalog.Catalog) (*Planner, error) {
	if cat == nil {
		return nil, errors.New("plan: catalogue is required")
	}
	rows := sortedRows(cat)
	gpus := make(map[string]*catalog.GPU, len(cat.GPUs))
	for i := range cat.GPUs {
		if _, dup := gpus[cat.GPUs[i].ID]; !dup {
			gpus[cat.GPUs[i].ID] = &cat.GPUs[i]
		}
	}
	pl := &Planner{cat: cat, rows: rows, providers: catalogueProviders(rows), byProvider: map[string][2]int{},
		gpuOf: make([]*catalog.GPU, len(rows)), sources: make([]string, len(rows)), place: make([]int, len(rows)), offered: make([]bool, len(rows))}
	gpuSource := sourceMemo()
	var last *catalog.Instance
	cpuSource := ""
	places := map[[2]string]int{}
	for i, in := range rows {
		r, ok := pl.byProvider[in.Provider]
		if !ok {
			r[0] = i
		}
		r[1] = i + 1
		pl.byProvider[in.Provider] = r
		switch g, ok := gpus[in.GPU]; {
		case ok:
			pl.gpuOf[i], pl.sources[i] = g, gpuSource(in, g)
			pl.gpuRows++
		case !in.HasGPU():
			pl.cpuRows++
			// The text does not name the region: written once for a machine's consecutive rows.
			if last == nil || in.Provider != last.Provider || in.Name != last.Name || in.Source != last.Source {
				last, cpuSource = in, cpuSourceOf(in)
			}
			pl.sources[i] = cpuSource
		}
		k := [2]string{in.Provider, in.PriceRegion}
		at, ok := places[k]
		if !ok {
			at = len(pl.places)
			places[k] = at
			pl.places = append(pl.places, k)
		}
		pl.place[i], pl.offered[i] = at, slices.Contains(in.OfferedIn, in.PriceRegion)
	}
	return pl, nil
}

// Build plans every workload of req over cat. Impossible requests (a model that fits nowhere, an SLO
// no hardware meets, a budget below any feasible plan, residency with no priced region) give findings,
// not errors; only a request with no workloads, or a workload the planner cannot read, is an error.
// Only the candidates a result shows carry their working (WorkloadPlan.Shows). A caller that plans many
// requests over one catalogue makes a Planner once instead.
func Build(cat *catalog.Catalog, req *inframindv1.AssessmentRequest) (Plan, error) {
	pl, err := NewPlanner(cat)
	if err != nil {
		return Plan{}, err
	}
	return pl.Build(req)
}

// Build is Build over the planner's catalogue.
func (pl *Planner) Build(req *inframindv1.AssessmentRequest) (Plan, error) {
	return pl.build(req, false)
}

// build is Build; allWorking writes every candidate's working.
func (pl *Planner) build(req *inframindv1.AssessmentRequest, allWorking bool) (Plan, error) {
	cat := pl.cat
	if len(req.GetWorkloads()) == 0 {
		return Plan{}, ErrNoWorkloads
	}
	cons, findings := constraintsFor(cat, pl.providers, req.GetBusiness())
	p := Plan{
		CatalogVersion: cat.Version,
		Providers:      cons.Providers,
		Constraints:    cons,
		BudgetUSD:      req.GetBusiness().GetMonthlyBudgetUsd(),
		Findings:       findings,
	}
	pool := pl.eligibleInstances(cons)
	var cpus []offer
	for _, w := range req.GetWorkloads() {
		if norm(w.GetKind()) == KindGeneral {
			cpus = pl.cpuOffers(cons)
			break
		}
	}
	for i, w := range req.GetWorkloads() {
		if w == nil {
			return Plan{}, fmt.Errorf("plan: workloads[%d]: missing", i)
		}
		wp, err := planWorkload(cat, cons, pool, cpus, i, w, allWorking)
		if err != nil {
			return Plan{}, fmt.Errorf("plan: workloads[%d]: %w", i, err)
		}
		p.Workloads = append(p.Workloads, wp)
	}
	p.Totals = totals(p.Workloads)
	p.Findings = append(p.Findings, budgetFindings(p)...)
	return p, nil
}

// sortedRows is the catalogue's instances in the order of catalog.InstancesOf("") (by provider, name
// and price region, sorted the same way from the same order), as pointers to its rows: a plan reads
// them only, and copying some 2,000 rows into a new slice was a visible part of its cost.
func sortedRows(cat *catalog.Catalog) []*catalog.Instance {
	out := make([]*catalog.Instance, len(cat.Instances))
	for i := range cat.Instances {
		out[i] = &cat.Instances[i]
	}
	slices.SortFunc(out, func(a, b *catalog.Instance) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Name, b.Name), cmp.Compare(a.PriceRegion, b.PriceRegion))
	})
	return out
}

// addFormula records a formula with its numbers in w.
func addFormula(w *sizing.Working, format string, args ...any) {
	w.Formulas = append(w.Formulas, fmt.Sprintf(format, args...))
}

// ints is an integer range for a formula, one figure when the ends agree ("2", "2-3").
func ints(r IntRange) string { return span.Format("%d", r.Low, r.High) }

// dollars is a USD range with cents for a formula, one amount when the ends agree.
func dollars(r sizing.Range) string { return span.Format("$%.2f", r.Low, r.High) }

// addAssumption records an assumption in w.
func addAssumption(w *sizing.Working, format string, args ...any) {
	w.Assumptions = append(w.Assumptions, fmt.Sprintf(format, args...))
}

// merge appends o's lines to w.
func merge(w *sizing.Working, o sizing.Working) {
	w.Assumptions = append(w.Assumptions, o.Assumptions...)
	w.Formulas = append(w.Formulas, o.Formulas...)
}
