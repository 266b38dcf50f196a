package priceimport

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// gpuIDs maps the GPU names price data uses to catalogue GPU ids. A name not listed is skipped
// and counted: a catalogue row must refer to a GPU whose figures the catalogue holds.
var gpuIDs = map[string]string{
	"A10G":      "a10g",
	"A10":       "a10",
	"L4":        "l4",
	"L40S":      "l40s",
	"T4":        "t4",
	"A100":      "a100-40gb",
	"A100-80GB": "a100-80gb",
	"H100":      "h100-sxm",
	"H100-MEGA": "h100-sxm",
	"H200":      "h200-sxm",
	"V100":      "v100-16gb",
	"V100-32GB": "v100-32gb",
	"H100-NVL":  "h100-nvl",
	"MI300X":    "mi300x",
	"B200":      "b200",
	"B300":      "b300",
	// SkyPilot's spelling of AWS's name for the RTX PRO 6000 Blackwell Server Edition (g7e), and
	// the name gcpCalcGPUs gives the Google Cloud pricing calculator's rtx6000 key (G4).
	"RTX PRO Server 6000": "rtx-pro-6000",
	"RTX PRO 6000":        "rtx-pro-6000",
}

// gcpAttached is the GPU model and count each GCP accelerator-optimised machine type comes with.
// GCP price data prices the host and its GPUs on separate rows; the whole machine is their sum.
// Source: Google Cloud documentation, GPU machine types (cloud.google.com/compute/docs/gpus):
// A2 Standard a2-highgpu-Ng and a2-megagpu-16g carry N (16) A100 40GB, A2 Ultra a2-ultragpu-Ng
// N A100 80GB, A3 High a3-highgpu-Ng N H100 80GB, A3 Mega a3-megagpu-8g 8 H100 80GB (Mega),
// A3 Edge a3-edgegpu-8g 8 H100 80GB, A3 Ultra a3-ultragpu-8g 8 H200 141GB, G2 g2-standard-4 to -32 one L4, -24 two, -48 four, -96 eight.
var gcpAttached = map[string]struct {
	name  string
	count int
}{
	"a2-highgpu-1g": {"A100", 1}, "a2-highgpu-2g": {"A100", 2}, "a2-highgpu-4g": {"A100", 4}, "a2-highgpu-8g": {"A100", 8},
	"a2-megagpu-16g": {"A100", 16},
	"a2-ultragpu-1g": {"A100-80GB", 1}, "a2-ultragpu-2g": {"A100-80GB", 2}, "a2-ultragpu-4g": {"A100-80GB", 4}, "a2-ultragpu-8g": {"A100-80GB", 8},
	"a3-edgegpu-8g":  {"H100", 8},
	"a3-highgpu-8g":  {"H100", 8},
	"a3-megagpu-8g":  {"H100-MEGA", 8},
	"a3-ultragpu-8g": {"H200", 8},
	"g2-standard-4":  {"L4", 1}, "g2-standard-8": {"L4", 1}, "g2-standard-12": {"L4", 1}, "g2-standard-16": {"L4", 1},
	"g2-standard-24": {"L4", 2}, "g2-standard-32": {"L4", 1}, "g2-standard-48": {"L4", 4}, "g2-standard-96": {"L4", 8},
}

// cpuFamilies are the general-purpose CPU machine families the catalogue prices for services
// (general workloads sized by vCPU and memory): one current family per provider with a balanced
// vCPU:memory ratio, plus GCP's shared-core E2. Other CPU-only machines (compute- or
// memory-optimised, burstable, bare metal) are skipped and counted. A family matches by the
// instance type's prefix. Sources: AWS EC2 general purpose instances (aws.amazon.com/ec2/instance-types,
// M7i and M6i), Google Cloud general-purpose machine family (cloud.google.com/compute/docs/general-purpose-machines,
// E2 and N2 standard), Microsoft Learn Dv5 and Dsv5 sizes (learn.microsoft.com/azure/virtual-machines/dv5-dsv5-series).
var cpuFamilies = map[string][]string{
	"aws":   {"m7i.", "m6i."},
	"gcp":   {"e2-standard-", "n2-standard-"},
	"azure": {"Standard_D"},
}

// isCPUFamily reports whether a CPU-only machine belongs to a general-purpose family the catalogue
// prices. Azure's D family is narrowed to Dsv5 (Standard_D<n>s_v5): the Standard_D prefix alone
// also matches older generations, and the sibling v5 sizes (Ddsv5, Dasv5, Dpsv5 on Arm, Dlsv5 with
// less memory) appear in published files with two prices for one size and region.
func isCPUFamily(provider, name string) bool {
	for _, pre := range cpuFamilies[provider] {
		if !strings.HasPrefix(name, pre) {
			continue
		}
		if provider == "azure" {
			return isAzureDsv5(name)
		}
		return !strings.Contains(name, "metal")
	}
	return false
}

// isAzureDsv5 reports whether name is an Azure Dsv5 size, Standard_D<vCPUs>s_v5 (Microsoft Learn,
// Dsv5 sizes: Standard_D2s_v5 to Standard_D96s_v5).
func isAzureDsv5(name string) bool {
	n, ok := strings.CutPrefix(name, "Standard_D")
	if !ok {
		return false
	}
	n, ok = strings.CutSuffix(n, "s_v5")
	_, err := strconv.Atoi(n)
	return ok && err == nil && !strings.HasPrefix(n, "-") && !strings.HasPrefix(n, "+")
}

// gcpSpotOnly are machine types GCP sells only as Spot or Flex-start VMs (Google Cloud
// documentation, GPU machine types: A3 High with 1, 2 or 4 GPUs). Price data may still list an
// on-demand price for them; a plan cannot buy one on demand, so they are skipped.
var gcpSpotOnly = map[string]bool{"a3-highgpu-1g": true, "a3-highgpu-2g": true, "a3-highgpu-4g": true}

// azureRetired are Azure sizes Microsoft has retired: a deployed VM is deallocated and no new one
// can be made, though the Retail Prices API still lists their meters (the 2026-08-22 snapshot
// does). Source: Microsoft Learn, "NCv3 and NC6s NC12s NC24s Retirement" (learn.microsoft.com/azure/virtual-machines/ncv3-nc6s-nc12s-nc24s-retirement):
// Standard_NC6s_v3, Standard_NC12s_v3 and Standard_NC24s_v3 retired on September 30, 2025.
var azureRetired = map[string]bool{"Standard_NC6s_v3": true, "Standard_NC12s_v3": true, "Standard_NC24s_v3": true}

// azureWithdrawn are the NC RTX PRO 6000 BSE v6 preview sizes. Microsoft Learn's series overview
// (sizes/gpu-accelerated/nc-rtxpro6000-bse-v6-series-overview, 2026-06-03): "Any new VM creations
// with the preview VM sizes (128, 256, and 320 vCPUs) will no longer work correctly and will not
// be covered under Azure Service Level Agreement (SLA)". The 2026-08-22 snapshot still prices them
// in northeurope.
var azureWithdrawn = map[string]bool{
	"Standard_NC128ds_xl_RTXPRO6000BSE_v6": true, "Standard_NC256ds_xl_RTXPRO6000BSE_v6": true,
	"Standard_NC320ds_xl_RTXPRO6000BSE_v6": true, "Standard_NC128lds_xl_RTXPRO6000BSE_v6": true,
	"Standard_NC256lds_xl_RTXPRO6000BSE_v6": true, "Standard_NC320lds_xl_RTXPRO6000BSE_v6": true,
}

// Options are what Build checks rows against and how it cites them.
type Options struct {
	// Provider is aws, azure or gcp.
	Provider string
	// KnownRegion reports whether the catalogue has the region (with its jurisdiction); rows in
	// other regions are skipped and counted, since residency rules could not be applied to them.
	KnownRegion func(provider, region string) bool
	// KnownGPU reports whether the catalogue has the GPU id.
	KnownGPU func(id string) bool
	// Source and AsOf are written on every row.
	Source string
	AsOf   string
}

// Result is what Build made of the rows and what it left out, by reason.
type Result struct {
	Instances []catalog.Instance
	// Skipped counts left-out rows (or instance-region pairs) by reason.
	Skipped map[string]int
}

// key is one instance type in one region.
type key struct{ name, region string }

// agg gathers the zone rows of one instance type in one region. On-demand prices do not vary by
// zone; spot prices do, and the region's spot price is the highest zone's, so a plan does not
// count on the cheapest zone having capacity.
type agg struct {
	vcpu, mem          float64
	accel              string
	count              float64
	price, spot        float64
	hasSpot            bool
	commit1y, commit3y float64
}

func (a *agg) add(r Row) {
	a.vcpu, a.mem, a.accel, a.count = r.VCPU, r.MemoryGiB, r.Accelerator, r.AcceleratorCount
	a.price = max(a.price, r.Price)
	a.commit1y, a.commit3y = max(a.commit1y, r.Commit1YMonthly), max(a.commit3y, r.Commit3YMonthly)
	if r.HasSpot {
		a.spot, a.hasSpot = max(a.spot, r.Spot), true
	}
}

// Build turns a provider's rows into catalogue instances, one per instance type and region, sorted
// by name then region: GPU machines whose GPU the catalogue holds, and CPU machines of the
// general-purpose families (cpuFamilies) for services. Everything else is skipped and counted by
// reason, as are rows with a zero price (not sold on demand).
func Build(rows []Row, o Options) (Result, error) {
	if o.KnownRegion == nil || o.KnownGPU == nil || o.Provider == "" || o.Source == "" || o.AsOf == "" {
		return Result{}, fmt.Errorf("priceimport: Options needs Provider, KnownRegion, KnownGPU, Source and AsOf")
	}
	res := Result{Skipped: map[string]int{}}
	hosts := map[key]*agg{}
	accels := map[key]*agg{} // GCP: key.name is "NAME:count"
	for _, r := range rows {
		if r.Price <= 0 {
			res.Skipped["no on-demand price"]++
			continue
		}
		m, k := hosts, key{r.Instance, r.Region}
		if r.Instance == "" {
			m, k = accels, key{fmt.Sprintf("%s:%g", r.Accelerator, r.AcceleratorCount), r.Region}
		}
		if m[k] == nil {
			m[k] = &agg{}
		}
		m[k].add(r)
	}
	keys := make([]key, 0, len(hosts))
	for k := range hosts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.region, b.region)) })
	for _, k := range keys {
		in, why := buildOne(k, hosts[k], accels, o)
		if why != "" {
			res.Skipped[why]++
			continue
		}
		if spot, ok := in.spot(); ok {
			switch {
			case spot < in.OnDemandHourly:
				in.SpotHourly = spot
			case spot == in.OnDemandHourly:
				// Published files repeat the on-demand price where a size has no spot offer (the
				// Azure file's H100 sizes): it is not a spot price, and it would save nothing.
				res.Skipped["spot price equal to on-demand (spot left out)"]++
			default:
				res.Skipped["spot price above on-demand (spot left out)"]++
			}
		}
		res.Instances = append(res.Instances, in.Instance)
	}
	return res, nil
}

// built is an instance row with the spot price its zones published, before the spot check.
type built struct {
	catalog.Instance
	spotPrice float64
	hasSpot   bool
}

func (b built) spot() (float64, bool) { return b.spotPrice, b.hasSpot && b.spotPrice > 0 }

// buildOne makes the row of one instance type in one region, or says why it is left out. A GPU
// machine needs its GPU in the catalogue (GCP: host plus the GPU row of the count the machine type
// carries); a CPU-only machine is kept when it belongs to a general-purpose family (cpuFamilies).
func buildOne(k key, h *agg, accels map[key]*agg, o Options) (built, string) {
	price, spot, hasSpot := h.price, h.spot, h.hasSpot
	name, count := h.accel, h.count
	vcpu, mem := h.vcpu, h.mem
	instance := k.name
	if o.Provider == "gcp" && gcpSpotOnly[k.name] {
		return built{}, "sold only as Spot or Flex-start (" + k.name + ")"
	}
	if o.Provider == "azure" && azureRetired[k.name] {
		return built{}, "size retired by Microsoft (" + k.name + ")"
	}
	if o.Provider == "azure" && azureWithdrawn[k.name] {
		return built{}, "preview size Microsoft no longer deploys (" + k.name + ")"
	}
	if o.Provider == "azure" {
		// The catalogue names Azure sizes without the Standard_ prefix of their ARM names.
		instance = strings.TrimPrefix(k.name, "Standard_")
		if sku, ok := azureSKUs[k.name]; ok {
			// Microsoft's size documentation, not the price file, says what GPUs a size carries:
			// price files have named the NVL H100 of NCads H100 v5 plain H100 and miscounted ND H100 v5.
			name, count, vcpu, mem = sku.accel, sku.count, float64(sku.vcpu), sku.memoryGiB
		}
	}
	if o.Provider == "gcp" && name == "" {
		if att, ok := gcpAttached[k.name]; ok {
			a := accels[key{fmt.Sprintf("%s:%d", att.name, att.count), k.region}]
			if a == nil {
				return built{}, "GCP host without its GPU price in the region"
			}
			name, count = att.name, float64(att.count)
			price += a.price
			spot += a.spot
			hasSpot = hasSpot && a.hasSpot
		}
	}
	var gpu string
	switch {
	case name == "" && !isCPUFamily(o.Provider, k.name):
		return built{}, "CPU-only machine outside the general-purpose families"
	case name == "" && (vcpu < 1 || mem <= 0):
		return built{}, "CPU machine without vCPUs or memory"
	case name != "":
		id, ok := gpuIDs[name]
		if !ok || !o.KnownGPU(id) {
			return built{}, "GPU not in the catalogue (" + name + ")"
		}
		if count < 1 || count != float64(int(count)) {
			return built{}, "fractional GPU"
		}
		gpu = id
	}
	if !o.KnownRegion(o.Provider, k.region) {
		return built{}, "region not in the catalogue (" + k.region + ")"
	}
	return built{
		Instance: catalog.Instance{
			Provider: o.Provider, Name: instance, GPU: gpu, GPUCount: int(count),
			VCPU: int(vcpu), MemoryGB: mem,
			PriceRegion: k.region, OnDemandHourly: round(price), OfferedIn: []string{k.region},
			Commit1YMonthly: round(h.commit1y), Commit3YMonthly: round(h.commit3y),
			Source: catalog.Source{Source: o.Source, AsOf: o.AsOf},
		},
		spotPrice: round(spot), hasSpot: hasSpot,
	}, ""
}

// round keeps six decimals: sums of two prices otherwise carry float noise into the catalogue.
func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }
