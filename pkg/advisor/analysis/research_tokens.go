package analysis

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// researchAlternatives is how many GPU alternatives are shown per workload:
// the cheapest few by cost per token, enough to compare without burying
// the reader.
const researchAlternatives = 4

// servedModel is an LLM workload's model, as the sizing calculators need it.
type servedModel struct {
	index   int
	label   string
	w       *inframindv1.Workload
	arch    sizing.Arch
	name    string
	source  string
	weights sizing.Precision
	kv      sizing.Precision
	in, out int
	slo     sizing.SLO
}

// servesModel reports whether a workload generates tokens with an LLM.
func servesModel(w *inframindv1.Workload) bool {
	switch norm(w.GetKind()) {
	case "llm_serving", "batch_inference":
		return true
	case "rag":
		return w.GetModel() != "" || w.GetArchitecture() != nil || w.GetParamsBillion() > 0
	}
	return false
}

// researchPrecision reads a precision field; empty means 16-bit (the
// precision open models are published in, and vLLM's default KV cache).
func researchPrecision(field, v string) (sizing.Precision, error) {
	switch p := sizing.Precision(norm(v)); p {
	case "":
		return sizing.BF16, nil
	case sizing.BF16, sizing.FP16, sizing.FP8, sizing.INT8, sizing.INT4:
		return p, nil
	default:
		return "", unanalysable("%s: unknown precision %q (one of bf16, fp8, int8, int4)", field, v)
	}
}

// resolveServedModel maps an LLM workload onto the sizing inputs. It returns
// ok=false with a finding when data the sizing needs is missing, and an error
// only for malformed input.
func resolveServedModel(cat *catalog.Catalog, i int, w *inframindv1.Workload) (servedModel, *inframindv1.Finding, error) {
	m := servedModel{index: i, label: workloadLabel(i, w), w: w}
	var err error
	if m.weights, err = researchPrecision(fmt.Sprintf("workloads[%d].precision", i), w.GetPrecision()); err != nil {
		return m, nil, err
	}
	if m.kv, err = researchPrecision(fmt.Sprintf("workloads[%d].kv_cache_precision", i), w.GetKvCachePrecision()); err != nil {
		return m, nil, err
	}
	switch a := w.GetArchitecture(); {
	case w.GetModel() != "":
		row, ok := cat.Model(w.GetModel())
		if !ok {
			return m, finding(severityMedium, "Unknown model for "+m.label,
				fmt.Sprintf("workloads[%d].model %q is not in the catalogue (known: %s), so no cost per token is computed for it.", i, w.GetModel(), strings.Join(cat.ModelIDs(), ", "))), nil
		}
		m.name, m.source = row.Name, rowSource(row.Source)
		m.arch = sizing.Arch{ParamsTotalB: row.ParamsTotalB, ParamsActiveB: row.ParamsActiveB, Layers: row.Layers, KVHeads: row.KVHeads,
			HeadDim: row.HeadDim, Attention: row.Attention, MLALatentDim: row.MLALatentDim, HiddenSize: row.Hidden,
			Experts: row.Experts, ExpertsPerToken: row.ActiveExperts}
	case a != nil:
		m.name, m.source = a.GetName(), fmt.Sprintf("the request's workloads[%d].architecture", i)
		if m.name == "" {
			m.name = "custom architecture"
		}
		m.arch = sizing.Arch{ParamsTotalB: a.GetTotalParamsBillion(), ParamsActiveB: assessment.ActiveParamsBillion(a), Layers: int(a.GetLayers()),
			KVHeads: int(a.GetKvHeads()), HeadDim: int(a.GetHeadDim()), Attention: norm(a.GetAttention()), MLALatentDim: int(a.GetMlaLatentDim()),
			HiddenSize: int(a.GetHiddenSize())}
	default:
		return m, finding(severityLow, "No architecture for "+m.label,
			fmt.Sprintf("%s gives only a parameter count (or no model), so its KV cache, and hence its throughput and cost per token, cannot be sized; name a catalogue model or give workloads[%d].architecture.", m.label, i)), nil
	}
	if err := m.arch.Validate(); err != nil {
		return m, nil, unanalysable("workloads[%d].architecture: %v", i, err)
	}
	m.in, m.out = int(w.GetMeanInputTokens()), int(w.GetMeanOutputTokens())
	if m.in <= 0 || m.out <= 0 {
		return m, finding(severityLow, "Token lengths not stated for "+m.label,
			fmt.Sprintf("workloads[%d].mean_input_tokens and mean_output_tokens are needed to size throughput per GPU; without them no cost per token is computed.", i)), nil
	}
	m.slo = sizing.SLO{TTFTp95ms: w.GetTtftP95Ms(), ITLms: w.GetInterTokenLatencyMs(), MinTokensPerSecPerUser: w.GetMinTokensPerSecondPerUser()}
	return m, nil, nil
}

// sloText states the SLO a throughput was sized at.
func sloText(s sizing.SLO) string {
	var parts []string
	if s.TTFTp95ms > 0 {
		parts = append(parts, "TTFT p95 <= "+num(s.TTFTp95ms)+" ms")
	}
	if s.ITLms > 0 {
		parts = append(parts, "inter-token latency <= "+num(s.ITLms)+" ms")
	}
	if s.MinTokensPerSecPerUser > 0 {
		parts = append(parts, ">= "+num(s.MinTokensPerSecPerUser)+" tokens/s per user")
	}
	if len(parts) == 0 {
		return "no latency SLO stated (concurrency up to what the KV cache holds)"
	}
	return strings.Join(parts, ", ")
}

// precisionSupported is Infra Mind's rule for which GPUs run a precision:
// FP8 weights need native FP8 (Hopper, Ada; the catalogue's fp8_tflops > 0),
// and every precision needs 16-bit activations in BF16 or FP16.
func precisionSupported(p sizing.Precision, g catalog.GPU) bool {
	if p == sizing.FP8 && g.FP8TFLOPS <= 0 {
		return false
	}
	return g.BF16TFLOPS > 0 || g.FP16TFLOPS > 0
}

// shownMisses is how many instances that miss the SLO a finding names.
const shownMisses = 3

// tokenAlternative is one instance running the model, with its cost per
// million output tokens at the SLO.
type tokenAlternative struct {
	in            *catalog.Instance
	gpu           catalog.GPU
	tp, replicas  int
	cap           sizing.Capacity
	tokensPerSec  sizing.Range // whole machine
	usdPerMTok    sizing.Range
	formula, tput string
}

// explain writes the working of an alternative's throughput and cost.
func (a *tokenAlternative) explain(m servedModel) {
	c := a.cap
	a.tput = fmt.Sprintf("%s of TP %d x %s output tokens/s at concurrency %d (%s; sizing.CapacityAtSLO, limited by %s; the cheapest tensor-parallel degree) = %s tokens/s",
		plural(a.replicas, "replica"), a.tp, c.OutputTokensPerSec, c.MaxConcurrency, sloText(m.slo), c.Limit, a.tokensPerSec)
	a.formula = fmt.Sprintf("%s %s/h / (%s tokens/s x 3600 s) x 1e6 = %s per million output tokens",
		a.in.Name, rate(a.in.OnDemandHourly), a.tokensPerSec, usdSpan(a.usdPerMTok.Low, a.usdPerMTok.High))
}

// tokenSizing keeps one model's sizing by machine shape for the rows of
// one comparison: the sizing depends on the GPU, its count and the degree
// only, not on the region or the price, so each machine shape is sized
// once and each GPU and degree's capacity is computed once.
type tokenSizing struct {
	m      servedModel
	shapes map[tokenShape]*shapeSizing
	caps   map[tokenShape]sizing.Capacity
}

// tokenShape is a GPU (its position in the catalogue's GPUs) and a count:
// GPUs in a machine, or a degree.
type tokenShape struct {
	gpu, n int
}

// shapeSizing is the model on one machine shape: every tensor-parallel
// degree that holds it and meets the SLO, or why none does.
type shapeSizing struct {
	fits    bool
	degrees []tokenDegree
	// reason is why the first degree that holds the model misses the SLO,
	// when one does.
	reason string
}

// tokenDegree is one tensor-parallel degree on a machine shape.
type tokenDegree struct {
	tp, replicas int
	cap          sizing.Capacity
	tokensPerSec sizing.Range // whole machine
}

func newTokenSizing(m servedModel) *tokenSizing {
	return &tokenSizing{m: m, shapes: map[tokenShape]*shapeSizing{}, caps: map[tokenShape]sizing.Capacity{}}
}

// shape sizes the model on a machine of in's shape, g being its GPU (at
// position gi), at every tensor-parallel degree that holds it (1, 2, 4, 8 up
// to the machine's GPUs), as many replicas as the machine's GPUs allow, each
// at the largest concurrency meeting the SLO (sizing.CapacityAtSLO). The
// planner searches the same degrees (pkg/advisor/plan). An error names in,
// the first row of the shape.
func (s *tokenSizing) shape(in *catalog.Instance, gi int, g catalog.GPU) (*shapeSizing, error) {
	k := tokenShape{gi, in.GPUCount}
	if sh, ok := s.shapes[k]; ok {
		return sh, nil
	}
	m := s.m
	sh := &shapeSizing{}
	minTP, _, err := sizing.MinTensorParallelFigures(m.arch, m.weights, m.kv, plan.AcceleratorFromGPU(g), in.GPUCount, 0, m.in+m.out)
	switch {
	case errors.Is(err, sizing.ErrDoesNotFit):
		s.shapes[k] = sh
		return sh, nil
	case err != nil:
		return nil, fmt.Errorf("size %s on %s: %w", m.label, in.Name, err)
	}
	sh.fits = true
	for tp := minTP; tp <= in.GPUCount && tp <= sizing.MaxTensorParallel; tp *= 2 {
		c, ok := s.caps[tokenShape{gi, tp}]
		if !ok {
			c, err = sizing.CapacityFigures(sizing.ServingInput{Arch: m.arch, Weights: m.weights, KV: m.kv, GPU: plan.AcceleratorFromGPU(g), TensorParallel: tp,
				InputTokens: m.in, OutputTokens: m.out}, m.slo)
			if err != nil {
				return nil, fmt.Errorf("capacity of %s on %s: %w", m.label, in.Name, err)
			}
			s.caps[tokenShape{gi, tp}] = c
		}
		if !c.Meets {
			if sh.reason == "" {
				sh.reason = c.Reason
			}
			continue
		}
		replicas := in.GPUCount / tp
		sh.degrees = append(sh.degrees, tokenDegree{tp: tp, replicas: replicas, cap: c, tokensPerSec: c.OutputTokensPerSec.Scale(float64(replicas))})
	}
	s.shapes[k] = sh
	return sh, nil
}

// costPerToken prices the model on one instance: at each degree of its
// shape that meets the SLO, USD per million output tokens = hourly price /
// (output tokens/s x 3600) x 1e6, the optimistic throughput giving the low
// end, keeping the degree with the lowest pessimistic cost (the first of
// equals). ok is false when no degree meets the SLO. The working's text is
// left to explain, for the alternatives shown.
func costPerToken(in *catalog.Instance, g catalog.GPU, sh *shapeSizing) (tokenAlternative, bool) {
	var best *tokenDegree
	var bestUSD sizing.Range
	for i := range sh.degrees {
		d := &sh.degrees[i]
		cost := sizing.NewRange(in.OnDemandHourly/(d.tokensPerSec.High*3600)*1e6, in.OnDemandHourly/(d.tokensPerSec.Low*3600)*1e6)
		if best == nil || cost.High < bestUSD.High {
			best, bestUSD = d, cost
		}
	}
	if best == nil {
		return tokenAlternative{}, false
	}
	return tokenAlternative{in: in, gpu: g, tp: best.tp, replicas: best.replicas, cap: best.cap, tokensPerSec: best.tokensPerSec, usdPerMTok: bestUSD}, true
}

// neededClasses returns the GPU classes on which a model fits within one
// in-scope instance, at a precision the GPU runs.
func neededClasses(cat *catalogueIndex, m servedModel, scope []string) []string {
	var out []string
	for _, g := range cat.GPUs {
		if !precisionSupported(m.weights, g) {
			continue
		}
		maxGPUs := 0
		for _, p := range scope {
			maxGPUs = max(maxGPUs, cat.classOf(p, g.ID).maxGPUs)
		}
		if maxGPUs == 0 {
			continue
		}
		if _, _, err := sizing.MinTensorParallelFigures(m.arch, m.weights, m.kv, plan.AcceleratorFromGPU(g), maxGPUs, 0, m.in+m.out); err == nil {
			out = append(out, g.ID)
		}
	}
	return out
}

// tokenResults compares, for one LLM workload, the cheapest few GPU
// alternatives by cost per million output tokens with the hosted APIs'
// prices at the workload's input:output mix.
func tokenResults(cat *catalogueIndex, m servedModel, scope []string) ([]*inframindv1.Metric, []*inframindv1.Finding, error) {
	var metrics []*inframindv1.Metric
	var findings []*inframindv1.Finding
	// best holds each GPU class's cheapest alternative, by position in GPUs.
	best := make([]tokenAlternative, len(cat.GPUs))
	have := make([]bool, len(cat.GPUs))
	supported := make([]bool, len(cat.GPUs))
	for i, g := range cat.GPUs {
		supported[i] = precisionSupported(m.weights, g)
	}
	// The first few misses in catalogue order are shown; only those are
	// written out.
	var rejected []string
	sz := newTokenSizing(m)
	for _, p := range scope {
		for _, r := range cat.gpuRows[p] {
			if !supported[r.gpu] {
				continue
			}
			g := cat.GPUs[r.gpu]
			sh, err := sz.shape(r.in, r.gpu, g)
			if err != nil {
				return nil, nil, err
			}
			if !sh.fits {
				continue
			}
			a, ok := costPerToken(r.in, g, sh)
			if !ok {
				if len(rejected) < shownMisses && sh.reason != "" {
					rejected = append(rejected, fmt.Sprintf("%s %s: %s", p, r.in.Name, sh.reason))
				}
				continue
			}
			if !have[r.gpu] || a.usdPerMTok.High < best[r.gpu].usdPerMTok.High {
				best[r.gpu], have[r.gpu] = a, true
			}
		}
	}
	alts := make([]tokenAlternative, 0, len(best))
	for i, a := range best {
		if have[i] {
			alts = append(alts, a)
		}
	}
	slices.SortFunc(alts, func(a, b tokenAlternative) int {
		switch {
		case a.usdPerMTok.High < b.usdPerMTok.High:
			return -1
		case a.usdPerMTok.High > b.usdPerMTok.High:
			return 1
		}
		return strings.Compare(a.gpu.ID, b.gpu.ID)
	})
	if len(alts) > researchAlternatives {
		alts = alts[:researchAlternatives]
	}
	for i := range alts {
		alts[i].explain(m)
	}
	var lines []string
	for _, a := range alts {
		src := fmt.Sprintf("%s; GPU %s: %s; model %s: %s; sizing calibration: sizing.DefaultEfficiencies (NVIDIA NIM LLM benchmarking documentation: Llama-3.3-70B-Instruct FP8 on 2 x H100, TP 2)",
			rowSource(a.in.Source), a.gpu.ID, rowSource(a.gpu.Source), m.name, m.source)
		metrics = append(metrics,
			rangeEnd(metric("output_tokens_per_sec_low_"+a.gpu.ID, a.tokensPerSec.Low, "tokens/s", a.tput, src, m.label), "output_tokens_per_sec_"+a.gpu.ID, BoundLow),
			rangeEnd(metric("output_tokens_per_sec_high_"+a.gpu.ID, a.tokensPerSec.High, "tokens/s", a.tput, src, m.label), "output_tokens_per_sec_"+a.gpu.ID, BoundHigh),
			rangeEnd(metric("usd_per_mtok_output_low_"+a.gpu.ID, a.usdPerMTok.Low, "USD per million output tokens", a.formula, src, m.label), "usd_per_mtok_output_"+a.gpu.ID, BoundLow),
			rangeEnd(metric("usd_per_mtok_output_high_"+a.gpu.ID, a.usdPerMTok.High, "USD per million output tokens", a.formula, src, m.label), "usd_per_mtok_output_"+a.gpu.ID, BoundHigh),
		)
		lines = append(lines, fmt.Sprintf("%s on %s %s (%s): %s", a.gpu.Name, a.in.Provider, a.in.Name, a.in.PriceRegion, usdSpan(a.usdPerMTok.Low, a.usdPerMTok.High)))
	}

	// Hosted APIs at the same request mix: each output token carries
	// in/out input tokens, so USD per million output tokens = output price +
	// input price x mean_input / mean_output.
	ratio := float64(m.in) / float64(m.out)
	var hosted []string
	minHosted, maxHosted := 0.0, 0.0
	for i, h := range cat.HostedAPIs {
		v := h.OutputUSDPerMTok + h.InputUSDPerMTok*ratio
		metrics = append(metrics, metric(fmt.Sprintf("hosted_usd_per_mtok_output_%s_%s", h.Provider, h.Model), v, "USD per million output tokens",
			fmt.Sprintf("%s output + %s input x %d/%d input tokens per output token = %s", rate(h.OutputUSDPerMTok), rate(h.InputUSDPerMTok), m.in, m.out, usd(v)),
			rowSource(h.Source), m.label))
		hosted = append(hosted, fmt.Sprintf("%s %s %s", h.Provider, h.Model, usd(v)))
		if i == 0 || v < minHosted {
			minHosted = v
		}
		if i == 0 || v > maxHosted {
			maxHosted = v
		}
	}
	assumptions := fmt.Sprintf("Assumptions: %d input and %d output tokens per request, %s weights, %s KV cache, %s; each replica kept busy at the largest concurrency that meets the SLO (at lower load the cost per token rises in proportion); on-demand prices; hosted models are not the same model and differ in quality.",
		m.in, m.out, m.weights, m.kv, sloText(m.slo))
	if len(alts) == 0 {
		detail := fmt.Sprintf("No in-scope instance runs %s within the SLO (%s).", m.name, sloText(m.slo))
		if len(rejected) > 0 {
			detail += " For example: " + strings.Join(rejected, "; ") + "."
		}
		findings = append(findings, finding(severityMedium, "No self-hosted alternative meets the SLO for "+m.label, detail+" Hosted APIs at this mix: "+strings.Join(hosted, ", ")+"."))
		return metrics, findings, nil
	}
	findings = append(findings, finding(severityInfo, fmt.Sprintf("Cost per million output tokens for %s: self-hosted from %s, hosted APIs %s", m.label, usd(alts[0].usdPerMTok.Low), usdSpan(minHosted, maxHosted)),
		fmt.Sprintf("%s self-hosted, cheapest first: %s. Hosted APIs at this workload's input:output mix: %s. %s",
			m.name, strings.Join(lines, "; "), strings.Join(hosted, ", "), assumptions)))
	return metrics, findings, nil
}
