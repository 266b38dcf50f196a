package sizing

import (
	"fmt"
	"math"
)

// Defaults for the memory model.
const (
	// DefaultUtilisation is the share of GPU memory the serving engine may use: vLLM's default
	// gpu_memory_utilization of 0.9 (vllm-project/vllm engine arguments).
	DefaultUtilisation = 0.9
	// RuntimeOverheadFraction is the serving overhead on top of the weights (activations, CUDA graphs,
	// workspaces): about 20% (EleutherAI, "Transformer Math 101", 2023).
	RuntimeOverheadFraction = 0.20
	// MaxTensorParallel is the largest tensor-parallel degree considered: one 8-GPU NVLink node.
	MaxTensorParallel = 8
	// MaxPipelineParallel is the most machines one serving replica is split over (pipeline stages, one
	// per machine). Four 8-GPU machines hold 2.5 TB of weights at 80 GB per GPU, more than any catalogue
	// model needs; beyond that the inter-node hops dominate latency.
	MaxPipelineParallel = 4

	gb = 1e9
)

// BytesPerParam is the storage size of one parameter (or KV element) at precision p:
// BF16/FP16 2, FP8/INT8 1, INT4 0.5 (EleutherAI, "Transformer Math 101"). Quantisation scales are not
// counted here; they fall within the runtime overhead.
func BytesPerParam(p Precision) (float64, error) {
	switch p {
	case BF16, FP16:
		return 2, nil
	case FP8, INT8:
		return 1, nil
	case INT4:
		return 0.5, nil
	default:
		return 0, invalid("precision", "unknown precision %q (want bf16, fp16, fp8, int8 or int4)", p)
	}
}

// activeB is the per-token parameter count in billions (total for a dense model).
func (a Arch) activeB() float64 {
	if a.ParamsActiveB > 0 {
		return a.ParamsActiveB
	}
	return a.ParamsTotalB
}

// Validate checks the architecture and names the first impossible field.
func (a Arch) Validate() error {
	switch {
	case !(a.ParamsTotalB > 0) || math.IsInf(a.ParamsTotalB, 0):
		return invalid("params_total_b", "must be positive, got %v", a.ParamsTotalB)
	case a.ParamsActiveB < 0 || a.ParamsActiveB > a.ParamsTotalB:
		return invalid("params_active_b", "must be between 0 and params_total_b (%v), got %v", a.ParamsTotalB, a.ParamsActiveB)
	case a.Layers <= 0:
		return invalid("layers", "must be positive, got %d", a.Layers)
	case a.HiddenSize < 0:
		return invalid("hidden_size", "must not be negative, got %d", a.HiddenSize)
	case a.Experts < 0 || a.ExpertsPerToken < 0 || a.ExpertsPerToken > a.Experts:
		return invalid("experts_per_token", "must be between 0 and experts (%d), got %d", a.Experts, a.ExpertsPerToken)
	}
	switch a.Attention {
	case AttentionMLA:
		if a.MLALatentDim <= 0 {
			return invalid("mla_latent_dim", "must be positive for mla attention, got %d", a.MLALatentDim)
		}
	case "", AttentionMHA, AttentionGQA:
		if a.KVHeads <= 0 {
			return invalid("kv_heads", "must be positive, got %d", a.KVHeads)
		}
		if a.HeadDim <= 0 {
			return invalid("head_dim", "must be positive, got %d", a.HeadDim)
		}
	default:
		return invalid("attention", "unknown attention %q (want mha, gqa or mla)", a.Attention)
	}
	return nil
}

// Validate checks the accelerator figures the memory and latency models divide by.
func (g Accelerator) Validate() error {
	switch {
	case !(g.MemoryGB > 0):
		return invalid("gpu.memory_gb", "must be positive, got %v", g.MemoryGB)
	case !(g.BandwidthTBs > 0):
		return invalid("gpu.bandwidth_tbs", "must be positive, got %v", g.BandwidthTBs)
	case !(g.BF16TFLOPS > 0) && !(g.FP16TFLOPS > 0):
		return invalid("gpu.bf16_tflops", "a BF16 or FP16 peak must be positive")
	case g.FP8TFLOPS < 0:
		return invalid("gpu.fp8_tflops", "must not be negative, got %v", g.FP8TFLOPS)
	}
	return nil
}

// validPP accepts 1 to MaxPipelineParallel pipeline stages.
func validPP(pp int) error {
	if pp < 1 || pp > MaxPipelineParallel {
		return invalid("pipeline_parallel", "must be between 1 and %d, got %d", MaxPipelineParallel, pp)
	}
	return nil
}

// validTP accepts the tensor-parallel degrees serving engines run: 1, 2, 4 or 8 within one node.
func validTP(tp int) error {
	if tp < 1 || tp > MaxTensorParallel || tp&(tp-1) != 0 {
		return invalid("tensor_parallel", "must be 1, 2, 4 or 8, got %d", tp)
	}
	return nil
}

// kvBytesPerTokenPerGPU is the KV cache one GPU holds per token (kvFormula writes it with its numbers).
//
// GQA/MHA: 2 (K and V) x L x n_kv x d_h x b_kv, with the KV heads split over the tensor-parallel ranks and
// replicated when TP exceeds n_kv (vllm-project/vllm vllm/v1/kv_cache_interface.py; the model executor
// gives each rank max(1, n_kv/TP) heads). MLA: L x latent x b_kv with no factor 2 (one latent per token),
// replicated on every rank (DeepSeek-V2 paper, arXiv 2405.04434; vLLM's MLA backend).
func kvBytesPerTokenPerGPU(a Arch, bkv float64, tp int) float64 {
	if a.Attention == AttentionMLA {
		return float64(a.Layers) * float64(a.MLALatentDim) * bkv
	}
	return 2 * float64(a.Layers) * kvHeadsPerGPU(a, tp) * float64(a.HeadDim) * bkv
}

// kvHeadsPerGPU is the KV heads one tensor-parallel rank holds: max(1, n_kv/TP).
func kvHeadsPerGPU(a Arch, tp int) float64 {
	return math.Max(1, math.Ceil(float64(a.KVHeads)/float64(tp)))
}

// kvFormula is kvBytesPerTokenPerGPU's formula with its numbers, v its value.
func kvFormula(a Arch, bkv float64, tp int, v float64) string {
	if a.Attention == AttentionMLA {
		return fmt.Sprintf("KV per token per GPU (MLA, replicated on each rank) = L %d x latent %d x %.3g B = %.0f B",
			a.Layers, a.MLALatentDim, bkv, v)
	}
	return fmt.Sprintf("KV per token per GPU = 2 x L %d x n_kv/TP %.0f x d_h %d x %.3g B = %.0f B",
		a.Layers, kvHeadsPerGPU(a, tp), a.HeadDim, bkv, v)
}

// KVBytesPerToken is the whole model's KV cache per token (one GPU, no tensor parallelism):
// 2 x L x n_kv x d_h x b_kv for GQA/MHA, L x latent x b_kv for MLA (vllm-project/vllm kv_cache_interface.py).
func KVBytesPerToken(a Arch, kv Precision) (float64, error) {
	if err := a.Validate(); err != nil {
		return 0, err
	}
	b, err := BytesPerParam(kv)
	if err != nil {
		return 0, fmt.Errorf("kv cache: %w", err)
	}
	return kvBytesPerTokenPerGPU(a, b, 1), nil
}

// MemoryFit is how a model sits in the memory of a tensor-parallel group. Byte figures are totals over
// the group unless named per GPU.
type MemoryFit struct {
	WeightsGB  float64
	OverheadGB float64
	// KVBytesPerToken is the cache one token takes across the group (replicated heads counted on each GPU).
	KVBytesPerToken float64
	// KVBudgetGB is the memory left for the KV cache across the group.
	KVBudgetGB    float64
	MaxTokensInKV int
	// MaxSequences is how many sequences of the full context fit in the KV cache at once.
	MaxSequences int
	// Fits is true when the weights and at least one full-context sequence fit.
	Fits           bool
	TensorParallel int
	// PipelineParallel is the number of pipeline stages (machines) the layers are split over; 1 is none.
	PipelineParallel int
	Working
}

// FitMemory places the weights, the runtime overhead and the KV cache on tensorParallel GPUs that may use
// utilisation of their memory (zero means 0.9), and counts the full-context sequences that fit.
func FitMemory(a Arch, p, kv Precision, gpu Accelerator, tensorParallel int, utilisation float64, contextTokens int) (MemoryFit, error) {
	return FitMemoryLayout(a, p, kv, gpu, tensorParallel, 1, utilisation, contextTokens)
}

// FitMemoryLayout is FitMemory on tensorParallel x pipelineParallel GPUs: the layers are split into
// pipelineParallel stages (one per machine), each stage's layers over tensorParallel GPUs.
//
// Weights = N x b (EleutherAI, Transformer Math 101); overhead = 20% of the weights (same source);
// KV budget per GPU = memory x utilisation - (weights + overhead)/(TP x PP) (vLLM's gpu_memory_utilization and
// KV-cache profiling, vllm-project/vllm vllm/worker). A stage holds ceil(L / PP) layers, so the KV cache
// per token per GPU is the TP figure x ceil(L/PP) / L (Narayanan et al., "Efficient Large-Scale Language
// Model Training on GPU Clusters Using Megatron-LM", arXiv 2104.04473: pipeline stages split the layers).
func FitMemoryLayout(a Arch, p, kv Precision, gpu Accelerator, tensorParallel, pipelineParallel int, utilisation float64, contextTokens int) (MemoryFit, error) {
	return fitMemoryLayout(a, p, kv, gpu, tensorParallel, pipelineParallel, utilisation, contextTokens, false)
}

// fitMemoryLayout is FitMemoryLayout; quiet leaves out the working's text.
func fitMemoryLayout(a Arch, p, kv Precision, gpu Accelerator, tensorParallel, pipelineParallel int, utilisation float64, contextTokens int, quiet bool) (MemoryFit, error) {
	if err := a.Validate(); err != nil {
		return MemoryFit{}, err
	}
	if err := gpu.Validate(); err != nil {
		return MemoryFit{}, err
	}
	if err := validTP(tensorParallel); err != nil {
		return MemoryFit{}, err
	}
	if err := validPP(pipelineParallel); err != nil {
		return MemoryFit{}, err
	}
	if utilisation == 0 {
		utilisation = DefaultUtilisation
	}
	if !(utilisation > 0 && utilisation <= 1) {
		return MemoryFit{}, invalid("utilisation", "must be in (0, 1], got %v", utilisation)
	}
	if contextTokens <= 0 {
		return MemoryFit{}, invalid("context_tokens", "must be positive, got %d", contextTokens)
	}
	bw, err := BytesPerParam(p)
	if err != nil {
		return MemoryFit{}, fmt.Errorf("weights: %w", err)
	}
	bkv, err := BytesPerParam(kv)
	if err != nil {
		return MemoryFit{}, invalid("kv_precision", "unknown precision %q (want bf16, fp16, fp8, int8 or int4)", kv)
	}

	var f MemoryFit
	f.quiet = quiet
	f.TensorParallel = tensorParallel
	f.PipelineParallel = pipelineParallel
	gpus := float64(tensorParallel * pipelineParallel)
	f.WeightsGB = a.ParamsTotalB * bw
	f.OverheadGB = f.WeightsGB * RuntimeOverheadFraction
	// The text is written only when asked for: even skipped by Working's quiet flag, each line's
	// arguments were boxed for it, most of a quiet fit's allocations.
	if !quiet {
		f.formula("weights = N %.4g B params x %.3g B = %.4g GB (EleutherAI Transformer Math 101)", a.ParamsTotalB, bw, f.WeightsGB)
		f.formula("runtime overhead = %.0f%% x %.4g GB = %.4g GB (EleutherAI Transformer Math 101)", RuntimeOverheadFraction*100, f.WeightsGB, f.OverheadGB)
	}

	perGPU := kvBytesPerTokenPerGPU(a, bkv, tensorParallel)
	if !quiet {
		f.formula("%s (vllm kv_cache_interface.py)", kvFormula(a, bkv, tensorParallel, perGPU))
	}
	if pipelineParallel > 1 {
		stage := math.Ceil(float64(a.Layers) / float64(pipelineParallel))
		perGPU *= stage / float64(a.Layers)
		if !quiet {
			f.formula("KV per token per GPU with %d pipeline stages = the TP figure x ceil(L %d / PP %d) / L = %.0f B (Megatron-LM, arXiv 2104.04473)",
				pipelineParallel, a.Layers, pipelineParallel, perGPU)
		}
	}
	f.KVBytesPerToken = perGPU * gpus

	budgetPerGPU := gpu.MemoryGB*utilisation - (f.WeightsGB+f.OverheadGB)/gpus
	if !quiet {
		f.formula("KV budget per GPU = %.4g GB x %.2f - (%.4g + %.4g) GB / (TP %d x PP %d) = %.4g GB (vLLM gpu_memory_utilization)",
			gpu.MemoryGB, utilisation, f.WeightsGB, f.OverheadGB, tensorParallel, pipelineParallel, budgetPerGPU)
	}
	if budgetPerGPU > 0 {
		f.KVBudgetGB = budgetPerGPU * gpus
		f.MaxTokensInKV = int(math.Floor(budgetPerGPU * gb / perGPU))
		f.MaxSequences = f.MaxTokensInKV / contextTokens
	}
	f.Fits = f.MaxSequences >= 1
	if quiet {
		return f, nil
	}
	f.formula("KV tokens = %.4g GB / %.0f B = %d tokens; sequences of %d tokens = %d",
		math.Max(budgetPerGPU, 0), perGPU, f.MaxTokensInKV, contextTokens, f.MaxSequences)

	f.assume("%s weights, %s KV cache on %d x %s (%.4g GB each), memory utilisation %.2f", p, kv, tensorParallel*pipelineParallel, gpu.Name, gpu.MemoryGB, utilisation)
	f.assume("runtime overhead (activations, CUDA graphs, quantisation scales) taken as %.0f%% of the weights", RuntimeOverheadFraction*100)
	f.assume("sequences counted at %d tokens each: the full context one request may hold", contextTokens)
	if a.Attention != AttentionMLA && a.KVHeads < tensorParallel {
		f.assume("KV heads (%d) fewer than TP (%d): heads are replicated on each GPU", a.KVHeads, tensorParallel)
	}
	return f, nil
}

// MinTensorParallel is the smallest tensor-parallel degree (1, 2, 4 or 8, at most maxGPUs) whose GPUs hold
// the weights, the overhead and at least one full-context sequence. It wraps ErrDoesNotFit when none does.
func MinTensorParallel(a Arch, p, kv Precision, gpu Accelerator, maxGPUs int, utilisation float64, contextTokens int) (int, MemoryFit, error) {
	return minTensorParallel(a, p, kv, gpu, maxGPUs, utilisation, contextTokens, false)
}

// MinTensorParallelFigures is MinTensorParallel without the working's text: the same degree, figures
// and error, for callers that fit many machines and show the working of few.
func MinTensorParallelFigures(a Arch, p, kv Precision, gpu Accelerator, maxGPUs int, utilisation float64, contextTokens int) (int, MemoryFit, error) {
	return minTensorParallel(a, p, kv, gpu, maxGPUs, utilisation, contextTokens, true)
}

// minTensorParallel is MinTensorParallel; quiet leaves out the working's text.
func minTensorParallel(a Arch, p, kv Precision, gpu Accelerator, maxGPUs int, utilisation float64, contextTokens int, quiet bool) (int, MemoryFit, error) {
	if maxGPUs < 1 {
		return 0, MemoryFit{}, invalid("max_gpus", "must be positive, got %d", maxGPUs)
	}
	var last MemoryFit
	for tp := 1; tp <= MaxTensorParallel && tp <= maxGPUs; tp *= 2 {
		f, err := fitMemoryLayout(a, p, kv, gpu, tp, 1, utilisation, contextTokens, quiet)
		if err != nil {
			return 0, MemoryFit{}, err
		}
		if f.Fits {
			return tp, f, nil
		}
		last = f
	}
	return 0, last, fmt.Errorf("%w: %.4g B params (%s) with a %d-token context on up to %d x %s",
		ErrDoesNotFit, a.ParamsTotalB, p, contextTokens, min(maxGPUs, MaxTensorParallel), gpu.Name)
}
