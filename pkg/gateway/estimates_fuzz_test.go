package gateway

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// The estimate fuzz targets feed a body through the routes' own path
// (readEstimateBody, the rules between fields, the estimator) on an echo
// context, with no server, and hold the routes' promise for it
// (checkEstimateOutcome). FuzzInferenceEstimate and FuzzTrainingEstimate
// mutate bytes; their seed corpus, with the inputs that once answered 500 (an
// MFU of 1e-300) or were wrongly accepted (kv_heads that do not divide
// attention_heads), is testdata/fuzz/<target>/. FuzzInferenceFigures and
// FuzzTrainingFigures mutate the numbers of a well-formed body. `go test`
// runs the seeds; `make fuzz` explores from them.

func FuzzInferenceEstimate(f *testing.F) {
	est := testEstimator(f)
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := est.answerInference(estimateContext(e, "inference", body))
		checkEstimateOutcome(t, body, ans, err)
	})
}

func FuzzTrainingEstimate(f *testing.F) {
	est := testEstimator(f)
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := est.answerTraining(estimateContext(e, "training", body))
		checkEstimateOutcome(t, body, ans, err)
	})
}

// FuzzInferenceFigures explores the numbers of an inference request rather
// than its bytes: each figure is the fuzzer's (0 leaves it out), on a
// catalogue model or a custom architecture, and a catalogue GPU. Byte
// mutations rarely keep a body valid; this reaches the calculators.
func FuzzInferenceFigures(f *testing.F) {
	est := testEstimator(f)
	e := echo.New()
	models, gpus := est.cat.ModelIDs(), gpuIDs(est.cat)
	precisions := []string{"bf16", "fp16", "fp8", "int8", "int4"}
	f.Add(uint8(1), uint8(0), uint8(2), false, 0, 1000, 200, 1, 10.0, 0.2, 0.0, 0.0, 0.0, 8.0, 32, 32, 8, 128)
	f.Add(uint8(0), uint8(7), uint8(0), true, 1, 2000, 200, 4, 0.0, 0.0, 500.0, 40.0, 20.0, 8.0, 32, 32, 8, 128)
	f.Add(uint8(0), uint8(0), uint8(4), true, 8, 10000000, 10000000, 100000, 1e7, 10.0, 600000.0, 60000.0, 100000.0, 100000.0, 10000, 100000, 100000, 100000)
	f.Add(uint8(0), uint8(9), uint8(0), true, 1, 1, 1, 1, 0.000001, 0.0, 1.0, 0.1, 0.01, 0.001, 1, 1, 1, 1)
	f.Add(uint8(2), uint8(3), uint8(0), false, 0, 1, 1, 0, 1e-300, 1e308, 1e-300, 1e-300, 1e-300, 0.0, 0, 0, 0, 0)
	f.Add(uint8(0), uint8(0), uint8(0), true, 0, 100, 10, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 8.0, 32, 32, 7, 128)
	f.Fuzz(func(t *testing.T, model, gpu, precision uint8, custom bool, tp, in, out, concurrency int,
		peak, headroom, ttft, itl, tps, params float64, layers, heads, kvHeads, headDim int) {
		body := map[string]any{"precision": precisions[int(precision)%len(precisions)], "gpu": gpus[int(gpu)%len(gpus)],
			"input_tokens": in, "output_tokens": out}
		if custom {
			body["architecture"] = figures{"total_params_billion": params, "layers": layers, "attention": "gqa",
				"attention_heads": heads, "kv_heads": kvHeads, "head_dim": headDim}.set()
		} else {
			body["model"] = models[int(model)%len(models)]
		}
		for k, v := range (figures{"tensor_parallel": tp, "concurrency": concurrency, "peak_requests_per_second": peak, "headroom": headroom,
			"slo": figures{"ttft_p95_ms": ttft, "inter_token_latency_ms": itl, "min_tokens_per_second_per_user": tps}.set()}).set() {
			body[k] = v
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return // NaN or an infinity: JSON cannot carry it, so no client can send it
		}
		ans, err := est.answerInference(estimateContext(e, "inference", raw))
		checkEstimateOutcome(t, raw, ans, err)
	})
}

// FuzzTrainingFigures explores the numbers of a training request, as
// FuzzInferenceFigures does for inference; its seeds hold the MFU of 1e-300
// that once answered 500.
func FuzzTrainingFigures(f *testing.F) {
	est := testEstimator(f)
	e := echo.New()
	models, gpus := est.cat.ModelIDs(), gpuIDs(est.cat)
	methods, precisions := []string{"full", "lora", "qlora"}, []string{"bf16", "fp16", "fp8"}
	f.Add(uint8(1), uint8(0), uint8(0), uint8(0), false, 8, 1.0, 0.0, 0.0, 0.3, 0.4, 0, 8.0, 0.0, 32, 8, 128, 4096)
	f.Add(uint8(0), uint8(0), uint8(0), uint8(0), true, 1024, 1000000.0, 0.0, 0.0, 1e-300, 1e-300, 0, 405.0, 0.0, 126, 8, 128, 16384)
	f.Add(uint8(0), uint8(0), uint8(2), uint8(2), true, 1000000, 0.0, 1000000.0, 10000.0, 1.0, 1.0, 4096, 100000.0, 100000.0, 10000, 100000, 100000, 1000000)
	f.Add(uint8(0), uint8(9), uint8(1), uint8(1), true, 1, 0.0, 0.000001, 0.01, 0.01, 0.01, 1, 0.001, 0.0, 1, 1, 1, 1)
	f.Add(uint8(0), uint8(0), uint8(1), uint8(0), false, 1, 0.0, 1e-300, 1e-300, 0.0, 0.0, 0, 0.0, 0.0, 0, 0, 0, 0)
	f.Fuzz(func(t *testing.T, model, gpu, method, precision uint8, custom bool, gpuCount int, tokens, dataset, epochs,
		mfuLow, mfuHigh float64, loraRank int, params, active float64, layers, kvHeads, headDim, hidden int) {
		body := figures{"method": methods[int(method)%len(methods)], "precision": precisions[int(precision)%len(precisions)],
			"gpu": gpus[int(gpu)%len(gpus)], "gpus": gpuCount, "tokens_billion": tokens, "dataset_tokens_billion": dataset,
			"epochs": epochs, "lora_rank": loraRank}.set()
		if mfuLow != 0 || mfuHigh != 0 {
			body["mfu"] = map[string]float64{"low": mfuLow, "high": mfuHigh}
		}
		if custom {
			body["architecture"] = figures{"total_params_billion": params, "active_params_billion": active, "layers": layers,
				"attention": "gqa", "kv_heads": kvHeads, "head_dim": headDim, "hidden_size": hidden}.set()
		} else {
			body["model"] = models[int(model)%len(models)]
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return // NaN or an infinity: JSON cannot carry it, so no client can send it
		}
		ans, err := est.answerTraining(estimateContext(e, "training", raw))
		checkEstimateOutcome(t, raw, ans, err)
	})
}

// figures is part of a request body; set drops the zero numbers and empty
// objects, which a client leaves out.
type figures map[string]any

func (m figures) set() map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch v := v.(type) {
		case int:
			if v == 0 {
				continue
			}
		case float64:
			if v == 0 {
				continue
			}
		case map[string]any:
			if len(v) == 0 {
				continue
			}
		}
		out[k] = v
	}
	return out
}

func gpuIDs(cat *catalog.Catalog) []string {
	ids := make([]string, 0, len(cat.GPUs))
	for _, g := range cat.GPUs {
		ids = append(ids, g.ID)
	}
	return ids
}

// nonFinite finds NaN or an infinity printed into a text (a formula, a
// reason) by the %g family of verbs.
var nonFinite = regexp.MustCompile(`(^|[^A-Za-z])[+-]?(NaN|Inf)([^A-Za-z]|$)`)

// checkEstimateOutcome holds the estimate routes' promise for any body: a
// 4xx problem naming what is wrong, or an answer that encodes as JSON with
// finite numbers only, in its figures and in its texts.
func checkEstimateOutcome[A any](t *testing.T, body []byte, ans *A, err error) {
	t.Helper()
	if err != nil {
		p := toProblem(err)
		require.Lessf(t, p.Status, 500, "a body got %T %v, which the gateway answers with %d", err, err, p.Status)
		require.GreaterOrEqual(t, p.Status, 400, "%v", p)
		require.Less(t, p.Status, 500, "%v", p)
		require.NotEmpty(t, p.Errors, "a 400 lists its errors")
		for _, fe := range p.Errors {
			require.NotEmpty(t, fe.Reason, "%+v", p.Errors)
		}
		return
	}
	require.NotNil(t, ans)
	out, err := json.Marshal(ans)
	require.NoError(t, err, "the answer must encode (no NaN or infinity in a figure)")
	// The architecture's display name is the user's text, copied into the
	// answer; any NaN or Inf in it is theirs, not a computation's.
	text := string(out)
	var in struct {
		Architecture struct {
			Name string `json:"name"`
		} `json:"architecture"`
	}
	if json.Unmarshal(body, &in) == nil && in.Architecture.Name != "" {
		name, _ := json.Marshal(in.Architecture.Name)
		text = strings.ReplaceAll(text, strings.Trim(string(name), `"`), "")
	}
	require.Falsef(t, nonFinite.MatchString(text), "the answer prints NaN or Inf: %s", nonFinite.FindString(text))
	var v any
	require.NoError(t, json.Unmarshal(out, &v))
	walkNumbers(t, "", v)
}

// walkNumbers checks every number of a decoded answer is finite and not
// negative: every figure an estimate gives is a size, a time, a rate or a
// price.
func walkNumbers(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walkNumbers(t, path+"."+k, e)
		}
	case []any:
		for _, e := range v {
			walkNumbers(t, path+"[]", e)
		}
	case float64:
		require.Falsef(t, math.IsNaN(v) || math.IsInf(v, 0), "%s = %v", path, v)
		require.GreaterOrEqualf(t, v, 0.0, "%s = %v is negative", path, v)
	}
}
