package scenario_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/scenario"
)

func base(t *testing.T, name string) *inframindv1.AssessmentRequest {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	require.NoError(t, err)
	req, err := assessment.ParseRequest(doc)
	require.NoError(t, err)
	return req
}

func ptr(v float64) *float64 { return &v }

func fields(t *testing.T, err error) []string {
	t.Helper()
	var verr *assessment.ValidationError
	require.ErrorAs(t, err, &verr)
	out := make([]string, 0, len(verr.Errors))
	for _, fe := range verr.Errors {
		out = append(out, fe.Field)
	}
	return out
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   string
		field string // empty: valid
	}{
		{name: "traffic", raw: `{"traffic_multiplier":2}`},
		{name: "everything", raw: `{"traffic_multiplier":0.5,"regions":["eu"],"data_residency":["de"],"precision":"fp8","provider_preference":["aws"],"provider_exclusions":["gcp"],"monthly_budget_usd":0}`},
		{name: "unknown field", raw: `{"traffic":2}`, field: "overrides.traffic"},
		{name: "wrong type", raw: `{"traffic_multiplier":"2"}`, field: "overrides.traffic_multiplier"},
		{name: "zero multiplier", raw: `{"traffic_multiplier":0}`, field: "overrides.traffic_multiplier"},
		{name: "negative multiplier", raw: `{"traffic_multiplier":-1}`, field: "overrides.traffic_multiplier"},
		{name: "huge multiplier", raw: `{"traffic_multiplier":1001}`, field: "overrides.traffic_multiplier"},
		{name: "bad region", raw: `{"regions":["USA"]}`, field: "overrides.regions[0]"},
		{name: "empty regions", raw: `{"regions":[]}`, field: "overrides.regions"},
		{name: "bad residency", raw: `{"data_residency":["eu","x"]}`, field: "overrides.data_residency[1]"},
		{name: "bad precision", raw: `{"precision":"fp4"}`, field: "overrides.precision"},
		{name: "bad provider", raw: `{"provider_preference":["oracle"]}`, field: "overrides.provider_preference[0]"},
		{name: "negative budget", raw: `{"monthly_budget_usd":-5}`, field: "overrides.monthly_budget_usd"},
		{name: "nothing", raw: `{}`, field: "overrides"},
		{name: "absent", raw: ``, field: "overrides"},
		{name: "not an object", raw: `[1]`, field: "overrides"},
		{name: "two objects", raw: `{"precision":"fp8"} {}`, field: "overrides"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := scenario.Parse([]byte(tc.raw))
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.Contains(t, fields(t, err), tc.field)
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		example string
		o       scenario.Overrides
		applied []string
		check   func(t *testing.T, before, after *inframindv1.AssessmentRequest)
		field   string // non-empty: the error names this field
	}{
		{
			name: "traffic doubles every rate", example: "startup-rag.yaml",
			o: scenario.Overrides{TrafficMultiplier: ptr(2)}, applied: []string{"traffic_multiplier"},
			check: func(t *testing.T, before, after *inframindv1.AssessmentRequest) {
				for i, w := range after.GetWorkloads() {
					b := before.GetWorkloads()[i]
					require.InDelta(t, 2*b.GetPeakRequestsPerSecond(), w.GetPeakRequestsPerSecond(), 1e-9)
					require.InDelta(t, 2*b.GetAvgRequestsPerSecond(), w.GetAvgRequestsPerSecond(), 1e-9)
					require.InDelta(t, 2*b.GetQueriesPerSecond(), w.GetQueriesPerSecond(), 1e-9)
					require.InDelta(t, 2*b.GetTokensPerDayMillion(), w.GetTokensPerDayMillion(), 1e-9)
				}
			},
		},
		{
			name: "region and residency", example: "startup-rag.yaml",
			o:       scenario.Overrides{Regions: []string{"eu"}, DataResidency: []string{"eu"}},
			applied: []string{"regions", "data_residency"},
			check: func(t *testing.T, _, after *inframindv1.AssessmentRequest) {
				require.Equal(t, []string{"eu"}, after.GetBusiness().GetRegions())
				require.Equal(t, []string{"eu"}, after.GetBusiness().GetDataResidency())
			},
		},
		{
			name: "precision on model workloads only", example: "startup-rag.yaml",
			o: scenario.Overrides{Precision: "fp8"}, applied: []string{"precision"},
			check: func(t *testing.T, _, after *inframindv1.AssessmentRequest) {
				for _, w := range after.GetWorkloads() {
					if w.GetKind() == "general" {
						require.Empty(t, w.GetPrecision(), "a general service has no model")
					} else {
						require.Equal(t, "fp8", w.GetPrecision(), w.GetName())
					}
				}
			},
		},
		{
			name: "provider and budget", example: "startup-rag.yaml",
			o:       scenario.Overrides{ProviderPreference: []string{"aws"}, ProviderExclusions: []string{"azure"}, MonthlyBudgetUSD: ptr(10000)},
			applied: []string{"provider_preference", "provider_exclusions", "monthly_budget_usd"},
			check: func(t *testing.T, _, after *inframindv1.AssessmentRequest) {
				require.Equal(t, []string{"aws"}, after.GetBusiness().GetProviderPreference())
				require.Equal(t, []string{"azure"}, after.GetBusiness().GetProviderExclusions())
				require.InDelta(t, 10000.0, after.GetBusiness().GetMonthlyBudgetUsd(), 1e-9)
			},
		},
		{
			name: "excluding the preferred provider fails revalidation", example: "startup-rag.yaml",
			o:     scenario.Overrides{ProviderExclusions: []string{"gcp"}},
			field: "business.provider_exclusions[0]",
		},
		{
			name: "invalid override", example: "startup-rag.yaml",
			o:     scenario.Overrides{TrafficMultiplier: ptr(0)},
			field: "overrides.traffic_multiplier",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := base(t, tc.example)
			snapshot := base(t, tc.example)
			after, applied, err := scenario.Apply(before, tc.o)
			require.Equal(t, snapshot.String(), before.String(), "the base request is not changed")
			if tc.field != "" {
				require.Contains(t, fields(t, err), tc.field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.applied, applied)
			tc.check(t, before, after)
		})
	}
}

// A larger multiplier never lowers any rate (monotonicity).
func TestApplyTrafficIsMonotonic(t *testing.T) {
	t.Parallel()
	req := base(t, "chatbot-70b-hipaa-us.yaml")
	prev := 0.0
	for _, m := range []float64{0.1, 0.5, 1, 2, 3, 10} {
		out, _, err := scenario.Apply(req, scenario.Overrides{TrafficMultiplier: ptr(m)})
		if err != nil {
			break // past a schema bound
		}
		peak := out.GetWorkloads()[0].GetPeakRequestsPerSecond()
		require.Greater(t, peak, prev, "multiplier %v", m)
		prev = peak
	}
	require.Positive(t, prev)
}
