package analysis

import "time"

// The figures below come from the team's checked reference figures
// (shared/reference/ai-infra-figures.md, collected 2026-11-26), each with its
// original source. They are a deliberately small stand-in for the versioned
// catalogue; every row keeps its source and as-of date.

// catalogueCollected is when the figures were collected. Freshness is
// measured against it, never against the wall clock, so analysis stays pure.
func catalogueCollected() time.Time {
	return time.Date(2026, time.November, 26, 0, 0, 0, 0, time.UTC)
}

// gpu is one accelerator type with the figures the sizing uses.
type gpu struct {
	name     string
	memoryGB float64
	// fp8 reports native FP8 support (Hopper and Ada); A100 and A10G have none.
	fp8 bool
}

// priceSource is where a set of instance prices comes from and when.
type priceSource struct {
	// key names the source in metric names.
	key  string
	name string
	// asOf is the snapshot date; zero when the source publishes no day.
	asOf time.Time
	// asOfText is the as-of date as the source states it.
	asOfText string
}

// label is the source as a Metric.source string: name and as-of date.
func (s priceSource) label() string {
	return s.name + ", as of " + s.asOfText
}

// instance is one cloud machine with its on-demand price.
type instance struct {
	provider   string
	name       string
	gpu        gpu
	gpuCount   int
	usdPerHour float64
	region     string
	source     priceSource
}

// providers lists the providers the price table covers, in a fixed order.
func providers() []string {
	return []string{"aws", "azure", "gcp"}
}

// instances returns the on-demand GPU instance prices from the reference
// figures. T4 and V100 machines are left out: they have no BF16 support
// (reference GPU table), the precision open models are published in.
func instances() []instance {
	// GPU memory and FP8 support: stas00/ml-engineering accelerator table,
	// cli99/llm-analysis gpu_configs, NVIDIA L4 datasheet (reference figures).
	var (
		h100    = gpu{name: "H100 80GB", memoryGB: 80, fp8: true}
		h100nvl = gpu{name: "H100 NVL 94GB", memoryGB: 94, fp8: true}
		a100_80 = gpu{name: "A100 80GB", memoryGB: 80}
		a100_40 = gpu{name: "A100 40GB", memoryGB: 40}
		l40s    = gpu{name: "L40S 48GB", memoryGB: 48, fp8: true}
		l4      = gpu{name: "L4 24GB", memoryGB: 24, fp8: true}
		a10g    = gpu{name: "A10G 24GB", memoryGB: 24}
	)
	var (
		sky = priceSource{key: "skypilot_aws", name: "skypilot-org/skypilot-catalog catalogs/v7/aws/vms.csv", asOfText: "2026 snapshot (day not published)"}
		dr  = priceSource{key: "datareceipts", name: "datareceipts 109-gpu-pricing/hyperscalers.json (after AWS's June 2025 P-family cut)",
			asOf: time.Date(2026, time.November, 9, 0, 0, 0, 0, time.UTC), asOfText: "2026-11-09"}
		gcp = priceSource{key: "cyclenerd_gcp", name: "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml",
			asOf: time.Date(2025, time.March, 6, 0, 0, 0, 0, time.UTC), asOfText: "2025-03-06"}
	)
	return []instance{
		{"aws", "g5.xlarge", a10g, 1, 1.006, "us-east-1", sky},
		{"aws", "g5.4xlarge", a10g, 1, 1.624, "us-east-1", sky},
		{"aws", "g5.48xlarge", a10g, 8, 16.288, "us-east-1", sky},
		{"aws", "g6.2xlarge", l4, 1, 0.9776, "us-east-1", sky},
		{"aws", "g6.24xlarge", l4, 4, 6.6752, "us-east-1", sky},
		{"aws", "g6.48xlarge", l4, 8, 13.3504, "us-east-1", sky},
		{"aws", "g6e.2xlarge", l40s, 1, 2.24208, "us-east-1", sky},
		{"aws", "g6e.48xlarge", l40s, 8, 30.13118, "us-east-1", sky},
		{"aws", "p4d.24xlarge", a100_40, 8, 21.957642, "us-east-1", dr},
		{"aws", "p4de.24xlarge", a100_80, 8, 27.44705, "us-east-1", dr},
		{"aws", "p5.48xlarge", h100, 8, 55.04, "us-east-1", dr},
		{"azure", "NC24ads_A100_v4", a100_80, 1, 3.673, "eastus", dr},
		{"azure", "NC48ads_A100_v4", a100_80, 2, 9.554, "eastus", dr},
		{"azure", "NC96ads_A100_v4", a100_80, 4, 19.108, "eastus", dr},
		{"azure", "NC40ads_H100_v5", h100nvl, 1, 6.98, "eastus", dr},
		{"azure", "NC80adis_H100_v5", h100nvl, 2, 17.64, "eastus", dr},
		{"azure", "ND96isr_H100_v5", h100, 8, 98.32, "eastus", dr},
		{"azure", "ND96asr_A100_v4", a100_40, 8, 27.20, "eastus", dr},
		{"gcp", "a2-highgpu-1g", a100_40, 1, 3.673385, "us-central1", gcp},
		{"gcp", "a2-highgpu-8g", a100_40, 8, 29.38708, "us-central1", gcp},
		{"gcp", "a2-ultragpu-1g", a100_80, 1, 5.068798, "us-central1", gcp},
		{"gcp", "a2-ultragpu-4g", a100_80, 4, 20.275192, "us-central1", gcp},
		{"gcp", "a3-highgpu-8g", h100, 8, 88.49, "us-central1", gcp},
		{"gcp", "g2-standard-4", l4, 1, 0.706832, "us-central1", gcp},
		{"gcp", "g2-standard-8", l4, 1, 0.853624, "us-central1", gcp},
		{"gcp", "g2-standard-32", l4, 1, 1.734376, "us-central1", gcp},
		{"gcp", "g2-standard-48", l4, 4, 4.001665, "us-west1", gcp},
	}
}
