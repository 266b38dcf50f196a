package priceimport

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// gcpCalcExcerpt is copied from Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml at
// fd66b26ff84f (Apache-2.0, generated 2026-07-30), each machine type cut to the regions shown.
const gcpCalcExcerpt = `compute:
  instance:
    a2-ultragpu-1g:
      a100-80gb: 1
      cost:
        europe-west4:
          hour: 5.58091847945206
          hour_spot: 2.94520671232877
          month: 4074.07049
          month_spot: 2150.0009
        us-central1:
          hour: 5.06879789041096
          hour_spot: 2.75954630136986
          month: 3700.22246
          month_spot: 2014.4688
      cpu: 12
      local-ssd: 375
      ram: 170
    a3-highgpu-1g:
      cost:
        europe-west4:
          hour: 14.0675598969041
          hour_spot: 5.51484742465753
          month: 10269.31872474
          month_1y: 7123.99568024
          month_3y: 4509.77509264
          month_spot: 4025.83862
      cpu: 26
      h100-80gb: 1
      local-ssd: 750
      ram: 234
    e2-standard-2:
      cost:
        europe-west4:
          hour: 0.07377204
          hour_spot: 0.035264
          month: 53.8535892
          month_1y: 33.92775594
          month_3y: 24.23411514
          month_spot: 25.74272
      cpu: 2
      ram: 8
    g4-standard-48:
      cost:
        europe-west4:
          hour: 4.949923
          hour_spot: 1.98
          month: 3613.44379
          month_1y: 2493.315
          month_3y: 1589.49835
          month_spot: 1445.4
      cpu: 48
      ram: 180
      rtx6000: 1
`

func TestGCPPricingCalculatorRowsCarryCommitments(t *testing.T) {
	t.Parallel()
	rows, skipped, err := ReadGCPPricingCalculator([]byte(gcpCalcExcerpt))
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.Len(t, rows, 5)
	require.Equal(t, Row{Instance: "e2-standard-2", VCPU: 2, MemoryGiB: 8, Region: "europe-west4", Price: 0.07377204,
		Spot: 0.035264, HasSpot: true, Commit1YMonthly: 33.92775594, Commit3YMonthly: 24.23411514}, rows[3])

	res, err := Build(rows, opts(t, "gcp"))
	require.NoError(t, err)
	require.Len(t, res.Instances, 4, "%+v", res.Instances)
	a2 := res.Instances[0]
	require.Equal(t, "a2-ultragpu-1g", a2.Name)
	require.Equal(t, "europe-west4", a2.PriceRegion)
	require.Equal(t, "a100-80gb", a2.GPU)
	require.Equal(t, 1, a2.GPUCount)
	require.Equal(t, 12, a2.VCPU)
	require.InDelta(t, 5.580918, a2.OnDemandHourly, 1e-9, "the file prices the whole machine: nothing is added")
	require.InDelta(t, 2.945207, a2.SpotHourly, 1e-9)
	require.Zero(t, a2.Commit1YMonthly, "no commitment price published for A2 Ultra")
	e2 := res.Instances[2]
	require.Equal(t, "e2-standard-2", e2.Name)
	require.False(t, e2.HasGPU())
	require.InDelta(t, 33.927756, e2.Commit1YMonthly, 1e-9)
	require.InDelta(t, 24.234115, e2.Commit3YMonthly, 1e-9)
	// G4: the file's rtx6000 key is the RTX PRO 6000 Blackwell Server Edition, a catalogue GPU.
	g4 := res.Instances[3]
	require.Equal(t, "g4-standard-48", g4.Name)
	require.Equal(t, "rtx-pro-6000", g4.GPU)
	require.Equal(t, 1, g4.GPUCount)
	require.Equal(t, 48, g4.VCPU)
	require.InDelta(t, 4.949923, g4.OnDemandHourly, 1e-9)
	require.InDelta(t, 1.98, g4.SpotHourly, 1e-9)
	require.InDelta(t, 2493.315, g4.Commit1YMonthly, 1e-9)
	require.InDelta(t, 1589.49835, g4.Commit3YMonthly, 1e-9)
	require.Equal(t, map[string]int{"sold only as Spot or Flex-start (a3-highgpu-1g)": 1}, res.Skipped)
}

func TestGCPPricingCalculatorBadFilesAreFormatErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, file, want string }{
		{"no machine types", "about:\n  generated: x\n", "no compute.instance"},
		{"no cost", strings.Replace(gcpCalcExcerpt, "      cost:\n        europe-west4:\n          hour: 0.07377204", "      costs:\n        europe-west4:\n          hour: 0.07377204", 1), "e2-standard-2 has no cost"},
		{"price not a number", strings.Replace(gcpCalcExcerpt, "hour: 0.07377204", "hour: cheap", 1), "e2-standard-2: cost"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ReadGCPPricingCalculator([]byte(tt.file))
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// azureVMsExcerpt is copied from zenml-io/zenml-projects azure/vms.csv at e241e1cc71c8
// (Apache-2.0, 2024-09-04), a SkyPilot-layout Azure file for westeurope: it names the NVL GPU of
// NC40ads_H100_v5 plain H100, counts 12 GPUs on ND96isr_H100_v5 (Microsoft documents 8), lists a
// size without a price, and prices a Ddsv5-family size twice; its NV36ads_A10_v5 (one A10) is kept.
const azureVMsExcerpt = `InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation
Standard_D2ads_v5,,,2.0,8,,0.217,0.01375,westeurope,"V1,V2"
Standard_D2ads_v5,,,2.0,8,,0.125,0.01375,westeurope,"V1,V2"
Standard_D2s_v5,,,2.0,8,,0.115,0.01265,westeurope,"V1,V2"
Standard_E96ias_v4,,,96.0,672,,,,westeurope,"V1,V2"
Standard_NC40ads_H100_v5,H100,1,40.0,320,H100,9.08,9.08,westeurope,V2
Standard_ND96isr_H100_v5,H100,12,96.0,1900,H100,127.816,127.816,westeurope,V2
Standard_NV36ads_A10_v5,A10,1,36.0,440,A10,4.16,1.04,westeurope,"V1,V2"
`

func TestAzureVMsFileGPUsComeFromMicrosoftsSizeDocumentation(t *testing.T) {
	t.Parallel()
	rows, err := ReadSkyPilotVMs([]byte(azureVMsExcerpt))
	require.NoError(t, err)
	res, err := Build(rows, opts(t, "azure"))
	require.NoError(t, err)
	got := map[string]string{}
	for _, in := range res.Instances {
		got[in.Name] = in.PriceRegion + " " + in.GPU + " x" + string(rune('0'+in.GPUCount))
	}
	require.Equal(t, map[string]string{
		"D2s_v5":          "westeurope  x0",
		"NC40ads_H100_v5": "westeurope h100-nvl x1",
		"ND96isr_H100_v5": "westeurope h100-sxm x8",
		"NV36ads_A10_v5":  "westeurope a10 x1",
	}, got)
	for _, in := range res.Instances {
		if in.HasGPU() && in.Name != "NV36ads_A10_v5" {
			require.Zero(t, in.SpotHourly, "%s: a spot price equal to on-demand is no spot price", in.Name)
		}
	}
	require.InDelta(t, 1.04, res.Instances[len(res.Instances)-1].SpotHourly, 1e-9, "NV36ads_A10_v5: a spot price below on-demand is kept")
	require.Equal(t, map[string]int{
		"CPU-only machine outside the general-purpose families": 1,
		"no on-demand price":                            1,
		"spot price equal to on-demand (spot left out)": 2,
	}, res.Skipped)
}

// TestLaterFilesOfAProviderOnlyFillIn imports two GCP files: the first's rows win, the second
// adds its commitment prices to them and its rows in regions the first does not price.
func TestLaterFilesOfAProviderOnlyFillIn(t *testing.T) {
	t.Parallel()
	const manifest = `repository: skypilot-org/skypilot-catalog
licence: Apache-2.0
retrieved: "2026-12-06"
catalogue_version: "2026-12-06.9"
files:
  - provider: gcp
    file: gcp.csv
    path: catalogs/v8/gcp/vms.csv
    commit: 006059e0f18acb1341e22a27751e9f80df6ba92f
  - provider: gcp
    format: gcp-pricing-calculator-yml
    file: pricing.yml
    repository: Cyclenerd/google-cloud-pricing-cost-calculator
    path: pricing.yml
    commit: fd66b26ff84fee5cdd94f341ea89206e76c06b99
    published: "2026-07-30"
`
	folder := fstest.MapFS{
		"source.yaml": {Data: []byte(manifest)},
		"gcp.csv":     {Data: []byte(cpuGCP)},
		"pricing.yml": {Data: []byte(gcpCalcExcerpt)},
	}
	res, err := ImportFolder(folder, reference(t), nil)
	require.NoError(t, err)
	rows := map[string]int{}
	for i, in := range res.Table.Instances {
		rows[in.Name+" "+in.PriceRegion] = i
	}
	require.Len(t, rows, 4, "e2-standard-2 once, and the calculator's A2 Ultra and G4 rows")
	e2 := res.Table.Instances[rows["e2-standard-2 europe-west4"]]
	require.InDelta(t, 0.07377, e2.OnDemandHourly, 1e-9, "the first file's price wins")
	require.InDelta(t, 0.03071, e2.SpotHourly, 1e-9)
	require.InDelta(t, 33.927756, e2.Commit1YMonthly, 1e-9, "the later file adds the commitment prices")
	require.Equal(t, "2026-07-30", e2.AsOf, "the row holds a figure published on 2026-07-30")
	require.Contains(t, e2.Source.Source, "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv")
	require.Contains(t, e2.Source.Source, "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml at commit fd66b26ff84f (Apache-2.0), published 2026-07-30")
	a2 := res.Table.Instances[rows["a2-ultragpu-1g us-central1"]]
	require.Equal(t, "2026-07-30", a2.AsOf)
	require.Len(t, res.Table.Imports, 2)
	require.Equal(t, "Cyclenerd/google-cloud-pricing-cost-calculator", res.Table.Imports[1].Repository)
	require.Equal(t, "Apache-2.0", res.Table.Imports[1].Licence, "the manifest's licence is the default")
	require.Equal(t, map[string]int{"sold only as Spot or Flex-start (a3-highgpu-1g)": 1}, res.Skipped[1])
}

func TestCommitmentsAreCarriedOnlyOntoTheSameOnDemandPrice(t *testing.T) {
	t.Parallel()
	row := func(name string, hourly, c1, c3 float64) catalog.Instance {
		return catalog.Instance{Provider: "gcp", Name: name, PriceRegion: "asia-northeast1", OnDemandHourly: hourly,
			Commit1YMonthly: c1, Commit3YMonthly: c3, OfferedIn: []string{"asia-northeast1"}, Source: catalog.Source{Source: "s", AsOf: "2026-12-06"}}
	}
	// The two GCP files price a2-highgpu-1g in asia-northeast1 at 2.6539 and 4.049591 USD/h.
	earlier := []catalog.Instance{row("a2-highgpu-1g", 2.6539, 0, 0), row("e2-standard-2", 0.07377, 0, 0)}
	later := []catalog.Instance{row("a2-highgpu-1g", 4.049591, 1846.61, 1038.72), row("e2-standard-2", 0.0738, 33.93, 24.23), row("n2-standard-2", 0.1, 50, 40)}
	rows, l := fillIn(earlier, later, map[key]int{})
	require.Equal(t, layered{disagree: 1}, l)
	require.Len(t, rows, 3)
	require.Equal(t, "a2-highgpu-1g", rows[0].Name)
	require.InDelta(t, 2.6539, rows[0].OnDemandHourly, 1e-9)
	require.Zero(t, rows[0].Commit1YMonthly, "a commitment price of another on-demand basis is not carried")
	require.InDelta(t, 33.93, rows[1].Commit1YMonthly, 1e-9, "within 1%: carried")
	require.Equal(t, "n2-standard-2", rows[2].Name, "a row the earlier file lacks is added")
}

// TestFlexStartFamilyPricesNeedConfirmation imports real excerpts of the two GCP files where they
// disagree: SkyPilot's extract prices the 8 H100s of a3-highgpu-8g at 33.60609 USD/h in
// us-central1 (4.20076 a GPU, the Flex-start-like price) and 78.37241 in us-east4 (9.79655 a
// GPU); the pricing calculator prices the whole machine at 88.49 and 88.556 USD/h (ADR 0044).
func TestFlexStartFamilyPricesNeedConfirmation(t *testing.T) {
	t.Parallel()
	// skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv at 006059e0f18a (Apache-2.0), zone a rows.
	const skyGCP = `InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
a3-edgegpu-8g,208.0,1872.0,,,,us-central1,us-central1-a,9.46006,2.88933
a3-highgpu-8g,208.0,1872.0,,,,us-central1,us-central1-a,9.46006,2.88933
a3-highgpu-8g,208.0,1872.0,,,,us-east4,us-east4-a,9.46006,2.15966
,,,H100,8,,us-central1,us-central1-a,33.60609,23.9408
,,,H100,8,,us-east4,us-east4-a,78.37241,17.8848
`
	// Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml at fd66b26ff84f (Apache-2.0), cut to two regions.
	const calc = `compute:
  instance:
    a3-highgpu-8g:
      cost:
        us-central1:
          hour: 88.4899999025753
          hour_spot: 50.6095408219178
          month: 64597.69992888
          month_1y: 44810.08066464
          month_3y: 28370.99821392
          month_spot: 36944.9648
        us-east4:
          hour: 88.5557561512329
          hour_spot: 36.3208366027397
          month: 64645.7019904
          month_1y: 44840.32514976
          month_3y: 28392.60150768
          month_spot: 26514.21072
      cpu: 208
      h100-80gb: 8
      local-ssd: 6000
      ram: 1872
`
	const manifest = `repository: skypilot-org/skypilot-catalog
licence: Apache-2.0
retrieved: "2026-12-06"
catalogue_version: "2026-12-06.9"
files:
  - provider: gcp
    file: gcp.csv
    path: catalogs/v8/gcp/vms.csv
    commit: 006059e0f18acb1341e22a27751e9f80df6ba92f
  - provider: gcp
    format: gcp-pricing-calculator-yml
    file: pricing.yml
    repository: Cyclenerd/google-cloud-pricing-cost-calculator
    path: pricing.yml
    commit: fd66b26ff84fee5cdd94f341ea89206e76c06b99
    published: "2026-07-30"
`
	folder := fstest.MapFS{
		"source.yaml": {Data: []byte(manifest)},
		"gcp.csv":     {Data: []byte(skyGCP)},
		"pricing.yml": {Data: []byte(calc)},
	}
	res, err := ImportFolder(folder, reference(t), nil)
	require.NoError(t, err)
	rows := map[string]catalog.Instance{}
	for _, in := range res.Table.Instances {
		rows[in.Name+" "+in.PriceRegion] = in
	}
	require.Len(t, rows, 2, "a3-edgegpu-8g in us-central1 is left out: only SkyPilot prices it, at the Flex-start-like GPU price")

	central := rows["a3-highgpu-8g us-central1"]
	require.InDelta(t, 88.49, central.OnDemandHourly, 1e-9, "the calculator's price replaces SkyPilot's 43.06615")
	require.InDelta(t, 50.609541, central.SpotHourly, 1e-9)
	require.InDelta(t, 44810.080665, central.Commit1YMonthly, 1e-9, "with its own commitment prices")
	require.InDelta(t, 28370.998214, central.Commit3YMonthly, 1e-9)
	require.Equal(t, "2026-07-30", central.AsOf)
	require.True(t, strings.HasPrefix(central.Source.Source, "Cyclenerd/google-cloud-pricing-cost-calculator"), central.Source.Source)

	east := rows["a3-highgpu-8g us-east4"]
	require.InDelta(t, 9.46006+78.37241, east.OnDemandHourly, 1e-9, "confirmed within 1%: SkyPilot's row stays")
	require.InDelta(t, 44840.32515, east.Commit1YMonthly, 1e-9, "and takes the calculator's commitment prices")
	require.True(t, strings.HasPrefix(east.Source.Source, "skypilot-org/skypilot-catalog"), east.Source.Source)

	require.Equal(t, 1, res.Skipped[0][unconfirmedReason])
	require.Equal(t, 1, res.Skipped[1][replacedReason])
}
