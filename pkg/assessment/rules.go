package assessment

import (
	"fmt"
	"slices"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// semanticErrors checks what the schema cannot express: cross-field rules.
func semanticErrors(req *inframindv1.AssessmentRequest) []FieldError {
	var out []FieldError
	seen := make(map[string]int, len(req.GetWorkloads()))
	for i, w := range req.GetWorkloads() {
		if first, dup := seen[w.GetName()]; dup {
			out = append(out, FieldError{
				Field:  fmt.Sprintf("workloads[%d].name", i),
				Reason: fmt.Sprintf("%q is already the name of workloads[%d]; workload names must be unique", w.GetName(), first),
			})
		} else {
			seen[w.GetName()] = i
		}
		out = append(out, workloadErrors(fmt.Sprintf("workloads[%d]", i), w)...)
	}
	b := req.GetBusiness()
	for i, p := range b.GetProviderExclusions() {
		if slices.Contains(b.GetProviderPreference(), p) {
			out = append(out, FieldError{
				Field:  fmt.Sprintf("business.provider_exclusions[%d]", i),
				Reason: fmt.Sprintf("%s is also in provider_preference; a provider cannot be both preferred and excluded", p),
			})
		}
	}
	out = append(out, growthErrors("business.growth", b.GetGrowth())...)
	return out
}

// growthErrors refuses growth given both as multipliers and as absolute
// demand: the two could disagree, and neither can be preferred silently.
func growthErrors(path string, g *inframindv1.Growth) []FieldError {
	multipliers := g.GetMonth_6Multiplier() > 0 || g.GetMonth_12Multiplier() > 0 || g.GetMonth_24Multiplier() > 0
	if !multipliers {
		return nil
	}
	absolute := []struct {
		name string
		v    float64
	}{
		{"current_demand", g.GetCurrentDemand()},
		{"month_6_demand", g.GetMonth_6Demand()},
		{"month_12_demand", g.GetMonth_12Demand()},
		{"month_24_demand", g.GetMonth_24Demand()},
	}
	for _, a := range absolute {
		if a.v > 0 {
			return []FieldError{{
				Field:  path + "." + a.name,
				Reason: "give growth either as multipliers (month_N_multiplier) or as absolute demand (demand_unit, current_demand, month_N_demand), not both",
			}}
		}
	}
	return nil
}

// kindOnlyField is a workload field that means something for some kinds only.
type kindOnlyField struct {
	name  string
	set   func(*inframindv1.Workload) bool
	kinds []string
}

// kindOnlyFields lists the fields a workload of another kind would silently
// ignore; refusing them catches a field put on the wrong workload.
func kindOnlyFields() []kindOnlyField {
	const (
		serving  = "llm_serving"
		training = "training"
		batch    = "batch_inference"
		rag      = "rag"
		general  = "general"
	)
	return []kindOnlyField{
		{"architecture", func(w *inframindv1.Workload) bool { return w.GetArchitecture() != nil }, []string{serving, training, batch, rag}},
		{"kv_cache_precision", func(w *inframindv1.Workload) bool { return w.GetKvCachePrecision() != "" }, []string{serving, batch, rag}},
		{"inter_token_latency_ms", func(w *inframindv1.Workload) bool { return w.GetInterTokenLatencyMs() > 0 }, []string{serving, rag}},
		{"min_tokens_per_second_per_user", func(w *inframindv1.Workload) bool { return w.GetMinTokensPerSecondPerUser() > 0 }, []string{serving, rag}},
		{"dataset_tokens_billion", func(w *inframindv1.Workload) bool { return w.GetDatasetTokensBillion() > 0 }, []string{training}},
		{"epochs", func(w *inframindv1.Workload) bool { return w.GetEpochs() > 0 }, []string{training}},
		{"deadline_days", func(w *inframindv1.Workload) bool { return w.GetDeadlineDays() > 0 }, []string{training}},
		{"preferred_gpu_count", func(w *inframindv1.Workload) bool { return w.GetPreferredGpuCount() > 0 }, []string{training}},
		{"completion_window_hours", func(w *inframindv1.Workload) bool { return w.GetCompletionWindowHours() > 0 }, []string{batch}},
		{"queries_per_second", func(w *inframindv1.Workload) bool { return w.GetQueriesPerSecond() > 0 }, []string{rag}},
		{"chunk_tokens", func(w *inframindv1.Workload) bool { return w.GetChunkTokens() > 0 }, []string{rag}},
		{"vector_count", func(w *inframindv1.Workload) bool { return w.GetVectorCount() > 0 }, []string{rag}},
		{"embedding_model", func(w *inframindv1.Workload) bool { return w.GetEmbeddingModel() != "" }, []string{rag}},
		{"top_k", func(w *inframindv1.Workload) bool { return w.GetTopK() > 0 }, []string{rag}},
		{"requests_per_second_per_instance", func(w *inframindv1.Workload) bool { return w.GetRequestsPerSecondPerInstance() > 0 }, []string{general}},
	}
}

// workloadErrors checks one workload's fields against each other.
func workloadErrors(path string, w *inframindv1.Workload) []FieldError {
	var out []FieldError
	add := func(field, format string, args ...any) {
		out = append(out, FieldError{Field: path + "." + field, Reason: fmt.Sprintf(format, args...)})
	}
	for _, f := range kindOnlyFields() {
		if f.set(w) && !slices.Contains(f.kinds, w.GetKind()) {
			add(f.name, "applies only to workloads of kind %s; this one is %s", orList(f.kinds), w.GetKind())
		}
	}
	if avg, peak := w.GetAvgRequestsPerSecond(), w.GetPeakRequestsPerSecond(); avg > 0 && peak > 0 && avg > peak {
		add("avg_requests_per_second", "must not exceed peak_requests_per_second (%g > %g)", avg, peak)
	}
	if w.GetTrainingTokensBillion() > 0 && w.GetDatasetTokensBillion() > 0 {
		add("dataset_tokens_billion", "give either training_tokens_billion or dataset_tokens_billion with epochs, not both")
	}
	// A mean cannot exceed the maximum it averages under: a typical request
	// (prompt plus completion) must fit the longest context allowed.
	if ctx, in, outTok := w.GetMaxContextTokens(), w.GetMeanInputTokens(), w.GetMeanOutputTokens(); ctx > 0 && in > 0 && outTok > 0 && int64(in)+int64(outTok) > int64(ctx) {
		add("max_context_tokens", "is smaller than mean_input_tokens + mean_output_tokens (%d + %d = %d); a typical request would not fit", in, outTok, int64(in)+int64(outTok))
	}
	// The retrieved chunks go into the prompt, so they must fit the context.
	if ctx, k, chunk := w.GetMaxContextTokens(), w.GetTopK(), w.GetChunkTokens(); ctx > 0 && k > 0 && chunk > 0 && int64(k)*int64(chunk) > int64(ctx) {
		add("top_k", "top_k x chunk_tokens (%d x %d = %d tokens) exceeds max_context_tokens (%d); the retrieved chunks would not fit in the prompt", k, chunk, int64(k)*int64(chunk), ctx)
	}
	if a := w.GetArchitecture(); a != nil {
		if w.GetModel() != "" {
			add("architecture", "give either model (a catalogue id) or architecture (a model not in the catalogue), not both")
		}
		if w.GetParamsBillion() > 0 {
			add("params_billion", "architecture.total_params_billion already gives the size; leave params_billion out")
		}
		out = append(out, ArchitectureErrors(path+".architecture", a)...)
	}
	return out
}

// ArchitectureErrors checks a custom architecture for figures that cannot
// belong to one transformer; path prefixes each field ("architecture" on the
// estimate routes, "workloads[0].architecture" in an assessment). It is the
// one rule set for both, so the same mistake gets the same message.
func ArchitectureErrors(path string, a *inframindv1.ModelArchitecture) []FieldError {
	var out []FieldError
	add := func(field, format string, args ...any) {
		out = append(out, FieldError{Field: path + "." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if act, total := a.GetActiveParamsBillion(), a.GetTotalParamsBillion(); act > 0 && act > total {
		add("active_params_billion", "must not exceed total_params_billion (%g > %g)", act, total)
	}
	heads, kv := a.GetAttentionHeads(), a.GetKvHeads()
	switch a.GetAttention() {
	case "mha":
		// Multi-head attention has one key/value head per query head
		// (Vaswani et al. 2017, "Attention Is All You Need", section 3.2.2).
		if heads > 0 && kv > 0 && kv != heads {
			add("kv_heads", "must equal attention_heads for attention mha (%d != %d); use gqa for fewer key/value heads", kv, heads)
		}
	case "gqa":
		// Grouped-query attention splits the query heads into kv_heads groups
		// of equal size, each sharing one key/value head (Ainslie et al. 2023,
		// "GQA", arXiv 2305.13245, section 2.2).
		if heads > 0 && kv > heads {
			add("kv_heads", "must not exceed attention_heads (%d > %d)", kv, heads)
		} else if heads > 0 && kv > 0 && heads%kv != 0 {
			add("kv_heads", "must divide attention_heads evenly for attention gqa (%d query heads cannot form %d equal groups)", heads, kv)
		}
	}
	if a.GetAttention() != "mla" && a.GetMlaLatentDim() > 0 {
		add("mla_latent_dim", "applies only to attention mla; this architecture uses %s", a.GetAttention())
	}
	return out
}
