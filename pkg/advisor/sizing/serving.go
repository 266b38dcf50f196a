package sizing

import (
	"fmt"
	"math"
)

// Efficiencies are the fractions of the hardware peaks a serving engine achieves, as ranges; the Low end
// feeds the pessimistic estimate and the High end the optimistic one.
type Efficiencies struct {
	// Decode is the achieved fraction of memory bandwidth in a decode step.
	Decode Range `json:"decode"`
	// Prefill is the achieved fraction of peak FLOPs in prefill.
	Prefill Range `json:"prefill"`
	// PrefillVariability is the squared coefficient of variation of prefill time in the
	// Pollaczek-Khinchine queueing formula: 0 for identical prompts (M/D/1), 1 for exponential (M/M/1).
	PrefillVariability Range `json:"prefill_variability"`
}

// DefaultEfficiencies are the global defaults, each with its source.
//
// How they were derived (calibration as of 2026-11-26, see ai-infra-figures.md "Calibration points"):
//   - Decode 0.5-0.6: the reference's "efficiency 0.5-0.6 in practice" for memory-bound decode. The NVIDIA
//     NIM single-stream point (Llama-3.3-70B FP8, 2x H100 SXM, TP 2) gives 18.6 ms per token against a
//     10.7 ms bandwidth bound (35.3 GB weights + 0.43 GB FP8 KV per GPU at 3.35 TB/s), i.e. 0.57, inside it.
//     Tensor-parallel all-reduce time is folded into this range because the measurement ran at TP 2.
//   - Prefill 0.4-0.7: the reference gives "up to ~0.7" of peak as the ceiling; the same NIM point's
//     407 ms TTFT for 2 x 70.6e9 x 5000 = 7.06e14 FLOPs on 2 x 1979 TFLOPS FP8 implies 0.44 including request
//     handling, so 0.4 is taken as the floor.
//   - Prefill variability 0-1: the two textbook ends of the Pollaczek-Khinchine formula (deterministic and
//     exponential service); no measured figure for prompt-length spread is available here.
//
// The same values are used for every model and GPU; the golden test checks them against all NIM points.
func DefaultEfficiencies() Efficiencies {
	return Efficiencies{
		Decode:             Range{Low: 0.5, High: 0.6},
		Prefill:            Range{Low: 0.4, High: 0.7},
		PrefillVariability: Range{Low: 0, High: 1},
	}
}

// withDefaults fills unset ranges from DefaultEfficiencies.
func (e Efficiencies) withDefaults() Efficiencies {
	d := DefaultEfficiencies()
	if e.Decode.IsZero() {
		e.Decode = d.Decode
	}
	if e.Prefill.IsZero() {
		e.Prefill = d.Prefill
	}
	if e.PrefillVariability.IsZero() {
		e.PrefillVariability = d.PrefillVariability
	}
	return e
}

// validate rejects efficiencies outside (0, 1] and variabilities that are negative.
func (e Efficiencies) validate() error {
	if !e.Decode.valid() || e.Decode.Low <= 0 || e.Decode.High > 1 {
		return invalid("efficiency.decode", "must be a range within (0, 1], got %s", e.Decode)
	}
	if !e.Prefill.valid() || e.Prefill.Low <= 0 || e.Prefill.High > 1 {
		return invalid("efficiency.prefill", "must be a range within (0, 1], got %s", e.Prefill)
	}
	if !e.PrefillVariability.valid() {
		return invalid("efficiency.prefill_variability", "must be a non-negative range, got %s", e.PrefillVariability)
	}
	return nil
}

// ServingInput describes one serving replica (a tensor-parallel group) and the load on it.
type ServingInput struct {
	Arch
	Weights        Precision   `json:"weights"`
	KV             Precision   `json:"kv"`
	GPU            Accelerator `json:"gpu"`
	TensorParallel int         `json:"tensor_parallel"`
	InputTokens    int         `json:"input_tokens"`
	OutputTokens   int         `json:"output_tokens"`
	// Concurrency is the number of requests in flight (closed loop: each user sends the next request
	// when the previous one completes, as in NIM/genai-perf concurrency benchmarks).
	Concurrency int `json:"concurrency"`
	// Utilisation is the share of GPU memory the engine may use; zero means 0.9.
	Utilisation float64 `json:"utilisation,omitempty"`
	// Efficiency overrides the calibrated defaults; unset ranges take DefaultEfficiencies.
	Efficiency Efficiencies `json:"efficiency,omitzero"`
}

// ServingEstimate is the latency and throughput of one replica at a concurrency, as ranges.
type ServingEstimate struct {
	// TTFTms is the mean time to first token; TTFTp95ms its 95th percentile.
	TTFTms    Range `json:"ttft_ms"`
	TTFTp95ms Range `json:"ttft_p95_ms"`
	// ITLms is the mean inter-token latency.
	ITLms Range `json:"itl_ms"`
	// TokensPerSecPerUser is the streaming rate one user sees after the first token (1000 / ITL).
	TokensPerSecPerUser Range `json:"tokens_per_sec_per_user"`
	// OutputTokensPerSec is the replica's total output rate.
	OutputTokensPerSec Range `json:"output_tokens_per_sec"`
	RequestsPerSec     Range `json:"requests_per_sec"`
	// PrefillFraction is the share of GPU time spent on other requests' prefill.
	PrefillFraction Range `json:"prefill_fraction"`
	// RunningSequences is how many requests decode together (concurrency capped by the KV cache).
	RunningSequences int `json:"running_sequences"`
	// Saturated is true when requests wait for KV-cache space; SaturationReason says why.
	Saturated        bool   `json:"saturated"`
	SaturationReason string `json:"saturation_reason,omitempty"`
	MemoryFit        `json:"memory"`
	Working
}

// scenario is one end of the estimate.
type scenario struct {
	decodeEff, prefillEff, variability float64
	pessimistic                        bool
}

// scenarioResult is one end's figures in seconds.
type scenarioResult struct {
	ttft, ttftP95, itl, request, step, prefill, rho float64
}

// servingModel holds the per-replica constants both scenarios share.
type servingModel struct {
	in          ServingInput
	tp          float64
	bw          float64 // bytes per weight
	peakFLOPS   float64 // per GPU, FLOP/s
	peakName    string
	bandwidth   float64 // per GPU, B/s
	kvPerGPU    float64 // KV bytes per token per GPU
	avgContext  float64 // tokens a decode step reads per sequence, on average
	activeBytes float64 // weight bytes read per decode step per GPU at batch 1
}

// weightBytesRead is the weight bytes one GPU reads in a decode step of batch sequences.
//
// Dense: all weights, N x b / TP. Mixture-of-experts: the shared part plus the experts the batch touches;
// with E experts and k per token under balanced routing (the aim of the load-balancing loss, Fedus et al.,
// Switch Transformers, arXiv 2101.03961) a batch of B tokens touches E x (1 - (1 - k/E)^B) experts per layer
// in expectation. Without expert counts the active parameters are read, which is optimistic at large batch.
func (m servingModel) weightBytesRead(batch int) float64 {
	a := m.in.Arch
	if a.activeB() >= a.ParamsTotalB {
		return a.ParamsTotalB * gb * m.bw / m.tp
	}
	if a.Experts <= 0 || a.ExpertsPerToken <= 0 || a.Experts == a.ExpertsPerToken {
		return m.activeBytes
	}
	e, k := float64(a.Experts), float64(a.ExpertsPerToken)
	perExpert := (a.ParamsTotalB - a.activeB()) / (e - k)
	shared := math.Max(0, a.activeB()-k*perExpert)
	touched := e * (1 - math.Pow(1-k/e, float64(batch)))
	return (shared + perExpert*touched) * gb * m.bw / m.tp
}

// stepSeconds is one decode step for batch sequences: the roofline maximum (Williams et al., "Roofline",
// CACM 2009) of the memory time, (weight bytes + KV bytes) / (bandwidth x efficiency), and the compute
// time, 2 x N_active x batch / (peak x efficiency) per GPU (Kaplan et al., arXiv 2001.08361: 2N FLOPs per
// token forward).
func (m servingModel) stepSeconds(batch int, s scenario) float64 {
	mem := (m.weightBytesRead(batch) + float64(batch)*m.avgContext*m.kvPerGPU) / (m.bandwidth * s.decodeEff)
	compute := 2 * m.in.activeB() * gb * float64(batch) / m.tp / (m.peakFLOPS * s.prefillEff)
	return math.Max(mem, compute)
}

// prefillSeconds is one prompt's prefill: 2 x N_active x prompt tokens FLOPs over TP x peak x efficiency
// (Kaplan et al. 2020; the reference's prefill rule), but never less than one read of the weights.
func (m servingModel) prefillSeconds(s scenario) float64 {
	compute := 2 * m.in.activeB() * gb * float64(m.in.InputTokens) / m.tp / (m.peakFLOPS * s.prefillEff)
	return math.Max(compute, m.weightBytesRead(1)/(m.bandwidth*s.decodeEff))
}

// solve finds the steady state of a closed loop of batch users for one scenario.
//
// Each request takes R = TTFT + (output - 1) x ITL. By Little's law the other users start requests at
// (batch - 1) / R per second (an arriving request sees the other batch - 1 users: the arrival theorem of
// closed queueing networks, Reiser & Lavenberg 1980), so other prefills take a fraction rho = (batch - 1) x
// T_prefill / R of the GPU. Decode stalls while they run, so ITL = step / (1 - rho); a new prompt queues
// behind them, W = rho x T_prefill x (1 + cs^2) / (2 (1 - rho)) (Pollaczek-Khinchine), and the pessimistic
// end also waits for the decode step in flight. R appears on both sides; it is found by bisection (the
// left side falls as R grows, so the root is unique and rho < 1).
func (m servingModel) solve(batch int, s scenario) scenarioResult {
	tp := m.prefillSeconds(s)
	step := m.stepSeconds(batch, s)
	residual := 0.0
	if s.pessimistic && batch > 1 {
		residual = step
	}
	out := float64(m.in.OutputTokens - 1)
	eval := func(r float64) scenarioResult {
		rho := float64(batch-1) * tp / r
		itl := step / (1 - rho)
		wait := rho * tp * (1 + s.variability) / (2 * (1 - rho))
		// 95th percentile of an M/M/1 wait: P(W > t) = rho exp(-(1 - rho) t / T), so
		// t95 = T / (1 - rho) x ln(rho / 0.05) (Kleinrock, Queueing Systems vol. 1, 1975, ch. 3).
		wait95 := 0.0
		if rho > 0.05 {
			wait95 = tp / (1 - rho) * math.Log(rho/0.05)
		}
		ttft := tp + wait + residual
		return scenarioResult{
			ttft: ttft, ttftP95: tp + math.Max(wait, wait95) + residual, itl: itl,
			request: ttft + out*itl, step: step, prefill: tp, rho: rho,
		}
	}
	lo := float64(batch-1) * tp // rho = 1 here: the left side is infinite
	hi := tp + out*step + lo + 1
	for eval(hi).request > hi {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if eval(mid).request > mid {
			lo = mid
		} else {
			hi = mid
		}
	}
	return eval(hi)
}

// validate checks the serving input and names the first impossible field.
func (in ServingInput) validate() error {
	if err := in.Arch.Validate(); err != nil {
		return err
	}
	if err := in.GPU.Validate(); err != nil {
		return err
	}
	if err := validTP(in.TensorParallel); err != nil {
		return err
	}
	if _, err := BytesPerParam(in.Weights); err != nil {
		return invalid("weights", "unknown precision %q (want bf16, fp16, fp8, int8 or int4)", in.Weights)
	}
	if _, err := BytesPerParam(in.KV); err != nil {
		return invalid("kv", "unknown precision %q (want bf16, fp16, fp8, int8 or int4)", in.KV)
	}
	switch {
	case in.InputTokens <= 0:
		return invalid("input_tokens", "must be positive, got %d", in.InputTokens)
	case in.OutputTokens <= 0:
		return invalid("output_tokens", "must be positive, got %d", in.OutputTokens)
	case in.Concurrency <= 0:
		return invalid("concurrency", "must be positive, got %d", in.Concurrency)
	}
	return in.Efficiency.withDefaults().validate()
}

// peakFor picks the dense peak prefill runs at: the FP8 peak for FP8 weights on a GPU that has one,
// otherwise BF16 (FP16 on GPUs without BF16); weight-only INT8/INT4 kernels compute in 16-bit.
func peakFor(p Precision, g Accelerator) (float64, string) {
	if p == FP8 && g.FP8TFLOPS > 0 {
		return g.FP8TFLOPS, "FP8"
	}
	if g.BF16TFLOPS > 0 {
		return g.BF16TFLOPS, "BF16"
	}
	return g.FP16TFLOPS, "FP16"
}

// EstimateServing estimates TTFT, inter-token latency and throughput of one replica at in.Concurrency
// under continuous batching: decode is memory-bound, prefill compute-bound, and other requests' prefill
// shares the GPU with decode. A model that does not fit returns the memory fit and an error wrapping
// ErrDoesNotFit.
func EstimateServing(in ServingInput) (ServingEstimate, error) {
	if err := in.validate(); err != nil {
		return ServingEstimate{}, err
	}
	eff := in.Efficiency.withDefaults()
	fit, err := FitMemory(in.Arch, in.Weights, in.KV, in.GPU, in.TensorParallel, in.Utilisation, in.InputTokens+in.OutputTokens)
	if err != nil {
		return ServingEstimate{}, err
	}
	est := ServingEstimate{MemoryFit: fit}
	est.merge(fit.Working)
	if !fit.Fits {
		return est, fmt.Errorf("%w: %.4g B params (%s) and one %d-token sequence on %d x %s",
			ErrDoesNotFit, in.ParamsTotalB, in.Weights, in.InputTokens+in.OutputTokens, in.TensorParallel, in.GPU.Name)
	}

	bw, _ := BytesPerParam(in.Weights)
	bkv, _ := BytesPerParam(in.KV)
	peak, peakName := peakFor(in.Weights, in.GPU)
	kvPerGPU, _ := kvBytesPerTokenPerGPU(in.Arch, bkv, in.TensorParallel)
	m := servingModel{
		in: in, tp: float64(in.TensorParallel), bw: bw, peakFLOPS: peak * 1e12, peakName: peakName,
		bandwidth: in.GPU.BandwidthTBs * 1e12, kvPerGPU: kvPerGPU,
		// A decode step reads, per sequence, the prompt and on average half the output so far.
		avgContext:  float64(in.InputTokens) + float64(in.OutputTokens)/2,
		activeBytes: in.activeB() * gb * bw / float64(in.TensorParallel),
	}

	batch := min(in.Concurrency, fit.MaxSequences)
	est.RunningSequences = batch
	opt := m.solve(batch, scenario{decodeEff: eff.Decode.High, prefillEff: eff.Prefill.High, variability: eff.PrefillVariability.Low})
	pes := m.solve(batch, scenario{decodeEff: eff.Decode.Low, prefillEff: eff.Prefill.Low, variability: eff.PrefillVariability.High, pessimistic: true})

	// Requests beyond the KV cache's sequences wait for a slot. With the slots always full the replica
	// completes batch / R requests per second, so by Little's law each of the concurrency users cycles in
	// concurrency x R / batch, of which R x (concurrency / batch - 1) is the wait for a slot.
	slotWait := func(r scenarioResult) float64 {
		return r.request * (float64(in.Concurrency)/float64(batch) - 1)
	}
	if batch < in.Concurrency {
		est.Saturated = true
		est.SaturationReason = fmt.Sprintf("KV cache holds %d sequences of %d tokens, fewer than the concurrency %d: requests queue for cache space",
			fit.MaxSequences, in.InputTokens+in.OutputTokens, in.Concurrency)
	}
	wOpt, wPes := slotWait(opt), slotWait(pes)
	c := float64(in.Concurrency)
	est.TTFTms = NewRange((opt.ttft+wOpt)*1e3, (pes.ttft+wPes)*1e3)
	est.TTFTp95ms = NewRange((opt.ttftP95+wOpt)*1e3, (pes.ttftP95+wPes)*1e3)
	est.ITLms = NewRange(opt.itl*1e3, pes.itl*1e3)
	est.TokensPerSecPerUser = NewRange(1/pes.itl, 1/opt.itl)
	est.RequestsPerSec = NewRange(c/(pes.request+wPes), c/(opt.request+wOpt))
	est.OutputTokensPerSec = est.RequestsPerSec.Scale(float64(in.OutputTokens))
	est.PrefillFraction = NewRange(opt.rho, pes.rho)

	est.assume("decode efficiency %s of %.3g TB/s per GPU, prefill efficiency %s of the %s peak %.4g TFLOPS per GPU (calibrated on NVIDIA NIM Llama-3.3-70B, see DefaultEfficiencies)",
		eff.Decode, in.GPU.BandwidthTBs, eff.Prefill, peakName, peak)
	est.assume("closed loop of %d users (each sends the next request when the last completes); prompt-time variability cs^2 %s", in.Concurrency, eff.PrefillVariability)
	est.assume("tensor-parallel all-reduce time is inside the decode efficiency range (calibrated at TP 2); larger TP may add more")
	est.assume("prefill of new requests pauses decode (no overlap credited), so ITL is an upper-leaning estimate under chunked prefill")
	est.assume("attention FLOPs over the prompt are not counted separately; they fall within the prefill efficiency")
	if in.activeB() < in.ParamsTotalB && (in.Experts <= 0 || in.ExpertsPerToken <= 0) {
		est.assume("mixture-of-experts decode reads only the active %.4g B parameters; larger batches touch more experts, so latency may be higher", in.activeB())
	}
	est.formula("prefill = 2 x %.4ge9 x %d tokens / (TP %d x %.4g TFLOPS x %s) = %.0f-%.0f ms (Kaplan et al. 2020)",
		in.activeB(), in.InputTokens, in.TensorParallel, peak, eff.Prefill, opt.prefill*1e3, pes.prefill*1e3)
	est.formula("decode step (batch %d) = (%.4g GB weights + %d x %.0f tokens x %.0f B KV) per GPU / (%.3g TB/s x %s) = %.2f-%.2f ms",
		batch, m.weightBytesRead(batch)/gb, batch, m.avgContext, kvPerGPU, in.GPU.BandwidthTBs, eff.Decode, opt.step*1e3, pes.step*1e3)
	est.formula("prefill share rho = (batch %d - 1) x T_prefill / R = %.3f-%.3f (Little's law, arrival theorem)", batch, opt.rho, pes.rho)
	est.formula("ITL = step / (1 - rho) = %.2f-%.2f ms", opt.itl*1e3, pes.itl*1e3)
	est.formula("TTFT = T_prefill + rho x T_prefill x (1 + cs^2) / (2 (1 - rho)) (Pollaczek-Khinchine) = %.0f-%.0f ms",
		opt.ttft*1e3, pes.ttft*1e3)
	if est.Saturated {
		est.formula("wait for KV space = R x (concurrency %d / running %d - 1) = %.1f-%.1f s (Little's law)",
			in.Concurrency, batch, wOpt, wPes)
	}
	est.formula("request time R = TTFT + (%d - 1) x ITL = %.2f-%.2f s; throughput = %d x %d tokens / R = %.0f-%.0f tokens/s",
		in.OutputTokens, opt.request+wOpt, pes.request+wPes, in.Concurrency, in.OutputTokens, est.OutputTokensPerSec.Low, est.OutputTokensPerSec.High)
	return est, nil
}
