package catalog

import (
	"errors"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// embeddedCopy returns the embedded catalogue files as a map the test may
// alter before feeding it through Parse.
func embeddedCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(dataFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(dataFS, p)
		if err != nil {
			return err
		}
		out[p] = &fstest.MapFile{Data: b}
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestLoad(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	require.Regexp(t, `^\d{4}-\d{2}-\d{2}\.\d+$`, c.Version)
	require.Equal(t, "2026-12-06", c.CollectedOn)
	require.NotEmpty(t, c.GPUs)
	require.NotEmpty(t, c.Instances)
	require.NotEmpty(t, c.Models)
	require.NotEmpty(t, c.HostedAPIs)
	require.NotEmpty(t, c.Regimes)
	require.NotEmpty(t, c.Eligibility)
	require.NotEmpty(t, c.Regions)

	again, err := Load()
	require.NoError(t, err)
	require.Equal(t, c, again, "loading twice must give the same catalogue")

	// The embedded files parse the same way through Parse as through Load.
	viaParse, err := Parse(embeddedCopy(t))
	require.NoError(t, err)
	require.Equal(t, c, viaParse)
}

func TestEveryRowHasSourceAndAsOf(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	date := regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$`)
	var rows []struct {
		what string
		src  Source
	}
	add := func(what string, s Source) {
		rows = append(rows, struct {
			what string
			src  Source
		}{what, s})
	}
	for _, r := range c.GPUs {
		add("gpu "+r.ID, r.Source)
	}
	for _, r := range c.Instances {
		add("instance "+r.Provider+"/"+r.Name, r.Source)
	}
	for _, r := range c.Models {
		add("model "+r.ID, r.Source)
	}
	for _, r := range c.HostedAPIs {
		add("hosted "+r.Provider+"/"+r.Model, r.Source)
	}
	for _, r := range c.Regimes {
		add("regime "+r.ID, r.Source)
	}
	for _, r := range c.Eligibility {
		add("eligibility "+r.Provider+"/"+r.Regime, r.Source)
	}
	for _, r := range c.Regions {
		add("region "+r.Provider+"/"+r.ID, r.Source)
	}
	require.Len(t, rows, len(c.GPUs)+len(c.Instances)+len(c.Models)+len(c.HostedAPIs)+len(c.Regimes)+len(c.Eligibility)+len(c.Regions))
	for _, r := range rows {
		require.NotEmpty(t, strings.TrimSpace(r.src.Source), "%s has no source", r.what)
		require.Regexp(t, date, r.src.AsOf, "%s as_of", r.what)
		require.LessOrEqual(t, r.src.AsOf, c.CollectedOn, "%s is dated after the catalogue was collected", r.what)
	}
}

func TestParseRejectsBrokenData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		old     string
		new     string
		wantErr string
	}{
		{
			name:    "row without source",
			file:    "data/gpus.yaml",
			old:     `    source: "stas00/ml-engineering compute/accelerator/README.md at commit b9e29720eebd; cli99/llm-analysis gpu_configs/h100-sxm-80gb.json; link_gbs: NVIDIA H100 Tensor Core GPU datasheet: NVLink 900 GB/s (both directions)"` + "\n",
			new:     "",
			wantErr: "gpus.yaml does not match the schema",
		},
		{
			name:    "row citing an internal reference file instead of its source",
			file:    "data/gpus.yaml",
			old:     `    source: "stas00/ml-engineering compute/accelerator/README.md at commit b9e29720eebd; cli99/llm-analysis gpu_configs/h100-sxm-80gb.json;`,
			new:     `    source: "shared reference ai-infra-figures.md;`,
			wantErr: `gpus: h100-sxm cites "ai-infra-figures", a project file, not a public document or dataset`,
		},
		{
			name:    "regime citing a local path",
			file:    "data/regimes.yaml",
			old:     `    source: "Regulation (EU) 2016/679 (GDPR), eur-lex.europa.eu:`,
			new:     `    source: "/work/notes/compliance.md:`,
			wantErr: `regimes: gdpr cites "/work/"`,
		},
		{
			name:    "benchmark of a model not in the catalogue",
			file:    "data/serving_benchmarks.yaml",
			old:     "    model: llama-3.3-70b\n",
			new:     "    model: llama-9-70b\n",
			wantErr: `refers to unknown model "llama-9-70b"`,
		},
		{
			name:    "benchmark without a licence",
			file:    "data/serving_benchmarks.yaml",
			old:     `    licence: "NVIDIA documentation (NVIDIA terms of use); figures cited with attribution"` + "\n",
			new:     "",
			wantErr: "serving_benchmarks.yaml does not match the schema",
		},
		{
			name:    "row without as_of",
			file:    "data/models.yaml",
			old:     `    as_of: "2024-12-27"` + "\n",
			new:     "",
			wantErr: "models.yaml does not match the schema",
		},
		{
			name:    "as_of that is not a date",
			file:    "data/regions.yaml",
			old:     `    as_of: "2026-11"`,
			new:     `    as_of: "2026-13"`,
			wantErr: "regions.yaml does not match the schema",
		},
		{
			name:    "negative on-demand price",
			file:    "data/instances/aws.yaml",
			old:     "on_demand_hourly: 1.006",
			new:     "on_demand_hourly: -1.006",
			wantErr: "instances/aws.yaml does not match the schema",
		},
		{
			name:    "negative spot price",
			file:    "data/instances/aws.yaml",
			old:     "spot_hourly: 0.4507\n",
			new:     "spot_hourly: -0.4507\n",
			wantErr: "instances/aws.yaml does not match the schema",
		},
		{
			name:    "CPU machine without vCPUs",
			file:    "data/instances/aws-cpu.yaml",
			old:     "  memory_gb: 16\n  name: m7i.xlarge\n  offered_in:\n  - us-east-1\n",
			new:     "  name: m7i.xlarge\n  offered_in:\n  - us-east-1\n",
			wantErr: "instances/aws-cpu.yaml does not match the schema",
		},
		{
			name:    "CPU machine with a GPU count but no GPU",
			file:    "data/instances/aws-cpu.yaml",
			old:     "  memory_gb: 16\n  name: m7i.xlarge\n  offered_in:\n  - us-east-1\n",
			new:     "  gpu_count: 1\n  memory_gb: 16\n  name: m7i.xlarge\n  offered_in:\n  - us-east-1\n",
			wantErr: "instances/aws-cpu.yaml does not match the schema",
		},
		{
			name:    "negative token price",
			file:    "data/hosted_apis.yaml",
			old:     "input_usd_per_mtok: 2.50",
			new:     "input_usd_per_mtok: -2.50",
			wantErr: "hosted_apis.yaml does not match the schema",
		},
		{
			name:    "unknown field",
			file:    "data/gpus.yaml",
			old:     "    memory_gb: 141\n",
			new:     "    memory_gb: 141\n    memory_gib: 131\n",
			wantErr: "gpus.yaml does not match the schema",
		},
		{
			name:    "MLA model without latent dimension",
			file:    "data/models.yaml",
			old:     "    mla_latent_dim: 576\n",
			new:     "",
			wantErr: "models.yaml does not match the schema",
		},
		{
			name:    "unknown GPU reference",
			file:    "data/instances/aws.yaml",
			old:     "  gpu: l40s\n",
			new:     "  gpu: l40x\n",
			wantErr: `refers to unknown GPU "l40x"`,
		},
		{
			name:    "unknown price region",
			file:    "data/instances/azure.yaml",
			old:     "  offered_in:\n  - eastus\n  on_demand_hourly: 3.673\n  price_region: eastus\n",
			new:     "  offered_in:\n  - eastus9\n  on_demand_hourly: 3.673\n  price_region: eastus9\n",
			wantErr: "priced in unknown region azure/eastus9",
		},
		{
			name:    "offered_in without the price region",
			file:    "data/instances/azure.yaml",
			old:     "  offered_in:\n  - eastus\n  on_demand_hourly: 3.673\n",
			new:     "  offered_in:\n  - westeurope\n  on_demand_hourly: 3.673\n",
			wantErr: "offered_in must include its price region eastus",
		},
		{
			name:    "duplicate GPU id",
			file:    "data/gpus.yaml",
			old:     "  - id: h200-sxm\n",
			new:     "  - id: h100-sxm\n",
			wantErr: `duplicate id "h100-sxm"`,
		},
		{
			name:    "duplicate model id",
			file:    "data/models.yaml",
			old:     "  - id: llama-3.3-70b\n",
			new:     "  - id: llama-3.1-70b\n",
			wantErr: `duplicate id "llama-3.1-70b"`,
		},
		{
			name:    "duplicate instance",
			file:    "data/instances/aws.yaml",
			old:     "  name: g5.4xlarge\n",
			new:     "  name: g5.xlarge\n",
			wantErr: "duplicate instance aws/g5.xlarge in ap-east-1",
		},
		{
			name:    "duplicate region",
			file:    "data/regions.yaml",
			old:     "    id: eu-central-1\n",
			new:     "    id: eu-west-1\n",
			wantErr: "duplicate region aws/eu-west-1",
		},
		{
			name:    "eligibility for an unknown regime",
			file:    "data/eligibility.yaml",
			old:     "    regime: hipaa\n",
			new:     "    regime: fedramp\n",
			wantErr: `unknown regime "fedramp"`,
		},
		{
			name:    "spot above on-demand",
			file:    "data/instances/gcp.yaml",
			old:     "spot_hourly: 0.28184\n",
			new:     "spot_hourly: 0.9\n",
			wantErr: "spot price 0.9000 exceeds on-demand",
		},
		{
			name:    "active parameters above total",
			file:    "data/models.yaml",
			old:     "    params_active_b: 12.9\n",
			new:     "    params_active_b: 50\n",
			wantErr: "mixtral-8x7b active parameters exceed total",
		},
		{
			name:    "kv heads that do not divide heads",
			file:    "data/models.yaml",
			old:     "    kv_heads: 4\n",
			new:     "    kv_heads: 5\n",
			wantErr: "qwen2.5-7b kv_heads 5 must divide heads 28",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := embeddedCopy(t)
			before := string(files[tt.file].Data)
			after := strings.Replace(before, tt.old, tt.new, 1)
			require.NotEqual(t, before, after, "the test's edit must change %s", tt.file)
			files[tt.file] = &fstest.MapFile{Data: []byte(after)}

			c, err := Parse(files)
			require.Error(t, err)
			require.Nil(t, c)
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestParseMissingFile(t *testing.T) {
	t.Parallel()
	files := embeddedCopy(t)
	delete(files, "data/regions.yaml")
	_, err := Parse(files)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrInvalid), "a missing file is not bad data")
	require.ErrorContains(t, err, "data/regions.yaml")
}

// TestFiguresTheReferenceFlagsAsCommonErrors checks the figures that public
// tables are known to get wrong (LLM-Viewer's H100 bandwidth, sparse figures
// quoted as dense, an AWS price list's g6.48xlarge GPU memory).
func TestFiguresTheReferenceFlagsAsCommonErrors(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)

	h100, ok := c.GPU("h100-sxm")
	require.True(t, ok)
	require.InDelta(t, 3.35, h100.BandwidthTBs, 1e-9, "H100 SXM bandwidth is 3.35 TB/s, not LLM-Viewer's 3.072")
	require.InDelta(t, 989, h100.BF16TFLOPS, 1e-9, "dense BF16, not the sparse figure")
	require.InDelta(t, 80, h100.MemoryGB, 1e-9)

	h200, ok := c.GPU("h200-sxm")
	require.True(t, ok)
	require.InDelta(t, 141, h200.MemoryGB, 1e-9, "H100/H200 memory must not be swapped")

	g6, ok := c.Instance("aws", "g6.48xlarge")
	require.True(t, ok)
	l4, ok := c.GPU(g6.GPU)
	require.True(t, ok)
	require.InDelta(t, 192, float64(g6.GPUCount)*l4.MemoryGB, 1e-9, "g6.48xlarge holds 8 x 24 GB, not 1,430 GB")

	p5, ok := c.Instance("aws", "p5.48xlarge")
	require.True(t, ok)
	require.InDelta(t, 55.04, p5.OnDemandHourly, 1e-9, "the pre-June-2025 98.32 USD/h price is stale")

	l4Dense, ok := c.GPU("l4")
	require.True(t, ok)
	require.InDelta(t, 121, l4Dense.BF16TFLOPS, 1e-9, "L4 dense BF16, not the sparse 242")
}

// TestKVCacheExampleFromReference recomputes the reference's worked example
// from catalogue rows: Llama-3-70B KV cache per token in BF16 is
// 2 x L x n_kv x d_h x 2 bytes = 327,680 bytes (vllm kv_cache_interface.py).
func TestKVCacheExampleFromReference(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	for _, id := range []string{"llama-3.1-70b", "llama-3.3-70b"} {
		m, ok := c.Model(id)
		require.True(t, ok, id)
		require.Equal(t, 327680, 2*m.Layers*m.KVHeads*m.HeadDim*2, id)
	}
}

func TestModelsTheIssueRequires(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	ids := c.ModelIDs()
	for _, id := range []string{
		"llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b",
		"mistral-7b", "mixtral-8x7b", "qwen2.5-7b", "qwen2.5-72b", "deepseek-v3",
		"gemma-2-9b", "gemma-2-27b", "phi-3-mini", "phi-3-medium",
	} {
		require.Contains(t, ids, id)
	}

	ds, ok := c.Model("deepseek-v3")
	require.True(t, ok)
	require.Equal(t, "mla", ds.Attention)
	require.Equal(t, 512+64, ds.MLALatentDim, "kv_lora_rank 512 + RoPE key dim 64")
	require.Equal(t, 61, ds.Layers)
	require.InDelta(t, 671, ds.ParamsTotalB, 1e-9)
	require.InDelta(t, 37, ds.ParamsActiveB, 1e-9)
	require.Equal(t, 256, ds.Experts)
	require.Equal(t, 8, ds.ActiveExperts)

	mx, ok := c.Model("mixtral-8x7b")
	require.True(t, ok)
	require.Equal(t, 8, mx.Experts)
	require.Equal(t, 2, mx.ActiveExperts)
	require.Less(t, mx.ParamsActiveB, mx.ParamsTotalB)

	for _, m := range c.Models {
		if m.Attention != "mla" {
			require.Zero(t, m.MLALatentDim, m.ID)
		}
		if m.Experts == 0 {
			require.InDelta(t, m.ParamsTotalB, m.ParamsActiveB, 1e-9, "%s is dense", m.ID)
		}
	}
}

func TestLookups(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)

	_, ok := c.GPU("h100-sxm")
	require.True(t, ok)
	_, ok = c.GPU("h100")
	require.False(t, ok)

	m, ok := c.Model("qwen2.5-72b")
	require.True(t, ok)
	require.Equal(t, 80, m.Layers)
	_, ok = c.Model("gpt-4")
	require.False(t, ok)

	r, ok := c.Regime("pci_dss")
	require.True(t, ok)
	require.Equal(t, 365, r.LogRetentionDays)
	_, ok = c.Regime("fedramp")
	require.False(t, ok)

	tests := []struct {
		name         string
		provider, id string
		ok           bool
		jurisdiction string
	}{
		{name: "aws ireland", provider: "aws", id: "eu-west-1", ok: true, jurisdiction: "eu"},
		{name: "aws london", provider: "aws", id: "eu-west-2", ok: true, jurisdiction: "uk"},
		{name: "azure west europe", provider: "azure", id: "westeurope", ok: true, jurisdiction: "eu"},
		{name: "gcp iowa", provider: "gcp", id: "us-central1", ok: true, jurisdiction: "us"},
		{name: "region of another provider", provider: "gcp", id: "eu-west-1", ok: false},
		{name: "unknown region", provider: "aws", id: "mars-1", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.Region(tt.provider, tt.id)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, tt.jurisdiction, got.Jurisdiction)
			}
		})
	}

	all := c.InstancesOf("")
	require.Len(t, all, len(c.Instances))
	require.True(t, slices.IsSortedFunc(all, func(a, b Instance) int {
		if a.Provider != b.Provider {
			return strings.Compare(a.Provider, b.Provider)
		}
		return strings.Compare(a.Name, b.Name)
	}))
	gcp := c.InstancesOf("gcp")
	require.NotEmpty(t, gcp)
	for _, in := range gcp {
		require.Equal(t, "gcp", in.Provider)
	}
	require.Empty(t, c.InstancesOf("oracle"))
	// The returned slice is a copy: changing it leaves the catalogue alone.
	gcp[0].OnDemandHourly = -1
	again := c.InstancesOf("gcp")
	require.Positive(t, again[0].OnDemandHourly)

	require.True(t, slices.IsSorted(c.ModelIDs()))
	require.Len(t, c.EligibilityFor("azure", "hipaa"), 1)
	require.Empty(t, c.EligibilityFor("azure", "soc2"))
	require.Len(t, c.RegionsIn("gcp", "uk"), 1)
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)

	for _, p := range []string{"aws", "azure", "gcp"} {
		require.NotEmpty(t, c.InstancesOf(p), p)
		require.NotEmpty(t, c.RegionsIn(p, "eu"), "%s needs an EU region", p)
		require.NotEmpty(t, c.RegionsIn(p, "uk"), "%s needs a UK region", p)
		elig := c.EligibilityFor(p, "hipaa")
		require.Len(t, elig, 1, "%s HIPAA BAA", p)
		require.True(t, elig[0].Available)
	}
	// Every instance is offered in its price region, a region the catalogue knows; the imported
	// price data prices GPU machines in EU regions of AWS and GCP (the Azure rows are curated,
	// US only).
	inEU := map[string]bool{}
	for _, in := range c.Instances {
		require.Contains(t, in.OfferedIn, in.PriceRegion)
		r, ok := c.Region(in.Provider, in.PriceRegion)
		require.True(t, ok)
		inEU[in.Provider] = inEU[in.Provider] || r.Jurisdiction == "eu"
	}
	require.True(t, inEU["aws"], "aws GPU prices in the EU")
	require.True(t, inEU["gcp"], "gcp GPU prices in the EU")
	for _, r := range c.Regimes {
		for _, ctl := range r.Controls {
			require.NotEmpty(t, ctl.Citation, "%s/%s", r.ID, ctl.ID)
			require.NotEmpty(t, ctl.Actions, "%s/%s", r.ID, ctl.ID)
		}
	}
	for _, id := range []string{"gdpr", "hipaa", "pci_dss", "soc2", "iso27001", "eu_ai_act", "ccpa"} {
		_, ok := c.Regime(id)
		require.True(t, ok, id)
	}
	for _, p := range []string{"openai", "anthropic", "google"} {
		n := 0
		for _, h := range c.HostedAPIs {
			if h.Provider == p {
				n++
				require.Greater(t, h.OutputUSDPerMTok, h.InputUSDPerMTok, "%s/%s output costs more than input", p, h.Model)
			}
		}
		require.Positive(t, n, p)
	}
}

// TestAWSGPUsPricedInTheEU checks that EU residency does not narrow the AWS GPU choice: every GPU
// model the catalogue prices on AWS is priced in an EU region too (the imported SkyPilot file lists
// every one of them in eu-central-1 or eu-north-1), except the Blackwell machines, which that file
// lists in US regions only (p6-b200.48xlarge in us-east-1, us-east-2 and us-west-2, p6-b300.48xlarge
// in us-west-2, every g7e size with the RTX PRO 6000 in us-east-1 and us-east-2). A new GPU priced
// only outside the EU fails here until it is named.
func TestAWSGPUsPricedInTheEU(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)

	models, inEU := map[string]bool{}, map[string]bool{}
	for _, in := range c.InstancesOf("aws") {
		if !in.HasGPU() {
			continue
		}
		models[in.GPU] = true
		r, ok := c.Region("aws", in.PriceRegion)
		require.True(t, ok, in.PriceRegion)
		inEU[in.GPU] = inEU[in.GPU] || r.Jurisdiction == "eu"
	}
	require.GreaterOrEqual(t, len(models), 10, "AWS GPU models: %v", models)
	usOnly := map[string]bool{"b200": true, "b300": true, "rtx-pro-6000": true}
	for m := range models {
		if usOnly[m] {
			require.False(t, inEU[m], "AWS %s is priced in the EU now: drop it from the US-only list", m)
			continue
		}
		require.True(t, inEU[m], "AWS %s has no EU price", m)
	}
}

func TestSchemaJSON(t *testing.T) {
	t.Parallel()
	b, err := SchemaJSON()
	require.NoError(t, err)
	require.Contains(t, string(b), `"$id": "https://infra-mind.dev/schemas/advisor-catalog.schema.json"`)
}

// TestRTXPro6000StatesItsLowerReading: NVIDIA prints the RTX PRO 6000 Blackwell Server Edition's
// Tensor Core figures (1 PFLOPS FP16/BF16, 2 PFLOPS FP8) without saying whether with sparsity. The
// catalogue takes the lower reading, half of them, and the row's source, which every plan on the
// GPU cites, must say so: a report reader sees the assumption next to the figure.
func TestRTXPro6000StatesItsLowerReading(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	g, ok := c.GPU("rtx-pro-6000")
	require.True(t, ok)
	require.InDelta(t, 1000.0/2, g.BF16TFLOPS, 1e-9, "half of NVIDIA's printed 1 PFLOPS")
	require.InDelta(t, 2000.0/2, g.FP8TFLOPS, 1e-9, "half of NVIDIA's printed 2 PFLOPS")
	require.InDelta(t, 96.0, g.MemoryGB, 1e-9)
	require.InDelta(t, 1.597, g.BandwidthTBs, 1e-9, "the Server Edition's, not the Workstation Edition's 1792 GB/s")
	require.Contains(t, g.Source.Source, "FP16/BF16 Tensor Core 1 PFLOPS, FP8 2 PFLOPS")
	require.Contains(t, g.Source.Source, "dense figures taken as half of NVIDIA's printed figures, which are most likely with sparsity")
}
