package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// These tests drive the estimate routes' path (answerInference,
// answerTraining) on an echo context, without servers: every check they
// cover runs before any computation.

// estimateRefusal runs body through a route's path and returns the 400's
// field errors; it fails the test on an answer or any other error.
func estimateRefusal(t *testing.T, est *estimator, route, body string) []assessment.FieldError {
	t.Helper()
	c := estimateContext(echo.New(), route, []byte(body))
	var err error
	switch route {
	case "inference":
		_, err = est.answerInference(c)
	case "training":
		_, err = est.answerTraining(c)
	}
	require.Errorf(t, err, "%s %s: want a 400, got an answer", route, body)
	p := toProblem(err)
	require.Equalf(t, http.StatusBadRequest, p.Status, "%s %s: want a 400, got %v", route, body, err)
	return p.Errors
}

// estimateContext is a POST of body to an estimate route, as JSON.
func estimateContext(e *echo.Echo, route string, body []byte) echo.Context {
	req := httptest.NewRequest(http.MethodPost, "/v1/estimates/"+route, bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	return e.NewContext(req, httptest.NewRecorder())
}

// testEstimator is the routes' estimator on the embedded catalogue.
func testEstimator(tb testing.TB) *estimator {
	tb.Helper()
	cat := testCatalogue(tb)
	est, err := newEstimator(cat)
	require.NoError(tb, err)
	return est
}

// The same architecture mistake gets the same message on the estimate
// routes as in an assessment, field for field but for the path's prefix.
func TestEstimateArchitectureRulesAreTheAssessments(t *testing.T) {
	t.Parallel()
	est := testEstimator(t)
	tests := []struct {
		name, arch, field string
	}{
		{name: "gqa kv_heads not dividing attention_heads", field: "kv_heads",
			arch: `{"total_params_billion":8,"layers":32,"attention":"gqa","attention_heads":32,"kv_heads":7,"head_dim":128}`},
		{name: "gqa kv_heads above attention_heads", field: "kv_heads",
			arch: `{"total_params_billion":8,"layers":32,"attention":"gqa","attention_heads":8,"kv_heads":32,"head_dim":128}`},
		{name: "mha kv_heads differing from attention_heads", field: "kv_heads",
			arch: `{"total_params_billion":7,"layers":32,"attention":"mha","attention_heads":32,"kv_heads":8,"head_dim":128}`},
		{name: "active parameters above the total", field: "active_params_billion",
			arch: `{"total_params_billion":8,"active_params_billion":9,"layers":32,"attention":"gqa","kv_heads":8,"head_dim":128}`},
		{name: "a latent dimension without mla", field: "mla_latent_dim",
			arch: `{"total_params_billion":8,"layers":32,"attention":"gqa","kv_heads":8,"head_dim":128,"mla_latent_dim":512}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := assessment.ParseRequest([]byte(`{"name":"x","business":{"company_size":"startup","regions":["us"]},
				"workloads":[{"name":"w","kind":"llm_serving","peak_requests_per_second":5,"architecture":` + tc.arch + `}]}`))
			var ve *assessment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Errors, 1, "%+v", ve.Errors)
			want := ve.Errors[0]
			require.Equal(t, "workloads[0].architecture."+tc.field, want.Field)

			inference := estimateRefusal(t, est, "inference",
				`{"architecture":`+tc.arch+`,"precision":"bf16","gpu":"l4","input_tokens":100,"output_tokens":10}`)
			training := estimateRefusal(t, est, "training",
				`{"architecture":`+tc.arch+`,"method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1}`)
			same := assessment.FieldError{Field: "architecture." + tc.field, Reason: want.Reason}
			require.Equal(t, []assessment.FieldError{same}, inference)
			require.Equal(t, []assessment.FieldError{same}, training)
		})
	}
}

// Every number of an estimate request is bounded: below its floor, above its
// ceiling, or beyond what float64 holds, it is a 400 naming the field before
// anything is computed.
func TestEstimateNumbersAreBounded(t *testing.T) {
	t.Parallel()
	est := testEstimator(t)
	const inference = `{"model":"llama-3.1-8b","precision":"bf16","gpu":"l4","input_tokens":100,"output_tokens":10,%s}`
	const training = `{"model":"llama-3.1-8b","method":"lora","precision":"bf16","gpu":"h100-sxm","gpus":1,%s}`
	const arch = `{"architecture":{"total_params_billion":8,"layers":32,"attention":"gqa","kv_heads":8,"head_dim":128,%s},"precision":"bf16","gpu":"l4","input_tokens":100,"output_tokens":10}`
	tests := []struct {
		name, route, body, field, reason string
	}{
		{"MFU of 1e-300", "training", fmt.Sprintf(training, `"tokens_billion":1000000,"gpus":1024,"mfu":{"low":1e-300,"high":1e-300}`), "mfu.low", "must be at least 0.01 (got 1e-300)"},
		{"MFU of 0", "training", fmt.Sprintf(training, `"tokens_billion":1,"mfu":{"low":0,"high":0.4}`), "mfu.low", "must be greater than 0: at least 0.01 (got 0)"},
		{"MFU above 1", "training", fmt.Sprintf(training, `"tokens_billion":1,"mfu":{"low":0.3,"high":1.5}`), "mfu.high", "must be at most 1 (got 1.5)"},
		{"MFU low above high", "training", fmt.Sprintf(training, `"tokens_billion":1,"mfu":{"low":0.5,"high":0.4}`), "mfu.low", "must not exceed mfu.high (0.5 > 0.4)"},
		{"tokens below a thousand", "training", fmt.Sprintf(training, `"tokens_billion":1e-7`), "tokens_billion", "must be at least 0.000001 (got 1e-7)"},
		{"tokens beyond float64", "training", fmt.Sprintf(training, `"tokens_billion":1e400`), "tokens_billion", "is too large to compute with (got 1e400)"},
		{"dataset tokens too few", "training", fmt.Sprintf(training, `"dataset_tokens_billion":1e-300,"epochs":1`), "dataset_tokens_billion", "must be at least 0.000001 (got 1e-300)"},
		{"epochs too few", "training", fmt.Sprintf(training, `"dataset_tokens_billion":1,"epochs":0.001`), "epochs", "must be at least 0.01 (got 0.001)"},
		{"epochs too many", "training", fmt.Sprintf(training, `"dataset_tokens_billion":1,"epochs":20000`), "epochs", "must be at most 10000 (got 20000)"},
		{"LoRA rank of 0", "training", fmt.Sprintf(training, `"tokens_billion":1,"lora_rank":0`), "lora_rank", "must be greater than 0: at least 1 (got 0)"},
		{"GPUs beyond a million", "training", fmt.Sprintf(training, `"tokens_billion":1,"gpus":2000000`), "gpus", "must be at most 1000000 (got 2000000)"},
		{"input tokens beyond the ceiling", "inference", fmt.Sprintf(inference, `"concurrency":1,"input_tokens":20000000`), "input_tokens", "must be at most 10000000 (got 20000000)"},
		{"concurrency of 0", "inference", fmt.Sprintf(inference, `"concurrency":0`), "concurrency", "must be greater than 0: at least 1 (got 0)"},
		{"peak of 1e-300", "inference", fmt.Sprintf(inference, `"peak_requests_per_second":1e-300`), "peak_requests_per_second", "must be at least 0.000001 (got 1e-300)"},
		{"peak float64 reads as 0", "inference", fmt.Sprintf(inference, `"peak_requests_per_second":1e-400`), "peak_requests_per_second", "is too close to 0 to compute with (got 1e-400)"},
		{"peak with an exponent no parser takes", "inference", fmt.Sprintf(inference, `"peak_requests_per_second":1e9999999`), "peak_requests_per_second", "is too large to compute with (got 1e9999999)"},
		{"headroom above 10", "inference", fmt.Sprintf(inference, `"headroom":1e308`), "headroom", "must be at most 10 (got 1e308)"},
		{"negative headroom", "inference", fmt.Sprintf(inference, `"headroom":-0.1`), "headroom", "must be at least 0 (got -0.1)"},
		{"TTFT below a millisecond", "inference", fmt.Sprintf(inference, `"slo":{"ttft_p95_ms":0.5}`), "slo.ttft_p95_ms", "must be at least 1 (got 0.5)"},
		{"inter-token latency below 0.1 ms", "inference", fmt.Sprintf(inference, `"slo":{"inter_token_latency_ms":0.01}`), "slo.inter_token_latency_ms", "must be at least 0.1 (got 0.01)"},
		{"per-user speed of 0", "inference", fmt.Sprintf(inference, `"slo":{"min_tokens_per_second_per_user":0}`), "slo.min_tokens_per_second_per_user", "must be greater than 0: at least 0.01 (got 0)"},
		{"a thousand parameters", "inference", fmt.Sprintf(arch, `"total_params_billion":0.000001`), "architecture.total_params_billion", "must be at least 0.001 (got 0.000001)"},
		{"a head dimension of 0", "inference", fmt.Sprintf(arch, `"head_dim":0`), "architecture.head_dim", "must be greater than 0: at least 1 (got 0)"},
		{"a number of 101 characters", "inference", fmt.Sprintf(inference, `"headroom":0.`+strings.Repeat("1", 99)), "headroom", "is a number written with 101 characters; no figure needs more than 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fes := estimateRefusal(t, est, tc.route, tc.body)
			var reasons []string
			for _, fe := range fes {
				if fe.Field == tc.field {
					reasons = append(reasons, fe.Reason)
				}
			}
			require.NotEmptyf(t, reasons, "no error names %s: %+v", tc.field, fes)
			require.Contains(t, strings.Join(reasons, "\n"), tc.reason)
		})
	}
}

// CheckEstimateRequest, which the command line runs before sending, refuses
// what the routes refuse with the same messages, and passes what they take.
func TestCheckEstimateRequestIsTheRoutesCheck(t *testing.T) {
	t.Parallel()
	est := testEstimator(t)
	for _, tc := range []struct{ route, body string }{
		{"training", `{"model":"llama-3.1-8b","method":"full","precision":"bf16","gpu":"h100-sxm","gpus":1,"tokens_billion":1,"mfu":{"low":1e-300,"high":0.5}}`},
		{"inference", `{"architecture":{"total_params_billion":8,"layers":32,"attention":"gqa","attention_heads":32,"kv_heads":7,"head_dim":128},"precision":"bf16","gpu":"l4","input_tokens":100,"output_tokens":10,"concurrency":0}`},
		{"inference", `{"model":"llama-3.1-8b"`},
	} {
		got, err := CheckEstimateRequest(tc.route, []byte(tc.body))
		require.NoError(t, err)
		require.Equal(t, estimateRefusal(t, est, tc.route, tc.body), got, tc.body)
	}
	got, err := CheckEstimateRequest("inference", []byte(`{"model":"llama-3.1-8b","precision":"bf16","gpu":"l4","input_tokens":100,"output_tokens":10}`))
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = CheckEstimateRequest("batch", []byte(`{}`))
	require.ErrorContains(t, err, `no estimate "batch"`)
}
