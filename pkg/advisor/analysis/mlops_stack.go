package analysis

import (
	"fmt"
	"slices"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// mlopsOption is one product named as an option for a component, with where
// its documentation lives. No figure is attached to any product: the
// catalogue holds none for them.
type mlopsOption struct {
	choice string
	docs   string
}

// mlopsStack is the set of options for every MLOps component on one platform.
type mlopsStack struct {
	managed     bool
	provider    string
	name        string
	reason      string
	alternative string

	serving, orchestration, tracking, registry, monitoring, cicd mlopsOption
}

// managedStacks lists each provider's managed ML platform services.
func managedStacks() map[string]mlopsStack {
	return map[string]mlopsStack{
		"aws": {managed: true, provider: "aws", name: "Amazon SageMaker AI (managed, aws)",
			serving:       mlopsOption{"SageMaker AI real-time endpoints running a vLLM container", "docs.aws.amazon.com/sagemaker (Real-time inference)"},
			orchestration: mlopsOption{"SageMaker Pipelines", "docs.aws.amazon.com/sagemaker (Pipelines)"},
			tracking:      mlopsOption{"MLflow managed by SageMaker AI", "docs.aws.amazon.com/sagemaker (MLflow)"},
			registry:      mlopsOption{"SageMaker Model Registry", "docs.aws.amazon.com/sagemaker/latest/dg/model-registry-models.html"},
			monitoring:    mlopsOption{"SageMaker Model Monitor with Amazon CloudWatch", "docs.aws.amazon.com/sagemaker (Model Monitor)"},
			cicd:          mlopsOption{"SageMaker Projects templates or the team's Git CI", "docs.aws.amazon.com/sagemaker (Projects)"},
		},
		"azure": {managed: true, provider: "azure", name: "Azure Machine Learning (managed, azure)",
			serving:       mlopsOption{"Azure Machine Learning managed online endpoints", "learn.microsoft.com/azure/machine-learning (online endpoints)"},
			orchestration: mlopsOption{"Azure Machine Learning pipelines", "learn.microsoft.com/azure/machine-learning (pipelines)"},
			tracking:      mlopsOption{"MLflow tracking in the Azure Machine Learning workspace", "learn.microsoft.com/azure/machine-learning/concept-mlflow"},
			registry:      mlopsOption{"Azure Machine Learning model registry (MLflow-compatible)", "learn.microsoft.com/azure/machine-learning/concept-mlflow"},
			monitoring:    mlopsOption{"Azure Machine Learning model monitoring with Azure Monitor", "learn.microsoft.com/azure/machine-learning (model monitoring)"},
			cicd:          mlopsOption{"GitHub Actions or Azure Pipelines with the Azure Machine Learning CLI v2", "learn.microsoft.com/azure/machine-learning (MLOps with GitHub Actions)"},
		},
		"gcp": {managed: true, provider: "gcp", name: "Vertex AI (managed, gcp)",
			serving:       mlopsOption{"Vertex AI online inference endpoints running a vLLM container", "cloud.google.com/vertex-ai/docs (online inference)"},
			orchestration: mlopsOption{"Vertex AI Pipelines (Kubeflow Pipelines SDK)", "cloud.google.com/vertex-ai/docs (Vertex AI Pipelines)"},
			tracking:      mlopsOption{"Vertex AI Experiments", "cloud.google.com/vertex-ai/docs/experiments"},
			registry:      mlopsOption{"Vertex AI Model Registry", "cloud.google.com/vertex-ai/docs (Model Registry)"},
			monitoring:    mlopsOption{"Vertex AI Model Monitoring with Cloud Monitoring", "cloud.google.com/vertex-ai/docs (Model Monitoring)"},
			cicd:          mlopsOption{"Cloud Build", "cloud.google.com/build/docs"},
		},
	}
}

// openSourceStack is the portable stack on Kubernetes; kubernetes names the
// managed Kubernetes service it runs on.
func openSourceStack(provider, kubernetes string) mlopsStack {
	name := "open source on Kubernetes"
	if kubernetes != "" {
		name = "open source on " + kubernetes + " (" + provider + ")"
	}
	return mlopsStack{provider: provider, name: name,
		serving:       mlopsOption{"vLLM's OpenAI-compatible server as a Kubernetes Deployment, optionally under KServe", "docs.vllm.ai/en/latest/deployment/integrations/kserve/"},
		orchestration: mlopsOption{"Kubeflow Pipelines or Argo Workflows", "kubeflow.org/docs/components/pipelines; argoproj.github.io/workflows"},
		tracking:      mlopsOption{"MLflow Tracking", "mlflow.org/docs (Tracking)"},
		registry:      mlopsOption{"MLflow Model Registry", "mlflow.org/docs (Model Registry)"},
		monitoring:    mlopsOption{"Prometheus and Grafana scraping the serving engine's metrics endpoint", "prometheus.io/docs; docs.vllm.ai (metrics)"},
		cicd:          mlopsOption{"the team's Git CI (GitHub Actions, GitLab CI) with Argo CD for GitOps deployment", "argo-cd.readthedocs.io"},
	}
}

// managedKubernetes names each provider's managed Kubernetes service.
func managedKubernetes() map[string]string {
	return map[string]string{"aws": "Amazon EKS", "azure": "Azure Kubernetes Service", "gcp": "Google Kubernetes Engine"}
}

// chooseMLOpsStack applies Infra Mind's stack rule (an assumption, stated in
// the result): a team with at least 2 ops engineers and intermediate or
// expert expertise can run an open-source stack on managed Kubernetes, which
// keeps it portable; a smaller or less experienced team gets its preferred
// cloud's managed ML platform, which moves operations to the provider; with
// no preferred cloud, the open-source stack, which runs on any of them.
func chooseMLOpsStack(t *inframindv1.Team, expertise string, preference, scope []string) mlopsStack {
	preferred := ""
	for _, p := range preference {
		if n := norm(p); slices.Contains(scope, n) {
			preferred = n
			break
		}
	}
	ops := t.GetOpsEngineers()
	capable := ops >= 2 && (expertise == "intermediate" || expertise == "expert")
	inputs := fmt.Sprintf("%s, expertise %q, preferred cloud %q", plural(int(ops), "ops engineer"), expertise, preferred)
	const rule = "rule: >= 2 ops engineers with intermediate or expert expertise -> open source on managed Kubernetes; otherwise the preferred cloud's managed ML platform; no preferred cloud -> open source"
	switch {
	case preferred == "":
		s := openSourceStack("", "")
		s.reason = fmt.Sprintf("%s -> open source, portable across %v (%s)", inputs, scope, rule)
		s.alternative = "State a preferred cloud to get its managed ML platform as an option."
		return s
	case capable:
		k := managedKubernetes()[preferred]
		s := openSourceStack(preferred, k)
		m := managedStacks()[preferred]
		s.reason = fmt.Sprintf("%s -> open source on %s (%s)", inputs, k, rule)
		s.alternative = fmt.Sprintf("Alternative with less to operate: %s (%s for serving, %s for the registry).", m.name, m.serving.choice, m.registry.choice)
		return s
	default:
		s := managedStacks()[preferred]
		o := openSourceStack(preferred, managedKubernetes()[preferred])
		s.reason = fmt.Sprintf("%s -> %s (%s)", inputs, s.name, rule)
		s.alternative = fmt.Sprintf("Once the team has 2 or more ops engineers at intermediate level, %s (%s, %s) keeps the stack portable.", o.name, o.serving.choice, o.registry.choice)
		return s
	}
}

// mlopsComponent is one component of the recommended stack and why it is in.
type mlopsComponent struct {
	component, choice, why, docs string
}

// mlopsComponents picks the components the maturity level and the workload
// mix call for, following what each of Google's levels adds (srcMaturity):
// level 0 deploys by hand but still versions models and watches them, level
// 1 adds an automated training pipeline, level 2 adds CI/CD of the pipelines.
func mlopsComponents(s mlopsStack, level int, mix mlopsWorkloadMix) []mlopsComponent {
	var out []mlopsComponent
	add := func(name string, o mlopsOption, why string) {
		out = append(out, mlopsComponent{component: name, choice: o.choice, why: why, docs: o.docs})
	}
	models := mix.serving + mix.training
	if mix.serving > 0 {
		add("Serving", s.serving, fmt.Sprintf("Serving %s; the engine per workload is named below.", plural(mix.serving, "workload")))
	}
	if (level >= 1 && mix.training > 0) || mix.batch > 0 {
		why := fmt.Sprintf("At level %d training runs as an automated pipeline (continuous training).", level)
		if mix.batch > 0 && (level == 0 || mix.training == 0) {
			why = fmt.Sprintf("%s run on a schedule and need a scheduler with retries.", plural(mix.batch, "batch job"))
		}
		add("Orchestration", s.orchestration, why)
	}
	if mix.training > 0 || level >= 1 {
		add("Experiment tracking", s.tracking, "Every training or evaluation run records its parameters, data version and metrics, so a model can be traced and reproduced.")
	}
	if models > 0 {
		add("Model registry", s.registry, "Each model or adapter version is registered with its evaluation before it is deployed, so a rollback is a registry change.")
	}
	monitoring := "Latency, error rate and throughput of every service, with alerts on the SLO."
	if mix.serving > 0 {
		monitoring = "Time to first token, inter-token latency, queue depth and KV-cache use per replica, with alerts on the SLO; and output quality checks on sampled traffic."
	}
	add("Monitoring", s.monitoring, monitoring)
	cicd := "Serving code and configuration are built, tested and deployed from version control; model promotion is a manual, recorded step at level 0."
	switch level {
	case 1:
		cicd = "Serving code is deployed from version control; the training pipeline promotes validated models automatically."
	case 2:
		cicd = "The pipelines themselves are built, tested and deployed automatically (level 2), as are serving code and model promotion."
	}
	add("CI/CD", s.cicd, cicd)
	return out
}
