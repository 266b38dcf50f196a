package sizing

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// catalogueTraining maps a catalogue model and GPU onto a training input, as the planner does, so the
// hand-worked figures below are checked against the catalogue rows they were worked from.
func catalogueTraining(t *testing.T, model, gpu string) TrainingInput {
	t.Helper()
	cat, err := catalog.Load()
	require.NoError(t, err)
	m, ok := cat.Model(model)
	require.True(t, ok, model)
	g, ok := cat.GPU(gpu)
	require.True(t, ok, gpu)
	return TrainingInput{
		Arch: Arch{ParamsTotalB: m.ParamsTotalB, Layers: m.Layers, KVHeads: m.KVHeads, HeadDim: m.HeadDim,
			Attention: m.Attention, HiddenSize: m.Hidden},
		Heads: m.Heads, TokensB: 1, Precision: BF16, GPUsPerNode: 8,
		GPU: Accelerator{Name: g.Name, MemoryGB: g.MemoryGB, BandwidthTBs: g.BandwidthTBs, BF16TFLOPS: g.BF16TFLOPS, FP8TFLOPS: g.FP8TFLOPS},
	}
}

// llama2_7B is Llama 2 7B: 7 B parameters (nominal), 32 layers, hidden 4096, 32 heads, multi-head
// attention (Touvron et al., arXiv 2307.09288, Table 1 and the published config.json).
func llama2_7B() TrainingInput {
	return TrainingInput{Arch: Arch{ParamsTotalB: 7, Layers: 32, KVHeads: 32, HeadDim: 128, Attention: AttentionMHA, HiddenSize: 4096},
		Heads: 32, TokensB: 1, Precision: BF16, GPU: h100(), GPUsPerNode: 8}
}

// TestTrainingHandWorked checks memory per GPU and the fewest GPUs for full, LoRA and QLoRA against
// arithmetic done by hand. Common to every case: usable = 0.9 x GPU memory (72 GB on an H100 80GB,
// 36 GB on an A100 40GB); micro-batch 1 of s = 4096 tokens; full activation checkpointing.
//
// Activations per GPU (t = tensor-parallel degree, Korthikanti et al., arXiv 2205.05198):
//
//	stored inputs 2 s h L / t, plus one layer recomputed: 34 s h / t (fused attention) to s h (34 + 5 a s / h) / t.
//	With a s / h = 4096 x a / h = 32 for every Llama below, 5 a s / h = 160, so the high end is 194 s h / t.
//
// ZeRO-3/FSDP adds one (low) to two (high) gathered layers: N/L x 2 B (LoRA, QLoRA) or x 4 B (full).
// LoRA adapters: L x 8 x (2h + h + n_kv x 128) parameters at 16 B.
func TestTrainingHandWorked(t *testing.T) {
	t.Parallel()
	type method struct {
		method   string
		strategy string
		gpus     int     // the run's GPUs
		states   float64 // GB per GPU at gpus
		memLow   float64 // states + activations, GB per GPU at gpus
		memHigh  float64
		fits     bool
		minGPUs  int
		minPar   TrainingParallelism
		minHigh  float64 // GB per GPU, pessimistic, at the minimum
	}
	tests := []struct {
		name    string
		in      func(t *testing.T) TrainingInput
		methods []method
	}{
		{
			// Llama 2 7B, N = 7e9, L 32, h 4096, a 32 (MHA, n_kv 32):
			// stored 2 x 4096 x 4096 x 32 = 1.0737 GB; layer 34 s h = 0.5704 GB, 194 s h = 3.2548 GB;
			// activations 1.6442-4.3286 GB. Adapter 32 x 8 x (8192 + 4096 + 4096) = 4,194,304 x 16 B = 0.0671 GB.
			// Full: one copy 7e9 x 16 = 112 GB + 4.33 > 72. FSDP gathers N/L x 4 = 0.875 GB, 1.75 at the high end:
			// 1.0737 + 3.2548 + 1.75 = 6.0785; 112 / (72 - 6.0785) = 1.70 -> 2 GPUs (56 + 2.519-6.079 GB).
			// On 8 GPUs: 112 / 8 = 14 + 2.519-6.079 = 16.52-20.08 GB.
			// LoRA: 7e9 x 2 = 14 + 0.0671 = 14.067 + 1.644-4.329 = 15.71-18.40 GB, replicated, 1 GPU.
			// QLoRA: 7e9 x 4.127 / 8 = 3.611 + 0.0671 = 3.678 + 1.644-4.329 = 5.32-8.01 GB, 1 GPU.
			name: "7B on 8x H100", in: func(*testing.T) TrainingInput { return llama2_7B() },
			methods: []method{
				{method: MethodFull, strategy: "zero3", gpus: 8, states: 14, memLow: 16.519, memHigh: 20.079, fits: true,
					minGPUs: 2, minPar: TrainingParallelism{Data: 2, Tensor: 1, Pipeline: 1}, minHigh: 62.079},
				{method: MethodLoRA, strategy: "lora", gpus: 8, states: 14.067, memLow: 15.711, memHigh: 18.396, fits: true,
					minGPUs: 1, minPar: TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}, minHigh: 18.396},
				{method: MethodQLoRA, strategy: "qlora", gpus: 8, states: 3.678, memLow: 5.322, memHigh: 8.007, fits: true,
					minGPUs: 1, minPar: TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}, minHigh: 8.007},
			},
		},
		{
			// llama-3.1-8b, N = 8e9, L 32, h 4096, a 32, n_kv 8: activations as 7B, 1.6442-4.3286 GB.
			// Adapter 32 x 8 x (8192 + 4096 + 1024) = 3,407,872 x 16 B = 0.0545 GB.
			// Full: 128 GB; FSDP gathers 0.25e9 x 4 = 1 GB, 2 high: 6.3286; 128 / 65.671 = 1.95 -> 2 GPUs
			// (64 + 2.644-6.329 = 66.64-70.33 GB). On 8: 16 + 2.644-6.329 = 18.64-22.33 GB.
			// LoRA: 16 + 0.0545 + 1.644-4.329 = 17.70-20.38 GB, 1 GPU. QLoRA: 4.127 + 0.0545 = 4.18 + act = 5.83-8.51 GB.
			name: "llama-3.1-8b on 8x H100", in: func(t *testing.T) TrainingInput { return catalogueTraining(t, "llama-3.1-8b", "h100-sxm") },
			methods: []method{
				{method: MethodFull, strategy: "zero3", gpus: 8, states: 16, memLow: 18.644, memHigh: 22.329, fits: true,
					minGPUs: 2, minPar: TrainingParallelism{Data: 2, Tensor: 1, Pipeline: 1}, minHigh: 70.329},
				{method: MethodLoRA, strategy: "lora", gpus: 8, states: 16.055, memLow: 17.699, memHigh: 20.383, fits: true,
					minGPUs: 1, minPar: TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}, minHigh: 20.383},
				{method: MethodQLoRA, strategy: "qlora", gpus: 8, states: 4.182, memLow: 5.826, memHigh: 8.510, fits: true,
					minGPUs: 1, minPar: TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}, minHigh: 8.510},
			},
		},
		{
			// llama-3.1-8b on A100 40GB, 36 GB usable. Full: FSDP 128 / (36 - 6.3286) = 4.31 -> 5 -> 8 (1, 2, 4,
			// 8 within a machine); tensor 8 x pipeline 1 is 8 too (16 + 0.54 GB), and FSDP wins the tie:
			// 8 GPUs at 18.64-22.33 GB. LoRA still fits one GPU: 20.38 <= 36.
			name: "llama-3.1-8b on 8x A100 40GB", in: func(t *testing.T) TrainingInput { return catalogueTraining(t, "llama-3.1-8b", "a100-40gb") },
			methods: []method{
				{method: MethodFull, strategy: "zero3", gpus: 8, states: 16, memLow: 18.644, memHigh: 22.329, fits: true,
					minGPUs: 8, minPar: TrainingParallelism{Data: 8, Tensor: 1, Pipeline: 1}, minHigh: 22.329},
				{method: MethodLoRA, strategy: "lora", gpus: 8, states: 16.055, memLow: 17.699, memHigh: 20.383, fits: true,
					minGPUs: 1, minPar: TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}, minHigh: 20.383},
			},
		},
		{
			// llama-3.1-70b, N = 70e9, L 80, h 8192, a 64: stored 2 x 4096 x 8192 x 80 = 5.3687 GB; layer
			// 34 s h = 1.1409 GB, 194 s h = 6.5096 GB; activations 6.5096-11.878 GB (0.8137-1.4848 at t 8).
			// Adapter 80 x 8 x (16384 + 8192 + 1024) = 16,384,000 x 16 B = 0.2621 GB.
			// Full: 70e9 x 16 = 1120 GB; 1120 / 8 = 140 > 80 before activations. FSDP: gathers 0.875e9 x 4 =
			// 3.5 GB, 7 high: 1120 / (72 - 18.878) = 21.1 -> 22 -> 24 (3 machines). Tensor 8 x pipeline 2:
			// 1120 / 16 = 70 + 0.81-1.48 = 70.81-71.48 <= 72 -> 16 GPUs (2 machines), fewer: chosen.
			// On 8 GPUs (tensor 8, one stage): 140 + 0.81-1.48 GB, does not fit.
			// LoRA: one copy 140.26 GB. FSDP gathers 1.75, 3.5 high: 140.26 / (72 - 15.378) = 2.48 -> 3 -> 4.
			// On 8 GPUs: 140.26 / 8 = 17.53 + 8.26-15.38 = 25.79-32.91 GB, fits (the defect: it was 140 GB).
			// QLoRA: 70e9 x 4.127 / 8 = 36.11 + 0.26 = 36.37 + 6.51-11.88 = 42.88-48.25 GB: one GPU, replicated.
			name: "llama-3.1-70b on 8x H100", in: func(t *testing.T) TrainingInput { return catalogueTraining(t, "llama-3.1-70b", "h100-sxm") },
			methods: []method{
				{method: MethodFull, strategy: "tp_pp", gpus: 8, states: 140, memLow: 140.814, memHigh: 141.485, fits: false,
					minGPUs: 16, minPar: TrainingParallelism{Data: 1, Tensor: 8, Pipeline: 2}, minHigh: 71.485},
				{method: MethodLoRA, strategy: "lora_fsdp", gpus: 8, states: 17.533, memLow: 25.793, memHigh: 32.911, fits: true,
					minGPUs: 4, minPar: TrainingParallelism{Data: 4, Tensor: 1, Pipeline: 1}, minHigh: 50.443},
				{method: MethodQLoRA, strategy: "qlora", gpus: 8, states: 36.373, memLow: 42.883, memHigh: 48.251, fits: true,
					minGPUs: 1, minPar: TrainingParallelism{Data: 1, Tensor: 1, Pipeline: 1}, minHigh: 48.251},
			},
		},
		{
			// llama-3.1-70b on A100 40GB, 36 GB usable. Full: tensor 8 x pipeline 4 = 1120 / 32 = 35 + 1.48 > 36;
			// pipeline 5 (80 / 5 = 16 layers a stage): 28 + 0.81-1.48 -> 40 GPUs (FSDP would need
			// 1120 / (36 - 18.88) = 65.4 -> 72). LoRA: FSDP 140.26 / (36 - 15.38) = 6.8 -> 8, tensor 8 x 1 also 8;
			// FSDP on the tie. QLoRA: one copy 48.25 > 36; FSDP 36.37 / 20.62 = 1.76 -> 2 GPUs
			// (18.19 + 8.26-15.38 = 26.45-33.56 GB).
			name: "llama-3.1-70b on 8x A100 40GB", in: func(t *testing.T) TrainingInput { return catalogueTraining(t, "llama-3.1-70b", "a100-40gb") },
			methods: []method{
				{method: MethodFull, strategy: "tp_pp", gpus: 40, states: 28, memLow: 28.814, memHigh: 29.485, fits: true,
					minGPUs: 40, minPar: TrainingParallelism{Data: 1, Tensor: 8, Pipeline: 5}, minHigh: 29.485},
				{method: MethodLoRA, strategy: "lora_fsdp", gpus: 8, states: 17.533, memLow: 25.793, memHigh: 32.911, fits: true,
					minGPUs: 8, minPar: TrainingParallelism{Data: 8, Tensor: 1, Pipeline: 1}, minHigh: 32.911},
				{method: MethodQLoRA, strategy: "qlora_fsdp", gpus: 8, states: 4.547, memLow: 12.806, memHigh: 19.925, fits: true,
					minGPUs: 2, minPar: TrainingParallelism{Data: 2, Tensor: 1, Pipeline: 1}, minHigh: 33.564},
			},
		},
		{
			// llama-3.1-405b, N = 405e9, L 126, h 16384, a 128: stored 2 x 4096 x 16384 x 126 = 16.911 GB;
			// layer 34 s h = 2.2817 GB, 194 s h = 13.019 GB; activations 19.193-29.931 GB (2.399-3.741 at t 8).
			// Adapter 126 x 8 x (32768 + 16384 + 1024) = 50,577,408 x 16 B = 0.8092 GB.
			// Full: 405e9 x 16 = 6480 GB. FSDP gathers 3.214e9 x 4 = 12.86 GB, 25.71 high: 6480 / (72 - 55.65)
			// = 396 -> 400. Tensor 8: 810 / p + 3.74 <= 72 -> p >= 11.9, and p divides 126 -> 14:
			// 6480 / 112 = 57.86 + 2.40-3.74 = 60.26-61.60 GB on 112 GPUs (14 machines).
			// LoRA: one copy 810.81 GB. FSDP gathers 6.43, 12.86 high: 810.81 / (72 - 42.79) = 27.8 -> 32;
			// tensor 8 x pipeline 2: 810.81 / 16 = 50.68 + 2.40-3.74 -> 16 GPUs.
			// QLoRA: 405e9 x 4.127 / 8 = 208.93 + 0.81 = 209.74 GB. FSDP: 209.74 / 29.21 = 7.2 -> 8 GPUs,
			// 26.22 + 25.62-42.79 = 51.84-69.01 GB; tensor 8 x 1 is 8 too; FSDP on the tie (FSDP+QLoRA, Answer.AI).
			name: "llama-3.1-405b on H100", in: func(t *testing.T) TrainingInput {
				in := catalogueTraining(t, "llama-3.1-405b", "h100-sxm")
				in.GPUs = 112
				return in
			},
			methods: []method{
				{method: MethodFull, strategy: "tp_pp", gpus: 112, states: 57.857, memLow: 60.256, memHigh: 61.598, fits: true,
					minGPUs: 112, minPar: TrainingParallelism{Data: 1, Tensor: 8, Pipeline: 14}, minHigh: 61.598},
				{method: MethodLoRA, strategy: "lora_tp_pp", gpus: 16, states: 50.676, memLow: 53.075, memHigh: 54.417, fits: true,
					minGPUs: 16, minPar: TrainingParallelism{Data: 1, Tensor: 8, Pipeline: 2}, minHigh: 54.417},
				{method: MethodQLoRA, strategy: "qlora_fsdp", gpus: 8, states: 26.217, memLow: 51.838, memHigh: 69.005, fits: true,
					minGPUs: 8, minPar: TrainingParallelism{Data: 8, Tensor: 1, Pipeline: 1}, minHigh: 69.005},
			},
		},
	}
	for _, tc := range tests {
		for _, m := range tc.methods {
			t.Run(tc.name+" "+m.method, func(t *testing.T) {
				t.Parallel()
				in := tc.in(t)
				in.Method, in.GPUs = m.method, m.gpus
				e, err := EstimateTraining(in)
				require.NoError(t, err)
				require.Equal(t, 4096, e.SeqTokens)
				c := e.Chosen
				require.Equal(t, m.method, c.Method)
				require.Equal(t, m.strategy, c.Strategy, c.Description)
				require.InDelta(t, m.states, c.StatesGB, 0.002)
				require.InDelta(t, m.memLow, c.MemoryPerGPUGB.Low, 0.002)
				require.InDelta(t, m.memHigh, c.MemoryPerGPUGB.High, 0.002)
				require.Equal(t, m.fits, c.Fits)
				require.Equal(t, m.fits, e.FitsPerGPU)
				require.Equal(t, m.minGPUs, c.MinGPUs)
				require.Equal(t, m.minPar, c.MinParallelism)
				require.InDelta(t, m.minHigh, c.MemoryAtMinGB.High, 0.002)
				require.LessOrEqual(t, c.MemoryAtMinGB.High, c.UsableGB, "fits at the minimum")
				require.NotEmpty(t, e.Assumptions)
				require.NotEmpty(t, e.Formulas)
			})
		}
	}
}

// TestTrainingPipelineBubble: 405B full training on its minimum of 112 H100s runs tensor 8 x pipeline
// 14 with one data-parallel copy. A step of 1M-4M tokens is 244.1-976.6 sequences of 4096, each a
// micro-batch, so the bubble is (p-1)/(m+p-1) = 13/257.1-13/989.6 = 0.0506-0.0131 of the step and the
// time stretches by 1 + 13/m = 1.0133-1.0532 (Narayanan et al., arXiv 2104.04473).
func TestTrainingPipelineBubble(t *testing.T) {
	t.Parallel()
	in := catalogueTraining(t, "llama-3.1-405b", "h100-sxm")
	in.Method, in.GPUs = MethodFull, 112
	e, err := EstimateTraining(in)
	require.NoError(t, err)
	mLo, mHi := 1e6/4096, 4e6/4096
	require.InDelta(t, 13/(mHi+13), e.PipelineBubble.Low, 1e-9)
	require.InDelta(t, 13/(mLo+13), e.PipelineBubble.High, 1e-9)
	// Busy GPU-hours 6 x 405e9 x 1e9 / (989e12 x 0.45..0.35) / 3600 = 1516.6-1949.9.
	busyLo, busyHi := 6*405e9*1e9/(989e12*0.45)/3600, 6*405e9*1e9/(989e12*0.35)/3600
	require.InDelta(t, busyLo/112*(1+13/mHi), e.WallClockHours.Low, 1e-9)
	require.InDelta(t, busyHi/112*(1+13/mLo), e.WallClockHours.High, 1e-9)
	require.InDelta(t, e.WallClockHours.High*112, e.GPUHours.High, 1e-6)

	// 128 GPUs hold one tensor x pipeline group of 112; 16 idle, billed, and the wall clock is unchanged.
	in.GPUs = 128
	more, err := EstimateTraining(in)
	require.NoError(t, err)
	require.Equal(t, TrainingParallelism{Data: 1, Tensor: 8, Pipeline: 14}, more.Chosen.Parallelism)
	require.InDelta(t, e.WallClockHours.High, more.WallClockHours.High, 1e-9)
	require.InDelta(t, e.WallClockHours.High*128, more.GPUHours.High, 1e-6)

	// 224 GPUs make two copies: m halves, the bubble grows, the wall clock still shrinks.
	in.GPUs = 224
	two, err := EstimateTraining(in)
	require.NoError(t, err)
	require.Equal(t, 2, two.Chosen.Parallelism.Data)
	require.Greater(t, two.PipelineBubble.High, e.PipelineBubble.High)
	require.Less(t, two.WallClockHours.High, e.WallClockHours.High)
	// ZeRO-1 shards the 12 optimizer bytes over the copies: 405e9 / 112 x (4 + 12/2) = 36.16 GB.
	require.InDelta(t, 405e9/112*10/1e9, two.Chosen.StatesGB, 1e-6)
}

// TestTrainingLongSequenceFitsNowhere: at 128k tokens a 405B layer's stored inputs alone are
// 2 x 131072 x 16384 x 126 = 541 GB, 67.6 GB per GPU at tensor 8, and the recomputed layer (194 s h / 8
// without fused attention, 52 GB) overflows 72 GB: no layout fits, and the estimate says so.
func TestTrainingLongSequenceFitsNowhere(t *testing.T) {
	t.Parallel()
	in := catalogueTraining(t, "llama-3.1-405b", "h100-sxm")
	in.Method, in.GPUs, in.SeqTokens = MethodFull, 1024, 131072
	e, err := EstimateTraining(in)
	require.NoError(t, err)
	require.Zero(t, e.Chosen.MinGPUs)
	require.False(t, e.FitsPerGPU)
	require.Contains(t, strings.Join(e.Formulas, "\n"), "full on NVIDIA H100 SXM 80GB")
	require.Contains(t, strings.Join(e.Formulas, "\n"), "fits no layout up to 65536 GPUs")
}
