package analysis_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func analyzeResearch(t *testing.T, req *inframindv1.AssessmentRequest) analysis.Outcome {
	t.Helper()
	o, err := analyzer.Analyze(assessment.FamilyResearch, req, nil)
	require.NoError(t, err)
	return o
}

// researchChat8B is a Llama 3.1 8B chat workload with stated token lengths.
func researchChat8B() *inframindv1.Workload {
	return &inframindv1.Workload{Name: "chat", Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "bf16",
		PeakRequestsPerSecond: 2, MeanInputTokens: 1000, MeanOutputTokens: 200}
}

// Ages by hand against collected_on 2026-12-06 (the price import's retrieval date):
//   - rows imported from the SkyPilot catalogue, as of 2026-12-06: 0 days;
//   - curated aws rows from the 2026 SkyPilot snapshot, as of 2026-11-26: 10 days;
//   - azure and aws p-family (datareceipts) as of 2026-11-09: 27 days;
//   - gcp rows of the Google Cloud pricing calculator (Cyclenerd), and the imported gcp rows
//     carrying its commitment prices, as of 2026-07-30: 1 + 31 + 30 + 31 + 30 + 6 = 129 days;
//   - azure rows of the Retail Prices API snapshots (andy-diericks/azure-pricing-radar) as of
//     2026-08-22: 9 + 30 + 31 + 30 + 6 = 106 days (within 180: not stale);
//   - openai gpt-4o rows, month-only 2026-05: from 2026-05-31, 189 days, to
//     2026-05-01, 219 days (both beyond 180: stale);
//   - anthropic as of 2025-11-15: 365 + 21 = 386 days.
func TestResearchFreshness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		business   *inframindv1.Business
		workloads  []*inframindv1.Workload
		wantScope  string
		wantAges   map[string]float64
		wantNoAges []string
		wantRows   float64
		wantStale  float64
	}{
		{
			name:      "everything in scope, a model served",
			business:  &inframindv1.Business{Regions: []string{"us", "eu"}},
			workloads: []*inframindv1.Workload{researchChat8B()},
			wantScope: "Providers in scope: aws, azure, gcp",
			wantAges: map[string]float64{
				"price_age_days_instances_azure_2026-11-09":      27,
				"price_age_days_instances_azure_2026-08-22":      106,
				"price_age_days_instances_gcp_2026-07-30":        129,
				"price_age_days_instances_gcp_2026-12-06":        0,
				"price_age_days_instances_aws_2026-12-06":        0,
				"price_age_days_low_hosted_api_openai_2026-05":   189,
				"price_age_days_high_hosted_api_openai_2026-05":  219,
				"price_age_days_hosted_api_anthropic_2025-11-15": 386,
				"oldest_price_age_days":                          386,
				"month_only_price_rows_count":                    4,
				"price_age_days_hosted_api_openai_2026-05-07":    213,
				"price_age_days_high_hosted_api_google_2026-03":  280,
				"price_age_days_low_hosted_api_google_2026-03":   250,
				"stale_price_rows_count":                         8,    // gpt-4o, gpt-4o-mini, gpt-4.1 + 3 anthropic + 2 google
				"prices_checked_count":                           2151, // 607 aws + 122 azure + 1414 gcp + 8 hosted
				"usd_per_gpu_hour_on_demand_h100-sxm_aws":        6.88,
				// a3-highgpu-8g in northamerica-northeast1 (pricing calculator): spot $9.065844, / 8.
				"usd_per_gpu_hour_spot_h100-sxm_gcp": 9.065844 / 8,
				// g2-standard-4 in us-east4: host $0.14631 + 1 L4 $0.55821.
				"usd_per_gpu_hour_on_demand_l4_gcp": 0.14631 + 0.55821,
			},
			wantNoAges: []string{"price_age_days_instances_aws_2026-11-09", "price_age_days_instances_aws_2026-11-26", "price_age_days_instances_gcp_2025-03-06",
				"price_age_days_instances_azure_2024-09-04"},
			wantRows: 2151, wantStale: 8,
		},
		{
			name:       "azure preferred, gcp excluded, no model: no hosted prices",
			business:   &inframindv1.Business{ProviderPreference: []string{"Azure"}, ProviderExclusions: []string{"gcp"}},
			workloads:  generalWorkloads(1),
			wantScope:  "Providers in scope: azure, aws",
			wantAges:   map[string]float64{"price_age_days_instances_azure_2026-11-09": 27, "price_age_days_instances_azure_2026-08-22": 106},
			wantNoAges: []string{"price_age_days_instances_gcp_2026-07-30", "price_age_days_hosted_api_anthropic_2025-11-15"},
			wantRows:   729, wantStale: 0, // 607 aws + 122 azure, none older than 180 days
		},
		{
			name:       "gcp only",
			business:   &inframindv1.Business{Regions: []string{"eu"}, ProviderExclusions: []string{"aws", "azure"}},
			wantScope:  "Providers in scope: gcp",
			wantAges:   map[string]float64{"price_age_days_instances_gcp_2026-07-30": 129, "price_age_days_instances_gcp_2026-12-06": 0},
			wantNoAges: []string{"price_age_days_instances_azure_2026-11-09"},
			wantRows:   1414, wantStale: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeResearch(t, &inframindv1.AssessmentRequest{Business: tc.business, Workloads: tc.workloads})
			findingWithTitle(t, o, tc.wantScope)
			for name, want := range tc.wantAges {
				require.InDelta(t, want, metricOf(t, o, name, "").GetValue(), 1e-9, name)
			}
			for _, name := range tc.wantNoAges {
				require.False(t, hasMetric(o, name, ""), name)
			}
			require.Equal(t, tc.wantRows, metricOf(t, o, "prices_checked_count", "").GetValue())
			require.Equal(t, tc.wantStale, metricOf(t, o, "stale_price_rows_count", "").GetValue())
		})
	}
}

func TestResearchFlagsStaleAndMonthOnlyPrices(t *testing.T) {
	t.Parallel()
	o := analyzeResearch(t, &inframindv1.AssessmentRequest{Business: &inframindv1.Business{}, Workloads: []*inframindv1.Workload{researchChat8B()}})
	require.Equal(t, "medium", findingWithTitle(t, o, "Prices 386 days old: anthropic hosted api").GetSeverity())
	require.Equal(t, "low", findingWithTitle(t, o, "Month-only date (2026-05): openai hosted api (gpt-4o, gpt-4o-mini)").GetSeverity())
	// 189-219 days is beyond the 180-day threshold at both ends of the month: stale, not possibly.
	require.Equal(t, "medium", findingWithTitle(t, o, "Prices 219 days old: openai hosted api (gpt-4o, gpt-4o-mini)").GetSeverity())
	require.Equal(t, "medium", findingWithTitle(t, o, "Prices 280 days old: google hosted api").GetSeverity())
	for _, f := range o.Findings {
		require.NotContains(t, f.GetTitle(), "days old: aws", "the imported and curated aws rows are at most 27 days old")
		require.NotContains(t, f.GetTitle(), "days old: azure", "the azure rows are at most 106 days old")
	}
}

// With no LLM workload every offered class is compared; per GPU-hour by
// hand: aws p5.48xlarge 55.04 / 8 = 6.88, spot in us-east-2 (dearest zone
// use2-az3) 11.9912 / 8 = 1.4989, azure ND96isr_H100_v5 98.32 / 8 = 12.29, gcp
// a3-highgpu-8g in us-east4 (SkyPilot: host 9.46006 + 8 H100 78.37241, which the pricing calculator's
// 88.556 confirms within 1%; its lower us-central1 price is replaced, ADR 0044) / 8 = 10.97905875, spot
// a3-highgpu-8g in northamerica-northeast1 (Google Cloud pricing calculator,
// whole machine) 9.065844 / 8 = 1.1332305; 1-year commitment from the same
// file, a3-highgpu-8g in us-central1 (the calculator's row since ADR 0044; us-east1 costs the same)
// 44810.080665 / 730 h / 8 = 7.673.
func TestResearchComparesProvidersPerGPUHour(t *testing.T) {
	t.Parallel()
	o := analyzeResearch(t, &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Regions: []string{"eu"}}, Workloads: generalWorkloads(1)})
	for name, want := range map[string]float64{
		"usd_per_gpu_hour_on_demand_h100-sxm_aws":   6.88,
		"usd_per_gpu_hour_on_demand_h100-sxm_azure": 12.29,
		"usd_per_gpu_hour_on_demand_h100-sxm_gcp":   (9.46006 + 78.37241) / 8,
		"usd_per_gpu_hour_spot_h100-sxm_gcp":        9.065844 / 8,
		"usd_per_gpu_hour_commit_1y_h100-sxm_gcp":   44810.080665 / 730 / 8,
		"usd_per_gpu_hour_spot_h100-sxm_aws":        11.9912 / 8,
	} {
		require.InDelta(t, want, metricOf(t, o, name, "").GetValue(), 1e-9, name)
	}
	f := findingWithTitle(t, o, "NVIDIA H100 SXM 80GB per GPU-hour, cheapest first")
	require.Contains(t, f.GetDetail(), "on demand: aws $6.88 (p5.48xlarge, us-east-1), gcp $10.98 (a3-highgpu-8g, us-east4), azure $12.29 (ND96isr_H100_v5, eastus) (dearest 1.79x the cheapest)")
	caveat := findingWithTitle(t, o, "Availability caveats for NVIDIA H100 SXM 80GB")
	require.Equal(t, "info", caveat.GetSeverity(), "gcp prices H100 machines in EU regions")
	require.Contains(t, caveat.GetDetail(), "gcp europe-west4")
	l4 := findingWithTitle(t, o, "Availability caveats for NVIDIA L4")
	require.Contains(t, l4.GetDetail(), "gcp europe-west1", "the L4 caveat lists the EU regions it is priced in")
	require.Contains(t, findingWithTitle(t, o, "Accelerator classes compared").GetDetail(), "every GPU class")
}

// One GPU worked by hand: Llama 3.1 8B (8 B params, 32 layers, 8 KV heads of
// 128) in bf16 on gcp g2-standard-4 (1 x L4 24 GB, 0.3 TB/s, $0.706832/h).
// Weights 16 GB + 20% overhead = 19.2 GB; KV budget 24 x 0.9 - 19.2 = 2.4 GB;
// KV per token 2 x 32 x 8 x 128 x 2 B = 131,072 B, so 18,310 tokens, 15
// sequences of 1,200 tokens: with no SLO the replica runs at concurrency 15.
// A decode step then reads 16 GB of weights + 15 x 1,100 x 131,072 B = 18.16
// GB at most 0.6 x 0.3 TB/s: >= 100.9 ms for 15 tokens, so throughput <=
// 148.6 tokens/s and the cost >= 0.706832 / (148.6 x 3600) x 1e6 = $1.32 per
// million output tokens before prefill is counted.
func TestResearchCostPerTokenOnOneGPU(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{
		Business:  &inframindv1.Business{ProviderExclusions: []string{"aws", "azure"}},
		Workloads: []*inframindv1.Workload{researchChat8B()},
	}
	o := analyzeResearch(t, req)
	// The cheapest alternatives shown are H200, H100 and A100 machines; the L4 is searched too.
	tpsHigh := metricOf(t, o, "output_tokens_per_sec_high_h100-sxm", "chat")
	require.Contains(t, tpsHigh.GetFormula(), "the cheapest tensor-parallel degree")
	low := metricOf(t, o, "usd_per_mtok_output_low_h100-sxm", "chat")
	high := metricOf(t, o, "usd_per_mtok_output_high_h100-sxm", "chat")
	require.LessOrEqual(t, low.GetValue(), high.GetValue())
	require.Contains(t, low.GetSource(), "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv")

	// One L4 (g2-standard-4, $0.706832/h) at TP 1 is one of the choices searched: the cheapest cost
	// per token shown is never dearer. Its throughput is the sizing calculator's: at 1000 in / 200
	// out the KV cache holds 15 sequences.
	c, err := catalog.Load()
	require.NoError(t, err)
	m, _ := c.Model("llama-3.1-8b")
	g, _ := c.GPU("l4")
	capacity, err := sizing.CapacityAtSLO(sizing.ServingInput{
		Arch:    sizing.Arch{ParamsTotalB: m.ParamsTotalB, Layers: m.Layers, KVHeads: m.KVHeads, HeadDim: m.HeadDim, Attention: m.Attention, HiddenSize: m.Hidden},
		Weights: sizing.BF16, KV: sizing.BF16, TensorParallel: 1, InputTokens: 1000, OutputTokens: 200,
		GPU: sizing.Accelerator{Name: g.Name, MemoryGB: g.MemoryGB, BandwidthTBs: g.BandwidthTBs, BF16TFLOPS: g.BF16TFLOPS, FP8TFLOPS: g.FP8TFLOPS, LinkGBs: g.LinkGBs},
	}, sizing.SLO{})
	require.NoError(t, err)
	require.Equal(t, 15, capacity.MaxConcurrency)
	require.LessOrEqual(t, high.GetValue(), 0.706832/(capacity.OutputTokensPerSec.Low*3600)*1e6+1e-9)
	require.LessOrEqual(t, low.GetValue(), 0.706832/(capacity.OutputTokensPerSec.High*3600)*1e6+1e-9)

	// Hosted at 1000 in / 200 out: gpt-4o 10 + 2.5 x 5 = $22.50; gemini-2.5-flash 2.5 + 0.3 x 5 = $4.00.
	require.InDelta(t, 22.5, metricOf(t, o, "hosted_usd_per_mtok_output_openai_gpt-4o", "chat").GetValue(), 1e-9)
	require.InDelta(t, 4.0, metricOf(t, o, "hosted_usd_per_mtok_output_google_gemini-2.5-flash", "chat").GetValue(), 1e-9)
	findingWithTitle(t, o, "Cost per million output tokens for chat")
}

// A stricter latency target never makes a token cheaper: fewer requests fit
// in flight, so each machine-hour yields fewer tokens.
func TestResearchStricterSLONeverCheaper(t *testing.T) {
	t.Parallel()
	prev := 0.0
	for _, ttft := range []float64{20000, 5000, 2000, 1000, 500, 300} {
		w := researchChat8B()
		w.TtftP95Ms = ttft
		o := analyzeResearch(t, &inframindv1.AssessmentRequest{
			Business:  &inframindv1.Business{ProviderExclusions: []string{"aws", "azure"}},
			Workloads: []*inframindv1.Workload{w},
		})
		cost := math.Inf(1)
		if hasMetric(o, "usd_per_mtok_output_high_l4", "chat") {
			cost = metricOf(t, o, "usd_per_mtok_output_high_l4", "chat").GetValue()
		}
		require.GreaterOrEqual(t, cost, prev, "ttft %v", ttft)
		prev = cost
	}
}

func TestResearchMissingDataIsAFinding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		workload *inframindv1.Workload
		title    string
	}{
		{name: "parameters only", workload: &inframindv1.Workload{Name: "w", Kind: "llm_serving", ParamsBillion: 13, PeakRequestsPerSecond: 1}, title: "No architecture for w"},
		{name: "no token lengths", workload: &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "mistral-7b", PeakRequestsPerSecond: 1}, title: "Token lengths not stated for w"},
		{name: "model not in the catalogue", workload: &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "gpt-neo-2b", PeakRequestsPerSecond: 1}, title: "Unknown model for w"},
		{name: "nothing fits the slo", workload: &inframindv1.Workload{Name: "w", Kind: "llm_serving", Model: "llama-3.1-8b", PeakRequestsPerSecond: 1,
			MeanInputTokens: 1000, MeanOutputTokens: 200, TtftP95Ms: 1}, title: "No self-hosted alternative meets the SLO for w"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := analyzeResearch(t, &inframindv1.AssessmentRequest{Business: &inframindv1.Business{}, Workloads: []*inframindv1.Workload{tc.workload}})
			findingWithTitle(t, o, tc.title)
			require.NotEmpty(t, o.Summary)
		})
	}
}

func TestResearchRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     *inframindv1.AssessmentRequest
		wantMsg string
	}{
		{name: "unknown exclusion", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{ProviderExclusions: []string{"aws", "amazon"}}},
			wantMsg: `business.provider_exclusions[1]: unknown provider "amazon"`},
		{name: "everything excluded", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{ProviderExclusions: []string{"aws", "azure", "gcp"}}},
			wantMsg: "business.provider_exclusions: excludes every provider"},
		{name: "unknown precision", req: &inframindv1.AssessmentRequest{Business: &inframindv1.Business{},
			Workloads: []*inframindv1.Workload{{Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "fp4"}}},
			wantMsg: `workloads[0].precision: unknown precision "fp4"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzer.Analyze(assessment.FamilyResearch, tc.req, nil)
			require.True(t, errors.Is(err, analysis.ErrUnanalysable), "%v", err)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
