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
	"github.com/infra-mind/infra-mind/pkg/api"
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

// The estimate bodies are the document's InferenceEstimateRequest and
// TrainingEstimateRequest (pkg/api); the engine takes its own inputs.

// architectureInput maps the request's ModelArchitecture onto the engine's.
func architectureInput(b *api.ModelArchitecture) *estimate.Architecture {
	if b == nil {
		return nil
	}
	return &estimate.Architecture{
		Name: val(b.Name), TotalParamsBillion: b.TotalParamsBillion, ActiveParamsBillion: val(b.ActiveParamsBillion),
		Layers: b.Layers, AttentionHeads: val(b.AttentionHeads), KVHeads: val(b.KVHeads), HeadDim: val(b.HeadDim),
		Attention: string(b.Attention), MLALatentDim: val(b.MlaLatentDim), HiddenSize: val(b.HiddenSize),
	}
}

// instanceInput maps the reference onto the engine's.
func instanceInput(r *api.InstanceRef) *estimate.InstanceRef {
	if r == nil {
		return nil
	}
	return &estimate.InstanceRef{Provider: string(r.Provider), Name: r.Name}
}

// inferenceInput maps the body onto the engine's input.
func inferenceInput(r api.InferenceEstimateRequest) estimate.InferenceInput {
	in := estimate.InferenceInput{
		Model: val(r.Model), Architecture: architectureInput(r.Architecture), Precision: string(r.Precision),
		KVCachePrecision: string(val(r.KVCachePrecision)), GPU: val(r.GPU), Instance: instanceInput(r.Instance),
		TensorParallel: int(val(r.TensorParallel)), InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		Concurrency: val(r.Concurrency), PeakRequestsPerSecond: val(r.PeakRequestsPerSecond), Headroom: val(r.Headroom),
	}
	if r.SLO != nil {
		in.SLO = &estimate.SLO{TTFTp95ms: val(r.SLO.TTFTP95Ms), InterTokenLatencyMs: val(r.SLO.InterTokenLatencyMs),
			MinTokensPerSecondPerUser: val(r.SLO.MinTokensPerSecondPerUser)}
	}
	return in
}

// trainingInput maps the body onto the engine's input.
func trainingInput(r api.TrainingEstimateRequest) estimate.TrainingInput {
	in := estimate.TrainingInput{
		Model: val(r.Model), Architecture: architectureInput(r.Architecture), TokensBillion: val(r.TokensBillion),
		DatasetTokensBillion: val(r.DatasetTokensBillion), Epochs: val(r.Epochs), Method: string(r.Method),
		Precision: string(r.Precision), GPU: val(r.GPU), Instance: instanceInput(r.Instance), GPUs: val(r.Gpus),
		LoRARank: val(r.LoraRank),
	}
	if r.MFU != nil {
		in.MFU = &sizing.Range{Low: r.MFU.Low, High: r.MFU.High}
	}
	return in
}

// inferenceErrors checks what the schema cannot express, before any
// computation: the engine's own rules between fields.
func inferenceErrors(r api.InferenceEstimateRequest) []assessment.FieldError {
	return inferenceInput(r).Check()
}

// trainingErrors checks what the schema cannot express, before any computation.
func trainingErrors(r api.TrainingEstimateRequest) []assessment.FieldError {
	return trainingInput(r).Check()
}

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
func (e *estimator) answerInference(c echo.Context) (*api.InferenceEstimate, error) {
	req, err := readEstimateBody(c, e.inference, inferenceErrors)
	if err != nil {
		return nil, err
	}
	return e.inferenceOf(req)
}

// answerTraining reads, validates and sizes a training estimate request.
func (e *estimator) answerTraining(c echo.Context) (*api.TrainingEstimate, error) {
	req, err := readEstimateBody(c, e.training, trainingErrors)
	if err != nil {
		return nil, err
	}
	return e.trainingOf(req)
}

// inferenceOf sizes a validated inference request and answers it as the
// document's InferenceEstimate.
func (e *estimator) inferenceOf(req api.InferenceEstimateRequest) (*api.InferenceEstimate, error) {
	ans, err := e.engine.Inference(inferenceInput(req))
	if err != nil {
		return nil, err
	}
	return inferenceView(ans), nil
}

// trainingOf sizes a validated training request and answers it as the
// document's TrainingEstimate.
func (e *estimator) trainingOf(req api.TrainingEstimateRequest) (*api.TrainingEstimate, error) {
	ans, err := e.engine.Training(trainingInput(req))
	if err != nil {
		return nil, err
	}
	return trainingView(ans), nil
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
		_, err = decodeEstimate(body, e.inference, inferenceErrors)
	case "training":
		_, err = decodeEstimate(body, e.training, trainingErrors)
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

// readEstimateBody checks the content type, reads the body and decodes and
// validates it (decodeEstimate).
func readEstimateBody[T any](c echo.Context, sch *jsonschema.Schema, check func(T) []assessment.FieldError) (T, error) {
	var zero T
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return zero, problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json: estimate requests are JSON.")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return zero, mbe
		}
		return zero, problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
	}
	return decodeEstimate(body, sch, check)
}

// decodeEstimate validates a JSON body against sch, decodes it and checks
// its rules between fields with check, all before any computation; every
// mistake is a 400 problem naming its field.
func decodeEstimate[T any](body []byte, sch *jsonschema.Schema, check func(T) []assessment.FieldError) (T, error) {
	var out T
	if len(bytes.TrimSpace(body)) == 0 {
		return out, invalidEstimate([]assessment.FieldError{{Reason: "the request body is empty; send a JSON object"}})
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return out, invalidEstimate([]assessment.FieldError{{Reason: "not valid JSON: " + err.Error()}})
	}
	// Numbers float64 cannot hold are refused before the schema, whose
	// validator cannot even parse an exponent such as 1e9999999.
	if fes := assessment.NumberErrors(instance); len(fes) > 0 {
		return out, invalidEstimate(fes)
	}
	if err := sch.Validate(instance); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return out, fmt.Errorf("validate estimate request: %w", err)
		}
		return out, invalidEstimate(estimateFieldErrors(ve))
	}
	if err := json.Unmarshal(body, &out); err != nil {
		// The schema admitted it, so this is a number Go cannot hold (1e3 for
		// an integer field): name the field.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return out, invalidEstimate([]assessment.FieldError{{Field: te.Field, Reason: "must be a whole number written without a fraction or exponent"}})
		}
		return out, invalidEstimate([]assessment.FieldError{{Reason: "does not match the estimate request format: " + err.Error()}})
	}
	if fes := check(out); len(fes) > 0 {
		return out, invalidEstimate(fes)
	}
	return out, nil
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
