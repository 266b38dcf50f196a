// Package priceimport turns public cloud price data, in the formats it is published in, into
// catalogue instance rows: one row per instance type and region, with on-demand and spot prices,
// vCPUs, memory and the GPU model and count. It reads and returns values; the caller does the I/O.
package priceimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every error about the shape of the input (a missing column, a number
// that does not parse), so callers can tell bad data from a failed read.
var ErrFormat = errors.New("price data format")

// Row is one line of price data: an instance type in one zone (or region when the format has no
// zones), or, in formats that price GPUs apart from their host (GCP), one accelerator count.
type Row struct {
	// Instance is empty on an accelerator-only row.
	Instance string
	// Accelerator is the source's GPU name (A10G, H100, A100-80GB); empty for a CPU-only machine or host.
	Accelerator      string
	AcceleratorCount float64
	VCPU             float64
	MemoryGiB        float64
	Region           string
	Zone             string
	// Price and Spot are USD per hour; HasSpot is false when the source left the spot price empty.
	Price   float64
	Spot    float64
	HasSpot bool
	// Commit1YMonthly and Commit3YMonthly are 1- and 3-year commitment prices in USD per month,
	// 0 when the format does not publish them.
	Commit1YMonthly float64
	Commit3YMonthly float64
}

// ReadSkyPilotVMs reads a SkyPilot catalogue vms.csv (skypilot-org/skypilot-catalog,
// catalogs/v*/<cloud>/vms.csv). Columns are found by their header names, so the AWS layout
// (with AvailabilityZone and Arch), the Azure layout (no zones) and the GCP layout (accelerators
// on rows of their own) all read the same way. The GpuInfo column is not used.
func ReadSkyPilotVMs(data []byte) ([]Row, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: read header: %w", ErrFormat, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price", "SpotPrice", "Region"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%w: no %s column (header %q)", ErrFormat, need, strings.Join(header, ","))
		}
	}
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	rows := make([]Row, 0, len(recs))
	for i, rec := range recs {
		line := i + 2
		get := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		num := func(name string) (float64, bool, error) {
			s := get(name)
			if s == "" {
				return 0, false, nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, false, fmt.Errorf("%w: line %d: %s %q is not a number", ErrFormat, line, name, s)
			}
			return v, true, nil
		}
		row := Row{Instance: get("InstanceType"), Accelerator: get("AcceleratorName"), Region: get("Region"), Zone: get("AvailabilityZone")}
		var errs []error
		var e error
		row.AcceleratorCount, _, e = num("AcceleratorCount")
		errs = append(errs, e)
		row.VCPU, _, e = num("vCPUs")
		errs = append(errs, e)
		row.MemoryGiB, _, e = num("MemoryGiB")
		errs = append(errs, e)
		// An empty Price is published for sizes not sold on demand; Build skips and counts them.
		row.Price, _, e = num("Price")
		errs = append(errs, e)
		row.Spot, row.HasSpot, e = num("SpotPrice")
		errs = append(errs, e)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		if row.Region == "" || (row.Instance == "" && row.Accelerator == "") {
			return nil, fmt.Errorf("%w: line %d: needs a region and an instance type or accelerator", ErrFormat, line)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
