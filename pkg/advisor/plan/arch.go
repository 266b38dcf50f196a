package plan

import (
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// ArchFromModel maps a catalogue model row onto the sizing calculators' architecture. For MLA models
// (DeepSeek-V3) the cache width is MLALatentDim and kv_heads is not used (catalog README).
func ArchFromModel(m catalog.Model) sizing.Arch {
	a := sizing.Arch{
		ParamsTotalB:    m.ParamsTotalB,
		ParamsActiveB:   m.ParamsActiveB,
		Layers:          m.Layers,
		KVHeads:         m.KVHeads,
		HeadDim:         m.HeadDim,
		Attention:       m.Attention,
		HiddenSize:      m.Hidden,
		Experts:         m.Experts,
		ExpertsPerToken: m.ActiveExperts,
	}
	if m.Attention == sizing.AttentionMLA {
		a.MLALatentDim = m.MLALatentDim
	}
	return a
}

// ArchFromRequest maps a request's custom architecture block onto the sizing architecture. Expert
// counts are not part of the block, so a mixture of experts reads its active parameters per step
// (the sizing package's documented optimistic fallback).
func ArchFromRequest(a *inframindv1.ModelArchitecture) sizing.Arch {
	out := sizing.Arch{
		ParamsTotalB:  a.GetTotalParamsBillion(),
		ParamsActiveB: a.GetActiveParamsBillion(),
		Layers:        int(a.GetLayers()),
		KVHeads:       int(a.GetKvHeads()),
		HeadDim:       int(a.GetHeadDim()),
		Attention:     norm(a.GetAttention()),
		HiddenSize:    int(a.GetHiddenSize()),
	}
	if out.Attention == sizing.AttentionMLA {
		out.MLALatentDim = int(a.GetMlaLatentDim())
	}
	return out
}

// AcceleratorFromGPU maps a catalogue GPU row onto the sizing calculators' accelerator.
func AcceleratorFromGPU(g catalog.GPU) sizing.Accelerator {
	return sizing.Accelerator{
		Name:         g.Name,
		MemoryGB:     g.MemoryGB,
		BandwidthTBs: g.BandwidthTBs,
		BF16TFLOPS:   g.BF16TFLOPS,
		FP8TFLOPS:    g.FP8TFLOPS,
		FP16TFLOPS:   g.FP16TFLOPS,
		LinkGBs:      g.LinkGBs,
	}
}

// resolvedModel is the workload's model as the calculators see it.
type resolvedModel struct {
	arch sizing.Arch
	// ok is false when the workload gives no architecture the calculators can use; why says what is missing.
	ok     bool
	why    string
	name   string
	source string
	// maxContext is the model's context limit (0 when unknown).
	maxContext int
}

// resolveModel finds the workload's architecture: a catalogue model by id, or the request's custom
// architecture. params_billion alone is not enough to size a KV cache or a decode step.
func resolveModel(cat *catalog.Catalog, w *inframindv1.Workload) resolvedModel {
	if a := w.GetArchitecture(); a != nil {
		arch := ArchFromRequest(a)
		name := a.GetName()
		if name == "" {
			name = "custom architecture"
		}
		if err := arch.Validate(); err != nil {
			return resolvedModel{name: name, why: fmt.Sprintf("architecture: %v", err)}
		}
		return resolvedModel{arch: arch, ok: true, name: name + " (custom architecture)", source: "the request's architecture block"}
	}
	if id := norm(w.GetModel()); id != "" {
		if m, ok := cat.Model(id); ok {
			return resolvedModel{arch: ArchFromModel(m), ok: true, name: m.ID, source: fmt.Sprintf("catalogue model %s: %s, as of %s", m.ID, m.Source.Source, m.AsOf), maxContext: m.MaxContext}
		}
		return resolvedModel{name: w.GetModel(), why: fmt.Sprintf("model %q is not in the catalogue (catalogue %s: %v); describe it with an architecture block", w.GetModel(), cat.Version, cat.ModelIDs())}
	}
	if w.GetParamsBillion() > 0 {
		return resolvedModel{name: fmt.Sprintf("%g B parameters", w.GetParamsBillion()),
			why: "params_billion alone does not give the layers and KV heads the KV cache and decode step depend on; name a catalogue model or give an architecture block"}
	}
	return resolvedModel{why: "no model, architecture or params_billion is given"}
}

// precisionOf returns the workload's weight precision; empty means bf16, the precision open models
// are published in.
func precisionOf(w *inframindv1.Workload) (sizing.Precision, bool) {
	p := norm(w.GetPrecision())
	if p == "" {
		return sizing.BF16, true
	}
	return sizing.Precision(p), false
}

// kvPrecisionOf returns the KV-cache precision: the request's, else the serving engine's default,
// 16-bit activations (vLLM's kv_cache_dtype "auto" follows the model dtype; for 8/4-bit weights the
// activations stay 16-bit).
func kvPrecisionOf(w *inframindv1.Workload) sizing.Precision {
	if p := norm(w.GetKvCachePrecision()); p != "" {
		return sizing.Precision(p)
	}
	return sizing.BF16
}

// supports reports whether gpu can run weights at precision p, and why not. FP8 needs an FP8 peak
// (Hopper, Ada); bf16 on a GPU without BF16 (T4, V100) runs as FP16, which is allowed.
func supports(g catalog.GPU, p sizing.Precision) (bool, string) {
	if p == sizing.FP8 && g.FP8TFLOPS <= 0 {
		return false, g.Name + " has no FP8 support (catalogue fp8_tflops 0)"
	}
	return true, ""
}
