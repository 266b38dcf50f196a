package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

	t.Run("an infeasible deployment is an answer, printed in full, and exits 1", func(t *testing.T) {
		args := []string{"estimate", "inference", "--model", "llama-3.1-405b", "--precision", "bf16",
			"--gpu", "l4", "--tp", "1", "--input-tokens", "1000", "--output-tokens", "200"}
		code, raw, errOut := run(t, ctx, env, append(args, "--json")...)
		require.Equal(t, 1, code, "a script must be able to tell an impossible plan from a feasible one: %s", errOut)
		var ans struct {
			Feasible bool   `json:"feasible"`
			Reason   string `json:"reason"`
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &ans), raw)
		require.False(t, ans.Feasible)
		require.Contains(t, ans.Reason, "do not fit")

		code, out, errOut := run(t, ctx, env, args...)
		require.Equal(t, 1, code, errOut)
		// The whole reason, to its last word, on stdout with the answer and
		// on stderr as the cause of the exit code.
		require.Contains(t, out, "NOT FEASIBLE: "+ans.Reason+"\n")
		require.Contains(t, errOut, "not feasible: "+ans.Reason+"\n")
	})

	t.Run("an SLO no hardware meets is not feasible, with the whole reason", func(t *testing.T) {
		code, out, errOut := run(t, ctx, env, "estimate", "inference", "--model", "llama-3.1-70b", "--precision", "fp8",
			"--gpu", "h100-sxm", "--input-tokens", "1000", "--output-tokens", "200", "--itl-ms", "1")
		require.Equal(t, 1, code, errOut)
		require.Contains(t, out, "NOT FEASIBLE: no tensor-parallel degree meets the targets")
		line := out[strings.Index(out, "NOT FEASIBLE: "):]
		line = line[:strings.IndexByte(line, '\n')]
		require.Contains(t, errOut, "not feasible: "+strings.TrimPrefix(line, "NOT FEASIBLE: ")+"\n")
	})

	t.Run("a training run that does not fit exits 1 with the whole reason", func(t *testing.T) {
		args := []string{"estimate", "training", "--model", "llama-3.1-70b", "--method", "full",
			"--gpu", "h100-sxm", "--gpus", "1", "--tokens-billion", "1"}
		code, raw, errOut := run(t, ctx, env, append(args, "--json")...)
		require.Equal(t, 1, code, errOut)
		var ans struct {
			Feasible bool   `json:"feasible"`
			Reason   string `json:"reason"`
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &ans), raw)
		require.False(t, ans.Feasible)
		require.NotEmpty(t, ans.Reason)

		code, out, errOut := run(t, ctx, env, args...)
		require.Equal(t, 1, code, errOut)
		require.Contains(t, out, "NOT FEASIBLE: "+ans.Reason+"\n")
		require.Contains(t, errOut, "not feasible: "+ans.Reason+"\n")
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
	// Complete requests but for the flag each case adds; nothing listens at
	// --url, so a case that got past the checks would fail to connect.
	base := []string{"--token", "t", "--url", "http://127.0.0.1:1", "--model", "llama-3.1-8b", "--gpu", "l4"}
	inference := append([]string{"estimate", "inference", "--input-tokens", "10", "--output-tokens", "10"}, base...)
	training := append([]string{"estimate", "training", "--method", "lora", "--gpus", "1"}, base...)
	inference, training = slices.Clip(inference), slices.Clip(training)
	kvMismatch := filepath.Join(t.TempDir(), "kv.json")
	require.NoError(t, os.WriteFile(kvMismatch, []byte(`{"architecture":{"total_params_billion":8,"layers":32,"attention":"gqa",
		"attention_heads":32,"kv_heads":7,"head_dim":128},"precision":"bf16","gpu":"l4","input_tokens":100,"output_tokens":10}`), 0o600))
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
		// 0 is a value the user gave, judged by the gateway's rules before
		// anything is sent, and the message names the flag.
		{name: "zero concurrency", args: append(inference, "--concurrency", "0"), want: "--concurrency: must be greater than 0: at least 1 (got 0)"},
		{name: "zero peak", args: append(inference, "--peak-rps", "0"), want: "--peak-rps: must be greater than 0: at least 0.000001 (got 0)"},
		{name: "zero TTFT", args: append(inference, "--ttft-ms", "0"), want: "--ttft-ms: must be greater than 0: at least 1 (got 0)"},
		{name: "zero TP", args: append(inference, "--tp", "0"), want: "--tp: must be one of 1, 2, 4, 8"},
		{name: "negative headroom", args: append(inference, "--headroom", "-0.5"), want: "--headroom: must be at least 0 (got -0.5)"},
		{name: "empty model", args: append(inference, "--model", ""), want: "--model: must not be empty"},
		{name: "zero GPUs", args: append(training, "--gpus", "0"), want: "--gpus: must be greater than 0: at least 1 (got 0)"},
		{name: "zero epochs", args: append(training, "--dataset-tokens-billion", "1", "--epochs", "0"), want: "--epochs: must be greater than 0: at least 0.01 (got 0)"},
		// Numbers JSON cannot carry are refused at parse time, naming the flag.
		{name: "NaN peak", args: append(inference, "--peak-rps", "NaN"), want: `invalid value "NaN" for flag -peak-rps: must be a finite number`},
		{name: "infinite peak", args: append(inference, "--peak-rps", "Inf"), want: `invalid value "Inf" for flag -peak-rps: must be a finite number`},
		{name: "minus infinite TTFT", args: append(inference, "--ttft-ms", "-Inf"), want: `invalid value "-Inf" for flag -ttft-ms: must be a finite number`},
		{name: "overflowing headroom", args: append(inference, "--headroom", "1e400"), want: `invalid value "1e400" for flag -headroom: is too large`},
		{name: "text for a number", args: append(inference, "--itl-ms", "fast"), want: `invalid value "fast" for flag -itl-ms: is not a number`},
		{name: "NaN MFU", args: append(training, "--mfu", "NaN-0.4"), want: "--mfu \"NaN-0.4\": low must be a finite number"},
		// The MFU that once answered 500: refused with the gateway's bound.
		{name: "MFU of 1e-300", args: append(training, "--mfu", "1e-300-0.5"), want: "--mfu: must be at least 0.01 (got 1e-300)"},
		{name: "MFU low above high", args: append(training, "--mfu", "0.5-0.4"), want: "--mfu: must not exceed mfu.high (0.5 > 0.4)"},
		{name: "file with mismatched heads", args: []string{"estimate", "inference", "--token", "t", "-f", kvMismatch},
			want: "architecture.kv_heads: must divide attention_heads evenly for attention gqa (32 query heads cannot form 7 equal groups)"},
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
