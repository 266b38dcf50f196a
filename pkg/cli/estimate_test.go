package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startGateway runs a platform hosting the gateway on embedded servers and
// returns its URL and a token for tenant acme.
func startGateway(t *testing.T) (string, string) {
	t.Helper()
	g := startPlatform(t)
	tok, err := g.Ring.Signer(testIssuer, testAudience).Issue("user-acme", "acme", []string{"owner"}, time.Hour)
	require.NoError(t, err)
	return g.URL, tok
}

func TestEstimateAgainstARunningGateway(t *testing.T) {
	url, token := startGateway(t)
	ctx := context.Background()
	env := map[string]string{"IM_TOKEN": token, "IM_GATEWAY_URL": url}

	t.Run("inference summary", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, "estimate", "inference", "--model", "llama-3.1-70b", "--precision", "fp8",
			"--gpu", "h100-sxm", "--input-tokens", "1000", "--output-tokens", "200", "--concurrency", "8",
			"--itl-ms", "50", "--peak-rps", "5", "--headroom", "0.2")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		for _, want := range []string{
			"Llama 3.1 70B, fp8 weights", "feasible", "tensor parallel: 2 GPUs per replica",
			"inter-token latency", " ms", "tokens/s", "capacity at the SLO", "replicas for 5 requests/s with 20% headroom",
			"aws p5.48xlarge", "per million output tokens", "assumptions:", "catalogue 2026-",
		} {
			require.Contains(t, out, want)
		}
		require.NotContains(t, out, "NOT FEASIBLE")
	})

	t.Run("inference JSON with flags from the environment", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, "estimate", "inference", "--model", "llama-3.1-8b", "--precision", "bf16",
			"--instance", "gcp/g2-standard-4", "--input-tokens", "500", "--output-tokens", "100", "--json")
		require.Equal(t, 0, code, errOut)
		var ans struct {
			Feasible       bool `json:"feasible"`
			TensorParallel int  `json:"tensor_parallel"`
			Costs          []struct {
				Name string `json:"name"`
			} `json:"costs"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &ans), out)
		require.True(t, ans.Feasible)
		require.Equal(t, 1, ans.TensorParallel)
		require.Len(t, ans.Costs, 1)
		require.Equal(t, "g2-standard-4", ans.Costs[0].Name)
	})

	t.Run("an infeasible deployment is an answer", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, "estimate", "inference", "--model", "llama-3.1-405b", "--precision", "bf16",
			"--gpu", "l4", "--tp", "1", "--input-tokens", "1000", "--output-tokens", "200")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "NOT FEASIBLE")
		require.Contains(t, out, "do not fit")
	})

	t.Run("training summary", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, "estimate", "training", "--model", "llama-3.1-8b", "--method", "lora",
			"--instance", "aws/p5.48xlarge", "--dataset-tokens-billion", "0.5", "--epochs", "2", "--mfu", "0.3-0.4")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		for _, want := range []string{"lora training in bf16 on 8 x", "FLOPs", "GPU-hours", "at MFU 0.30-0.40", "hours (", "days)",
			"qlora", "on-demand cost of the run", "aws p5.48xlarge", "1 machines"} {
			require.Contains(t, out, want)
		}
	})

	t.Run("a request file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "req.json")
		require.NoError(t, os.WriteFile(f, []byte(`{"model":"mistral-7b","method":"full","precision":"bf16","gpu":"a100-80gb","gpus":8,"tokens_billion":2}`), 0o600))
		code, out, errOut := run(t, ctx, env, "estimate", "training", "-f", f)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "full training in bf16 on 8 x NVIDIA A100 SXM 80GB")
	})

	t.Run("a malformed request names the field", func(t *testing.T) {
		code, _, errOut := run(t, ctx, env, "estimate", "inference", "--model", "llama-3.1-8b", "--gpu", "h900",
			"--input-tokens", "10", "--output-tokens", "10")
		require.Equal(t, 1, code)
		require.Contains(t, errOut, "400")
		require.Contains(t, errOut, "gpu: ")
		require.Contains(t, errOut, "h900")
	})

	t.Run("a bad token is refused", func(t *testing.T) {
		code, _, errOut := run(t, ctx, map[string]string{"IM_GATEWAY_URL": url}, "estimate", "inference", "--token", "nope",
			"--model", "llama-3.1-8b", "--gpu", "l4", "--input-tokens", "10", "--output-tokens", "10")
		require.Equal(t, 1, code)
		require.Contains(t, errOut, "401")
	})
}

func TestEstimateCommandLineMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no kind", args: []string{"estimate"}, want: "inference or training"},
		{name: "unknown kind", args: []string{"estimate", "batch"}, want: `unknown estimate "batch"`},
		{name: "no token", args: []string{"estimate", "inference", "--model", "x"}, want: "no token"},
		{name: "bad instance", args: []string{"estimate", "inference", "--token", "t", "--instance", "p5"}, want: "provider/name"},
		{name: "bad MFU", args: []string{"estimate", "training", "--token", "t", "--mfu", "high"}, want: "low-high"},
		{name: "file and flags", args: []string{"estimate", "training", "--token", "t", "-f", "x.json", "--gpus", "2"}, want: "drop --gpus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := run(t, context.Background(), nil, tc.args...)
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, tc.want)
		})
	}
}
