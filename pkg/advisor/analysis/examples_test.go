package analysis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

type outcome = analysis.Outcome

// The bundled examples are what a new user submits first: every family must
// analyse each of them, and the headline results must follow from their inputs.
func TestBundledExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		check func(t *testing.T, out map[assessment.Family]outcome)
	}{
		{
			file: "chatbot-70b-hipaa-us.yaml",
			check: func(t *testing.T, out map[assessment.Family]outcome) {
				// llama-3.1-70b at fp8 on 2 x H100 NVL (azure NC80adis_H100_v5,
				// $17.64/h x 730 h = $12,877.20 a replica): 12 rps peak with 20-30%
				// headroom over the replica's capacity at 800 ms TTFT p95 / 50 ms ITL -> 3-5 replicas.
				cloud := out[assessment.FamilyCloud]
				require.Equal(t, 3.0, metricOf(t, cloud, analysis.MetricReplicasLow, "patient-chat").GetValue())
				require.Equal(t, 5.0, metricOf(t, cloud, analysis.MetricReplicasHigh, "patient-chat").GetValue())
				require.InDelta(t, 17.64*730, metricOf(t, cloud, analysis.MetricReplicaMonthlyUSD, "patient-chat").GetValue(), 1e-6)
				require.InDelta(t, 3*17.64*730, metricOf(t, cloud, analysis.MetricMonthlyCostLow, "").GetValue(), 1e-6)
				require.InDelta(t, 5*17.64*730, metricOf(t, cloud, analysis.MetricMonthlyCostHigh, "").GetValue(), 1e-6)
				findingWithTitle(t, cloud, "Recommended for patient-chat: azure NC80adis_H100_v5")
				findingWithTitle(t, cloud, "No generator model for care-guidelines-search")
				comp := out[assessment.FamilyCompliance]
				require.Equal(t, "info", findingWithTitle(t, comp, "HIPAA applies (declared and inferred)").GetSeverity())
				// hipaa and soc2 declared; ccpa inferred from personal data in the us.
				require.Equal(t, 3.0, metricOf(t, comp, "compliance_regimes_count", "").GetValue())
				// $60,000 budget: the pessimistic plan ($64,386) crosses it first.
				sim := out[assessment.FamilySimulation]
				require.Less(t, metricOf(t, sim, "budget_exceeded_month_high", "").GetValue(), metricOf(t, sim, "budget_exceeded_month_low", "").GetValue())
			},
		},
		{
			file: "finetune-gdpr-eu.yaml",
			check: func(t *testing.T, out map[assessment.Family]outcome) {
				cloud := out[assessment.FamilyCloud]
				for _, m := range cloud.Metrics {
					require.NotContains(t, m.GetFormula(), "aws ", "aws is excluded: %s", m.GetName())
				}
				// data_residency [eu]: the imported prices cover GCP's and Azure's EU regions, so
				// every workload gets a priced plan there, and nothing is priced outside the EU.
				require.True(t, hasMetric(cloud, analysis.MetricMonthlyCostLow, ""))
				for _, f := range cloud.Findings {
					require.NotContains(t, f.GetTitle(), "No priced region", "the EU is priced")
				}
				for _, w := range []string{"claims-lora", "claims-assistant", "nightly-claim-triage"} {
					rec := findingWithTitle(t, cloud, "Recommended for "+w)
					require.Regexp(t, `^(gcp \S+ \([^)]*\) in europe-|azure \S+ \([^)]*\) in (westeurope|northeurope|francecentral|swedencentral|belgiumcentral))`, rec.GetDetail(), w)
				}
				// LoRA over 8B: 6ND = 6 x 8.03e9 x 0.5e9 (0.25 B x 2 epochs) = 2.4e19 FLOPs
				// (4ND-6ND for adapters): about 13-19 GPU-hours on an H100 at MFU 0.35-0.45,
				// 7.6-14.7 on the 8 MI300X of an azure ND96isr_MI300X_v5 (1,300 TFLOPS each), the
				// cheapest one-off in the EU since catalogue 2026-12-06.6 (ADR 0051), and about
				// 80-160 on the one L4 of a g2-standard-4.
				gh := metricOf(t, cloud, "training_gpu_hours_high", "claims-lora").GetValue()
				require.Greater(t, gh, 0.0)
				require.Less(t, gh, 200.0)
				require.Equal(t, 2.0, metricOf(t, out[assessment.FamilyMLOps], "mlops_maturity_level", "").GetValue())
				require.Equal(t, "info", findingWithTitle(t, out[assessment.FamilyCompliance], "GDPR applies (declared and inferred)").GetSeverity())
			},
		},
		{
			file: "startup-rag.yaml",
			check: func(t *testing.T, out map[assessment.Family]outcome) {
				// The recommended plan (the preferred provider's) costs more than the $3,000
				// budget; the cheapest feasible plan (an L40S on aws g6e.xlarge) starts below it.
				require.Equal(t, "high", findingWithTitle(t, out[assessment.FamilyCloud], "Recommended plan may exceed the budget").GetSeverity())
				sim := out[assessment.FamilySimulation]
				require.Equal(t, 0.0, metricOf(t, sim, "budget_exceeded_month_high", "").GetValue())
				require.Equal(t, 0.0, metricOf(t, sim, "budget_exceeded_month_low", "").GetValue())
				require.Equal(t, 0.0, metricOf(t, out[assessment.FamilyMLOps], "mlops_maturity_level", "").GetValue())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			doc, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", tc.file))
			require.NoError(t, err)
			req, err := assessment.ParseRequest(doc)
			require.NoError(t, err)
			out := runAll(t, req)
			for f, o := range out {
				// No formatting slip ("%!d(string=...)") reaches a user.
				texts := []string{o.Summary}
				for _, m := range o.Metrics {
					texts = append(texts, m.GetFormula(), m.GetSource())
				}
				for _, fi := range o.Findings {
					texts = append(texts, fi.GetTitle(), fi.GetDetail())
				}
				for _, s := range texts {
					require.False(t, strings.Contains(s, "%!"), "family %s: %q", f, s)
				}
				// A reader finds a figure by its name and workload (the
				// consultant's figure tool, recommendations): no two of a
				// family's figures share them.
				seen := map[[2]string]bool{}
				for _, m := range o.Metrics {
					k := [2]string{m.GetName(), m.GetWorkload()}
					require.False(t, seen[k], "family %s: two figures named %q for workload %q", f, k[0], k[1])
					seen[k] = true
				}
			}
			tc.check(t, out)
		})
	}
}

// requireRangesTyped checks that every metric named as one end of a range
// (a "low" or "high" word in its name) says so in its typed fields, which is
// what readers pair the ends by, and that a range's ends agree on workload
// and unit.
func requireRangesTyped(t *testing.T, family string, o outcome) {
	t.Helper()
	type end struct{ workload, unit string }
	ends := map[string][]end{}
	for _, m := range o.Metrics {
		var word string
		for _, w := range strings.Split(m.GetName(), "_") {
			if w == analysis.BoundLow || w == analysis.BoundHigh {
				word = w
			}
		}
		require.Equal(t, word, m.GetBound(), "family %s: metric %s", family, m.GetName())
		if word == "" {
			require.Empty(t, m.GetRange(), "family %s: metric %s", family, m.GetName())
			continue
		}
		require.NotEmpty(t, m.GetRange(), "family %s: metric %s", family, m.GetName())
		key := m.GetRange() + "/" + m.GetWorkload() + "/" + m.GetBound()
		ends[key] = append(ends[key], end{m.GetWorkload(), m.GetUnit()})
		require.Len(t, ends[key], 1, "family %s: range %s has two %s ends for one workload", family, m.GetRange(), m.GetBound())
	}
}

// Every bundled example's range ends carry their typed fields.
func TestExampleRangesAreTyped(t *testing.T) {
	t.Parallel()
	eachExample(t, func(t *testing.T, req *inframindv1.AssessmentRequest) {
		for f, o := range runAll(t, req) {
			requireRangesTyped(t, string(f), o)
		}
	})
}
