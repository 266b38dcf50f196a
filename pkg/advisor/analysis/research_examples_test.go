package analysis_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Every bundled example, parsed as a user's file would be, gives the
// compliance, mlops and research families a full result, and the same one
// each time.
func TestComplianceMLOpsResearchOnBundledExamples(t *testing.T) {
	t.Parallel()
	eachExample(t, func(t *testing.T, req *inframindv1.AssessmentRequest) {
		for _, f := range []assessment.Family{assessment.FamilyCompliance, assessment.FamilyMLOps, assessment.FamilyResearch} {
			first, err := analyzer.Analyze(f, req, nil)
			require.NoError(t, err, "family %s", f)
			require.NotEmpty(t, first.Summary, "family %s", f)
			require.NotEmpty(t, first.Metrics, "family %s", f)
			require.NotEmpty(t, first.Findings, "family %s", f)
			for _, m := range first.Metrics {
				require.NotEmpty(t, m.GetFormula(), "family %s metric %s", f, m.GetName())
				require.NotEmpty(t, m.GetSource(), "family %s metric %s", f, m.GetName())
				require.NotContains(t, m.GetFormula(), "%!", "family %s metric %s", f, m.GetName())
			}
			again, err := analyzer.Analyze(f, req, nil)
			require.NoError(t, err)
			require.Equal(t, first.Summary, again.Summary)
			require.Len(t, again.Metrics, len(first.Metrics))
			for i := range first.Metrics {
				require.True(t, proto.Equal(first.Metrics[i], again.Metrics[i]), "family %s metric %d", f, i)
			}
			require.Len(t, again.Findings, len(first.Findings))
			for i := range first.Findings {
				require.True(t, proto.Equal(first.Findings[i], again.Findings[i]), "family %s finding %d", f, i)
			}
		}
	})
}

// The chatbot example's regimes by hand: hipaa (declared, health x us), soc2
// (declared), ccpa (personal x us, not declared); HIPAA's 6 years is the
// longest retention; the fine-tune's GDPR keeps data in EU regions, where the
// catalogue now prices GCP GPU machines.
func TestComplianceOnExamples(t *testing.T) {
	t.Parallel()
	chat, err := analyzer.Analyze(assessment.FamilyCompliance, loadExample(t, "chatbot-70b-hipaa-us.yaml"), nil)
	require.NoError(t, err)
	require.Equal(t, 3.0, metricOf(t, chat, "compliance_regimes_count", "").GetValue())
	require.Equal(t, "high", findingWithTitle(t, chat, "CCPA applies but is not declared").GetSeverity())
	require.Equal(t, 2190.0, metricOf(t, chat, "log_retention_days", "").GetValue())

	tune, err := analyzer.Analyze(assessment.FamilyCompliance, loadExample(t, "finetune-gdpr-eu.yaml"), nil)
	require.NoError(t, err)
	require.Equal(t, "info", findingWithTitle(t, tune, "GDPR applies (declared and inferred)").GetSeverity())
	findingWithTitle(t, tune, "Allowed regions: gcp: europe-west1, europe-west4, europe-north1, europe-west3, europe-west8, europe-west9, europe-central2, europe-north2, europe-southwest1, europe-west10, europe-west12; azure: westeurope, northeurope, francecentral, swedencentral, belgiumcentral")
	for _, f := range tune.Findings {
		require.NotEqual(t, "No priced GPU instance in the allowed regions", f.GetTitle(), "gcp prices GPU machines in the EU")
	}
	require.Positive(t, metricOf(t, tune, "priced_gpu_instances_in_allowed_regions_gcp", "").GetValue())
}
