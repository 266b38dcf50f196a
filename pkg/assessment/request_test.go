package assessment

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const validYAML = `
name: Support bot
business:
  company_size: startup
  regions: [us]
workloads:
  - name: chat
    kind: llm_serving
    model: llama-3.1-8b
    peak_requests_per_second: 5
`

func TestParseRequestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	want := []string{"chatbot-70b-hipaa-us.yaml", "finetune-gdpr-eu.yaml", "startup-rag.yaml", "custom-architecture.yaml", "impossible.yaml"}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	require.Subset(t, names, want)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			doc, err := os.ReadFile(f)
			require.NoError(t, err)
			req, err := ParseRequest(doc)
			require.NoError(t, err)
			require.NotEmpty(t, req.GetName())
			require.NotEmpty(t, req.GetWorkloads())
			require.NotEmpty(t, req.GetBusiness().GetCompanySize())
		})
	}
}

func TestParseRequestDecodesEveryForm(t *testing.T) {
	t.Parallel()
	jsonDoc := `{"name":"Support bot","business":{"company_size":"startup","regions":["us"],
	  "compliance":["hipaa"],"monthly_budget_usd":1500.5,"team":{"engineers":3,"expertise":"beginner"}},
	  "workloads":[{"name":"chat","kind":"llm_serving","params_billion":70,"peak_requests_per_second":2.5,
	  "availability_target":0.999,"mean_input_tokens":1000}]}`
	tests := []struct {
		name string
		doc  string
	}{
		{name: "json", doc: jsonDoc},
		{name: "yaml", doc: "name: Support bot\nbusiness:\n  company_size: startup\n  regions: [us]\n  compliance: [hipaa]\n  monthly_budget_usd: 1500.5\n  team: {engineers: 3, expertise: beginner}\nworkloads:\n  - {name: chat, kind: llm_serving, params_billion: 70, peak_requests_per_second: 2.5, availability_target: 0.999, mean_input_tokens: 1000}\n"},
		{name: "yaml document marker", doc: "---\n" + "name: Support bot\nbusiness:\n  company_size: startup\n  regions: [us]\n  compliance: [hipaa]\n  monthly_budget_usd: 1500.5\n  team: {engineers: 3, expertise: beginner}\nworkloads:\n  - {name: chat, kind: llm_serving, params_billion: 70, peak_requests_per_second: 2.5, availability_target: 0.999, mean_input_tokens: 1000}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := ParseRequest([]byte(tc.doc))
			require.NoError(t, err)
			require.Equal(t, "Support bot", req.GetName())
			require.Equal(t, 1500.5, req.GetBusiness().GetMonthlyBudgetUsd())
			require.Equal(t, int32(3), req.GetBusiness().GetTeam().GetEngineers())
			require.Equal(t, []string{"hipaa"}, req.GetBusiness().GetCompliance())
			w := req.GetWorkloads()[0]
			require.Equal(t, "llm_serving", w.GetKind())
			require.Equal(t, 70.0, w.GetParamsBillion())
			require.Equal(t, 2.5, w.GetPeakRequestsPerSecond())
			require.Equal(t, 0.999, w.GetAvailabilityTarget())
			require.Equal(t, int32(1000), w.GetMeanInputTokens())
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	t.Parallel()
	many := &strings.Builder{}
	many.WriteString("name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n")
	for i := range 51 {
		fmt.Fprintf(many, "  - {name: w%d, kind: general, peak_requests_per_second: 1}\n", i)
	}
	tests := []struct {
		name   string
		doc    string
		field  string
		reason string
	}{
		{name: "empty body", doc: "  \n", field: "", reason: "empty"},
		{name: "bad yaml", doc: "name: [unclosed\nbusiness: {", field: "", reason: "not valid YAML"},
		{name: "bad json", doc: "{\"name\": \"x\",\n \"business\": }", field: "", reason: "line 2"},
		{name: "bad json after blank lines", doc: "\n\n  {\"name\": }", field: "", reason: "line 3, "},
		{name: "not an object", doc: `["a"]`, field: "", reason: "must be an object"},
		{name: "missing workloads", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\n", field: "workloads", reason: "is required"},
		{name: "empty workloads", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads: []\n", field: "workloads", reason: "at least one"},
		{name: "too many workloads", doc: many.String(), field: "workloads", reason: "at most 50"},
		{name: "missing name", doc: strings.Replace(validYAML, "name: Support bot", "", 1), field: "name", reason: "is required"},
		{name: "empty name", doc: strings.Replace(validYAML, "name: Support bot", `name: ""`, 1), field: "name", reason: "must not be empty"},
		{name: "long name", doc: strings.Replace(validYAML, "name: Support bot", "name: "+strings.Repeat("n", 201), 1), field: "name", reason: "at most 200"},
		{name: "negative rate", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: -3", 1), field: "workloads[0].peak_requests_per_second", reason: "greater than 0"},
		{name: "zero rate", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 0", 1), field: "workloads[0].peak_requests_per_second", reason: "greater than 0"},
		{name: "rate beyond float64", doc: `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"w","kind":"llm_serving","model":"llama-3.1-8b","peak_requests_per_second":1e400}]}`, field: "workloads[0].peak_requests_per_second", reason: "is too large to compute with (got 1e400)"},
		{name: "exponent no parser takes", doc: `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"w","kind":"llm_serving","model":"llama-3.1-8b","peak_requests_per_second":1e9999999}]}`, field: "workloads[0].peak_requests_per_second", reason: "is too large to compute with"},
		{name: "rate float64 reads as 0", doc: `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"w","kind":"llm_serving","model":"llama-3.1-8b","peak_requests_per_second":1e-400}]}`, field: "workloads[0].peak_requests_per_second", reason: "is too close to 0 to compute with (got 1e-400)"},
		{name: "number of 101 characters", doc: `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"w","kind":"llm_serving","model":"llama-3.1-8b","peak_requests_per_second":5.` + strings.Repeat("1", 99) + `}]}`, field: "workloads[0].peak_requests_per_second", reason: "101 characters"},
		{name: "rate below one request in 12 days", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 1e-7", 1), field: "workloads[0].peak_requests_per_second", reason: "must be at least 0.000001 (got 1e-7)"},
		{name: "YAML NaN", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: .nan", 1), field: "", reason: "line 10: .nan is not a finite number"},
		{name: "YAML infinity", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: -.inf", 1), field: "", reason: "line 10: -.inf is not a finite number"},
		{name: "YAML infinity in a flow list", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 5\n    x: [1, .Inf]", 1), field: "", reason: ".Inf is not a finite number"},
		{name: "availability of a coin toss", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 5\n    availability_target: 0.4", 1), field: "workloads[0].availability_target", reason: "must be at least 0.5 (got 0.4)"},
		{name: "rate as text", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: lots", 1), field: "workloads[0].peak_requests_per_second", reason: "must be a number, not text"},
		{name: "bad kind enum", doc: strings.Replace(validYAML, "kind: llm_serving", "kind: chatbot", 1), field: "workloads[0].kind", reason: "must be one of llm_serving, training"},
		{name: "bad company size", doc: strings.Replace(validYAML, "company_size: startup", "company_size: huge", 1), field: "business.company_size", reason: "must be one of startup"},
		{name: "bad provider", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us]\n  provider_preference: [oracle]", 1), field: "business.provider_preference[0]", reason: "aws, azure, gcp"},
		{name: "bad region", doc: strings.Replace(validYAML, "regions: [us]", "regions: [USA]", 1), field: "business.regions[0]", reason: "two-letter lowercase region code"},
		{name: "bad regime", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us]\n  compliance: [hippa]", 1), field: "business.compliance[0]", reason: `got "hippa"`},
		{name: "unquoted yaml boolean", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us, no]", 1), field: "business.regions[1]", reason: `quote values such as "no"`},
		{name: "duplicate regime", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us]\n  compliance: [gdpr, gdpr]", 1), field: "business.compliance", reason: "same value twice"},
		{name: "negative budget", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us]\n  monthly_budget_usd: -1", 1), field: "business.monthly_budget_usd", reason: "at least 0"},
		{name: "unknown field", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us]\n  colour: blue", 1), field: "business.colour", reason: "is not a known field"},
		{name: "unknown top-level field", doc: `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"a","kind":"general","peak_requests_per_second":1}],"priority":"high"}`, field: "priority", reason: "is not a known field"},
		{name: "camelCase field", doc: strings.Replace(validYAML, "peak_requests_per_second", "peakRequestsPerSecond", 1), field: "workloads[0].peakRequestsPerSecond", reason: "is not a known field"},
		{name: "availability of 1", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 5\n    availability_target: 1", 1), field: "workloads[0].availability_target", reason: "less than 1"},
		{name: "fractional tokens", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 5\n    mean_input_tokens: 1.5", 1), field: "workloads[0].mean_input_tokens", reason: "whole number"},
		{name: "llm without model", doc: strings.Replace(validYAML, "model: llama-3.1-8b", "", 1), field: "workloads[0].model", reason: "kind llm_serving needs model, params_billion or architecture"},
		{name: "llm without rate", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "", 1), field: "workloads[0].peak_requests_per_second", reason: "required when kind is llm_serving"},
		{name: "training without tokens", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n  - {name: ft, kind: training, params_billion: 8}\n", field: "workloads[0].training_tokens_billion", reason: "kind training needs training_tokens_billion or dataset_tokens_billion"},
		{name: "training without model", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n  - {name: ft, kind: training, training_tokens_billion: 1}\n", field: "workloads[0].model", reason: "kind training needs model, params_billion or architecture"},
		{name: "batch without volume", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n  - {name: b, kind: batch_inference, model: llama-3.1-8b}\n", field: "workloads[0].tokens_per_day_million", reason: "required when kind is batch_inference"},
		{name: "rag without corpus", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n  - {name: r, kind: rag}\n", field: "workloads[0].corpus_gb", reason: "kind rag needs corpus_gb or vector_count"},
		{name: "general without rate", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n  - {name: g, kind: general}\n", field: "workloads[0].peak_requests_per_second", reason: "required when kind is general"},
		{name: "duplicate workload names", doc: "name: x\nbusiness: {company_size: startup, regions: [us]}\nworkloads:\n  - {name: api, kind: general, peak_requests_per_second: 1}\n  - {name: api, kind: general, peak_requests_per_second: 2}\n", field: "workloads[1].name", reason: "must be unique"},
		{name: "average above peak", doc: strings.Replace(validYAML, "peak_requests_per_second: 5", "peak_requests_per_second: 5\n    avg_requests_per_second: 9", 1), field: "workloads[0].avg_requests_per_second", reason: "must not exceed peak"},
		{name: "provider preferred and excluded", doc: strings.Replace(validYAML, "regions: [us]", "regions: [us]\n  provider_preference: [aws]\n  provider_exclusions: [aws]", 1), field: "business.provider_exclusions[0]", reason: "both preferred and excluded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := ParseRequest([]byte(tc.doc))
			require.Nil(t, req)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.NotEmpty(t, verr.Errors)
			found := false
			for _, fe := range verr.Errors {
				if fe.Field == tc.field && strings.Contains(fe.Reason, tc.reason) {
					found = true
				}
			}
			require.Truef(t, found, "want %q: ...%s... in %+v", tc.field, tc.reason, verr.Errors)
		})
	}
}

func TestParseRequestReportsEveryProblem(t *testing.T) {
	t.Parallel()
	doc := "name: x\nbusiness: {company_size: huge, regions: [us], colour: red}\nworkloads:\n  - {name: a, kind: general, peak_requests_per_second: -1}\n"
	_, err := ParseRequest([]byte(doc))
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []string{"business.colour", "business.company_size", "workloads[0].peak_requests_per_second"}, fields(verr))
	require.Contains(t, verr.Error(), "business.colour: is not a known field")
}

func fields(v *ValidationError) []string {
	out := make([]string, 0, len(v.Errors))
	for _, fe := range v.Errors {
		out = append(out, fe.Field)
	}
	return out
}

func TestSchemaPublishedCopyIsIdentical(t *testing.T) {
	t.Parallel()
	published, err := os.ReadFile(filepath.Join("..", "..", "docs", "api", "assessment-request.schema.json"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(RequestSchema(), published),
		"docs/api/assessment-request.schema.json differs from pkg/assessment/schema/assessment-request.schema.json; run make generate")
}
