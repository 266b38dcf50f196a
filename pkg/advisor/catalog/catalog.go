// Package catalog is the versioned, cited data the advisors compute with:
// accelerators, cloud instances and prices, open-model architectures,
// hosted-API token prices, compliance regimes with their controls, provider
// eligibility programmes and regions. Every row carries its source and as-of
// date; the files are embedded, schema-validated and cross-checked at load.
package catalog

import (
	"cmp"
	"embed"
	"fmt"
	"io/fs"
	"slices"
)

// dataFS holds the catalogue's data files and their JSON Schema. It is
// immutable embedded data, read only through Load.
//
//go:embed data/*.yaml data/instances/*.yaml data/history schema/catalog.schema.json
var dataFS embed.FS

// Source says where a row's figures come from and when they were true.
type Source struct {
	// Source names the document, repository file or page, precisely enough
	// to find the figure again.
	Source string `json:"source"`
	// AsOf is YYYY-MM-DD, or YYYY-MM when only the month is known.
	AsOf string `json:"as_of"`
}

// GPU is one accelerator with its dense (no sparsity) peak figures.
type GPU struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	MemoryGB     float64 `json:"memory_gb"`
	BandwidthTBs float64 `json:"bandwidth_tbs"`
	// BF16TFLOPS and FP8TFLOPS are dense peaks; 0 means not supported.
	BF16TFLOPS float64 `json:"bf16_tflops"`
	FP8TFLOPS  float64 `json:"fp8_tflops"`
	// FP16TFLOPS is set for GPUs without BF16 (T4, V100); 0 otherwise.
	FP16TFLOPS   float64 `json:"fp16_tflops,omitempty"`
	Interconnect string  `json:"interconnect"`
	// LinkGBs is one GPU's bandwidth to its peers in one direction (GB/s), what a tensor-parallel
	// all-reduce moves data at; 0 when not published.
	LinkGBs float64 `json:"link_gbs,omitempty"`
	Notes   string  `json:"notes,omitempty"`
	Source
}

// Instance is one cloud machine type with its GPUs and prices in PriceRegion. A CPU machine (a
// general-purpose family priced for services) has no GPU: GPU is empty and GPUCount 0, and its
// VCPU and MemoryGB are always set.
type Instance struct {
	// Provider is aws, azure or gcp.
	Provider string `json:"provider"`
	Name     string `json:"name"`
	// GPU is a GPU.ID in the same catalogue; empty on a CPU machine.
	GPU      string `json:"gpu,omitempty"`
	GPUCount int    `json:"gpu_count,omitempty"`
	// VCPU and MemoryGB are 0 when no source was recorded for them (GPU machines only).
	VCPU        int     `json:"vcpu,omitempty"`
	MemoryGB    float64 `json:"memory_gb,omitempty"`
	PriceRegion string  `json:"price_region"`
	// OnDemandHourly is USD per hour for the whole machine.
	OnDemandHourly float64 `json:"on_demand_hourly"`
	// SpotHourly (USD/h) and the commitment prices (USD per month) are 0
	// when not published.
	SpotHourly      float64 `json:"spot_hourly,omitempty"`
	Commit1YMonthly float64 `json:"commit_1y_monthly,omitempty"`
	Commit3YMonthly float64 `json:"commit_3y_monthly,omitempty"`
	// OfferedIn lists region ids where a source says the machine is offered;
	// it always contains PriceRegion.
	OfferedIn []string `json:"offered_in"`
	Notes     string   `json:"notes,omitempty"`
	Source
}

// Model is an open-weight model's architecture, as needed for sizing.
type Model struct {
	// ID is the catalogue key, e.g. llama-3.1-70b.
	ID     string `json:"id"`
	Name   string `json:"name"`
	Family string `json:"family"`
	// ParamsTotalB and ParamsActiveB are billions of parameters; they differ
	// only for mixture-of-experts models.
	ParamsTotalB  float64 `json:"params_total_b"`
	ParamsActiveB float64 `json:"params_active_b"`
	Layers        int     `json:"layers"`
	Hidden        int     `json:"hidden"`
	Heads         int     `json:"heads"`
	// KVHeads is the number of key/value heads (GQA); for MLA it is the
	// config's value and the KV cache uses MLALatentDim instead.
	KVHeads int `json:"kv_heads"`
	HeadDim int `json:"head_dim"`
	// Attention is mha, gqa or mla.
	Attention string `json:"attention"`
	// MLALatentDim is kv_lora_rank + RoPE key head dim (MLA only; 0 otherwise).
	MLALatentDim int `json:"mla_latent_dim,omitempty"`
	// Experts, ActiveExperts and SharedExperts are set for MoE models only:
	// routed experts, routed experts active per token, always-on experts.
	Experts       int    `json:"experts,omitempty"`
	ActiveExperts int    `json:"active_experts,omitempty"`
	SharedExperts int    `json:"shared_experts,omitempty"`
	MaxContext    int    `json:"max_context"`
	License       string `json:"license"`
	Notes         string `json:"notes,omitempty"`
	Source
}

// ServingBenchmark is a published load-vs-latency curve of one serving setup, measured at several
// concurrencies (closed loop). Role fit marks the curves the serving model's defaults are fitted on;
// held_out curves only test it.
type ServingBenchmark struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	// Model and GPU are catalogue ids.
	Model          string `json:"model"`
	GPU            string `json:"gpu"`
	GPUs           int    `json:"gpus"`
	TensorParallel int    `json:"tensor_parallel"`
	// Weights and KVCache are precisions (bf16, fp16, fp8, ...); KVCache is empty when not published.
	Weights          string           `json:"weights"`
	KVCache          string           `json:"kv_cache,omitempty"`
	Engine           string           `json:"engine"`
	InputTokens      int              `json:"input_tokens"`
	OutputTokens     int              `json:"output_tokens"`
	LatencyStatistic string           `json:"latency_statistic"`
	Licence          string           `json:"licence"`
	Points           []BenchmarkPoint `json:"points"`
	Source
}

// BenchmarkPoint is one measured concurrency of a ServingBenchmark.
type BenchmarkPoint struct {
	Concurrency int `json:"concurrency"`
	// Run numbers repeated measurements at the same concurrency (0 when there is one).
	Run                int     `json:"run,omitempty"`
	TTFTms             float64 `json:"ttft_ms"`
	TTFTp95ms          float64 `json:"ttft_p95_ms,omitempty"`
	ITLms              float64 `json:"itl_ms"`
	OutputTokensPerSec float64 `json:"output_tokens_per_sec"`
}

// HoursPerMonth is the month the catalogue's monthly prices (its commitment
// prices) are stated for: 365 x 24 / 12 = 730 hours, the cloud billing
// convention for a month of continuous use, which the AWS and Azure pricing
// calculators and the Google Cloud pricing calculator's pricing.yml use.
const HoursPerMonth = 730.0

// Benchmark roles.
const (
	BenchmarkFit     = "fit"
	BenchmarkHeldOut = "held_out"
)

// HostedAPI is a hosted model's token price, for build-vs-buy comparisons.
type HostedAPI struct {
	// Provider is openai, anthropic or google.
	Provider         string  `json:"provider"`
	Model            string  `json:"model"`
	InputUSDPerMTok  float64 `json:"input_usd_per_mtok"`
	OutputUSDPerMTok float64 `json:"output_usd_per_mtok"`
	Notes            string  `json:"notes,omitempty"`
	Source
}

// AppliesWhen holds a regime's inference rules: the regime is inferred when
// every non-empty list has at least one match in the request. All empty
// means the regime is only ever declared, never inferred.
type AppliesWhen struct {
	// DataCategories uses the request's data category values (personal,
	// health, payment_card, ...).
	DataCategories []string `json:"data_categories,omitempty"`
	// Regions uses the request's two-letter region codes (us, eu, uk, ...).
	Regions []string `json:"regions,omitempty"`
	// Industries uses free-text industry names, compared case-insensitively.
	Industries []string `json:"industries,omitempty"`
}

// Regime is a compliance regime with its controls.
type Regime struct {
	// ID is one of the request's compliance values (gdpr, hipaa, pci_dss,
	// soc2, iso27001, eu_ai_act, ccpa).
	ID   string `json:"id"`
	Name string `json:"name"`
	// Jurisdiction is a two-letter code (us, eu) or global.
	Jurisdiction string      `json:"jurisdiction"`
	AppliesWhen  AppliesWhen `json:"applies_when"`
	Controls     []Control   `json:"controls"`
	// LogRetention says in words how long logs or records must be kept;
	// LogRetentionDays is the same in days, 0 when the regime fixes none.
	LogRetention     string `json:"log_retention,omitempty"`
	LogRetentionDays int    `json:"log_retention_days,omitempty"`
	Notes            string `json:"notes,omitempty"`
	Source
}

// Control is one requirement of a regime and what to do about it.
type Control struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Citation is the article or requirement, e.g. "GDPR Art. 32".
	Citation string `json:"citation"`
	// Actions are concrete infrastructure actions that satisfy the control.
	Actions []string `json:"actions"`
}

// Eligibility records a provider programme a regime needs (e.g. a HIPAA BAA).
type Eligibility struct {
	Provider string `json:"provider"`
	// Regime is a Regime.ID.
	Regime string `json:"regime"`
	// Program is e.g. BAA.
	Program   string `json:"program"`
	Available bool   `json:"available"`
	Notes     string `json:"notes,omitempty"`
	Source
}

// Region is one provider region and the jurisdiction its data sits in.
type Region struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	// Jurisdiction and Country are two-letter codes as in the request
	// format (us, eu, uk; Country uses uk for the United Kingdom).
	Jurisdiction string `json:"jurisdiction"`
	Country      string `json:"country"`
	Name         string `json:"name"`
	Source
}

// Catalog is one loaded, validated catalogue version. Treat it as read-only:
// load it once and share it.
type Catalog struct {
	// Version identifies the catalogue content; every assessment records it.
	Version string
	// CollectedOn is the date the figures were collected (YYYY-MM-DD).
	CollectedOn string
	GPUs        []GPU
	// Instances holds one row per instance type and price region.
	Instances []Instance
	// Imports lists the public price data the instance rows were imported from.
	Imports     []Import
	Models      []Model
	HostedAPIs  []HostedAPI
	Regimes     []Regime
	Eligibility []Eligibility
	Regions     []Region
	// Benchmarks are the published serving curves the serving model is calibrated and tested on.
	Benchmarks []ServingBenchmark
}

// Load parses, schema-validates and cross-checks the embedded catalogue.
// It is deterministic: the same build always returns the same catalogue.
func Load() (*Catalog, error) {
	return Parse(dataFS)
}

// SchemaJSON returns the catalogue's JSON Schema document, for tools that
// want to validate data files outside the program.
func SchemaJSON() ([]byte, error) {
	b, err := fs.ReadFile(dataFS, schemaPath)
	if err != nil {
		return nil, fmt.Errorf("read catalogue schema: %w", err)
	}
	return b, nil
}

// GPU returns the GPU with the given id.
func (c *Catalog) GPU(id string) (GPU, bool) {
	for _, g := range c.GPUs {
		if g.ID == id {
			return g, true
		}
	}
	return GPU{}, false
}

// Model returns the model with the given id.
func (c *Catalog) Model(id string) (Model, bool) {
	for _, m := range c.Models {
		if m.ID == id {
			return m, true
		}
	}
	return Model{}, false
}

// Regime returns the regime with the given id.
func (c *Catalog) Regime(id string) (Regime, bool) {
	for _, r := range c.Regimes {
		if r.ID == id {
			return r, true
		}
	}
	return Regime{}, false
}

// Region returns a provider's region by id.
func (c *Catalog) Region(provider, id string) (Region, bool) {
	for _, r := range c.Regions {
		if r.Provider == provider && r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// Instance returns a provider's instance by name: its row in the cheapest region it is priced in
// (the first such region by id when two cost the same).
func (c *Catalog) Instance(provider, name string) (Instance, bool) {
	var best Instance
	found := false
	for _, in := range c.Instances {
		if in.Provider != provider || in.Name != name {
			continue
		}
		if !found || in.OnDemandHourly < best.OnDemandHourly ||
			(in.OnDemandHourly == best.OnDemandHourly && in.PriceRegion < best.PriceRegion) {
			best, found = in, true
		}
	}
	return best, found
}

// InstanceIn returns a provider's instance priced in one region.
func (c *Catalog) InstanceIn(provider, name, region string) (Instance, bool) {
	for _, in := range c.Instances {
		if in.Provider == provider && in.Name == name && in.PriceRegion == region {
			return in, true
		}
	}
	return Instance{}, false
}

// HasGPU reports whether the instance is a GPU machine (false for the CPU machines priced for services).
func (in Instance) HasGPU() bool { return in.GPU != "" }

// InstancesOf returns a provider's instance rows ("" for all), one per instance type and price
// region, sorted by provider, name, then region. The slice is a copy the caller may change.
func (c *Catalog) InstancesOf(provider string) []Instance {
	out := make([]Instance, 0, len(c.Instances))
	for _, in := range c.Instances {
		if provider == "" || in.Provider == provider {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Name, b.Name), cmp.Compare(a.PriceRegion, b.PriceRegion))
	})
	return out
}

// ModelIDs returns every model id, sorted.
func (c *Catalog) ModelIDs() []string {
	ids := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

// EligibilityFor returns the provider's programmes for a regime.
func (c *Catalog) EligibilityFor(provider, regime string) []Eligibility {
	var out []Eligibility
	for _, e := range c.Eligibility {
		if e.Provider == provider && e.Regime == regime {
			out = append(out, e)
		}
	}
	return out
}

// RegionsIn returns a provider's regions ("" for all providers) in a
// jurisdiction, in catalogue order.
func (c *Catalog) RegionsIn(provider, jurisdiction string) []Region {
	var out []Region
	for _, r := range c.Regions {
		if (provider == "" || r.Provider == provider) && r.Jurisdiction == jurisdiction {
			out = append(out, r)
		}
	}
	return out
}
