package sizing

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/stretchr/testify/require"
)

// trainingCase is a random valid training input and a second, larger GPU count.
type trainingCase struct {
	In   TrainingInput
	More int // GPUs added to In.GPUs
}

// Generate draws a model from 0.1 B to 2 T parameters with a consistent shape, a GPU from 8 to 192 GB,
// 1 to 4096 GPUs on machines of 1 to 8, and sequences of 256 to 131,072 tokens (or the default).
func (trainingCase) Generate(r *rand.Rand, _ int) reflect.Value {
	params := math.Pow(10, -1+r.Float64()*4.3) // 0.1 B to 2 T
	layers := 1 + r.Intn(160)
	arch := Arch{ParamsTotalB: params, Layers: layers, KVHeads: 1 + r.Intn(16), HeadDim: 64 * (1 + r.Intn(4))}
	if r.Intn(4) > 0 {
		// Hidden size near a transformer's sqrt(N / 12L), within a factor of two either way.
		h := math.Sqrt(params*1e9/(12*float64(layers))) * math.Pow(2, r.Float64()*2-1)
		arch.HiddenSize = max(64, int(h))
	}
	if r.Intn(5) == 0 {
		arch.ParamsActiveB = params * (0.05 + 0.95*r.Float64()) // a mixture of experts
	}
	mem := []float64{8, 16, 24, 40, 48, 80, 94, 141, 192}[r.Intn(9)]
	gpu := Accelerator{Name: "random", MemoryGB: mem, BandwidthTBs: 0.3 + 5*r.Float64(), BF16TFLOPS: 50 + 1500*r.Float64()}
	gpu.FP8TFLOPS = 2 * gpu.BF16TFLOPS
	in := TrainingInput{
		Arch: arch, TokensB: math.Pow(10, -3+r.Float64()*8), GPU: gpu, GPUs: 1 + r.Intn(4096),
		Method:      []string{MethodFull, MethodLoRA, MethodQLoRA}[r.Intn(3)],
		Precision:   []Precision{BF16, FP16, FP8}[r.Intn(3)],
		GPUsPerNode: []int{0, 1, 2, 4, 8}[r.Intn(5)],
		LoRARank:    []int{0, 4, 16, 64}[r.Intn(4)],
	}
	if r.Intn(3) > 0 {
		in.SeqTokens = 256 << r.Intn(10)
	}
	if r.Intn(2) == 0 {
		in.MFU = NewRange(0.05+0.9*r.Float64(), 0.05+0.9*r.Float64())
	}
	return reflect.ValueOf(trainingCase{In: in, More: 1 + r.Intn(2048)})
}

// checkTraining runs a property over random inputs with testing/quick.
func checkTraining(t *testing.T, property func(trainingCase) error) {
	t.Helper()
	err := quick.Check(func(c trainingCase) bool {
		if err := property(c); err != nil {
			t.Logf("input %+v (+%d GPUs): %v", c.In, c.More, err)
			return false
		}
		return true
	}, &quick.Config{MaxCount: 400, Rand: rand.New(rand.NewSource(20261126))})
	require.NoError(t, err)
}

// ranges lists every range of an estimate by name.
func ranges(e TrainingEstimate) map[string]Range {
	out := map[string]Range{"flops": e.FLOPsRange, "gpu_hours": e.GPUHours, "wall_clock": e.WallClockHours, "bubble": e.PipelineBubble}
	for _, m := range e.Methods {
		out[m.Method+" activations"] = m.ActivationsGB
		out[m.Method+" memory"] = m.MemoryPerGPUGB
		out[m.Method+" memory at min"] = m.MemoryAtMinGB
	}
	return out
}

// TestTrainingPropertyRangesOrderedAndFinite: every range has Low <= High, and nothing is NaN or
// infinite (encoding/json refuses both, so a successful encoding proves it for every field).
func TestTrainingPropertyRangesOrderedAndFinite(t *testing.T) {
	t.Parallel()
	checkTraining(t, func(c trainingCase) error {
		e, err := EstimateTraining(c.In)
		if err != nil {
			return err
		}
		if _, err := json.Marshal(e); err != nil {
			return fmt.Errorf("not finite: %w", err)
		}
		for name, r := range ranges(e) {
			if !(r.Low <= r.High) || r.Low < 0 {
				return fmt.Errorf("%s = %s is not an ordered, non-negative range", name, r)
			}
		}
		if e.WallClockHours.Low <= 0 {
			return fmt.Errorf("wall clock %s", e.WallClockHours)
		}
		return nil
	})
}

// TestTrainingPropertyMoreGPUsNeverSlowerNorMoreMemory: adding GPUs never lengthens the wall clock and
// never raises any method's memory per GPU.
func TestTrainingPropertyMoreGPUsNeverSlowerNorMoreMemory(t *testing.T) {
	t.Parallel()
	const eps = 1e-9
	checkTraining(t, func(c trainingCase) error {
		a, err := EstimateTraining(c.In)
		if err != nil {
			return err
		}
		in := c.In
		in.GPUs += c.More
		b, err := EstimateTraining(in)
		if err != nil {
			return err
		}
		if b.WallClockHours.Low > a.WallClockHours.Low*(1+eps) || b.WallClockHours.High > a.WallClockHours.High*(1+eps) {
			return fmt.Errorf("wall clock %s h on %d GPUs, %s h on %d", a.WallClockHours, c.In.GPUs, b.WallClockHours, in.GPUs)
		}
		for i := range a.Methods {
			ma, mb := a.Methods[i], b.Methods[i]
			if mb.MemoryPerGPUGB.Low > ma.MemoryPerGPUGB.Low*(1+eps) || mb.MemoryPerGPUGB.High > ma.MemoryPerGPUGB.High*(1+eps) || mb.StatesGB > ma.StatesGB*(1+eps) {
				return fmt.Errorf("%s memory %s GB (%s) on %d GPUs, %s GB (%s) on %d", ma.Method, ma.MemoryPerGPUGB, ma.Description, c.In.GPUs, mb.MemoryPerGPUGB, mb.Description, in.GPUs)
			}
			if ma.MinGPUs != mb.MinGPUs {
				return fmt.Errorf("%s minimum %d on %d GPUs, %d on %d: it must not depend on the run's count", ma.Method, ma.MinGPUs, c.In.GPUs, mb.MinGPUs, in.GPUs)
			}
		}
		for k, v := range a.MemoryPerGPUGB {
			if b.MemoryPerGPUGB[k] > v*(1+eps) {
				return fmt.Errorf("%s states %.4g GB on %d GPUs, %.4g on %d", k, v, c.In.GPUs, b.MemoryPerGPUGB[k], in.GPUs)
			}
		}
		return nil
	})
}

// TestTrainingPropertyLowerPrecisionNeverNeedsMore: a lower compute precision never needs more memory
// or GPUs, and a lower-precision base (QLoRA's 4-bit against LoRA's 16-bit, against full training's
// 16 bytes) never needs more GPUs, nor more memory in the same layout.
func TestTrainingPropertyLowerPrecisionNeverNeedsMore(t *testing.T) {
	t.Parallel()
	const eps = 1e-9
	// atLeast orders minimum GPU counts with 0 (fits nowhere) as the largest.
	atLeast := func(a, b int) bool { return a == 0 || (b != 0 && a >= b) }
	checkTraining(t, func(c trainingCase) error {
		in := c.In
		in.Precision = BF16
		bf16, err := EstimateTraining(in)
		if err != nil {
			return err
		}
		in.Precision = FP8
		fp8, err := EstimateTraining(in)
		if err != nil {
			return err
		}
		for i := range bf16.Methods {
			a, b := bf16.Methods[i], fp8.Methods[i]
			if b.MemoryPerGPUGB.High > a.MemoryPerGPUGB.High*(1+eps) || !atLeast(a.MinGPUs, b.MinGPUs) {
				return fmt.Errorf("%s: fp8 needs %s GB from %d GPUs, bf16 %s GB from %d", a.Method, b.MemoryPerGPUGB, b.MinGPUs, a.MemoryPerGPUGB, a.MinGPUs)
			}
		}
		full, lora, qlora := bf16.Methods[0], bf16.Methods[1], bf16.Methods[2]
		if !atLeast(full.MinGPUs, lora.MinGPUs) || !atLeast(lora.MinGPUs, qlora.MinGPUs) {
			return fmt.Errorf("fewest GPUs full %d, lora %d, qlora %d", full.MinGPUs, lora.MinGPUs, qlora.MinGPUs)
		}
		for _, pair := range [][2]TrainingMethodSizing{{full, lora}, {lora, qlora}} {
			hi, lo := pair[0], pair[1]
			if hi.Layout == lo.Layout && hi.Parallelism == lo.Parallelism && lo.MemoryPerGPUGB.High > hi.MemoryPerGPUGB.High*(1+eps) {
				return fmt.Errorf("%s needs %s GB, more than %s's %s GB in the same layout %s", lo.Method, lo.MemoryPerGPUGB, hi.Method, hi.MemoryPerGPUGB, hi.Description)
			}
		}
		return nil
	})
}

// TestTrainingPropertyFitsFromTheMinimum: from the minimum GPU count on, the method fits (what the
// planner relies on), and the minimum is a whole group.
func TestTrainingPropertyFitsFromTheMinimum(t *testing.T) {
	t.Parallel()
	checkTraining(t, func(c trainingCase) error {
		e, err := EstimateTraining(c.In)
		if err != nil {
			return err
		}
		m := e.Chosen
		if m.MinGPUs == 0 {
			if e.FitsPerGPU {
				return fmt.Errorf("fits on %d GPUs with no minimum", c.In.GPUs)
			}
			return nil
		}
		if m.MinGPUs != m.MinParallelism.GPUs() || m.MinGPUs > MaxTrainingGPUs {
			return fmt.Errorf("minimum %d against layout %+v", m.MinGPUs, m.MinParallelism)
		}
		if c.In.Layers%m.MinParallelism.Pipeline != 0 {
			return fmt.Errorf("%d pipeline stages for %d layers", m.MinParallelism.Pipeline, c.In.Layers)
		}
		in := c.In
		in.GPUs = m.MinGPUs + c.More%8
		at, err := EstimateTraining(in)
		if err != nil {
			return err
		}
		if !at.FitsPerGPU {
			return fmt.Errorf("minimum %d GPUs (%s) but %d GPUs do not fit: %s GB of %.4g", m.MinGPUs, m.Description, in.GPUs, at.Chosen.MemoryPerGPUGB, at.Chosen.UsableGB)
		}
		return nil
	})
}

// TestTrainingSweep405B walks 405B full training on H100s from seven machines to 300 copies of the pipeline, past
// the point where the data-parallel copies outnumber the sequences of a 1M-token step (244 at 4096
// tokens) and each pipeline gets a single micro-batch: the wall clock never lengthens and the memory
// per GPU never rises.
func TestTrainingSweep405B(t *testing.T) {
	t.Parallel()
	in := catalogueTraining(t, "llama-3.1-405b", "h100-sxm")
	in.Method = MethodFull
	var prev TrainingEstimate
	for g := 56; g <= 112*300; g += 56 {
		in.GPUs = g
		e, err := EstimateTraining(in)
		require.NoError(t, err)
		if g > 56 {
			require.LessOrEqual(t, e.WallClockHours.Low, prev.WallClockHours.Low*(1+1e-12), "at %d GPUs", g)
			require.LessOrEqual(t, e.WallClockHours.High, prev.WallClockHours.High*(1+1e-12), "at %d GPUs", g)
			require.LessOrEqual(t, e.Chosen.MemoryPerGPUGB.High, prev.Chosen.MemoryPerGPUGB.High*(1+1e-12), "at %d GPUs", g)
		}
		prev = e
	}
	require.Equal(t, 300, prev.Chosen.Parallelism.Data)
	require.InDelta(t, 13.0/14, prev.PipelineBubble.High, 1e-9, "one micro-batch per pipeline: (p-1)/(1+p-1)")
}

// TestTrainingPropertyFiguresMatchEstimate: EstimateTrainingFigures answers what EstimateTraining
// answers, figure for figure (the error included), and only leaves out the working's text.
func TestTrainingPropertyFiguresMatchEstimate(t *testing.T) {
	t.Parallel()
	checkTraining(t, func(c trainingCase) error {
		want, wantErr := EstimateTraining(c.In)
		got, err := EstimateTrainingFigures(c.In)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			return fmt.Errorf("error %q, want %q", fmt.Sprint(err), fmt.Sprint(wantErr))
		}
		if len(got.Formulas)+len(got.Assumptions) > 0 {
			return fmt.Errorf("figures carry working: %v %v", got.Formulas, got.Assumptions)
		}
		want.Working, got.Working = Working{}, Working{}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("figures %+v, want %+v", got, want)
		}
		return nil
	})
}
