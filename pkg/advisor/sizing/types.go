package sizing

import (
	"errors"
	"fmt"
	"math"

	"github.com/infra-mind/infra-mind/pkg/advisor/span"
)

// ErrInvalidInput marks an input no estimate can be made from; the wrapped *InputError names the field.
var ErrInvalidInput = errors.New("invalid sizing input")

// ErrDoesNotFit marks a model that does not fit the memory offered (weights plus one full-context sequence).
var ErrDoesNotFit = errors.New("model does not fit")

// InputError names the input field that made an estimate impossible, so an API can answer 4xx with it.
type InputError struct {
	Field  string
	Reason string
}

// Error reports the field and why it was rejected.
func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap lets callers branch on ErrInvalidInput with errors.Is.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// invalid builds an *InputError for field.
func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Range is an estimate with its optimistic and pessimistic ends; Low <= High.
type Range struct {
	Low  float64
	High float64
}

// NewRange orders its two ends so Low <= High.
func NewRange(a, b float64) Range {
	if a > b {
		a, b = b, a
	}
	return Range{Low: a, High: b}
}

// Mid is the midpoint of the range.
func (r Range) Mid() float64 { return (r.Low + r.High) / 2 }

// Contains reports whether x lies within the range, ends included.
func (r Range) Contains(x float64) bool { return x >= r.Low && x <= r.High }

// Scale multiplies both ends by k, keeping Low <= High when k is negative.
func (r Range) Scale(k float64) Range { return NewRange(r.Low*k, r.High*k) }

// IsZero reports whether the range is unset (both ends zero).
func (r Range) IsZero() bool { return r.Low == 0 && r.High == 0 }

// valid reports whether both ends are finite, non-negative and ordered.
func (r Range) valid() bool {
	return !math.IsNaN(r.Low) && !math.IsNaN(r.High) && !math.IsInf(r.High, 0) && r.Low >= 0 && r.Low <= r.High
}

// String prints the range for formulas and findings, one figure when the ends read the same.
func (r Range) String() string { return span.Format("%.4g", r.Low, r.High) }

// Precision is a numeric format for weights or the KV cache.
type Precision string

// The precisions the calculators know.
const (
	BF16 Precision = "bf16"
	FP16 Precision = "fp16"
	FP8  Precision = "fp8"
	INT8 Precision = "int8"
	INT4 Precision = "int4"
)

// Attention variants, which decide the KV-cache formula.
const (
	AttentionMHA = "mha" // multi-head: one K and one V head per query head
	AttentionGQA = "gqa" // grouped-query: KVHeads < query heads
	AttentionMLA = "mla" // multi-head latent: one compressed latent per token and layer
)

// Arch is the part of a model architecture the calculators need. Callers map catalogue rows onto it.
type Arch struct {
	// ParamsTotalB is the total parameter count in billions (all experts for a mixture-of-experts).
	ParamsTotalB float64
	// ParamsActiveB is the parameters used per token in billions; zero means dense (= ParamsTotalB).
	ParamsActiveB float64
	// Layers is the number of transformer layers.
	Layers int
	// KVHeads is the number of key/value heads (equal to query heads for MHA).
	KVHeads int
	// HeadDim is the dimension of one attention head.
	HeadDim int
	// Attention is mha, gqa or mla; empty means gqa/mha (the formulas are the same).
	Attention string
	// MLALatentDim is the per-token latent width cached by MLA (for DeepSeek-V3: kv_lora_rank 512 +
	// rope key dim 64 = 576, the head size vLLM's MLA cache uses).
	MLALatentDim int
	// HiddenSize is the model width; optional, used to size LoRA adapters.
	HiddenSize int
	// Experts and ExpertsPerToken describe a mixture-of-experts; optional, used to estimate how many
	// experts a decode batch touches.
	Experts         int
	ExpertsPerToken int
}

// Accelerator is one GPU (or accelerator chip): memory, bandwidth and dense peak throughput.
type Accelerator struct {
	Name         string
	MemoryGB     float64
	BandwidthTBs float64
	BF16TFLOPS   float64
	FP8TFLOPS    float64
	FP16TFLOPS   float64
	// LinkGBs is the GPU's bandwidth to its peers in one direction (GB/s); zero means PCIe Gen4 x16.
	LinkGBs float64
}

// Working is what an estimate shows of itself: the assumptions it rests on and the formulas with numbers.
type Working struct {
	Assumptions []string
	Formulas    []string
	// quiet skips the text: the estimates a search tries and discards
	// (CapacityAtSLO) need only their numbers, and formatting every line
	// was most of their cost.
	quiet bool
}

// assume records an assumption.
func (w *Working) assume(format string, args ...any) {
	if w.quiet {
		return
	}
	w.Assumptions = append(w.Assumptions, fmt.Sprintf(format, args...))
}

// formula records a formula with its numbers substituted.
func (w *Working) formula(format string, args ...any) {
	if w.quiet {
		return
	}
	w.Formulas = append(w.Formulas, fmt.Sprintf(format, args...))
}

// merge appends another working's lines.
func (w *Working) merge(o Working) {
	if w.quiet {
		return
	}
	w.Assumptions = append(w.Assumptions, o.Assumptions...)
	w.Formulas = append(w.Formulas, o.Formulas...)
}
