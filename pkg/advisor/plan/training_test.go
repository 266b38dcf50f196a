package plan_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// trainingPlan plans one training workload of a catalogue model over 1 B tokens, without business
// constraints, so every catalogue instance is a candidate.
func trainingPlan(t *testing.T, model, method string, preferred int32) plan.WorkloadPlan {
	t.Helper()
	w := &inframindv1.Workload{Name: "train", Kind: "training", Model: model, Method: method, Precision: "bf16",
		TrainingTokensBillion: 1, MaxContextTokens: 4096, PreferredGpuCount: preferred}
	p, err := plan.Build(load(t), &inframindv1.AssessmentRequest{Workloads: []*inframindv1.Workload{w}})
	require.NoError(t, err)
	require.Len(t, p.Workloads, 1)
	return p.Workloads[0]
}

// TestTrainingUsesTheFewestGPUsThatFit: the planner trains on at least the fewest GPUs the method fits
// on, in whole instances, instead of calling an 8-GPU machine infeasible (figures worked in
// pkg/advisor/sizing/training_handworked_test.go).
func TestTrainingUsesTheFewestGPUsThatFit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, model, method string
		provider, instance  string
		gpus, instances     int
		strategy            string
		statesGB            float64
	}{
		// 70B LoRA: the frozen base sharded by FSDP, 140.26 / 8 = 17.53 GB per GPU; one machine.
		{name: "70B LoRA on one p5", model: "llama-3.1-70b", method: "lora", provider: "aws", instance: "p5.48xlarge",
			gpus: 8, instances: 1, strategy: "lora_fsdp", statesGB: 17.533},
		// 70B full: 1120 GB of states need tensor 8 x pipeline 2 = 16 GPUs, 70 GB each: two machines.
		{name: "70B full on two a3", model: "llama-3.1-70b", method: "full", provider: "gcp", instance: "a3-highgpu-8g",
			gpus: 16, instances: 2, strategy: "tp_pp", statesGB: 70},
		// 70B full on A100 40GB: tensor 8 x pipeline 5 = 40 GPUs, 28 GB each: five machines.
		{name: "70B full on five p4d", model: "llama-3.1-70b", method: "full", provider: "aws", instance: "p4d.24xlarge",
			gpus: 40, instances: 5, strategy: "tp_pp", statesGB: 28},
		// 405B full: tensor 8 x pipeline 14 = 112 GPUs, 6480 / 112 = 57.86 GB each: fourteen machines.
		{name: "405B full on fourteen p5", model: "llama-3.1-405b", method: "full", provider: "aws", instance: "p5.48xlarge",
			gpus: 112, instances: 14, strategy: "tp_pp", statesGB: 57.857},
		// 405B QLoRA: the NF4 base sharded over one machine, 209.74 / 8 = 26.22 GB each (FSDP+QLoRA).
		{name: "405B QLoRA on one p5", model: "llama-3.1-405b", method: "qlora", provider: "aws", instance: "p5.48xlarge",
			gpus: 8, instances: 1, strategy: "qlora_fsdp", statesGB: 26.217},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := trainingPlan(t, tc.model, tc.method, 0)
			c := candidate(t, w, tc.provider, tc.instance)
			require.True(t, c.Feasible, c.Reason)
			require.Equal(t, plan.IntRange{Low: tc.gpus, High: tc.gpus}, c.GPUs)
			require.Equal(t, plan.IntRange{Low: tc.instances, High: tc.instances}, c.Instances)
			tr := c.Training
			require.NotNil(t, tr)
			require.Equal(t, tc.gpus, tr.GPUs)
			require.Equal(t, tc.strategy, tr.Strategy)
			require.InDelta(t, tc.statesGB, tr.MemoryPerGPUGB, 0.002)
			require.True(t, tr.FitsPerGPU)
			// Cost = GPU-hours x the instance's price per GPU (whole machines, none partly used).
			in, ok := load(t).Instance(tc.provider, tc.instance)
			require.True(t, ok)
			require.InDelta(t, tr.GPUHours.High*in.OnDemandHourly/float64(in.GPUCount), tr.CostUSD.High, 1e-6)
			require.InDelta(t, tr.GPUHours.High, tr.WallClockHours.High*float64(tc.gpus), 1e-6)
			require.Positive(t, tr.CostUSD.Low)
			require.LessOrEqual(t, tr.CostUSD.Low, tr.CostUSD.High)
			_, chosen := w.Chosen()
			require.True(t, chosen, "some candidate is feasible")
		})
	}
}

// TestTrainingPreferredCountBelowTheMinimum: a preferred count below the fewest GPUs that fit makes the
// candidate infeasible with a reason naming that minimum; a count above it is used as given.
func TestTrainingPreferredCountBelowTheMinimum(t *testing.T) {
	t.Parallel()
	w := trainingPlan(t, "llama-3.1-70b", "full", 8)
	c := candidate(t, w, "aws", "p5.48xlarge")
	require.False(t, c.Feasible)
	require.Contains(t, c.Reason, "preferred_gpu_count 8 is below the 16 GPUs full needs")
	require.Equal(t, 8, c.Training.GPUs)

	w = trainingPlan(t, "llama-3.1-70b", "full", 32)
	c = candidate(t, w, "aws", "p5.48xlarge")
	require.True(t, c.Feasible, c.Reason)
	require.Equal(t, 32, c.Training.GPUs)
	require.Equal(t, plan.IntRange{Low: 4, High: 4}, c.Instances)
	// Two copies of the tensor 8 x pipeline 2 group: ZeRO-1 shards the optimizer, 70e9 / 16 x (4 + 6) = 43.75 GB.
	require.InDelta(t, 43.75, c.Training.MemoryPerGPUGB, 1e-6)

	fewer := trainingPlan(t, "llama-3.1-70b", "full", 16)
	f := candidate(t, fewer, "aws", "p5.48xlarge")
	require.LessOrEqual(t, c.Training.WallClockHours.High, f.Training.WallClockHours.High, "more GPUs never slower")
}

// TestTrainingStaysOnOneSmallMachine: machines that are not 8-GPU NVLink (SXM) machines are not planned
// for multi-machine training: a run that needs more GPUs than one holds is infeasible on them, with
// the reason; one that fits a machine is planned there.
func TestTrainingStaysOnOneSmallMachine(t *testing.T) {
	t.Parallel()
	w := trainingPlan(t, "llama-3.1-70b", "full", 0)
	c := candidate(t, w, "gcp", "g2-standard-4")
	require.False(t, c.Feasible)
	require.Contains(t, c.Reason, "multi-machine training is planned only on 8-GPU NVLink machines")

	w = trainingPlan(t, "llama-3.1-8b", "lora", 0)
	c = candidate(t, w, "gcp", "g2-standard-4")
	require.True(t, c.Feasible, c.Reason)
	require.Equal(t, "lora", c.Training.Strategy)
	require.Equal(t, 1, c.Training.GPUs)
}
