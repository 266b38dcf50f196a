package catalog

import (
	"cmp"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestPriceTablesKeepHistory(t *testing.T) {
	t.Parallel()
	tables, err := PriceTables()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(tables), 2, "the version before the first import stays")
	cur, err := Load()
	require.NoError(t, err)
	last := tables[len(tables)-1]
	require.Equal(t, cur.Version, last.Version, "the newest table is the loaded version")
	require.Equal(t, cur.Instances, last.Instances)
	require.NotEmpty(t, last.Imports, "the current version records the price data it was imported from")
	for i := 1; i < len(tables); i++ {
		require.Negative(t, CompareVersions(tables[i-1].Version, tables[i].Version), "oldest first")
	}
}

func TestDiffPricesBetweenVersions(t *testing.T) {
	t.Parallel()
	tables, err := PriceTables()
	require.NoError(t, err)
	before, ok := FindPriceTable(tables, "2026-12-06.1")
	require.True(t, ok)
	after, ok := FindPriceTable(tables, "2026-12-06.2")
	require.True(t, ok)
	d := DiffPrices(before, after)
	require.Equal(t, "2026-12-06.1", d.From)

	// GCP's a3-highgpu-8g in us-central1 was $88.49/h in the earlier source; the imported
	// SkyPilot rows price the host at $9.46006/h and its 8 H100s at $33.60609/h.
	var a3 *PriceMove
	for i, m := range d.Moved {
		if m.Provider == "gcp" && m.Name == "a3-highgpu-8g" && m.Region == "us-central1" {
			a3 = &d.Moved[i]
		}
	}
	require.NotNil(t, a3, "moves: %+v", d.Moved)
	require.InDelta(t, 88.49, a3.OnDemandFrom, 1e-9)
	require.InDelta(t, 9.46006+33.60609, a3.OnDemandTo, 1e-9)
	require.Less(t, a3.Change, -0.5)

	added := map[string]bool{}
	for _, a := range d.Added {
		added[a.Provider+" "+a.Name+" "+a.Region] = true
	}
	require.True(t, added["aws g5.xlarge eu-west-1"], "regions new to the catalogue are added")
	require.True(t, added["gcp a2-ultragpu-1g europe-west4"])
	require.Empty(t, d.Removed, "the import removed nothing the earlier version priced")
	// g5.xlarge in us-east-1 is $1.006 in both sources, and its spot price is new.
	for _, m := range d.Moved {
		if m.Name == "g5.xlarge" {
			require.Equal(t, m.OnDemandFrom, m.OnDemandTo)
			require.Zero(t, m.SpotFrom)
			require.Positive(t, m.SpotTo)
		}
	}

	same := DiffPrices(after, after)
	require.Empty(t, same.Moved)
	require.Empty(t, same.Added)
	require.Equal(t, len(after.Instances), same.Unchanged)
}

func TestParseRejectsAStaleGeneratedVersion(t *testing.T) {
	t.Parallel()
	files := embeddedCopy(t)
	cur, err := Load()
	require.NoError(t, err)
	meta := string(files["data/catalog.yaml"].Data)
	files["data/catalog.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(meta, `version: "`+cur.Version+`"`, `version: "2099-01-01.1"`, 1))}
	_, err = Parse(files)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "data/instances is version "+cur.Version+" but catalog.yaml says 2099-01-01.1")
}

func TestPriceTablesRejectAMisnamedHistoryFile(t *testing.T) {
	t.Parallel()
	files := embeddedCopy(t)
	files["data/history/2026-12-05.1.yaml"] = files["data/history/2026-12-06.1.yaml"]
	_, err := ParsePriceTables(files)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, `2026-12-05.1.yaml holds version "2026-12-06.1"`)
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	require.Negative(t, CompareVersions("2026-12-06.2", "2026-12-06.10"), "the counter is a number")
	require.Negative(t, CompareVersions("2026-11-30.9", "2026-12-06.1"))
	require.Zero(t, CompareVersions("2026-12-06.1", "2026-12-06.1"))
}

func TestInstanceIsTheCheapestRegion(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	in, ok := c.Instance("aws", "g5.xlarge")
	require.True(t, ok)
	for _, other := range c.InstancesOf("aws") {
		if other.Name == "g5.xlarge" {
			require.LessOrEqual(t, in.OnDemandHourly, other.OnDemandHourly)
		}
	}
	fra, ok := c.InstanceIn("aws", "g5.xlarge", "eu-central-1")
	require.True(t, ok)
	require.InDelta(t, 1.258, fra.OnDemandHourly, 1e-9)
	_, ok = c.InstanceIn("aws", "g5.xlarge", "mars-1")
	require.False(t, ok)
}

// maxDataFileBytes keeps every catalogue data file well under the repository's 1 MB limit for a
// tracked file (scripts/check-tracked.sh): an import that grows a file past it must split the
// rows further (data/instances holds one file per provider) instead of failing CI later.
const maxDataFileBytes = 900 * 1024

func TestNoDataFileNearTheTrackedFileLimit(t *testing.T) {
	t.Parallel()
	var n int
	require.NoError(t, fs.WalkDir(dataFS, "data", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n++
		require.LessOrEqual(t, info.Size(), int64(maxDataFileBytes),
			"%s is %d bytes, over %d: split the generated rows further (see pkg/advisor/catalog/README.md)", p, info.Size(), maxDataFileBytes)
		return nil
	}))
	require.Greater(t, n, 10, "the walk saw the data files")
}

func TestInstanceFilesHoldOneProviderAndOneVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(files fstest.MapFS)
		wantErr string
	}{
		{
			name: "a row of another provider",
			edit: func(files fstest.MapFS) {
				b := string(files["data/instances/azure.yaml"].Data)
				files["data/instances/azure.yaml"] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(b, "provider: azure\n", "provider: aws\n"))}
			},
			// The message names every import and row of the wrong provider.
			wantErr: "data/instances/azure.yaml holds an import of provider aws, an import of provider aws",
		},
		{
			name: "files of two versions",
			edit: func(files fstest.MapFS) {
				b := string(files["data/instances/gcp.yaml"].Data)
				files["data/instances/gcp.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(b, "\nversion: ", "\nversion: 2099-01-01.1 # was ", 1))}
			},
			wantErr: `data/instances/gcp.yaml holds version "2099-01-01.1", not data/instances/aws-cpu.yaml's`,
		},
		{
			name: "no instance files",
			edit: func(files fstest.MapFS) {
				for name := range files {
					if strings.HasPrefix(name, "data/instances/") {
						delete(files, name)
					}
				}
			},
			wantErr: "no <provider>.yaml file in data/instances",
		},
		{
			name: "a GPU machine among the CPU machines",
			edit: func(files fstest.MapFS) {
				gpu := string(files["data/instances/aws.yaml"].Data)
				row := gpu[strings.Index(gpu, "\n- as_of:")+1 : strings.Index(gpu, "\n  vcpu: 48\n")+len("\n  vcpu: 48\n")]
				cpu := string(files["data/instances/aws-cpu.yaml"].Data)
				files["data/instances/aws-cpu.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(cpu, "instances:\n", "instances:\n"+row, 1))}
			},
			wantErr: "data/instances/aws-cpu.yaml holds GPU machine aws/g4dn.12xlarge in af-south-1, which belongs in aws.yaml",
		},
		{
			name: "imports among the CPU machines",
			edit: func(files fstest.MapFS) {
				gpu := string(files["data/instances/azure.yaml"].Data)
				imports := gpu[strings.Index(gpu, "imports:\n"):strings.Index(gpu, "instances:\n")]
				cpu := string(files["data/instances/azure-cpu.yaml"].Data)
				files["data/instances/azure-cpu.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(cpu, "instances:\n", imports+"instances:\n", 1))}
			},
			wantErr: "data/instances/azure-cpu.yaml holds an import (andy-diericks/azure-pricing-radar data/latest/vm-eu-west.json), which belongs in azure.yaml",
		},
		{
			name: "CPU machines without their provider's main file",
			edit: func(files fstest.MapFS) {
				delete(files, "data/instances/gcp.yaml")
			},
			wantErr: "data/instances/gcp-cpu.yaml holds CPU machines without their provider's data/instances/gcp.yaml",
		},
		{
			name: "a part the loader does not know",
			edit: func(files fstest.MapFS) {
				files["data/instances/gcp-tpu.yaml"] = files["data/instances/gcp-cpu.yaml"]
			},
			wantErr: `data/instances/gcp-tpu.yaml holds rows of an unknown part "tpu"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := embeddedCopy(t)
			tt.edit(files)
			_, err := Parse(files)
			require.Error(t, err)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestSplitRowsKeepTheImportOrder reads the current version from its split files (gcp-cpu.yaml
// sorts before gcp.yaml) and requires the rows in the import's order, by provider, name and
// region, so whatever walks the rows in order sees the same catalogue however it is split.
func TestSplitRowsKeepTheImportOrder(t *testing.T) {
	t.Parallel()
	c, err := Load()
	require.NoError(t, err)
	require.True(t, slices.IsSortedFunc(c.Instances, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Name, b.Name), cmp.Compare(a.PriceRegion, b.PriceRegion))
	}), "rows out of order")
	cpu := slices.IndexFunc(c.Instances, func(in Instance) bool { return in.Provider == "gcp" && !in.HasGPU() })
	gpu := slices.IndexFunc(c.Instances, func(in Instance) bool { return in.Provider == "gcp" && in.HasGPU() })
	require.Less(t, gpu, cpu, "GCP's a2- GPU machines come before its e2- CPU machines")
}
