// Package estimate sizes one serving deployment or one training run from a
// loaded catalogue: memory, latency and throughput, replicas for a peak,
// tensor-parallel layouts and on-demand costs, each with its working and the
// catalogue rows it used. It is the engine behind the estimate routes and
// takes its own inputs, not an HTTP body; it does no I/O.
package estimate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Engine answers estimates from one loaded catalogue.
type Engine struct {
	cat *catalog.Catalog
}

// New returns an engine over cat.
func New(cat *catalog.Catalog) (*Engine, error) {
	if cat == nil {
		return nil, errors.New("estimate: a catalogue is required")
	}
	return &Engine{cat: cat}, nil
}

// InvalidInputError is input the engine refuses before computing. Each entry
// names its field as the estimate request format spells it
// ("architecture.layers", "tensor_parallel").
type InvalidInputError struct {
	Errors []assessment.FieldError
}

func (e *InvalidInputError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, fe := range e.Errors {
		parts = append(parts, fe.Field+": "+fe.Reason)
	}
	return "estimate: invalid input: " + strings.Join(parts, "; ")
}

func invalid(fes []assessment.FieldError) *InvalidInputError {
	return &InvalidInputError{Errors: fes}
}

// InstanceRef names a catalogue instance.
type InstanceRef struct {
	Provider string
	Name     string
}

// Architecture describes a model that is not in the catalogue.
type Architecture struct {
	Name                string
	TotalParamsBillion  float64
	ActiveParamsBillion float64
	Layers              int
	AttentionHeads      int
	KVHeads             int
	HeadDim             int
	Attention           string
	MLALatentDim        int
	HiddenSize          int
}

// SLO is the latency target of a serving estimate; a zero field sets no target.
type SLO struct {
	TTFTp95ms                 float64
	InterTokenLatencyMs       float64
	MinTokensPerSecondPerUser float64
}

// InferenceInput is what a serving estimate sizes: a catalogue model or an
// architecture, a GPU or an instance, the sequence lengths and, optionally, a
// tensor-parallel degree, a concurrency, an SLO and a peak rate.
type InferenceInput struct {
	Model                 string
	Architecture          *Architecture
	Precision             string
	KVCachePrecision      string
	GPU                   string
	Instance              *InstanceRef
	TensorParallel        int
	InputTokens           int
	OutputTokens          int
	Concurrency           int
	SLO                   *SLO
	PeakRequestsPerSecond float64
	Headroom              float64
}

// TrainingInput is what a training estimate sizes: a catalogue model or an
// architecture, the tokens (or dataset and epochs), the method and precision,
// a GPU with a count or an instance, and optionally the MFU and LoRA rank.
type TrainingInput struct {
	Model                string
	Architecture         *Architecture
	TokensBillion        float64
	DatasetTokensBillion float64
	Epochs               float64
	Method               string
	Precision            string
	GPU                  string
	Instance             *InstanceRef
	GPUs                 int
	MFU                  *sizing.Range
	LoRARank             int
}

// proto maps the architecture onto the assessment request's, so one
// validator (assessment.ArchitectureErrors) judges both. The request format
// bounds every figure far inside int32.
func (a *Architecture) proto() *inframindv1.ModelArchitecture {
	return &inframindv1.ModelArchitecture{
		Name: a.Name, TotalParamsBillion: a.TotalParamsBillion, ActiveParamsBillion: a.ActiveParamsBillion,
		Layers: int32(a.Layers), AttentionHeads: int32(a.AttentionHeads), KvHeads: int32(a.KVHeads),
		HeadDim: int32(a.HeadDim), Attention: a.Attention, MlaLatentDim: int32(a.MLALatentDim),
		HiddenSize: int32(a.HiddenSize),
	}
}

// architectureErrors applies the assessments' architecture rules to an
// estimate's architecture, with the same messages.
func architectureErrors(a *Architecture) []assessment.FieldError {
	if a == nil {
		return nil
	}
	return assessment.ArchitectureErrors("architecture", a.proto())
}

// Check returns the rules between fields the input breaks, before any
// computation and without the catalogue: an architecture must be coherent.
func (in InferenceInput) Check() []assessment.FieldError {
	return architectureErrors(in.Architecture)
}

// Check returns the rules between fields the input breaks, before any
// computation and without the catalogue: an architecture must be coherent and
// an MFU range must not be upside down.
func (in TrainingInput) Check() []assessment.FieldError {
	fes := architectureErrors(in.Architecture)
	if m := in.MFU; m != nil && m.Low > m.High {
		fes = append(fes, assessment.FieldError{Field: "mfu.low",
			Reason: fmt.Sprintf("must not exceed mfu.high (%g > %g): low is the pessimistic end", m.Low, m.High)})
	}
	return fes
}
