package analysis

import (
	"fmt"
	"slices"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

const srcMaturity = "Google Cloud Architecture Center, MLOps: Continuous delivery and automation pipelines in machine learning (cloud.google.com/architecture/mlops-continuous-delivery-and-automation-pipelines-in-machine-learning), levels 0-2; the team-to-level rule is Infra Mind's assumption"

// mlopsKinds lists the workload kinds the request format accepts.
const mlopsKinds = "llm_serving, training, batch_inference, rag, general"

// maturityLevels describes Google's MLOps maturity levels in a sentence each
// (source: srcMaturity).
func maturityLevels() [3]string {
	return [3]string{
		"level 0, manual process: models are trained and deployed by hand from scripts and notebooks, with no CI/CD",
		"level 1, ML pipeline automation: an automated training pipeline retrains on new data (continuous training) with data and model validation and a metadata store",
		"level 2, CI/CD pipeline automation: the pipelines themselves are built, tested and deployed automatically",
	}
}

// maturityLevel fits the level to what the team can operate: automated
// pipelines need someone to build models and someone to run infrastructure,
// and CI/CD of pipelines needs depth in both. The thresholds are Infra Mind's
// assumption, stated with every result.
func maturityLevel(ml, ops int32, expertise string) (int, string) {
	const rule = "level 2 needs >= 2 ML engineers, >= 1 ops engineer and expert expertise; level 1 needs >= 1 ML engineer, >= 1 ops engineer and intermediate or expert expertise; otherwise level 0"
	switch {
	case ml >= 2 && ops >= 1 && expertise == "expert":
		return 2, rule
	case ml >= 1 && ops >= 1 && (expertise == "intermediate" || expertise == "expert"):
		return 1, rule
	default:
		return 0, rule
	}
}

// servingChoice is the engine suggested for one workload and why.
type servingChoice struct {
	engine string
	why    string
}

func engineFor(i int, w *inframindv1.Workload) (servingChoice, error) {
	const vllm = "continuous batching and PagedAttention's paged KV cache give 2-4x the throughput of earlier systems at the same latency (Kwon et al., SOSP 2023, arXiv 2309.06180); SGLang or TensorRT-LLM are alternatives with the same OpenAI-compatible interface"
	switch kind := norm(w.GetKind()); kind {
	case "llm_serving":
		load := "online serving"
		if peak := w.GetPeakRequestsPerSecond(); peak > 0 {
			load += " at " + num(peak) + " requests/s peak"
		}
		return servingChoice{"vLLM", load + ": " + vllm + ", behind an OpenAI-compatible API"}, nil
	case "batch_inference":
		job := "batch inference is a throughput job"
		if tpd := w.GetTokensPerDayMillion(); tpd > 0 {
			job = num(tpd) + " M tokens a day is a throughput job"
		}
		return servingChoice{"vLLM (offline batch mode)", job + ": " + vllm}, nil
	case "rag":
		over := ""
		if gb := w.GetCorpusGb(); gb > 0 {
			over = " over a " + num(gb) + " GB corpus"
		}
		return servingChoice{"vLLM for the generator", "retrieval-augmented answers" + over + " still end in LLM generation: " + vllm}, nil
	case "training":
		switch m := norm(w.GetMethod()); m {
		case "full":
			return servingChoice{"PyTorch FSDP", "full fine-tuning keeps 16 bytes per parameter of model states; FSDP shards parameters, gradients and optimizer states across GPUs as ZeRO-3 does (Rajbhandari et al., arXiv 1910.02054)"}, nil
		case "lora":
			return servingChoice{"Hugging Face PEFT (LoRA)", "LoRA trains small low-rank adapters; on GPT-3 175B it cut trainable parameters 10,000x and GPU memory 3x (Hu et al., arXiv 2106.09685)"}, nil
		case "qlora":
			return servingChoice{"Hugging Face PEFT with bitsandbytes 4-bit (QLoRA)", "QLoRA fine-tunes a 4-bit frozen base and fitted a 65B model on one 48 GB GPU (Dettmers et al., arXiv 2305.14314)"}, nil
		case "":
			return servingChoice{"PyTorch (method not stated)", "no training method is given; full, LoRA and QLoRA need different stacks"}, nil
		default:
			return servingChoice{}, unanalysable("workloads[%d].method: unknown training method %q (one of full, lora, qlora)", i, w.GetMethod())
		}
	case "general":
		return servingChoice{"no model server", "a general service runs as ordinary containers; the team's deployment pipeline and orchestrator serve it"}, nil
	default:
		return servingChoice{}, unanalysable("workloads[%d].kind: unknown kind %q (one of %s)", i, w.GetKind(), mlopsKinds)
	}
}

// mlopsValidateTeam rejects negative head counts, naming the field.
func mlopsValidateTeam(t *inframindv1.Team) error {
	for _, f := range []struct {
		name string
		v    int32
	}{{"engineers", t.GetEngineers()}, {"ml_engineers", t.GetMlEngineers()}, {"ops_engineers", t.GetOpsEngineers()}} {
		if f.v < 0 {
			return unanalysable("business.team.%s: must be >= 0, got %d", f.name, f.v)
		}
	}
	return nil
}

// mlopsWorkloadMix counts what the workloads need from an MLOps stack.
type mlopsWorkloadMix struct {
	// serving counts llm_serving, rag and batch_inference; batch counts the
	// batch_inference ones among them, which also need a scheduler.
	serving, batch, training, general int
}

func analyzeMLOps(cat *catalogueIndex, req *inframindv1.AssessmentRequest) (Outcome, error) {
	b := req.GetBusiness()
	t := b.GetTeam()
	if t == nil {
		return Outcome{}, unanalysable("business.team: missing; the MLOps maturity level is fitted to the team")
	}
	if err := mlopsValidateTeam(t); err != nil {
		return Outcome{}, err
	}
	if len(req.GetWorkloads()) == 0 {
		return Outcome{}, unanalysable("workloads: at least one workload is required")
	}
	scope, err := catalogueProviderScope(cat, b)
	if err != nil {
		return Outcome{}, err
	}
	var findings []*inframindv1.Finding
	expertise := norm(t.GetExpertise())
	switch {
	case expertise == "":
		findings = append(findings, finding(severityLow, "Team expertise not stated",
			"business.team.expertise is empty; the maturity and stack rules treat the team as beginners until it is stated."))
	case !slices.Contains([]string{"beginner", "intermediate", "expert"}, expertise):
		return Outcome{}, unanalysable("business.team.expertise: unknown expertise %q (one of beginner, intermediate, expert)", t.GetExpertise())
	}
	shown := expertise
	if shown == "" {
		shown = "unstated"
	}

	// Per workload: the engine, and what the mix needs from the platform.
	var mix mlopsWorkloadMix
	var workloadFindings []*inframindv1.Finding
	var trainingNames []string
	for i, w := range req.GetWorkloads() {
		c, err := engineFor(i, w)
		if err != nil {
			return Outcome{}, err
		}
		label := workloadLabel(i, w)
		workloadFindings = append(workloadFindings, about(finding(severityInfo, fmt.Sprintf("%s for %s", c.engine, label), fmt.Sprintf("%s (%s): %s.", label, norm(w.GetKind()), c.why)), label))
		switch norm(w.GetKind()) {
		case "training":
			mix.training++
			trainingNames = append(trainingNames, label)
		case "general":
			mix.general++
		case "batch_inference":
			mix.serving++
			mix.batch++
		default:
			mix.serving++
		}
	}

	team := fmt.Sprintf("%s, %s, expertise %s", plural(int(t.GetMlEngineers()), "ML engineer"), plural(int(t.GetOpsEngineers()), "ops engineer"), shown)
	level, rule := maturityLevel(t.GetMlEngineers(), t.GetOpsEngineers(), expertise)
	levels := maturityLevels()
	metrics := []*inframindv1.Metric{
		metric("mlops_maturity_level", float64(level), "level",
			fmt.Sprintf("%s -> level %d (rule: %s)", team, level, rule), srcMaturity, ""),
	}
	findings = append(findings, finding(severityInfo, fmt.Sprintf("Target MLOps maturity: level %d", level),
		fmt.Sprintf("With %s the team can operate %s (%s).", team, levels[level], srcMaturity)))

	stack := chooseMLOpsStack(t, expertise, b.GetProviderPreference(), scope)
	metrics = append(metrics, metric("mlops_managed_stack", boolValue(stack.managed), "flag (1 managed, 0 open source)",
		stack.reason, "Infra Mind's stack rule (an assumption) over business.team and business.provider_preference; products are named as options with their documentation", ""))
	stackFinding := finding(severityInfo, "MLOps stack: "+stack.name, stack.reason+". "+stack.alternative)
	stackFinding.Kind, stackFinding.Subject = KindMLOpsStack, stack.name
	findings = append(findings, stackFinding)

	comps := mlopsComponents(stack, level, mix)
	for _, c := range comps {
		findings = append(findings, finding(severityInfo, c.component+": "+c.choice, c.why+" Documentation: "+c.docs+"."))
	}
	names := make([]string, len(comps))
	for i, c := range comps {
		names[i] = c.component
	}
	metrics = append(metrics, metric("mlops_components_count", float64(len(comps)), "components",
		fmt.Sprintf("components needed at level %d for %s serving, %s and %s: {%s} = %d", level,
			plural(mix.serving, "model"), plural(mix.training, "training job"), plural(mix.general, "general service"), strings.Join(names, ", "), len(comps)),
		srcMaturity, ""))

	findings = append(findings, workloadFindings...)
	for _, label := range trainingNames {
		if level == 0 {
			findings = append(findings, about(finding(severityMedium, "Retraining stays manual for "+label,
				fmt.Sprintf("%s is a training workload, and at level 0 each retraining and redeployment is done by hand; level 1 automates it once the team has an ML engineer and an ops engineer with intermediate expertise.", label)), label))
		} else {
			findings = append(findings, about(finding(severityInfo, "Continuous training pipeline for "+label,
				fmt.Sprintf("At level %d, %s runs as a pipeline (data validation, training, evaluation, registration) triggered by new data or a schedule, on %s.", level, label, stack.orchestration.choice)), label))
		}
	}
	metrics = append(metrics,
		metric("training_workloads_count", float64(mix.training), "workloads",
			fmt.Sprintf("%d of %d workloads are training or fine-tuning jobs", mix.training, len(req.GetWorkloads())), "the request's workloads[].kind", ""),
		metric("serving_workloads_count", float64(mix.serving), "workloads",
			fmt.Sprintf("%d of %d workloads serve a model (llm_serving, rag, batch_inference)", mix.serving, len(req.GetWorkloads())), "the request's workloads[].kind", ""),
	)
	summary := fmt.Sprintf("The team (%d ML, %d ops, %s) fits MLOps maturity level %d on %s; %s matched to a serving or training stack.",
		t.GetMlEngineers(), t.GetOpsEngineers(), shown, level, stack.name, plural(len(req.GetWorkloads()), "workload"))
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
}

// boolValue is 1 for true and 0 for false, for flag metrics.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
