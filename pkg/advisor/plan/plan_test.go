package plan_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func load(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load()
	require.NoError(t, err)
	return c
}

func example(t *testing.T, file string) *inframindv1.AssessmentRequest {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", file))
	require.NoError(t, err)
	req, err := assessment.ParseRequest(doc)
	require.NoError(t, err)
	return req
}

func serving(peak float64) *inframindv1.Workload {
	return &inframindv1.Workload{Name: "chat", Kind: "llm_serving", Model: "llama-3.1-8b", Precision: "bf16",
		PeakRequestsPerSecond: peak, AvgRequestsPerSecond: peak / 2, MeanInputTokens: 1000, MeanOutputTokens: 200,
		TtftP95Ms: 2000, InterTokenLatencyMs: 60, AvailabilityTarget: 0.999}
}

// candidateIn finds the candidate of one instance type in one price region.
func candidateIn(t *testing.T, w plan.WorkloadPlan, provider, name, region string) plan.Candidate {
	t.Helper()
	for _, c := range w.Candidates {
		if c.Provider == provider && c.Instance == name && c.Region == region {
			return c
		}
	}
	require.Failf(t, "candidate missing", "%s/%s in %s", provider, name, region)
	return plan.Candidate{}
}

// candidate finds the first candidate of an instance type (its first price region by id).
func candidate(t *testing.T, w plan.WorkloadPlan, provider, name string) plan.Candidate {
	t.Helper()
	for _, c := range w.Candidates {
		if c.Provider == provider && c.Instance == name {
			return c
		}
	}
	require.Failf(t, "candidate missing", "%s/%s", provider, name)
	return plan.Candidate{}
}

func TestArchMapping(t *testing.T) {
	t.Parallel()
	cat := load(t)
	ds, ok := cat.Model("deepseek-v3")
	require.True(t, ok)
	a := plan.ArchFromModel(ds)
	require.Equal(t, sizing.AttentionMLA, a.Attention)
	require.Equal(t, 576, a.MLALatentDim)
	require.Equal(t, 256, a.Experts)
	require.Equal(t, 8, a.ExpertsPerToken)
	require.NoError(t, a.Validate())
	// MLA caches 61 x 576 x 2 B per token, not 2 x L x kv_heads x head_dim.
	kv, err := sizing.KVBytesPerToken(a, sizing.BF16)
	require.NoError(t, err)
	require.Equal(t, 61.0*576*2, kv)

	custom := plan.ArchFromRequest(example(t, "custom-architecture.yaml").GetWorkloads()[0].GetArchitecture())
	require.Equal(t, 576, custom.MLALatentDim)
	require.Equal(t, 37.0, custom.ParamsActiveB)
	require.NoError(t, custom.Validate())
}

// The serving plan for one candidate: replicas, instances and cost follow from its capacity by the
// stated formulas, and availability 0.999 puts at least two replicas on two machines.
func TestServingCandidateArithmetic(t *testing.T) {
	t.Parallel()
	// Every candidate's working, as this one need not be among those a result shows.
	p, err := plan.BuildWithEveryWorking(load(t), &inframindv1.AssessmentRequest{Workloads: []*inframindv1.Workload{serving(10)}})
	require.NoError(t, err)
	c := candidateIn(t, p.Workloads[0], "gcp", "a2-ultragpu-1g", "us-central1")
	require.True(t, c.Feasible, c.Reason)
	require.Equal(t, 1, c.TensorParallel)
	lo, _, err := sizing.Replicas(10, c.ReplicaCapacityRPS, plan.HeadroomLow)
	require.NoError(t, err)
	_, hi, err := sizing.Replicas(10, c.ReplicaCapacityRPS, plan.HeadroomHigh)
	require.NoError(t, err)
	require.Equal(t, plan.IntRange{Low: max(lo, 2), High: max(hi, 2)}, c.Replicas)
	require.Equal(t, c.Replicas, c.Instances) // one GPU per machine, TP 1
	// The pricing calculator's whole-machine row: $5.068798/h on demand, $2.759546 spot (SkyPilot's
	// lower Flex-start-like price, $1.09962 + $1.8462, is replaced: ADR 0044).
	require.InDelta(t, float64(c.Instances.High)*5.068798*730, c.Monthly.OnDemand.High, 1e-6)
	require.NotNil(t, c.Monthly.Spot)
	require.InDelta(t, float64(c.Instances.Low)*2.759546*730, c.Monthly.Spot.Low, 1e-6)
	require.Nil(t, c.Monthly.Commit1Y, "the imported data publishes no commitment price")
	require.NotEmpty(t, c.Formulas)
	require.Contains(t, c.Source, "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml")
	// Cost per million output tokens at 5 requests/s x 200 tokens x 3600 x 730.
	require.InDelta(t, c.Monthly.OnDemand.High/(5*200*3600*730/1e6), c.USDPerMTok.High, 1e-9)
}

// More traffic never needs fewer replicas on the same machine, nor costs less.
func TestMonotoneInTraffic(t *testing.T) {
	t.Parallel()
	cat := load(t)
	prev := map[string]plan.Candidate{}
	for _, peak := range []float64{0.5, 1, 3, 9, 27, 81} {
		p, err := plan.Build(cat, &inframindv1.AssessmentRequest{Workloads: []*inframindv1.Workload{serving(peak)}})
		require.NoError(t, err)
		for _, c := range p.Workloads[0].Candidates {
			if !c.Feasible {
				continue
			}
			key := c.Provider + "/" + c.Instance + " in " + c.Region
			if old, ok := prev[key]; ok && old.TensorParallel == c.TensorParallel {
				require.GreaterOrEqual(t, c.Replicas.Low, old.Replicas.Low, key)
				require.GreaterOrEqual(t, c.Replicas.High, old.Replicas.High, key)
				require.GreaterOrEqual(t, c.Monthly.OnDemand.High, old.Monthly.OnDemand.High, key)
			}
			prev[key] = c
		}
	}
}

func TestConstraints(t *testing.T) {
	t.Parallel()
	cat := load(t)
	tests := []struct {
		name     string
		business *inframindv1.Business
		check    func(t *testing.T, p plan.Plan)
	}{
		{name: "exclusion removes the provider", business: &inframindv1.Business{ProviderExclusions: []string{"aws"}},
			check: func(t *testing.T, p plan.Plan) {
				require.Equal(t, []string{"azure", "gcp"}, p.Providers)
				for _, c := range p.Workloads[0].Candidates {
					require.NotEqual(t, "aws", c.Provider)
				}
			}},
		{name: "preference picks the preferred provider's cheapest", business: &inframindv1.Business{ProviderPreference: []string{"azure"}},
			check: func(t *testing.T, p plan.Plan) {
				c, ok := p.Workloads[0].Chosen()
				require.True(t, ok)
				require.Equal(t, "azure", c.Provider)
				require.Len(t, p.Workloads[0].CheapestPerProvider, 3)
			}},
		{name: "GDPR without data_residency keeps data in the EU", business: &inframindv1.Business{Compliance: []string{"gdpr"}},
			check: func(t *testing.T, p plan.Plan) {
				require.Equal(t, []string{"eu"}, p.Constraints.Residency)
				c, ok := p.Workloads[0].Chosen()
				require.True(t, ok, "the catalogue prices GPU machines in EU regions")
				require.Contains(t, p.Constraints.AllowedRegions[c.Provider], c.Region)
				require.Contains(t, p.Constraints.AllowedRegions["gcp"], "europe-west4")
				for _, c := range p.Workloads[0].Candidates {
					if c.Feasible {
						require.Contains(t, p.Constraints.AllowedRegions[c.Provider], c.Region, "%s/%s", c.Provider, c.Instance)
					}
				}
			}},
		{name: "fp8 only on GPUs with FP8", business: nil,
			check: func(t *testing.T, p plan.Plan) {
				for _, c := range p.Workloads[1].Candidates {
					if c.GPU == "a100-80gb" || c.GPU == "a10g" {
						require.False(t, c.Feasible, c.Instance)
						require.Contains(t, c.Reason, "no FP8")
					}
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fp8 := serving(2)
			fp8.Name, fp8.Precision = "fp8", "fp8"
			p, err := plan.Build(cat, &inframindv1.AssessmentRequest{Business: tc.business, Workloads: []*inframindv1.Workload{serving(2), fp8}})
			require.NoError(t, err)
			tc.check(t, p)
		})
	}
}

// LoRA on llama-3.1-8b over 0.5 B tokens (finetune example without residency): compute 4ND-6ND, GPU-hours
// at MFU 0.35-0.45, cost at the instance's price per GPU-hour.
func TestTrainingCandidate(t *testing.T) {
	t.Parallel()
	req := example(t, "finetune-gdpr-eu.yaml")
	req.Business.DataResidency = nil
	req.Business.Compliance = nil
	p, err := plan.Build(load(t), req)
	require.NoError(t, err)
	w := p.Workloads[0]
	c := candidateIn(t, w, "gcp", "a2-highgpu-8g", "us-central1")
	require.True(t, c.Feasible, c.Reason)
	tr := c.Training
	require.NotNil(t, tr)
	m, ok := load(t).Model("llama-3.1-8b")
	require.True(t, ok)
	n, d := m.ParamsTotalB*1e9, 0.5e9
	require.InDelta(t, 4*n*d/(312e12*0.45)/3600, tr.GPUHours.Low, 1e-6)
	require.InDelta(t, 6*n*d/(312e12*0.35)/3600, tr.GPUHours.High, 1e-6)
	require.Equal(t, 8, tr.GPUs)
	require.InDelta(t, tr.GPUHours.High*29.38708/8, tr.CostUSD.High, 1e-6)
	require.Equal(t, "yes", tr.MeetsDeadline)
	require.Equal(t, "lora", tr.Strategy)
	require.False(t, p.Totals.OneOffUSD.IsZero())
}

func TestImpossibleAndMalformed(t *testing.T) {
	t.Parallel()
	cat := load(t)
	_, err := plan.Build(cat, &inframindv1.AssessmentRequest{})
	require.True(t, errors.Is(err, plan.ErrNoWorkloads))

	p, err := plan.Build(cat, example(t, "impossible.yaml"))
	require.NoError(t, err)
	_, ok := p.Workloads[0].Chosen()
	require.False(t, ok)
	var titles []string
	for _, f := range p.AllFindings() {
		require.Equal(t, plan.SeverityHigh, f.Severity)
		titles = append(titles, f.Title)
	}
	require.Len(t, titles, 2, "fits nowhere, and the 5 ms target is below the bandwidth floor: %v", titles)
	require.Empty(t, p.Totals.Priced)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	cat := load(t)
	a, err := plan.Build(cat, example(t, "chatbot-70b-hipaa-us.yaml"))
	require.NoError(t, err)
	b, err := plan.Build(cat, example(t, "chatbot-70b-hipaa-us.yaml"))
	require.NoError(t, err)
	require.Equal(t, a, b)
}

// Without a residency every region is allowed, but the recommendation stays in a region where the
// users are when one has a feasible deployment, even if another continent is cheaper.
func TestRecommendationPrefersTheUsersRegions(t *testing.T) {
	t.Parallel()
	cat := load(t)
	anywhere, err := plan.Build(cat, &inframindv1.AssessmentRequest{Workloads: []*inframindv1.Workload{serving(10)}})
	require.NoError(t, err)
	cheapest, ok := anywhere.Workloads[0].Chosen()
	require.True(t, ok)
	for _, code := range []string{"eu", "jp", "us"} {
		p, err := plan.Build(cat, &inframindv1.AssessmentRequest{Business: &inframindv1.Business{Regions: []string{code}},
			Workloads: []*inframindv1.Workload{serving(10)}})
		require.NoError(t, err)
		c, ok := p.Workloads[0].Chosen()
		require.True(t, ok, code)
		r, ok := cat.Region(c.Provider, c.Region)
		require.True(t, ok)
		require.True(t, r.Jurisdiction == code || r.Country == code, "%s: chose %s %s in %s", code, c.Provider, c.Instance, c.Region)
		require.GreaterOrEqual(t, c.Monthly.OnDemand.High, cheapest.Monthly.OnDemand.High, "the users' region may cost more, never less, than the cheapest anywhere")
		require.Empty(t, p.Constraints.Residency, "a preference, not a residency")
	}
}

// A general service is priced on the cheapest general-purpose CPU machine that holds its stated
// vCPU and memory per instance. Prices by hand from data/instances.yaml: gcp e2-standard-2 (2 vCPU,
// 8 GB) $0.06701/h in us-central1; aws m7i.xlarge (4 vCPU, 16 GB) $0.2142/h in eu-north-1, the
// cheapest of its EU regions; azure D2s_v5 (2 vCPU, 8 GiB) $0.102/h in swedencentral, the cheapest of its
// five EU regions (westeurope and belgiumcentral 0.115, francecentral 0.112, northeurope 0.107). A service no
// catalogued CPU machine holds (the largest is gcp n2-standard-128: 128 vCPU, 512 GB) stays unpriced.
func TestGeneralServicesArePricedOnCPUMachines(t *testing.T) {
	t.Parallel()
	cat := load(t)
	service := func(vcpu, mem float64) *inframindv1.Workload {
		return &inframindv1.Workload{Name: "api", Kind: "general", PeakRequestsPerSecond: 100,
			RequestsPerSecondPerInstance: 50, Vcpu: vcpu, MemoryGb: mem, AvailabilityTarget: 0.999}
	}
	tests := []struct {
		name                     string
		business                 *inframindv1.Business
		vcpu, mem                float64
		provider, instance, zone string
		hourly                   float64
	}{
		{"anywhere", &inframindv1.Business{}, 2, 4, "gcp", "e2-standard-2", "us-central1", 0.06701},
		{"aws in the eu", &inframindv1.Business{DataResidency: []string{"eu"}, ProviderExclusions: []string{"gcp", "azure"}}, 2, 4, "aws", "m7i.xlarge", "eu-north-1", 0.2142},
		{"azure in the eu", &inframindv1.Business{DataResidency: []string{"eu"}, ProviderExclusions: []string{"gcp", "aws"}}, 2, 4, "azure", "D2s_v5", "swedencentral", 0.102},
		{"too big for any CPU machine", &inframindv1.Business{}, 192, 768, "", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := plan.Build(cat, &inframindv1.AssessmentRequest{Business: tt.business, Workloads: []*inframindv1.Workload{service(tt.vcpu, tt.mem)}})
			require.NoError(t, err)
			w := p.Workloads[0]
			require.Positive(t, w.Instances.Low)
			c, ok := w.Chosen()
			if tt.provider == "" {
				require.False(t, ok)
				require.Contains(t, p.Totals.Unpriced, "api (no priced CPU machine in scope holds it)")
				require.Contains(t, w.Findings[len(w.Findings)-1].Title, "No feasible deployment for api")
				return
			}
			require.True(t, ok)
			require.Equal(t, []string{tt.provider, tt.instance, tt.zone}, []string{c.Provider, c.Instance, c.Region})
			require.Empty(t, c.GPU)
			require.InDelta(t, float64(w.Instances.Low)*tt.hourly*plan.HoursPerMonth, c.Monthly.OnDemand.Low, 1e-6)
			require.InDelta(t, float64(w.Instances.High)*tt.hourly*plan.HoursPerMonth, c.Monthly.OnDemand.High, 1e-6)
			require.Contains(t, p.Totals.Priced, "api")
			require.InDelta(t, c.Monthly.OnDemand.High, p.Totals.Monthly.OnDemand.High, 1e-9)
		})
	}
}

// The GDPR fine-tuning example (EU residency, GCP then Azure preferred, AWS excluded) gets a priced
// plan in the EU for every workload, and Azure offers a feasible one in one of the five EU regions
// the imported Azure prices cover.
func TestFinetuneExampleIsPricedInTheEUOnBothPreferredClouds(t *testing.T) {
	t.Parallel()
	cat := load(t)
	p, err := plan.Build(cat, example(t, "finetune-gdpr-eu.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, p.Workloads)
	for _, w := range p.Workloads {
		c, ok := w.Chosen()
		require.True(t, ok, w.Label)
		r, ok := cat.Region(c.Provider, c.Region)
		require.True(t, ok)
		require.Equal(t, "eu", r.Jurisdiction, "%s: %s %s in %s", w.Label, c.Provider, c.Instance, c.Region)
		providers := map[string]plan.Candidate{}
		for _, b := range w.CheapestPerProvider {
			providers[b.Provider] = w.Candidates[b.Index]
		}
		require.Contains(t, providers, "gcp", w.Label)
		require.Contains(t, providers, "azure", w.Label)
		require.True(t, providers["azure"].Feasible, w.Label)
		az, ok := cat.Region("azure", providers["azure"].Region)
		require.True(t, ok, w.Label)
		require.Equal(t, "eu", az.Jurisdiction, "%s: azure in %s", w.Label, az.ID)
		require.NotContains(t, providers, "aws", "excluded by the request")
	}
}

// An Azure-only request is priced where the imported Azure prices reach: the five EU regions of
// the Retail Prices snapshots (ADR 0051). UK South is a catalogued region without a priced Azure
// machine, and no Azure region in Japan is catalogued: both say which prices are missing.
func TestAzureOnlyResidency(t *testing.T) {
	t.Parallel()
	cat := load(t)
	tests := []struct {
		residency string
		missing   string // the finding's title, "" when the plan is priced
	}{
		{"eu", ""},
		{"uk", "No priced region in uk for chat"},
		{"jp", "No priced region in jp for chat"},
	}
	for _, tt := range tests {
		t.Run(tt.residency, func(t *testing.T) {
			t.Parallel()
			p, err := plan.Build(cat, &inframindv1.AssessmentRequest{
				Business:  &inframindv1.Business{DataResidency: []string{tt.residency}, ProviderExclusions: []string{"aws", "gcp"}},
				Workloads: []*inframindv1.Workload{serving(2)},
			})
			require.NoError(t, err)
			w := p.Workloads[0]
			c, ok := w.Chosen()
			if tt.missing != "" {
				require.False(t, ok)
				var titles []string
				for _, f := range w.Findings {
					titles = append(titles, f.Title)
				}
				require.Contains(t, titles, tt.missing)
				return
			}
			require.True(t, ok)
			require.Equal(t, "azure", c.Provider)
			regions := map[string]bool{}
			for _, c := range w.Candidates {
				if c.Feasible {
					r, ok := cat.Region(c.Provider, c.Region)
					require.True(t, ok)
					require.Equal(t, "eu", r.Jurisdiction, "%s in %s", c.Instance, c.Region)
					regions[c.Region] = true
				}
			}
			require.GreaterOrEqual(t, len(regions), 4, "feasible azure candidates in %v", regions)
		})
	}
}
