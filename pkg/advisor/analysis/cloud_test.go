package analysis_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func cloudRequest(b *inframindv1.Business, ws ...*inframindv1.Workload) *inframindv1.AssessmentRequest {
	return &inframindv1.AssessmentRequest{Name: "t", Business: b, Workloads: ws}
}

func analyzeCloud(t *testing.T, req *inframindv1.AssessmentRequest) analysis.Outcome {
	t.Helper()
	o, err := analyzer.Analyze(assessment.FamilyCloud, req, nil)
	require.NoError(t, err)
	return o
}

// Hand-worked sizing: weights = params x bytes, memory = weights x 1.2,
// GPUs = ceil(memory / 80), and each provider's cheapest listed instance that
// holds the memory, x 730 h. Prices from shared/reference/ai-infra-figures.md.
func TestCloudServingSizing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		business    *inframindv1.Business
		workload    *inframindv1.Workload
		wantParams  float64
		wantWeights float64
		wantMemory  float64
		wantGPUs    float64
		wantLow     float64 // cheapest provider's cheapest fitting plan
		wantHigh    float64 // dearest provider's cheapest fitting plan
	}{
		{
			// 70 x 2 = 140 GB -> 168 GB -> 3 x 80 GB. Per provider: aws g6.48xlarge
			// 8x L4 (192 GB) $13.3504/h; azure NC80adis_H100_v5 2x 94 GB $17.64/h;
			// gcp a2-ultragpu-4g 4x A100 80GB $20.275192/h.
			name:       "70B params bf16",
			workload:   &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: 70, Precision: "bf16"},
			wantParams: 70, wantWeights: 140, wantMemory: 168, wantGPUs: 3,
			wantLow: 13.3504 * 730, wantHigh: 20.275192 * 730,
		},
		{
			// Llama 3.1 70B counted from its architecture: 70.553706496 B.
			name:       "llama-3.1-70b by id",
			workload:   &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "Llama-3.1-70B", Precision: "bf16"},
			wantParams: 70.553706496, wantWeights: 141.107412992, wantMemory: 169.3288955904, wantGPUs: 3,
			wantLow: 13.3504 * 730, wantHigh: 20.275192 * 730,
		},
		{
			// Excluding aws leaves azure (NC80adis, $17.64/h) as the cheapest.
			name:       "70B with aws excluded",
			business:   &inframindv1.Business{ProviderExclusions: []string{"aws"}},
			workload:   &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: 70, Precision: "bf16"},
			wantParams: 70, wantWeights: 140, wantMemory: 168, wantGPUs: 3,
			wantLow: 17.64 * 730, wantHigh: 20.275192 * 730,
		},
		{
			// 8.03 B x 1 = 8.03 GB -> 9.64 GB. FP8 needs native FP8, so A100s are
			// out: gcp g2-standard-4 1x L4 $0.706832/h is cheapest; azure's only
			// FP8 machines are H100s, NC40ads_H100_v5 $6.98/h.
			name:       "8B fp8 skips GPUs without FP8",
			workload:   &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "fp8"},
			wantParams: 8.030261248, wantWeights: 8.030261248, wantMemory: 9.6363134976, wantGPUs: 1,
			wantLow: 0.706832 * 730, wantHigh: 6.98 * 730,
		},
		{
			// Same model at bf16 may use A100s: azure NC24ads_A100_v4 $3.673/h.
			name:       "8B bf16",
			workload:   &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "bf16"},
			wantParams: 8.030261248, wantWeights: 16.060522496, wantMemory: 19.2726269952, wantGPUs: 1,
			wantLow: 0.706832 * 730, wantHigh: 3.673 * 730,
		},
		{
			// 405.8533888 B x 2 = 811.71 GB -> 974.05 GB -> 13 x 80 GB: no single
			// machine holds it, so two 8-GPU 80 GB machines: aws 2 x p4de
			// $27.44705/h; azure 2 x ND96isr_H100_v5 $98.32/h; gcp 2 x a3 $88.49/h.
			name:       "405B spans two 8-GPU machines",
			workload:   &inframindv1.Workload{Name: "w", Kind: "batch_inference", Model: "llama-3.1-405b", Precision: "bf16"},
			wantParams: 405.8533888, wantWeights: 811.7067776, wantMemory: 974.04813312, wantGPUs: 13,
			wantLow: 2 * 27.44705 * 730, wantHigh: 2 * 98.32 * 730,
		},
		{
			// 405.85 x 0.5 = 202.93 GB -> 243.51 GB -> 4 x 80 GB. One machine
			// holds it: azure NC96ads 4x A100 80GB (320 GB) $19.108/h; gcp
			// a2-ultragpu-4g 4x A100 80GB $20.275192/h; aws p4d 8x A100 40GB
			// (7 of its 40 GB GPUs) $21.957642/h.
			name:       "405B int4",
			workload:   &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "llama-3.1-405b", Precision: "int4"},
			wantParams: 405.8533888, wantWeights: 202.9266944, wantMemory: 243.51203328, wantGPUs: 4,
			wantLow: 19.108 * 730, wantHigh: 21.957642 * 730,
		},
		{
			// Unknown model with params_billion: the given count is used.
			name:       "custom model by params",
			workload:   &inframindv1.Workload{Name: "w", Kind: "rag", Model: "in-house-13b", ParamsBillion: 13, Precision: "int8"},
			wantParams: 13, wantWeights: 13, wantMemory: 15.6, wantGPUs: 1,
			wantLow: 0.706832 * 730, wantHigh: 3.673 * 730,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeCloud(t, cloudRequest(tc.business, tc.workload))
			require.InDelta(t, tc.wantParams, metricOf(t, o, "params_billion", "w").GetValue(), 1e-6)
			require.InDelta(t, tc.wantWeights, metricOf(t, o, "weights_gb", "w").GetValue(), 1e-6)
			require.InDelta(t, tc.wantMemory, metricOf(t, o, "serving_memory_gb", "w").GetValue(), 1e-6)
			require.Equal(t, tc.wantGPUs, metricOf(t, o, "gpus_80gb_min", "w").GetValue())
			require.InDelta(t, tc.wantLow, metricOf(t, o, "monthly_on_demand_usd_low", "w").GetValue(), 1e-6)
			require.InDelta(t, tc.wantHigh, metricOf(t, o, "monthly_on_demand_usd_high", "w").GetValue(), 1e-6)
			// With one priced workload the plan range is that workload's range.
			require.InDelta(t, tc.wantLow, metricOf(t, o, analysis.MetricMonthlyCostLow, "").GetValue(), 1e-6)
			require.InDelta(t, tc.wantHigh, metricOf(t, o, analysis.MetricMonthlyCostHigh, "").GetValue(), 1e-6)
		})
	}
}

func TestCloudFormulasShowTheirInputs(t *testing.T) {
	t.Parallel()
	o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: 70, Precision: "bf16"}))
	require.Equal(t, "70 B parameters x 2 bytes (bf16) = 140 GB", metricOf(t, o, "weights_gb", "w").GetFormula())
	require.Contains(t, metricOf(t, o, "serving_memory_gb", "w").GetFormula(), "140 GB weights x 1.2 runtime overhead = 168 GB")
	require.Equal(t, "ceil(168 GB / 80 GB per GPU) = 3", metricOf(t, o, "gpus_80gb_min", "w").GetFormula())
	low := metricOf(t, o, "monthly_on_demand_usd_low", "w")
	require.Contains(t, low.GetFormula(), "aws g6.48xlarge (8x L4 24GB, $13.3504/h) x 730 h = $9745.79")
	require.Contains(t, low.GetSource(), "skypilot-catalog")
	high := metricOf(t, o, "monthly_on_demand_usd_high", "w")
	require.Contains(t, high.GetSource(), "as of 2025-03-06")
}

func TestCloudPlanSumsPricedWorkloads(t *testing.T) {
	t.Parallel()
	o := analyzeCloud(t, cloudRequest(nil,
		&inframindv1.Workload{Name: "big", Kind: "llm_serving", ParamsBillion: 70, Precision: "bf16"},
		&inframindv1.Workload{Name: "small", Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "fp8"},
		&inframindv1.Workload{Name: "api", Kind: "general", PeakRequestsPerSecond: 120},
		&inframindv1.Workload{Name: "ft", Kind: "training", ParamsBillion: 10, Method: "full", TrainingTokensBillion: 1},
	))
	// big 13.3504 + small 0.706832 (low); big 20.275192 + small 6.98 (high); x 730.
	require.InDelta(t, (13.3504+0.706832)*730, metricOf(t, o, analysis.MetricMonthlyCostLow, "").GetValue(), 1e-6)
	require.InDelta(t, (20.275192+6.98)*730, metricOf(t, o, analysis.MetricMonthlyCostHigh, "").GetValue(), 1e-6)
	require.Contains(t, metricOf(t, o, analysis.MetricMonthlyCostLow, "").GetFormula(), "not priced: api, ft (one-off training job)")
	require.Equal(t, 3.0, metricOf(t, o, "instances", "api").GetValue())
	require.Contains(t, o.Summary, "$10261.78 to $19896.29")
}

// Training: model states = params x bytes per method; compute = 6ND; GPU-hours
// = 6ND / (989 TFLOPS x MFU) / 3600 with MFU 0.45 (low) and 0.35 (high);
// cost = GPU-hours x H100 per-GPU-hour price (aws p5 $55.04/8 = $6.88 cheapest,
// azure ND96isr $98.32/8 = $12.29 dearest).
func TestCloudTrainingSizing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		workload   *inframindv1.Workload
		wantStates float64
		wantGPUs   float64
		wantFLOPs  float64 // 0: not estimated
	}{
		{name: "full fine-tune 10B", workload: &inframindv1.Workload{Name: "w", Kind: "training", ParamsBillion: 10, Method: "full", TrainingTokensBillion: 1},
			wantStates: 160, wantGPUs: 2, wantFLOPs: 6e19},
		{name: "lora bf16 10B", workload: &inframindv1.Workload{Name: "w", Kind: "training", ParamsBillion: 10, Method: "LoRA", TrainingTokensBillion: 1},
			wantStates: 20, wantGPUs: 1, wantFLOPs: 6e19},
		{name: "qlora 70B", workload: &inframindv1.Workload{Name: "w", Kind: "training", ParamsBillion: 70, Method: "qlora"},
			wantStates: 35, wantGPUs: 1},
		{name: "full 70B", workload: &inframindv1.Workload{Name: "w", Kind: "training", ParamsBillion: 70, Method: "full"},
			wantStates: 1120, wantGPUs: 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeCloud(t, cloudRequest(nil, tc.workload))
			require.InDelta(t, tc.wantStates, metricOf(t, o, "training_state_memory_gb", "w").GetValue(), 1e-9)
			require.Equal(t, tc.wantGPUs, metricOf(t, o, "gpus_80gb_min", "w").GetValue())
			// Training is one-off, so it adds nothing to the monthly plan.
			require.Zero(t, metricOf(t, o, analysis.MetricMonthlyCostHigh, "").GetValue())
			if tc.wantFLOPs == 0 {
				require.False(t, hasMetric(o, "training_flops", "w"))
				findingWithTitle(t, o, "Training compute not estimated")
				return
			}
			require.InDelta(t, tc.wantFLOPs, metricOf(t, o, "training_flops", "w").GetValue(), 1)
			// 6e19 / (989e12 x 0.45) / 3600 = 37.4490 h; at 0.35: 48.1487 h.
			require.InDelta(t, 37.4490, metricOf(t, o, "h100_gpu_hours_low", "w").GetValue(), 1e-4)
			require.InDelta(t, 48.1487, metricOf(t, o, "h100_gpu_hours_high", "w").GetValue(), 1e-4)
			require.InDelta(t, 37.4490*6.88, metricOf(t, o, "training_cost_usd_low", "w").GetValue(), 1e-2)
			require.InDelta(t, 48.1487*12.29, metricOf(t, o, "training_cost_usd_high", "w").GetValue(), 1e-2)
		})
	}
}

func TestCloudGeneralInstances(t *testing.T) {
	t.Parallel()
	tests := []struct {
		peak float64
		want float64
	}{{0.5, 1}, {50, 1}, {50.1, 2}, {100, 2}, {120, 3}, {1000, 20}}
	for _, tc := range tests {
		o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "w", Kind: "general", PeakRequestsPerSecond: tc.peak}))
		require.Equal(t, tc.want, metricOf(t, o, "instances", "w").GetValue(), "peak %v", tc.peak)
		require.Contains(t, metricOf(t, o, "instances", "w").GetSource(), "assumption")
	}
}

func TestCloudMoreParametersNeverFewerGPUsOrLessCost(t *testing.T) {
	t.Parallel()
	for _, precision := range []string{"bf16", "fp8", "int8", "int4"} {
		prevGPUs, prevLow, prevHigh := 0.0, 0.0, 0.0
		for params := 1.0; params <= 1000; params *= 1.25 {
			o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: params, Precision: precision}))
			gpus := metricOf(t, o, "gpus_80gb_min", "w").GetValue()
			low := metricOf(t, o, "monthly_on_demand_usd_low", "w").GetValue()
			high := metricOf(t, o, "monthly_on_demand_usd_high", "w").GetValue()
			require.GreaterOrEqual(t, gpus, prevGPUs, "%s %vB", precision, params)
			require.GreaterOrEqual(t, low, prevLow, "%s %vB", precision, params)
			require.GreaterOrEqual(t, high, prevHigh, "%s %vB", precision, params)
			require.LessOrEqual(t, low, high)
			prevGPUs, prevLow, prevHigh = gpus, low, high
		}
	}
}

func TestCloudHigherPrecisionNeverFewerGPUs(t *testing.T) {
	t.Parallel()
	for _, params := range []float64{7, 13, 34, 70, 180, 405} {
		prev := 0.0
		for _, precision := range []string{"int4", "int8", "bf16"} {
			o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: params, Precision: precision}))
			gpus := metricOf(t, o, "gpus_80gb_min", "w").GetValue()
			require.GreaterOrEqual(t, gpus, prev, "%vB %s", params, precision)
			prev = gpus
		}
	}
}

func TestCloudMoreTrafficNeverFewerInstances(t *testing.T) {
	t.Parallel()
	prev := 0.0
	for peak := 0.25; peak < 5000; peak *= 1.7 {
		o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "w", Kind: "general", PeakRequestsPerSecond: peak}))
		n := metricOf(t, o, "instances", "w").GetValue()
		require.GreaterOrEqual(t, n, prev, "peak %v", peak)
		prev = n
	}
}

func TestCloudAssumedPrecisionIsReported(t *testing.T) {
	t.Parallel()
	o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: 70}))
	require.Equal(t, 140.0, metricOf(t, o, "weights_gb", "w").GetValue())
	require.Equal(t, "low", findingWithTitle(t, o, "Precision assumed for w").GetSeverity())
}

func TestCloudRAGWithoutModelIsNotPriced(t *testing.T) {
	t.Parallel()
	o := analyzeCloud(t, cloudRequest(nil, &inframindv1.Workload{Name: "kb", Kind: "rag", CorpusGb: 10}))
	require.Zero(t, metricOf(t, o, analysis.MetricMonthlyCostLow, "").GetValue())
	findingWithTitle(t, o, "No generator model for kb")
}

func TestCloudRejectsWhatItCannotSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		business *inframindv1.Business
		ws       []*inframindv1.Workload
		wantMsg  string
	}{
		{name: "no workloads", wantMsg: "workloads: at least one workload is required"},
		{name: "unknown model", ws: []*inframindv1.Workload{{Kind: "llm_serving", Model: "foo"}},
			wantMsg: `workloads[0].model: unknown model "foo" and no params_billion`},
		{name: "no model", ws: []*inframindv1.Workload{{Kind: "batch_inference"}},
			wantMsg: "workloads[0]: a batch_inference workload needs model or params_billion"},
		{name: "negative params", ws: []*inframindv1.Workload{{Kind: "llm_serving", ParamsBillion: -7}},
			wantMsg: "workloads[0].params_billion: must be a positive number"},
		{name: "unknown precision", ws: []*inframindv1.Workload{{Kind: "llm_serving", ParamsBillion: 7, Precision: "fp4"}},
			wantMsg: `workloads[0].precision: unknown precision "fp4"`},
		{name: "unknown kind", ws: []*inframindv1.Workload{{Kind: "general", PeakRequestsPerSecond: 1}, {Kind: "quantum"}},
			wantMsg: `workloads[1].kind: unknown kind "quantum"`},
		{name: "training without method", ws: []*inframindv1.Workload{{Kind: "training", ParamsBillion: 7}},
			wantMsg: `workloads[0].method: unknown training method ""`},
		{name: "negative tokens", ws: []*inframindv1.Workload{{Kind: "training", ParamsBillion: 7, Method: "full", TrainingTokensBillion: -1}},
			wantMsg: "workloads[0].training_tokens_billion"},
		{name: "general without traffic", ws: []*inframindv1.Workload{{Kind: "general"}},
			wantMsg: "workloads[0].peak_requests_per_second: must be > 0"},
		{name: "every provider excluded", business: &inframindv1.Business{ProviderExclusions: []string{"aws", "AZURE", "gcp"}},
			ws: []*inframindv1.Workload{{Kind: "general", PeakRequestsPerSecond: 1}}, wantMsg: "business.provider_exclusions: excludes every priced provider"},
		{name: "unknown provider", business: &inframindv1.Business{ProviderPreference: []string{"aws", "oracle"}},
			ws: []*inframindv1.Workload{{Kind: "general", PeakRequestsPerSecond: 1}}, wantMsg: `business.provider_preference[1]: unknown provider "oracle"`},
		{name: "nil workload", ws: []*inframindv1.Workload{nil}, wantMsg: "workloads[0]: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilyCloud, cloudRequest(tc.business, tc.ws...), nil)
			require.Error(t, err)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable))
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
