package priceimport

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// Rows below are copied from skypilot-org/skypilot-catalog (Apache-2.0): catalogs/v8/aws/vms.csv
// at 00148f2af367 (GpuInfo left in one row as published) and catalogs/v8/gcp/vms.csv at 006059e0f18a.
const awsExcerpt = `InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
a1.large,,,2.0,4.0,,0.0582,0.058200,eu-central-1,euc1-az2,arm64
g5.xlarge,A10G,1.0,4.0,16.0,"{'Gpus': [{'Name': 'A10G', 'Manufacturer': 'NVIDIA', 'Count': 1, 'LogicalGpuCount': 1, 'GpuPartitionSize': 1.0, 'Workloads': ['graphics', 'ml-ai'], 'MemoryInfo': {'SizeInMiB': 22888}}], 'TotalGpuMemoryInMiB': 22888}",1.258,0.617800,eu-central-1,euc1-az1,x86_64
g5.xlarge,A10G,1.0,4.0,16.0,,1.258,0.651000,eu-central-1,euc1-az2,x86_64
g5.xlarge,A10G,1.0,4.0,16.0,,1.258,0.605900,eu-central-1,euc1-az3,x86_64
g5.xlarge,A10G,1.0,4.0,16.0,,1.5488,1.516300,ap-east-1,ape1-az1,x86_64
g5g.2xlarge,T4g,1.0,8.0,16.0,,0.6955,0.257600,eu-central-1,euc1-az1,arm64
g6f.2xlarge,L4,0.25,8.0,32.0,,0.594,0.283000,eu-central-1,euc1-az2,x86_64
g6e.xlarge,L40S,1.0,4.0,32.0,,1.961,,eu-south-2,eus2-az2,x86_64
`

const gcpExcerpt = `InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
a2-ultragpu-1g,12.0,170.0,,,,europe-west4,europe-west4-a,1.2105,0.47328
a3-highgpu-1g,26.0,234.0,,,,europe-west8,europe-west8-c,1.37171,0.2469
a4-highgpu-8g,224.0,3968.0,,,,europe-west4,europe-west4-b,0.0,0.0
n4-highmem-8,8.0,64.0,,,,europe-west4,europe-west4-a,0.49988,0.13883
,,,A100-80GB,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81920}}]},europe-west4,europe-west4-a,2.03285,2.1626
,,,H100,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81920}}]},europe-west4,europe-west4-b,12.73552,2.9112
`

func reference(t *testing.T) *catalog.Catalog {
	t.Helper()
	ref, err := catalog.ParseReference(os.DirFS(".."))
	require.NoError(t, err)
	return ref
}

func opts(t *testing.T, provider string) Options {
	ref := reference(t)
	return Options{
		Provider:    provider,
		KnownRegion: func(p, r string) bool { _, ok := ref.Region(p, r); return ok && r != "ap-east-1" },
		KnownGPU:    func(id string) bool { _, ok := ref.GPU(id); return ok },
		Source:      "test excerpt", AsOf: "2026-12-06",
	}
}

func TestAWSRowsBecomeOneInstancePerRegion(t *testing.T) {
	t.Parallel()
	rows, err := ReadSkyPilotVMs([]byte(awsExcerpt))
	require.NoError(t, err)
	require.Len(t, rows, 8)
	res, err := Build(rows, opts(t, "aws"))
	require.NoError(t, err)
	require.Len(t, res.Instances, 2, "%+v", res.Instances)

	g5 := res.Instances[0]
	require.Equal(t, "g5.xlarge", g5.Name)
	require.Equal(t, "eu-central-1", g5.PriceRegion)
	require.Equal(t, []string{"eu-central-1"}, g5.OfferedIn)
	require.Equal(t, "a10g", g5.GPU)
	require.Equal(t, 1, g5.GPUCount)
	require.Equal(t, 4, g5.VCPU)
	require.InDelta(t, 16.0, g5.MemoryGB, 1e-9)
	require.InDelta(t, 1.258, g5.OnDemandHourly, 1e-9)
	require.InDelta(t, 0.651, g5.SpotHourly, 1e-9, "the region's spot price is its dearest zone's")
	require.Equal(t, "test excerpt", g5.Source.Source)

	l40s := res.Instances[1]
	require.Equal(t, "g6e.xlarge", l40s.Name)
	require.Zero(t, l40s.SpotHourly, "no spot price published")

	require.Equal(t, map[string]int{
		"CPU-only machine outside the general-purpose families": 1,
		"GPU not in the catalogue (T4g)":                        1,
		"fractional GPU":                                        1,
		"region not in the catalogue (ap-east-1)":               1,
	}, res.Skipped)
}

// TestBlackwellMachinesArePriced imports real rows of the Blackwell machine types the SkyPilot AWS
// file lists (catalogs/v8/aws/vms.csv at 00148f2af367, GpuInfo emptied): each becomes a priced row
// of the catalogue's b200, b300 or rtx-pro-6000 entry, not a skipped "GPU not in the catalogue".
// SkyPilot names g7e's GPU "RTX PRO Server 6000".
func TestBlackwellMachinesArePriced(t *testing.T) {
	t.Parallel()
	const excerpt = `InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
g7e.2xlarge,RTX PRO Server 6000,1.0,8.0,64.0,,3.36312,1.478200,us-east-1,use1-az2,x86_64
g7e.2xlarge,RTX PRO Server 6000,1.0,8.0,64.0,,3.36312,1.540600,us-east-1,use1-az6,x86_64
g7e.48xlarge,RTX PRO Server 6000,8.0,192.0,2048.0,,33.14432,14.455300,us-east-2,use2-az1,x86_64
g7e.48xlarge,RTX PRO Server 6000,8.0,192.0,2048.0,,33.14432,14.306400,us-east-2,use2-az2,x86_64
p6-b200.48xlarge,B200,8.0,192.0,2048.0,,113.9328,22.564000,us-east-2,use2-az1,x86_64
p6-b200.48xlarge,B200,8.0,192.0,2048.0,,113.9328,21.729300,us-east-2,use2-az2,x86_64
p6-b300.48xlarge,B300,8.0,192.0,4096.0,,142.416,33.430800,us-west-2,usw2-az2,x86_64
`
	rows, err := ReadSkyPilotVMs([]byte(excerpt))
	require.NoError(t, err)
	res, err := Build(rows, opts(t, "aws"))
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	require.Len(t, res.Instances, 4, "%+v", res.Instances)
	for _, want := range []struct {
		name, gpu, region string
		count             int
		onDemand, spot    float64
	}{
		{"g7e.2xlarge", "rtx-pro-6000", "us-east-1", 1, 3.36312, 1.5406},
		{"g7e.48xlarge", "rtx-pro-6000", "us-east-2", 8, 33.14432, 14.4553},
		{"p6-b200.48xlarge", "b200", "us-east-2", 8, 113.9328, 22.564},
		{"p6-b300.48xlarge", "b300", "us-west-2", 8, 142.416, 33.4308},
	} {
		i := slices.IndexFunc(res.Instances, func(in catalog.Instance) bool { return in.Name == want.name })
		require.GreaterOrEqual(t, i, 0, want.name)
		in := res.Instances[i]
		require.Equal(t, want.gpu, in.GPU, want.name)
		require.Equal(t, want.count, in.GPUCount, want.name)
		require.Equal(t, want.region, in.PriceRegion, want.name)
		require.InDelta(t, want.onDemand, in.OnDemandHourly, 1e-9, want.name)
		require.InDelta(t, want.spot, in.SpotHourly, 1e-9, want.name)
	}
}

func TestGCPHostsAndGPUsAreSummed(t *testing.T) {
	t.Parallel()
	rows, err := ReadSkyPilotVMs([]byte(gcpExcerpt))
	require.NoError(t, err)
	res, err := Build(rows, opts(t, "gcp"))
	require.NoError(t, err)
	require.Len(t, res.Instances, 1)
	in := res.Instances[0]
	require.Equal(t, "a2-ultragpu-1g", in.Name)
	require.Equal(t, "a100-80gb", in.GPU)
	require.Equal(t, 1, in.GPUCount)
	require.InDelta(t, 1.2105+2.03285, in.OnDemandHourly, 1e-9, "host plus its GPU")
	require.InDelta(t, 0.47328+2.1626, in.SpotHourly, 1e-9)
	require.Equal(t, 12, in.VCPU)
	require.Equal(t, map[string]int{
		"no on-demand price": 1,
		"CPU-only machine outside the general-purpose families": 1,
		"sold only as Spot or Flex-start (a3-highgpu-1g)":       1,
	}, res.Skipped)
}

// Rows copied from the same files: AWS m7i.xlarge (catalogs/v8/aws/vms.csv at 00148f2af367) and
// GCP e2-standard-2 (catalogs/v8/gcp/vms.csv at 006059e0f18a), general-purpose CPU machines the
// catalogue prices for services, beside a CPU machine of another family that is left out.
const cpuAWS = `InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
m7i.xlarge,,,4.0,16.0,,0.2415,0.129500,eu-central-1,euc1-az1,x86_64
m7i.xlarge,,,4.0,16.0,,0.2415,0.132200,eu-central-1,euc1-az2,x86_64
m7i.xlarge,,,4.0,16.0,,0.2415,0.130400,eu-central-1,euc1-az3,x86_64
r4.large,,,2.0,15.25,,0.16005,0.065100,eu-central-1,euc1-az1,x86_64
`

const cpuGCP = `InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
e2-standard-2,2.0,8.0,,,,europe-west4,europe-west4-a,0.07377,0.03071
e2-standard-2,2.0,8.0,,,,europe-west4,europe-west4-b,0.07377,0.03071
f1-micro,1.0,0.599609375,,,,europe-west4,europe-west4-a,0.0084,0.00076
`

func TestGeneralPurposeCPUMachinesAreKept(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, provider, csv, instance string
		vcpu                          int
		mem, price, spot              float64
	}{
		{"aws m7i", "aws", cpuAWS, "m7i.xlarge", 4, 16, 0.2415, 0.1322},
		{"gcp e2-standard", "gcp", cpuGCP, "e2-standard-2", 2, 8, 0.07377, 0.03071},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := ReadSkyPilotVMs([]byte(tt.csv))
			require.NoError(t, err)
			res, err := Build(rows, opts(t, tt.provider))
			require.NoError(t, err)
			require.Len(t, res.Instances, 1)
			in := res.Instances[0]
			require.Equal(t, tt.instance, in.Name)
			require.False(t, in.HasGPU())
			require.Zero(t, in.GPUCount)
			require.Equal(t, tt.vcpu, in.VCPU)
			require.InDelta(t, tt.mem, in.MemoryGB, 1e-9)
			require.InDelta(t, tt.price, in.OnDemandHourly, 1e-9)
			require.InDelta(t, tt.spot, in.SpotHourly, 1e-9)
			require.Equal(t, map[string]int{"CPU-only machine outside the general-purpose families": 1}, res.Skipped)
		})
	}
}

func TestMergeCarriesCuratedCommitmentPrices(t *testing.T) {
	t.Parallel()
	src := func(s, d string) catalog.Source { return catalog.Source{Source: s, AsOf: d} }
	imported := []catalog.Instance{
		{Provider: "gcp", Name: "g2-standard-4", GPU: "l4", GPUCount: 1, PriceRegion: "us-central1", OnDemandHourly: 0.70683, OfferedIn: []string{"us-central1"}, Source: src("public price data", "2026-12-06")},
		{Provider: "aws", Name: "p5.48xlarge", GPU: "h100-sxm", GPUCount: 8, PriceRegion: "us-east-1", OnDemandHourly: 55.04, OfferedIn: []string{"us-east-1"}, Source: src("public price data", "2026-12-06")},
	}
	curated := []catalog.Instance{
		{Provider: "gcp", Name: "g2-standard-4", GPU: "l4", GPUCount: 1, PriceRegion: "us-central1", OnDemandHourly: 0.706832, Commit1YMonthly: 325.07, Commit3YMonthly: 232.19, OfferedIn: []string{"us-central1"}, Source: src("commitment source", "2025-03-06")},
		{Provider: "aws", Name: "p5.48xlarge", GPU: "h100-sxm", GPUCount: 8, PriceRegion: "us-east-1", OnDemandHourly: 55.04, OfferedIn: []string{"us-east-1"}, Source: src("older list", "2026-11-09")},
		{Provider: "azure", Name: "NC24ads_A100_v4", GPU: "a100-80gb", GPUCount: 1, PriceRegion: "eastus", OnDemandHourly: 3.673, OfferedIn: []string{"eastus"}, Source: src("curated", "2026-11-09")},
	}
	rows, replaced, carried := Merge(curated, imported)
	require.Len(t, rows, 3)
	require.Equal(t, []string{"p5.48xlarge"}, []string{replaced[0].Name}, "a curated row with nothing the import lacks is replaced")
	require.Len(t, carried, 1)
	g2 := rows[2]
	require.Equal(t, "g2-standard-4", g2.Name)
	require.InDelta(t, 0.70683, g2.OnDemandHourly, 1e-9, "the imported on-demand price wins")
	require.InDelta(t, 325.07, g2.Commit1YMonthly, 1e-9)
	require.InDelta(t, 232.19, g2.Commit3YMonthly, 1e-9)
	require.Equal(t, "2025-03-06", g2.AsOf, "the row holds a figure as old as the curated commitment")
	require.Contains(t, g2.Source.Source, "public price data")
	require.Contains(t, g2.Source.Source, "commitment source")
}

func TestSpotAboveOnDemandIsLeftOut(t *testing.T) {
	t.Parallel()
	rows := []Row{{Instance: "g5.xlarge", Accelerator: "A10G", AcceleratorCount: 1, Region: "eu-west-1", Price: 1, Spot: 2, HasSpot: true}}
	res, err := Build(rows, opts(t, "aws"))
	require.NoError(t, err)
	require.Len(t, res.Instances, 1)
	require.Zero(t, res.Instances[0].SpotHourly)
	require.Equal(t, 1, res.Skipped["spot price above on-demand (spot left out)"])
}

func TestReadRejectsBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, csv, want string
	}{
		{"missing column", "InstanceType,Price\ng5.xlarge,1\n", "no AcceleratorName column"},
		{"price not a number", strings.Replace(awsExcerpt, "1.258,0.651000", "1.25x,0.651000", 1), `line 4: Price "1.25x" is not a number`},
		{"no region", strings.Replace(awsExcerpt, "0.651000,eu-central-1", "0.651000,", 1), "line 4: needs a region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadSkyPilotVMs([]byte(tt.csv))
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestManifestIsChecked(t *testing.T) {
	t.Parallel()
	_, err := ParseManifest([]byte("repository: a/b\nlicence: MIT\nretrieved: 2026-12\ncatalogue_version: 2026-12-06.x\nfiles:\n- provider: oracle\n  format: xml\n  file: x\n  path: y\n  commit: abc\n"))
	require.ErrorIs(t, err, ErrFormat)
	for _, want := range []string{`retrieved "2026-12"`, `catalogue_version "2026-12-06.x"`, `provider "oracle"`, `format "xml"`, `commit "abc"`} {
		require.ErrorContains(t, err, want)
	}
}

func TestManifestFilesNameTheirOwnSourceOrInheritIt(t *testing.T) {
	t.Parallel()
	const commit = "fd66b26ff84fee5cdd94f341ea89206e76c06b99"
	m, err := ParseManifest([]byte("repository: a/b\nlicence: MIT\nretrieved: \"2026-12-06\"\ncatalogue_version: 2026-12-06.4\nfiles:\n" +
		"- {provider: gcp, file: x, path: y, commit: " + commit + "}\n" +
		"- {provider: azure, file: z, path: z, commit: " + commit + ", repository: c/d, licence: Apache-2.0, published: \"2024-09-04\"}\n"))
	require.NoError(t, err)
	first, second := m.resolved(m.Files[0]), m.resolved(m.Files[1])
	require.Equal(t, "a/b MIT 2026-12-06", first.Repository+" "+first.Licence+" "+first.asOf())
	require.Equal(t, "c/d Apache-2.0 2024-09-04", second.Repository+" "+second.Licence+" "+second.asOf(), "rows carry the publication date")

	_, err = ParseManifest([]byte("catalogue_version: 2026-12-06.4\nfiles:\n" +
		"- {provider: gcp, file: x, path: y, commit: " + commit + ", repository: c/d, retrieved: \"2026-12-06\", published: \"2026-12-07\"}\n"))
	require.ErrorIs(t, err, ErrFormat)
	require.ErrorContains(t, err, "files[0] needs a repository and a licence")
	require.ErrorContains(t, err, `files[0].published "2026-12-07" is not a YYYY-MM-DD date on or before its retrieval`)
}

// TestCommittedCatalogueIsTheImportOfTheCommittedData regenerates data/instances/<provider>.yaml
// from the price folder and the curated rows and requires the committed files to match, so hand
// edits of a generated file, or data committed without running the import, fail here.
func TestCommittedCatalogueIsTheImportOfTheCommittedData(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../curated/instances.yaml")
	require.NoError(t, err)
	var curated catalog.PriceTable
	require.NoError(t, yaml.UnmarshalStrict(raw, &curated))
	res, err := ImportFolder(os.DirFS("../pricing"), reference(t), curated.Instances)
	require.NoError(t, err)
	require.Empty(t, res.Replaced, "a curated row the import replaces should be deleted from the curated file")
	for _, in := range res.Carried {
		require.True(t, in.Commit1YMonthly > 0 || in.Commit3YMonthly > 0, "a carried curated row is kept for its commitment prices")
	}
	got, err := MarshalTables(res.Table)
	require.NoError(t, err)
	committed, err := filepath.Glob("../data/instances/*.yaml")
	require.NoError(t, err)
	names := make([]string, 0, len(committed))
	for _, p := range committed {
		names = append(names, filepath.Base(p))
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(got)), names, "one file per provider; run make generate")
	for name, b := range got {
		want, err := os.ReadFile(filepath.Join("../data/instances", name))
		require.NoError(t, err)
		require.Equal(t, string(want), string(b), "%s: run make generate", name)
	}
}
