package analysis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func TestComplianceRegimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		business   *inframindv1.Business
		want       int
		wantTitles map[string]string // title part -> severity
		wantWhy    []string          // text that must appear in some finding's detail
	}{
		{
			name:       "health data in the us infers hipaa",
			business:   &inframindv1.Business{Regions: []string{"US"}, DataCategories: []string{"health"}},
			want:       1,
			wantTitles: map[string]string{"HIPAA applies but is not declared": "high"},
			wantWhy:    []string{"health data is handled and users or data are in the us", "164.312"},
		},
		{
			name:       "health data outside the us and eu infers nothing",
			business:   &inframindv1.Business{Regions: []string{"in"}, DataCategories: []string{"health"}},
			want:       0,
			wantTitles: map[string]string{"No compliance regime applies": "info"},
		},
		{
			name:       "personal data in the eu infers gdpr",
			business:   &inframindv1.Business{Regions: []string{"eu"}, DataCategories: []string{"personal"}},
			want:       1,
			wantTitles: map[string]string{"GDPR applies but is not declared": "high"},
			wantWhy:    []string{"personal data", "handled in eu", "Art. 33"},
		},
		{
			name:       "personal data in the uk and germany infers gdpr once",
			business:   &inframindv1.Business{Regions: []string{"uk", "de", "us"}, DataCategories: []string{"personal"}},
			want:       1,
			wantTitles: map[string]string{"GDPR applies but is not declared": "high"},
			wantWhy:    []string{"handled in uk, de"},
		},
		{
			name:     "personal data in the us alone infers no gdpr",
			business: &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"personal"}},
			want:     0,
		},
		{
			name:       "payment cards infer pci dss anywhere",
			business:   &inframindv1.Business{Regions: []string{"in"}, DataCategories: []string{"payment_card"}},
			want:       1,
			wantTitles: map[string]string{"PCI DSS applies but is not declared": "high"},
			wantWhy:    []string{"payment card data is handled", "Req. 10.5.1"},
		},
		{
			name: "declared and inferred hipaa, declared soc2 spelt loosely, unknown declared regime",
			business: &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"health"},
				Compliance: []string{"HIPAA", "SOC-2", "fedramp"}},
			want: 3,
			wantTitles: map[string]string{
				"HIPAA applies (declared and inferred)": "info",
				"SOC 2 applies (declared)":              "info",
				"fedramp applies (declared)":            "low",
			},
			wantWhy: []string{"declared in the request; health data", "no controls for this regime yet"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := analyzer.Analyze(assessment.FamilyCompliance, &inframindv1.AssessmentRequest{Business: tc.business}, nil)
			require.NoError(t, err)
			require.Equal(t, float64(tc.want), metricOf(t, o, "compliance_regimes_count", "").GetValue())
			for part, sev := range tc.wantTitles {
				require.Equal(t, sev, findingWithTitle(t, o, part).GetSeverity(), part)
			}
			var details []string
			for _, f := range o.Findings {
				details = append(details, f.GetDetail())
			}
			all := strings.Join(details, "\n")
			for _, why := range tc.wantWhy {
				require.Contains(t, all, why)
			}
		})
	}
}

func TestComplianceFormulaNamesItsInputs(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{Business: &inframindv1.Business{
		Regions: []string{"us", "eu"}, DataCategories: []string{"health", "payment_card"}, Compliance: []string{"soc2"},
	}}
	o, err := analyzer.Analyze(assessment.FamilyCompliance, req, nil)
	require.NoError(t, err)
	m := metricOf(t, o, "compliance_regimes_count", "")
	require.Equal(t, 4.0, m.GetValue())
	require.Contains(t, m.GetFormula(), "declared {soc2} union inferred {gdpr, hipaa, pci_dss} = 4")
	require.Equal(t, 3.0, metricOf(t, o, "undeclared_regimes_count", "").GetValue())
	require.Equal(t, "4 compliance regimes apply: gdpr, hipaa, pci_dss, soc2. Not declared by the user but inferred from the data and regions: gdpr, hipaa, pci_dss.", o.Summary)
}

func TestComplianceRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		b       *inframindv1.Business
		wantMsg string
	}{
		{name: "no business", wantMsg: "business: missing"},
		{name: "unknown data category", b: &inframindv1.Business{DataCategories: []string{"personal", "genomes"}},
			wantMsg: `business.data_categories[1]: unknown data category "genomes"`},
		{name: "empty regime", b: &inframindv1.Business{Compliance: []string{" "}}, wantMsg: "business.compliance[0]: empty regime name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilyCompliance, &inframindv1.AssessmentRequest{Business: tc.b}, nil)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable), "%v", err)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
