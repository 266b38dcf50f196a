package sizing

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInvalidInputsNameTheField: every impossible input is rejected with the field a person must fix.
func TestInvalidInputsNameTheField(t *testing.T) {
	t.Parallel()
	serving := func(mutate func(*ServingInput)) func() error {
		return func() error {
			in := nimInput(1, FP8)
			mutate(&in)
			_, err := EstimateServing(in)
			return err
		}
	}
	training := func(mutate func(*TrainingInput)) func() error {
		return func() error {
			in := TrainingInput{Arch: llama8B(), TokensB: 1, Method: MethodFull, Precision: BF16, GPU: h100(), GPUs: 1}
			mutate(&in)
			_, err := EstimateTraining(in)
			return err
		}
	}
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{name: "zero layers", call: serving(func(in *ServingInput) { in.Layers = 0 }), field: "layers"},
		{name: "zero params", call: serving(func(in *ServingInput) { in.ParamsTotalB = 0 }), field: "params_total_b"},
		{name: "active above total", call: serving(func(in *ServingInput) { in.ParamsActiveB = 100 }), field: "params_active_b"},
		{name: "no KV heads", call: serving(func(in *ServingInput) { in.KVHeads = 0 }), field: "kv_heads"},
		{name: "MLA without latent", call: serving(func(in *ServingInput) { in.Attention = AttentionMLA }), field: "mla_latent_dim"},
		{name: "unknown attention", call: serving(func(in *ServingInput) { in.Attention = "linear" }), field: "attention"},
		{name: "unknown weight precision", call: serving(func(in *ServingInput) { in.Weights = "fp4" }), field: "weights"},
		{name: "unknown KV precision", call: serving(func(in *ServingInput) { in.KV = "fp2" }), field: "kv"},
		{name: "TP above 8", call: serving(func(in *ServingInput) { in.TensorParallel = 16 }), field: "tensor_parallel"},
		{name: "TP of 3", call: serving(func(in *ServingInput) { in.TensorParallel = 3 }), field: "tensor_parallel"},
		{name: "no GPU memory", call: serving(func(in *ServingInput) { in.GPU.MemoryGB = 0 }), field: "gpu.memory_gb"},
		{name: "no bandwidth", call: serving(func(in *ServingInput) { in.GPU.BandwidthTBs = 0 }), field: "gpu.bandwidth_tbs"},
		{name: "no input tokens", call: serving(func(in *ServingInput) { in.InputTokens = 0 }), field: "input_tokens"},
		{name: "no output tokens", call: serving(func(in *ServingInput) { in.OutputTokens = -1 }), field: "output_tokens"},
		{name: "no concurrency", call: serving(func(in *ServingInput) { in.Concurrency = 0 }), field: "concurrency"},
		{name: "utilisation above 1", call: serving(func(in *ServingInput) { in.Utilisation = 1.5 }), field: "utilisation"},
		{name: "decode efficiency above 1", call: serving(func(in *ServingInput) { in.Efficiency.Decode = Range{Low: 0.5, High: 1.5} }), field: "efficiency.decode"},
		{name: "negative SLO", call: func() error { _, err := CapacityAtSLO(nimInput(1, FP8), SLO{ITLms: -1}); return err }, field: "slo.itl_ms"},
		{name: "unknown precision", call: func() error { _, err := BytesPerParam("fp64"); return err }, field: "precision"},
		{name: "no max GPUs", call: func() error {
			_, _, err := MinTensorParallel(llama8B(), BF16, BF16, h100(), 0, 0, 1024)
			return err
		}, field: "max_gpus"},
		{name: "no context", call: func() error { _, err := FitMemory(llama8B(), BF16, BF16, h100(), 1, 0, 0); return err }, field: "context_tokens"},
		{name: "negative traffic", call: func() error { _, _, err := Replicas(-1, Range{Low: 1, High: 2}, 0); return err }, field: "peak_rps"},
		{name: "zero per-replica rate", call: func() error { _, _, err := Replicas(1, Range{}, 0); return err }, field: "per_replica_rps"},
		{name: "negative headroom", call: func() error { _, _, err := Replicas(1, Range{Low: 1, High: 2}, -0.1); return err }, field: "headroom"},
		{name: "no tokens", call: training(func(in *TrainingInput) { in.TokensB = 0 }), field: "tokens_b"},
		{name: "unknown method", call: training(func(in *TrainingInput) { in.Method = "dpo" }), field: "method"},
		{name: "no GPUs", call: training(func(in *TrainingInput) { in.GPUs = 0 }), field: "gpus"},
		{name: "int4 compute", call: training(func(in *TrainingInput) { in.Precision = INT4 }), field: "precision"},
		{name: "FP8 on a GPU without it", call: training(func(in *TrainingInput) {
			in.Precision = FP8
			in.GPU = Accelerator{Name: "A100", MemoryGB: 80, BandwidthTBs: 2.039, BF16TFLOPS: 312}
		}), field: "precision"},
		{name: "MFU above 1", call: training(func(in *TrainingInput) { in.MFU = Range{Low: 0.5, High: 2} }), field: "mfu"},
		{name: "negative heads", call: training(func(in *TrainingInput) { in.Heads = -1 }), field: "heads"},
		{name: "negative sequence", call: training(func(in *TrainingInput) { in.SeqTokens = -4096 }), field: "seq_tokens"},
		{name: "negative machine size", call: training(func(in *TrainingInput) { in.GPUsPerNode = -8 }), field: "gpus_per_node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call()
			require.ErrorIs(t, err, ErrInvalidInput)
			var ie *InputError
			require.True(t, errors.As(err, &ie), "%v", err)
			require.Equal(t, tc.field, ie.Field)
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestDoesNotFit(t *testing.T) {
	t.Parallel()
	in := ServingInput{Arch: llama70B(), Weights: BF16, KV: BF16, GPU: h100(), TensorParallel: 1,
		InputTokens: 1000, OutputTokens: 100, Concurrency: 1}
	e, err := EstimateServing(in)
	require.ErrorIs(t, err, ErrDoesNotFit)
	require.False(t, e.Fits)
	require.InDelta(t, 141.2, e.WeightsGB, 0.01)
}

func TestRange(t *testing.T) {
	t.Parallel()
	r := NewRange(4, 2)
	require.Equal(t, Range{Low: 2, High: 4}, r)
	require.InDelta(t, 3, r.Mid(), 0)
	require.True(t, r.Contains(2))
	require.True(t, r.Contains(4))
	require.False(t, r.Contains(4.01))
	require.Equal(t, Range{Low: 4, High: 8}, r.Scale(2))
	require.Equal(t, Range{Low: -8, High: -4}, r.Scale(-2))
}
