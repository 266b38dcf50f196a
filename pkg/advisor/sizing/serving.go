package sizing

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/span"
)

// Efficiencies are the calibrated parameters of the serving model, as ranges: the fractions of the
// hardware peaks a serving engine achieves and the time it spends outside the GPU's kernels. The end that
// makes a replica faster feeds the optimistic estimate and the other end the pessimistic one.
type Efficiencies struct {
	// Decode is the achieved fraction of memory bandwidth in a decode step.
	Decode Range
	// Prefill is the achieved fraction of peak FLOPs in prefill.
	Prefill Range
	// PrefillVariability is the squared coefficient of variation of prefill time in the
	// Pollaczek-Khinchine queueing formula: 0 for identical prompts (M/D/1), 1 for exponential (M/M/1).
	PrefillVariability Range
	// StepOverheadMs is the fixed part of one engine iteration outside the GPU's memory and compute time:
	// scheduling, input preparation, sampling, kernel launches.
	StepOverheadMs Range
	// SequenceOverheadMs is the part of an iteration that grows with each running sequence (sampling,
	// detokenising and streaming its token, stop checks).
	SequenceOverheadMs Range
	// RequestOverheadMs is what a request spends outside the engine's iterations before its first token:
	// HTTP handling, tokenising, handing the request to the engine, streaming the first token back.
	RequestOverheadMs Range
	// AllReduceHopUs is the latency of one step of an all-reduce between the GPUs of a replica.
	AllReduceHopUs Range
}

// DefaultEfficiencies are the calibrated defaults. The serving benchmark curves they were fitted on, and
// the curve held out to test them, are catalogue rows (data/serving_benchmarks.yaml); TestCalibration
// checks every published point against the ranges and prints the fit.
//
//   - Decode 0.5-0.6 of memory bandwidth: the common "0.5-0.6 in practice" for memory-bound decode; the
//     single-stream points of the fitted curves land inside it once the step overheads below are counted.
//   - Prefill 0.4-0.7 of the dense peak: "up to ~0.7" is the usual ceiling (EleutherAI, Transformer
//     Math 101); the fitted curves' single-stream TTFTs need 0.4 at the low end.
//   - Prefill variability 0-1: the two textbook ends of the Pollaczek-Khinchine formula (Kleinrock,
//     Queueing Systems vol. 1, 1975): deterministic and exponential prompt times.
//   - Step overhead 1-3 ms and 0.01-0.03 ms per running sequence: the engine's CPU work per iteration,
//     fitted to the fitted curves' inter-token latency at small and large batches.
//   - Request overhead 10-40 ms: fitted to the single-stream TTFTs beyond prefill compute.
//   - All-reduce hop 2-6 us: fitted to the tensor-parallel curves' ITL beyond the bandwidth time.
//
// The same values are used for every model and GPU.
func DefaultEfficiencies() Efficiencies {
	return Efficiencies{
		Decode:             Range{Low: 0.5, High: 0.65},
		Prefill:            Range{Low: 0.4, High: 0.7},
		PrefillVariability: Range{Low: 0, High: 1},
		StepOverheadMs:     Range{Low: 1, High: 3},
		SequenceOverheadMs: Range{Low: 0.01, High: 0.05},
		RequestOverheadMs:  Range{Low: 10, High: 40},
		AllReduceHopUs:     Range{Low: 2, High: 6},
	}
}

// withDefaults fills unset ranges from DefaultEfficiencies.
func (e Efficiencies) withDefaults() Efficiencies {
	d := DefaultEfficiencies()
	fill := func(r *Range, def Range) {
		if r.IsZero() {
			*r = def
		}
	}
	fill(&e.Decode, d.Decode)
	fill(&e.Prefill, d.Prefill)
	fill(&e.PrefillVariability, d.PrefillVariability)
	fill(&e.StepOverheadMs, d.StepOverheadMs)
	fill(&e.SequenceOverheadMs, d.SequenceOverheadMs)
	fill(&e.RequestOverheadMs, d.RequestOverheadMs)
	fill(&e.AllReduceHopUs, d.AllReduceHopUs)
	return e
}

// validate rejects efficiencies outside (0, 1] and overheads or variabilities that are negative or absurd.
func (e Efficiencies) validate() error {
	if !e.Decode.valid() || e.Decode.Low <= 0 || e.Decode.High > 1 {
		return invalid("efficiency.decode", "must be a range within (0, 1], got %s", e.Decode)
	}
	if !e.Prefill.valid() || e.Prefill.Low <= 0 || e.Prefill.High > 1 {
		return invalid("efficiency.prefill", "must be a range within (0, 1], got %s", e.Prefill)
	}
	for _, f := range []struct {
		name string
		r    Range
		max  float64
	}{
		{"efficiency.prefill_variability", e.PrefillVariability, 100},
		{"efficiency.step_overhead_ms", e.StepOverheadMs, 1000},
		{"efficiency.sequence_overhead_ms", e.SequenceOverheadMs, 100},
		{"efficiency.request_overhead_ms", e.RequestOverheadMs, 60000},
		{"efficiency.all_reduce_hop_us", e.AllReduceHopUs, 10000},
	} {
		if !f.r.valid() || f.r.High > f.max {
			return invalid(f.name, "must be a non-negative range up to %g, got %s", f.max, f.r)
		}
	}
	return nil
}

// Engine limits of the serving engine's scheduler, as vLLM sets them by default
// (vllm-project/vllm vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults, OpenAI server context): on
// GPUs with at least 70 GiB that are not A100s, 8192 tokens per iteration and 1024 running sequences;
// otherwise 2048 and 256.
const (
	largeGPUBatchedTokens = 8192
	largeGPUMaxSequences  = 1024
	smallGPUBatchedTokens = 2048
	smallGPUMaxSequences  = 256
	largeGPUMemoryGB      = 70 * 1.073741824 // 70 GiB in GB
)

// engineLimits returns the scheduler's token budget per iteration and its running-sequence cap for gpu.
func engineLimits(g Accelerator) (tokens, sequences int) {
	if g.MemoryGB >= largeGPUMemoryGB && !strings.Contains(strings.ToUpper(g.Name), "A100") {
		return largeGPUBatchedTokens, largeGPUMaxSequences
	}
	return smallGPUBatchedTokens, smallGPUMaxSequences
}

// LeanWorkspaceGB is the runtime workspace per GPU (CUDA context, activations of one token budget, CUDA
// graphs) at the optimistic end of the KV-cache capacity: an assumption of about 2 GB, checked against the
// saturation point of the calibration curves (NIM Llama-3.3-70B FP8 on 2 x H100 saturates near 85
// running sequences of 5,250 tokens).
const LeanWorkspaceGB = 2.0

// Interconnect defaults when the catalogue gives no link bandwidth, and the network between the machines of
// a pipeline-parallel replica.
const (
	// DefaultLinkGBs is PCIe Gen4 x16 in one direction, 32 GB/s (PCI-SIG PCIe 4.0 specification: 16 GT/s
	// per lane, 16 lanes), the slowest link a data-centre GPU of the catalogue has.
	DefaultLinkGBs = 32
	// NodeLinkGBs is the network between two machines of one replica: 200 Gb/s, 25 GB/s, a conservative
	// figure below the 400-3200 Gb/s of GPU instances' published networking.
	NodeLinkGBs = 25
	// NodeHopMs is the latency of handing one batch's activations to the next machine: 0.05 ms, the order
	// of an RDMA transfer's set-up; the transfer itself is counted at NodeLinkGBs.
	NodeHopMs = 0.05
	// activationBytes is one activation element on the wire: 16-bit, also for FP8 weights.
	activationBytes = 2
)

// ServingInput describes one serving replica (a tensor-parallel group, optionally split into pipeline
// stages over machines) and the load on it.
type ServingInput struct {
	Arch
	Weights        Precision
	KV             Precision
	GPU            Accelerator
	TensorParallel int
	// PipelineParallel is the number of machines the layers are split over; zero means 1.
	PipelineParallel int
	InputTokens      int
	OutputTokens     int
	// ContextTokens is the longest sequence the replica must hold; zero means input + output.
	ContextTokens int
	// Concurrency is the number of requests in flight (closed loop: each user sends the next request
	// when the previous one completes, as in NIM/genai-perf concurrency benchmarks).
	Concurrency int
	// Utilisation is the share of GPU memory the engine may use; zero means 0.9.
	Utilisation float64
	// MaxBatchedTokens and MaxSequences are the scheduler's limits per iteration; zero means the serving
	// engine's default for the GPU (engineLimits).
	MaxBatchedTokens int
	MaxSequences     int
	// Efficiency overrides the calibrated defaults; unset ranges take DefaultEfficiencies.
	Efficiency Efficiencies
}

// ServingEstimate is the latency and throughput of one replica at a concurrency, as ranges.
type ServingEstimate struct {
	// TTFTms is the mean time to first token; TTFTp95ms its 95th percentile.
	TTFTms    Range
	TTFTp95ms Range
	// ITLms is the mean inter-token latency.
	ITLms Range
	// TTFTp95SpreadMs and ITLSpreadMs are the same figures when requests arrive spread out, as production
	// traffic from many independent users does; the ranges above also span synchronised waves, which
	// fixed-length benchmarks produce. Latency targets are checked against these.
	TTFTp95SpreadMs Range
	ITLSpreadMs     Range
	// TokensPerSecPerUser is the streaming rate one user sees after the first token (1000 / ITL).
	TokensPerSecPerUser Range
	// OutputTokensPerSec is the replica's total output rate.
	OutputTokensPerSec Range
	RequestsPerSec     Range
	// PrefillFraction is the share of GPU time spent on other requests' prefill.
	PrefillFraction Range
	// RunningSequences is how many requests the engine runs at once at the pessimistic end (concurrency
	// capped by the KV cache and the scheduler); MaxRunning is the cap itself at that end.
	RunningSequences int
	MaxRunning       int
	// Saturated is true when requests wait for a place in the running batch; SaturationReason says why.
	Saturated        bool
	SaturationReason string
	MemoryFit
	Working
}

// scenario is one end of the estimate.
type scenario struct {
	decodeEff, prefillEff, variability float64
	stepOverhead, seqOverhead          float64 // seconds
	requestOverhead                    float64 // seconds
	hop                                float64 // seconds per all-reduce ring step
	budget                             int     // scheduler tokens per iteration
	pessimistic                        bool
	// prefill (one prompt's GPU time, T_prefill) and commIdle (an iteration's communication with no
	// tokens) depend on the replica and the end only, not on the concurrency: newReplica works them out
	// once, instead of every solve of a capacity search.
	prefill, commIdle float64
}

// scenarioResult is one end's figures in seconds.
type scenarioResult struct {
	ttft, ttftP95, itl, request, step, prefill, service, rho, slotWait float64
	running                                                            int
}

// servingModel holds the per-replica constants both scenarios share.
type servingModel struct {
	in        ServingInput
	tp, pp    float64
	bw        float64 // bytes per weight
	peakFLOPS float64 // per GPU, FLOP/s
	peakName  string
	bandwidth float64 // per GPU, B/s
	link      float64 // GPU-to-GPU, one direction, B/s
	hidden    float64 // model width, for the activations all-reduced
	// kvPerRank is the KV bytes per token one tensor-parallel rank reads over all layers (all stages).
	kvPerRank   float64
	avgContext  float64 // tokens a decode step reads per sequence, on average
	activeBytes float64 // weight bytes one rank reads over all layers per decode step at batch 1
}

// hiddenSize is the model width: the architecture's, or sqrt(N / (12 L)) from N ~= 12 L d^2 (Kaplan et
// al., "Scaling Laws for Neural Language Models", arXiv 2001.08361, section 2.1) when it is not given.
func hiddenSize(a Arch) float64 {
	if a.HiddenSize > 0 {
		return float64(a.HiddenSize)
	}
	return math.Sqrt(a.activeB() * gb / (12 * float64(a.Layers)))
}

// weightBytesRead is the weight bytes one tensor-parallel rank reads over all layers in a decode step of
// batch sequences.
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
	touched := e * (1 - math.Pow(1-k/e, float64(max(batch, 1))))
	return (shared + perExpert*touched) * gb * m.bw / m.tp
}

// commSeconds is the communication of one forward pass over tokens tokens.
//
// Tensor parallel: two all-reduces of the activations per layer (Shoeybi et al., Megatron-LM, arXiv
// 1909.08053, section 3), each an all-reduce of n = tokens x hidden x 2 bytes taking log2(TP) steps of
// latency alpha (recursive doubling, the short-message algorithm) plus 2 (TP - 1) / TP x n / link bandwidth
// (the bandwidth-optimal term) (Thakur, Rabenseifner and Gropp, "Optimization of Collective Communication
// Operations in MPICH", IJHPCA 2005). Pipeline parallel: each of the PP - 1
// stage boundaries hands the activations to the next machine.
func (m servingModel) commSeconds(tokens int, s scenario) float64 {
	t := 0.0
	n := float64(tokens) * m.hidden * activationBytes
	if m.tp > 1 {
		perAllReduce := math.Log2(m.tp)*s.hop + 2*(m.tp-1)/m.tp*n/m.link
		t += 2 * float64(m.in.Layers) * perAllReduce
	}
	if m.pp > 1 {
		t += (m.pp - 1) * (NodeHopMs/1e3 + n/(NodeLinkGBs*gb))
	}
	return t
}

// decodeStep is one engine iteration that decodes batch sequences and no prompt: the fixed and
// per-sequence overheads, the communication, and the roofline maximum (Williams et al., "Roofline", CACM
// 2009) of the memory time, (weight bytes + KV bytes) / (bandwidth x efficiency), and the compute time,
// 2 x N_active x batch / (TP x peak x efficiency) (Kaplan et al., arXiv 2001.08361: 2N FLOPs per token).
// The pipeline stages run one after another for a token, so the whole model's bytes per rank count.
func (m servingModel) decodeStep(batch int, s scenario) float64 {
	mem := (m.weightBytesRead(batch) + float64(batch)*m.avgContext*m.kvPerRank) / (m.bandwidth * s.decodeEff)
	compute := 2 * m.in.activeB() * gb * float64(batch) / m.tp / (m.peakFLOPS * s.prefillEff)
	return s.stepOverhead + float64(batch)*s.seqOverhead + m.commSeconds(batch, s) + math.Max(mem, compute)
}

// prefillCompute is the GPU time one prompt's prefill adds to the iterations it joins: 2 x N_active x
// prompt tokens FLOPs over TP x peak x efficiency (Kaplan et al. 2020) plus its all-reduces.
func (m servingModel) prefillCompute(s scenario) float64 {
	return 2*m.in.activeB()*gb*float64(m.in.InputTokens)/m.tp/(m.peakFLOPS*s.prefillEff) + m.commSeconds(m.in.InputTokens, s)
}

// prefillTime is T_prefill at one end, as solve and solveWave take it: the larger of one prompt's
// prefill compute and one read of the weights.
func (m servingModel) prefillTime(s scenario) float64 {
	return math.Max(m.prefillCompute(s), m.weightBytesRead(1)/(m.bandwidth*s.decodeEff))
}

// solve finds the steady state of a closed loop of users, running at most of them at once, for one
// scenario. The engine iterates continuously (Orca's iteration-level scheduling, Yu et al., OSDI 2022;
// vLLM), each iteration decoding every running sequence and taking in up to the token budget of prompt
// tokens (chunked prefill, Agrawal et al., Sarathi-Serve, arXiv 2403.02310).
//
//   - Each request takes R = TTFT + (output - 1) x ITL. By Little's law the other running requests start
//     at (running - 1) / R per second (the arrival theorem of closed queueing networks, Reiser & Lavenberg
//     1980), so their prefills take a share rho = (running - 1) x T_prefill / R of the GPU. Decode stalls
//     while they run (prefill and decode share each iteration), so ITL = decode step / (1 - rho).
//   - TTFT = request overhead + the wait for the iteration in flight (half a step, or a whole one at the
//     pessimistic end) + the wait behind other prompts, rho x T_prefill x (1 + cs^2) / (2 (1 - rho))
//     (Pollaczek-Khinchine) + the prompt's own iterations: ceil(prompt / token budget left by the decodes)
//     iterations that each also decode the batch, overlapping the prompt's compute at the optimistic end
//     and adding to it at the pessimistic end.
//   - Users beyond the running cap wait for a place: with the places always full the replica completes
//     running / R requests per second, so each of the concurrency users cycles in concurrency x R /
//     running (Little's law), of which R x (concurrency / running - 1) is the wait.
//
// R appears on both sides. With rho = load / R (load = others x T_prefill), the wait behind other
// prompts is load x T_prefill x (1 + cs^2) / (2 (R - load)) and ITL x (output - 1) is B x R / (R - load)
// with B = (output - 1) x decode step, so multiplying R = c0 + A / (R - load) + B R / (R - load)
// (c0 the terms that do not depend on R, A = load x T_prefill x (1 + cs^2) / 2) by R - load gives
// R^2 - (load + c0 + B) R + (c0 x load - A) = 0. The quadratic is -(B x load + A) < 0 at R = load, so
// its larger root is the one root above load (where rho < 1): R = (b + sqrt(b^2 - 4c)) / 2 with
// b = load + c0 + B and c = c0 x load - A, which adds two positive terms and loses no precision to
// cancellation. closedLoop.bisect finds the same root by bisection, the way this was solved before: a
// test holds the two together, and root falls back to it should the formula not give a root above load.
func (m servingModel) solve(running int, s scenario) scenarioResult {
	pre := s.prefill
	others := running - 1
	step := m.decodeStep(max(running, 1), s)
	// The iterations the prompt joins decode the other running sequences.
	// With no budget left beside the decodes, the scheduler still takes one prompt token per iteration.
	chunks := float64(m.in.InputTokens)
	if left := s.budget - others; left > 0 {
		chunks = math.Ceil(float64(m.in.InputTokens) / float64(left))
	}
	own := pre + s.stepOverhead + s.commIdle
	residual := 0.0
	if others > 0 {
		withOthers := m.decodeStep(others, s)
		if s.pessimistic {
			own = pre + chunks*withOthers
			residual = step
		} else {
			own = math.Max(pre, chunks*withOthers)
			residual = step / 2
		}
	}
	loop := closedLoop{
		fixed: s.requestOverhead + residual + own, load: float64(others) * pre, prefill: pre,
		spread: 1 + s.variability, step: step, out: float64(m.in.OutputTokens - 1),
	}
	eval := func(r float64) scenarioResult {
		f := loop.at(r)
		rho := f.rho
		// 95th percentile of an M/M/1 wait: P(W > t) = rho exp(-(1 - rho) t / T), so
		// t95 = T / (1 - rho) x ln(rho / 0.05) (Kleinrock, Queueing Systems vol. 1, 1975, ch. 3).
		wait95 := 0.0
		if rho > 0.05 {
			wait95 = pre / (1 - rho) * math.Log(rho/0.05)
		}
		ttftP95 := s.requestOverhead + residual + math.Max(f.wait, wait95) + own
		return scenarioResult{
			ttft: f.ttft, ttftP95: ttftP95, itl: f.itl,
			request: f.request, step: step, prefill: pre, service: own, rho: rho, running: running,
		}
	}
	if others == 0 {
		// Alone in the batch nothing depends on R (rho = 0 / R = 0): any
		// R > 0 gives the same figures, so there is nothing to search for.
		return eval(loop.guess())
	}
	return eval(loop.root())
}

// closedLoop is solve's equation for the request time R, R = request(R), in the terms that do not
// depend on R: fixed (request overhead + the wait for the iteration in flight + the prompt's own
// iterations), load (the other running requests' prefill time, others x T_prefill), prefill
// (T_prefill), spread (1 + cs^2), step (the decode step) and out (output tokens - 1).
type closedLoop struct {
	fixed, load, prefill, spread, step, out float64
}

// at is R's right side for a guess r, with the figures it is made of: one definition for the root,
// which reads only request, and the answer, which reads them all.
func (l closedLoop) at(r float64) loopFigures {
	var f loopFigures
	f.rho = l.load / r
	f.itl = l.step / (1 - f.rho)
	f.wait = f.rho * l.prefill * l.spread / (2 * (1 - f.rho))
	f.ttft = l.fixed + f.wait
	f.request = f.ttft + l.out*f.itl
	return f
}

// guess is an R above the root: request(R) with rho = 0, plus load and a second.
func (l closedLoop) guess() float64 { return l.fixed + l.out*l.step + l.load + 1 }

// root is the one R above load with R = request(R) (solve's comment derives the quadratic); the
// bisection when the formula gives no finite root above load.
func (l closedLoop) root() float64 {
	b := l.load + l.fixed + l.out*l.step
	c := l.fixed*l.load - l.load*l.prefill*l.spread/2
	if r := (b + math.Sqrt(b*b-4*c)) / 2; r > l.load && !math.IsInf(r, 0) {
		return r
	}
	return l.bisect()
}

// bisect finds root by bisection between load (where rho = 1 and the right side is infinite) and a
// guess doubled until it is above the root; the right side falls as R grows, so the root is unique. It
// returns the upper end of the last bracket.
func (l closedLoop) bisect() float64 {
	lo, hi := l.load, l.guess()
	for l.at(hi).request > hi {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if l.at(mid).request > mid {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// loopFigures are the closed loop's figures at a guess of the request time R (solve).
type loopFigures struct {
	request, rho, itl, wait, ttft float64
}

// solveWave is the closed loop's synchronised case: the running requests arrive together, which identical
// requests started at once keep doing (each wave finishes together and its users send the next one
// together). Published concurrency benchmarks with fixed prompt and output lengths show it: TTFT growing
// with the concurrency in steps of the scheduler's token budget (data/serving_benchmarks.yaml, the NIM
// and DeepSeek-R1 curves). The scheduler takes in budget / prompt prompts per iteration (at least one), so
// the j-th prompt of a wave gets its first token after floor(j / k) + 1 iterations of k prompts each; the
// wave's last prompt ends the burst, after which all running requests decode together. A request takes
// R = request overhead + burst + (output - 1) x decode step, and its mean ITL is what is left after its own
// first token spread over its other tokens.
func (m servingModel) solveWave(running int, s scenario) scenarioResult {
	pre := s.prefill
	k := float64(max(1, s.budget/m.in.InputTokens))
	oh := s.stepOverhead + s.commIdle
	n := float64(running)
	// Counted as a fluid over the iterations (group index j / k rather than floor(j / k)), so the figures
	// never fall as the wave grows by one request.
	group := k*pre + oh
	var mean, p95, burst float64
	if n <= k {
		mean = n*pre + oh
		p95, burst = mean, mean
	} else {
		mean = group * (n/k + 1) / 2
		p95 = math.Max(mean, group*0.95*n/k)
		burst = group * n / k
	}
	step := m.decodeStep(running, s)
	out := float64(m.in.OutputTokens - 1)
	r := s.requestOverhead + burst + out*step
	itl := step
	if out > 0 {
		itl = (burst - mean + out*step) / out
	}
	return scenarioResult{
		ttft: s.requestOverhead + mean, ttftP95: s.requestOverhead + p95, itl: itl, request: r,
		step: step, prefill: pre, service: group, running: running,
	}
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
	if in.PipelineParallel != 0 {
		if err := validPP(in.PipelineParallel); err != nil {
			return err
		}
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
	case in.ContextTokens < 0:
		return invalid("context_tokens", "must not be negative, got %d", in.ContextTokens)
	case in.ContextTokens > 0 && in.ContextTokens < in.InputTokens+in.OutputTokens:
		return invalid("context_tokens", "must hold input + output tokens (%d), got %d", in.InputTokens+in.OutputTokens, in.ContextTokens)
	case in.MaxBatchedTokens < 0:
		return invalid("max_batched_tokens", "must not be negative, got %d", in.MaxBatchedTokens)
	case in.MaxSequences < 0:
		return invalid("max_sequences", "must not be negative, got %d", in.MaxSequences)
	case in.GPU.LinkGBs < 0 || math.IsNaN(in.GPU.LinkGBs) || math.IsInf(in.GPU.LinkGBs, 0):
		return invalid("gpu.link_gbs", "must be a non-negative number, got %v", in.GPU.LinkGBs)
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

// ends builds the optimistic and pessimistic scenarios from the efficiency ranges.
func ends(eff Efficiencies) (opt, pes scenario) {
	opt = scenario{decodeEff: eff.Decode.High, prefillEff: eff.Prefill.High, variability: eff.PrefillVariability.Low,
		stepOverhead: eff.StepOverheadMs.Low / 1e3, seqOverhead: eff.SequenceOverheadMs.Low / 1e3,
		requestOverhead: eff.RequestOverheadMs.Low / 1e3, hop: eff.AllReduceHopUs.Low / 1e6}
	pes = scenario{decodeEff: eff.Decode.Low, prefillEff: eff.Prefill.Low, variability: eff.PrefillVariability.High,
		stepOverhead: eff.StepOverheadMs.High / 1e3, seqOverhead: eff.SequenceOverheadMs.High / 1e3,
		requestOverhead: eff.RequestOverheadMs.High / 1e3, hop: eff.AllReduceHopUs.High / 1e6, pessimistic: true}
	return opt, pes
}

// EstimateServing estimates TTFT, inter-token latency and throughput of one replica at in.Concurrency
// under continuous batching: decode is memory-bound, prefill compute-bound, prefill and decode share the
// engine's iterations, requests queue behind other prompts and for a place in the running batch, and the
// engine and the tensor-parallel all-reduces add their own time. A model that does not fit returns the
// memory fit and an error wrapping ErrDoesNotFit.
func EstimateServing(in ServingInput) (ServingEstimate, error) {
	return estimateServing(in, false)
}

// estimateServing is EstimateServing; quiet leaves out the working's text
// (the numbers are the same).
func estimateServing(in ServingInput, quiet bool) (ServingEstimate, error) {
	r, unfit, err := newReplica(in, quiet)
	if err != nil {
		return unfit, err
	}
	return r.estimate(in.Concurrency), nil
}

// replica is one serving layout made ready for estimates at any concurrency: what does not depend on the
// concurrency (the checked input, the memory fit, the model's constants, the running caps and the two
// scenarios) worked out once, so a capacity search that tries many concurrencies does not redo it.
type replica struct {
	in              ServingInput
	eff             Efficiencies
	fit             MemoryFit
	m               servingModel
	peak            float64
	peakName        string
	link            float64
	budget, maxSeqs int
	capOpt, capPes  int
	sOpt, sPes      scenario
	quiet           bool
}

// newReplica checks in and prepares its estimates; quiet leaves out the working's text. A model that
// does not fit returns, with an error wrapping ErrDoesNotFit, the estimate EstimateServing gives: the
// memory fit and its working.
func newReplica(in ServingInput, quiet bool) (replica, ServingEstimate, error) {
	if err := in.validate(); err != nil {
		return replica{}, ServingEstimate{}, err
	}
	if in.PipelineParallel == 0 {
		in.PipelineParallel = 1
	}
	eff := in.Efficiency.withDefaults()
	context := in.InputTokens + in.OutputTokens
	if in.ContextTokens > 0 {
		context = in.ContextTokens
	}
	fit, err := fitMemoryLayout(in.Arch, in.Weights, in.KV, in.GPU, in.TensorParallel, in.PipelineParallel, in.Utilisation, context, quiet)
	if err != nil {
		return replica{}, ServingEstimate{}, err
	}
	// Every estimate made from the replica holds the fit: clipped, so that
	// appending to one estimate's copy never writes into another's.
	fit.Assumptions, fit.Formulas = slices.Clip(fit.Assumptions), slices.Clip(fit.Formulas)
	if !fit.Fits {
		est := ServingEstimate{MemoryFit: fit}
		est.Working.quiet = quiet
		est.merge(fit.Working)
		return replica{}, est, fmt.Errorf("%w: %.4g B params (%s) and one %d-token sequence on %s",
			ErrDoesNotFit, in.ParamsTotalB, in.Weights, context, layoutName(in.TensorParallel, in.PipelineParallel, in.GPU.Name))
	}

	bw, _ := BytesPerParam(in.Weights)
	bkv, _ := BytesPerParam(in.KV)
	peak, peakName := peakFor(in.Weights, in.GPU)
	kvPerRank := kvBytesPerTokenPerGPU(in.Arch, bkv, in.TensorParallel)
	link := in.GPU.LinkGBs
	if link == 0 {
		link = DefaultLinkGBs
	}
	budget, maxSeqs := engineLimits(in.GPU)
	if in.MaxBatchedTokens > 0 {
		budget = in.MaxBatchedTokens
	}
	if in.MaxSequences > 0 {
		maxSeqs = in.MaxSequences
	}
	m := servingModel{
		in: in, tp: float64(in.TensorParallel), pp: float64(in.PipelineParallel), bw: bw,
		peakFLOPS: peak * 1e12, peakName: peakName, bandwidth: in.GPU.BandwidthTBs * 1e12, link: link * gb,
		hidden: hiddenSize(in.Arch), kvPerRank: kvPerRank,
		// A decode step reads, per sequence, the prompt and on average half the output so far.
		avgContext:  float64(in.InputTokens) + float64(in.OutputTokens)/2,
		activeBytes: in.activeB() * gb * bw / float64(in.TensorParallel),
	}

	// Places in the running batch: the scheduler's cap, and the KV cache under paged allocation
	// (PagedAttention, Kwon et al., arXiv 2309.06180: a sequence holds the blocks of the tokens it has so
	// far). Over its life a request holds input + output / 2 tokens on average (optimistic end); the
	// pessimistic end counts every running request at its full input + output, as if all were near the
	// end, which is also where the engine would have to pre-empt.
	// The optimistic end takes TensorRT-LLM's memory policy instead of vLLM's: the KV cache gets 0.9 of
	// the memory left after the weights and a runtime workspace (TensorRT-LLM KvCacheConfig
	// free_gpu_memory_fraction, default 0.9), with the workspace taken as LeanWorkspaceGB per GPU.
	gpus := float64(in.TensorParallel * in.PipelineParallel)
	leanPerGPU := DefaultUtilisation * (in.GPU.MemoryGB - fit.WeightsGB/gpus - LeanWorkspaceGB)
	leanTokens := max(float64(fit.MaxTokensInKV), math.Floor(leanPerGPU*gb/(fit.KVBytesPerToken/gpus)))
	kvOpt := int(leanTokens / m.avgContext)
	kvPes := fit.MaxTokensInKV / (in.InputTokens + in.OutputTokens)
	r := replica{in: in, eff: eff, fit: fit, m: m, peak: peak, peakName: peakName, link: link, budget: budget, maxSeqs: maxSeqs,
		capOpt: max(1, min(maxSeqs, kvOpt)), capPes: max(1, min(maxSeqs, kvPes)), quiet: quiet}
	r.sOpt, r.sPes = ends(eff)
	// The optimistic end lets the scheduler take TensorRT-LLM's default of 8192 tokens per iteration
	// (max_num_tokens) where vLLM's default for the GPU is smaller.
	r.sOpt.budget, r.sPes.budget = max(budget, largeGPUBatchedTokens), budget
	for _, s := range []*scenario{&r.sOpt, &r.sPes} {
		s.prefill = m.prefillTime(*s)
		s.commIdle = m.commSeconds(0, *s)
	}
	return r, ServingEstimate{}, nil
}

// running is how many of concurrency requests each end runs at once.
func (r *replica) running(concurrency int) (opt, pes int) {
	return min(concurrency, r.capOpt), min(concurrency, r.capPes)
}

// withSlotWait sets res's wait for a place in the running batch: with the places always full the replica
// completes running / R requests per second, so each of the concurrency users cycles in concurrency x R /
// running (Little's law), of which R x (concurrency / running - 1) is the wait.
func withSlotWait(res scenarioResult, concurrency int) scenarioResult {
	res.slotWait = res.request * (float64(concurrency)/float64(res.running) - 1)
	return res
}

// sloFigures are the figures an SLO is checked against (sloFailure): the TTFT p95 and the inter-token
// latency with requests arriving spread out, each at the end that is worse, in ms.
type sloFigures struct {
	ttftP95Ms, itlMs float64
}

// spreadRanges are the estimate's TTFTp95SpreadMs and ITLSpreadMs from the two ends' spread-out
// solutions.
func spreadRanges(opt, pes scenarioResult) (ttftP95, itl Range) {
	return NewRange(spreadTTFTp95(opt), spreadTTFTp95(pes)), NewRange(opt.itl*1e3, pes.itl*1e3)
}

// spreadTTFTp95 is one end's TTFT p95 in ms, the wait for a place in the batch included.
func spreadTTFTp95(r scenarioResult) float64 { return (r.ttftP95 + r.slotWait) * 1e3 }

// spread is one concurrency's spread-out solutions: the pessimistic end's, and the optimistic end's once
// hasOpt. A capacity search keeps those of the concurrencies it ends between, so that estimating the
// capacity and naming the limit above it do not solve them again.
type spread struct {
	concurrency int // 0: nothing solved
	pes, opt    scenarioResult
	hasOpt      bool
}

// spreadAt solves the pessimistic end at concurrency.
func (r *replica) spreadAt(concurrency int) spread {
	_, runPes := r.running(concurrency)
	return spread{concurrency: concurrency, pes: withSlotWait(r.m.solve(runPes, r.sPes), concurrency)}
}

// withOpt is sp with the optimistic end solved.
func (r *replica) withOpt(sp spread) spread {
	if !sp.hasOpt {
		runOpt, _ := r.running(sp.concurrency)
		sp.opt, sp.hasOpt = withSlotWait(r.m.solve(runOpt, r.sOpt), sp.concurrency), true
	}
	return sp
}

// figures are what the estimate at sp's concurrency is checked against (sp.hasOpt).
func (sp spread) figures() sloFigures {
	ttftP95, itl := spreadRanges(sp.opt, sp.pes)
	return sloFigures{ttftP95Ms: ttftP95.High, itlMs: itl.High}
}

// sloFigures is what estimate(concurrency) would be checked against, without the figures the check does
// not read: the spread-out solution of each end, not the waves, and no text.
func (r *replica) sloFigures(concurrency int) sloFigures {
	return r.withOpt(r.spreadAt(concurrency)).figures()
}

// misses reports whether estimate(concurrency) misses slo, as sloFailure says, solving no more than the
// answer needs, and returns what it solved. A target that is not set is never missed, so without targets
// nothing is solved. Each figure checked is the worse of the two ends: a NewRange's High is at least each
// end that is a number, a NaN end never makes a miss, and the inter-token latencies are not negative, so
// the per-user rate checked is at most either end's. So when the pessimistic end alone misses, both
// together miss, and the optimistic end is solved only when the pessimistic one meets the SLO.
func (r *replica) misses(concurrency int, slo SLO) (spread, bool) {
	if slo == (SLO{}) {
		return spread{}, false
	}
	sp := r.spreadAt(concurrency)
	if (sloFigures{ttftP95Ms: spreadTTFTp95(sp.pes), itlMs: sp.pes.itl * 1e3}).miss(slo) != "" {
		return sp, true
	}
	sp = r.withOpt(sp)
	return sp, sp.figures().miss(slo) != ""
}

// solved is sp when it holds concurrency's solutions, otherwise them newly solved.
func (r *replica) solved(concurrency int, sp spread) spread {
	if sp.concurrency != concurrency {
		sp = r.spreadAt(concurrency)
	}
	return r.withOpt(sp)
}

// estimate is the replica's estimate at concurrency (at least 1).
func (r *replica) estimate(concurrency int) ServingEstimate {
	return r.estimateFrom(r.solved(concurrency, spread{}))
}

// estimateFrom is estimate at sp's concurrency, from its spread-out solutions (sp.hasOpt).
func (r *replica) estimateFrom(sp spread) ServingEstimate {
	concurrency := sp.concurrency
	in, eff, m := r.in, r.eff, r.m
	in.Concurrency = concurrency
	est := ServingEstimate{MemoryFit: r.fit}
	est.Working.quiet = r.quiet
	est.merge(r.fit.Working)
	peak, peakName, link, kvPerRank := r.peak, r.peakName, r.link, m.kvPerRank
	budget, maxSeqs, capPes := r.budget, r.maxSeqs, r.capPes
	sOpt, sPes := r.sOpt, r.sPes
	runOpt, runPes := r.running(concurrency)
	// Two arrival patterns bound what a replica sees: spread out (the optimistic figures of each end come
	// from whichever pattern is better for that figure) and synchronised waves. Each range runs from the
	// best of the two at the optimistic end to the worst of the two at the pessimistic end.
	opt, pes := sp.opt, sp.pes
	wOpt, wPes := withSlotWait(m.solveWave(runOpt, sOpt), concurrency), withSlotWait(m.solveWave(runPes, sPes), concurrency)
	best := func(f func(scenarioResult) float64) float64 { return math.Min(f(opt), f(wOpt)) }
	worst := func(f func(scenarioResult) float64) float64 { return math.Max(f(pes), f(wPes)) }
	ttft := func(r scenarioResult) float64 { return (r.ttft + r.slotWait) * 1e3 }
	ttft95 := func(r scenarioResult) float64 { return (r.ttftP95 + r.slotWait) * 1e3 }
	itl := func(r scenarioResult) float64 { return r.itl * 1e3 }
	cycle := func(r scenarioResult) float64 { return r.request + r.slotWait }

	est.RunningSequences, est.MaxRunning = runPes, capPes
	if runPes < in.Concurrency {
		est.Saturated = true
		if capPes == maxSeqs {
			est.SaturationReason = fmt.Sprintf("the engine runs at most %d sequences at once, fewer than the concurrency %d: requests queue for a place",
				maxSeqs, in.Concurrency)
		} else {
			est.SaturationReason = fmt.Sprintf("the KV cache holds %d sequences of %d tokens, fewer than the concurrency %d: requests queue for cache space",
				capPes, in.InputTokens+in.OutputTokens, in.Concurrency)
		}
	}
	c := float64(in.Concurrency)
	est.TTFTms = NewRange(best(ttft), worst(ttft))
	est.TTFTp95ms = NewRange(best(ttft95), worst(ttft95))
	est.ITLms = NewRange(best(itl), worst(itl))
	est.TokensPerSecPerUser = NewRange(1e3/est.ITLms.High, 1e3/est.ITLms.Low)
	est.TTFTp95SpreadMs, est.ITLSpreadMs = spreadRanges(opt, pes)
	est.RequestsPerSec = NewRange(c/worst(cycle), c/best(cycle))
	est.OutputTokensPerSec = est.RequestsPerSec.Scale(float64(in.OutputTokens))
	est.PrefillFraction = NewRange(opt.rho, pes.rho)
	if r.quiet {
		return est
	}
	est.assume("decode efficiency %s of %.3g TB/s per GPU, prefill efficiency %s of the %s peak %.4g TFLOPS per GPU (calibrated on published serving curves, see DefaultEfficiencies)",
		eff.Decode, in.GPU.BandwidthTBs, eff.Prefill, peakName, peak)
	est.assume("engine time outside the kernels: %s ms per iteration plus %s ms per running sequence; %s ms per request before its first token (calibrated)",
		eff.StepOverheadMs, eff.SequenceOverheadMs, eff.RequestOverheadMs)
	est.assume("scheduler limits %s tokens per iteration (vLLM's default for this GPU class, vllm/engine/arg_utils.py, to TensorRT-LLM's max_num_tokens 8192) and %d running sequences", span.Format("%d", budget, sOpt.budget), maxSeqs)
	est.assume("closed loop of %d users (each sends the next request when the last completes), arriving either spread out (prompt-time variability cs^2 %s) or in synchronised waves; each range spans both", in.Concurrency, eff.PrefillVariability)
	if in.TensorParallel > 1 {
		est.assume("tensor-parallel all-reduces over %.4g GB/s links at %s us per step", link, eff.AllReduceHopUs)
		if in.GPU.LinkGBs == 0 {
			est.assume("the GPU's link bandwidth is not in the catalogue: PCIe Gen4 x16, %d GB/s, is assumed", DefaultLinkGBs)
		}
	}
	if in.PipelineParallel > 1 {
		est.assume("%d pipeline stages on %d machines run one after another for each token (no micro-batch overlap credited); %d GB/s and %.2g ms per hop between machines",
			in.PipelineParallel, in.PipelineParallel, NodeLinkGBs, NodeHopMs)
	}
	est.assume("prefill of new requests pauses decode in the iterations it joins, so ITL is an upper-leaning estimate under chunked prefill")
	est.assume("attention FLOPs over the prompt are not counted separately; they fall within the prefill efficiency")
	if in.activeB() < in.ParamsTotalB {
		est.assume("mixture-of-experts serving is optimistic here: on the published DeepSeek-R1 curves (8 x H200 and 8 x MI300X, vLLM and SGLang, 2025-03) measured TTFT was 3-14x and ITL 1.2-2.5x these figures; load-test before committing")
	}
	if in.activeB() < in.ParamsTotalB && (in.Experts <= 0 || in.ExpertsPerToken <= 0) {
		est.assume("mixture-of-experts decode reads only the active %.4g B parameters; larger batches touch more experts, so latency may be higher", in.activeB())
	}
	est.formula("prefill = 2 x %.4ge9 x %d tokens / (TP %d x %.4g TFLOPS x %s) + all-reduces = %.0f-%.0f ms (Kaplan et al. 2020; Megatron-LM)",
		in.activeB(), in.InputTokens, in.TensorParallel, peak, eff.Prefill, opt.prefill*1e3, pes.prefill*1e3)
	if in.TensorParallel > 1 {
		est.formula("all-reduces per decode step = 2 x %d layers x (log2(TP %d) x %s us + 2 x (TP - 1)/TP x %d x %.0f x 2 B / %.4g GB/s) = %.2f-%.2f ms (Megatron-LM; all-reduce cost, Thakur et al. 2005)",
			in.Layers, in.TensorParallel, eff.AllReduceHopUs, runPes, m.hidden, link,
			m.commSeconds(runOpt, sOpt)*1e3, m.commSeconds(runPes, sPes)*1e3)
	}
	est.formula("decode step (running %s) = %s ms + running x %s ms + all-reduces + max((%.4g GB weights + running x %.0f tokens x %.0f B KV) per GPU / (%.3g TB/s x %s), compute) = %.2f-%.2f ms (Roofline)",
		span.Format("%d", runPes, runOpt), eff.StepOverheadMs, eff.SequenceOverheadMs, m.weightBytesRead(runPes)/gb, m.avgContext, kvPerRank, in.GPU.BandwidthTBs, eff.Decode, opt.step*1e3, pes.step*1e3)
	est.formula("prefill share rho = (running - 1) x T_prefill / R = %.3f-%.3f (Little's law, arrival theorem)", opt.rho, pes.rho)
	est.formula("ITL = step / (1 - rho) = %.2f-%.2f ms", opt.itl*1e3, pes.itl*1e3)
	est.formula("TTFT, arrivals spread out = %s ms request overhead + wait for the iteration in flight + rho x T_prefill x (1 + cs^2) / (2 (1 - rho)) (Pollaczek-Khinchine) + own prefill iterations %.0f-%.0f ms = %.0f-%.0f ms",
		eff.RequestOverheadMs, opt.service*1e3, pes.service*1e3, opt.ttft*1e3, pes.ttft*1e3)
	est.formula("TTFT, arrivals in waves = request overhead + mean of (floor(j / %d prompts per iteration) + 1) x %.0f-%.0f ms per iteration over the wave = %.0f-%.0f ms; ITL = (burst - TTFT + (output - 1) x step) / (output - 1) = %.2f-%.2f ms",
		max(1, sPes.budget/in.InputTokens), wOpt.service*1e3, wPes.service*1e3, wOpt.ttft*1e3, wPes.ttft*1e3, wOpt.itl*1e3, wPes.itl*1e3)
	if est.Saturated || runOpt < in.Concurrency {
		est.formula("wait for a place in the batch = R x (concurrency %d / running - 1) = %.2f-%.2f s (Little's law)",
			in.Concurrency, opt.slotWait, pes.slotWait)
	}
	est.formula("request time R = TTFT + (%d - 1) x ITL = %.2f-%.2f s; throughput = %d x %d tokens / R = %.0f-%.0f tokens/s",
		in.OutputTokens, best(cycle), worst(cycle), in.Concurrency, in.OutputTokens, est.OutputTokensPerSec.Low, est.OutputTokensPerSec.High)
	return est
}

// layoutName names a replica's GPUs: "4 x H100" or "2 machines x 8 x H100 (PP 2, TP 8)".
func layoutName(tp, pp int, gpu string) string {
	if pp <= 1 {
		return fmt.Sprintf("%d x %s", tp, gpu)
	}
	return fmt.Sprintf("%d machines x %d x %s (PP %d, TP %d)", pp, tp, gpu, pp, tp)
}
