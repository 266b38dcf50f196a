package catalog

import (
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
	require.ErrorContains(t, err, "instances.yaml is version "+cur.Version+" but catalog.yaml says 2099-01-01.1")
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
