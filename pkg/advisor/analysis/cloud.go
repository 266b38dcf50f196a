package analysis

import (
	"errors"
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// topCandidates is how many ranked candidates per workload the result shows; the plan writes the
// working of those.
const topCandidates = plan.ShownCandidates

// srcPlanMonth names the billing convention every monthly figure uses, with
// its hours from plan.HoursPerMonth, the one month every formula uses.
func srcPlanMonth() string {
	return fmt.Sprintf("%g hours per month, the month of the catalogue's commitment prices: GCP's commit_1y_monthly and commit_3y_monthly (pkg/advisor/catalog data/instances/gcp.yaml) come from the Google Cloud pricing calculator's pricing.yml, which prices a month as 730 hours, and Azure's (data/instances/azure.yaml) are hourly savings plan rates x 730", plan.HoursPerMonth)
}

// srcPlan names the calculators behind a serving plan.
const srcPlan = "pkg/advisor/sizing (memory fit: EleutherAI Transformer Math 101, vLLM kv_cache_interface.py; latency: roofline decode and prefill calibrated on NVIDIA NIM Llama-3.3-70B; replicas: Little's law, Little 1961)"

// cloudResult accumulates the cloud family's metrics and findings.
type cloudResult struct {
	metrics  []*inframindv1.Metric
	findings []*inframindv1.Finding
}

func (r *cloudResult) metric(name string, value float64, unit, formula, source, workload string) {
	r.metrics = append(r.metrics, metric(name, value, unit, formula, source, workload))
}

func (r *cloudResult) finding(severity, title, detail string) *inframindv1.Finding {
	f := finding(severity, title, detail)
	r.findings = append(r.findings, f)
	return f
}

// rangeMetrics emits name_low and name_high for a range, marked as its ends.
func (r *cloudResult) rangeMetrics(name string, v sizing.Range, unit, formula, source, workload string) {
	r.metrics = append(r.metrics, rangeMetrics(name, v.Low, v.High, unit, formula, source, workload)...)
}

// analyzeCloud plans every workload over the catalogue (pkg/advisor/plan) and reports, per workload,
// the ranked candidates, the recommended deployment, the cheapest per provider, the supporting
// components and the contract metrics (contract.go). Impossible requests become findings.
func analyzeCloud(planner *plan.Planner, req *inframindv1.AssessmentRequest) (Outcome, error) {
	p, err := planner.Build(req)
	if errors.Is(err, plan.ErrNoWorkloads) {
		return Outcome{}, unanalysable("workloads: at least one workload is required")
	}
	if err != nil {
		return Outcome{}, unanalysable("%v", err)
	}
	r := &cloudResult{}
	for _, f := range p.Findings {
		r.finding(f.Severity, f.Title, f.Detail).Workload = f.Workload
	}
	if cons := p.Constraints; len(cons.Excluded) > 0 || len(cons.Residency) > 0 {
		detail := fmt.Sprintf("Providers planned on, in preference order: %s.", strings.Join(p.Providers, ", "))
		if len(cons.Excluded) > 0 {
			detail += " Left out: " + strings.Join(cons.Excluded, "; ") + "."
		}
		if len(cons.Residency) > 0 {
			detail += fmt.Sprintf(" Residency %s (from %s): only regions in it are eligible.", strings.Join(cons.Residency, ", "), cons.ResidencyFrom)
		}
		r.finding(severityInfo, "Constraints applied", detail)
	}
	for _, w := range p.Workloads {
		reportWorkload(r, w)
	}
	reportTotals(r, p)
	return Outcome{Summary: cloudSummary(p), Metrics: r.metrics, Findings: r.findings}, nil
}

// describe is one line for a candidate: where, how many, what it costs.
func describe(c plan.Candidate) string {
	s := fmt.Sprintf("%s %s (%d x %s) in %s", c.Provider, c.Instance, c.GPUsPerInstance, c.GPU, c.Region)
	if c.GPU == "" {
		s = fmt.Sprintf("%s %s (CPU) in %s", c.Provider, c.Instance, c.Region)
	}
	if c.Training != nil {
		return fmt.Sprintf("%s: %d GPUs, %s GPU-hours, %s h wall clock, %s one-off (%s)",
			s, c.Training.GPUs, c.Training.GPUHours, c.Training.WallClockHours, usdSpan(c.Training.CostUSD.Low, c.Training.CostUSD.High), c.Training.Strategy)
	}
	s += ": " + span.Count(c.Instances.Low, c.Instances.High, "instance", "instances")
	if c.TensorParallel > 0 {
		layout := fmt.Sprintf("TP %d", c.TensorParallel)
		if c.PipelineParallel > 1 {
			layout = fmt.Sprintf("PP %d x TP %d over %d machines each", c.PipelineParallel, c.TensorParallel, c.PipelineParallel)
		}
		s += fmt.Sprintf(", %s at %s (%s requests/s each within the SLO)", span.Count(c.Replicas.Low, c.Replicas.High, "replica", "replicas"), layout, c.ReplicaCapacityRPS)
	}
	s += fmt.Sprintf(", %s a month on demand", usdSpan(c.Monthly.OnDemand.Low, c.Monthly.OnDemand.High))
	if c.Monthly.Commit1Y != nil {
		s += fmt.Sprintf(", %s with a 1-year commitment", usdSpan(c.Monthly.Commit1Y.Low, c.Monthly.Commit1Y.High))
	}
	if c.Monthly.Spot != nil {
		s += fmt.Sprintf(", %s on spot", usdSpan(c.Monthly.Spot.Low, c.Monthly.Spot.High))
	}
	return s
}

// whyLayout is the working's line that says why the replica layout won, as a sentence, or "".
func whyLayout(c plan.Candidate) string {
	if c.LayoutWhy == "" {
		return ""
	}
	return " Layout " + c.LayoutWhy + "."
}

// working joins a working's lines for a formula field.
func working(w sizing.Working) string {
	parts := append([]string(nil), w.Formulas...)
	if len(w.Assumptions) > 0 {
		parts = append(parts, "assumptions: "+strings.Join(w.Assumptions, "; "))
	}
	return strings.Join(parts, "; ")
}

// reportWorkload emits one workload's findings and metrics.
func reportWorkload(r *cloudResult, w plan.WorkloadPlan) {
	for _, f := range w.Findings {
		r.finding(f.Severity, f.Title, f.Detail).Workload = f.Workload
	}
	label := w.Label
	if w.PeakRPS > 0 {
		src := "the request's peak_requests_per_second"
		formula := fmt.Sprintf("peak_requests_per_second = %s as stated", num(w.PeakRPS))
		if w.Kind == plan.KindBatch {
			src = "the request's tokens_per_day_million, completion_window_hours and token profile"
			formula = "required rate: " + working(w.Working)
		}
		r.metric(MetricPeakRPS, w.PeakRPS, "requests/s", formula, src, label)
	}
	if w.Kind == plan.KindGeneral && w.Instances.High > 0 {
		r.rangeMetrics("instances", w.Instances.Float(), "instances", working(w.Working),
			"the request's peak rate and requests_per_second_per_instance (or the stated 10-100 requests/s planning range); headroom 20-30% (planning assumption)", label)
		if c, ok := w.Chosen(); ok {
			r.finding(severityInfo, fmt.Sprintf("General service %s: %s", label, span.Count(w.Instances.Low, w.Instances.High, "instance", "instances")),
				fmt.Sprintf("%s. Priced on %s %s in %s.", working(w.Working), c.Provider, c.Instance, c.Region)).Workload = label
		} else {
			f := r.finding(severityInfo, fmt.Sprintf("General service %s: %s", label, span.Count(w.Instances.Low, w.Instances.High, "instance", "instances")),
				working(w.Working)+". Not priced: no general-purpose CPU machine in scope holds the stated vCPU and memory per instance.")
			f.Kind, f.Workload = KindUnpriced, label
		}
	}
	for _, comp := range w.Components {
		reportComponent(r, comp)
	}
	if len(w.Candidates) == 0 {
		return
	}
	// Ranked candidates: the top feasible ones with their working.
	// The loops read the candidates in place: a candidate is large, and a plan has thousands.
	var lines []string
	for i := range w.Candidates {
		c := &w.Candidates[i]
		if i >= topCandidates || !c.Feasible {
			break
		}
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, describe(*c)))
		r.metrics = append(r.metrics, rangeEnd(metric(fmt.Sprintf("candidate_%d_cost_usd_high", i+1), costHigh(*c), costUnit(*c),
			fmt.Sprintf("%s %s: %s", c.Provider, c.Instance, working(c.Working)), c.Source+"; "+srcPlan+"; "+srcPlanMonth(), label),
			fmt.Sprintf("candidate_%d_cost_usd", i+1), BoundHigh))
	}
	feasible := 0
	for i := range w.Candidates {
		if w.Candidates[i].Feasible {
			feasible++
		}
	}
	if len(lines) > 0 {
		r.finding(severityInfo, fmt.Sprintf("Ranked deployments for %s (%d of %d candidates feasible)", label, feasible, len(w.Candidates)),
			strings.Join(lines, "\n")).Workload = label
	}
	var per []string
	for _, pb := range w.CheapestPerProvider {
		per = append(per, describe(w.Candidates[pb.Index]))
	}
	if len(per) > 0 {
		r.finding(severityInfo, "Cheapest feasible deployment per provider for "+label, strings.Join(per, "\n")).Workload = label
	}
	c, ok := w.Chosen()
	if !ok {
		reportUnpricedTraining(r, w)
		return
	}
	f := r.finding(severityInfo, fmt.Sprintf("Recommended for %s: %s %s", label, c.Provider, c.Instance),
		describe(c)+". Chosen as the cheapest feasible deployment (pessimistic end) on the preferred providers in the users' regions (business.regions), else on the preferred providers, else in the users' regions, else overall."+whyLayout(c)+" Working: "+working(c.Working))
	f.Kind, f.Workload, f.Subject = KindDeployment, label, c.Provider+" "+c.Instance
	f.Deployment = &inframindv1.Deployment{Provider: c.Provider, Instance: c.Instance}
	src := c.Source + "; " + srcPlan + "; " + srcPlanMonth()
	if c.Training != nil {
		t := c.Training
		r.rangeMetrics("training_gpu_hours", t.GPUHours, "GPU-hours", working(c.Working), c.Source+"; sizing.EstimateTraining (6ND, Kaplan et al. 2020; MFU 0.35-0.45)", label)
		r.rangeMetrics("training_wall_clock_hours", t.WallClockHours, "hours", fmt.Sprintf("%s GPU-hours / %d GPUs = %s h", t.GPUHours, t.GPUs, t.WallClockHours), c.Source, label)
		r.rangeMetrics("training_cost_usd", t.CostUSD, "USD", working(c.Working), src, label)
		r.metric("training_memory_per_gpu_gb", t.MemoryPerGPUGB, "GB", fmt.Sprintf("%s model states per GPU (activations on top)", t.Strategy),
			"sizing.EstimateTraining (ZeRO arXiv 1910.02054; LoRA arXiv 2106.09685; QLoRA arXiv 2305.14314)", label)
		if t.DeadlineHours > 0 {
			sev := severityInfo
			if t.MeetsDeadline == "maybe" {
				sev = severityMedium
			}
			r.finding(sev, fmt.Sprintf("Deadline for %s: %s", label, t.MeetsDeadline),
				fmt.Sprintf("%s h of wall clock on %d GPUs against a %s-hour deadline (yes: even the pessimistic end meets it; maybe: only the optimistic end does).",
					t.WallClockHours, t.GPUs, num(t.DeadlineHours))).Workload = label
		}
		return
	}
	r.rangeMetrics("monthly_on_demand_usd", c.Monthly.OnDemand, "USD/month", working(c.Working), src, label)
	if c.GPU != "" {
		r.rangeMetrics("gpus", c.GPUs.Float(), "GPUs", span.Count(c.Instances.Low, c.Instances.High, "instance", "instances")+" x "+plural(c.GPUsPerInstance, "GPU"), src, label)
	}
	if c.TensorParallel > 0 {
		r.metric("tensor_parallel", float64(c.TensorParallel), "GPUs per replica",
			fmt.Sprintf("smallest degree holding the model and one sequence, or a larger one needing fewer instances, on %s: TP %d", c.Instance, c.TensorParallel), src, label)
		r.rangeMetrics(RangeReplicas, c.Replicas.Float(), "replicas", working(c.Working), src, label)
		r.rangeMetrics(RangeReplicaCapacityRPS, c.ReplicaCapacityRPS, "requests/s",
			fmt.Sprintf("largest concurrency meeting the SLO = %d; requests/s = concurrency / request time (Little's law) = %s", c.MaxConcurrency, c.ReplicaCapacityRPS), src, label)
		r.metric(MetricReplicaMonthlyUSD, c.ReplicaMonthlyUSD, "USD/month",
			c.ReplicaMonthlyFormula, src, label)
	}
	if !c.USDPerMTok.IsZero() {
		r.rangeMetrics("usd_per_mtok", c.USDPerMTok, "USD per million output tokens",
			fmt.Sprintf("%s a month / %s M output tokens a month at average load", usdSpan(c.Monthly.OnDemand.Low, c.Monthly.OnDemand.High), num(w.OutputTokensPerMonth/1e6)), src, label)
	}
}

// costHigh is a candidate's pessimistic cost: monthly, or one-off for training.
func costHigh(c plan.Candidate) float64 {
	if c.Training != nil {
		return c.Training.CostUSD.High
	}
	return c.Monthly.OnDemand.High
}

// costUnit is the unit of costHigh.
func costUnit(c plan.Candidate) string {
	if c.Training != nil {
		return "USD"
	}
	return "USD/month"
}

// reportComponent emits a supporting component as a finding and its size as a metric.
func reportComponent(r *cloudResult, c plan.Component) {
	name := c.Key
	src := "sizes from the request; formulas cited in the working"
	if c.Kind == "vector_store" {
		src = "embeddings x dims x 4 bytes (float32); HNSW graph M x 8-10 bytes per element (nmslib/hnswlib ALGO_PARAMS.md); 4 bytes per token (OpenAI tokenizer rule of thumb)"
	}
	if c.Kind == "egress" {
		src = "4 bytes per token (OpenAI Help Center, What are tokens and how to count them?)"
	}
	if c.Kind == "storage" && strings.HasPrefix(c.Name, "model weights") {
		src = "EleutherAI, Transformer Math 101: weights = params x bytes per param"
	}
	if c.Size.Low == c.Size.High {
		r.metric(name, c.Size.Low, c.Unit, c.Name+": "+working(c.Working), src, c.Workload)
	} else {
		r.rangeMetrics(name, c.Size, c.Unit, c.Name+": "+working(c.Working), src, c.Workload)
	}
	f := r.finding(severityInfo, fmt.Sprintf("%s for %s: %s %s", capitalise(c.Name), c.Workload, c.Size, c.Unit),
		working(c.Working)+". Sized, not priced: the catalogue holds no storage, network or load-balancer prices.")
	f.Kind, f.Workload = KindUnpriced, c.Workload
}

// capitalise upper-cases the first letter.
func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// reportTotals emits the plan-level contract metrics; a figure the plan cannot support is left out.
func reportTotals(r *cloudResult, p plan.Plan) {
	t := p.Totals
	notPriced := ""
	if len(t.Unpriced) > 0 {
		notPriced = "; not in the monthly total: " + strings.Join(t.Unpriced, ", ")
	}
	src := strings.Join(t.Sources, " | ") + "; " + srcPlanMonth()
	if len(t.Priced) > 0 {
		sum := "sum over " + strings.Join(t.Priced, ", ") + " of each recommended deployment: " + working(t.Working) + notPriced
		r.rangeMetrics(RangeMonthlyCost, t.Monthly.OnDemand, "USD/month", sum, src, "")
		for _, o := range []struct {
			rng  string
			v    *sizing.Range
			what string
		}{
			{RangeMonthlyCommit1Y, t.Monthly.Commit1Y, "1-year commitment"},
			{RangeMonthlyCommit3Y, t.Monthly.Commit3Y, "3-year commitment"},
			{RangeMonthlySpot, t.Monthly.Spot, "spot"},
		} {
			if o.v == nil {
				continue
			}
			f := fmt.Sprintf("%s prices of every recommended instance summed over %s = %s", o.what, strings.Join(t.Priced, ", "), usdSpan(o.v.Low, o.v.High))
			r.rangeMetrics(o.rng, *o.v, "USD/month", f, src, "")
		}
		g := fmt.Sprintf("GPUs of the recommended deployments at peak, summed over %s = %s", strings.Join(t.Priced, ", "), span.Format("%d", t.GPUs.Low, t.GPUs.High))
		r.metrics = append(r.metrics, rangeMetrics(RangePlanGPUs, float64(t.GPUs.Low), float64(t.GPUs.High), "GPUs", g, src, "")...)
	}
	if t.OutputTokensPerMonth > 0 {
		r.metric(MetricOutputTokensPerMonth, t.OutputTokensPerMonth, "tokens/month",
			fmt.Sprintf("sum over LLM workloads of average requests/s x mean output tokens x 3600 x %g (batch: daily tokens x output share x %g/24) = %.4g", plan.HoursPerMonth, plan.HoursPerMonth, t.OutputTokensPerMonth),
			"the request's avg_requests_per_second, mean_output_tokens and tokens_per_day_million; "+srcPlanMonth(), "")
		f := working(sizing.Working{Formulas: lastFormula(t.Working)})
		r.rangeMetrics(RangeSelfHostedUSDPerMTok, t.USDPerMTok, "USD per million output tokens", f, src, "")
	}
	if !t.OneOffUSD.IsZero() {
		r.rangeMetrics("one_off_training_usd", t.OneOffUSD, "USD", "sum of the recommended training jobs: "+working(t.Working), src, "")
	}
}

// lastFormula returns the last formula line (the per-token cost), if any.
func lastFormula(w sizing.Working) []string {
	if len(w.Formulas) == 0 {
		return nil
	}
	return w.Formulas[len(w.Formulas)-1:]
}

// cloudSummary says what the plan came to in a sentence or two.
func cloudSummary(p plan.Plan) string {
	t := p.Totals
	n := plural(len(p.Workloads), "workload")
	var high int
	for _, f := range p.AllFindings() {
		if f.Severity == severityHigh {
			high++
		}
	}
	s := fmt.Sprintf("Planned %s across %s.", n, strings.Join(p.Providers, ", "))
	if len(t.Priced) > 0 {
		s += fmt.Sprintf(" The recommended plan costs %s a month on demand for %s, on %s at peak.",
			span.Join(usd(t.Monthly.OnDemand.Low), usd(t.Monthly.OnDemand.High), " to "), strings.Join(t.Priced, ", "), span.Count(t.GPUs.Low, t.GPUs.High, "GPU", "GPUs"))
	} else {
		s += " No workload could be given a priced deployment."
	}
	if !t.OneOffUSD.IsZero() {
		s += fmt.Sprintf(" Training adds %s one-off.", span.Join(usd(t.OneOffUSD.Low), usd(t.OneOffUSD.High), " to "))
	}
	if high > 0 {
		s += fmt.Sprintf(" %s need attention (severity high).", plural(high, "finding"))
	}
	return s
}

// reportUnpricedTraining gives a training job the residency leaves without a
// priced region its compute, time and memory anyway (they do not depend on the
// region): from the candidate outside the residency whose model states fit a
// GPU and that finishes first (plan.WorkloadPlan.FastestUnpriced). The cost
// stays unknown until a regional price is catalogued.
func reportUnpricedTraining(r *cloudResult, w plan.WorkloadPlan) {
	if w.FastestUnpriced < 0 {
		return
	}
	best := &w.Candidates[w.FastestUnpriced]
	t, label := best.Training, w.Label
	src := best.Source + "; sizing.EstimateTraining (6ND, Kaplan et al. 2020; MFU 0.35-0.45)"
	r.rangeMetrics("training_gpu_hours", t.GPUHours, "GPU-hours", working(best.Working), src, label)
	r.rangeMetrics("training_wall_clock_hours", t.WallClockHours, "hours", fmt.Sprintf("%s GPU-hours / %d GPUs = %s h", t.GPUHours, t.GPUs, t.WallClockHours), best.Source, label)
	r.metric("training_memory_per_gpu_gb", t.MemoryPerGPUGB, "GB", fmt.Sprintf("%s model states per GPU (activations on top)", t.Strategy),
		"sizing.EstimateTraining (ZeRO arXiv 1910.02054; LoRA arXiv 2106.09685; QLoRA arXiv 2305.14314)", label)
	detail := fmt.Sprintf("On %d x %s (%s %s, the fastest fitting machine outside the residency): %s GPU-hours, %s hours, %.4g GB of %s model states per GPU. No cost: no instance is priced inside the residency.",
		t.GPUs, best.GPU, best.Provider, best.Instance, t.GPUHours, t.WallClockHours, t.MemoryPerGPUGB, t.Strategy)
	if t.DeadlineHours > 0 {
		detail += fmt.Sprintf(" Deadline %g hours: %s.", t.DeadlineHours, t.MeetsDeadline)
	}
	f := r.finding(severityMedium, "Compute for "+label+" without a priced region", detail)
	f.Kind, f.Workload, f.Topic = KindOutsideResidency, label, TopicRegion
}
