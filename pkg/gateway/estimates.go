package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/estimate"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// openAPIURL is the base the OpenAPI document is compiled under, so the
// estimate bodies are validated by the very schemas the document publishes.
const openAPIURL = "https://infra-mind.dev/openapi.json"

// estimator answers the stateless calculator routes: it validates a body
// against the request schemas compiled from the OpenAPI document, maps it to
// the engine's input and hands the answer back to be encoded.
type estimator struct {
	cat       *catalog.Catalog
	engine    *estimate.Engine
	inference *jsonschema.Schema
	training  *jsonschema.Schema
}

// newEstimator compiles the estimate request schemas from the embedded
// OpenAPI document. A nil catalogue gives an estimator that only checks
// bodies (CheckEstimateRequest).
func newEstimator(cat *catalog.Catalog) (*estimator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openAPIDocument))
	if err != nil {
		return nil, fmt.Errorf("gateway: decode the OpenAPI document: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(openAPIURL, doc); err != nil {
		return nil, fmt.Errorf("gateway: add the OpenAPI document: %w", err)
	}
	compile := func(name string) (*jsonschema.Schema, error) {
		sch, err := c.Compile(openAPIURL + "#/components/schemas/" + name)
		if err != nil {
			return nil, fmt.Errorf("gateway: compile schema %s: %w", name, err)
		}
		return sch, nil
	}
	e := &estimator{cat: cat}
	if cat != nil {
		if e.engine, err = estimate.New(cat); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	if e.inference, err = compile("InferenceEstimateRequest"); err != nil {
		return nil, err
	}
	if e.training, err = compile("TrainingEstimateRequest"); err != nil {
		return nil, err
	}
	return e, nil
}

// instanceRef names a catalogue instance.
type instanceRef struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
}

// architectureBody is the request schema's ModelArchitecture block.
type architectureBody struct {
	Name                string  `json:"name,omitempty"`
	TotalParamsBillion  float64 `json:"total_params_billion"`
	ActiveParamsBillion float64 `json:"active_params_billion,omitempty"`
	Layers              int     `json:"layers"`
	AttentionHeads      int     `json:"attention_heads,omitempty"`
	KVHeads             int     `json:"kv_heads,omitempty"`
	HeadDim             int     `json:"head_dim,omitempty"`
	Attention           string  `json:"attention"`
	MLALatentDim        int     `json:"mla_latent_dim,omitempty"`
	HiddenSize          int     `json:"hidden_size,omitempty"`
}

// sloBody is the latency target of an inference estimate.
type sloBody struct {
	TTFTp95ms                 float64 `json:"ttft_p95_ms,omitempty"`
	InterTokenLatencyMs       float64 `json:"inter_token_latency_ms,omitempty"`
	MinTokensPerSecondPerUser float64 `json:"min_tokens_per_second_per_user,omitempty"`
}

// inferenceRequest is the body of POST /v1/estimates/inference
// (components.schemas.InferenceEstimateRequest).
type inferenceRequest struct {
	Model                 string            `json:"model,omitempty"`
	Architecture          *architectureBody `json:"architecture,omitempty"`
	Precision             string            `json:"precision"`
	KVCachePrecision      string            `json:"kv_cache_precision,omitempty"`
	GPU                   string            `json:"gpu,omitempty"`
	Instance              *instanceRef      `json:"instance,omitempty"`
	TensorParallel        int               `json:"tensor_parallel,omitempty"`
	InputTokens           int               `json:"input_tokens"`
	OutputTokens          int               `json:"output_tokens"`
	Concurrency           int               `json:"concurrency,omitempty"`
	SLO                   *sloBody          `json:"slo,omitempty"`
	PeakRequestsPerSecond float64           `json:"peak_requests_per_second,omitempty"`
	Headroom              float64           `json:"headroom,omitempty"`
}

// trainingRequest is the body of POST /v1/estimates/training
// (components.schemas.TrainingEstimateRequest).
type trainingRequest struct {
	Model                string            `json:"model,omitempty"`
	Architecture         *architectureBody `json:"architecture,omitempty"`
	TokensBillion        float64           `json:"tokens_billion,omitempty"`
	DatasetTokensBillion float64           `json:"dataset_tokens_billion,omitempty"`
	Epochs               float64           `json:"epochs,omitempty"`
	Method               string            `json:"method"`
	Precision            string            `json:"precision"`
	GPU                  string            `json:"gpu,omitempty"`
	Instance             *instanceRef      `json:"instance,omitempty"`
	GPUs                 int               `json:"gpus,omitempty"`
	MFU                  *sizing.Range     `json:"mfu,omitempty"`
	LoRARank             int               `json:"lora_rank,omitempty"`
}

// input maps the block onto the engine's architecture.
func (b *architectureBody) input() *estimate.Architecture {
	if b == nil {
		return nil
	}
	return &estimate.Architecture{
		Name: b.Name, TotalParamsBillion: b.TotalParamsBillion, ActiveParamsBillion: b.ActiveParamsBillion,
		Layers: b.Layers, AttentionHeads: b.AttentionHeads, KVHeads: b.KVHeads, HeadDim: b.HeadDim,
		Attention: b.Attention, MLALatentDim: b.MLALatentDim, HiddenSize: b.HiddenSize,
	}
}

// input maps the reference onto the engine's.
func (r *instanceRef) input() *estimate.InstanceRef {
	if r == nil {
		return nil
	}
	return &estimate.InstanceRef{Provider: r.Provider, Name: r.Name}
}

// input maps the body onto the engine's input.
func (r inferenceRequest) input() estimate.InferenceInput {
	in := estimate.InferenceInput{
		Model: r.Model, Architecture: r.Architecture.input(), Precision: r.Precision, KVCachePrecision: r.KVCachePrecision,
		GPU: r.GPU, Instance: r.Instance.input(), TensorParallel: r.TensorParallel, InputTokens: r.InputTokens,
		OutputTokens: r.OutputTokens, Concurrency: r.Concurrency, PeakRequestsPerSecond: r.PeakRequestsPerSecond, Headroom: r.Headroom,
	}
	if r.SLO != nil {
		in.SLO = &estimate.SLO{TTFTp95ms: r.SLO.TTFTp95ms, InterTokenLatencyMs: r.SLO.InterTokenLatencyMs,
			MinTokensPerSecondPerUser: r.SLO.MinTokensPerSecondPerUser}
	}
	return in
}

// input maps the body onto the engine's input.
func (r trainingRequest) input() estimate.TrainingInput {
	return estimate.TrainingInput{
		Model: r.Model, Architecture: r.Architecture.input(), TokensBillion: r.TokensBillion,
		DatasetTokensBillion: r.DatasetTokensBillion, Epochs: r.Epochs, Method: r.Method, Precision: r.Precision,
		GPU: r.GPU, Instance: r.Instance.input(), GPUs: r.GPUs, MFU: r.MFU, LoRARank: r.LoRARank,
	}
}

// fieldErrors checks what the schema cannot express, before any computation:
// the engine's own rules between fields.
func (r inferenceRequest) fieldErrors() []assessment.FieldError { return r.input().Check() }

// fieldErrors checks what the schema cannot express, before any computation.
func (r trainingRequest) fieldErrors() []assessment.FieldError { return r.input().Check() }

// estimateInference handles POST /v1/estimates/inference. It stores nothing.
func (s *Server) estimateInference(c echo.Context) error {
	out, err := s.est.answerInference(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// estimateTraining handles POST /v1/estimates/training. It stores nothing.
func (s *Server) estimateTraining(c echo.Context) error {
	out, err := s.est.answerTraining(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// answerInference reads, validates and sizes an inference estimate request:
// the route's whole path but writing the answer, so the fuzz tests drive
// exactly what a client does.
func (e *estimator) answerInference(c echo.Context) (*estimate.Inference, error) {
	var req inferenceRequest
	if err := readEstimateBody(c, e.inference, &req); err != nil {
		return nil, err
	}
	return e.engine.Inference(req.input())
}

// answerTraining reads, validates and sizes a training estimate request.
func (e *estimator) answerTraining(c echo.Context) (*estimate.Training, error) {
	var req trainingRequest
	if err := readEstimateBody(c, e.training, &req); err != nil {
		return nil, err
	}
	return e.engine.Training(req.input())
}

// CheckEstimateRequest validates an estimate request body as POST
// /v1/estimates/inference or /training (kind "inference" or "training")
// does before computing anything: its numbers, the OpenAPI schema and the
// rules between fields. It needs no catalogue, so a model or GPU id is checked
// for its form only. The command line uses it to refuse a mistake with the
// server's own rule and message before sending. The error is for an unknown
// kind or a broken embedded document, never for the body.
func CheckEstimateRequest(kind string, body []byte) ([]assessment.FieldError, error) {
	e, err := newEstimator(nil)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "inference":
		err = decodeEstimate(body, e.inference, &inferenceRequest{})
	case "training":
		err = decodeEstimate(body, e.training, &trainingRequest{})
	default:
		return nil, fmt.Errorf("gateway: no estimate %q (want inference or training)", kind)
	}
	var p *Problem
	if errors.As(err, &p) {
		return p.Errors, nil
	}
	return nil, err
}

// invalidEstimate is the 400 problem for a body that breaks the schema or a
// rule between fields; every entry names its field.
func invalidEstimate(fes []assessment.FieldError) *Problem {
	p := problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid estimate request",
		"The request does not match the estimate request format; see errors for each field.")
	p.Errors = fes
	return p
}

// estimateBody is a decoded estimate request that checks its own rules
// between fields.
type estimateBody interface {
	fieldErrors() []assessment.FieldError
}

// readEstimateBody checks the content type, reads the body and decodes and
// validates it into out (decodeEstimate).
func readEstimateBody(c echo.Context, sch *jsonschema.Schema, out estimateBody) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json: estimate requests are JSON.")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
	}
	return decodeEstimate(body, sch, out)
}

// decodeEstimate validates a JSON body against sch, decodes it into out and
// checks out's rules between fields, all before any computation; every
// mistake is a 400 problem naming its field.
func decodeEstimate(body []byte, sch *jsonschema.Schema, out estimateBody) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidEstimate([]assessment.FieldError{{Reason: "the request body is empty; send a JSON object"}})
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return invalidEstimate([]assessment.FieldError{{Reason: "not valid JSON: " + err.Error()}})
	}
	// Numbers float64 cannot hold are refused before the schema, whose
	// validator cannot even parse an exponent such as 1e9999999.
	if fes := assessment.NumberErrors(instance); len(fes) > 0 {
		return invalidEstimate(fes)
	}
	if err := sch.Validate(instance); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Errorf("validate estimate request: %w", err)
		}
		return invalidEstimate(estimateFieldErrors(ve))
	}
	if err := json.Unmarshal(body, out); err != nil {
		// The schema admitted it, so this is a number Go cannot hold (1e3 for
		// an integer field): name the field.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalidEstimate([]assessment.FieldError{{Field: te.Field, Reason: "must be a whole number written without a fraction or exponent"}})
		}
		return invalidEstimate([]assessment.FieldError{{Reason: "does not match the estimate request format: " + err.Error()}})
	}
	if fes := out.fieldErrors(); len(fes) > 0 {
		return invalidEstimate(fes)
	}
	return nil
}

// estimateFieldErrors flattens the validator's error tree into one entry per
// failed leaf keyword, sorted by field.
func estimateFieldErrors(root *jsonschema.ValidationError) []assessment.FieldError {
	var out []assessment.FieldError
	at := func(loc []string, more ...string) string { return fieldName(append(slices.Clone(loc), more...)) }
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			reason := "is required"
			if strings.Contains(e.SchemaURL, "/then") {
				reason = "is required for this attention kind"
			}
			for _, m := range k.Missing {
				out = append(out, assessment.FieldError{Field: at(e.InstanceLocation, m), Reason: reason})
			}
			return
		case *kind.DependentRequired:
			for _, m := range k.Missing {
				out = append(out, assessment.FieldError{Field: at(e.InstanceLocation, m), Reason: "is required when " + k.Prop + " is given"})
			}
			return
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, assessment.FieldError{Field: at(e.InstanceLocation, p), Reason: "is not a known field"})
			}
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, assessment.FieldError{Field: at(e.InstanceLocation), Reason: keywordReason(e.ErrorKind)})
	}
	walk(root)
	slices.SortStableFunc(out, func(a, b assessment.FieldError) int {
		return strings.Compare(a.Field+"\x00"+a.Reason, b.Field+"\x00"+b.Reason)
	})
	return slices.Compact(out)
}

// fieldName renders an instance location as "slo.ttft_p95_ms". Estimate
// bodies hold no lists, so every token is an object key.
func fieldName(loc []string) string { return strings.Join(loc, ".") }

// keywordReason says what one failed keyword means, in plain words.
func keywordReason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := strings.Join(k.Want, " or ")
		if want == "integer" && k.Got == "number" {
			return "must be a whole number"
		}
		return fmt.Sprintf("must be %s, not %s", article(want), article(k.Got))
	case *kind.Enum:
		want := make([]string, 0, len(k.Want))
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		return fmt.Sprintf("must be one of %s (got %v)", strings.Join(want, ", "), k.Got)
	case *kind.Minimum:
		return assessment.MinimumReason(k.Want, k.Got)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + assessment.RatString(k.Want) + " (got " + assessment.RatString(k.Got) + ")"
	case *kind.Maximum:
		return "must be at most " + assessment.RatString(k.Want) + " (got " + assessment.RatString(k.Got) + ")"
	case *kind.MinLength:
		return "must not be empty"
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long (got %d)", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("%q is not a catalogue id: use lowercase letters, digits, '.', '_' and '-', like h100-sxm", k.Got)
	default:
		return k.LocalizedString(message.NewPrinter(language.English))
	}
}

// article names a JSON type for a person: "a number", "an object".
func article(t string) string {
	switch t {
	case "object", "integer", "array":
		return "an " + t
	case "null":
		return "null"
	default:
		return "a " + t
	}
}
