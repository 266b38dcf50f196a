package sizing

// Test fixtures: figures from the sources the catalogue cites (collected 2026-11-26) and the
// models' published configurations.

// h100 is an H100 SXM: 80 GB, 3.35 TB/s, 989 BF16 / 1979 FP8 dense TFLOPS (stas00/ml-engineering), NVLink
// 450 GB/s each way (NVIDIA H100 datasheet).
func h100() Accelerator {
	return Accelerator{Name: "H100 SXM", MemoryGB: 80, BandwidthTBs: 3.35, BF16TFLOPS: 989, FP8TFLOPS: 1979, LinkGBs: 450}
}

// l4 is an NVIDIA L4: 24 GB, 0.3 TB/s, 121 BF16 / 242 FP8 dense TFLOPS (NVIDIA L4 datasheet).
func l4() Accelerator {
	return Accelerator{Name: "L4", MemoryGB: 24, BandwidthTBs: 0.3, BF16TFLOPS: 121, FP8TFLOPS: 242}
}

// llama70B is Llama-3/3.3-70B: 70.6 B parameters, 80 layers, 8 KV heads of 128, hidden 8192 (config.json).
func llama70B() Arch {
	return Arch{ParamsTotalB: 70.6, Layers: 80, KVHeads: 8, HeadDim: 128, Attention: AttentionGQA, HiddenSize: 8192}
}

// llama8B is Llama-3.1-8B: 8.03 B parameters, 32 layers, 8 KV heads of 128, hidden 4096 (config.json).
func llama8B() Arch {
	return Arch{ParamsTotalB: 8.03, Layers: 32, KVHeads: 8, HeadDim: 128, Attention: AttentionGQA, HiddenSize: 4096}
}

// mixtral is Mixtral 8x7B: 46.7 B total, 12.9 B active, 32 layers, 8 KV heads of 128, 8 experts, 2 per token.
func mixtral() Arch {
	return Arch{ParamsTotalB: 46.7, ParamsActiveB: 12.9, Layers: 32, KVHeads: 8, HeadDim: 128, HiddenSize: 4096,
		Experts: 8, ExpertsPerToken: 2}
}

// deepseekV3 is DeepSeek-V3: 671 B total, 37 B active, 61 layers, MLA latent 512 + 64 rope dims.
func deepseekV3() Arch {
	return Arch{ParamsTotalB: 671, ParamsActiveB: 37, Layers: 61, Attention: AttentionMLA, MLALatentDim: 576, HiddenSize: 7168}
}

// nimInput is the NVIDIA NIM benchmark set-up: Llama-3.3-70B FP8 on 2x H100 SXM, TP 2, 5000 in / 500 out.
func nimInput(concurrency int, kv Precision) ServingInput {
	return ServingInput{Arch: llama70B(), Weights: FP8, KV: kv, GPU: h100(), TensorParallel: 2,
		InputTokens: 5000, OutputTokens: 500, Concurrency: concurrency}
}
