package sizing_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
)

// kvOf is the KV-cache precision a benchmark ran with: the published one, else an FP8 cache for FP8
// weights on NVIDIA NIM (its TensorRT-LLM FP8 profiles quantise the KV cache too), else the 16-bit
// default every engine uses ("auto" follows the activations).
func kvOf(b catalog.ServingBenchmark) sizing.Precision {
	switch {
	case b.KVCache != "":
		return sizing.Precision(b.KVCache)
	case b.Weights == "fp8" && strings.Contains(b.Engine, "NIM"):
		return sizing.FP8
	default:
		return sizing.BF16
	}
}

// miss is how far a measured figure lies outside a range, as a fraction of the nearer end (0 inside).
func miss(r sizing.Range, x float64) float64 {
	switch {
	case x < r.Low:
		return (r.Low - x) / r.Low
	case x > r.High:
		return (x - r.High) / r.High
	}
	return 0
}

// pointFit is the model against one published point.
type pointFit struct {
	concurrency                int
	ttft, itl, tokens          sizing.Range
	mTTFT, mITL, mTokens       float64
	missTTFT, missITL, missTok float64
}

// fitCurve runs the serving model at every published concurrency of b.
func fitCurve(t *testing.T, cat *catalog.Catalog, b catalog.ServingBenchmark) []pointFit {
	t.Helper()
	m, ok := cat.Model(b.Model)
	require.True(t, ok, b.Model)
	g, ok := cat.GPU(b.GPU)
	require.True(t, ok, b.GPU)
	var out []pointFit
	for _, p := range b.Points {
		e, err := sizing.EstimateServing(sizing.ServingInput{
			Arch: plan.ArchFromModel(m), Weights: sizing.Precision(b.Weights), KV: kvOf(b), GPU: plan.AcceleratorFromGPU(g),
			TensorParallel: b.TensorParallel, InputTokens: b.InputTokens, OutputTokens: b.OutputTokens, Concurrency: p.Concurrency,
		})
		require.NoError(t, err, "%s at %d", b.ID, p.Concurrency)
		out = append(out, pointFit{
			concurrency: p.Concurrency, ttft: e.TTFTms, itl: e.ITLms, tokens: e.OutputTokensPerSec,
			mTTFT: p.TTFTms, mITL: p.ITLms, mTokens: p.OutputTokensPerSec,
			missTTFT: miss(e.TTFTms, p.TTFTms), missITL: miss(e.ITLms, p.ITLms), missTok: miss(e.OutputTokensPerSec, p.OutputTokensPerSec),
		})
	}
	return out
}

// table prints a curve's fit for the README and a person reading the test log.
func table(b catalog.ServingBenchmark, fits []pointFit) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (%s)\n", b.ID, b.Role)
	fmt.Fprintf(&sb, "| concurrency | TTFT ms published | TTFT ms ours | ITL ms published | ITL ms ours | tokens/s published | tokens/s ours |\n")
	mark := func(x float64) string {
		if x == 0 {
			return ""
		}
		return fmt.Sprintf(" (miss %.0f%%)", x*100)
	}
	for _, f := range fits {
		fmt.Fprintf(&sb, "| %d | %.0f | %.0f-%.0f%s | %.1f | %.1f-%.1f%s | %.0f | %.0f-%.0f%s |\n", f.concurrency,
			f.mTTFT, f.ttft.Low, f.ttft.High, mark(f.missTTFT), f.mITL, f.itl.Low, f.itl.High, mark(f.missITL),
			f.mTokens, f.tokens.Low, f.tokens.High, mark(f.missTok))
	}
	return sb.String()
}

// statedMiss is the worst miss per curve the README states (section "How accurate the serving model
// is"), as a fraction: how far a published figure may lie outside the estimated range at any point of the
// curve. A change that makes the model predict worse than the README says fails here.
var statedMiss = map[string]float64{
	"nim-llama-3.3-70b-fp8-2xh100-5000-500":           0,
	"dli-nim-llama3-8b-fp8-1xh100-2000-200":           0,
	"dli-nim-llama3-70b-fp16-4xa100-2000-200":         0.04,
	"dli-nim-llama3-70b-fp8-4xh100-2000-200":          0.09,
	"dli-nim-llama3-8b-fp16-1xh100-2000-200":          0.10,
	"dli-nim-llama3-8b-fp16-1xa100-2000-200":          0.08,
	"dstack-deepseek-r1-fp8-8xmi300x-vllm-3200-800":   7.0,
	"dstack-deepseek-r1-fp8-8xh200-vllm-3200-800":     5.8,
	"dstack-deepseek-r1-fp8-8xmi300x-sglang-3200-800": 7.05,
	"dstack-deepseek-r1-fp8-8xh200-sglang-3200-800":   15.9,
}

// TestCalibration checks the serving model against every published curve in the catalogue and prints
// published against estimated at every point. The defaults were chosen on the curves with role fit; the
// held-out curves were not looked at while choosing them. Every curve's worst miss must stay within what
// the README states.
func TestCalibration(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Load()
	require.NoError(t, err)
	require.Len(t, statedMiss, len(cat.Benchmarks), "every catalogue curve needs a stated miss")
	for _, b := range cat.Benchmarks {
		fits := fitCurve(t, cat, b)
		t.Log("\n" + table(b, fits))
		worst := 0.0
		for _, f := range fits {
			worst = math.Max(worst, math.Max(f.missTTFT, math.Max(f.missITL, f.missTok)))
		}
		stated, ok := statedMiss[b.ID]
		require.True(t, ok, "no stated miss for %s", b.ID)
		t.Logf("worst miss %s (%s): %.1f%% (README states %.0f%%)", b.ID, b.Role, worst*100, stated*100)
		assert.LessOrEqual(t, worst, stated+1e-9, "%s misses by more than the README states", b.ID)
	}
}
