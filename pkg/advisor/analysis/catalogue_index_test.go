package analysis

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// indexTestCatalogue is a small catalogue with what the index must keep
// apart: rows out of order, a CPU row, two providers sharing a source and a
// date, month-only, future and unreadable as-of dates, and two providers
// whose oldest prices are equally old (the one first in catalogue order is
// the one named).
func indexTestCatalogue() *catalog.Catalog {
	src := func(s, asOf string) catalog.Source { return catalog.Source{Source: s, AsOf: asOf} }
	return &catalog.Catalog{
		Version:     "test",
		CollectedOn: "2026-12-06",
		GPUs:        []catalog.GPU{{ID: "h100", Name: "H100"}, {ID: "a10", Name: "A10"}},
		Regions: []catalog.Region{
			{Provider: "gcp", ID: "us-central1", Jurisdiction: "us", Country: "us"},
			{Provider: "gcp", ID: "europe-west4", Jurisdiction: "eu", Country: "nl"},
			{Provider: "aws", ID: "us-east-1", Jurisdiction: "us", Country: "us"},
		},
		Instances: []catalog.Instance{
			{Provider: "gcp", Name: "a3-highgpu-8g", GPU: "h100", GPUCount: 8, PriceRegion: "us-central1", Source: src("old list", "2025-01-01")},
			{Provider: "aws", Name: "p5.48xlarge", GPU: "h100", GPUCount: 8, PriceRegion: "us-east-1", Source: src("old list", "2025-01-01")},
			{Provider: "gcp", Name: "a3-highgpu-1g", GPU: "h100", GPUCount: 1, PriceRegion: "europe-west4", Source: src("page", "2026-11")},
			{Provider: "aws", Name: "m7i.large", PriceRegion: "us-east-1", Source: src("page", "2026-11")},
			{Provider: "gcp", Name: "a3-highgpu-1g", GPU: "h100", GPUCount: 1, PriceRegion: "us-central1", Source: src("page", "2026-11")},
			{Provider: "aws", Name: "g5.xlarge", GPU: "a10", GPUCount: 1, PriceRegion: "us-east-1", Source: src("sheet", "late 2026")},
			{Provider: "azure", Name: "nc-a10", GPU: "a10", GPUCount: 1, PriceRegion: "eastus", Source: src("api", "2027-01")},
			{Provider: "gcp", Name: "g2-standard-4", GPU: "a10", GPUCount: 0, PriceRegion: "us-central1", Source: src("page", "2026-11")},
		},
		HostedAPIs: []catalog.HostedAPI{
			{Provider: "openai", Model: "a", Source: src("prices", "2026-05")},
			{Provider: "openai", Model: "b", Source: src("prices", "2026-05")},
			{Provider: "anthropic", Model: "c", Source: src("prices", "bad")},
			{Provider: "mistral", Model: "d", Source: src("list", "2026-06")},
		},
	}
}

// scopes lists every order of every non-empty subset of providers.
func scopes(providers []string) [][]string {
	var out [][]string
	var walk func(prefix []string)
	walk = func(prefix []string) {
		if len(prefix) > 0 {
			out = append(out, slices.Clone(prefix))
		}
		for _, p := range providers {
			if !slices.Contains(prefix, p) {
				walk(append(prefix, p))
			}
		}
	}
	walk(nil)
	return out
}

// TestCatalogueIndexAnswersAsTheCatalogueScans holds every lookup of the
// index to a scan of the catalogue's rows written the plain way.
func TestCatalogueIndexAnswersAsTheCatalogueScans(t *testing.T) {
	t.Parallel()
	embedded, err := catalog.Load()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		cat  *catalog.Catalog
	}{
		{"embedded catalogue", embedded},
		{"small catalogue with odd dates", indexTestCatalogue()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.cat
			x := newCatalogueIndex(c)

			var providers []string
			for _, in := range c.Instances {
				providers = appendUnique(providers, in.Provider)
			}
			slices.Sort(providers)
			require.Equal(t, providers, x.providers)

			for _, p := range providers {
				rows := c.InstancesOf(p)
				require.Equal(t, rows, x.rowsOf(p), "rows of %s", p)
				var gpuRows []string
				for _, in := range rows {
					if _, ok := c.GPU(in.GPU); ok {
						gpuRows = append(gpuRows, in.Name+" in "+in.PriceRegion)
					}
				}
				var indexed []string
				for _, r := range x.gpuRows[p] {
					require.Equal(t, r.in.GPU, c.GPUs[r.gpu].ID)
					indexed = append(indexed, r.in.Name+" in "+r.in.PriceRegion)
				}
				require.Equal(t, gpuRows, indexed, "GPU rows of %s", p)

				for _, g := range append(slices.Clone(c.GPUs), catalog.GPU{ID: "unknown"}) {
					var want []*catalog.Instance
					maxGPUs := 0
					var priceRegions []string
					var regions []catalog.Region
					for i := range rows {
						if rows[i].GPU != g.ID {
							continue
						}
						want = append(want, &rows[i])
						maxGPUs = max(maxGPUs, rows[i].GPUCount)
						priceRegions = appendUnique(priceRegions, p+" "+rows[i].PriceRegion)
						if r, ok := c.Region(p, rows[i].PriceRegion); ok && !slices.Contains(regions, r) {
							regions = append(regions, r)
						}
					}
					got := x.classOf(p, g.ID)
					require.Len(t, got.rows, len(want), "rows of %s %s", p, g.ID)
					for i := range want {
						require.Equal(t, *want[i], *got.rows[i], "row %d of %s %s", i, p, g.ID)
					}
					require.Equal(t, maxGPUs, got.maxGPUs, "%s %s", p, g.ID)
					require.Equal(t, priceRegions, got.priceRegions, "%s %s", p, g.ID)
					require.Equal(t, regions, got.regions, "%s %s", p, g.ID)
				}
			}

			for _, g := range c.GPUs {
				got, ok := x.GPU(g.ID)
				want, wantOK := c.GPU(g.ID)
				require.Equal(t, wantOK, ok)
				require.Equal(t, want, got)
			}
			_, ok := x.GPU("unknown")
			require.False(t, ok)

			for _, scope := range scopes(providers) {
				wantDays, wantRow := oldestPriceScan(t, c, scope)
				got, ok := x.oldestPriceIn(scope)
				require.Equal(t, wantDays >= 0, ok, "scope %v", scope)
				if ok {
					require.Equal(t, wantDays, got.days, "scope %v", scope)
					require.Equal(t, wantRow, got.text, "scope %v", scope)
				}
				for _, hosted := range []bool{false, true} {
					want := priceGroupsScan(c, scope, hosted)
					var groups []priceGroup
					for _, g := range priceGroups(x, scope, hosted) {
						groups = append(groups, g.priceGroup)
					}
					require.Equal(t, want, groups, "scope %v, hosted %v", scope, hosted)
				}
			}
		})
	}
}

// oldestPriceScan is the oldest instance price in scope, scanned: the first
// row in catalogue order with the largest age; -1 when no row has an age.
func oldestPriceScan(t *testing.T, c *catalog.Catalog, scope []string) (int, string) {
	t.Helper()
	collected, err := time.Parse(time.DateOnly, c.CollectedOn)
	require.NoError(t, err)
	oldest, row := -1, ""
	for _, in := range c.Instances {
		if !slices.Contains(scope, in.Provider) {
			continue
		}
		asOf, err := parseAsOf(in.AsOf)
		if err != nil {
			continue
		}
		if d := daysBetween(asOf.first, collected); d > oldest {
			oldest, row = d, fmt.Sprintf("%s %s (%s, as of %s)", in.Provider, in.Name, in.Source.Source, in.AsOf)
		}
	}
	return oldest, row
}

// priceGroupsScan groups the price rows in scope, scanned: every provider's
// rows in catalog.InstancesOf's order, then the hosted APIs when asked.
func priceGroupsScan(c *catalog.Catalog, scope []string, hosted bool) []priceGroup {
	var groups []priceGroup
	for _, p := range scope {
		for _, in := range c.InstancesOf(p) {
			groups = addToPriceGroup(groups, "instances", p, in.Name, in.Source)
		}
	}
	if hosted {
		for _, h := range c.HostedAPIs {
			groups = addToPriceGroup(groups, "hosted_api", h.Provider, h.Model, h.Source)
		}
	}
	return groups
}

// TestResearchFreshnessOfOddDates checks the ages the index works out
// once: month-only, future and unreadable dates, counted per row.
func TestResearchFreshnessOfOddDates(t *testing.T) {
	t.Parallel()
	x := newCatalogueIndex(indexTestCatalogue())
	res := researchFreshness(x, []string{"gcp", "aws", "azure"}, true)
	// Rows: gcp 4, aws 3, azure 1, hosted 4; "late 2026" and "bad" have no age.
	require.Equal(t, 12, res.rows)
	// gcp and aws "2025-01-01": 704 days; openai "2026-05": 189 to 219; not
	// mistral "2026-06", 159 to 188 days, which may be younger than 180.
	require.Equal(t, 2+2, res.stale)
	// gcp "2026-11" 3 rows, aws "2026-11" 1 row, azure "2027-01" 1 row, hosted "2026-05" 2 rows, "2026-06" 1.
	require.Equal(t, 8, res.monthOnly)
	// azure "2027-01" is 26 to 56 days after collection: the youngest age is its last day's.
	require.Equal(t, -56, res.minAge)
	require.Equal(t, 704, res.maxAge)
	titles := map[string]bool{}
	for _, f := range res.findings {
		titles[f.GetTitle()] = true
	}
	require.True(t, titles["Price without a readable date: aws instances (g5.xlarge)"], "%v", titles)
	require.True(t, titles["Price without a readable date: anthropic hosted api (c)"], "%v", titles)
	require.True(t, titles["Price dated after the catalogue's collection: azure instances (nc-a10)"], "%v", titles)
	require.True(t, titles["Month-only date (2026-11): gcp instances (3 prices of 2 types: a3-highgpu-1g, g2-standard-4)"], "%v", titles)
	require.True(t, titles["Prices 704 days old: aws instances (p5.48xlarge)"], "%v", titles)
	require.True(t, titles["Prices may be stale (159-188 days old): mistral hosted api (d)"], "%v", titles)

	x.collectedErr = fmt.Errorf("unreadable")
	res = researchFreshness(x, []string{"gcp"}, false)
	require.Len(t, res.findings, 1)
	require.Equal(t, "Catalogue collection date unreadable", res.findings[0].GetTitle())
}
