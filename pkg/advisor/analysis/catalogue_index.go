package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// catalogueIndex is one catalogue as the families beside the plan look it
// up, worked out once when the analyzer is made. Those families run at the
// same moment as the cloud family, on the same cores, and scanning every
// instance row for each provider, GPU class and price group (2,143 rows in
// catalogue 2026-12-06.8) cost them more than their analysis. The catalogue
// is read-only once loaded, so nothing here changes after newCatalogueIndex
// and analyses share it; its slices are only read.
type catalogueIndex struct {
	*catalog.Catalog
	// providers are the providers with instance rows, sorted.
	providers []string
	// rows are each provider's instance rows in catalog.InstancesOf's order.
	rows map[string][]catalog.Instance
	// gpuIndex maps a GPU id to its position in GPUs.
	gpuIndex map[string]int
	// gpuRows are each provider's rows whose GPU the catalogue lists, in
	// the order of rows.
	gpuRows map[string][]gpuRow
	// classes are each provider's GPU ids in the order its rows first name
	// them, and the rows of each.
	classes     map[string][]string
	classRowsOf map[providerClass]*classRows
	// residencyRows are each provider's GPU rows as the residency check
	// names them ("name in region"), in the order of rows.
	residencyRows map[string][]residencyRow
	// priceGroups are each provider's instance price groups and, under
	// hostedGroupsKey, the hosted APIs', with their ages worked out.
	priceGroups map[string][]agedPriceGroup
	// collectedErr is why the catalogue's collection date cannot be read,
	// nil when it can.
	collectedErr error
	// oldestPrice is each provider's oldest instance price, for the
	// strategy family's price-age risk.
	oldestPrice map[string]oldestPriceRow
}

// hostedGroupsKey keys the hosted APIs' price groups; no provider of
// instance rows is named with a space.
const hostedGroupsKey = "hosted api"

// gpuRow is an instance row with a GPU the catalogue lists.
type gpuRow struct {
	in  *catalog.Instance
	gpu int // position in GPUs
}

// providerClass is a provider and a GPU id.
type providerClass struct {
	provider, gpu string
}

// classRows are one provider's rows of one GPU class.
type classRows struct {
	// rows are in catalog.InstancesOf's order.
	rows []*catalog.Instance
	// maxGPUs is the largest GPU count among the rows.
	maxGPUs int
	// priceRegions are "provider region" for each price region of the rows,
	// once each, in the order of rows.
	priceRegions []string
	// regions are the catalogue regions the rows are priced in, once each.
	regions []catalog.Region
}

// residencyRow is a GPU row's price region and its "name in region".
type residencyRow struct {
	region, label string
}

// oldestPriceRow is a provider's oldest instance price at collection: the
// first row in catalogue order with the largest non-negative age.
type oldestPriceRow struct {
	days int
	pos  int // position in Instances
	text string
}

// newCatalogueIndex indexes c.
func newCatalogueIndex(c *catalog.Catalog) *catalogueIndex {
	x := &catalogueIndex{
		Catalog:       c,
		rows:          map[string][]catalog.Instance{},
		gpuIndex:      make(map[string]int, len(c.GPUs)),
		gpuRows:       map[string][]gpuRow{},
		classes:       map[string][]string{},
		classRowsOf:   map[providerClass]*classRows{},
		residencyRows: map[string][]residencyRow{},
		priceGroups:   map[string][]agedPriceGroup{},
		oldestPrice:   map[string]oldestPriceRow{},
	}
	for i, g := range c.GPUs {
		if _, dup := x.gpuIndex[g.ID]; !dup {
			x.gpuIndex[g.ID] = i
		}
	}
	for _, in := range c.Instances {
		if !slices.Contains(x.providers, in.Provider) {
			x.providers = append(x.providers, in.Provider)
		}
	}
	slices.Sort(x.providers)

	collected, err := time.Parse(time.DateOnly, c.CollectedOn)
	x.collectedErr = err
	for _, p := range x.providers {
		rows := c.InstancesOf(p)
		x.rows[p] = rows
		var groups []priceGroup
		for i := range rows {
			in := &rows[i]
			groups = addToPriceGroup(groups, "instances", p, in.Name, in.Source)
			if gi, ok := x.gpuIndex[in.GPU]; ok {
				x.gpuRows[p] = append(x.gpuRows[p], gpuRow{in: in, gpu: gi})
			}
			if in.HasGPU() {
				x.residencyRows[p] = append(x.residencyRows[p], residencyRow{region: in.PriceRegion, label: in.Name + " in " + in.PriceRegion})
			}
			x.addClassRow(p, in)
		}
		x.priceGroups[p] = agePriceGroups(groups, collected, err, c.CollectedOn)
	}
	var hosted []priceGroup
	for _, h := range c.HostedAPIs {
		hosted = addToPriceGroup(hosted, "hosted_api", h.Provider, h.Model, h.Source)
	}
	x.priceGroups[hostedGroupsKey] = agePriceGroups(hosted, collected, err, c.CollectedOn)

	if err == nil {
		for pos, in := range c.Instances {
			asOf, err := time.Parse(time.DateOnly, in.AsOf)
			if err != nil {
				if asOf, err = time.Parse("2006-01", in.AsOf); err != nil {
					continue
				}
			}
			cur, ok := x.oldestPrice[in.Provider]
			if !ok {
				cur.days = -1
			}
			if d := int(collected.Sub(asOf).Hours() / 24); d > cur.days {
				x.oldestPrice[in.Provider] = oldestPriceRow{days: d, pos: pos,
					text: fmt.Sprintf("%s %s (%s, as of %s)", in.Provider, in.Name, in.Source.Source, in.AsOf)}
			}
		}
	}
	return x
}

// addClassRow files a row under its provider and GPU class.
func (x *catalogueIndex) addClassRow(p string, in *catalog.Instance) {
	if !in.HasGPU() {
		return
	}
	k := providerClass{p, in.GPU}
	cr, ok := x.classRowsOf[k]
	if !ok {
		cr = &classRows{}
		x.classRowsOf[k] = cr
		x.classes[p] = append(x.classes[p], in.GPU)
	}
	cr.rows = append(cr.rows, in)
	cr.maxGPUs = max(cr.maxGPUs, in.GPUCount)
	cr.priceRegions = appendUnique(cr.priceRegions, p+" "+in.PriceRegion)
	if r, ok := x.Catalog.Region(in.Provider, in.PriceRegion); ok && !slices.Contains(cr.regions, r) {
		cr.regions = append(cr.regions, r)
	}
}

// rowsOf returns a provider's instance rows sorted as catalog.InstancesOf
// sorts them, shared: callers only read them.
func (x *catalogueIndex) rowsOf(provider string) []catalog.Instance {
	return x.rows[provider]
}

// classOf returns a provider's rows of one GPU class; none is an empty set.
func (x *catalogueIndex) classOf(provider, gpu string) *classRows {
	if cr, ok := x.classRowsOf[providerClass{provider, gpu}]; ok {
		return cr
	}
	return &classRows{}
}

// GPU returns the GPU with the given id, as catalog.Catalog.GPU does,
// without scanning.
func (x *catalogueIndex) GPU(id string) (catalog.GPU, bool) {
	if i, ok := x.gpuIndex[id]; ok {
		return x.GPUs[i], true
	}
	return catalog.GPU{}, false
}

// oldestPriceIn returns the oldest instance price among the providers in
// scope: the largest age, and the first such row in catalogue order.
func (x *catalogueIndex) oldestPriceIn(scope []string) (oldestPriceRow, bool) {
	best, found := oldestPriceRow{}, false
	for _, p := range scope {
		o, ok := x.oldestPrice[p]
		if ok && (!found || o.days > best.days || (o.days == best.days && o.pos < best.pos)) {
			best, found = o, true
		}
	}
	return best, found
}

// addToPriceGroup adds a row to the group of its kind, provider and source,
// or starts one; groups keep the order they were first seen in.
func addToPriceGroup(groups []priceGroup, kind, provider, row string, src catalog.Source) []priceGroup {
	for i := range groups {
		g := &groups[i]
		if g.kind == kind && g.provider == provider && g.src == src {
			g.rows = append(g.rows, row)
			return groups
		}
	}
	return append(groups, priceGroup{kind: kind, provider: provider, src: src, rows: []string{row}})
}

// labelOf names a price group in findings and formulas. A machine type
// priced in several regions is one price row per region; it is named once,
// with the count of prices, so a group of hundreds of rows reads as the
// few dozen types it holds.
func labelOf(g priceGroup) string {
	kind := strings.ReplaceAll(g.kind, "_", " ")
	names := make([]string, 0, len(g.rows))
	seen := make(map[string]bool, len(g.rows))
	for _, r := range g.rows {
		if !seen[r] {
			seen[r] = true
			names = append(names, r)
		}
	}
	if len(names) == len(g.rows) {
		return fmt.Sprintf("%s %s (%s)", g.provider, kind, strings.Join(names, ", "))
	}
	return fmt.Sprintf("%s %s (%d prices of %d types: %s)", g.provider, kind, len(g.rows), len(names), strings.Join(names, ", "))
}
