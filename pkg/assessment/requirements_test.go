package assessment

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// withWorkloads builds a request around the given workloads (YAML flow
// mappings, one per entry) and optional extra business lines.
func withWorkloads(business string, workloads ...string) string {
	var b strings.Builder
	b.WriteString("name: x\nbusiness:\n  company_size: startup\n  regions: [us]\n")
	if business != "" {
		b.WriteString(business)
	}
	b.WriteString("workloads:\n")
	for _, w := range workloads {
		b.WriteString("  - " + w + "\n")
	}
	return b.String()
}

const (
	gqaArch   = "architecture: {total_params_billion: 34, layers: 48, attention: gqa, attention_heads: 56, kv_heads: 8, head_dim: 128}"
	servingOf = "{name: chat, kind: llm_serving, peak_requests_per_second: 5, "
)

func TestParseRequestAcceptsRequirements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, doc string)
	}{
		{
			name: "serving a custom gqa architecture with SLOs",
			doc: withWorkloads("", servingOf+gqaArch+", precision: fp8, kv_cache_precision: fp8, ttft_p95_ms: 500, "+
				"inter_token_latency_ms: 40, min_tokens_per_second_per_user: 20, max_context_tokens: 8192, mean_input_tokens: 1000, mean_output_tokens: 200}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				w := req.GetWorkloads()[0]
				a := w.GetArchitecture()
				require.Equal(t, 34.0, a.GetTotalParamsBillion())
				require.Equal(t, int32(48), a.GetLayers())
				require.Equal(t, int32(8), a.GetKvHeads())
				require.Equal(t, "gqa", a.GetAttention())
				require.Equal(t, "fp8", w.GetKvCachePrecision())
				require.Equal(t, 40.0, w.GetInterTokenLatencyMs())
				require.Equal(t, 20.0, w.GetMinTokensPerSecondPerUser())
				require.Equal(t, 34.0, StatedParamsBillion(w))
				require.Equal(t, 34.0, ActiveParamsBillion(a), "a dense model uses every parameter")
			},
		},
		{
			name: "mixture of experts with mla",
			doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 671, active_params_billion: 37, layers: 61, "+
				"attention: mla, mla_latent_dim: 576, attention_heads: 128, hidden_size: 7168}}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				a := req.GetWorkloads()[0].GetArchitecture()
				require.Equal(t, int32(576), a.GetMlaLatentDim())
				require.Equal(t, 37.0, ActiveParamsBillion(a))
			},
		},
		{
			name: "training on dataset x epochs with a deadline",
			doc: withWorkloads("", "{name: ft, kind: training, model: llama-3.1-8b, method: lora, dataset_tokens_billion: 0.2, epochs: 2.5, "+
				"deadline_days: 14, preferred_gpu_count: 8}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				w := req.GetWorkloads()[0]
				require.Equal(t, int32(14), w.GetDeadlineDays())
				require.Equal(t, int32(8), w.GetPreferredGpuCount())
				require.InDelta(t, 0.5, TrainingTokensBillion(w), 1e-12)
			},
		},
		{
			name: "training tokens given directly",
			doc:  withWorkloads("", "{name: ft, kind: training, params_billion: 8, training_tokens_billion: 3}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				require.Equal(t, 3.0, TrainingTokensBillion(req.GetWorkloads()[0]))
				require.Equal(t, 8.0, StatedParamsBillion(req.GetWorkloads()[0]))
			},
		},
		{
			name: "batch with a completion window and token split",
			doc: withWorkloads("", "{name: b, kind: batch_inference, model: llama-3.1-8b, tokens_per_day_million: 300, completion_window_hours: 8, "+
				"mean_input_tokens: 1500, mean_output_tokens: 300, kv_cache_precision: fp8}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				require.Equal(t, 8.0, req.GetWorkloads()[0].GetCompletionWindowHours())
			},
		},
		{
			name: "rag sized by vector count",
			doc: withWorkloads("", "{name: r, kind: rag, vector_count: 25000000000, queries_per_second: 40, chunk_tokens: 512, top_k: 8, "+
				"embedding_model: bge-large-en-v1.5, embedding_dimensions: 1024, max_context_tokens: 8192, storage_iops: 3000}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				w := req.GetWorkloads()[0]
				require.Equal(t, int64(25_000_000_000), w.GetVectorCount())
				require.Equal(t, 40.0, w.GetQueriesPerSecond())
				require.Equal(t, int32(512), w.GetChunkTokens())
				require.Equal(t, int32(8), w.GetTopK())
				require.Equal(t, "bge-large-en-v1.5", w.GetEmbeddingModel())
				require.Equal(t, int32(3000), w.GetStorageIops())
			},
		},
		{
			name: "general service with a measured instance rate",
			doc:  withWorkloads("", "{name: api, kind: general, peak_requests_per_second: 400, vcpu: 4, memory_gb: 8, requests_per_second_per_instance: 120, storage_iops: 6000}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				require.Equal(t, 120.0, req.GetWorkloads()[0].GetRequestsPerSecondPerInstance())
			},
		},
		{
			name: "absolute growth that shrinks, with data residency",
			doc: withWorkloads("  data_residency: [eu, de]\n  growth: {demand_unit: users, current_demand: 20000, month_6_demand: 50000, month_12_demand: 40000, month_24_demand: 10000}\n",
				"{name: api, kind: general, peak_requests_per_second: 4}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				b := req.GetBusiness()
				require.Equal(t, []string{"eu", "de"}, b.GetDataResidency())
				require.Equal(t, "users", b.GetGrowth().GetDemandUnit())
				m6, m12, m24 := GrowthMultipliers(b.GetGrowth())
				require.Equal(t, []float64{2.5, 2, 0.5}, []float64{m6, m12, m24})
			},
		},
		{
			name: "growth as multipliers",
			doc:  withWorkloads("  growth: {month_6_multiplier: 1.5, month_24_multiplier: 3}\n", "{name: api, kind: general, peak_requests_per_second: 4}"),
			check: func(t *testing.T, doc string) {
				req, err := ParseRequest([]byte(doc))
				require.NoError(t, err)
				m6, m12, m24 := GrowthMultipliers(req.GetBusiness().GetGrowth())
				require.Equal(t, []float64{1.5, 0, 3}, []float64{m6, m12, m24})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, tc.doc)
		})
	}
}

func TestParseRequestRejectsRequirements(t *testing.T) {
	t.Parallel()
	const training = "{name: ft, kind: training, model: llama-3.1-8b, "
	tests := []struct {
		name   string
		doc    string
		field  string
		reason string
	}{
		{name: "negative epochs", doc: withWorkloads("", training+"dataset_tokens_billion: 1, epochs: -2}"),
			field: "workloads[0].epochs", reason: "greater than 0: at least 0.01 (got -2)"},
		{name: "epochs without dataset", doc: withWorkloads("", training+"training_tokens_billion: 1, epochs: 2}"),
			field: "workloads[0].dataset_tokens_billion", reason: "is required when epochs is given"},
		{name: "dataset without epochs", doc: withWorkloads("", training+"dataset_tokens_billion: 1}"),
			field: "workloads[0].epochs", reason: "is required when dataset_tokens_billion is given"},
		{name: "tokens and dataset x epochs", doc: withWorkloads("", training+"training_tokens_billion: 1, dataset_tokens_billion: 1, epochs: 2}"),
			field: "workloads[0].dataset_tokens_billion", reason: "either training_tokens_billion or dataset_tokens_billion with epochs, not both"},
		{name: "zero deadline", doc: withWorkloads("", training+"training_tokens_billion: 1, deadline_days: 0}"),
			field: "workloads[0].deadline_days", reason: "at least 1"},
		{name: "fractional gpu count", doc: withWorkloads("", training+"training_tokens_billion: 1, preferred_gpu_count: 1.5}"),
			field: "workloads[0].preferred_gpu_count", reason: "whole number"},
		{name: "active above total", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 47, active_params_billion: 90, layers: 32, attention: gqa, kv_heads: 8, head_dim: 128}}"),
			field: "workloads[0].architecture.active_params_billion", reason: "must not exceed total_params_billion (90 > 47)"},
		{name: "kv heads above heads", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 8, layers: 32, attention: gqa, attention_heads: 8, kv_heads: 32, head_dim: 128}}"),
			field: "workloads[0].architecture.kv_heads", reason: "must not exceed attention_heads (32 > 8)"},
		{name: "uneven gqa groups", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 8, layers: 32, attention: gqa, attention_heads: 32, kv_heads: 5, head_dim: 128}}"),
			field: "workloads[0].architecture.kv_heads", reason: "must divide attention_heads evenly"},
		{name: "mha with fewer kv heads", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 8, layers: 32, attention: mha, attention_heads: 32, kv_heads: 8, head_dim: 128}}"),
			field: "workloads[0].architecture.kv_heads", reason: "must equal attention_heads for attention mha"},
		{name: "mla without latent dim", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 671, layers: 61, attention: mla}}"),
			field: "workloads[0].architecture.mla_latent_dim", reason: "is required when attention is mla"},
		{name: "gqa without kv heads", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 8, layers: 32, attention: gqa, head_dim: 128}}"),
			field: "workloads[0].architecture.kv_heads", reason: "is required when attention is gqa"},
		{name: "latent dim without mla", doc: withWorkloads("", servingOf+gqaArch[:len(gqaArch)-1]+", mla_latent_dim: 576}}"),
			field: "workloads[0].architecture.mla_latent_dim", reason: "applies only to attention mla"},
		{name: "architecture without layers", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 8, attention: mha, kv_heads: 32, head_dim: 128}}"),
			field: "workloads[0].architecture.layers", reason: "is required"},
		{name: "bad attention kind", doc: withWorkloads("", servingOf+"architecture: {total_params_billion: 8, layers: 32, attention: mqa, kv_heads: 1, head_dim: 128}}"),
			field: "workloads[0].architecture.attention", reason: "must be one of mha, gqa, mla"},
		{name: "unknown architecture field", doc: withWorkloads("", servingOf+gqaArch[:len(gqaArch)-1]+", experts: 8}}"),
			field: "workloads[0].architecture.experts", reason: "is not a known field"},
		{name: "model and architecture", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, "+gqaArch+"}"),
			field: "workloads[0].architecture", reason: "either model (a catalogue id) or architecture"},
		{name: "params and architecture", doc: withWorkloads("", servingOf+"params_billion: 34, "+gqaArch+"}"),
			field: "workloads[0].params_billion", reason: "leave params_billion out"},
		{name: "bad kv cache precision", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, kv_cache_precision: fp4}"),
			field: "workloads[0].kv_cache_precision", reason: "must be one of bf16, fp8, int8, int4"},
		{name: "zero inter-token latency", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, inter_token_latency_ms: 0}"),
			field: "workloads[0].inter_token_latency_ms", reason: "greater than 0"},
		{name: "negative tokens per second", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, min_tokens_per_second_per_user: -5}"),
			field: "workloads[0].min_tokens_per_second_per_user", reason: "greater than 0"},
		{name: "typical request longer than the context", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, max_context_tokens: 1000, mean_input_tokens: 900, mean_output_tokens: 200}"),
			field: "workloads[0].max_context_tokens", reason: "900 + 200 = 1100"},
		{name: "deadline on a serving workload", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, deadline_days: 3}"),
			field: "workloads[0].deadline_days", reason: "applies only to workloads of kind training; this one is llm_serving"},
		{name: "completion window on training", doc: withWorkloads("", training+"training_tokens_billion: 1, completion_window_hours: 24}"),
			field: "workloads[0].completion_window_hours", reason: "only to workloads of kind batch_inference"},
		{name: "architecture on a general service", doc: withWorkloads("", "{name: api, kind: general, peak_requests_per_second: 3, "+gqaArch+"}"),
			field: "workloads[0].architecture", reason: "kind llm_serving, training, batch_inference or rag; this one is general"},
		{name: "zero completion window", doc: withWorkloads("", "{name: b, kind: batch_inference, tokens_per_day_million: 5, completion_window_hours: 0}"),
			field: "workloads[0].completion_window_hours", reason: "greater than 0"},
		{name: "completion window over a month", doc: withWorkloads("", "{name: b, kind: batch_inference, tokens_per_day_million: 5, completion_window_hours: 1000}"),
			field: "workloads[0].completion_window_hours", reason: "at most 720"},
		{name: "rag without corpus or vectors", doc: withWorkloads("", "{name: r, kind: rag, queries_per_second: 3}"),
			field: "workloads[0].corpus_gb", reason: "kind rag needs corpus_gb or vector_count"},
		{name: "zero top k", doc: withWorkloads("", "{name: r, kind: rag, corpus_gb: 1, top_k: 0}"),
			field: "workloads[0].top_k", reason: "at least 1"},
		{name: "retrieved chunks overflow the context", doc: withWorkloads("", "{name: r, kind: rag, corpus_gb: 1, top_k: 20, chunk_tokens: 1024, max_context_tokens: 8192}"),
			field: "workloads[0].top_k", reason: "20 x 1024 = 20480 tokens"},
		{name: "bad embedding model id", doc: withWorkloads("", "{name: r, kind: rag, corpus_gb: 1, embedding_model: BGE Large}"),
			field: "workloads[0].embedding_model", reason: "is not a model id"},
		{name: "queries on a serving workload", doc: withWorkloads("", servingOf+"model: llama-3.1-8b, queries_per_second: 3}"),
			field: "workloads[0].queries_per_second", reason: "only to workloads of kind rag"},
		{name: "fractional iops", doc: withWorkloads("", "{name: api, kind: general, peak_requests_per_second: 3, storage_iops: 10.5}"),
			field: "workloads[0].storage_iops", reason: "whole number"},
		{name: "zero instance rate", doc: withWorkloads("", "{name: api, kind: general, peak_requests_per_second: 3, requests_per_second_per_instance: 0}"),
			field: "workloads[0].requests_per_second_per_instance", reason: "greater than 0"},
		{name: "bad residency region", doc: withWorkloads("  data_residency: [EU]\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.data_residency[0]", reason: "two-letter lowercase region code"},
		{name: "zero demand", doc: withWorkloads("  growth: {demand_unit: users, current_demand: 0}\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.growth.current_demand", reason: "greater than 0"},
		{name: "negative future demand", doc: withWorkloads("  growth: {demand_unit: users, current_demand: 10, month_12_demand: -4}\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.growth.month_12_demand", reason: "greater than 0"},
		{name: "future demand without today's", doc: withWorkloads("  growth: {demand_unit: users, month_6_demand: 400}\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.growth.current_demand", reason: "is required when month_6_demand is given"},
		{name: "demand without a unit", doc: withWorkloads("  growth: {current_demand: 100, month_6_demand: 400}\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.growth.demand_unit", reason: "is required when current_demand is given"},
		{name: "bad demand unit", doc: withWorkloads("  growth: {demand_unit: sessions, current_demand: 100}\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.growth.demand_unit", reason: "must be one of users, requests_per_second"},
		{name: "multipliers and absolute demand", doc: withWorkloads("  growth: {month_6_multiplier: 2, demand_unit: users, current_demand: 100, month_6_demand: 300}\n", "{name: api, kind: general, peak_requests_per_second: 3}"),
			field: "business.growth.current_demand", reason: "either as multipliers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := ParseRequest([]byte(tc.doc))
			require.Nil(t, req)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
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

// The examples show the new fields in use; these checks keep them doing so.
func TestExamplesUseTheRequirementsModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, w map[string]*inframindv1.Workload, b *inframindv1.Business)
	}{
		{name: "chatbot states latency objectives", file: "chatbot-70b-hipaa-us.yaml", check: func(t *testing.T, w map[string]*inframindv1.Workload, b *inframindv1.Business) {
			chat := w["patient-chat"]
			require.Positive(t, chat.GetTtftP95Ms())
			require.Positive(t, chat.GetInterTokenLatencyMs())
			require.Positive(t, w["care-guidelines-search"].GetQueriesPerSecond())
			require.Equal(t, []string{"us"}, b.GetDataResidency())
		}},
		{name: "fine-tune gives dataset x epochs and a deadline", file: "finetune-gdpr-eu.yaml", check: func(t *testing.T, w map[string]*inframindv1.Workload, b *inframindv1.Business) {
			ft := w["claims-lora"]
			require.Zero(t, ft.GetTrainingTokensBillion())
			require.InDelta(t, 0.5, TrainingTokensBillion(ft), 1e-12)
			require.Positive(t, ft.GetDeadlineDays())
			require.Positive(t, w["nightly-claim-triage"].GetCompletionWindowHours())
			require.Equal(t, []string{"eu"}, b.GetDataResidency())
		}},
		{name: "startup gives a query rate and a measured API instance", file: "startup-rag.yaml", check: func(t *testing.T, w map[string]*inframindv1.Workload, _ *inframindv1.Business) {
			require.Positive(t, w["help-centre-rag"].GetQueriesPerSecond())
			require.Positive(t, w["public-api"].GetRequestsPerSecondPerInstance())
		}},
		{name: "custom architecture is shared by two workloads", file: "custom-architecture.yaml", check: func(t *testing.T, w map[string]*inframindv1.Workload, b *inframindv1.Business) {
			for _, name := range []string{"case-law-chat", "nightly-brief-digest"} {
				require.Empty(t, w[name].GetModel())
				require.Equal(t, "mla", w[name].GetArchitecture().GetAttention())
				require.Equal(t, 671.0, StatedParamsBillion(w[name]))
			}
			m6, _, m24 := GrowthMultipliers(b.GetGrowth())
			require.InDelta(t, 2.25, m6, 1e-12)
			require.InDelta(t, 5.5, m24, 1e-12)
		}},
		{name: "impossible request passes validation", file: "impossible.yaml", check: func(t *testing.T, w map[string]*inframindv1.Workload, _ *inframindv1.Business) {
			giant := w["giant-chat"]
			require.Equal(t, 2000.0, StatedParamsBillion(giant))
			require.Equal(t, "bf16", giant.GetPrecision())
			require.Equal(t, 5.0, giant.GetInterTokenLatencyMs())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := os.ReadFile(filepath.Join("..", "..", "examples", tc.file))
			require.NoError(t, err)
			req, err := ParseRequest(doc)
			require.NoError(t, err)
			byName := map[string]*inframindv1.Workload{}
			for _, w := range req.GetWorkloads() {
				byName[w.GetName()] = w
			}
			tc.check(t, byName, req.GetBusiness())
		})
	}
}

// Every field of the schema has a row in the request-format document, so a
// field added to the schema cannot go undocumented.
func TestRequestFormatDocumentsEveryField(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "request-format.md"))
	require.NoError(t, err)
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(RequestSchema(), &schema))
	prefixes := map[string]string{
		"Business": "business.", "Growth": "business.growth.", "Team": "business.team.",
		"Workload": "workloads[].", "ModelArchitecture": "workloads[].architecture.",
	}
	for name, def := range schema.Defs {
		if len(def.Properties) == 0 {
			continue
		}
		prefix, ok := prefixes[name]
		require.Truef(t, ok, "$defs.%s has fields but no documented section; add its prefix here and a table to docs/request-format.md", name)
		for field := range def.Properties {
			require.Truef(t, strings.Contains(string(doc), "| `"+prefix+field+"` |"), "docs/request-format.md has no row for %s%s", prefix, field)
		}
	}
	for field := range schema.Properties {
		require.Truef(t, strings.Contains(string(doc), "| `"+field+"` |"), "docs/request-format.md has no row for %s", field)
	}
}
