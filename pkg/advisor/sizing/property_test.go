package sizing

import (
	"math"
	"math/rand"
	"testing"
	"testing/quick"

	"github.com/stretchr/testify/require"
)

// TestConcurrencyNeverLowersLatency: adding users never makes a token arrive sooner.
func TestConcurrencyNeverLowersLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   ServingInput
	}{
		{name: "70B FP8 on 2x H100", in: nimInput(1, FP8)},
		{name: "8B BF16 on one L4, short prompts", in: ServingInput{Arch: llama8B(), Weights: BF16, KV: BF16, GPU: l4(),
			TensorParallel: 1, InputTokens: 200, OutputTokens: 300}},
		{name: "Mixtral BF16 on 2x H100", in: ServingInput{Arch: mixtral(), Weights: BF16, KV: BF16, GPU: h100(),
			TensorParallel: 2, InputTokens: 1000, OutputTokens: 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var prev ServingEstimate
			for c := 1; c <= 150; c++ {
				in := tc.in
				in.Concurrency = c
				e, err := EstimateServing(in)
				require.NoError(t, err)
				if c > 1 {
					require.GreaterOrEqual(t, e.ITLms.Low, prev.ITLms.Low-1e-9, "ITL low at %d", c)
					require.GreaterOrEqual(t, e.ITLms.High, prev.ITLms.High-1e-9, "ITL high at %d", c)
					require.GreaterOrEqual(t, e.TTFTms.Low, prev.TTFTms.Low-1e-9, "TTFT low at %d", c)
					require.GreaterOrEqual(t, e.TTFTms.High, prev.TTFTms.High-1e-9, "TTFT high at %d", c)
					require.GreaterOrEqual(t, e.TTFTp95ms.High, prev.TTFTp95ms.High-1e-9, "TTFT p95 high at %d", c)
				}
				require.LessOrEqual(t, e.ITLms.Low, e.ITLms.High)
				require.LessOrEqual(t, e.TTFTms.Low, e.TTFTms.High)
				require.LessOrEqual(t, e.TTFTms.Low, e.TTFTp95ms.Low+1e-9)
				prev = e
			}
		})
	}
}

// TestHigherPrecisionNeedsMoreMemory: more bytes per parameter never needs less memory.
func TestHigherPrecisionNeedsMoreMemory(t *testing.T) {
	t.Parallel()
	ordered := []Precision{INT4, INT8, FP8, FP16, BF16}
	for _, a := range []Arch{llama8B(), llama70B(), mixtral(), deepseekV3()} {
		var prev MemoryFit
		for i, p := range ordered {
			f, err := FitMemory(a, p, p, h100(), 8, 0, 4096)
			require.NoError(t, err)
			if i > 0 {
				require.GreaterOrEqual(t, f.WeightsGB, prev.WeightsGB, "%s weights", p)
				require.GreaterOrEqual(t, f.KVBytesPerToken, prev.KVBytesPerToken, "%s KV", p)
				require.LessOrEqual(t, f.MaxSequences, prev.MaxSequences, "%s sequences", p)
			}
			prev = f
		}
	}
}

// TestMoreGPUsNeverSlower: training on more GPUs never takes longer.
func TestMoreGPUsNeverSlower(t *testing.T) {
	t.Parallel()
	for _, method := range []string{MethodFull, MethodLoRA, MethodQLoRA} {
		var prev TrainingEstimate
		for g := 1; g <= 64; g++ {
			e, err := EstimateTraining(TrainingInput{Arch: llama8B(), TokensB: 20, Method: method, Precision: BF16, GPU: h100(), GPUs: g})
			require.NoError(t, err)
			if g > 1 {
				require.LessOrEqual(t, e.WallClockHours.Low, prev.WallClockHours.Low, "%s at %d GPUs", method, g)
				require.LessOrEqual(t, e.WallClockHours.High, prev.WallClockHours.High, "%s at %d GPUs", method, g)
			}
			prev = e
		}
	}
}

// TestMoreTrafficNeverFewerReplicas: a higher peak never needs fewer replicas.
func TestMoreTrafficNeverFewerReplicas(t *testing.T) {
	t.Parallel()
	perReplica := Range{Low: 1.2, High: 1.7}
	prevLow, prevHigh := 0, 0
	for rps := 0.0; rps <= 200; rps += 0.05 {
		low, high, err := Replicas(rps, perReplica, 0.2)
		require.NoError(t, err)
		require.GreaterOrEqual(t, low, prevLow, "low at %v", rps)
		require.GreaterOrEqual(t, high, prevHigh, "high at %v", rps)
		require.LessOrEqual(t, low, high)
		prevLow, prevHigh = low, high
	}
}

// TestCapacityNeverRisesWithDemand: at a fixed layout, longer prompts, longer outputs and tighter
// latency targets never raise what one replica carries, and every estimate is finite with ordered
// ranges (testing/quick over random models, GPUs, layouts and targets).
func TestCapacityNeverRisesWithDemand(t *testing.T) {
	t.Parallel()
	archs := []Arch{llama8B(), llama70B(), mixtral()}
	gpus := []Accelerator{h100(), l4()}
	prop := func(ai, gi, tpi uint8, in, out uint16, ttft, itl uint16, dIn, dOut uint16, tighten uint8) bool {
		base := ServingInput{Arch: archs[int(ai)%len(archs)], Weights: FP8, KV: BF16, GPU: gpus[int(gi)%len(gpus)],
			TensorParallel: 1 << (tpi % 4), InputTokens: 20 + int(in)%4000, OutputTokens: 10 + int(out)%800}
		slo := SLO{TTFTp95ms: 200 + float64(ttft%5000), ITLms: 10 + float64(itl%200)}
		a, err := CapacityAtSLO(base, slo)
		require.NoError(t, err)
		if !a.Meets {
			return true
		}
		require.LessOrEqual(t, a.RequestsPerSec.Low, a.RequestsPerSec.High)
		longer := base
		longer.InputTokens += int(dIn % 3000)
		longer.OutputTokens += int(dOut % 500)
		tighter := slo
		k := 0.3 + 0.7*float64(tighten)/255
		tighter.TTFTp95ms *= k
		tighter.ITLms *= k
		for _, c := range []struct {
			in  ServingInput
			slo SLO
		}{{longer, slo}, {base, tighter}} {
			b, err := CapacityAtSLO(c.in, c.slo)
			require.NoError(t, err)
			if !b.Meets {
				continue
			}
			require.LessOrEqual(t, b.RequestsPerSec.Low, a.RequestsPerSec.Low*(1+1e-9), "requests/s within the SLO rose")
			require.False(t, math.IsNaN(b.TTFTms.High) || math.IsInf(b.TTFTms.High, 0))
		}
		return true
	}
	require.NoError(t, quick.Check(prop, &quick.Config{MaxCount: 400, Rand: rand.New(rand.NewSource(7))}))
}

// TestClosedLoopRootMatchesBisection: the request time solve takes from the quadratic's root is the
// fixed point the bisection finds, to within a few units in the last place, over loops from an idle
// replica to one whose other prompts nearly fill it, and it is a fixed point: request(R) = R.
func TestClosedLoopRootMatchesBisection(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(7))
	logUniform := func(lo, hi float64) float64 { return lo * math.Pow(hi/lo, rng.Float64()) }
	for i := range 20000 {
		pre := logUniform(1e-5, 5)
		l := closedLoop{
			fixed:   pre + logUniform(1e-5, 2),
			load:    float64(rng.Intn(1024)+1) * pre,
			prefill: pre,
			spread:  1 + rng.Float64()*3,
			step:    logUniform(1e-4, 0.5),
			out:     float64(rng.Intn(8192)),
		}
		root, bisected := l.root(), l.bisect()
		require.Greater(t, root, l.load, "loop %d %+v: the root is above load (rho < 1)", i, l)
		require.InEpsilon(t, bisected, root, 1e-12, "loop %d %+v", i, l)
		require.InEpsilon(t, root, l.at(root).request, 1e-12, "loop %d %+v: R = request(R)", i, l)
	}
}
