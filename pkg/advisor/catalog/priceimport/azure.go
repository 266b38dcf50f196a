package priceimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// azureSKU is what the Azure Retail Prices API does not carry for a VM size: its GPUs, vCPUs and
// memory. Sources: Microsoft Learn virtual machine size pages (learn.microsoft.com/azure/virtual-machines/sizes):
// NC A100 v4 series (NC24ads 1, NC48ads 2, NC96ads 4 x A100 80GB PCIe; 24/48/96 vCPU, 220/440/880 GiB),
// NCads H100 v5 series (NC40ads 1, NC80adis 2 x H100 NVL; 40/80 vCPU, 320/640 GiB), ND H100 v5
// (ND96isr, 8 x H100 80GB SXM, 96 vCPU, 1900 GiB), ND A100 v4 (ND96asr_v4, 8 x A100 40GB, 96 vCPU,
// 900 GiB), NDm A100 v4 (ND96amsr, 8 x A100 80GB, 96 vCPU, 1900 GiB), NCasT4_v3 (NC4as, NC8as,
// NC16as 1 and NC64as 4 x T4; 4/8/16/64 vCPU, 28/56/110/440 GiB), NCv3 (NC6s, NC12s, NC24s, NC24rs
// 1/2/4/4 x V100 16GB; 6/12/24/24 vCPU, 112/224/448/448 GiB), NDv2 (ND40rs, 8 x V100 32GB,
// 40 vCPU, 672 GiB), Dsv5 series (D2s to D96s v5: 2-96 vCPU, 4 GiB per vCPU), ND H200 v5
// (ND96isr_H200_v5, 8 x H200 141GB, 96 vCPU, 1850 GiB), ND MI300X v5 (ND96isr_MI300X_v5, 8 x
// MI300X 192GB, 96 vCPU, 1850 GiB), NCCads H100 v5 (sizes/gpu-accelerated/nccadsh100v5-series:
// NCC40ads, 1 x H100 NVL 94 GB, 40 vCPU, 320 GiB), NVadsA10 v5 (sizes/gpu-accelerated/nvadsa10v5-series:
// NV6ads 1/6, NV12ads 1/3, NV18ads 1/2, NV36ads and NV36adms 1, NV72ads 2 x A10; 6/12/18/36/36/72
// vCPU, 55/110/220/440/880/880 GiB).
// NC RTX PRO 6000 BSE v6 (RTX PRO 6000 Blackwell Server Edition): Microsoft Learn's series
// overview (sizes/gpu-accelerated/nc-rtxpro6000-bse-v6-series-overview, 2026-06-03) names the
// sizes sold since general availability and the preview size each replaces: NC144ds_xl for NC128ds_xl
// (1 GPU), NC288ds_xl for NC256ds_xl and NC320ds_xl (2 GPUs), the lds sizes alike; the preview
// sizes "will no longer work correctly" (azureWithdrawn). The general-availability size table is
// not in Microsoft Learn's sources as read here (MicrosoftDocs/azure-compute-docs holds the
// preview table only), so vCPUs, memory and GPUs of the whole-GPU sizes come from Microsoft's
// list of AKS node sizes, generated from Azure's resource SKUs (microsoft/aspire
// src/Aspire.Hosting.Azure.Kubernetes/AksNodeVmSizes.cs at 69db530a4816, as aspire.dev publishes
// it): NC144ds_xl 144 vCPU, 516 GiB, 1 GPU; NC144lds_xl 144, 264, 1; NC288ds_xl 288, 1032, 2;
// NC288lds_xl 288, 516, 2. The preview sizes' figures are Learn's series page as committed in
// MicrosoftDocs/azure-compute-docs (articles/virtual-machines/sizes/gpu-accelerated/nc-rtxpro6000-bse-v6-series.md
// at 02773904e1bc, 2025-12-05): NC128, NC256, NC320 ds_xl 1/2/2 GPUs, 512/1024/1280 GiB; lds_xl
// 1/2/2 GPUs, 256/512/640 GiB. The partial-GPU sizes (NC24lds, NC36ds/lds, NC72ds/lds) are not
// described: no Microsoft source read here gives their GPU share (the AKS list counts each as 1).
// Build also uses azureSKUs over a price file's own GPU columns. A count below 1 or not whole
// is a share of one GPU: Build skips it as a fractional GPU.
var azureSKUs = map[string]struct {
	accel     string
	count     float64
	vcpu      int
	memoryGiB float64
}{
	"Standard_NC24ads_A100_v4":   {"A100-80GB", 1, 24, 220},
	"Standard_NC48ads_A100_v4":   {"A100-80GB", 2, 48, 440},
	"Standard_NC96ads_A100_v4":   {"A100-80GB", 4, 96, 880},
	"Standard_NC40ads_H100_v5":   {"H100-NVL", 1, 40, 320},
	"Standard_NC80adis_H100_v5":  {"H100-NVL", 2, 80, 640},
	"Standard_NCC40ads_H100_v5":  {"H100-NVL", 1, 40, 320},
	"Standard_ND96isr_H100_v5":   {"H100", 8, 96, 1900},
	"Standard_ND96asr_v4":        {"A100", 8, 96, 900},
	"Standard_ND96amsr_A100_v4":  {"A100-80GB", 8, 96, 1900},
	"Standard_NC4as_T4_v3":       {"T4", 1, 4, 28},
	"Standard_NC8as_T4_v3":       {"T4", 1, 8, 56},
	"Standard_NC16as_T4_v3":      {"T4", 1, 16, 110},
	"Standard_NC64as_T4_v3":      {"T4", 4, 64, 440},
	"Standard_NC6s_v3":           {"V100", 1, 6, 112},
	"Standard_NC12s_v3":          {"V100", 2, 12, 224},
	"Standard_NC24s_v3":          {"V100", 4, 24, 448},
	"Standard_NC24rs_v3":         {"V100", 4, 24, 448},
	"Standard_ND40rs_v2":         {"V100-32GB", 8, 40, 672},
	"Standard_ND96isr_H200_v5":   {"H200", 8, 96, 1850},
	"Standard_ND96isr_MI300X_v5": {"MI300X", 8, 96, 1850},
	"Standard_NV6ads_A10_v5":     {"A10", 1.0 / 6, 6, 55},
	"Standard_NV12ads_A10_v5":    {"A10", 1.0 / 3, 12, 110},
	"Standard_NV18ads_A10_v5":    {"A10", 0.5, 18, 220},
	"Standard_NV36ads_A10_v5":    {"A10", 1, 36, 440},
	"Standard_NV36adms_A10_v5":   {"A10", 1, 36, 880},
	"Standard_NV72ads_A10_v5":    {"A10", 2, 72, 880},
	// NC RTX PRO 6000 BSE v6, sold since general availability.
	"Standard_NC144ds_xl_RTXPRO6000BSE_v6":  {"RTX PRO 6000", 1, 144, 516},
	"Standard_NC144lds_xl_RTXPRO6000BSE_v6": {"RTX PRO 6000", 1, 144, 264},
	"Standard_NC288ds_xl_RTXPRO6000BSE_v6":  {"RTX PRO 6000", 2, 288, 1032},
	"Standard_NC288lds_xl_RTXPRO6000BSE_v6": {"RTX PRO 6000", 2, 288, 516},
	// NC RTX PRO 6000 BSE v6 preview sizes, which no longer deploy (azureWithdrawn).
	"Standard_NC128ds_xl_RTXPRO6000BSE_v6":  {"RTX PRO 6000", 1, 128, 512},
	"Standard_NC256ds_xl_RTXPRO6000BSE_v6":  {"RTX PRO 6000", 2, 256, 1024},
	"Standard_NC320ds_xl_RTXPRO6000BSE_v6":  {"RTX PRO 6000", 2, 320, 1280},
	"Standard_NC128lds_xl_RTXPRO6000BSE_v6": {"RTX PRO 6000", 1, 128, 256},
	"Standard_NC256lds_xl_RTXPRO6000BSE_v6": {"RTX PRO 6000", 2, 256, 512},
	"Standard_NC320lds_xl_RTXPRO6000BSE_v6": {"RTX PRO 6000", 2, 320, 640},
	"Standard_D2s_v5":                       {"", 0, 2, 8},
	"Standard_D4s_v5":                       {"", 0, 4, 16},
	"Standard_D8s_v5":                       {"", 0, 8, 32},
	"Standard_D16s_v5":                      {"", 0, 16, 64},
	"Standard_D32s_v5":                      {"", 0, 32, 128},
	"Standard_D48s_v5":                      {"", 0, 48, 192},
	"Standard_D64s_v5":                      {"", 0, 64, 256},
	"Standard_D96s_v5":                      {"", 0, 96, 384},
}

// azurePage is one page of the Azure Retail Prices API (prices.azure.com/api/retail/prices), the
// fields the import reads; the API documents the rest (Microsoft Learn, Azure Retail Prices overview).
type azurePage struct {
	BillingCurrency string      `json:"BillingCurrency"`
	Items           []azureItem `json:"Items"`
	NextPageLink    *string     `json:"NextPageLink"`
	Count           int         `json:"Count"`
}

type azureItem struct {
	CurrencyCode  string  `json:"currencyCode"`
	RetailPrice   float64 `json:"retailPrice"`
	ArmRegionName string  `json:"armRegionName"`
	MeterName     string  `json:"meterName"`
	ProductName   string  `json:"productName"`
	SkuName       string  `json:"skuName"`
	ServiceName   string  `json:"serviceName"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	Type          string  `json:"type"`
	ArmSkuName    string  `json:"armSkuName"`
	// SavingsPlan lists the meter's savings plan rates, USD per hour, by term ("1 Year", "3 Years").
	SavingsPlan []azureSavingsPlan `json:"savingsPlan"`
}

// azureSavingsPlan is one term of an Azure savings plan for compute on a meter: the hourly rate a
// size is billed at while a 1- or 3-year hourly spend commitment covers it (Microsoft Learn, What
// is Azure savings plans for compute?). The commitment is a spend in USD per hour, not a machine:
// it applies across sizes and regions, and hours it does not cover are billed on demand.
type azureSavingsPlan struct {
	RetailPrice float64 `json:"retailPrice"`
	Term        string  `json:"term"`
}

// savingsPlanMonthly returns the meter's 1- and 3-year savings plan rates as USD per month (x
// catalog.HoursPerMonth, the month of the catalogue's other commitment prices), 0 when
// the meter carries none.
func (it azureItem) savingsPlanMonthly() (c1, c3 float64) {
	for _, sp := range it.SavingsPlan {
		switch sp.Term {
		case "1 Year":
			c1 = sp.RetailPrice * catalog.HoursPerMonth
		case "3 Years":
			c3 = sp.RetailPrice * catalog.HoursPerMonth
		}
	}
	return c1, c3
}

// ReadAzureRetailPrices reads Azure Retail Prices API responses: one page object, or a JSON array
// of pages (a paged download). It keeps Linux pay-as-you-go virtual machine prices in USD per hour:
// the on-demand meter, and the Spot meter as the spot price. Windows products, Low Priority meters,
// reservations, dev/test rates and other currencies or units are left out and counted by reason in
// skipped; so are VM sizes azureSKUs does not describe (the API carries no GPU, vCPU or memory).
func ReadAzureRetailPrices(data []byte) (rows []Row, skipped map[string]int, err error) {
	var pages []azurePage
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &pages)
	} else {
		var p azurePage
		err = json.Unmarshal(trimmed, &p)
		pages = []azurePage{p}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Azure Retail Prices page: %w", ErrFormat, err)
	}
	var items []azureItem
	for pi, p := range pages {
		if p.Items == nil {
			return nil, nil, fmt.Errorf("%w: Azure Retail Prices page %d has no Items", ErrFormat, pi)
		}
		items = append(items, p.Items...)
	}
	return azureRows(items)
}

// azureRows turns Retail Prices items into one row per VM size and region: the on-demand meter's
// price and the Spot meter's as the spot price. Items that are no Linux pay-as-you-go VM price in
// USD per hour, and sizes azureSKUs does not describe, are counted by reason in skipped.
func azureRows(items []azureItem) (rows []Row, skipped map[string]int, err error) {
	skipped = map[string]int{}
	type key struct{ sku, region string }
	at := map[key]int{}
	for ii, it := range items {
		why := azureSkip(it)
		if why != "" {
			skipped[why]++
			continue
		}
		if it.ArmSkuName == "" || it.ArmRegionName == "" || it.RetailPrice <= 0 {
			return nil, nil, fmt.Errorf("%w: item %d (%s): needs armSkuName, armRegionName and a positive retailPrice", ErrFormat, ii, it.MeterName)
		}
		sku, ok := azureSKUs[it.ArmSkuName]
		if !ok {
			skipped[unrecordedSize]++
			continue
		}
		k := key{it.ArmSkuName, it.ArmRegionName}
		i, seen := at[k]
		if !seen {
			rows = append(rows, Row{Instance: it.ArmSkuName, Accelerator: sku.accel, AcceleratorCount: sku.count,
				VCPU: float64(sku.vcpu), MemoryGiB: sku.memoryGiB, Region: it.ArmRegionName})
			i = len(rows) - 1
			at[k] = i
		}
		price, has := &rows[i].Price, rows[i].Price > 0
		if isSpotMeter(it) {
			price, has = &rows[i].Spot, rows[i].HasSpot
			rows[i].HasSpot = true
		}
		// Two meters of one size, region and kind must agree: which one a VM is billed on cannot
		// be told from the data.
		if has && *price != it.RetailPrice {
			return nil, nil, fmt.Errorf("%w: %s in %s has two %s prices, %v and %v", ErrFormat, it.ArmSkuName, it.ArmRegionName,
				map[bool]string{true: "spot", false: "on-demand"}[isSpotMeter(it)], *price, it.RetailPrice)
		}
		*price = it.RetailPrice
		if isSpotMeter(it) {
			continue
		}
		c1, c3 := it.savingsPlanMonthly()
		if err := setCommitment(&rows[i].Commit1YMonthly, c1, "1-year", it); err != nil {
			return nil, nil, err
		}
		if err := setCommitment(&rows[i].Commit3YMonthly, c3, "3-year", it); err != nil {
			return nil, nil, err
		}
	}
	kept := rows[:0]
	for _, r := range rows {
		if r.Price <= 0 {
			skipped["spot price without an on-demand price"]++
			continue
		}
		kept = append(kept, r)
	}
	return kept, skipped, nil
}

// setCommitment records a savings plan price (USD a month) on a row; two on-demand meters of one
// size and region with different savings plan prices are a format error, like their on-demand prices.
func setCommitment(have *float64, v float64, term string, it azureItem) error {
	if v <= 0 {
		return nil
	}
	if *have > 0 && *have != v {
		return fmt.Errorf("%w: %s in %s has two %s savings plan prices, %v and %v USD a month", ErrFormat, it.ArmSkuName, it.ArmRegionName, term, *have, v)
	}
	*have = v
	return nil
}

// snapshotEntry is one meter of an Azure Retail Prices snapshot as andy-diericks/azure-pricing-radar
// commits it (scripts/fetch_prices.py): the API item's tracked fields, keyed by
// "skuId|meterId|type|reservationTerm". The snapshot leaves out armSkuName, serviceName and
// currencyCode: each file is one region's answer to a filter on serviceName 'Virtual Machines' and
// priceType 'Consumption', asked without a currencyCode, which the API then answers in USD
// (Microsoft Learn, Azure Retail Prices overview: "currencyCode ... USD" is the default).
type snapshotEntry struct {
	ArmRegionName string   `json:"armRegionName"`
	MeterName     string   `json:"meterName"`
	ProductName   string   `json:"productName"`
	RetailPrice   *float64 `json:"retailPrice"`
	SkuName       string   `json:"skuName"`
	UnitOfMeasure string   `json:"unitOfMeasure"`
	// SavingsPlanPrice is the item's 1-year savings plan rate in USD per hour, on the pay-as-you-go
	// meters that have one (the snapshot keeps the 1-year term only; the 3-year rate is not in it).
	SavingsPlanPrice *float64 `json:"savingsPlanPrice"`
}

// ReadAzureRetailSnapshot reads one region's Azure Retail Prices snapshot in the layout
// andy-diericks/azure-pricing-radar commits (data/latest/vm-<region>.json, snapshotEntry) and keeps
// what ReadAzureRetailPrices keeps. The VM size comes from the meter's skuName, which the API spells
// either as the ARM name (Standard_NC24ads_A100_v4) or run together (NC40adsH100v5, NC4as T4 v3):
// azureSizeOf matches both to azureSKUs; a skuName it cannot match is skipped and counted.
func ReadAzureRetailSnapshot(data []byte) (rows []Row, skipped map[string]int, err error) {
	var snap map[string]snapshotEntry
	if err := json.Unmarshal(bytes.TrimSpace(data), &snap); err != nil {
		return nil, nil, fmt.Errorf("%w: Azure Retail Prices snapshot: %w", ErrFormat, err)
	}
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	items := make([]azureItem, 0, len(keys))
	for _, k := range keys {
		e := snap[k]
		parts := strings.Split(k, "|")
		if len(parts) != 4 || e.RetailPrice == nil || e.SkuName == "" {
			return nil, nil, fmt.Errorf("%w: snapshot entry %q: needs a skuId|meterId|type|reservationTerm key, a skuName and a retailPrice", ErrFormat, k)
		}
		items = append(items, azureItem{CurrencyCode: "USD", RetailPrice: *e.RetailPrice, ArmRegionName: e.ArmRegionName,
			MeterName: e.MeterName, ProductName: e.ProductName, SkuName: e.SkuName, ServiceName: "Virtual Machines",
			UnitOfMeasure: e.UnitOfMeasure, Type: parts[2], ArmSkuName: azureSizeOf(e.SkuName)})
		if e.SavingsPlanPrice != nil {
			items[len(items)-1].SavingsPlan = []azureSavingsPlan{{RetailPrice: *e.SavingsPlanPrice, Term: "1 Year"}}
		}
	}
	unmatched := 0
	items = slices.DeleteFunc(items, func(it azureItem) bool {
		if it.ArmSkuName == "" && azureSkip(it) == "" {
			unmatched++
			return true
		}
		return false
	})
	rows, skipped, err = azureRows(items)
	if err != nil {
		return nil, nil, err
	}
	if unmatched > 0 {
		skipped[unrecordedSize] += unmatched
	}
	return rows, skipped, nil
}

// unrecordedSize is the reason counted for a VM size azureSKUs does not describe.
const unrecordedSize = "VM size without recorded GPU, vCPU and memory"

// azureSizeAliases are meter skuNames whose run-together spelling differs from the size's ARM
// name by more than separators: the ND A100 v4 meters name the GPU the ARM name leaves out
// (Microsoft Learn, ND A100 v4 series: Standard_ND96asr_v4).
var azureSizeAliases = map[string]string{"nd96asra100v4": "Standard_ND96asr_v4"}

// azureSizeOf is the ARM name in azureSKUs a meter's skuName prices, or "": the skuName without
// its " Spot" or " Low Priority" suffix, compared to the ARM names with case, the Standard_
// prefix, underscores and spaces ignored.
func azureSizeOf(skuName string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(skuName, " Spot"), " Low Priority")
	n := squashSize(base)
	if arm, ok := azureSizeAliases[n]; ok {
		return arm
	}
	for arm := range azureSKUs {
		if squashSize(arm) == n {
			return arm
		}
	}
	return ""
}

// squashSize lowers a size name and drops the Standard_ prefix, underscores and spaces. The NC RTX
// PRO 6000 BSE v6 meters shorten the GPU (NC144dsxlRTX6kv6 for Standard_NC144ds_xl_RTXPRO6000BSE_v6,
// the preview sizes with a capital K): both squash to the short form.
func squashSize(s string) string {
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "standard_")
	return strings.NewReplacer("_", "", " ", "", "rtxpro6000bse", "rtx6k").Replace(s)
}

func isSpotMeter(it azureItem) bool {
	return strings.HasSuffix(it.MeterName, " Spot") || strings.HasSuffix(it.SkuName, " Spot")
}

// azureSkip says why an item is not a Linux pay-as-you-go VM price in USD per hour, or "".
func azureSkip(it azureItem) string {
	switch {
	case it.ServiceName != "" && it.ServiceName != "Virtual Machines":
		return "not a virtual machine (" + it.ServiceName + ")"
	case it.Type != "Consumption":
		return "not pay-as-you-go (" + it.Type + ")"
	case strings.HasSuffix(it.ProductName, " Windows") || strings.HasSuffix(it.ProductName, " Win"):
		return "Windows licence included"
	case strings.HasSuffix(it.ProductName, " Dedicated Host"):
		// A whole physical server for one customer's VMs (product "NVasv4 Series Dedicated Host",
		// skuName "NVasv4 Type1"): priced per host, not a VM size a plan can count.
		return "dedicated host (priced per host, not per VM)"
	case strings.Contains(it.MeterName, "Low Priority") || strings.Contains(it.SkuName, "Low Priority"):
		return "Low Priority meter"
	case it.CurrencyCode != "USD":
		return "not in USD (" + it.CurrencyCode + ")"
	case it.UnitOfMeasure != "1 Hour":
		return "not priced per hour (" + it.UnitOfMeasure + ")"
	}
	return ""
}
