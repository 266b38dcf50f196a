package estimate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// defaultKVPrecision is the KV cache's precision when none is given: the
// model's 16-bit activation precision, the serving engines' default (vLLM
// kv_cache_dtype "auto"; the request format documents the same default).
const defaultKVPrecision = sizing.BF16

// Subject is what was sized: a catalogue row (with its id) or a given
// architecture.
type Subject struct {
	ID            string
	Name          string
	ParamsTotalB  float64
	ParamsActiveB float64
	MemoryGB      float64
}

// CatalogRow is one catalogue row an answer used, with its provenance.
type CatalogRow struct {
	Table  string
	Key    string
	Source string
	AsOf   string
}

// CatalogUse is the catalogue version and the rows an answer used.
type CatalogUse struct {
	Version string
	Rows    []CatalogRow
}

func (u *CatalogUse) add(table, key string, s catalog.Source) {
	r := CatalogRow{Table: table, Key: key, Source: s.Source, AsOf: s.AsOf}
	if !slices.Contains(u.Rows, r) {
		u.Rows = append(u.Rows, r)
	}
}

// MemoryView is how a model sits in one replica's memory (totals over its GPUs).
type MemoryView struct {
	WeightsGB       float64
	OverheadGB      float64
	KVBytesPerToken float64
	KVBudgetGB      float64
	MaxTokensInKV   int
	MaxSequences    int
	Fits            bool
}

func memoryOf(f sizing.MemoryFit) MemoryView {
	return MemoryView{
		WeightsGB: f.WeightsGB, OverheadGB: f.OverheadGB, KVBytesPerToken: f.KVBytesPerToken,
		KVBudgetGB: f.KVBudgetGB, MaxTokensInKV: f.MaxTokensInKV, MaxSequences: f.MaxSequences, Fits: f.Fits,
	}
}

// ServingPoint is one replica's latency and throughput at a concurrency.
type ServingPoint struct {
	Concurrency         int
	RunningSequences    int
	TTFTms              sizing.Range
	TTFTp95ms           sizing.Range
	ITLms               sizing.Range
	TokensPerSecPerUser sizing.Range
	OutputTokensPerSec  sizing.Range
	RequestsPerSec      sizing.Range
	PrefillFraction     sizing.Range
	Saturated           bool
	SaturationReason    string
	MeetsSLO            *bool
}

func pointOf(concurrency int, e sizing.ServingEstimate) *ServingPoint {
	return &ServingPoint{
		Concurrency: concurrency, RunningSequences: e.RunningSequences,
		TTFTms: e.TTFTms, TTFTp95ms: e.TTFTp95ms, ITLms: e.ITLms, TokensPerSecPerUser: e.TokensPerSecPerUser,
		OutputTokensPerSec: e.OutputTokensPerSec, RequestsPerSec: e.RequestsPerSec, PrefillFraction: e.PrefillFraction,
		Saturated: e.Saturated, SaturationReason: e.SaturationReason,
	}
}

// CapacityView is the most one replica carries within the SLO.
type CapacityView struct {
	Meets          bool
	MaxConcurrency int
	Limit          string
	Reason         string
	AtCapacity     *ServingPoint
}

// ReplicasView is the replica count for a peak.
type ReplicasView struct {
	PeakRequestsPerSecond    float64
	Headroom                 float64
	PerReplicaRequestsPerSec sizing.Range
	Replicas                 sizing.Range
}

// InstanceCost is the on-demand cost on one catalogue instance.
type InstanceCost struct {
	Provider          string
	Name              string
	GPUCount          int
	PriceRegion       string
	OnDemandHourlyUSD float64
	Fits              bool
	Reason            string
	// Serving.
	ReplicasPerInstance       int
	InstanceMonthlyUSD        float64
	USDPerMillionOutputTokens *sizing.Range
	InstancesForPeak          *sizing.Range
	MonthlyUSDForPeak         *sizing.Range
	// Training.
	Instances int
	RunUSD    *sizing.Range
}

// Inference is a serving estimate; the gateway answers POST /v1/estimates/inference with it as the
// API document's InferenceEstimate.
type Inference struct {
	Feasible             bool
	Reason               string
	Model                Subject
	GPU                  Subject
	Instance             *InstanceRef
	Precision            string
	KVCachePrecision     string
	InputTokens          int
	OutputTokens         int
	TensorParallel       int
	TensorParallelChosen string
	// Layouts are the tensor-parallel degrees sized when none was requested, with why the chosen one won.
	Layouts []LayoutView
	// tried is the degree this answer sized, kept when TensorParallel is cleared because nothing fits.
	tried         int
	Memory        MemoryView
	AtConcurrency *ServingPoint
	Capacity      *CapacityView
	Replicas      *ReplicasView
	Costs         []InstanceCost
	Working       sizing.Working
	Catalog       CatalogUse
}

// Training is a training-run estimate; the gateway answers POST /v1/estimates/training with it as the
// API document's TrainingEstimate.
type Training struct {
	Feasible       bool
	Reason         string
	Model          Subject
	GPU            Subject
	Instance       *InstanceRef
	Method         string
	Precision      string
	GPUs           int
	TokensBillion  float64
	MFU            sizing.Range
	FLOPs          float64
	FLOPsRange     sizing.Range
	GPUHours       sizing.Range
	WallClockHours sizing.Range
	MemoryPerGPUGB map[string]float64
	MethodMemoryGB float64
	FitsPerGPU     bool
	// Strategy names the method's layout on these GPUs (lora, lora_fsdp, zero3, tp_pp, ...) and
	// StrategyDescription says it in words; Parallelism is its data x tensor x pipeline split.
	Strategy            string
	StrategyDescription string
	Parallelism         sizing.TrainingParallelism
	// MinGPUs is the fewest GPUs the method fits on (0: none up to sizing.MaxTrainingGPUs).
	MinGPUs int
	// ActivationsGB and MemoryWithActivationsGB are per GPU; UsableMemoryGB is what one GPU offers them.
	ActivationsGB           sizing.Range
	MemoryWithActivationsGB sizing.Range
	UsableMemoryGB          float64
	SeqTokens               int
	PipelineBubble          sizing.Range
	// Methods sizes full, lora and qlora on the same GPUs, for comparison.
	Methods []sizing.TrainingMethodSizing
	Costs   []InstanceCost
	Working sizing.Working
	Catalog CatalogUse
}

// working helpers: sizing.Working's own recorders are unexported.

func assume(w *sizing.Working, format string, args ...any) {
	w.Assumptions = append(w.Assumptions, fmt.Sprintf(format, args...))
}

func formula(w *sizing.Working, format string, args ...any) {
	w.Formulas = append(w.Formulas, fmt.Sprintf(format, args...))
}

// mergeWorking appends o's lines that w does not hold yet; formulas get the
// prefix so a reader can tell which operating point they belong to.
func mergeWorking(w *sizing.Working, o sizing.Working, prefix string) {
	for _, a := range o.Assumptions {
		if !slices.Contains(w.Assumptions, a) {
			w.Assumptions = append(w.Assumptions, a)
		}
	}
	for _, f := range o.Formulas {
		if !slices.Contains(w.Formulas, f) && !slices.Contains(w.Formulas, prefix+f) {
			w.Formulas = append(w.Formulas, prefix+f)
		}
	}
}

// archOf maps a catalogue model onto the calculators' architecture.
func archOf(m catalog.Model) sizing.Arch {
	a := sizing.Arch{
		ParamsTotalB: m.ParamsTotalB, Layers: m.Layers, KVHeads: m.KVHeads, HeadDim: m.HeadDim,
		Attention: m.Attention, MLALatentDim: m.MLALatentDim, HiddenSize: m.Hidden,
		Experts: m.Experts, ExpertsPerToken: m.ActiveExperts,
	}
	if m.ParamsActiveB > 0 && m.ParamsActiveB < m.ParamsTotalB {
		a.ParamsActiveB = m.ParamsActiveB
	}
	return a
}

// archOfInput maps an input's architecture onto the calculators' one.
func archOfInput(b *Architecture) sizing.Arch {
	return sizing.Arch{
		ParamsTotalB: b.TotalParamsBillion, ParamsActiveB: b.ActiveParamsBillion, Layers: b.Layers,
		KVHeads: b.KVHeads, HeadDim: b.HeadDim, Attention: b.Attention, MLALatentDim: b.MLALatentDim,
		HiddenSize: b.HiddenSize,
	}
}

// oneOf checks that exactly one of two alternative fields is given.
func oneOf(aName string, a bool, bName string, b bool) []assessment.FieldError {
	switch {
	case a && b:
		return []assessment.FieldError{{Field: bName, Reason: "give " + aName + " or " + bName + ", not both"}}
	case !a && !b:
		return []assessment.FieldError{{Field: aName, Reason: "is required (or give " + bName + ")"}}
	}
	return nil
}

// resolveModel finds the model a request names, or maps its architecture.
func (e *Engine) resolveModel(id string, arch *Architecture, use *CatalogUse) (sizing.Arch, Subject, []assessment.FieldError) {
	if arch != nil {
		name := arch.Name
		if name == "" {
			name = "custom architecture"
		}
		a := archOfInput(arch)
		return a, Subject{Name: name, ParamsTotalB: a.ParamsTotalB, ParamsActiveB: arch.ActiveParamsBillion}, nil
	}
	m, ok := e.cat.Model(id)
	if !ok {
		return sizing.Arch{}, Subject{}, []assessment.FieldError{{Field: "model",
			Reason: fmt.Sprintf("%q is not in the catalogue (known: %s); describe other models with architecture", id, strings.Join(e.cat.ModelIDs(), ", "))}}
	}
	use.add("models", m.ID, m.Source)
	return archOf(m), Subject{ID: m.ID, Name: m.Name, ParamsTotalB: m.ParamsTotalB, ParamsActiveB: m.ParamsActiveB}, nil
}

// hardware is the GPU of an estimate, the instance asked for (if any) and
// the instances costs are shown for.
type hardware struct {
	gpu        catalog.GPU
	instance   *catalog.Instance
	candidates []catalog.Instance
}

// resolveHardware finds the GPU or instance a request names.
func (e *Engine) resolveHardware(gpuID string, ref *InstanceRef, use *CatalogUse) (hardware, []assessment.FieldError) {
	var h hardware
	if ref != nil {
		in, ok := e.cat.Instance(ref.Provider, ref.Name)
		if !ok {
			var names []string
			for _, i := range e.cat.InstancesOf(ref.Provider) {
				names = append(names, i.Name)
			}
			return h, []assessment.FieldError{{Field: "instance.name",
				Reason: fmt.Sprintf("%s has no instance %q in the catalogue (known: %s)", ref.Provider, ref.Name, strings.Join(names, ", "))}}
		}
		if !in.HasGPU() {
			return h, []assessment.FieldError{{Field: "instance.name",
				Reason: fmt.Sprintf("%s %s is a CPU machine (priced for services); name a GPU machine", ref.Provider, ref.Name)}}
		}
		g, ok := e.cat.GPU(in.GPU)
		if !ok {
			// Load cross-checks every instance's GPU, so this is a broken catalogue.
			return h, []assessment.FieldError{{Field: "instance.name", Reason: fmt.Sprintf("the catalogue has no GPU %q for %s", in.GPU, in.Name)}}
		}
		h.gpu, h.instance, h.candidates = g, &in, []catalog.Instance{in}
	} else {
		g, ok := e.cat.GPU(gpuID)
		if !ok {
			ids := make([]string, 0, len(e.cat.GPUs))
			for _, g := range e.cat.GPUs {
				ids = append(ids, g.ID)
			}
			return h, []assessment.FieldError{{Field: "gpu",
				Reason: fmt.Sprintf("%q is not in the catalogue (known: %s)", gpuID, strings.Join(ids, ", "))}}
		}
		h.gpu = g
		// One candidate per instance type, in its cheapest price region (the catalogue has a row
		// per region; the cost shown names the region).
		seen := map[string]bool{}
		for _, in := range e.cat.InstancesOf("") {
			if in.GPU != g.ID || seen[in.Provider+"/"+in.Name] {
				continue
			}
			seen[in.Provider+"/"+in.Name] = true
			if cheapest, ok := e.cat.Instance(in.Provider, in.Name); ok {
				h.candidates = append(h.candidates, cheapest)
			}
		}
	}
	use.add("gpus", h.gpu.ID, h.gpu.Source)
	return h, nil
}

// requestField names the request field behind a calculator's input field.
func requestField(f string, fromArchitecture bool) string {
	switch f {
	case "weights":
		return "precision"
	case "kv", "kv_precision":
		return "kv_cache_precision"
	case "tokens_b":
		return "tokens_billion"
	}
	if !fromArchitecture {
		return f
	}
	switch f {
	case "params_total_b":
		return "architecture.total_params_billion"
	case "params_active_b":
		return "architecture.active_params_billion"
	case "layers", "kv_heads", "head_dim", "attention", "mla_latent_dim", "hidden_size":
		return "architecture." + f
	}
	return f
}

// fromSizing turns a calculator's input error into an *InvalidInputError
// naming the input field; other errors pass through as failures.
func fromSizing(err error, fromArchitecture bool) error {
	var ie *sizing.InputError
	if errors.As(err, &ie) {
		return invalid([]assessment.FieldError{{Field: requestField(ie.Field, fromArchitecture), Reason: ie.Reason}})
	}
	return fmt.Errorf("estimate: %w", err)
}

func (s SLO) sizing() sizing.SLO {
	return sizing.SLO{TTFTp95ms: s.TTFTp95ms, ITLms: s.InterTokenLatencyMs, MinTokensPerSecPerUser: s.MinTokensPerSecondPerUser}
}

// Inference sizes one serving deployment. Input it refuses is an
// *InvalidInputError naming each field; a model that does not fit or an SLO
// no replica meets is an answer with Feasible false.
func (e *Engine) Inference(req InferenceInput) (*Inference, error) {
	if fes := req.Check(); len(fes) > 0 {
		return nil, invalid(fes)
	}
	ans := &Inference{
		Precision: req.Precision, KVCachePrecision: req.KVCachePrecision, Instance: req.Instance,
		InputTokens: req.InputTokens, OutputTokens: req.OutputTokens,
		Costs: []InstanceCost{}, Catalog: CatalogUse{Version: e.cat.Version, Rows: []CatalogRow{}},
		Working: sizing.Working{Assumptions: []string{}, Formulas: []string{}},
	}
	fes := oneOf("model", req.Model != "", "architecture", req.Architecture != nil)
	fes = append(fes, oneOf("gpu", req.GPU != "", "instance", req.Instance != nil)...)
	if len(fes) > 0 {
		return nil, invalid(fes)
	}
	arch, model, mfes := e.resolveModel(req.Model, req.Architecture, &ans.Catalog)
	hw, hfes := e.resolveHardware(req.GPU, req.Instance, &ans.Catalog)
	if fes = append(mfes, hfes...); len(fes) > 0 {
		return nil, invalid(fes)
	}
	if hw.instance != nil && req.TensorParallel > hw.instance.GPUCount {
		return nil, invalid([]assessment.FieldError{{Field: "tensor_parallel",
			Reason: fmt.Sprintf("is larger than the %d GPUs of %s", hw.instance.GPUCount, hw.instance.Name)}})
	}
	fromArch := req.Architecture != nil
	ans.Model = model
	ans.GPU = Subject{ID: hw.gpu.ID, Name: hw.gpu.Name, MemoryGB: hw.gpu.MemoryGB}
	w := &ans.Working
	if ans.KVCachePrecision == "" {
		ans.KVCachePrecision = string(defaultKVPrecision)
		assume(w, "no kv_cache_precision given: the KV cache is 16-bit (bf16), the serving engines' default")
	}
	p, kv := sizing.Precision(req.Precision), sizing.Precision(ans.KVCachePrecision)
	sz := tpSizer{e: e, req: req, arch: arch, model: model, hw: hw, p: p, kv: kv, fromArch: fromArch}
	if req.TensorParallel > 0 {
		out, err := sz.at(ans, req.TensorParallel)
		if err != nil {
			return nil, err
		}
		out.TensorParallelChosen = "requested"
		return out, nil
	}

	// No tensor_parallel: every degree that fits is sized and priced, and the cheapest that meets the
	// targets wins (the planner's rule): the lowest pessimistic monthly cost for the peak when a peak is
	// given, else the lowest pessimistic cost per million output tokens, else the fewest GPUs.
	maxGPUs := sizing.MaxTensorParallel
	if hw.instance != nil {
		maxGPUs = min(maxGPUs, hw.instance.GPUCount)
	}
	var all []*Inference
	for tp := 1; tp <= maxGPUs; tp *= 2 {
		out, err := sz.at(ans, tp)
		if err != nil {
			return nil, err
		}
		all = append(all, out)
	}
	layouts := make([]LayoutView, len(all))
	var best, fallback *Inference
	bestAt := -1
	for i, a := range all {
		layouts[i] = layoutOf(a)
		if a.Memory.Fits {
			fallback = a
		}
		if a.Feasible && (bestAt < 0 || layouts[i].score < layouts[bestAt].score) {
			best, bestAt = a, i
		}
	}
	switch {
	case best != nil:
	case fallback != nil:
		best = fallback
	default:
		// Nothing fits: answer with the largest group's memory and say so.
		best = all[len(all)-1]
		best.TensorParallel = 0
		best.Reason = fmt.Sprintf("%s (%s, %.4g GB of weights) and one %d-token sequence do not fit on up to %d x %s, the largest tensor-parallel group considered; a lower precision or a GPU with more memory may fit it",
			model.Name, p, best.Memory.WeightsGB, req.InputTokens+req.OutputTokens, maxGPUs, hw.gpu.Name)
	}
	best.TensorParallelChosen = "cheapest that meets the targets"
	best.Layouts = layouts
	if best.Feasible {
		var runner *LayoutView
		for i := range layouts {
			if layouts[i].TensorParallel != best.TensorParallel && layouts[i].Feasible &&
				(runner == nil || layouts[i].score < runner.score) {
				runner = &layouts[i]
			}
		}
		won := layouts[bestAt]
		if runner != nil {
			formula(&best.Working, "layout: %s beats %s (tensor parallel 1-%d sized; the cheapest meeting the targets wins)", won.describe(), runner.describe(), maxGPUs)
		} else {
			formula(&best.Working, "layout: %s, the only tensor-parallel degree up to %d that meets the targets", won.describe(), maxGPUs)
		}
	} else if best.TensorParallel > 0 && len(all) > 1 {
		var why []string
		for _, l := range layouts {
			if l.Reason != "" {
				why = append(why, fmt.Sprintf("TP %d: %s", l.TensorParallel, l.Reason))
			}
		}
		best.Reason = "no tensor-parallel degree meets the targets: " + strings.Join(why, "; ")
	}
	return best, nil
}

// LayoutView is one tensor-parallel degree an inference estimate sized.
type LayoutView struct {
	TensorParallel int
	Fits           bool
	Feasible       bool
	Reason         string
	MaxConcurrency int
	// Replicas is the count for the peak, when a peak is given.
	Replicas *sizing.Range
	// CheapestMonthlyUSDForPeak and CheapestUSDPerMillionOutputTokens are the best over the priced instances.
	CheapestMonthlyUSDForPeak         *sizing.Range
	CheapestUSDPerMillionOutputTokens *sizing.Range
	CheapestInstance                  string
	score                             float64
}

// describe says a layout's figures in the working: "TP 8: 1-2 replicas, $21,996-$43,992 a month on aws/g6e.48xlarge".
func (l LayoutView) describe() string {
	out := fmt.Sprintf("TP %d", l.TensorParallel)
	if l.Replicas != nil {
		out += ": " + span.Format("%.0f", l.Replicas.Low, l.Replicas.High) + " replicas"
	} else if l.MaxConcurrency > 0 {
		out += fmt.Sprintf(": %d requests in flight per replica", l.MaxConcurrency)
	}
	switch {
	case l.CheapestMonthlyUSDForPeak != nil:
		out += fmt.Sprintf(", %s a month on %s", span.Format("$%.0f", l.CheapestMonthlyUSDForPeak.Low, l.CheapestMonthlyUSDForPeak.High), l.CheapestInstance)
	case l.CheapestUSDPerMillionOutputTokens != nil:
		out += fmt.Sprintf(", %s per million output tokens on %s", span.Format("$%.4g", l.CheapestUSDPerMillionOutputTokens.Low, l.CheapestUSDPerMillionOutputTokens.High), l.CheapestInstance)
	}
	return out
}

// layoutOf summarises one degree's answer and scores it for ranking feasible answers: pessimistic
// monthly cost for the peak, else pessimistic cost per million output tokens, else GPUs.
func layoutOf(a *Inference) LayoutView {
	v := LayoutView{TensorParallel: a.tried, Fits: a.Memory.Fits, Feasible: a.Feasible, Reason: a.Reason, score: float64(a.tried)}
	if a.Capacity != nil {
		v.MaxConcurrency = a.Capacity.MaxConcurrency
	}
	if a.Replicas != nil {
		r := a.Replicas.Replicas
		v.Replicas = &r
	}
	for _, c := range a.Costs {
		if !c.Fits {
			continue
		}
		name := c.Provider + "/" + c.Name
		if c.MonthlyUSDForPeak != nil && (v.CheapestMonthlyUSDForPeak == nil || c.MonthlyUSDForPeak.High < v.CheapestMonthlyUSDForPeak.High) {
			m := *c.MonthlyUSDForPeak
			v.CheapestMonthlyUSDForPeak, v.CheapestInstance = &m, name
		}
		if v.CheapestMonthlyUSDForPeak == nil && c.USDPerMillionOutputTokens != nil &&
			(v.CheapestUSDPerMillionOutputTokens == nil || c.USDPerMillionOutputTokens.High < v.CheapestUSDPerMillionOutputTokens.High) {
			m := *c.USDPerMillionOutputTokens
			v.CheapestUSDPerMillionOutputTokens, v.CheapestInstance = &m, name
		}
	}
	switch {
	case v.CheapestMonthlyUSDForPeak != nil:
		v.score = 1e6 + v.CheapestMonthlyUSDForPeak.High + v.CheapestMonthlyUSDForPeak.Low*1e-6
	case v.CheapestUSDPerMillionOutputTokens != nil:
		v.score = 1e6 + v.CheapestUSDPerMillionOutputTokens.High + v.CheapestUSDPerMillionOutputTokens.Low*1e-6
	}
	return v
}

// tpSizer sizes one inference request at a given tensor-parallel degree.
type tpSizer struct {
	e        *Engine
	req      InferenceInput
	arch     sizing.Arch
	model    Subject
	hw       hardware
	p, kv    sizing.Precision
	fromArch bool
}

// at sizes the request on tp GPUs per replica, from a copy of base: memory, the concurrency and SLO
// operating points, the replicas for the peak and the costs. A model that does not fit or an SLO the
// replica misses is an answer with Feasible false and the reason.
func (t tpSizer) at(base *Inference, tp int) (*Inference, error) {
	ans := *base
	ans.Working = sizing.Working{Assumptions: slices.Clone(base.Working.Assumptions), Formulas: slices.Clone(base.Working.Formulas)}
	ans.Catalog = CatalogUse{Version: base.Catalog.Version, Rows: slices.Clone(base.Catalog.Rows)}
	ans.Costs = []InstanceCost{}
	ans.TensorParallel, ans.tried = tp, tp
	req, hw, w := t.req, t.hw, &ans.Working
	acc := plan.AcceleratorFromGPU(hw.gpu)
	contextTokens := req.InputTokens + req.OutputTokens
	fit, err := sizing.FitMemory(t.arch, t.p, t.kv, acc, tp, 0, contextTokens)
	if err != nil {
		return nil, fromSizing(err, t.fromArch)
	}
	ans.Memory = memoryOf(fit)
	mergeWorking(w, fit.Working, "")
	if !fit.Fits {
		ans.Reason = fmt.Sprintf("%s (%s, %.4g GB of weights) and one %d-token sequence do not fit %d x %s; a larger tensor_parallel, a lower precision or a GPU with more memory may fit it",
			t.model.Name, t.p, fit.WeightsGB, contextTokens, tp, hw.gpu.Name)
		return &ans, nil
	}

	in := sizing.ServingInput{Arch: t.arch, Weights: t.p, KV: t.kv, GPU: acc, TensorParallel: tp,
		InputTokens: req.InputTokens, OutputTokens: req.OutputTokens}
	hasSLO := req.SLO != nil && (req.SLO.TTFTp95ms > 0 || req.SLO.InterTokenLatencyMs > 0 || req.SLO.MinTokensPerSecondPerUser > 0)
	concurrency := req.Concurrency
	if concurrency == 0 && !hasSLO {
		concurrency = 1
		assume(w, "no concurrency or slo given: one request at a time")
	}
	// operating is the per-replica point peak traffic and cost are sized at:
	// the capacity at the SLO when one is given, otherwise the concurrency.
	var operating sizing.ServingEstimate
	if concurrency > 0 {
		in.Concurrency = concurrency
		est, err := sizing.EstimateServing(in)
		if err != nil {
			return nil, fromSizing(err, t.fromArch)
		}
		ans.AtConcurrency = pointOf(concurrency, est)
		mergeWorking(w, est.Working, "")
		operating = est
	}
	if hasSLO {
		c, err := sizing.CapacityAtSLO(in, req.SLO.sizing())
		if err != nil {
			return nil, fromSizing(err, t.fromArch)
		}
		ans.Capacity = &CapacityView{Meets: c.Meets, MaxConcurrency: c.MaxConcurrency, Limit: c.Limit, Reason: c.Reason}
		if !c.Meets {
			ans.Reason = fmt.Sprintf("the SLO cannot be met on %d x %s: %s", tp, hw.gpu.Name, c.Reason)
			mergeWorking(w, c.Working, "")
			return &ans, nil
		}
		ans.Capacity.AtCapacity = pointOf(c.MaxConcurrency, c.ServingEstimate)
		mergeWorking(w, c.Working, fmt.Sprintf("at the SLO capacity (concurrency %d): ", c.MaxConcurrency))
		if ans.AtConcurrency != nil {
			meets := concurrency <= c.MaxConcurrency
			ans.AtConcurrency.MeetsSLO = &meets
		}
		operating = c.ServingEstimate
		assume(w, "peak replicas and cost per token are sized at the SLO capacity, %d requests in flight per replica", c.MaxConcurrency)
	}

	if req.PeakRequestsPerSecond > 0 {
		low, high, err := sizing.Replicas(req.PeakRequestsPerSecond, operating.RequestsPerSec, req.Headroom)
		if err != nil {
			return nil, fromSizing(err, t.fromArch)
		}
		ans.Replicas = &ReplicasView{PeakRequestsPerSecond: req.PeakRequestsPerSecond, Headroom: req.Headroom,
			PerReplicaRequestsPerSec: operating.RequestsPerSec, Replicas: sizing.Range{Low: float64(low), High: float64(high)}}
		// Replicas = ceil(peak x (1 + headroom) / per-replica rate) (Little's law capacity rule).
		formula(w, "replicas = ceil(%.4g requests/s x (1 + %.4g) / %s requests/s per replica) = %s",
			req.PeakRequestsPerSecond, req.Headroom, operating.RequestsPerSec, span.Format("%d", low, high))
		if req.Headroom == 0 {
			assume(w, "no headroom: the peak is carried with nothing to spare")
		}
	}
	ans.Costs = servingCosts(hw, tp, operating.OutputTokensPerSec, ans.Replicas, w, &ans.Catalog)
	ans.Feasible = true
	return &ans, nil
}

// servingCosts prices one replica (and the peak, if sized) on each candidate
// instance.
func servingCosts(hw hardware, tp int, tokensPerSec sizing.Range, reps *ReplicasView, w *sizing.Working, use *CatalogUse) []InstanceCost {
	out := []InstanceCost{}
	if len(hw.candidates) == 0 {
		assume(w, "the catalogue lists no instance with %s, so no cost is shown", hw.gpu.Name)
		return out
	}
	assume(w, "on-demand prices in each instance's price region, %g hours a month; cost per token assumes each replica is kept busy at the operating point", plan.HoursPerMonth)
	for _, in := range hw.candidates {
		use.add("instances", in.Provider+"/"+in.Name, in.Source)
		c := InstanceCost{Provider: in.Provider, Name: in.Name, GPUCount: in.GPUCount, PriceRegion: in.PriceRegion, OnDemandHourlyUSD: in.OnDemandHourly}
		if in.GPUCount < tp {
			c.Reason = fmt.Sprintf("a replica needs %d GPUs in one machine; this one has %d", tp, in.GPUCount)
			out = append(out, c)
			continue
		}
		c.Fits = true
		c.ReplicasPerInstance = in.GPUCount / tp
		c.InstanceMonthlyUSD = in.OnDemandHourly * plan.HoursPerMonth
		replicaHourly := in.OnDemandHourly / float64(c.ReplicasPerInstance)
		if tokensPerSec.Low > 0 {
			// USD per million tokens = replica USD/h / (tokens/s x 3600 s/h) x 1e6.
			r := sizing.NewRange(replicaHourly/(tokensPerSec.High*3600)*1e6, replicaHourly/(tokensPerSec.Low*3600)*1e6)
			c.USDPerMillionOutputTokens = &r
			formula(w, "%s/%s: %d GPUs / TP %d = %d replicas; $%.4g/h / %d / (%s output tokens/s x 3600) x 1e6 = $%s per million output tokens",
				in.Provider, in.Name, in.GPUCount, tp, c.ReplicasPerInstance, in.OnDemandHourly, c.ReplicasPerInstance, tokensPerSec, r)
		}
		if reps != nil {
			per := float64(c.ReplicasPerInstance)
			n := sizing.Range{Low: math.Ceil(reps.Replicas.Low / per), High: math.Ceil(reps.Replicas.High / per)}
			cost := n.Scale(c.InstanceMonthlyUSD)
			c.InstancesForPeak, c.MonthlyUSDForPeak = &n, &cost
			formula(w, "%s/%s for the peak: ceil(%s replicas / %d per machine) = %s machines x $%.4g/h x %g h = %s a month",
				in.Provider, in.Name, reps.Replicas, c.ReplicasPerInstance, n, in.OnDemandHourly, plan.HoursPerMonth, span.Format("$%.0f", cost.Low, cost.High))
		}
		out = append(out, c)
	}
	return out
}

// Training sizes one training run. Input it refuses is an
// *InvalidInputError naming each field; model states that do not fit a GPU
// are an answer with Feasible false.
func (e *Engine) Training(req TrainingInput) (*Training, error) {
	if fes := req.Check(); len(fes) > 0 {
		return nil, invalid(fes)
	}
	ans := &Training{
		Method: req.Method, Precision: req.Precision, Instance: req.Instance,
		Costs: []InstanceCost{}, Catalog: CatalogUse{Version: e.cat.Version, Rows: []CatalogRow{}},
		Working: sizing.Working{Assumptions: []string{}, Formulas: []string{}},
	}
	fes := oneOf("model", req.Model != "", "architecture", req.Architecture != nil)
	fes = append(fes, oneOf("gpu", req.GPU != "", "instance", req.Instance != nil)...)
	fes = append(fes, oneOf("tokens_billion", req.TokensBillion > 0, "dataset_tokens_billion", req.DatasetTokensBillion > 0)...)
	if req.GPU != "" && req.Instance == nil && req.GPUs == 0 {
		fes = append(fes, assessment.FieldError{Field: "gpus", Reason: "is required with gpu (with instance it defaults to the instance's GPU count)"})
	}
	if len(fes) > 0 {
		return nil, invalid(fes)
	}
	arch, model, mfes := e.resolveModel(req.Model, req.Architecture, &ans.Catalog)
	hw, hfes := e.resolveHardware(req.GPU, req.Instance, &ans.Catalog)
	if fes = append(mfes, hfes...); len(fes) > 0 {
		return nil, invalid(fes)
	}
	w := &ans.Working
	ans.Model = model
	ans.GPU = Subject{ID: hw.gpu.ID, Name: hw.gpu.Name, MemoryGB: hw.gpu.MemoryGB}
	ans.TokensBillion = req.TokensBillion
	if ans.TokensBillion == 0 {
		ans.TokensBillion = req.DatasetTokensBillion * req.Epochs
		formula(w, "training tokens = %.4g B dataset tokens x %.4g epochs = %.4g B", req.DatasetTokensBillion, req.Epochs, ans.TokensBillion)
	}
	ans.GPUs = req.GPUs
	if ans.GPUs == 0 {
		ans.GPUs = hw.instance.GPUCount
		assume(w, "no gpus given: the run uses the %d GPUs of one %s", ans.GPUs, hw.instance.Name)
	}
	in := sizing.TrainingInput{Arch: arch, TokensB: ans.TokensBillion, Method: req.Method, Precision: sizing.Precision(req.Precision),
		GPU: plan.AcceleratorFromGPU(hw.gpu), GPUs: ans.GPUs, LoRARank: req.LoRARank}
	if m, ok := e.cat.Model(req.Model); ok && req.Architecture == nil {
		in.Heads = m.Heads
	}
	if hw.instance != nil {
		in.GPUsPerNode = hw.instance.GPUCount
	}
	if req.MFU != nil {
		// A stated MFU of 0 is a mistake, not "use the default": no run does
		// useful work at zero utilisation.
		if req.MFU.Low <= 0 || req.MFU.High <= 0 {
			return nil, invalid([]assessment.FieldError{{Field: "mfu", Reason: "low and high must be greater than 0 (model FLOPs utilisation, within (0, 1])"}})
		}
		in.MFU = *req.MFU
	}
	est, err := sizing.EstimateTraining(in)
	if err != nil {
		return nil, fromSizing(err, req.Architecture != nil)
	}
	ans.MFU = in.MFU
	if ans.MFU.IsZero() {
		ans.MFU = sizing.DefaultMFU()
	}
	ans.FLOPs, ans.FLOPsRange, ans.GPUHours, ans.WallClockHours = est.FLOPs, est.FLOPsRange, est.GPUHours, est.WallClockHours
	ch := est.Chosen
	ans.MemoryPerGPUGB, ans.FitsPerGPU, ans.MethodMemoryGB = est.MemoryPerGPUGB, est.FitsPerGPU, ch.StatesGB
	ans.Strategy, ans.StrategyDescription, ans.Parallelism, ans.MinGPUs = ch.Strategy, ch.Description, ch.Parallelism, ch.MinGPUs
	ans.ActivationsGB, ans.MemoryWithActivationsGB, ans.UsableMemoryGB = ch.ActivationsGB, ch.MemoryPerGPUGB, ch.UsableGB
	ans.SeqTokens, ans.PipelineBubble, ans.Methods = est.SeqTokens, est.PipelineBubble, est.Methods
	mergeWorking(w, est.Working, "")
	if !est.FitsPerGPU {
		ans.Reason = trainingShortfall(req.Method, ans.GPUs, hw.gpu.Name, est)
		return ans, nil
	}
	ans.Costs = trainingCosts(hw, ans.GPUs, est.WallClockHours, w, &ans.Catalog)
	ans.Feasible = true
	return ans, nil
}

// trainingShortfall says why a run does not fit its GPUs, how many it fits on, and which cheaper
// method fits the GPUs given.
func trainingShortfall(method string, gpus int, gpu string, est sizing.TrainingEstimate) string {
	ch := est.Chosen
	if ch.MinGPUs == 0 {
		return fmt.Sprintf("%s training fits no layout on %s up to %d GPUs: at %d tokens per sequence the activations and gathered layers (%s GB per GPU) leave no room for the states in the %.4g GB usable; a GPU with more memory may",
			method, gpu, sizing.MaxTrainingGPUs, est.SeqTokens, ch.ActivationsGB, ch.UsableGB)
	}
	why := fmt.Sprintf("%s training needs %s GB per GPU on %d x %s (%.4g GB of model and optimizer states + %s GB of activations), more than the %.4g GB usable",
		method, ch.MemoryPerGPUGB, gpus, gpu, ch.StatesGB, ch.ActivationsGB, ch.UsableGB)
	// The fewest GPUs, in the layout that gets there: ZeRO-3/FSDP divides the states by the
	// data-parallel degree (ZeRO, arXiv 1910.02054; FSDP, arXiv 2304.11277); tensor x pipeline
	// parallelism splits the layers (Megatron-LM, arXiv 2104.04473).
	par := ch.MinParallelism
	switch ch.Layout {
	case sizing.TrainingSharded:
		why += fmt.Sprintf("; ZeRO-3/FSDP spreads them thinly enough from %d GPUs (%s GB per GPU)", ch.MinGPUs, ch.MemoryAtMinGB)
	case sizing.TrainingModelParallel:
		why += fmt.Sprintf("; tensor parallel %d x pipeline %d spreads them thinly enough from %d GPUs (%s GB per GPU)", par.Tensor, par.Pipeline, ch.MinGPUs, ch.MemoryAtMinGB)
	}
	// A method with fewer bytes per parameter that fits the GPUs given.
	lighter := map[string][]string{sizing.MethodFull: {sizing.MethodLoRA, sizing.MethodQLoRA}, sizing.MethodLoRA: {sizing.MethodQLoRA}}[method]
	for _, m := range est.Methods {
		if m.Fits && slices.Contains(lighter, m.Method) {
			why += fmt.Sprintf("; %s needs %s GB per GPU and fits (%s)", m.Method, m.MemoryPerGPUGB, m.Description)
		}
	}
	return why
}

// multiMachineGPU reports whether machines of this GPU are planned for multi-machine training: 8-GPU
// NVLink (SXM) machines, the HGX-class instances clouds pair with an RDMA fabric (AWS EFA, Azure
// InfiniBand, GCP GPUDirect), as the planner decides (pkg/advisor/plan planTraining).
func multiMachineGPU(in catalog.Instance, g catalog.GPU) bool {
	return in.GPUCount >= sizing.MaxTensorParallel && strings.Contains(g.Interconnect, "SXM")
}

// trainingCosts prices the run on each candidate instance: whole machines
// are rented for the wall-clock time.
func trainingCosts(hw hardware, gpus int, wallClock sizing.Range, w *sizing.Working, use *CatalogUse) []InstanceCost {
	out := []InstanceCost{}
	if len(hw.candidates) == 0 {
		assume(w, "the catalogue lists no instance with %s, so no cost is shown", hw.gpu.Name)
		return out
	}
	assume(w, "on-demand prices in each instance's price region; whole machines are rented for the wall-clock time")
	for _, in := range hw.candidates {
		use.add("instances", in.Provider+"/"+in.Name, in.Source)
		machines := (gpus + in.GPUCount - 1) / in.GPUCount
		cost := wallClock.Scale(float64(machines) * in.OnDemandHourly)
		c := InstanceCost{Provider: in.Provider, Name: in.Name, GPUCount: in.GPUCount, PriceRegion: in.PriceRegion,
			OnDemandHourlyUSD: in.OnDemandHourly, Fits: true, Instances: machines, RunUSD: &cost}
		if machines > 1 && !multiMachineGPU(in, hw.gpu) {
			c.Fits = false
			c.Reason = fmt.Sprintf("%d GPUs span %d machines of %d; multi-machine training is planned only on 8-GPU NVLink machines with an RDMA fabric",
				gpus, machines, in.GPUCount)
		}
		formula(w, "%s/%s: ceil(%d GPUs / %d per machine) = %d machines x $%.4g/h x %s h = %s",
			in.Provider, in.Name, gpus, in.GPUCount, machines, in.OnDemandHourly, wallClock, span.Format("$%.0f", cost.Low, cost.High))
		out = append(out, c)
	}
	return out
}
