package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/api"
)

// estimateEnv serves the estimate routes on fakes, shared by the estimate
// tests: the routes store and publish nothing, so they need no server and the
// subtests cannot disturb each other. Authentication and the route x role
// matrix are guarded on real servers (TestEstimatesNeedAToken, access_test.go).
func estimateEnv(t *testing.T) *fakeEnv {
	t.Helper()
	return newFakeEnv(t)
}

// postEstimate posts body to an estimate route as tenant acme.
func postEstimate(t *testing.T, e *fakeEnv, route, body string) *http.Response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/estimates/"+route, "acme", "application/json", strings.NewReader(body), nil)
}

// chosenLayout is the answer's own entry in its layouts.
func chosenLayout(t *testing.T, ans api.InferenceEstimate) api.InferenceLayout {
	t.Helper()
	for _, l := range val(ans.Layouts) {
		if l.TensorParallel == ans.TensorParallel {
			return l
		}
	}
	t.Fatalf("no layout for the chosen TP %d", ans.TensorParallel)
	return api.InferenceLayout{}
}

func TestEstimates(t *testing.T) {
	t.Parallel()
	e := estimateEnv(t)
	cat := testCatalogue(t)

	t.Run("a model no tensor-parallel group holds says so once, with every degree tried", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "inference", `{"model":"llama-3.1-405b","precision":"bf16","gpu":"l4",
			"input_tokens":1000,"output_tokens":200}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.InferenceEstimate](t, resp)
		require.False(t, ans.Feasible)
		require.Zero(t, ans.TensorParallel)
		require.Contains(t, val(ans.Reason), "do not fit on up to 8 x NVIDIA L4")
		require.Len(t, val(ans.Layouts), 4)
		for _, l := range val(ans.Layouts) {
			require.False(t, l.Fits, "TP %d", l.TensorParallel)
		}
	})

	t.Run("70B BF16 on L40S at 1 request/s takes TP 8, not the fewest GPUs that hold it", func(t *testing.T) {
		t.Parallel()
		// 141 GB of weights fit 4 x L40S with almost no KV cache left, so TP 4 carries one or two
		// requests at a time; TP 8 carries many at the same price per GPU.
		resp := postEstimate(t, e, "inference", `{"model":"llama-3.1-70b","precision":"bf16","gpu":"l40s",
			"input_tokens":1000,"output_tokens":250,"slo":{"ttft_p95_ms":2000,"inter_token_latency_ms":100},
			"peak_requests_per_second":1,"headroom":0.2}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.InferenceEstimate](t, resp)
		require.True(t, ans.Feasible, val(ans.Reason))
		require.Equal(t, 8, ans.TensorParallel)
		var four api.InferenceLayout
		for _, l := range val(ans.Layouts) {
			if l.TensorParallel == 4 {
				four = l
			}
		}
		require.True(t, four.Fits)
		if four.Feasible {
			require.Greater(t, four.CheapestMonthlyUSDForPeak.High, chosenLayout(t, ans).CheapestMonthlyUSDForPeak.High)
		}
		found := false
		for _, f := range ans.Working.Formulas {
			if strings.HasPrefix(f, "layout: TP 8") && strings.Contains(f, "beats TP") {
				found = true
			}
		}
		require.True(t, found, "the working says why TP 8 won: %v", ans.Working.Formulas)
	})

	t.Run("70B FP8 on H100 picks the cheapest tensor-parallel degree with sensible ranges and costs", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "inference", `{"model":"llama-3.1-70b","precision":"fp8","gpu":"h100-sxm",
			"input_tokens":1000,"output_tokens":200,"concurrency":1,"peak_requests_per_second":10,"headroom":0.2}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.InferenceEstimate](t, resp)
		require.True(t, ans.Feasible, val(ans.Reason))
		require.Equal(t, api.InferenceEstimateTensorParallelChosen("cheapest that meets the targets"), ans.TensorParallelChosen)
		require.Len(t, val(ans.Layouts), 4, "TP 1, 2, 4 and 8 are sized")
		require.False(t, val(ans.Layouts)[0].Fits, "70 GB of FP8 weights plus 20%% overhead exceed one 80 GB H100")
		for _, l := range val(ans.Layouts) {
			if l.Feasible {
				require.NotNil(t, l.CheapestMonthlyUSDForPeak, "TP %d", l.TensorParallel)
				require.LessOrEqual(t, chosenLayout(t, ans).CheapestMonthlyUSDForPeak.High, l.CheapestMonthlyUSDForPeak.High,
					"the chosen TP %d is the cheapest for the peak", ans.TensorParallel)
			}
		}
		require.GreaterOrEqual(t, ans.TensorParallel, 2)
		require.Equal(t, "bf16", ans.KVCachePrecision)
		require.InDelta(t, 70, ans.Memory.WeightsGB, 0.01)
		require.True(t, ans.Memory.Fits)

		at := ans.AtConcurrency
		require.NotNil(t, at)
		// Decode reads 35 GB per GPU at 3.35 TB/s x 0.5-0.6: about 17-21 ms per token.
		require.GreaterOrEqual(t, at.ITLMs.Low, 10.0)
		require.LessOrEqual(t, at.ITLMs.High, 40.0)
		require.Less(t, at.ITLMs.Low, at.ITLMs.High, "an estimate is a range")
		require.Greater(t, at.TTFTMs.Low, 0.0)
		require.LessOrEqual(t, at.TTFTMs.High, 1000.0)
		require.Greater(t, at.RequestsPerSec.Low, 0.0)

		require.NotNil(t, ans.ReplicasForPeak)
		require.GreaterOrEqual(t, ans.ReplicasForPeak.Replicas.High, ans.ReplicasForPeak.Replicas.Low)
		require.Greater(t, ans.ReplicasForPeak.Replicas.Low, 1.0, "10 requests/s of 200 tokens is more than one single-stream replica carries")

		// Every catalogue instance with H100 SXM is listed; one with fewer GPUs than the
		// tensor-parallel degree cannot hold a replica and says so, and an 8-GPU machine
		// holds 8 / TP replicas.
		require.NotEmpty(t, ans.Costs)
		fitting := 0
		for _, c := range ans.Costs {
			in, ok := cat.Instance(c.Provider, c.Name)
			require.True(t, ok)
			require.Equal(t, "h100-sxm", in.GPU)
			if in.GPUCount < ans.TensorParallel {
				require.False(t, c.Fits, "%s/%s has %d GPUs", c.Provider, c.Name, in.GPUCount)
				require.Contains(t, val(c.Reason), "needs")
				require.Nil(t, c.MonthlyUSDForPeak)
				continue
			}
			fitting++
			require.True(t, c.Fits)
			require.Equal(t, in.GPUCount/ans.TensorParallel, val(c.ReplicasPerInstance))
			require.InDelta(t, in.OnDemandHourly*730, val(c.InstanceMonthlyUSD), 1e-6)
			require.NotNil(t, c.USDPerMillionOutputTokens)
			require.Less(t, c.USDPerMillionOutputTokens.Low, c.USDPerMillionOutputTokens.High)
			require.NotNil(t, c.MonthlyUSDForPeak)
			require.GreaterOrEqual(t, c.MonthlyUSDForPeak.Low, val(c.InstanceMonthlyUSD))
		}
		require.Positive(t, fitting, "at least one H100 machine holds a replica")

		// The working and the provenance of every row used.
		require.NotEmpty(t, ans.Working.Assumptions)
		require.Contains(t, strings.Join(ans.Working.Assumptions, "\n"), "price region, 730 hours a month;")
		require.NotEmpty(t, ans.Working.Formulas)
		require.Regexp(t, `machines x \$[0-9.]+/h x 730 h = \$`, strings.Join(ans.Working.Formulas, "\n"))
		require.Equal(t, cat.Version, ans.Catalog.Version)
		tables := map[string]bool{}
		for _, r := range ans.Catalog.Rows {
			tables[string(r.Table)] = true
			require.NotEmpty(t, r.Source, r.Key)
			require.NotEmpty(t, r.AsOf, r.Key)
		}
		require.Equal(t, map[string]bool{"models": true, "gpus": true, "instances": true}, tables)
	})

	t.Run("an SLO gives the capacity and replicas are sized at it", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "inference", `{"model":"llama-3.1-70b","precision":"fp8","instance":{"provider":"aws","name":"p5.48xlarge"},
			"input_tokens":1000,"output_tokens":200,"concurrency":64,"slo":{"inter_token_latency_ms":40},"peak_requests_per_second":20}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.InferenceEstimate](t, resp)
		require.True(t, ans.Feasible, val(ans.Reason))
		require.NotNil(t, ans.CapacityAtSLO)
		require.True(t, ans.CapacityAtSLO.Meets)
		require.NotNil(t, ans.CapacityAtSLO.AtCapacity)
		require.LessOrEqual(t, ans.CapacityAtSLO.AtCapacity.ITLMs.High, 40.0)
		require.NotNil(t, ans.AtConcurrency.MeetsSLO)
		require.Equal(t, 64 <= ans.CapacityAtSLO.MaxConcurrency, *ans.AtConcurrency.MeetsSLO)
		require.Equal(t, ans.CapacityAtSLO.AtCapacity.RequestsPerSec, ans.ReplicasForPeak.PerReplicaRequestsPerSec)
		require.Len(t, ans.Costs, 1)
		require.Equal(t, "p5.48xlarge", ans.Costs[0].Name)
	})

	t.Run("405B BF16 on one L4 is infeasible, not an error", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`{"model":"llama-3.1-405b","precision":"bf16","gpu":"l4","tensor_parallel":1,"input_tokens":1000,"output_tokens":200}`,
			`{"model":"llama-3.1-405b","precision":"bf16","instance":{"provider":"aws","name":"g6.2xlarge"},"input_tokens":1000,"output_tokens":200}`,
		} {
			resp := postEstimate(t, e, "inference", body)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			ans := decodeBody[api.InferenceEstimate](t, resp)
			require.False(t, ans.Feasible)
			require.Contains(t, val(ans.Reason), "do not fit")
			require.Contains(t, val(ans.Reason), "L4")
			require.False(t, ans.Memory.Fits)
			require.InDelta(t, 810, ans.Memory.WeightsGB, 0.01)
			require.Empty(t, ans.Costs)
			require.NotEmpty(t, ans.Catalog.Rows)
		}
	})

	t.Run("a custom architecture sizes like its catalogue twin", func(t *testing.T) {
		t.Parallel()
		const tail = `"precision":"bf16","gpu":"l4","input_tokens":2000,"output_tokens":200,"concurrency":4}`
		resp := postEstimate(t, e, "inference", `{"architecture":{"name":"my-8b","total_params_billion":8,"layers":32,
			"attention":"gqa","kv_heads":8,"head_dim":128,"hidden_size":4096},`+tail)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		custom := decodeBody[api.InferenceEstimate](t, resp)
		resp = postEstimate(t, e, "inference", `{"model":"llama-3.1-8b",`+tail)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		twin := decodeBody[api.InferenceEstimate](t, resp)
		require.True(t, custom.Feasible, val(custom.Reason))
		require.Equal(t, "my-8b", custom.Model.Name)
		require.Equal(t, twin.Memory, custom.Memory)
		require.Equal(t, twin.AtConcurrency.ITLMs, custom.AtConcurrency.ITLMs)
		for _, r := range custom.Catalog.Rows {
			require.NotEqual(t, "models", r.Table, "a custom architecture uses no model row")
		}
	})

	t.Run("an SLO beyond the hardware is infeasible with the reason", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "inference", `{"model":"llama-3.1-70b","precision":"fp8","gpu":"h100-sxm",
			"input_tokens":1000,"output_tokens":200,"slo":{"inter_token_latency_ms":5}}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.InferenceEstimate](t, resp)
		require.False(t, ans.Feasible)
		require.Contains(t, val(ans.Reason), "SLO cannot be met")
		require.Equal(t, sizing.LimitITL, ans.CapacityAtSLO.Limit)
	})

	t.Run("training a 70B with QLoRA on p5 gives compute, time, memory and cost", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "training", `{"model":"llama-3.1-70b","method":"qlora","precision":"bf16",
			"instance":{"provider":"aws","name":"p5.48xlarge"},"dataset_tokens_billion":0.5,"epochs":2}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.TrainingEstimate](t, resp)
		require.True(t, ans.Feasible, val(ans.Reason))
		require.Equal(t, 8, ans.Gpus, "defaults to the instance's GPUs")
		require.InDelta(t, 1.0, ans.TokensBillion, 1e-9)
		// 6 x 70e9 x 1e9 = 4.2e20 FLOPs.
		require.InDelta(t, 4.2e20, ans.Flops, 1e12)
		require.Less(t, ans.GPUHours.Low, ans.GPUHours.High)
		require.InDelta(t, ans.GPUHours.High/8, ans.WallClockHours.High, 1e-9)
		// 70e9 x 4.127 bits / 8 = 36.1 GB of NF4 base, plus small adapter states.
		require.InDelta(t, 36.4, ans.MethodMemoryGB, 0.5)
		require.Less(t, ans.FlopsRange.Low, ans.FlopsRange.High, "adapters take 4ND-6ND")
		require.Len(t, ans.Costs, 1)
		p5, ok := cat.Instance("aws", "p5.48xlarge")
		require.True(t, ok)
		require.InDelta(t, ans.WallClockHours.High*p5.OnDemandHourly, ans.Costs[0].RunUSD.High, 1e-6)
	})

	t.Run("LoRA of 70B on 8 H100s fits with the frozen base sharded by FSDP", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "training", `{"model":"llama-3.1-70b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":8,"tokens_billion":1}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.TrainingEstimate](t, resp)
		require.True(t, ans.Feasible, val(ans.Reason))
		// (70e9 x 2 B + 16.4e6 adapter params x 16 B) / 8 = 17.53 GB per GPU, plus 8.26-15.38 GB of activations.
		require.Equal(t, "lora_fsdp", ans.Strategy)
		require.InDelta(t, 17.53, ans.MethodMemoryGB, 0.01)
		require.InDelta(t, 32.91, ans.MemoryWithActivationsGB.High, 0.01)
		require.Equal(t, 4, ans.MinGpus)
		require.Len(t, ans.Methods, 3)
		require.NotEmpty(t, ans.Costs)
	})

	t.Run("LoRA of 70B on one H100 is infeasible, names the FSDP minimum and points to QLoRA", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "training", `{"model":"llama-3.1-70b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.TrainingEstimate](t, resp)
		require.False(t, ans.Feasible)
		require.Contains(t, val(ans.Reason), "ZeRO-3/FSDP spreads them thinly enough from 4 GPUs")
		require.Contains(t, val(ans.Reason), "qlora needs")
	})

	t.Run("full training of 70B on one H100 is infeasible and says how many GPUs", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "training", `{"model":"llama-3.1-70b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.TrainingEstimate](t, resp)
		require.False(t, ans.Feasible)
		// 70e9 x 16 B = 1120 GB of states: tensor 8 x pipeline 2 = 16 GPUs hold 70 GB each plus
		// 0.81-1.48 GB of activations, within 72 GB usable (pkg/advisor/sizing hand-worked cases).
		require.Contains(t, val(ans.Reason), "tensor parallel 8 x pipeline 2 spreads them thinly enough from 16 GPUs")
		require.Equal(t, 16, ans.MinGpus)
	})

	t.Run("405B full training on one p5 names the 112 GPUs it needs", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "training", `{"model":"llama-3.1-405b","method":"full","precision":"bf16",
			"instance":{"provider":"aws","name":"p5.48xlarge"},"tokens_billion":1}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.TrainingEstimate](t, resp)
		require.False(t, ans.Feasible)
		require.Equal(t, 112, ans.MinGpus)
		require.Contains(t, val(ans.Reason), "tensor parallel 8 x pipeline 14 spreads them thinly enough from 112 GPUs")
		require.Contains(t, val(ans.Reason), "qlora needs")
	})

	t.Run("405B full training on 112 H100s is feasible, pipelined, with its bubble", func(t *testing.T) {
		t.Parallel()
		resp := postEstimate(t, e, "training", `{"model":"llama-3.1-405b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":112,"tokens_billion":1}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ans := decodeBody[api.TrainingEstimate](t, resp)
		require.True(t, ans.Feasible, val(ans.Reason))
		require.Equal(t, "tp_pp", ans.Strategy)
		require.Equal(t, api.TrainingParallelism{Data: 1, Tensor: 8, Pipeline: 14}, ans.Parallelism)
		require.Positive(t, ans.PipelineBubble.Low)
		for _, c := range ans.Costs {
			if c.Provider == "aws" && c.Name == "p5.48xlarge" {
				require.True(t, c.Fits, val(c.Reason))
				require.Equal(t, 14, val(c.Instances))
			}
		}
	})
}

func TestEstimatesRejectMalformedBodies(t *testing.T) {
	t.Parallel()
	e := estimateEnv(t)
	const inf = `"precision":"fp8","input_tokens":1000,"output_tokens":200`
	tests := []struct {
		name, route, body, field string
	}{
		{name: "no model", route: "inference", body: `{"gpu":"h100-sxm",` + inf + `}`, field: "model"},
		{name: "model and architecture", route: "inference", field: "architecture",
			body: `{"model":"llama-3.1-8b","architecture":{"total_params_billion":8,"layers":32,"attention":"gqa","kv_heads":8,"head_dim":128},"gpu":"h100-sxm",` + inf + `}`},
		{name: "unknown model", route: "inference", body: `{"model":"gpt-9","gpu":"h100-sxm",` + inf + `}`, field: "model"},
		{name: "unknown GPU", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"h900",` + inf + `}`, field: "gpu"},
		{name: "gpu and instance", route: "inference", field: "instance",
			body: `{"model":"llama-3.1-8b","gpu":"l4","instance":{"provider":"aws","name":"g6.2xlarge"},` + inf + `}`},
		{name: "unknown instance", route: "inference", body: `{"model":"llama-3.1-8b","instance":{"provider":"aws","name":"x1"},` + inf + `}`, field: "instance.name"},
		{name: "unknown provider", route: "inference", body: `{"model":"llama-3.1-8b","instance":{"provider":"ibm","name":"x1"},` + inf + `}`, field: "instance.provider"},
		{name: "unknown precision", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","precision":"fp4","input_tokens":1,"output_tokens":1}`, field: "precision"},
		{name: "missing precision", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","input_tokens":1,"output_tokens":1}`, field: "precision"},
		{name: "zero input tokens", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","precision":"fp8","input_tokens":0,"output_tokens":1}`, field: "input_tokens"},
		{name: "text for a number", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","precision":"fp8","input_tokens":"many","output_tokens":1}`, field: "input_tokens"},
		{name: "TP of 3", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","tensor_parallel":3,` + inf + `}`, field: "tensor_parallel"},
		{name: "TP above the instance", route: "inference", body: `{"model":"llama-3.1-8b","instance":{"provider":"aws","name":"g6.2xlarge"},"tensor_parallel":2,` + inf + `}`, field: "tensor_parallel"},
		{name: "negative SLO", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","slo":{"ttft_p95_ms":-1},` + inf + `}`, field: "slo.ttft_p95_ms"},
		{name: "unknown SLO field", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","slo":{"p99":1},` + inf + `}`, field: "slo.p99"},
		{name: "unknown field", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","colour":"red",` + inf + `}`, field: "colour"},
		{name: "architecture without heads", route: "inference", field: "architecture.kv_heads",
			body: `{"architecture":{"total_params_billion":8,"layers":32,"attention":"gqa","head_dim":128},"gpu":"l4",` + inf + `}`},
		{name: "not JSON", route: "inference", body: `{"model":`, field: ""},
		{name: "no tokens", route: "training", body: `{"model":"llama-3.1-8b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1}`, field: "tokens_billion"},
		{name: "epochs without dataset", route: "training", body: `{"model":"llama-3.1-8b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,"epochs":2}`, field: "dataset_tokens_billion"},
		{name: "gpu without gpus", route: "training", body: `{"model":"llama-3.1-8b","method":"lora","precision":"bf16","gpu":"h100-sxm","tokens_billion":1}`, field: "gpus"},
		{name: "unknown method", route: "training", body: `{"model":"llama-3.1-8b","method":"dpo","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1}`, field: "method"},
		{name: "MFU of zero", route: "training", body: `{"model":"llama-3.1-8b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1,"mfu":{"low":0,"high":0}}`, field: "mfu.low"},
		{name: "MFU above 1", route: "training", body: `{"model":"llama-3.1-8b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1,"mfu":{"low":0.5,"high":2}}`, field: "mfu.high"},
		// Once a 500 ("json: unsupported value: +Inf"): the hours divide by the MFU.
		{name: "MFU of 1e-300", route: "training", body: `{"model":"llama-3.1-405b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1024,"tokens_billion":1000000,"mfu":{"low":1e-300,"high":1e-300}}`, field: "mfu.low"},
		{name: "MFU low above high", route: "training", body: `{"model":"llama-3.1-8b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1,"mfu":{"low":0.5,"high":0.4}}`, field: "mfu.low"},
		{name: "dataset x epochs rounding to 0", route: "training", body: `{"model":"llama-3.1-8b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,"dataset_tokens_billion":1e-300,"epochs":1e-300}`, field: "epochs"},
		{name: "an exponent beyond any number", route: "training", body: `{"model":"llama-3.1-8b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1e9999999}`, field: "tokens_billion"},
		{name: "a rate float64 reads as 0", route: "inference", body: `{"model":"llama-3.1-8b","gpu":"l4","peak_requests_per_second":1e-400,` + inf + `}`, field: "peak_requests_per_second"},
		// Once accepted: assessments refused these architectures, estimates did not.
		{name: "gqa kv_heads not dividing the heads", route: "inference", field: "architecture.kv_heads",
			body: `{"architecture":{"total_params_billion":8,"layers":32,"attention":"gqa","attention_heads":32,"kv_heads":7,"head_dim":128},"gpu":"l4",` + inf + `}`},
		{name: "mha kv_heads differing from the heads", route: "training", field: "architecture.kv_heads",
			body: `{"architecture":{"total_params_billion":7,"layers":32,"attention":"mha","attention_heads":32,"kv_heads":8,"head_dim":128},"method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1}`},
		{name: "FP8 on A100", route: "training", body: `{"model":"llama-3.1-8b","method":"full","precision":"fp8","gpu":"a100-80gb","gpus":8,"tokens_billion":1}`, field: "precision"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := postEstimate(t, e, tc.route, tc.body)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
			p := decodeBody[Problem](t, resp)
			require.Equal(t, ProblemInvalidRequest, p.Type)
			require.NotEmpty(t, p.Errors)
			var fields []string
			for _, fe := range p.Errors {
				fields = append(fields, fe.Field)
				require.NotEmpty(t, fe.Reason)
			}
			require.Contains(t, fields, tc.field, "%+v", p.Errors)
		})
	}
}

func TestEstimatesNeedAToken(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	for _, route := range []string{"inference", "training"} {
		resp := e.do(t, http.MethodPost, "/v1/estimates/"+route, "", "application/json", strings.NewReader(`{}`), nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, route)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
		p := decodeBody[Problem](t, resp)
		require.Equal(t, ProblemUnauthorized, p.Type)
	}
	// A body in another format is refused before it is read.
	resp := e.do(t, http.MethodPost, "/v1/estimates/inference", "acme", "application/yaml", strings.NewReader("model: x"), nil)
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	_ = resp.Body.Close()
}

func TestOpenAPIListsTheEstimateRoutes(t *testing.T) {
	t.Parallel()
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	for _, p := range []string{"/v1/estimates/inference", "/v1/estimates/training"} {
		ops, ok := doc.Paths[p]
		require.True(t, ok, p)
		_, ok = ops["post"]
		require.True(t, ok, p)
	}
	for _, name := range []string{"InferenceEstimateRequest", "TrainingEstimateRequest", "InferenceEstimate", "TrainingEstimate"} {
		require.Contains(t, doc.Components.Schemas, name)
	}
	// The request schemas compile: the gateway validates with them.
	_, err := newEstimator(testCatalogue(t))
	require.NoError(t, err)
}
