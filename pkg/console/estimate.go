package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/report"
)

// Estimates answers the calculator: the body is the JSON of POST
// /v1/estimates/inference or /training, validated and sized exactly as
// those routes do, and the answer is theirs (the document's
// InferenceEstimate or TrainingEstimate); a refused body is the routes' 400
// problem (Explain gives its fields).
type Estimates interface {
	Inference(ctx context.Context, body []byte) (*api.InferenceEstimate, error)
	Training(ctx context.Context, body []byte) (*api.TrainingEstimate, error)
}

// estimateField is one input of the calculator: its name is the field's
// path in the request body, so the routes' field errors land beside it.
type estimateField struct {
	Name, Label, Hint string
	// Number fields become JSON numbers; Integer ones whole numbers.
	Number, Integer bool
}

var inferenceFields = []estimateField{
	{Name: "model", Label: "Model"},
	{Name: "precision", Label: "Weights precision"},
	{Name: "kv_cache_precision", Label: "KV cache precision"},
	{Name: "gpu", Label: "GPU"},
	{Name: "tensor_parallel", Label: "GPUs per replica (tensor parallel)", Number: true, Integer: true},
	{Name: "input_tokens", Label: "Mean prompt tokens", Number: true, Integer: true},
	{Name: "output_tokens", Label: "Mean completion tokens", Number: true, Integer: true},
	{Name: "concurrency", Label: "Requests in flight per replica", Hint: "1 unless a latency target is given", Number: true, Integer: true},
	{Name: "slo.ttft_p95_ms", Label: "Time to first token, p95 target (ms)", Number: true},
	{Name: "slo.inter_token_latency_ms", Label: "Inter-token latency target (ms)", Number: true},
	{Name: "peak_requests_per_second", Label: "Peak requests per second", Hint: "counts replicas and instances", Number: true},
	{Name: "headroom", Label: "Headroom above the peak (0.2 = 20%)", Number: true},
}

var trainingFields = []estimateField{
	{Name: "model", Label: "Model"},
	{Name: "method", Label: "Method"},
	{Name: "precision", Label: "Compute precision"},
	{Name: "gpu", Label: "GPU"},
	{Name: "gpus", Label: "GPUs", Number: true, Integer: true},
	{Name: "tokens_billion", Label: "Tokens to train on (billions)", Hint: "or dataset and epochs", Number: true},
	{Name: "dataset_tokens_billion", Label: "Dataset tokens (billions)", Number: true},
	{Name: "epochs", Label: "Epochs", Number: true},
	{Name: "lora_rank", Label: "Adapter rank (LoRA, QLoRA)", Hint: "8", Number: true, Integer: true},
}

// estimateDefaults fill the calculator on first visit: a common serving
// and fine-tuning question, for the visitor to change.
var estimateDefaults = map[string]map[string]string{
	"inference": {"model": "llama-3.1-8b", "precision": "bf16", "gpu": "h100-sxm", "input_tokens": "1000", "output_tokens": "300",
		"concurrency": "16"},
	"training": {"model": "llama-3.1-8b", "method": "lora", "precision": "bf16", "gpu": "h100-sxm", "gpus": "8", "tokens_billion": "1"},
}

// estimateView is the calculator page (and, for a script's request, its
// result fragment).
type estimateView struct {
	// Kind is "inference" or "training".
	Kind    string
	Values  map[string][]string
	Fields  map[string]string
	Choices choices
	// Errors are the refusal's reasons in order, for the summary.
	Errors    []fieldReason
	Inference *api.InferenceEstimate
	Training  *api.TrainingEstimate
	// Asked says the form was submitted (a result or errors follow).
	Asked bool
}

type fieldReason struct{ Field, Reason string }

func (v estimateView) FormValues() map[string][]string { return v.Values }
func (v estimateView) FormErrors() map[string]string   { return v.Fields }

// estimateKinds are the calculator's two forms.
var estimateKinds = map[string][]estimateField{"inference": inferenceFields, "training": trainingFields}

// estimatePage shows the calculator with its defaults. It computes nothing:
// the form posts (and the page's script posts on every change).
func (c *Console) estimatePage(ec echo.Context) error {
	kind := ec.QueryParam("kind")
	if kind == "" {
		kind = "inference"
	}
	if _, ok := estimateKinds[kind]; !ok {
		return &pageError{status: http.StatusBadRequest, title: "Invalid estimate", detail: "kind: must be inference or training"}
	}
	v := estimateView{Kind: kind, Values: map[string][]string{}, Fields: map[string]string{}, Choices: c.choices}
	for k, val := range estimateDefaults[kind] {
		v.Values[k] = []string{val}
	}
	return c.render(ec, http.StatusOK, "estimate", "Estimate", v)
}

func (c *Console) estimateInference(ec echo.Context) error { return c.runEstimate(ec, "inference") }
func (c *Console) estimateTraining(ec echo.Context) error  { return c.runEstimate(ec, "training") }

// runEstimate builds the request body from the form, asks the estimate
// routes' use case, and shows the answer (or the fields it refused) on the
// page, or as the result fragment when the page's script asked for it.
func (c *Console) runEstimate(ec echo.Context, kind string) error {
	form, err := ec.FormParams()
	if err != nil {
		return &pageError{status: http.StatusBadRequest, title: "Invalid form", detail: "The form could not be read."}
	}
	v := estimateView{Kind: kind, Values: map[string][]string{}, Fields: map[string]string{}, Choices: c.choices, Asked: true}
	body, fes := estimateBody(estimateKinds[kind], form, v.Values)
	status := http.StatusOK
	if len(fes) == 0 {
		ctx := ec.Request().Context()
		if kind == "inference" {
			v.Inference, err = c.d.Estimates.Inference(ctx, body)
		} else {
			v.Training, err = c.d.Estimates.Training(ctx, body)
		}
		if err != nil {
			x := c.d.Explain(err)
			if x.Status >= 500 || x.Status == http.StatusTooManyRequests {
				return err
			}
			status = x.Status
			for _, fe := range x.Fields {
				fes = append(fes, fieldReason{Field: fe.Field, Reason: fe.Reason})
			}
			if len(x.Fields) == 0 {
				fes = append(fes, fieldReason{Reason: x.Detail})
			}
		}
	}
	if len(fes) > 0 {
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
		v.Errors = fes
		for _, fe := range fes {
			if fe.Field != "" {
				v.Fields[fe.Field] = fe.Reason
			}
		}
	}
	if ec.Request().Header.Get(headerFragment) == "estimate-result" {
		return c.renderFragment(ec, status, "estimate", "result", v)
	}
	return c.render(ec, status, "estimate", "Estimate", v)
}

// headerFragment asks for a page's fragment instead of the whole page (the
// page's script sets it).
const headerFragment = "X-Console-Fragment"

// estimateBody turns the form into the routes' JSON body: each non-empty
// input at its path, numbers as numbers. An input that is not a number is
// named before anything is sent. values collects what was typed.
func estimateBody(fields []estimateField, form map[string][]string, values map[string][]string) ([]byte, []fieldReason) {
	body := map[string]any{}
	var fes []fieldReason
	for _, f := range fields {
		raw := strings.TrimSpace(first(form[f.Name]))
		if raw == "" {
			continue
		}
		values[f.Name] = []string{raw}
		var val any = raw
		if f.Number {
			n, err := strconv.ParseFloat(raw, 64)
			switch {
			case err != nil:
				fes = append(fes, fieldReason{Field: f.Name, Reason: "must be a number"})
				continue
			case f.Integer && n != float64(int64(n)):
				fes = append(fes, fieldReason{Field: f.Name, Reason: "must be a whole number"})
				continue
			case f.Integer:
				val = int64(n)
			default:
				val = n
			}
		}
		dst := body
		path := strings.Split(f.Name, ".")
		for _, p := range path[:len(path)-1] {
			sub, ok := dst[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[p] = sub
			}
			dst = sub
		}
		dst[path[len(path)-1]] = val
	}
	b, err := json.Marshal(body)
	if err != nil {
		fes = append(fes, fieldReason{Reason: "the form could not be encoded: " + err.Error()})
	}
	return b, fes
}

// renderFragment writes one named template of a page without the layout.
func (c *Console) renderFragment(ec echo.Context, status int, page, block string, data any) error {
	t, ok := c.pages.byName[page]
	if !ok {
		return fmt.Errorf("console: no page template %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, layoutView{Who: whoOf(claims(ec)), CSRF: c.csrfToken(ec), Page: data}); err != nil {
		return fmt.Errorf("console: render %s/%s: %w", page, block, err)
	}
	return ec.HTMLBlob(status, buf.Bytes())
}

// rangeText shows a range as the API gives it: "a" when both ends agree,
// else "a - b".
func rangeText(r api.EstimateRange) string {
	if shortNumber(r.Low) == shortNumber(r.High) {
		return shortNumber(r.Low)
	}
	return shortNumber(r.Low) + " - " + shortNumber(r.High)
}

// usdRange shows a range of dollars.
func usdRange(r *api.EstimateRange) string {
	if r == nil {
		return "—"
	}
	if r.Low == r.High {
		return report.Money(r.Low)
	}
	return report.Money(r.Low) + " - " + report.Money(r.High)
}

// shortNumber shows a figure with three significant digits, whole numbers
// from 100 up, and an exponent only beyond a million.
func shortNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
