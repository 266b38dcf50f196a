// Package scenario turns a base assessment request and a user's what-if
// overrides (traffic x2, another region, a precision, a provider, a budget)
// into the request a scenario assessment runs. It is pure: no I/O, and the
// result is validated by the same rules as a submitted request.
package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// MaxTrafficMultiplier bounds TrafficMultiplier: a what-if beyond 1000x the
// stated traffic is a different business, better submitted as its own request.
const MaxTrafficMultiplier = 1000

// Overrides are the what-if changes a scenario applies to its base request.
// A nil or empty field leaves the base value unchanged.
type Overrides struct {
	// TrafficMultiplier scales every workload's peak and average request
	// rate, batch tokens per day and RAG retrieval queries per second.
	TrafficMultiplier *float64 `json:"traffic_multiplier,omitempty"`
	// Regions replaces business.regions.
	Regions []string `json:"regions,omitempty"`
	// DataResidency replaces business.data_residency.
	DataResidency []string `json:"data_residency,omitempty"`
	// Precision replaces the weight precision of every workload that runs a
	// model (llm_serving, batch_inference, rag, training).
	Precision string `json:"precision,omitempty"`
	// ProviderPreference replaces business.provider_preference.
	ProviderPreference []string `json:"provider_preference,omitempty"`
	// ProviderExclusions replaces business.provider_exclusions.
	ProviderExclusions []string `json:"provider_exclusions,omitempty"`
	// MonthlyBudgetUSD replaces business.monthly_budget_usd (0: not stated).
	MonthlyBudgetUSD *float64 `json:"monthly_budget_usd,omitempty"`
}

// Empty reports whether o changes nothing.
func (o Overrides) Empty() bool {
	return o.TrafficMultiplier == nil && o.Regions == nil && o.DataResidency == nil && o.Precision == "" &&
		o.ProviderPreference == nil && o.ProviderExclusions == nil && o.MonthlyBudgetUSD == nil
}

// field prefixes every error path so a user sees where in their body it is.
const field = "overrides"

// Parse decodes overrides from JSON, refusing unknown fields and wrong types
// with a *assessment.ValidationError naming the field, then validates them.
func Parse(raw []byte) (Overrides, error) {
	var o Overrides
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return o, fieldErr(field, "is required: name at least one override")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return Overrides{}, decodeErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Overrides{}, fieldErr(field, "must be a single JSON object")
	}
	if err := o.Validate(); err != nil {
		return Overrides{}, err
	}
	return o, nil
}

// decodeErr names the field of a JSON decoding error.
func decodeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := field
		if te.Field != "" {
			path += "." + te.Field
		}
		return fieldErr(path, "must be of type "+jsonType(te.Type.String()))
	}
	// encoding/json reports an unknown field as `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldErr(field+"."+strings.Trim(name, `"`),
			"is not an override; use traffic_multiplier, regions, data_residency, precision, provider_preference, provider_exclusions or monthly_budget_usd")
	}
	return fieldErr(field, "must be a JSON object: "+err.Error())
}

func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "float"):
		return "number"
	case strings.HasPrefix(goType, "[]"):
		return "array of strings"
	case goType == "string":
		return "string"
	}
	return goType
}

func fieldErr(path, reason string) *assessment.ValidationError {
	return &assessment.ValidationError{Errors: []assessment.FieldError{{Field: path, Reason: reason}}}
}

// Validate checks each override on its own; Apply checks the whole result.
func (o Overrides) Validate() error {
	var fes []assessment.FieldError
	add := func(name, reason string) {
		fes = append(fes, assessment.FieldError{Field: field + "." + name, Reason: reason})
	}
	if o.Empty() {
		return fieldErr(field, "changes nothing: name at least one override")
	}
	if m := o.TrafficMultiplier; m != nil && (math.IsNaN(*m) || *m <= 0 || *m > MaxTrafficMultiplier) {
		add("traffic_multiplier", fmt.Sprintf("must be > 0 and <= %d", MaxTrafficMultiplier))
	}
	if o.Regions != nil && len(o.Regions) == 0 {
		add("regions", "must name at least one region")
	}
	checkCodes := func(name string, codes []string) {
		for i, c := range codes {
			if !isRegionCode(c) {
				add(fmt.Sprintf("%s[%d]", name, i), fmt.Sprintf("%q is not a two-letter lowercase region code such as us, de or eu", c))
			}
		}
	}
	checkCodes("regions", o.Regions)
	checkCodes("data_residency", o.DataResidency)
	if o.Precision != "" && !slices.Contains([]string{"bf16", "fp8", "int8", "int4"}, o.Precision) {
		add("precision", fmt.Sprintf("%q is not a precision; use bf16, fp8, int8 or int4", o.Precision))
	}
	checkProviders := func(name string, ps []string) {
		for i, p := range ps {
			if !slices.Contains([]string{"aws", "azure", "gcp"}, p) {
				add(fmt.Sprintf("%s[%d]", name, i), fmt.Sprintf("%q is not a provider; use aws, azure or gcp", p))
			}
		}
	}
	checkProviders("provider_preference", o.ProviderPreference)
	checkProviders("provider_exclusions", o.ProviderExclusions)
	if b := o.MonthlyBudgetUSD; b != nil && (math.IsNaN(*b) || *b < 0) {
		add("monthly_budget_usd", "must be 0 (not stated) or more")
	}
	if len(fes) > 0 {
		return &assessment.ValidationError{Errors: fes}
	}
	return nil
}

func isRegionCode(s string) bool {
	return len(s) == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z'
}

// runsModel reports whether a workload kind runs a model whose weight
// precision the request can state.
func runsModel(kind string) bool {
	switch kind {
	case "llm_serving", "batch_inference", "rag", "training":
		return true
	}
	return false
}

// Apply returns a copy of req with o applied (req is not changed), the names
// of the overrides that changed something, and an error naming the field when
// o is invalid or the result is not a valid request. The result is validated
// by assessment.ParseRequest, the parser submitted requests go through.
func Apply(req *inframindv1.AssessmentRequest, o Overrides) (*inframindv1.AssessmentRequest, []string, error) {
	if req == nil {
		return nil, nil, errors.New("scenario: apply: no base request")
	}
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	out, _ := proto.Clone(req).(*inframindv1.AssessmentRequest)
	if out.Business == nil {
		out.Business = &inframindv1.Business{}
	}
	b := out.Business
	var applied []string
	if m := o.TrafficMultiplier; m != nil {
		for _, w := range out.Workloads {
			w.PeakRequestsPerSecond *= *m
			w.AvgRequestsPerSecond *= *m
			w.TokensPerDayMillion *= *m
			w.QueriesPerSecond *= *m
		}
		applied = append(applied, "traffic_multiplier")
	}
	if o.Regions != nil {
		b.Regions = slices.Clone(o.Regions)
		applied = append(applied, "regions")
	}
	if o.DataResidency != nil {
		b.DataResidency = slices.Clone(o.DataResidency)
		applied = append(applied, "data_residency")
	}
	if o.Precision != "" {
		changed := false
		for _, w := range out.Workloads {
			if runsModel(w.GetKind()) {
				w.Precision = o.Precision
				changed = true
			}
		}
		if !changed {
			return nil, nil, fieldErr(field+".precision", "no workload runs a model (llm_serving, batch_inference, rag or training)")
		}
		applied = append(applied, "precision")
	}
	if o.ProviderPreference != nil {
		b.ProviderPreference = slices.Clone(o.ProviderPreference)
		applied = append(applied, "provider_preference")
	}
	if o.ProviderExclusions != nil {
		b.ProviderExclusions = slices.Clone(o.ProviderExclusions)
		applied = append(applied, "provider_exclusions")
	}
	if o.MonthlyBudgetUSD != nil {
		b.MonthlyBudgetUsd = *o.MonthlyBudgetUSD
		applied = append(applied, "monthly_budget_usd")
	}
	// Revalidate with the submitted-request parser: an override may push a
	// value past its schema bound or contradict another field.
	doc, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(out)
	if err != nil {
		return nil, nil, fmt.Errorf("scenario: encode the scenario request: %w", err)
	}
	parsed, err := assessment.ParseRequest(doc)
	if err != nil {
		var verr *assessment.ValidationError
		if errors.As(err, &verr) {
			fes := make([]assessment.FieldError, 0, len(verr.Errors))
			for _, fe := range verr.Errors {
				fes = append(fes, assessment.FieldError{
					Field:  fe.Field,
					Reason: "with the overrides applied (" + strings.Join(applied, ", ") + "): " + fe.Reason,
				})
			}
			return nil, nil, &assessment.ValidationError{Errors: fes}
		}
		return nil, nil, fmt.Errorf("scenario: validate the scenario request: %w", err)
	}
	return parsed, applied, nil
}
