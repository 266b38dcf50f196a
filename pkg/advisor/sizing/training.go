package sizing

import "math"

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
)

// DefaultMFU is model FLOPs utilisation 0.35-0.45, a sound default per the reference (PaLM 540B reached 46.2%,
// Chowdhery et al., arXiv 2204.02311).
func DefaultMFU() Range { return Range{Low: 0.35, High: 0.45} }

// TrainingInput describes a training or fine-tuning run.
type TrainingInput struct {
	Arch
	// TokensB is the training tokens in billions (dataset tokens x epochs).
	TokensB float64 `json:"tokens_b"`
	// Method is full, lora or qlora.
	Method string `json:"method"`
	// Precision is the compute precision: bf16, fp16 or fp8.
	Precision Precision   `json:"precision"`
	GPU       Accelerator `json:"gpu"`
	GPUs      int         `json:"gpus"`
	// MFU is the model FLOPs utilisation range; zero means DefaultMFU.
	MFU Range `json:"mfu,omitzero"`
	// LoRARank is the adapter rank; zero means DefaultLoRARank.
	LoRARank int `json:"lora_rank,omitempty"`
}

// TrainingEstimate is the compute, time and memory of a training run.
type TrainingEstimate struct {
	// FLOPs is 6ND, the full-training compute; FLOPsRange narrows it for adapters (4ND-6ND).
	FLOPs          float64 `json:"flops"`
	FLOPsRange     Range   `json:"flops_range"`
	GPUHours       Range   `json:"gpu_hours"`
	WallClockHours Range   `json:"wall_clock_hours"`
	// MemoryPerGPUGB holds model states per GPU for full_adam, zero3, lora and qlora (activations excluded).
	MemoryPerGPUGB map[string]float64 `json:"memory_per_gpu_gb"`
	// FitsPerGPU is true when the chosen method's model states fit one GPU (full uses ZeRO-3 over GPUs).
	FitsPerGPU bool `json:"fits_per_gpu"`
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

// EstimateTraining estimates the compute, GPU-hours, wall-clock and per-GPU memory of a run.
//
// Compute = 6 x N x D FLOPs (forward 2ND, backward 4ND; Kaplan et al., arXiv 2001.08361), with N the active
// parameters. Adapters skip the frozen weights' gradients (2ND of the backward), so LoRA/QLoRA take 4ND-6ND.
// Time = compute / (GPUs x peak x MFU).
func EstimateTraining(in TrainingInput) (TrainingEstimate, error) {
	if err := in.Arch.Validate(); err != nil {
		return TrainingEstimate{}, err
	}
	if err := in.GPU.Validate(); err != nil {
		return TrainingEstimate{}, err
	}
	switch {
	case !(in.TokensB > 0) || math.IsInf(in.TokensB, 0):
		return TrainingEstimate{}, invalid("tokens_b", "must be positive, got %v", in.TokensB)
	case in.GPUs <= 0:
		return TrainingEstimate{}, invalid("gpus", "must be positive, got %d", in.GPUs)
	case in.LoRARank < 0:
		return TrainingEstimate{}, invalid("lora_rank", "must not be negative, got %d", in.LoRARank)
	}
	if in.Method != MethodFull && in.Method != MethodLoRA && in.Method != MethodQLoRA {
		return TrainingEstimate{}, invalid("method", "must be full, lora or qlora, got %q", in.Method)
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
	n := in.activeB() * 1e9
	d := in.TokensB * 1e9
	e.FLOPs = 6 * n * d
	e.formula("compute = 6 x N %.4g x D %.4g = %.3g FLOPs (Kaplan et al. 2020)", n, d, e.FLOPs)
	e.FLOPsRange = Range{Low: e.FLOPs, High: e.FLOPs}
	if in.Method != MethodFull {
		e.FLOPsRange.Low = 4 * n * d
		e.formula("adapters skip frozen-weight gradients: 4ND = %.3g FLOPs at least", e.FLOPsRange.Low)
	}
	e.GPUHours = NewRange(e.FLOPsRange.Low/(peakHi*mfu.High)/3600, e.FLOPsRange.High/(peakLo*mfu.Low)/3600)
	e.formula("GPU-hours = FLOPs / (%.4g-%.4g TFLOPS x MFU %s) / 3600 = %s", peakLo/1e12, peakHi/1e12, mfu, e.GPUHours)
	e.WallClockHours = e.GPUHours.Scale(1 / float64(in.GPUs))
	e.formula("wall-clock = GPU-hours / %d GPUs = %s h", in.GPUs, e.WallClockHours)

	total := in.ParamsTotalB * 1e9
	adapter := loraParams(in.Arch, rank)
	e.MemoryPerGPUGB = map[string]float64{
		"full_adam": total * AdamBytesPerParam / gb,
		"zero3":     total * AdamBytesPerParam / float64(in.GPUs) / gb,
		"lora":      (total*2 + adapter*AdamBytesPerParam) / gb,
		"qlora":     (total*QLoRABitsPerParam/8 + adapter*AdamBytesPerParam) / gb,
	}
	e.formula("full Adam = %.4g params x %d B = %.4g GB per GPU (ZeRO, arXiv 1910.02054)", total, AdamBytesPerParam, e.MemoryPerGPUGB["full_adam"])
	e.formula("ZeRO-3 = full Adam / %d GPUs = %.4g GB per GPU", in.GPUs, e.MemoryPerGPUGB["zero3"])
	e.formula("LoRA = %.4g params x 2 B + %.4g adapter params x %d B = %.4g GB", total, adapter, AdamBytesPerParam, e.MemoryPerGPUGB["lora"])
	e.formula("QLoRA = %.4g params x %.3f bits / 8 + adapter states = %.4g GB (QLoRA, arXiv 2305.14314)", total, QLoRABitsPerParam, e.MemoryPerGPUGB["qlora"])

	chosen := map[string]string{MethodFull: "zero3", MethodLoRA: "lora", MethodQLoRA: "qlora"}[in.Method]
	e.FitsPerGPU = e.MemoryPerGPUGB[chosen] <= in.GPU.MemoryGB
	e.formula("%s on %s: %.4g GB of model states per GPU against %.4g GB", in.Method, in.GPU.Name, e.MemoryPerGPUGB[chosen], in.GPU.MemoryGB)

	e.assume("MFU %s of the dense %s peak (reference default; PaLM 540B reached 46.2%%)", mfu, in.Precision)
	e.assume("MFU holds at %d GPUs: communication overhead at larger scale is inside the MFU range", in.GPUs)
	e.assume("memory counts model and optimizer states only; activations depend on batch, sequence and checkpointing and come on top")
	if in.Method == MethodFull {
		e.assume("full training shards states with ZeRO-3 over all %d GPUs (data-parallel degree = GPUs)", in.GPUs)
	} else {
		e.assume("adapters rank %d on q_proj and v_proj (PEFT defaults); the frozen base is replicated on each GPU", rank)
		if adapter == 0 {
			e.assume("hidden size unknown: adapter states are not counted")
		}
	}
	if in.Precision == FP8 {
		e.assume("FP8 training: the optimistic end uses the FP8 peak, the pessimistic end the BF16 peak, as parts of the step stay in BF16")
	}
	if in.Method == MethodQLoRA {
		e.assume("QLoRA computes in 16-bit after de-quantising; the de-quantisation time is not counted")
	}
	return e, nil
}
