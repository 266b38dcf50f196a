package analysis_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// generalWorkloads returns n ordinary services, the simplest valid workloads.
func generalWorkloads(n int) []*inframindv1.Workload {
	ws := make([]*inframindv1.Workload, n)
	for i := range ws {
		ws[i] = &inframindv1.Workload{Kind: "general", PeakRequestsPerSecond: 1}
	}
	return ws
}

// Maturity rule: level 2 needs >= 2 ML, >= 1 ops and expert; level 1 needs
// >= 1 ML, >= 1 ops and intermediate or expert; otherwise level 0.
func TestMLOpsMaturityLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		team *inframindv1.Team
		want float64
	}{
		{name: "nobody on ML", team: &inframindv1.Team{Engineers: 5, Expertise: "expert"}, want: 0},
		{name: "beginners", team: &inframindv1.Team{MlEngineers: 3, OpsEngineers: 2, Expertise: "beginner"}, want: 0},
		{name: "expertise unstated", team: &inframindv1.Team{MlEngineers: 3, OpsEngineers: 2}, want: 0},
		{name: "no ops", team: &inframindv1.Team{MlEngineers: 4, Expertise: "expert"}, want: 0},
		{name: "one of each, intermediate", team: &inframindv1.Team{MlEngineers: 1, OpsEngineers: 1, Expertise: "Intermediate"}, want: 1},
		{name: "one ML expert", team: &inframindv1.Team{MlEngineers: 1, OpsEngineers: 1, Expertise: "expert"}, want: 1},
		{name: "deep intermediate team", team: &inframindv1.Team{MlEngineers: 5, OpsEngineers: 3, Expertise: "intermediate"}, want: 1},
		{name: "expert team", team: &inframindv1.Team{MlEngineers: 2, OpsEngineers: 1, Expertise: "expert"}, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: tc.team}, Workloads: generalWorkloads(1)}
			o, err := analyzer.Analyze(assessment.FamilyMLOps, req, nil)
			require.NoError(t, err)
			m := metricOf(t, o, "mlops_maturity_level", "")
			require.Equal(t, tc.want, m.GetValue())
			require.Contains(t, m.GetSource(), "Google Cloud Architecture Center")
		})
	}
}

// Stack rule: >= 2 ops engineers with intermediate or expert expertise ->
// open source on the preferred cloud's managed Kubernetes; otherwise that
// cloud's managed ML platform; no preferred cloud -> open source.
func TestMLOpsStackFitsTeamAndCloud(t *testing.T) {
	t.Parallel()
	serving := []*inframindv1.Workload{{Name: "chat", Kind: "llm_serving", PeakRequestsPerSecond: 2}}
	tests := []struct {
		name        string
		team        *inframindv1.Team
		pref, excl  []string
		wantManaged float64
		wantStack   string
		wantServing string
	}{
		{name: "small team on aws gets sagemaker", team: &inframindv1.Team{MlEngineers: 1, OpsEngineers: 1, Expertise: "expert"}, pref: []string{"aws"},
			wantManaged: 1, wantStack: "MLOps stack: Amazon SageMaker AI", wantServing: "Serving: SageMaker AI real-time endpoints"},
		{name: "beginners on azure get azure machine learning", team: &inframindv1.Team{MlEngineers: 2, OpsEngineers: 4, Expertise: "beginner"}, pref: []string{"azure"},
			wantManaged: 1, wantStack: "MLOps stack: Azure Machine Learning", wantServing: "Serving: Azure Machine Learning managed online endpoints"},
		{name: "an ops team on gcp runs open source on gke", team: &inframindv1.Team{MlEngineers: 2, OpsEngineers: 2, Expertise: "intermediate"}, pref: []string{"gcp"},
			wantManaged: 0, wantStack: "MLOps stack: open source on Google Kubernetes Engine (gcp)", wantServing: "Serving: vLLM's OpenAI-compatible server"},
		{name: "an excluded preference is skipped", team: &inframindv1.Team{MlEngineers: 1}, pref: []string{"gcp"}, excl: []string{"aws"},
			wantManaged: 1, wantStack: "MLOps stack: Vertex AI", wantServing: "Serving: Vertex AI online inference endpoints"},
		{name: "no preferred cloud stays portable", team: &inframindv1.Team{MlEngineers: 1},
			wantManaged: 0, wantStack: "MLOps stack: open source on Kubernetes", wantServing: "Serving: vLLM's OpenAI-compatible server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &inframindv1.AssessmentRequest{
				Business:  &inframindv1.Business{Team: tc.team, ProviderPreference: tc.pref, ProviderExclusions: tc.excl},
				Workloads: serving,
			}
			o, err := analyzer.Analyze(assessment.FamilyMLOps, req, nil)
			require.NoError(t, err)
			require.Equal(t, tc.wantManaged, metricOf(t, o, "mlops_managed_stack", "").GetValue())
			findingWithTitle(t, o, tc.wantStack)
			require.Contains(t, findingWithTitle(t, o, tc.wantServing).GetDetail(), "Documentation: ")
		})
	}
}

// Components by level (Google's levels): level 0 has no training pipeline,
// level 1 adds orchestration for continuous training, level 2 CI/CD of the
// pipelines; batch jobs need a scheduler at any level.
func TestMLOpsComponentsFollowTheLevel(t *testing.T) {
	t.Parallel()
	training := &inframindv1.Workload{Name: "tune", Kind: "training", Method: "lora"}
	batch := &inframindv1.Workload{Name: "nightly", Kind: "batch_inference", TokensPerDayMillion: 10}
	tests := []struct {
		name      string
		team      *inframindv1.Team
		workloads []*inframindv1.Workload
		want      float64
		has, not  []string
	}{
		{name: "level 0 training: no pipeline yet", team: &inframindv1.Team{MlEngineers: 1}, workloads: []*inframindv1.Workload{training},
			want: 4, has: []string{"Experiment tracking: ", "Model registry: ", "Monitoring: ", "CI/CD: ", "Retraining stays manual for tune"}, not: []string{"Orchestration: ", "Serving: "}},
		{name: "level 1 training: continuous training", team: &inframindv1.Team{MlEngineers: 1, OpsEngineers: 1, Expertise: "intermediate"}, workloads: []*inframindv1.Workload{training},
			want: 5, has: []string{"Orchestration: ", "Continuous training pipeline for tune"}},
		{name: "level 0 batch: a scheduler anyway", team: &inframindv1.Team{MlEngineers: 1}, workloads: []*inframindv1.Workload{batch},
			want: 5, has: []string{"Orchestration: ", "Serving: "}, not: []string{"Experiment tracking: "}},
		{name: "general services only", team: &inframindv1.Team{Engineers: 3}, workloads: generalWorkloads(2),
			want: 2, has: []string{"Monitoring: ", "CI/CD: "}, not: []string{"Model registry: ", "Serving: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: tc.team, ProviderPreference: []string{"gcp"}}, Workloads: tc.workloads}
			o, err := analyzer.Analyze(assessment.FamilyMLOps, req, nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, metricOf(t, o, "mlops_components_count", "").GetValue())
			for _, part := range tc.has {
				findingWithTitle(t, o, part)
			}
			for _, part := range tc.not {
				for _, f := range o.Findings {
					require.NotContains(t, f.GetTitle(), part)
				}
			}
		})
	}
}

func TestMLOpsEngineByWorkload(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{
		Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 2}},
		Workloads: []*inframindv1.Workload{
			{Name: "chat", Kind: "llm_serving", PeakRequestsPerSecond: 12},
			{Name: "nightly", Kind: "batch_inference", TokensPerDayMillion: 300},
			{Name: "adapt", Kind: "training", Method: "qlora"},
			{Name: "api", Kind: "general"},
		},
	}
	o, err := analyzer.Analyze(assessment.FamilyMLOps, req, nil)
	require.NoError(t, err)
	require.Contains(t, findingWithTitle(t, o, "vLLM for chat").GetDetail(), "12 requests/s peak")
	require.Contains(t, findingWithTitle(t, o, "vLLM (offline batch mode) for nightly").GetDetail(), "300 M tokens a day")
	require.Contains(t, findingWithTitle(t, o, "QLoRA) for adapt").GetDetail(), "arXiv 2305.14314")
	findingWithTitle(t, o, "no model server for api")
	// A level-0 team with a training workload is told retraining stays manual.
	require.Equal(t, "medium", findingWithTitle(t, o, "Retraining stays manual for adapt").GetSeverity())
	require.Equal(t, "low", findingWithTitle(t, o, "Team expertise not stated").GetSeverity())
	require.Equal(t, 1.0, metricOf(t, o, "training_workloads_count", "").GetValue())
	require.Equal(t, 2.0, metricOf(t, o, "serving_workloads_count", "").GetValue())
}

func TestMLOpsRejects(t *testing.T) {
	t.Parallel()
	team := &inframindv1.Team{Engineers: 1}
	tests := []struct {
		name    string
		req     *inframindv1.AssessmentRequest
		wantMsg string
	}{
		{name: "no team", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{}, Workloads: generalWorkloads(1)}, wantMsg: "business.team: missing"},
		{name: "negative ops", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{OpsEngineers: -1}}, Workloads: generalWorkloads(1)},
			wantMsg: "business.team.ops_engineers: must be >= 0"},
		{name: "unknown expertise", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Expertise: "guru"}}, Workloads: generalWorkloads(1)},
			wantMsg: `business.team.expertise: unknown expertise "guru"`},
		{name: "no workloads", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team}}, wantMsg: "workloads: at least one"},
		{name: "unknown kind", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team}, Workloads: []*inframindv1.Workload{{Kind: "crypto"}}},
			wantMsg: `workloads[0].kind: unknown kind "crypto"`},
		{name: "unknown method", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team}, Workloads: []*inframindv1.Workload{{Kind: "training", Method: "rlhf"}}},
			wantMsg: `workloads[0].method: unknown training method "rlhf"`},
		{name: "unknown provider", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team, ProviderPreference: []string{"ibm"}}, Workloads: generalWorkloads(1)},
			wantMsg: `business.provider_preference[0]: unknown provider "ibm"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilyMLOps, tc.req, nil)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable), "%v", err)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
