package priceimport

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// azureExcerpt is a real Azure Retail Prices API page as published in
// holgerjs/az-sdk-py-samples py-get-azure-pricing-from-the-price-api.md at commit 2bda381408c0
// (a query for serviceName 'Virtual Machines' in westeurope; read 2026-12-06): the page envelope
// with its first item, a dev/test rate of a Windows VM.
const azureExcerpt = `{
    "BillingCurrency": "USD",
    "CustomerEntityId": "Default",
    "CustomerEntityType": "Retail",
    "Items": [
        {
            "currencyCode": "USD",
            "tierMinimumUnits": 0.0,
            "retailPrice": 5.536,
            "unitPrice": 5.536,
            "armRegionName": "westeurope",
            "location": "EU West",
            "effectiveStartDate": "2020-06-01T00:00:00Z",
            "meterId": "ff052bc0-bdca-5b48-b96e-37c82dda2ae8",
            "meterName": "E64-32ds v4",
            "productId": "DZH318Z0CSHB",
            "skuId": "DZH318Z0CSHB/006X",
            "availabilityId": null,
            "productName": "Virtual Machines Edsv4 Series Windows",
            "skuName": "E64-32ds v4",
            "serviceName": "Virtual Machines",
            "serviceId": "DZH313Z7MMC8",
            "serviceFamily": "Compute",
            "unitOfMeasure": "1 Hour",
            "type": "DevTestConsumption",
            "isPrimaryMeterRegion": true,
            "armSkuName": "Standard_E64-32ds_v4"
        }
    ],
    "NextPageLink": "https://prices.azure.com:443/api/retail/prices?$filter=serviceName%20eq%20%27Virtual%20Machines%27%20and%20armRegionName%20eq%20%27westeurope%27&$skip=100",
    "Count": 100
}`

// item builds an item in the API's documented field layout (Microsoft Learn, Azure Retail Prices
// overview: API property details). These are constructed, not captured: no public capture of a
// Linux GPU VM page was found; the figures are the curated eastus rows' (3.673 USD/h for
// NC24ads_A100_v4) and made-up spot and regional values.
func item(sku, region, product, meter, typ string, price float64) string {
	return `{"currencyCode":"USD","retailPrice":` + jsonNum(price) + `,"armRegionName":"` + region + `","meterName":"` + meter +
		`","productName":"` + product + `","skuName":"` + meter + `","serviceName":"Virtual Machines","unitOfMeasure":"1 Hour","type":"` + typ +
		`","armSkuName":"` + sku + `"}`
}

func jsonNum(v float64) string { return string(must(json.Marshal(v))) }

func TestAzureRealExcerptIsReadAndItsDevTestWindowsRowLeftOut(t *testing.T) {
	t.Parallel()
	rows, skipped, err := ReadAzureRetailPrices([]byte(azureExcerpt))
	require.NoError(t, err)
	require.Empty(t, rows)
	require.Equal(t, map[string]int{"not pay-as-you-go (DevTestConsumption)": 1}, skipped)
}

func TestAzureLinuxOnDemandAndSpotBecomeOneRow(t *testing.T) {
	t.Parallel()
	page := `[{"BillingCurrency":"USD","Items":[` +
		item("Standard_NC24ads_A100_v4", "eastus", "Virtual Machines NCadsA100v4 Series", "NC24ads A100 v4", "Consumption", 3.673) + `,` +
		item("Standard_NC24ads_A100_v4", "eastus", "Virtual Machines NCadsA100v4 Series", "NC24ads A100 v4 Spot", "Consumption", 0.7345) + `,` +
		item("Standard_NC24ads_A100_v4", "eastus", "Virtual Machines NCadsA100v4 Series Windows", "NC24ads A100 v4", "Consumption", 3.857) + `,` +
		item("Standard_NC24ads_A100_v4", "eastus", "Virtual Machines NCadsA100v4 Series", "NC24ads A100 v4 Low Priority", "Consumption", 0.7) +
		`],"NextPageLink":"x","Count":4},{"BillingCurrency":"USD","Items":[` +
		item("Standard_NC24ads_A100_v4", "westeurope", "Virtual Machines NCadsA100v4 Series", "NC24ads A100 v4", "Consumption", 4.1) + `,` +
		item("Standard_NC24ads_A100_v4", "westeurope", "Virtual Machines NCadsA100v4 Series", "NC24ads A100 v4", "Reservation", 20000) + `,` +
		item("Standard_D4s_v5", "westeurope", "Virtual Machines Dsv5 Series", "D4s v5", "Consumption", 0.2) + `,` +
		item("Standard_L8s_v3", "westeurope", "Virtual Machines Lsv3 Series", "L8s v3", "Consumption", 0.6) +
		`],"NextPageLink":null,"Count":4}]`
	rows, skipped, err := ReadAzureRetailPrices([]byte(page))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, Row{Instance: "Standard_NC24ads_A100_v4", Accelerator: "A100-80GB", AcceleratorCount: 1, VCPU: 24, MemoryGiB: 220,
		Region: "eastus", Price: 3.673, Spot: 0.7345, HasSpot: true}, rows[0])
	require.Equal(t, "westeurope", rows[1].Region)
	require.False(t, rows[1].HasSpot)
	require.Equal(t, map[string]int{"Windows licence included": 1, "Low Priority meter": 1, "not pay-as-you-go (Reservation)": 1,
		"VM size without recorded GPU, vCPU and memory": 1}, skipped)

	res, err := Build(rows, opts(t, "azure"))
	require.NoError(t, err)
	var names []string
	for _, in := range res.Instances {
		names = append(names, in.Name+" "+in.PriceRegion+" "+in.GPU)
	}
	require.Contains(t, names, "NC24ads_A100_v4 eastus a100-80gb", "named without the ARM name's Standard_ prefix, like the curated rows")
	require.Contains(t, names, "D4s_v5 westeurope ", "a Dsv5 CPU machine is kept for services")
}

func TestAzureBadPagesAreFormatErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, page, want string }{
		{"not json", "{", "Azure Retail Prices page"},
		{"no items", `{"BillingCurrency":"USD"}`, "has no Items"},
		{"no sku", `{"Items":[` + item("", "eastus", "Virtual Machines X", "X", "Consumption", 1) + `]}`, "needs armSkuName"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ReadAzureRetailPrices([]byte(tt.page))
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestAzureSnapshotRealExcerpt reads real westeurope meters as andy-diericks/azure-pricing-radar
// commits them (testdata/README.md): the three spellings of a size in skuName (ARM name, run
// together, ND A100 v4's with its GPU) become the size's row, with its Linux on-demand and Spot
// prices and its 1-year savings plan rate as a monthly commitment price; Windows and Low Priority
// meters and a size the import does not describe are counted.
func TestAzureSnapshotRealExcerpt(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/azure-pricing-radar-vm-eu-west.json")
	require.NoError(t, err)
	rows, skipped, err := ReadAzureRetailSnapshot(data)
	require.NoError(t, err)
	got := map[string]Row{}
	for _, r := range rows {
		got[r.Instance] = r
	}
	require.Equal(t, Row{Instance: "Standard_NC24ads_A100_v4", Accelerator: "A100-80GB", AcceleratorCount: 1, VCPU: 24, MemoryGiB: 220,
		Region: "westeurope", Price: 4.775, Spot: 1.097295, HasSpot: true, Commit1YMonthly: 3.97471 * 730}, got["Standard_NC24ads_A100_v4"])
	require.Equal(t, 9.08, got["Standard_NC40ads_H100_v5"].Price, "skuName NC40adsH100v5")
	// The Linux meter's 1-year savings plan rate, not the Windows meter's (9.084348 USD/h).
	require.InDelta(t, 7.553652*730, got["Standard_NC40ads_H100_v5"].Commit1YMonthly, 1e-6)
	require.Zero(t, got["Standard_NC40ads_H100_v5"].Commit3YMonthly, "the snapshot keeps the 1-year term only")
	require.Equal(t, 5.23008, got["Standard_NC40ads_H100_v5"].Spot)
	require.Equal(t, 35.357, got["Standard_ND96asr_v4"].Price, "skuName ND96asr_A100_v4")
	require.Equal(t, 3.823, got["Standard_NC6s_v3"].Price, "read here; Build leaves the retired size out")
	require.Len(t, rows, 4)
	require.Equal(t, map[string]int{"Windows licence included": 10, "Low Priority meter": 1, unrecordedSize: 1}, skipped)

	res, err := Build(rows, opts(t, "azure"))
	require.NoError(t, err)
	var names []string
	for _, in := range res.Instances {
		names = append(names, in.Name)
	}
	require.Equal(t, []string{"NC24ads_A100_v4", "NC40ads_H100_v5", "ND96asr_v4"}, names)
	require.InDelta(t, 29.4064169*730, res.Instances[2].Commit1YMonthly, 1e-5, "ND96asr_v4: 1-year savings plan x 730 h")
	require.Equal(t, 1, res.Skipped["size retired by Microsoft (Standard_NC6s_v3)"])
}

func TestAzureSnapshotBadInput(t *testing.T) {
	t.Parallel()
	entry := func(key, sku string, price float64) string {
		return `"` + key + `":{"armRegionName":"westeurope","meterName":"` + sku + `","productName":"Virtual Machines Dsv5 Series","retailPrice":` +
			jsonNum(price) + `,"skuName":"` + sku + `","unitOfMeasure":"1 Hour","unitPrice":` + jsonNum(price) + `}`
	}
	for _, tt := range []struct{ name, snap, want string }{
		{"not json", "[", "Azure Retail Prices snapshot"},
		{"key without its type", `{` + entry("a|b", "Standard_D4s_v5", 0.23) + `}`, "skuId|meterId|type|reservationTerm"},
		{"two on-demand prices for one size", `{` + entry("a|1|Consumption|", "Standard_D4s_v5", 0.23) + `,` +
			entry("a|2|Consumption|", "D4s v5", 0.25) + `}`, "Standard_D4s_v5 in westeurope has two on-demand prices"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ReadAzureRetailSnapshot([]byte(tt.snap))
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestAzureSavingsPlanTermsBecomeCommitmentPrices reads a pay-as-you-go item with the API's
// savingsPlan array (Microsoft Learn, Azure Retail Prices REST API: savingsPlan with unitPrice,
// retailPrice and term "1 Year" or "3 Years"): each term's hourly rate x 730 h is the row's 1- or
// 3-year commitment price; the Spot meter's rates are not read.
func TestAzureSavingsPlanTermsBecomeCommitmentPrices(t *testing.T) {
	t.Parallel()
	const page = `{"BillingCurrency":"USD","Items":[
{"currencyCode":"USD","retailPrice":3.673,"unitPrice":3.673,"armRegionName":"eastus","meterName":"NC24ads A100 v4","productName":"Virtual Machines NCadsA100v4 Series","skuName":"NC24ads A100 v4","serviceName":"Virtual Machines","unitOfMeasure":"1 Hour","type":"Consumption","armSkuName":"Standard_NC24ads_A100_v4",
 "savingsPlan":[{"unitPrice":1.9,"retailPrice":1.9,"term":"3 Years"},{"unitPrice":2.9,"retailPrice":2.9,"term":"1 Year"}]},
{"currencyCode":"USD","retailPrice":0.7345,"unitPrice":0.7345,"armRegionName":"eastus","meterName":"NC24ads A100 v4 Spot","productName":"Virtual Machines NCadsA100v4 Series","skuName":"NC24ads A100 v4 Spot","serviceName":"Virtual Machines","unitOfMeasure":"1 Hour","type":"Consumption","armSkuName":"Standard_NC24ads_A100_v4",
 "savingsPlan":[{"unitPrice":0.1,"retailPrice":0.1,"term":"1 Year"}]}],"NextPageLink":null,"Count":2}`
	rows, _, err := ReadAzureRetailPrices([]byte(page))
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.InDelta(t, 2.9*730, rows[0].Commit1YMonthly, 1e-9)
	require.InDelta(t, 1.9*730, rows[0].Commit3YMonthly, 1e-9)
	require.InDelta(t, 0.7345, rows[0].Spot, 1e-9)
}

// TestAzureSnapshotGPUSizesOfNorthEurope reads real northeurope meters (testdata/README.md): the
// NC RTX PRO 6000 BSE v6 sizes, whose meters shorten the GPU to RTX6kv6, become rows of whole
// GPUs (NC144ds_xl one, NC288lds_xl two), as does the NVads A10 v5 size with one A10; the half
// A10 of NV18ads is a fractional GPU, the preview NC128ds_xl no longer deploys, the quarter or half
// GPU NC72ds_xl has no recorded size, and a dedicated host is no VM size: each is counted.
func TestAzureSnapshotGPUSizesOfNorthEurope(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/azure-pricing-radar-vm-northeurope-gpu.json")
	require.NoError(t, err)
	rows, skipped, err := ReadAzureRetailSnapshot(data)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"Windows licence included": 14, "Low Priority meter": 2, unrecordedSize: 2,
		"dedicated host (priced per host, not per VM)": 1}, skipped)

	res, err := Build(rows, opts(t, "azure"))
	require.NoError(t, err)
	got := map[string]catalog.Instance{}
	for _, in := range res.Instances {
		got[in.Name] = in
	}
	require.Len(t, got, 3)
	for _, tt := range []struct {
		name           string
		gpu            string
		count, vcpu    int
		mem            float64
		price, spot    float64
		savingsPerHour float64
	}{
		{"NC144ds_xl_RTXPRO6000BSE_v6", "rtx-pro-6000", 1, 144, 516, 9.129, 1.687039, 7.66836},
		{"NC288lds_xl_RTXPRO6000BSE_v6", "rtx-pro-6000", 2, 288, 516, 15.74, 2.908752, 13.2216},
		{"NV36ads_A10_v5", "a10", 1, 36, 440, 3.84, 0.709632, 3.196416},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, ok := got[tt.name]
			require.True(t, ok, "a row for %s", tt.name)
			require.Equal(t, []any{tt.gpu, tt.count, tt.vcpu, tt.mem, "northeurope", tt.price, tt.spot},
				[]any{in.GPU, in.GPUCount, in.VCPU, in.MemoryGB, in.PriceRegion, in.OnDemandHourly, in.SpotHourly})
			require.InDelta(t, tt.savingsPerHour*730, in.Commit1YMonthly, 1e-6, "1-year savings plan x 730 h")
		})
	}
	require.Equal(t, 1, res.Skipped["fractional GPU"], "NV18ads_A10_v5: half an A10")
	require.Equal(t, 1, res.Skipped["preview size Microsoft no longer deploys (Standard_NC128ds_xl_RTXPRO6000BSE_v6)"])
}
