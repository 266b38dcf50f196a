package priceimport

import (
	"encoding/json"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"
)

// gcpCalcGPUs maps the accelerator keys of a machine type in the Google Cloud pricing calculator's
// pricing.yml to the GPU names Build knows (gpuIDs). The file gives the machine's GPU count under
// that key; its prices are for the whole machine, GPUs included. An accelerator key not listed is
// still read, and Build skips the machine as a GPU the catalogue does not hold. rtx6000 is the key
// of the G4 machine types, which carry NVIDIA RTX PRO 6000 Blackwell Server Edition GPUs (Google
// Cloud documentation, accelerator-optimized machine family, G4 series), not the older Quadro RTX 6000.
var gcpCalcGPUs = map[string]string{
	"a100":           "A100",
	"a100-80gb":      "A100-80GB",
	"h100-80gb":      "H100",
	"h100-80gb-mega": "H100-MEGA",
	"h200":           "H200",
	"l4":             "L4",
	"rtx6000":        "RTX PRO 6000",
	"t4":             "T4",
}

// gcpCalcAttributes are the non-GPU keys of a machine type that the import does not need.
var gcpCalcAttributes = map[string]bool{"cpu": true, "ram": true, "cost": true, "local-ssd": true, "type": true}

// gcpCalcCost is one region's prices of a machine type: USD per hour on demand and spot, USD per
// month with a 1- or 3-year committed-use discount (the file's month is 730 hours; its on-demand
// month figure includes sustained-use discounts and is not read).
type gcpCalcCost struct {
	Hour     *float64 `json:"hour"`
	HourSpot *float64 `json:"hour_spot"`
	Month1Y  *float64 `json:"month_1y"`
	Month3Y  *float64 `json:"month_3y"`
}

// ReadGCPPricingCalculator reads the pricing.yml of Cyclenerd/google-cloud-pricing-cost-calculator
// (built from the Cloud Billing Catalog API's SKUs): compute.instance.<machine type> with cpu, ram,
// the GPU count under an accelerator key, and cost.<region> prices. It returns one row per machine
// type and region, with commitment prices, and counts the machine types it cannot read by reason.
func ReadGCPPricingCalculator(data []byte) (rows []Row, skipped map[string]int, err error) {
	var f struct {
		Compute struct {
			Instance map[string]map[string]json.RawMessage `json:"instance"`
		} `json:"compute"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("%w: pricing.yml: %w", ErrFormat, err)
	}
	if len(f.Compute.Instance) == 0 {
		return nil, nil, fmt.Errorf("%w: pricing.yml has no compute.instance machine types", ErrFormat)
	}
	skipped = map[string]int{}
	for _, name := range sortedKeys(f.Compute.Instance) {
		attrs := f.Compute.Instance[name]
		var vcpu, mem float64
		var costs map[string]gcpCalcCost
		for what, into := range map[string]any{"cpu": &vcpu, "ram": &mem, "cost": &costs} {
			raw, ok := attrs[what]
			if !ok {
				return nil, nil, fmt.Errorf("%w: pricing.yml: machine type %s has no %s", ErrFormat, name, what)
			}
			if err := json.Unmarshal(raw, into); err != nil {
				return nil, nil, fmt.Errorf("%w: pricing.yml: machine type %s: %s: %w", ErrFormat, name, what, err)
			}
		}
		var accel string
		var count float64
		unknown := ""
		for _, k := range sortedKeys(attrs) {
			if gcpCalcAttributes[k] {
				continue
			}
			gpu, ok := gcpCalcGPUs[k]
			if !ok {
				unknown = k
				break
			}
			if err := json.Unmarshal(attrs[k], &count); err != nil {
				return nil, nil, fmt.Errorf("%w: pricing.yml: machine type %s: GPU count %s: %w", ErrFormat, name, k, err)
			}
			accel = gpu
		}
		if unknown != "" {
			skipped["machine type with an attribute the import does not read ("+unknown+")"]++
			continue
		}
		for _, region := range sortedKeys(costs) {
			c := costs[region]
			r := Row{Instance: name, Accelerator: accel, AcceleratorCount: count, VCPU: vcpu, MemoryGiB: mem, Region: region}
			if c.Hour != nil {
				r.Price = *c.Hour
			}
			if c.HourSpot != nil && *c.HourSpot > 0 {
				r.Spot, r.HasSpot = *c.HourSpot, true
			}
			if c.Month1Y != nil {
				r.Commit1YMonthly = *c.Month1Y
			}
			if c.Month3Y != nil {
				r.Commit3YMonthly = *c.Month3Y
			}
			rows = append(rows, r)
		}
	}
	return rows, skipped, nil
}

// sortedKeys returns a map's keys in order, so rows come out the same on every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
