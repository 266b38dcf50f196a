package analysis

import (
	"fmt"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"math"
	"slices"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// assumedRPSPerInstance is a planning placeholder for general services, not a
// measurement: a service's real per-instance throughput comes from a load test.
const assumedRPSPerInstance = 50.0

// workloadKinds lists the accepted workload kinds, for error messages.
const workloadKinds = "llm_serving, training, batch_inference, rag, general"

// cloudPlan accumulates the cloud family's result over the workloads.
type cloudPlan struct {
	metrics  []*inframindv1.Metric
	findings []*inframindv1.Finding
	// low and high are the plan's monthly on-demand range over priced workloads.
	low, high float64
	priced    []string
	unpriced  []string
}

func (p *cloudPlan) addMetric(m *inframindv1.Metric)   { p.metrics = append(p.metrics, m) }
func (p *cloudPlan) addFinding(f *inframindv1.Finding) { p.findings = append(p.findings, f) }

func analyzeCloud(_ *catalog.Catalog, req *inframindv1.AssessmentRequest) (Outcome, error) {
	workloads := req.GetWorkloads()
	if len(workloads) == 0 {
		return Outcome{}, unanalysable("workloads: at least one workload is required")
	}
	scope, err := providerScope(req.GetBusiness())
	if err != nil {
		return Outcome{}, err
	}
	plan := &cloudPlan{}
	for i, w := range workloads {
		if w == nil {
			return Outcome{}, unanalysable("workloads[%d]: missing", i)
		}
		label := workloadLabel(i, w)
		switch kind := norm(w.GetKind()); kind {
		case "llm_serving", "batch_inference":
			if err := planServing(plan, i, label, kind, w, scope); err != nil {
				return Outcome{}, err
			}
		case "rag":
			if strings.TrimSpace(w.GetModel()) == "" && w.GetParamsBillion() == 0 {
				plan.unpriced = append(plan.unpriced, label)
				plan.addFinding(finding(severityLow, "No generator model for "+label,
					fmt.Sprintf("%s is a RAG workload without model or params_billion, so its generator is not sized or priced; its retrieval index is not sized yet either.", label)))
				continue
			}
			if err := planServing(plan, i, label, kind, w, scope); err != nil {
				return Outcome{}, err
			}
		case "training":
			if err := planTraining(plan, i, label, w, scope); err != nil {
				return Outcome{}, err
			}
		case "general":
			if err := planGeneral(plan, i, label, w); err != nil {
				return Outcome{}, err
			}
		default:
			return Outcome{}, unanalysable("workloads[%d].kind: unknown kind %q (one of %s)", i, w.GetKind(), workloadKinds)
		}
	}

	scopeText := strings.Join(scope, ", ")
	pricedText := "no priced workloads"
	if len(plan.priced) > 0 {
		pricedText = "sum over " + strings.Join(plan.priced, ", ")
	}
	notPriced := ""
	if len(plan.unpriced) > 0 {
		notPriced = "; not priced: " + strings.Join(plan.unpriced, ", ")
	}
	plan.addMetric(metric(MetricMonthlyCostLow, plan.low, "USD/month",
		fmt.Sprintf("%s of each workload's cheapest fitting on-demand plan among %s (one replica, 730 h)%s = %s",
			pricedText, scopeText, notPriced, usd(plan.low)),
		srcMonth+"; instance prices as cited on each workload's metrics", ""))
	plan.addMetric(metric(MetricMonthlyCostHigh, plan.high, "USD/month",
		fmt.Sprintf("%s of each workload's dearest per-provider cheapest plan among %s (one replica, 730 h)%s = %s",
			pricedText, scopeText, notPriced, usd(plan.high)),
		srcMonth+"; instance prices as cited on each workload's metrics", ""))

	summary := fmt.Sprintf("Sized %s across %s: the priced part of the plan costs %s to %s a month on demand (memory floor, one replica per workload).",
		plural(len(workloads), "workload"), scopeText, usd(plan.low), usd(plan.high))
	if len(plan.priced) == 0 {
		summary = fmt.Sprintf("Sized %s across %s; none could be priced from the catalogue yet.", plural(len(workloads), "workload"), scopeText)
	}
	return Outcome{Summary: summary, Metrics: plan.metrics, Findings: plan.findings}, nil
}

// resolvedModel is a workload's parameter count and where it came from.
type resolvedModel struct {
	paramsB float64
	text    string
	source  string
}

// resolveModel finds the parameter count: a known model id wins; otherwise
// params_billion is used as given.
func resolveModel(i int, w *inframindv1.Workload) (resolvedModel, error) {
	id := norm(w.GetModel())
	params := w.GetParamsBillion()
	if params < 0 || math.IsNaN(params) || math.IsInf(params, 0) {
		return resolvedModel{}, unanalysable("workloads[%d].params_billion: must be a positive number, got %v", i, params)
	}
	if m, ok := models()[id]; ok {
		return resolvedModel{
			paramsB: m.paramsBillion(),
			text: fmt.Sprintf("%s has %s B parameters (counted from %d layers, hidden %d, FFN %d, %d KV heads, vocab %d)",
				m.name, num(m.paramsBillion()), m.layers, m.hidden, m.ffn, m.kvHeads, m.vocab),
			source: m.source,
		}, nil
	}
	if params > 0 {
		text := fmt.Sprintf("params_billion %s as given", num(params))
		if id != "" {
			text += fmt.Sprintf(" (model %q is not in the catalogue)", w.GetModel())
		}
		return resolvedModel{paramsB: params, text: text, source: "the request's params_billion"}, nil
	}
	if id != "" {
		return resolvedModel{}, unanalysable("workloads[%d].model: unknown model %q and no params_billion (known models: %s)",
			i, w.GetModel(), strings.Join(modelIDs(), ", "))
	}
	return resolvedModel{}, unanalysable("workloads[%d]: a %s workload needs model or params_billion", i, norm(w.GetKind()))
}

// resolvePrecision returns the precision and its bytes per parameter; an
// empty precision means bf16, the precision open models are published in.
func resolvePrecision(i int, w *inframindv1.Workload) (name string, bytes float64, assumed bool, err error) {
	name = norm(w.GetPrecision())
	if name == "" {
		name, assumed = "bf16", true
	}
	bytes, ok := precisionBytes()[name]
	if !ok {
		return "", 0, false, unanalysable("workloads[%d].precision: unknown precision %q (one of bf16, fp16, fp8, int8, int4)", i, w.GetPrecision())
	}
	return name, bytes, assumed, nil
}

// deployment is one way to hold a model in memory on a listed instance type.
type deployment struct {
	inst      instance
	gpusUsed  int
	instances int
	monthly   float64
}

func (d deployment) describe() string {
	return fmt.Sprintf("%d x %s %s (%dx %s, %s/h) x 730 h = %s",
		d.instances, d.inst.provider, d.inst.name, d.inst.gpuCount, d.inst.gpu.name, rate(d.inst.usdPerHour), usd(d.monthly))
}

// cheapestPerProvider returns, for each provider in scope (in scope order),
// the cheapest deployment whose GPUs hold needGB. A model is split across the
// GPUs of one instance by tensor parallelism; only 8-GPU machines of the
// 80 GB class (p4de/p5, ND96isr, a3-highgpu-8g: the ones built for multi-node
// work) are considered for spreading over several instances, since splitting
// a model over separate small machines is not a serving setup. FP8 needs GPUs
// with native FP8 support.
func cheapestPerProvider(needGB float64, precision string, scope []string) []deployment {
	best := map[string]deployment{}
	for _, in := range instances() {
		if !slices.Contains(scope, in.provider) || (precision == "fp8" && !in.gpu.fp8) {
			continue
		}
		gpus := int(math.Ceil(needGB / in.gpu.memoryGB))
		count := 1
		if gpus > in.gpuCount {
			if in.gpu.memoryGB < gpuClassGB || in.gpuCount < 8 {
				continue
			}
			count = int(math.Ceil(float64(gpus) / float64(in.gpuCount)))
		}
		d := deployment{inst: in, gpusUsed: gpus, instances: count, monthly: float64(count) * in.usdPerHour * hoursPerMonth}
		if cur, ok := best[in.provider]; !ok || d.monthly < cur.monthly {
			best[in.provider] = d
		}
	}
	out := make([]deployment, 0, len(best))
	for _, p := range scope {
		if d, ok := best[p]; ok {
			out = append(out, d)
		}
	}
	return out
}

func planServing(plan *cloudPlan, i int, label, kind string, w *inframindv1.Workload, scope []string) error {
	m, err := resolveModel(i, w)
	if err != nil {
		return err
	}
	precision, bytes, assumed, err := resolvePrecision(i, w)
	if err != nil {
		return err
	}
	if assumed {
		plan.addFinding(finding(severityLow, "Precision assumed for "+label,
			fmt.Sprintf("%s gives no precision; bf16 (2 bytes per parameter) is assumed. fp8 or int8 would halve the weight memory.", label)))
	}
	weights := m.paramsB * bytes
	need := weights * servingOverhead
	gpus80 := math.Ceil(need / gpuClassGB)

	plan.addMetric(metric("params_billion", m.paramsB, "billion parameters", m.text, m.source, label))
	plan.addMetric(metric("weights_gb", weights, "GB",
		fmt.Sprintf("%s B parameters x %s bytes (%s) = %s GB", num(m.paramsB), num(bytes), precision, num(weights)), srcPrecision, label))
	plan.addMetric(metric("serving_memory_gb", need, "GB",
		fmt.Sprintf("%s GB weights x %s runtime overhead = %s GB (KV cache for long contexts or many concurrent requests comes on top)", num(weights), num(servingOverhead), num(need)),
		srcOverhead, label))
	plan.addMetric(metric("gpus_80gb_min", gpus80, "GPUs",
		fmt.Sprintf("ceil(%s GB / 80 GB per GPU) = %s", num(need), num(gpus80)),
		srcOverhead+"; H100 SXM and A100 80GB hold 80 GB (stas00/ml-engineering)", label))

	deps := cheapestPerProvider(need, precision, scope)
	if len(deps) == 0 {
		plan.unpriced = append(plan.unpriced, label)
		plan.addFinding(finding(severityHigh, "No listed instance fits "+label,
			fmt.Sprintf("%s needs %s GB at %s and no listed instance among %s holds it.", label, num(need), precision, strings.Join(scope, ", "))))
		return nil
	}
	lowDep, highDep := deps[0], deps[0]
	for _, d := range deps[1:] {
		if d.monthly < lowDep.monthly {
			lowDep = d
		}
		if d.monthly > highDep.monthly {
			highDep = d
		}
	}
	plan.addMetric(metric("monthly_on_demand_usd_low", lowDep.monthly, "USD/month",
		"cheapest fitting plan: "+lowDep.describe(), lowDep.inst.source.label()+"; "+srcMonth, label))
	plan.addMetric(metric("monthly_on_demand_usd_high", highDep.monthly, "USD/month",
		"dearest provider's cheapest fitting plan: "+highDep.describe(), highDep.inst.source.label()+"; "+srcMonth, label))
	plan.low += lowDep.monthly
	plan.high += highDep.monthly
	plan.priced = append(plan.priced, label)

	lines := make([]string, 0, len(deps))
	for _, d := range deps {
		line := fmt.Sprintf("%s: %s, needing the memory of %d of its %d GPUs", d.inst.provider, d.describe(), d.gpusUsed, d.instances*d.inst.gpuCount)
		if d.instances > 1 {
			line += " across several machines (multi-node parallelism)"
		}
		lines = append(lines, line)
	}
	detail := fmt.Sprintf("%s at %s needs %s GB. Cheapest fitting on-demand plan per provider: %s. This is the memory floor for one replica",
		label, precision, num(need), strings.Join(lines, "; "))
	switch kind {
	case "batch_inference":
		detail += ", priced for continuous use all month (a job that runs part of the day costs proportionally less); throughput for the daily token volume is not sized yet."
	default:
		if peak := w.GetPeakRequestsPerSecond(); peak > 0 {
			detail += fmt.Sprintf("; throughput for %s requests/s at peak is not sized yet, so more replicas may be needed.", num(peak))
		} else {
			detail += "; no peak request rate is given, so throughput is not sized."
		}
	}
	plan.addFinding(finding(severityInfo, "Memory floor for "+label+": "+num(gpus80)+" x 80 GB GPU", detail))
	return nil
}

func planTraining(plan *cloudPlan, i int, label string, w *inframindv1.Workload, scope []string) error {
	m, err := resolveModel(i, w)
	if err != nil {
		return err
	}
	method := norm(w.GetMethod())
	var bytes float64
	var how, src string
	switch method {
	case "full":
		bytes, how, src = adamBytesPerParam, "full fine-tuning with mixed-precision Adam", srcZeRO
	case "lora":
		precision, b, _, err := resolvePrecision(i, w)
		if err != nil {
			return err
		}
		bytes, how, src = b, "LoRA with a frozen "+precision+" base (adapter states are small and left out)", srcPrecision
	case "qlora":
		bytes, how, src = qloraBytesPerParam, "QLoRA with a frozen 4-bit base (adapter states and quantisation scales left out)", srcQLoRA
	default:
		return unanalysable("workloads[%d].method: unknown training method %q (one of full, lora, qlora)", i, w.GetMethod())
	}
	tokens := w.GetTrainingTokensBillion()
	if tokens < 0 || math.IsNaN(tokens) || math.IsInf(tokens, 0) {
		return unanalysable("workloads[%d].training_tokens_billion: must be a positive number, got %v", i, tokens)
	}
	states := m.paramsB * bytes
	gpus80 := math.Ceil(states / gpuClassGB)
	plan.unpriced = append(plan.unpriced, label+" (one-off training job)")
	plan.addMetric(metric("params_billion", m.paramsB, "billion parameters", m.text, m.source, label))
	plan.addMetric(metric("training_state_memory_gb", states, "GB",
		fmt.Sprintf("%s B parameters x %s bytes (%s) = %s GB of model states; activations come on top", num(m.paramsB), num(bytes), how, num(states)),
		src, label))
	plan.addMetric(metric("gpus_80gb_min", gpus80, "GPUs",
		fmt.Sprintf("ceil(%s GB / 80 GB per GPU) = %s, a floor since activations are not counted", num(states), num(gpus80)), src, label))

	if tokens == 0 {
		plan.addFinding(finding(severityLow, "Training compute not estimated for "+label,
			fmt.Sprintf("%s gives no training_tokens_billion, so its compute, GPU-hours and cost are not estimated; it needs at least %s x 80 GB GPUs for model states.", label, num(gpus80))))
		return nil
	}
	flops := 6 * m.paramsB * 1e9 * tokens * 1e9
	hoursLow := flops / (h100BF16FLOPS * mfuHigh) / 3600
	hoursHigh := flops / (h100BF16FLOPS * mfuLow) / 3600
	upper := ""
	if method != "full" {
		upper = " (an upper bound for " + method + ", which skips the frozen base's weight gradients)"
	}
	plan.addMetric(metric("training_flops", flops, "FLOP",
		fmt.Sprintf("6 x %s B parameters x %s B tokens = %.3e FLOP%s", num(m.paramsB), num(tokens), flops, upper), srcTraining, label))
	plan.addMetric(metric("h100_gpu_hours_low", hoursLow, "GPU-hours",
		fmt.Sprintf("%.3e FLOP / (989 TFLOPS x MFU %s) / 3600 = %s", flops, num(mfuHigh), num(hoursLow)), srcTraining, label))
	plan.addMetric(metric("h100_gpu_hours_high", hoursHigh, "GPU-hours",
		fmt.Sprintf("%.3e FLOP / (989 TFLOPS x MFU %s) / 3600 = %s", flops, num(mfuLow), num(hoursHigh)), srcTraining, label))

	var cheap, dear *instance
	for _, in := range instances() {
		if in.gpu.name != "H100 80GB" || !slices.Contains(scope, in.provider) {
			continue
		}
		if cheap == nil || in.usdPerHour/float64(in.gpuCount) < cheap.usdPerHour/float64(cheap.gpuCount) {
			cheap = &in
		}
		if dear == nil || in.usdPerHour/float64(in.gpuCount) > dear.usdPerHour/float64(dear.gpuCount) {
			dear = &in
		}
	}
	if cheap == nil {
		plan.addFinding(finding(severityMedium, "Training cost not priced for "+label,
			fmt.Sprintf("No H100 instance is listed for %s, so the %s to %s H100 GPU-hours are not priced.", strings.Join(scope, ", "), num(hoursLow), num(hoursHigh))))
		return nil
	}
	perGPU := func(in *instance) float64 { return in.usdPerHour / float64(in.gpuCount) }
	costLow := hoursLow * perGPU(cheap)
	costHigh := hoursHigh * perGPU(dear)
	plan.addMetric(metric("training_cost_usd_low", costLow, "USD",
		fmt.Sprintf("%s GPU-hours x %s per GPU-hour (%s %s %s/h / %d GPUs) = %s", num(hoursLow), usd(perGPU(cheap)), cheap.provider, cheap.name, rate(cheap.usdPerHour), cheap.gpuCount, usd(costLow)),
		cheap.source.label()+"; "+srcTraining, label))
	plan.addMetric(metric("training_cost_usd_high", costHigh, "USD",
		fmt.Sprintf("%s GPU-hours x %s per GPU-hour (%s %s %s/h / %d GPUs) = %s", num(hoursHigh), usd(perGPU(dear)), dear.provider, dear.name, rate(dear.usdPerHour), dear.gpuCount, usd(costHigh)),
		dear.source.label()+"; "+srcTraining, label))
	plan.addFinding(finding(severityInfo, "Training job "+label+": "+usd(costLow)+" to "+usd(costHigh)+" one-off",
		fmt.Sprintf("%s (%s) needs at least %s x 80 GB GPUs for model states and %s to %s H100 GPU-hours at MFU %s-%s. It is a one-off cost, so it is not part of the monthly plan.",
			label, how, num(gpus80), num(hoursLow), num(hoursHigh), num(mfuLow), num(mfuHigh))))
	return nil
}

func planGeneral(plan *cloudPlan, i int, label string, w *inframindv1.Workload) error {
	peak := w.GetPeakRequestsPerSecond()
	if !(peak > 0) || math.IsInf(peak, 0) {
		return unanalysable("workloads[%d].peak_requests_per_second: must be > 0 for a general workload, got %v", i, peak)
	}
	n := math.Ceil(peak / assumedRPSPerInstance)
	plan.unpriced = append(plan.unpriced, label)
	plan.addMetric(metric("instances", n, "instances",
		fmt.Sprintf("ceil(%s requests/s at peak / %s requests/s per instance, assumed) = %s", num(peak), num(assumedRPSPerInstance), num(n)),
		"assumption: 50 requests/s per instance is a planning placeholder, not a measurement; replace it with a load test of the service", label))
	plan.addFinding(finding(severityMedium, "General service "+label+" not priced",
		fmt.Sprintf("%s needs about %s instances of %s vCPU / %s GB at %s requests/s if one instance serves %s requests/s (an assumption to replace with a load test). The catalogue has no CPU instance prices yet, so it is left out of the monthly cost.",
			label, num(n), num(w.GetVcpu()), num(w.GetMemoryGb()), num(peak), num(assumedRPSPerInstance))))
	return nil
}
