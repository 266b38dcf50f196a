package sizing

import (
	"fmt"
	"math"

	"github.com/infra-mind/infra-mind/pkg/advisor/span"
)

// Training methods.
const (
	MethodFull  = "full"
	MethodLoRA  = "lora"
	MethodQLoRA = "qlora"
)

// Training defaults, each with its source.
const (
	// AdamBytesPerParam is mixed-precision Adam: BF16 weights 2 + gradients 2 + FP32 master 4 + two FP32
	// moments 8 (Rajbhandari et al., ZeRO, arXiv 1910.02054).
	AdamBytesPerParam = 16
	// QLoRABitsPerParam is NF4 storage with double quantisation: 4 bits + 0.127 bits of constants
	// (Dettmers et al., QLoRA, arXiv 2305.14314).
	QLoRABitsPerParam = 4.127
	// DefaultLoRARank is the PEFT library's LoraConfig default r=8, applied to q_proj and v_proj, its
	// default targets for Llama-family models (huggingface/peft peft/utils/constants.py).
	DefaultLoRARank = 8

	// TrainingUsableFraction is the share of a GPU's memory that model states and activations may fill.
	// The rest holds the CUDA context, NCCL buffers, allocator fragmentation and the output logits,
	// which are not modelled: a planning assumption, the same share vLLM leaves free by default
	// (gpu_memory_utilization 0.9).
	TrainingUsableFraction = 0.9
	// DefaultTrainingSeqTokens is the sequence length activations are sized at when none is given:
	// 4096 tokens, Llama 2's training context (Touvron et al., arXiv 2307.09288) and a common
	// fine-tuning length. A planning assumption; longer sequences need more activation memory.
	DefaultTrainingSeqTokens = 4096
	// DefaultTrainingGPUsPerNode is one HGX/DGX-class machine: 8 GPUs on NVLink.
	DefaultTrainingGPUsPerNode = 8
	// MaxTrainingGPUs bounds the minimum-GPU search: four times the 16,384 H100s of Llama 3 405B's
	// pre-training (Llama Team, The Llama 3 Herd of Models, arXiv 2407.21783). A run that needs more
	// is reported as fitting nowhere.
	MaxTrainingGPUs = 65536

	// ZeRO stage 1 (the Megatron-LM distributed optimizer) keeps the 16-bit weights and gradients,
	// 2 + 2 bytes, on every data-parallel copy and shards the 12 bytes of FP32 master weights and Adam
	// moments over the copies: (4 + 12 / N_d) bytes per parameter (ZeRO, arXiv 1910.02054, P_os).
	zeroWeightGradBytes = 4
	zeroOptimizerBytes  = 12

	// Activation bytes per token per layer in units of the hidden size h, 16-bit activations, micro-batch
	// b: s x b x h x (34 + 5 a s / h) without recomputation, 2 s b h (the layer input) with full
	// recomputation, both divided by the tensor-parallel degree t with sequence parallelism (Korthikanti
	// et al., Reducing Activation Recomputation in Large Transformer Models, arXiv 2205.05198, Table 2).
	actCheckpointPerH = 2
	actLayerPerH      = 34
	actScoresPerAS    = 5
	// fsdpUnitsHigh is how many unsharded layers FSDP holds at the pessimistic end: the one computing
	// and the next, prefetched (Zhao et al., PyTorch FSDP, arXiv 2304.11277, sections 3.2 and 4).
	fsdpUnitsHigh = 2
)

// DefaultMFU is model FLOPs utilisation 0.35-0.45, a sound default per the reference (PaLM 540B reached 46.2%,
// Chowdhery et al., arXiv 2204.02311).
func DefaultMFU() Range { return Range{Low: 0.35, High: 0.45} }

// TrainingGlobalBatchTokens is the tokens per optimizer step pipeline bubbles are sized at: 1M (a
// fine-tuning batch, the pessimistic end: fewer micro-batches fill the pipeline) to 4M (Llama 3 405B's
// initial pre-training batch, arXiv 2407.21783 section 3.4.1). A planning assumption.
func TrainingGlobalBatchTokens() Range { return Range{Low: 1e6, High: 4e6} }

// Training memory layouts: how model states sit on the GPUs.
const (
	// TrainingReplicated keeps a whole copy of the states on every GPU (plain data parallelism, DDP).
	TrainingReplicated = "replicated"
	// TrainingSharded shards the states over every GPU (ZeRO-3 / FSDP full sharding).
	TrainingSharded = "sharded"
	// TrainingModelParallel splits each layer over the GPUs of a machine (tensor parallel) and the layers
	// over machines (pipeline stages), with ZeRO-1 over the data-parallel copies (Megatron-LM, Narayanan
	// et al., arXiv 2104.04473).
	TrainingModelParallel = "tensor_pipeline"
)

// TrainingInput describes a training or fine-tuning run.
type TrainingInput struct {
	Arch
	// TokensB is the training tokens in billions (dataset tokens x epochs).
	TokensB float64
	// Method is full, lora or qlora.
	Method string
	// Precision is the compute precision: bf16, fp16 or fp8.
	Precision Precision
	GPU       Accelerator
	GPUs      int
	// MFU is the model FLOPs utilisation range; zero means DefaultMFU.
	MFU Range
	// LoRARank is the adapter rank; zero means DefaultLoRARank.
	LoRARank int
	// Heads is the number of attention (query) heads; zero means hidden size / head dimension.
	Heads int
	// SeqTokens is the training sequence length activations are sized at; zero means
	// DefaultTrainingSeqTokens.
	SeqTokens int
	// GPUsPerNode is the GPUs of one machine (the tensor-parallel limit); zero means
	// DefaultTrainingGPUsPerNode.
	GPUsPerNode int
}

// TrainingParallelism is a run's GPUs as data-parallel copies x tensor-parallel x pipeline stages.
type TrainingParallelism struct {
	Data     int
	Tensor   int
	Pipeline int
}

// GPUs is the GPUs the layout occupies.
func (p TrainingParallelism) GPUs() int { return p.Data * p.Tensor * p.Pipeline }

// TrainingMethodSizing is how one method's states and activations sit on the GPUs of the run, and the
// fewest GPUs it fits on.
type TrainingMethodSizing struct {
	Method string
	// Layout is replicated, sharded or tensor_pipeline (Training* constants); Strategy names method and
	// layout together (ddp, zero3, tp_pp, lora, lora_fsdp, lora_tp_pp, qlora, qlora_fsdp, qlora_tp_pp)
	// and Description says it in words.
	Layout      string
	Strategy    string
	Description string
	Parallelism TrainingParallelism
	// StatesGB is the model and optimizer states per GPU; ActivationsGB the activations (and, sharded,
	// the gathered layers) per GPU; MemoryPerGPUGB their sum. UsableGB is what one GPU offers them.
	StatesGB       float64
	ActivationsGB  Range
	MemoryPerGPUGB Range
	UsableGB       float64
	// Fits is true when the pessimistic end of MemoryPerGPUGB fits UsableGB.
	Fits bool
	// MinGPUs is the fewest GPUs the method fits on, in whole groups (0 when it fits nowhere);
	// MinParallelism and MemoryAtMinGB describe that layout.
	MinGPUs        int
	MinParallelism TrainingParallelism
	MemoryAtMinGB  Range
}

// TrainingEstimate is the compute, time and memory of a training run.
type TrainingEstimate struct {
	// FLOPs is 6ND, the full-training compute; FLOPsRange narrows it for adapters (4ND-6ND).
	FLOPs      float64
	FLOPsRange Range
	// GPUHours is the GPUs occupied x wall clock, idle pipeline time included.
	GPUHours       Range
	WallClockHours Range
	// MemoryPerGPUGB holds model states per GPU (activations excluded) for full_adam (one unsharded copy),
	// zero3 (sharded over the GPUs), and lora and qlora in the layout each method takes on these GPUs.
	MemoryPerGPUGB map[string]float64
	// FitsPerGPU is true when the chosen method's states and activations fit each GPU.
	FitsPerGPU bool
	// SeqTokens is the sequence length activations are sized at.
	SeqTokens int
	// Chosen is the requested method's sizing; Methods holds full, lora and qlora for comparison.
	Chosen  TrainingMethodSizing
	Methods []TrainingMethodSizing
	// PipelineBubble is the idle fraction of a step, (p-1)/(m+p-1); zero without pipeline stages.
	PipelineBubble Range
	Working
}

// Cost is the run's compute cost at a price per GPU-hour.
func (e TrainingEstimate) Cost(usdPerGPUHour float64) Range { return e.GPUHours.Scale(usdPerGPUHour) }

// trainingPeaks are the per-GPU peaks (FLOP/s) the optimistic and pessimistic ends divide by.
//
// BF16/FP16 use their own peak. FP8 training keeps some operations in BF16, so its optimistic end uses the
// FP8 peak and its pessimistic end the BF16 peak (the MFU range was measured against BF16 peaks).
func trainingPeaks(p Precision, g Accelerator) (hi, lo float64, err error) {
	bf16 := g.BF16TFLOPS
	if bf16 <= 0 {
		bf16 = g.FP16TFLOPS
	}
	switch p {
	case BF16:
		if g.BF16TFLOPS <= 0 {
			return 0, 0, invalid("precision", "%s has no BF16 peak; use fp16", g.Name)
		}
		return g.BF16TFLOPS * 1e12, g.BF16TFLOPS * 1e12, nil
	case FP16:
		fp16 := g.FP16TFLOPS
		if fp16 <= 0 {
			fp16 = g.BF16TFLOPS
		}
		return fp16 * 1e12, fp16 * 1e12, nil
	case FP8:
		if g.FP8TFLOPS <= 0 {
			return 0, 0, invalid("precision", "%s has no FP8 peak; use bf16", g.Name)
		}
		return g.FP8TFLOPS * 1e12, bf16 * 1e12, nil
	default:
		return 0, 0, invalid("precision", "training compute precision must be bf16, fp16 or fp8, got %q", p)
	}
}

// loraParams is the adapter size: rank r on q_proj (d -> d) and v_proj (d -> n_kv x d_h) in every layer,
// r x (d_in + d_out) each (Hu et al., LoRA, arXiv 2106.09685; PEFT's default targets). Zero when the
// hidden size is unknown.
func loraParams(a Arch, rank int) float64 {
	if a.HiddenSize <= 0 {
		return 0
	}
	d := float64(a.HiddenSize)
	kvOut := float64(a.KVHeads * a.HeadDim)
	if a.Attention == AttentionMLA || kvOut == 0 {
		kvOut = d
	}
	return float64(a.Layers) * float64(rank) * ((d + d) + (d + kvOut))
}

// trainingModel holds what the memory layouts need, in parameters and bytes.
type trainingModel struct {
	n       float64 // total parameters (all experts)
	layers  int
	hidden  float64
	heads   float64
	seq     float64
	adapter float64 // LoRA parameters
	usable  float64 // bytes one GPU offers states and activations
	node    int     // GPUs per machine
	tensor  int     // tensor-parallel degree of the tensor_pipeline layout
}

// frozenBytesPerParam is the frozen base's storage under an adapter method: BF16, or NF4 for QLoRA.
func frozenBytesPerParam(method string) float64 {
	if method == MethodQLoRA {
		return QLoRABitsPerParam / 8
	}
	return 2
}

// wholeStates is one unsharded copy of the model and optimizer states: 16 bytes per parameter for full
// training (ZeRO, arXiv 1910.02054); the frozen base plus 16 bytes per adapter parameter for LoRA/QLoRA.
func (m trainingModel) wholeStates(method string) float64 {
	if method == MethodFull {
		return m.n * AdamBytesPerParam
	}
	return m.n*frozenBytesPerParam(method) + m.adapter*AdamBytesPerParam
}

// stageFraction is the share of the layers the largest of p pipeline stages holds: ceil(L/p) / L (1/p
// when p divides L, as the layouts here choose).
func stageFraction(layers, p int) float64 {
	return float64((layers+p-1)/p) / float64(layers)
}

// states is the model and optimizer states on one GPU in a layout.
func (m trainingModel) states(method, layout string, par TrainingParallelism) float64 {
	switch layout {
	case TrainingReplicated:
		return m.wholeStates(method)
	case TrainingSharded:
		// ZeRO-3 / FSDP shard weights, gradients and optimizer states over the data-parallel degree,
		// the frozen base included (ZeRO, arXiv 1910.02054; FSDP, arXiv 2304.11277; QLoRA's NF4 base
		// too, Answer.AI FSDP+QLoRA, 2024).
		return m.wholeStates(method) / float64(par.Data)
	}
	// Tensor x pipeline: each GPU holds 1/t of its stage's layers; ZeRO-1 shards the FP32 optimizer
	// bytes over the data-parallel copies.
	perParam := zeroWeightGradBytes + zeroOptimizerBytes/float64(par.Data)
	share := stageFraction(m.layers, par.Pipeline) / float64(par.Tensor)
	if method == MethodFull {
		return m.n * perParam * share
	}
	return (m.n*frozenBytesPerParam(method) + m.adapter*perParam) * share
}

// unitBytes is one layer's parameters as FSDP materialises them: BF16 weights, plus BF16 gradients
// before the reduce-scatter when the layer trains (FSDP, arXiv 2304.11277). QLoRA's base is
// de-quantised to BF16 to compute.
func (m trainingModel) unitBytes(method string) float64 {
	perParam := 2.0
	if method == MethodFull {
		perParam = 4
	}
	return m.n / float64(m.layers) * perParam
}

// activations is the activation memory on one GPU: micro-batch 1, full activation checkpointing, the
// stored layer inputs 2 s h L / t plus the layer being recomputed, 34 s h / t with fused attention (no
// s x s scores kept: Dao et al., FlashAttention, arXiv 2205.14135) to s h (34 + 5 a s / h) / t without
// (Korthikanti et al., arXiv 2205.05198). Under 1F1B the first pipeline stage holds p micro-batches of
// L/p layers, so the stored inputs stay 2 s h L / t whatever p (same paper, section 4.2.3). Sharded
// layouts add the gathered layers: one, two with prefetch.
func (m trainingModel) activations(method, layout string, par TrainingParallelism) Range {
	t := float64(par.Tensor)
	sh := m.seq * m.hidden
	stored := actCheckpointPerH * sh * float64(m.layers) / t
	r := Range{
		Low:  stored + actLayerPerH*sh/t,
		High: stored + sh*(actLayerPerH+actScoresPerAS*m.heads*m.seq/m.hidden)/t,
	}
	if layout == TrainingSharded {
		u := m.unitBytes(method)
		r.Low += u
		r.High += fsdpUnitsHigh * u
	}
	return r
}

// memory is states plus activations on one GPU.
func (m trainingModel) memory(method, layout string, par TrainingParallelism) (states float64, act, total Range) {
	states = m.states(method, layout, par)
	act = m.activations(method, layout, par)
	return states, act, Range{Low: states + act.Low, High: states + act.High}
}

// fits reports whether the pessimistic memory fits the usable memory (with a rounding allowance).
func (m trainingModel) fits(total Range) bool { return total.High <= m.usable*(1+1e-9) }

// roundGPUs rounds a GPU count up to a group a machine can hold: 1, 2, 4 or 8 within a machine (the
// collective libraries' and instances' power-of-two sizes), whole machines beyond.
func (m trainingModel) roundGPUs(g int) int {
	if g <= m.node {
		p := 1
		for p < g {
			p *= 2
		}
		return min(p, m.node)
	}
	return (g + m.node - 1) / m.node * m.node
}

// minSharded is the fewest GPUs ZeRO-3/FSDP fits on: ceil(whole states / (usable - activations -
// gathered layers)), rounded to a group; ok is false when the activations alone fill the GPU.
func (m trainingModel) minSharded(method string) (int, bool) {
	room := m.usable - m.activations(method, TrainingSharded, TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}).High
	if room <= 0 {
		return 0, false
	}
	g := math.Ceil(m.wholeStates(method) / room * (1 - 1e-12))
	if g > MaxTrainingGPUs {
		return 0, false
	}
	n := m.roundGPUs(max(int(g), 2))
	return n, n <= MaxTrainingGPUs
}

// minModelParallel is the fewest tensor x pipeline GPUs that fit with one data-parallel copy: tensor
// parallel over the machine's GPUs (up to 8, on NVLink), then as few pipeline stages as fit (Narayanan
// et al., arXiv 2104.04473: tensor parallel up to the GPUs of a server, pipeline across servers). The
// stages hold equal numbers of layers, so p divides L (Megatron-LM checks num_layers %
// pipeline_model_parallel_size == 0).
func (m trainingModel) minModelParallel(method string) (TrainingParallelism, bool) {
	for p := 1; p <= m.layers && m.tensor*p <= MaxTrainingGPUs; p++ {
		if m.layers%p != 0 {
			continue
		}
		par := TrainingParallelism{Data: 1, Tensor: m.tensor, Pipeline: p}
		if _, _, total := m.memory(method, TrainingModelParallel, par); m.fits(total) {
			return par, true
		}
	}
	return TrainingParallelism{}, false
}

// choose picks a method's layout: replicated when a whole copy fits one GPU (no sharding traffic),
// otherwise whichever of ZeRO-3/FSDP and tensor x pipeline fits on fewer GPUs (FSDP on a tie, it needs
// no pipeline schedule). The choice does not depend on the run's GPU count, so memory per GPU never
// rises with more GPUs. ok is false when no layout fits.
func (m trainingModel) choose(method string) (layout string, minPar TrainingParallelism, ok bool) {
	one := TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}
	if _, _, total := m.memory(method, TrainingReplicated, one); m.fits(total) {
		return TrainingReplicated, one, true
	}
	sg, sok := m.minSharded(method)
	mp, mok := m.minModelParallel(method)
	switch {
	case sok && (!mok || sg <= mp.GPUs()):
		return TrainingSharded, TrainingParallelism{Data: sg, Tensor: 1, Pipeline: 1}, true
	case mok:
		return TrainingModelParallel, mp, true
	}
	return TrainingSharded, TrainingParallelism{}, false
}

// parallelismAt lays gpus out in a layout. Tensor x pipeline keeps the minimum's group and adds
// data-parallel copies of it (GPUs beyond whole copies idle); below the minimum it uses the largest
// group the GPUs hold, to show how far they fall short.
func (m trainingModel) parallelismAt(layout string, minPar TrainingParallelism, gpus int) TrainingParallelism {
	if layout != TrainingModelParallel {
		return TrainingParallelism{Data: gpus, Tensor: 1, Pipeline: 1}
	}
	group := minPar.Tensor * minPar.Pipeline
	if gpus >= group {
		return TrainingParallelism{Data: gpus / group, Tensor: minPar.Tensor, Pipeline: minPar.Pipeline}
	}
	t := 1
	for t*2 <= min(gpus, m.tensor) {
		t *= 2
	}
	p := max(1, gpus/t)
	for m.layers%p != 0 {
		p--
	}
	return TrainingParallelism{Data: 1, Tensor: t, Pipeline: p}
}

// strategyName names a method in a layout.
func strategyName(method, layout string) string {
	switch {
	case layout == TrainingReplicated && method == MethodFull:
		return "ddp"
	case layout == TrainingReplicated:
		return method
	case layout == TrainingSharded && method == MethodFull:
		return "zero3"
	case layout == TrainingSharded:
		return method + "_fsdp"
	case method == MethodFull:
		return "tp_pp"
	}
	return method + "_tp_pp"
}

// describeTraining says a method's layout in words.
func describeTraining(method, layout string, par TrainingParallelism) string {
	what := "states"
	if method != MethodFull {
		what = "base"
	}
	gpus := fmt.Sprintf("%d GPUs", par.Data)
	if par.Data == 1 {
		gpus = "one GPU"
	}
	switch layout {
	case TrainingReplicated:
		if method == MethodFull {
			return "full, states replicated on each of " + gpus + " (DDP)"
		}
		return method + ", base replicated on each of " + gpus
	case TrainingSharded:
		if method == MethodFull {
			return "full + ZeRO-3/FSDP, states sharded over " + gpus
		}
		return method + " + FSDP, base sharded over " + gpus
	}
	return fmt.Sprintf("%s, %s split by tensor parallel %d (within a machine) x pipeline %d (across machines) x data parallel %d with ZeRO-1",
		method, what, par.Tensor, par.Pipeline, par.Data)
}

// sizeMethod sizes one method on gpus GPUs.
func (m trainingModel) sizeMethod(method string, gpus int) TrainingMethodSizing {
	layout, minPar, ok := m.choose(method)
	par := m.parallelismAt(layout, minPar, gpus)
	s := TrainingMethodSizing{Method: method, Layout: layout, Strategy: strategyName(method, layout),
		Description: describeTraining(method, layout, par), Parallelism: par, UsableGB: m.usable / gb}
	states, act, total := m.memory(method, layout, par)
	s.StatesGB, s.ActivationsGB, s.MemoryPerGPUGB = states/gb, act.Scale(1/gb), total.Scale(1/gb)
	s.Fits = ok && m.fits(total)
	if ok {
		s.MinGPUs, s.MinParallelism = minPar.GPUs(), minPar
		_, _, atMin := m.memory(method, layout, minPar)
		s.MemoryAtMinGB = atMin.Scale(1 / gb)
	}
	return s
}

// validateTraining checks a training input and names the first impossible field.
func validateTraining(in TrainingInput) error {
	if err := in.Arch.Validate(); err != nil {
		return err
	}
	if err := in.GPU.Validate(); err != nil {
		return err
	}
	switch {
	case !(in.TokensB > 0) || math.IsInf(in.TokensB, 0):
		return invalid("tokens_b", "must be positive, got %v", in.TokensB)
	case in.GPUs <= 0:
		return invalid("gpus", "must be positive, got %d", in.GPUs)
	case in.LoRARank < 0:
		return invalid("lora_rank", "must not be negative, got %d", in.LoRARank)
	case in.Heads < 0:
		return invalid("heads", "must not be negative, got %d", in.Heads)
	case in.SeqTokens < 0:
		return invalid("seq_tokens", "must not be negative, got %d", in.SeqTokens)
	case in.GPUsPerNode < 0:
		return invalid("gpus_per_node", "must not be negative, got %d", in.GPUsPerNode)
	}
	if in.Method != MethodFull && in.Method != MethodLoRA && in.Method != MethodQLoRA {
		return invalid("method", "must be full, lora or qlora, got %q", in.Method)
	}
	return nil
}

// EstimateTraining estimates the compute, GPU-hours, wall-clock and per-GPU memory of a run, and the
// fewest GPUs each method fits on.
//
// Compute = 6 x N x D FLOPs (forward 2ND, backward 4ND; Kaplan et al., arXiv 2001.08361), with N the active
// parameters. Adapters skip the frozen weights' gradients (2ND of the backward), so LoRA/QLoRA take 4ND-6ND.
// Time = compute / (GPUs in use x peak x MFU), times 1 / (1 - pipeline bubble) with pipeline stages.
// Memory = model states in the method's layout (replicated, ZeRO-3/FSDP sharded, or tensor x pipeline)
// plus activations with full checkpointing at micro-batch 1.
func EstimateTraining(in TrainingInput) (TrainingEstimate, error) {
	return estimateTraining(in, false)
}

// EstimateTrainingFigures is EstimateTraining without the working's text: the
// same figures, for callers that estimate many machines and show the working
// of few (they ask EstimateTraining again for those).
func EstimateTrainingFigures(in TrainingInput) (TrainingEstimate, error) {
	return estimateTraining(in, true)
}

// estimateTraining is EstimateTraining; quiet leaves out the working's text
// (the numbers are the same). Each line is written only when asked for: even
// dropped by Working's quiet flag, its arguments were boxed for it.
func estimateTraining(in TrainingInput, quiet bool) (TrainingEstimate, error) {
	if err := validateTraining(in); err != nil {
		return TrainingEstimate{}, err
	}
	mfu := in.MFU
	if mfu.IsZero() {
		mfu = DefaultMFU()
	}
	if !mfu.valid() || mfu.Low <= 0 || mfu.High > 1 {
		return TrainingEstimate{}, invalid("mfu", "must be a range within (0, 1], got %s", mfu)
	}
	peakHi, peakLo, err := trainingPeaks(in.Precision, in.GPU)
	if err != nil {
		return TrainingEstimate{}, err
	}
	rank := in.LoRARank
	if rank == 0 {
		rank = DefaultLoRARank
	}

	var e TrainingEstimate
	e.quiet = quiet
	n := in.activeB() * 1e9
	d := in.TokensB * 1e9
	e.FLOPs = 6 * n * d
	if !quiet {
		e.formula("compute = 6 x N %.4g x D %.4g = %.3g FLOPs (Kaplan et al. 2020)", n, d, e.FLOPs)
	}
	e.FLOPsRange = Range{Low: e.FLOPs, High: e.FLOPs}
	if in.Method != MethodFull {
		e.FLOPsRange.Low = 4 * n * d
		if !quiet {
			e.formula("adapters skip frozen-weight gradients: 4ND = %.3g FLOPs at least", e.FLOPsRange.Low)
		}
	}
	compute := NewRange(e.FLOPsRange.Low/(peakHi*mfu.High)/3600, e.FLOPsRange.High/(peakLo*mfu.Low)/3600)
	if !quiet {
		e.formula("busy GPU-hours = FLOPs / (%s TFLOPS x MFU %s) / 3600 = %s", span.Format("%.4g", peakLo/1e12, peakHi/1e12), mfu, compute)
	}

	m, mw := newTrainingModel(in, rank, quiet)
	e.merge(mw)
	e.SeqTokens = int(m.seq)
	e.Methods = make([]TrainingMethodSizing, 0, 3)
	for _, method := range []string{MethodFull, MethodLoRA, MethodQLoRA} {
		s := m.sizeMethod(method, in.GPUs)
		e.Methods = append(e.Methods, s)
		if method == in.Method {
			e.Chosen = s
		}
		if !quiet {
			e.formula("%s", methodLine(s, in.GPU.Name))
		}
	}
	e.FitsPerGPU = e.Chosen.Fits
	total := in.ParamsTotalB * 1e9
	e.MemoryPerGPUGB = map[string]float64{
		"full_adam": total * AdamBytesPerParam / gb,
		"zero3":     total * AdamBytesPerParam / float64(in.GPUs) / gb,
		"lora":      e.Methods[1].StatesGB,
		"qlora":     e.Methods[2].StatesGB,
	}
	if !quiet {
		e.formula("full Adam = %.4g params x %d B = %.4g GB unsharded; ZeRO-3 over %d GPUs = %.4g GB per GPU (ZeRO, arXiv 1910.02054)",
			total, AdamBytesPerParam, e.MemoryPerGPUGB["full_adam"], in.GPUs, e.MemoryPerGPUGB["zero3"])
	}

	// Wall clock: the busy GPU-hours over the GPUs the layout uses, stretched by the pipeline bubble.
	par := e.Chosen.Parallelism
	used := float64(par.GPUs())
	stretch := Range{Low: 1, High: 1}
	if p := float64(par.Pipeline); p > 1 {
		// Micro-batches per pipeline per step m = global batch / (s x data-parallel copies), micro-batch 1;
		// bubble = (p-1)/(m+p-1) of the step, so time = ideal x (1 + (p-1)/m) (Narayanan et al.,
		// arXiv 2104.04473, section 2.2.1, 1F1B schedule).
		seqs := TrainingGlobalBatchTokens().Scale(1 / m.seq / float64(par.Data))
		mLo, mHi := math.Max(1, seqs.Low), math.Max(1, seqs.High)
		e.PipelineBubble = Range{Low: (p - 1) / (mHi + p - 1), High: (p - 1) / (mLo + p - 1)}
		stretch = Range{Low: 1 + (p-1)/mHi, High: 1 + (p-1)/mLo}
		if !quiet {
			e.formula("pipeline bubble = (p-1)/(m+p-1) with p %d stages, m = %s tokens / (%d x %d copies) = %.4g-%.4g micro-batches: %s of each step idle, time x %s (Narayanan et al., arXiv 2104.04473)",
				par.Pipeline, TrainingGlobalBatchTokens(), e.SeqTokens, par.Data, mLo, mHi, e.PipelineBubble, stretch)
		}
	}
	e.WallClockHours = Range{Low: compute.Low / used * stretch.Low, High: compute.High / used * stretch.High}
	e.GPUHours = e.WallClockHours.Scale(float64(in.GPUs))
	if quiet {
		return e, nil
	}
	e.formula("wall-clock = %s busy GPU-hours / %d GPUs in use%s = %s h; GPU-hours occupied = %d GPUs x wall-clock = %s",
		compute, par.GPUs(), stretchText(stretch), e.WallClockHours, in.GPUs, e.GPUHours)
	if par.GPUs() < in.GPUs {
		e.assume("%d of the %d GPUs idle: the %s layout uses whole groups of %d", in.GPUs-par.GPUs(), in.GPUs, e.Chosen.Strategy, par.Tensor*par.Pipeline)
	}

	e.assume("MFU %s of the dense %s peak (reference default; PaLM 540B reached 46.2%%)", mfu, in.Precision)
	e.assume("MFU counts the 6ND model FLOPs only; the extra forward pass of activation recomputation falls inside the MFU range (PaLM reached 46.2%% MFU, 57.8%% hardware FLOPs utilisation, with rematerialisation; arXiv 2204.02311)")
	e.assume("MFU holds at %d GPUs: data-parallel, ZeRO/FSDP and tensor-parallel communication is inside the MFU range; only the pipeline bubble is added", in.GPUs)
	e.assume("layout: replicated when a whole copy and its activations fit one GPU, otherwise whichever of ZeRO-3/FSDP and tensor parallel (the machine's %d GPUs, up to 8) x pipeline stages fits on fewer GPUs; GPU counts round to 1, 2, 4 or 8 within a machine and whole machines beyond, or to whole tensor x pipeline groups with pipeline stages of equal layers (p divides L)", m.node)
	if in.Method != MethodFull {
		e.assume("adapters rank %d on q_proj and v_proj (PEFT defaults), trained with 16-byte Adam states", rank)
	}
	e.assume("compute precision does not change memory: FP8 training keeps the BF16 weights and FP32 optimizer states, and activations are counted at 16 bits")
	if in.Precision == FP8 {
		e.assume("FP8 training: the optimistic end uses the FP8 peak, the pessimistic end the BF16 peak, as parts of the step stay in BF16")
	}
	if in.Method == MethodQLoRA {
		e.assume("QLoRA computes in 16-bit after de-quantising; the de-quantisation time is not counted")
	}
	if in.activeB() < in.ParamsTotalB {
		e.assume("mixture of experts: memory counts all %.4g B parameters, compute the %.4g B active; activations use the dense formula", in.ParamsTotalB, in.activeB())
	}
	return e, nil
}

// newTrainingModel derives the memory model's figures from the input and records how.
func newTrainingModel(in TrainingInput, rank int, quiet bool) (trainingModel, Working) {
	var w Working
	w.quiet = quiet
	m := trainingModel{n: in.ParamsTotalB * 1e9, layers: in.Layers, seq: float64(in.SeqTokens), node: in.GPUsPerNode}
	if m.seq == 0 {
		m.seq = DefaultTrainingSeqTokens
		w.assume("no sequence length given: activations sized at %d tokens per sequence (planning assumption)", DefaultTrainingSeqTokens)
	}
	if m.node == 0 {
		m.node = DefaultTrainingGPUsPerNode
		w.assume("no machine size given: %d GPUs per machine on NVLink", DefaultTrainingGPUsPerNode)
	}
	m.tensor = 1
	for m.tensor*2 <= min(m.node, MaxTensorParallel) {
		m.tensor *= 2
	}
	a := in.Arch
	m.hidden = float64(a.HiddenSize)
	if m.hidden <= 0 {
		// A transformer has about 12 L h^2 parameters (Kaplan et al., arXiv 2001.08361, section 2.1).
		m.hidden = math.Sqrt(in.activeB() * 1e9 / (12 * float64(a.Layers)))
		a.HiddenSize = int(math.Round(m.hidden))
		w.assume("hidden size not given: h = sqrt(N / 12L) = %.0f (Kaplan et al. 2020)", m.hidden)
	}
	m.heads = float64(in.Heads)
	if m.heads <= 0 {
		dh := float64(a.HeadDim)
		if dh <= 0 || a.Attention == AttentionMLA {
			dh = 128
		}
		m.heads = math.Max(1, math.Round(m.hidden/dh))
		w.assume("attention heads taken as hidden size / head dimension %.0f = %.0f", dh, m.heads)
	}
	m.adapter = loraParams(a, rank)
	m.usable = in.GPU.MemoryGB * gb * TrainingUsableFraction
	if quiet {
		return m, w
	}
	w.formula("usable memory = %.0f%% x %.4g GB = %.4g GB per GPU; the rest holds the CUDA context, NCCL buffers, fragmentation and logits (planning assumption)",
		TrainingUsableFraction*100, in.GPU.MemoryGB, m.usable/gb)
	w.formula("activations per GPU at micro-batch 1 x %.0f tokens with full checkpointing: stored layer inputs 2 s h L = 2 x %.0f x %.0f x %d = %.4g GB, plus the layer recomputed in the backward, 34 s h = %.4g GB with fused attention to s h (34 + 5 a s / h) = %.4g GB without (a = %.0f); divided by the tensor-parallel degree (Korthikanti et al., arXiv 2205.05198; FlashAttention, arXiv 2205.14135)",
		m.seq, m.seq, m.hidden, m.layers, actCheckpointPerH*m.seq*m.hidden*float64(m.layers)/gb,
		actLayerPerH*m.seq*m.hidden/gb, m.seq*m.hidden*(actLayerPerH+actScoresPerAS*m.heads*m.seq/m.hidden)/gb, m.heads)
	w.formula("ZeRO-3/FSDP also holds one to two unsharded layers: N/L x 2 B (x 4 B training all weights: weights and gradients) = %.4g-%.4g GB (FSDP, arXiv 2304.11277)",
		m.unitBytes(MethodLoRA)/gb, fsdpUnitsHigh*m.unitBytes(MethodFull)/gb)
	w.formula("states per GPU: replicated = whole copy; ZeRO-3/FSDP = whole copy / GPUs; tensor x pipeline = ceil(L/p)/L / t x (frozen base + trained params x (4 + 12 / data copies)) (ZeRO-1, arXiv 1910.02054); full Adam 16 B, LoRA base 2 B, QLoRA base %.3f/8 B per parameter, adapters %.4g params",
		QLoRABitsPerParam, m.adapter)
	return m, w
}

// methodLine is one method's sizing as a formula line.
func methodLine(s TrainingMethodSizing, gpu string) string {
	verdict := "fits"
	if !s.Fits {
		verdict = "does not fit"
	}
	line := fmt.Sprintf("%s on %s: %s: states %.4g GB + activations %s GB = %s GB per GPU against %.4g GB usable: %s",
		s.Method, gpu, s.Description, s.StatesGB, s.ActivationsGB, s.MemoryPerGPUGB, s.UsableGB, verdict)
	if s.MinGPUs == 0 {
		return line + fmt.Sprintf("; fits no layout up to %d GPUs", MaxTrainingGPUs)
	}
	return line + fmt.Sprintf("; fewest GPUs %d (%s: data %d x tensor %d x pipeline %d) at %s GB per GPU",
		s.MinGPUs, s.Strategy, s.MinParallelism.Data, s.MinParallelism.Tensor, s.MinParallelism.Pipeline, s.MemoryAtMinGB)
}

// stretchText shows the pipeline stretch in the wall-clock formula, nothing without one.
func stretchText(r Range) string {
	if r.Low == 1 && r.High == 1 {
		return ""
	}
	return fmt.Sprintf(" x %s (pipeline bubble)", r)
}
