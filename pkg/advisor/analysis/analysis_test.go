package analysis_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// richRequest exercises every family: several workload kinds, regulated data
// in two jurisdictions, a budget, growth and a team.
func richRequest() *inframindv1.AssessmentRequest {
	return &inframindv1.AssessmentRequest{
		Name: "clinic assistant",
		Business: &inframindv1.Business{
			CompanySize:        "mid_market",
			Industry:           "healthcare",
			Regions:            []string{"us", "eu"},
			DataCategories:     []string{"health", "personal", "payment_card"},
			Compliance:         []string{"SOC-2", "hipaa"},
			MonthlyBudgetUsd:   20000,
			Growth:             &inframindv1.Growth{Month_6Multiplier: 1.5, Month_12Multiplier: 2, Month_24Multiplier: 4},
			Team:               &inframindv1.Team{Engineers: 4, MlEngineers: 2, OpsEngineers: 1, Expertise: "intermediate"},
			ProviderPreference: []string{"gcp"},
			TimelineMonths:     6,
			Goals:              []string{"cut support cost", "answer in under a second"},
		},
		Workloads: []*inframindv1.Workload{
			{Name: "chat", Kind: "llm_serving", Model: "llama-3.1-70b", Precision: "bf16", PeakRequestsPerSecond: 5},
			{Name: "summaries", Kind: "batch_inference", Model: "mistral-7b", Precision: "fp8", TokensPerDayMillion: 50},
			{Name: "tuning", Kind: "training", Model: "llama-3.1-8b", Method: "lora", TrainingTokensBillion: 0.5},
			{Name: "search", Kind: "rag", ParamsBillion: 8, Precision: "int8", CorpusGb: 40, EmbeddingDimensions: 1024},
			{Name: "api", Kind: "general", PeakRequestsPerSecond: 120, Vcpu: 2, MemoryGb: 4},
		},
	}
}

// runAll runs every family in report order, feeding each result to later
// families as upstream, as the workers do.
func runAll(t *testing.T, req *inframindv1.AssessmentRequest) map[assessment.Family]analysis.Outcome {
	t.Helper()
	out := map[assessment.Family]analysis.Outcome{}
	up := map[assessment.Family]*inframindv1.AgentResultPublished{}
	// Families without upstream first, so strategy and simulation see the
	// cloud result as they do through the bus.
	order := slices.Clone(assessment.Families())
	slices.SortStableFunc(order, func(a, b assessment.Family) int {
		return len(analysis.Upstream(a)) - len(analysis.Upstream(b))
	})
	for _, f := range order {
		o, err := analyzer.Analyze(f, req, up)
		require.NoError(t, err, "family %s", f)
		out[f] = o
		up[f] = &inframindv1.AgentResultPublished{Family: string(f), Summary: o.Summary, Metrics: o.Metrics, Findings: o.Findings}
	}
	return out
}

// metricOf returns the metric named name for workload ("" for plan-level).
func metricOf(t *testing.T, o analysis.Outcome, name, workload string) *inframindv1.Metric {
	t.Helper()
	for _, m := range o.Metrics {
		if m.GetName() == name && m.GetWorkload() == workload {
			return m
		}
	}
	require.Failf(t, "metric missing", "no metric %q for workload %q", name, workload)
	return nil
}

func hasMetric(o analysis.Outcome, name, workload string) bool {
	for _, m := range o.Metrics {
		if m.GetName() == name && m.GetWorkload() == workload {
			return true
		}
	}
	return false
}

// findingWithTitle returns the first finding whose title contains part.
func findingWithTitle(t *testing.T, o analysis.Outcome, part string) *inframindv1.Finding {
	t.Helper()
	for _, f := range o.Findings {
		if strings.Contains(f.GetTitle(), part) {
			return f
		}
	}
	require.Failf(t, "finding missing", "no finding titled like %q in %v", part, o.Findings)
	return nil
}

func TestEveryResultExplainsItself(t *testing.T) {
	t.Parallel()
	severities := map[string]bool{"info": true, "low": true, "medium": true, "high": true}
	for f, o := range runAll(t, richRequest()) {
		require.NotEmpty(t, o.Summary, "family %s", f)
		require.NotEmpty(t, o.Metrics, "family %s", f)
		require.NotEmpty(t, o.Findings, "family %s", f)
		for _, m := range o.Metrics {
			require.NotEmpty(t, m.GetName(), "family %s", f)
			require.NotEmpty(t, m.GetUnit(), "family %s metric %s", f, m.GetName())
			require.NotEmpty(t, m.GetFormula(), "family %s metric %s", f, m.GetName())
			require.NotEmpty(t, m.GetSource(), "family %s metric %s", f, m.GetName())
		}
		for _, fi := range o.Findings {
			require.True(t, severities[fi.GetSeverity()], "family %s finding %q severity %q", f, fi.GetTitle(), fi.GetSeverity())
			require.NotEmpty(t, fi.GetTitle())
			require.NotEmpty(t, fi.GetDetail())
		}
	}
}

func TestSameInputSameOutput(t *testing.T) {
	t.Parallel()
	first := runAll(t, richRequest())
	for range 5 {
		again := runAll(t, richRequest())
		for f, o := range first {
			a := again[f]
			require.Equal(t, o.Summary, a.Summary, "family %s", f)
			require.Len(t, a.Metrics, len(o.Metrics), "family %s", f)
			for i := range o.Metrics {
				require.True(t, proto.Equal(o.Metrics[i], a.Metrics[i]), "family %s metric %d: %v vs %v", f, i, o.Metrics[i], a.Metrics[i])
			}
			require.Len(t, a.Findings, len(o.Findings), "family %s", f)
			for i := range o.Findings {
				require.True(t, proto.Equal(o.Findings[i], a.Findings[i]), "family %s finding %d", f, i)
			}
		}
	}
}

func TestAnalyzeDoesNotChangeTheRequest(t *testing.T) {
	t.Parallel()
	req := richRequest()
	runAll(t, req)
	require.True(t, proto.Equal(richRequest(), req))
}

func TestUpstream(t *testing.T) {
	t.Parallel()
	for _, f := range assessment.Families() {
		want := []assessment.Family(nil)
		if f == assessment.FamilySimulation || f == assessment.FamilyStrategy {
			want = []assessment.Family{assessment.FamilyCloud}
		}
		require.Equal(t, want, analysis.Upstream(f), "family %s", f)
	}
}

func TestAnalyzeRejectsWhatItCannotAnalyse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		family  assessment.Family
		req     *inframindv1.AssessmentRequest
		wantMsg string
	}{
		{name: "nil request", family: assessment.FamilyCloud, req: nil, wantMsg: "request: missing"},
		{name: "unknown family", family: assessment.Family("astrology"), req: richRequest(), wantMsg: `family "astrology"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(tc.family, tc.req, nil)
			require.Error(t, err)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable))
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
