package analysis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func analyzeCompliance(t *testing.T, a *analysis.Analyzer, b *inframindv1.Business) analysis.Outcome {
	t.Helper()
	o, err := a.Analyze(assessment.FamilyCompliance, &inframindv1.AssessmentRequest{Business: b}, nil)
	require.NoError(t, err)
	return o
}

func allDetails(o analysis.Outcome) string {
	var parts []string
	for _, f := range o.Findings {
		parts = append(parts, f.GetTitle()+": "+f.GetDetail())
	}
	return strings.Join(parts, "\n")
}

// The expectations follow the catalogue's applies_when rules by hand:
// hipaa {health} x {us}; gdpr {personal, health, financial, children} x {eu};
// pci_dss {payment_card}; eu_ai_act {eu}; ccpa {personal} x {us}; soc2 and
// iso27001 are declared only.
func TestComplianceRegimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		business   *inframindv1.Business
		want       float64
		wantTitles map[string]string // title part -> severity
		wantWhy    []string          // text that must appear in some finding
	}{
		{
			name:       "health data in the us infers hipaa",
			business:   &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"health"}},
			want:       1,
			wantTitles: map[string]string{"HIPAA applies but is not declared": "high", "HIPAA: 7 controls with 12 infrastructure actions": "info"},
			wantWhy:    []string{"data categories [health] matched health; regions [us] matched us", "45 CFR 164.312(b)", "Sign the provider's BAA"},
		},
		{
			name:       "health data outside the us and eu infers nothing",
			business:   &inframindv1.Business{Regions: []string{"in"}, DataCategories: []string{"health"}},
			want:       0,
			wantTitles: map[string]string{"No compliance regime applies": "info"},
		},
		{
			// gdpr by data and region (high); eu_ai_act by region alone (medium).
			name:       "personal data in the eu infers gdpr and the eu ai act",
			business:   &inframindv1.Business{Regions: []string{"eu"}, DataCategories: []string{"personal"}},
			want:       2,
			wantTitles: map[string]string{"GDPR applies but is not declared": "high", "EU AI Act applies but is not declared": "medium"},
			wantWhy:    []string{"regions [eu] matched eu", "GDPR Art. 33"},
		},
		{
			name:       "a member state counts as the eu",
			business:   &inframindv1.Business{Regions: []string{"de"}, DataCategories: []string{"financial"}, Compliance: []string{"eu_ai_act"}},
			want:       2,
			wantTitles: map[string]string{"GDPR applies but is not declared": "high", "EU AI Act applies (declared and inferred)": "info"},
			wantWhy:    []string{"regions [eu] matched de"},
		},
		{
			name:       "personal data in the us infers ccpa, not gdpr",
			business:   &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"personal"}},
			want:       1,
			wantTitles: map[string]string{"CCPA applies but is not declared": "high"},
			wantWhy:    []string{"100,000 consumers"},
		},
		{
			name:       "payment cards infer pci dss anywhere",
			business:   &inframindv1.Business{Regions: []string{"in"}, DataCategories: []string{"payment_card"}},
			want:       1,
			wantTitles: map[string]string{"PCI DSS applies but is not declared": "high"},
			wantWhy:    []string{"PCI DSS 4.0.1 Requirement 10.5.1", "Retain audit logs 12 months"},
		},
		{
			name: "declared and inferred hipaa, soc2 spelt loosely, a regime the catalogue lacks",
			business: &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"health"},
				Compliance: []string{"HIPAA", "SOC-2", "uk_gdpr"}},
			want: 3,
			wantTitles: map[string]string{
				"HIPAA applies (declared and inferred)": "info",
				"SOC 2 applies (declared)":              "info",
				"UK GDPR applies (declared)":            "low",
			},
			wantWhy: []string{"declared in the request; catalogue rule applies_when", "no controls for this regime yet"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeCompliance(t, analyzer, tc.business)
			require.Equal(t, tc.want, metricOf(t, o, "compliance_regimes_count", "").GetValue())
			for part, sev := range tc.wantTitles {
				require.Equal(t, sev, findingWithTitle(t, o, part).GetSeverity(), part)
			}
			all := allDetails(o)
			for _, why := range tc.wantWhy {
				require.Contains(t, all, why)
			}
		})
	}
}

func TestComplianceFormulaNamesItsInputs(t *testing.T) {
	t.Parallel()
	o := analyzeCompliance(t, analyzer, &inframindv1.Business{
		Regions: []string{"us", "eu"}, DataCategories: []string{"health", "payment_card"}, Compliance: []string{"soc2"},
	})
	m := metricOf(t, o, "compliance_regimes_count", "")
	require.Equal(t, 5.0, m.GetValue())
	require.Contains(t, m.GetFormula(), "declared {soc2} union inferred {eu_ai_act, gdpr, hipaa, pci_dss} = {eu_ai_act, gdpr, hipaa, pci_dss, soc2}, 5")
	require.Contains(t, m.GetSource(), "hipaa: 45 CFR Part 164 (HIPAA Security Rule)")
	require.Contains(t, m.GetSource(), "as of 2026-11-26")
	require.Equal(t, 4.0, metricOf(t, o, "undeclared_regimes_count", "").GetValue())
	require.True(t, strings.HasPrefix(o.Summary, "5 compliance regimes apply: eu_ai_act, gdpr, hipaa, pci_dss, soc2. Not declared by the user but inferred from the data and regions: eu_ai_act, gdpr, hipaa, pci_dss."), o.Summary)
}

// Allowed regions counted by hand from regions.yaml (jurisdiction or country),
// priced GPU machine types-regions from instances.yaml (CPU machines are not
// counted).
func TestComplianceResidency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		business    *inframindv1.Business
		wantAllowed map[string]float64
		wantPriced  map[string]float64
		wantTitles  map[string]string
	}{
		{
			name:     "gdpr keeps data in catalogue eu regions",
			business: &inframindv1.Business{Regions: []string{"eu"}, DataCategories: []string{"personal"}},
			// Counted from regions.yaml and instances.yaml: aws prices 137 GPU machine types-regions
			// in all six of its EU regions, gcp 203 in ten of eleven, azure 75 in four of its five
			// (westeurope 22, swedencentral 20, northeurope 19, francecentral 14; belgiumcentral
			// prices CPU machines only).
			wantAllowed: map[string]float64{"aws": 6, "azure": 5, "gcp": 11},
			wantPriced:  map[string]float64{"aws": 137, "azure": 75, "gcp": 203},
			wantTitles: map[string]string{
				"Allowed regions: aws: eu-west-1, eu-central-1, eu-north-1, eu-south-2, eu-south-1, eu-west-3; azure: westeurope, northeurope, francecentral, swedencentral, belgiumcentral; gcp: europe-west1, europe-west4, europe-north1, europe-west3, europe-west8, europe-west9, europe-central2, europe-north2, europe-southwest1, europe-west10, europe-west12": "info",
			},
		},
		{
			name:        "residency in germany narrows the eu to frankfurt",
			business:    &inframindv1.Business{Regions: []string{"de"}, DataCategories: []string{"personal"}, DataResidency: []string{"de"}},
			wantAllowed: map[string]float64{"aws": 1, "azure": 0, "gcp": 2},
			wantTitles:  map[string]string{"Allowed regions: aws: eu-central-1; azure: none; gcp: europe-west3, europe-west10": "info"},
		},
		{
			// Counted from data/instances/<provider>.yaml: aws prices 149 GPU machine types-regions in its four US
			// regions, azure 7 in eastus, gcp 197 in its nine US regions.
			name:        "us residency is met where the catalogue prices",
			business:    &inframindv1.Business{Regions: []string{"us"}, DataResidency: []string{"us"}},
			wantAllowed: map[string]float64{"aws": 4, "azure": 1, "gcp": 9},
			wantPriced:  map[string]float64{"aws": 149, "azure": 7, "gcp": 197},
		},
		{
			name:        "us residency and gdpr conflict",
			business:    &inframindv1.Business{Regions: []string{"us", "eu"}, DataCategories: []string{"personal"}, DataResidency: []string{"us"}},
			wantAllowed: map[string]float64{"aws": 0, "azure": 0, "gcp": 0},
			wantTitles:  map[string]string{"No catalogue region satisfies the residency constraints": "high"},
		},
		{
			name:       "a residency code no catalogue region carries",
			business:   &inframindv1.Business{Regions: []string{"ar"}, DataResidency: []string{"ar"}},
			wantTitles: map[string]string{`No catalogue region in "ar"`: "medium", "No catalogue region satisfies the residency constraints": "high"},
		},
		{
			name:       "no residency, no constraint",
			business:   &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"health"}},
			wantTitles: map[string]string{"No data residency constraint": "info"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeCompliance(t, analyzer, tc.business)
			for p, n := range tc.wantAllowed {
				require.Equal(t, n, metricOf(t, o, "allowed_regions_count_"+p, "").GetValue(), p)
			}
			for p, n := range tc.wantPriced {
				require.Equal(t, n, metricOf(t, o, "priced_gpu_instances_in_allowed_regions_"+p, "").GetValue(), p)
			}
			for part, sev := range tc.wantTitles {
				require.Equal(t, sev, findingWithTitle(t, o, part).GetSeverity(), part)
			}
		})
	}
}

// withoutEligibility copies the embedded catalogue without one provider's
// programme for a regime, to see how a missing BAA is reported.
func withoutEligibility(t *testing.T, provider, regime string) *analysis.Analyzer {
	t.Helper()
	c, err := catalog.Load()
	require.NoError(t, err)
	var kept []catalog.Eligibility
	for _, e := range c.Eligibility {
		if e.Provider != provider || e.Regime != regime {
			kept = append(kept, e)
		}
	}
	require.Len(t, kept, len(c.Eligibility)-1, "the catalogue must hold %s %s", provider, regime)
	c.Eligibility = kept
	a, err := analysis.New(c)
	require.NoError(t, err)
	return a
}

func TestComplianceEligibility(t *testing.T) {
	t.Parallel()
	hipaa := &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"health"}}
	o := analyzeCompliance(t, analyzer, hipaa)
	require.Equal(t, 3.0, metricOf(t, o, "eligible_providers_hipaa", "").GetValue())
	require.Contains(t, findingWithTitle(t, o, "HIPAA BAA available from aws").GetDetail(), "AWS Artifact")

	noGCP := withoutEligibility(t, "gcp", "hipaa")
	tests := []struct {
		name     string
		pref     []string
		severity string
	}{
		{name: "preferred provider without a baa is a high gap", pref: []string{"gcp"}, severity: "high"},
		{name: "another provider without a baa is a medium gap", pref: []string{"aws"}, severity: "medium"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &inframindv1.Business{Regions: []string{"us"}, DataCategories: []string{"health"}, ProviderPreference: tc.pref}
			o := analyzeCompliance(t, noGCP, b)
			require.Equal(t, 2.0, metricOf(t, o, "eligible_providers_hipaa", "").GetValue())
			require.Equal(t, tc.severity, findingWithTitle(t, o, "No HIPAA programme recorded for gcp").GetSeverity())
		})
	}
}

// Retention by hand from regimes.yaml: pci_dss 365 days (12 months,
// Req. 10.5.1), eu_ai_act 183 (6 months rounded up), hipaa 2190 (6 years).
func TestComplianceLogRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		business *inframindv1.Business
		want     float64
		by       string
	}{
		{name: "pci dss keeps logs 12 months", business: &inframindv1.Business{Regions: []string{"in"}, DataCategories: []string{"payment_card"}}, want: 365, by: "pci_dss"},
		{name: "eu ai act alone", business: &inframindv1.Business{Regions: []string{"eu"}, DataCategories: []string{"public"}}, want: 183, by: "eu_ai_act"},
		{name: "the longest wins", business: &inframindv1.Business{Regions: []string{"us", "eu"}, DataCategories: []string{"health", "payment_card"}}, want: 2190, by: "hipaa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeCompliance(t, analyzer, tc.business)
			m := metricOf(t, o, "log_retention_days", "")
			require.Equal(t, tc.want, m.GetValue())
			require.Contains(t, m.GetFormula(), "required by "+tc.by)
			require.Contains(t, m.GetSource(), "as of 2026-11-26")
		})
	}
	o := analyzeCompliance(t, analyzer, &inframindv1.Business{Regions: []string{"us"}, Compliance: []string{"soc2"}})
	require.False(t, hasMetric(o, "log_retention_days", ""), "soc2 fixes no retention period")
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
		{name: "empty residency", b: &inframindv1.Business{DataResidency: []string{"eu", ""}}, wantMsg: "business.data_residency[1]: empty region code"},
		{name: "unknown provider", b: &inframindv1.Business{ProviderPreference: []string{"oracle"}}, wantMsg: `business.provider_preference[0]: unknown provider "oracle"`},
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
