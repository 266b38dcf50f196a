package gateway

import (
	"maps"

	"github.com/infra-mind/infra-mind/pkg/advisor/estimate"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/api"
)

// The estimate answers are the document's InferenceEstimate and
// TrainingEstimate (pkg/api), built here from the engine's results. A field
// the document leaves optional is absent when the engine's value is zero or
// empty, and a list is null when the engine's is nil, so the answer holds
// exactly the fields and values it held when the engine's types were encoded
// as they were.

// inferenceView is the answer of POST /v1/estimates/inference.
func inferenceView(a *estimate.Inference) *api.InferenceEstimate {
	out := &api.InferenceEstimate{
		Feasible: a.Feasible, Reason: optional(a.Reason), Model: subjectView(a.Model), GPU: subjectView(a.GPU),
		Instance: instanceRefView(a.Instance), Precision: a.Precision, KVCachePrecision: a.KVCachePrecision,
		InputTokens: a.InputTokens, OutputTokens: a.OutputTokens, TensorParallel: a.TensorParallel,
		TensorParallelChosen: api.InferenceEstimateTensorParallelChosen(a.TensorParallelChosen),
		Memory: api.ReplicaMemory{
			WeightsGB: a.Memory.WeightsGB, OverheadGB: a.Memory.OverheadGB, KVBytesPerToken: a.Memory.KVBytesPerToken,
			KVBudgetGB: a.Memory.KVBudgetGB, MaxTokensInKV: a.Memory.MaxTokensInKV, MaxSequences: a.Memory.MaxSequences,
			Fits: a.Memory.Fits,
		},
		AtConcurrency: servingPointView(a.AtConcurrency),
		Costs:         costsView(a.Costs),
		Working:       workingView(a.Working),
		Catalog:       catalogView(a.Catalog),
	}
	if len(a.Layouts) > 0 {
		layouts := make([]api.InferenceLayout, len(a.Layouts))
		for i, l := range a.Layouts {
			layouts[i] = api.InferenceLayout{
				TensorParallel: l.TensorParallel, Fits: l.Fits, Feasible: l.Feasible, Reason: optional(l.Reason),
				MaxConcurrency: optional(l.MaxConcurrency), ReplicasForPeak: rangeRef(l.Replicas),
				CheapestMonthlyUSDForPeak:         rangeRef(l.CheapestMonthlyUSDForPeak),
				CheapestUSDPerMillionOutputTokens: rangeRef(l.CheapestUSDPerMillionOutputTokens),
				CheapestInstance:                  optional(l.CheapestInstance),
			}
		}
		out.Layouts = &layouts
	}
	if c := a.Capacity; c != nil {
		out.CapacityAtSLO = &api.SLOCapacity{Meets: c.Meets, MaxConcurrency: c.MaxConcurrency, Limit: c.Limit, Reason: c.Reason,
			AtCapacity: servingPointView(c.AtCapacity)}
	}
	if r := a.Replicas; r != nil {
		out.ReplicasForPeak = &api.PeakReplicas{PeakRequestsPerSecond: r.PeakRequestsPerSecond, Headroom: r.Headroom,
			PerReplicaRequestsPerSec: rangeView(r.PerReplicaRequestsPerSec), Replicas: rangeView(r.Replicas)}
	}
	return out
}

// trainingView is the answer of POST /v1/estimates/training.
func trainingView(a *estimate.Training) *api.TrainingEstimate {
	out := &api.TrainingEstimate{
		Feasible: a.Feasible, Reason: optional(a.Reason), Model: subjectView(a.Model), GPU: subjectView(a.GPU),
		Instance: instanceRefView(a.Instance), Method: a.Method, Precision: a.Precision, Gpus: a.GPUs,
		TokensBillion: a.TokensBillion, MFU: rangeView(a.MFU), Flops: a.FLOPs, FlopsRange: rangeView(a.FLOPsRange),
		GPUHours: rangeView(a.GPUHours), WallClockHours: rangeView(a.WallClockHours),
		MemoryPerGPUGB: maps.Clone(a.MemoryPerGPUGB), MethodMemoryGB: a.MethodMemoryGB, FitsPerGPU: a.FitsPerGPU,
		Strategy: a.Strategy, StrategyDescription: a.StrategyDescription, Parallelism: parallelismView(a.Parallelism),
		MinGpus: a.MinGPUs, ActivationsGB: rangeView(a.ActivationsGB), MemoryWithActivationsGB: rangeView(a.MemoryWithActivationsGB),
		UsableMemoryGB: a.UsableMemoryGB, SeqTokens: a.SeqTokens,
		Costs:   costsView(a.Costs),
		Working: workingView(a.Working),
		Catalog: catalogView(a.Catalog),
	}
	if !a.PipelineBubble.IsZero() {
		out.PipelineBubble = rangeRef(&a.PipelineBubble)
	}
	if a.Methods != nil {
		out.Methods = make([]api.TrainingMethodSizing, len(a.Methods))
		for i, m := range a.Methods {
			out.Methods[i] = api.TrainingMethodSizing{
				Method: api.TrainingMethodSizingMethod(m.Method), Layout: api.TrainingMethodSizingLayout(m.Layout),
				Strategy: m.Strategy, Description: m.Description, Parallelism: parallelismView(m.Parallelism),
				StatesGB: m.StatesGB, ActivationsGB: rangeView(m.ActivationsGB), MemoryPerGPUGB: rangeView(m.MemoryPerGPUGB),
				UsableGB: m.UsableGB, Fits: m.Fits, MinGpus: m.MinGPUs, MinParallelism: parallelismView(m.MinParallelism),
				MemoryAtMinGB: rangeView(m.MemoryAtMinGB),
			}
		}
	}
	return out
}

func rangeView(r sizing.Range) api.EstimateRange { return api.EstimateRange{Low: r.Low, High: r.High} }

func rangeRef(r *sizing.Range) *api.EstimateRange {
	if r == nil {
		return nil
	}
	v := rangeView(*r)
	return &v
}

func parallelismView(p sizing.TrainingParallelism) api.TrainingParallelism {
	return api.TrainingParallelism{Data: p.Data, Tensor: p.Tensor, Pipeline: p.Pipeline}
}

func subjectView(s estimate.Subject) api.EstimateSubject {
	return api.EstimateSubject{ID: optional(s.ID), Name: s.Name, ParamsTotalB: optional(s.ParamsTotalB),
		ParamsActiveB: optional(s.ParamsActiveB), MemoryGB: optional(s.MemoryGB)}
}

func instanceRefView(r *estimate.InstanceRef) *api.InstanceRef {
	if r == nil {
		return nil
	}
	return &api.InstanceRef{Provider: api.InstanceRefProvider(r.Provider), Name: r.Name}
}

func servingPointView(p *estimate.ServingPoint) *api.ServingPoint {
	if p == nil {
		return nil
	}
	out := &api.ServingPoint{
		Concurrency: p.Concurrency, RunningSequences: p.RunningSequences, TTFTMs: rangeView(p.TTFTms),
		TTFTP95Ms: rangeView(p.TTFTp95ms), ITLMs: rangeView(p.ITLms), TokensPerSecPerUser: rangeView(p.TokensPerSecPerUser),
		OutputTokensPerSec: rangeView(p.OutputTokensPerSec), RequestsPerSec: rangeView(p.RequestsPerSec),
		PrefillFraction: rangeView(p.PrefillFraction), Saturated: p.Saturated, SaturationReason: optional(p.SaturationReason),
	}
	if p.MeetsSLO != nil {
		meets := *p.MeetsSLO
		out.MeetsSLO = &meets
	}
	return out
}

func costsView(cs []estimate.InstanceCost) []api.InstanceCost {
	if cs == nil {
		return nil
	}
	out := make([]api.InstanceCost, len(cs))
	for i, c := range cs {
		out[i] = api.InstanceCost{
			Provider: c.Provider, Name: c.Name, GPUCount: c.GPUCount, PriceRegion: c.PriceRegion,
			OnDemandHourlyUSD: c.OnDemandHourlyUSD, Fits: c.Fits, Reason: optional(c.Reason),
			ReplicasPerInstance: optional(c.ReplicasPerInstance), InstanceMonthlyUSD: optional(c.InstanceMonthlyUSD),
			USDPerMillionOutputTokens: rangeRef(c.USDPerMillionOutputTokens), InstancesForPeak: rangeRef(c.InstancesForPeak),
			MonthlyUSDForPeak: rangeRef(c.MonthlyUSDForPeak), Instances: optional(c.Instances), RunUSD: rangeRef(c.RunUSD),
		}
	}
	return out
}

func workingView(w sizing.Working) api.EstimateWorking {
	return api.EstimateWorking{Assumptions: w.Assumptions, Formulas: w.Formulas}
}

func catalogView(u estimate.CatalogUse) api.CatalogUse {
	out := api.CatalogUse{Version: u.Version}
	if u.Rows != nil {
		out.Rows = make([]api.CatalogRow, len(u.Rows))
		for i, r := range u.Rows {
			out.Rows[i] = api.CatalogRow{Table: api.CatalogRowTable(r.Table), Key: r.Key, Source: r.Source, AsOf: r.AsOf}
		}
	}
	return out
}
