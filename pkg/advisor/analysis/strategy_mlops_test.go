package analysis_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func nWorkloads(n int) []*inframindv1.Workload {
	ws := make([]*inframindv1.Workload, n)
	for i := range ws {
		ws[i] = &inframindv1.Workload{Kind: "general", PeakRequestsPerSecond: 1}
	}
	return ws
}

// Roadmap rule: tracks = max(1, floor(team / 4)); phases = 1 + ceil(workloads / tracks).
func TestStrategyRoadmap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		team         *inframindv1.Team
		workloads    int
		timeline     int32
		budget       float64
		wantTeam     float64
		wantTracks   float64
		wantPhases   float64
		wantPerPhase float64 // 0: no timeline
		wantPerWork  float64 // 0: no budget
		wantFinding  map[string]string
	}{
		{name: "team of 7, 4 workloads", team: &inframindv1.Team{Engineers: 4, MlEngineers: 2, OpsEngineers: 1}, workloads: 4, timeline: 6, budget: 20000,
			wantTeam: 7, wantTracks: 1, wantPhases: 5, wantPerPhase: 1.2, wantPerWork: 5000,
			wantFinding: map[string]string{"Timeline: 6 months for 5 phases": "info", "No business goals stated": "medium"}},
		{name: "team of 8 doubles the tracks", team: &inframindv1.Team{Engineers: 8}, workloads: 4, timeline: 6, budget: 20000,
			wantTeam: 8, wantTracks: 2, wantPhases: 3, wantPerPhase: 2, wantPerWork: 5000},
		{name: "one person, one workload", team: &inframindv1.Team{MlEngineers: 1}, workloads: 1,
			wantTeam: 1, wantTracks: 1, wantPhases: 2,
			wantFinding: map[string]string{"No timeline stated": "low", "No monthly budget stated": "medium"}},
		{name: "too short a timeline", team: &inframindv1.Team{Engineers: 3}, workloads: 5, timeline: 3, budget: 1000,
			wantTeam: 3, wantTracks: 1, wantPhases: 6, wantPerPhase: 0.5, wantPerWork: 200,
			wantFinding: map[string]string{"Timeline: 3 months for 6 phases": "high"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &inframindv1.AssessmentRequest{
				Business:  &inframindv1.Business{Team: tc.team, TimelineMonths: tc.timeline, MonthlyBudgetUsd: tc.budget},
				Workloads: nWorkloads(tc.workloads),
			}
			o, err := analyzer.Analyze(assessment.FamilyStrategy, req, nil)
			require.NoError(t, err)
			require.Equal(t, tc.wantTeam, metricOf(t, o, "team_size_total", "").GetValue())
			require.Equal(t, float64(tc.workloads), metricOf(t, o, "workloads_count", "").GetValue())
			require.Equal(t, tc.wantTracks, metricOf(t, o, "delivery_tracks", "").GetValue())
			require.Equal(t, tc.wantPhases, metricOf(t, o, "roadmap_phases", "").GetValue())
			if tc.wantPerPhase > 0 {
				require.InDelta(t, tc.wantPerPhase, metricOf(t, o, "months_per_phase", "").GetValue(), 1e-9)
			} else {
				require.False(t, hasMetric(o, "months_per_phase", ""))
			}
			if tc.wantPerWork > 0 {
				require.InDelta(t, tc.wantPerWork, metricOf(t, o, "budget_per_workload_usd", "").GetValue(), 1e-9)
			} else {
				require.False(t, hasMetric(o, "budget_per_workload_usd", ""))
			}
			for title, sev := range tc.wantFinding {
				require.Equal(t, sev, findingWithTitle(t, o, title).GetSeverity(), title)
			}
		})
	}
}

func TestStrategyGoalsComeFromTheRequest(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{
		Business:  &inframindv1.Business{Team: &inframindv1.Team{Engineers: 2}, Goals: []string{"launch in the EU", " ", "halve support tickets"}},
		Workloads: nWorkloads(1),
	}
	o, err := analyzer.Analyze(assessment.FamilyStrategy, req, nil)
	require.NoError(t, err)
	f := findingWithTitle(t, o, "2 business goals")
	require.Contains(t, f.GetDetail(), `"launch in the EU"; "halve support tickets"`)
}

func TestStrategyMoreWorkloadsNeverFewerPhases(t *testing.T) {
	t.Parallel()
	for _, team := range []int32{1, 4, 9, 20} {
		prev := 0.0
		for n := 1; n <= 12; n++ {
			req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: team}}, Workloads: nWorkloads(n)}
			o, err := analyzer.Analyze(assessment.FamilyStrategy, req, nil)
			require.NoError(t, err)
			phases := metricOf(t, o, "roadmap_phases", "").GetValue()
			require.GreaterOrEqual(t, phases, prev, "team %d, %d workloads", team, n)
			prev = phases
		}
	}
}

func TestStrategyRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     *inframindv1.AssessmentRequest
		wantMsg string
	}{
		{name: "no business", req: &inframindv1.AssessmentRequest{Workloads: nWorkloads(1)}, wantMsg: "business: missing"},
		{name: "no workloads", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 1}}},
			wantMsg: "workloads: at least one workload is required"},
		{name: "no team", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{}, Workloads: nWorkloads(1)}, wantMsg: "business.team: no engineers"},
		{name: "negative ops", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 3, OpsEngineers: -1}}, Workloads: nWorkloads(1)},
			wantMsg: "business.team.ops_engineers: must be >= 0"},
		{name: "negative budget", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Engineers: 3}, MonthlyBudgetUsd: -5}, Workloads: nWorkloads(1)},
			wantMsg: "business.monthly_budget_usd: must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilyStrategy, tc.req, nil)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable), "%v", err)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
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
			req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: tc.team}, Workloads: nWorkloads(1)}
			o, err := analyzer.Analyze(assessment.FamilyMLOps, req, nil)
			require.NoError(t, err)
			m := metricOf(t, o, "mlops_maturity_level", "")
			require.Equal(t, tc.want, m.GetValue())
			require.Contains(t, m.GetSource(), "Google Cloud")
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
}

func TestMLOpsRejects(t *testing.T) {
	t.Parallel()
	team := &inframindv1.Team{Engineers: 1}
	tests := []struct {
		name    string
		req     *inframindv1.AssessmentRequest
		wantMsg string
	}{
		{name: "no team", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{}, Workloads: nWorkloads(1)}, wantMsg: "business.team: missing"},
		{name: "unknown expertise", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: &inframindv1.Team{Expertise: "guru"}}, Workloads: nWorkloads(1)},
			wantMsg: `business.team.expertise: unknown expertise "guru"`},
		{name: "no workloads", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team}}, wantMsg: "workloads: at least one"},
		{name: "unknown kind", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team}, Workloads: []*inframindv1.Workload{{Kind: "crypto"}}},
			wantMsg: `workloads[0].kind: unknown kind "crypto"`},
		{name: "unknown method", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Team: team}, Workloads: []*inframindv1.Workload{{Kind: "training", Method: "rlhf"}}},
			wantMsg: `workloads[0].method: unknown training method "rlhf"`},
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
