package analysis

import (
	"fmt"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"slices"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

const srcMaturity = "Google Cloud Architecture Center, MLOps: Continuous delivery and automation pipelines in machine learning (2020), levels 0-2; the team-to-level rule is Infra Mind's assumption"

// maturityLevels describes Google's MLOps maturity levels in a sentence each.
func maturityLevels() [3]string {
	return [3]string{
		"level 0, manual process: models are trained and deployed by hand from scripts and notebooks, with no CI/CD",
		"level 1, ML pipeline automation: an automated training pipeline retrains on new data (continuous training) with data and model validation and a metadata store",
		"level 2, CI/CD pipeline automation: the pipelines themselves are built, tested and deployed automatically",
	}
}

// maturityLevel fits the level to what the team can operate: automated
// pipelines need someone to build models and someone to run infrastructure,
// and CI/CD of pipelines needs depth in both.
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
	const vllm = "continuous batching and PagedAttention's paged KV cache give 2-4x the throughput of earlier systems at the same latency (Kwon et al., SOSP 2023, arXiv 2309.06180)"
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
		return servingChoice{}, unanalysable("workloads[%d].kind: unknown kind %q (one of %s)", i, w.GetKind(), workloadKinds)
	}
}

func analyzeMLOps(_ *catalog.Catalog, req *inframindv1.AssessmentRequest) (Outcome, error) {
	t := req.GetBusiness().GetTeam()
	if t == nil {
		return Outcome{}, unanalysable("business.team: missing; the MLOps maturity level is fitted to the team")
	}
	if err := validateTeam(t); err != nil {
		return Outcome{}, err
	}
	if len(req.GetWorkloads()) == 0 {
		return Outcome{}, unanalysable("workloads: at least one workload is required")
	}
	var findings []*inframindv1.Finding
	expertise := norm(t.GetExpertise())
	switch {
	case expertise == "":
		findings = append(findings, finding(severityLow, "Team expertise not stated",
			"business.team.expertise is empty; the maturity rule treats the team as beginners until it is stated."))
	case !slices.Contains([]string{"beginner", "intermediate", "expert"}, expertise):
		return Outcome{}, unanalysable("business.team.expertise: unknown expertise %q (one of beginner, intermediate, expert)", t.GetExpertise())
	}
	shown := expertise
	if shown == "" {
		shown = "unstated"
	}
	level, rule := maturityLevel(t.GetMlEngineers(), t.GetOpsEngineers(), expertise)
	levels := maturityLevels()
	metrics := []*inframindv1.Metric{
		metric("mlops_maturity_level", float64(level), "level",
			fmt.Sprintf("%s, %s, expertise %s -> level %d (rule: %s)", plural(int(t.GetMlEngineers()), "ML engineer"), plural(int(t.GetOpsEngineers()), "ops engineer"), shown, level, rule),
			srcMaturity, ""),
	}
	findings = append(findings, finding(severityInfo, fmt.Sprintf("Target MLOps maturity: level %d", level),
		fmt.Sprintf("With %s, %s and %s expertise the team can operate %s.", plural(int(t.GetMlEngineers()), "ML engineer"), plural(int(t.GetOpsEngineers()), "ops engineer"), shown, levels[level])))

	training := 0
	for i, w := range req.GetWorkloads() {
		c, err := engineFor(i, w)
		if err != nil {
			return Outcome{}, err
		}
		label := workloadLabel(i, w)
		findings = append(findings, finding(severityInfo, fmt.Sprintf("%s for %s", c.engine, label), fmt.Sprintf("%s (%s): %s.", label, norm(w.GetKind()), c.why)))
		if norm(w.GetKind()) == "training" {
			training++
			if level == 0 {
				findings = append(findings, finding(severityMedium, "Retraining stays manual for "+label,
					fmt.Sprintf("%s is a training workload, and at level 0 each retraining and redeployment is done by hand; level 1 automates it once the team has an ML engineer and an ops engineer with intermediate expertise.", label)))
			}
		}
	}
	metrics = append(metrics, metric("training_workloads_count", float64(training), "workloads",
		fmt.Sprintf("%d of %d workloads are training or fine-tuning jobs", training, len(req.GetWorkloads())), "the request's workloads", ""))
	summary := fmt.Sprintf("The team (%d ML, %d ops, %s) fits MLOps maturity level %d; %s.",
		t.GetMlEngineers(), t.GetOpsEngineers(), shown, level, plural(len(req.GetWorkloads()), "workload")+" matched to a serving or training stack")
	return Outcome{Summary: summary, Metrics: metrics, Findings: findings}, nil
}
