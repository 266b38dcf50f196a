package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Import records public price data a catalogue version's instance rows came from.
type Import struct {
	Provider   string `json:"provider"`
	Repository string `json:"repository"`
	// Path is the file inside Repository, e.g. catalogs/v8/aws/vms.csv.
	Path   string `json:"path"`
	Commit string `json:"commit"`
	// Licence is the data's licence, e.g. Apache-2.0.
	Licence string `json:"licence"`
	// Retrieved is the date the file was read (YYYY-MM-DD).
	Retrieved string `json:"retrieved"`
	// Instances counts the rows this file contributed.
	Instances int `json:"instances"`
}

// PriceTable is one catalogue version's instance rows: the current one (data/instances, one file
// per provider) or an earlier one kept in data/history, so price moves can be traced.
type PriceTable struct {
	Version   string     `json:"version"`
	Imports   []Import   `json:"imports,omitempty"`
	Instances []Instance `json:"instances"`
}

const (
	// instancesDir holds the current version's instance rows, two files per provider
	// (<provider>.yaml with the imports and GPU machines, <provider>-cpu.yaml with the CPU
	// machines; readInstanceFiles): one file for every cloud, or for GCP alone, would outgrow the
	// repository's 1 MB limit for a tracked file.
	instancesDir = "data/instances"
	// historyDir holds earlier versions' instance rows: a folder per version with the files it was
	// written as (one per provider up to 2026-12-06.6, then split as in instancesDir), or, for the
	// versions written before the rows were split per provider, one file per version.
	historyDir = "data/history"
)

// PriceTables returns every catalogue version's instance rows held in the embedded files, oldest
// first: the history and the current version.
func PriceTables() ([]PriceTable, error) {
	return ParsePriceTables(dataFS)
}

// ParsePriceTables is PriceTables over any file system with the catalogue layout.
func ParsePriceTables(files fs.FS) ([]PriceTable, error) {
	schemas, err := compileSchemas(files)
	if err != nil {
		return nil, err
	}
	sch := schemas["instancesFile"]
	var out []PriceTable
	entries, err := fs.ReadDir(files, historyDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list catalogue history: %w", err)
	}
	for _, e := range entries {
		n := path.Join(historyDir, e.Name())
		want := e.Name()
		var t PriceTable
		switch {
		case e.IsDir():
			if t, err = readInstanceFiles(files, n, sch); err != nil {
				return nil, err
			}
		case path.Ext(want) == ".yaml":
			want = strings.TrimSuffix(want, ".yaml")
			if err := decodeFile(files, dataFile{name: strings.TrimPrefix(n, "data/"), def: "instancesFile"}, sch, &t); err != nil {
				return nil, err
			}
		default:
			continue
		}
		if t.Version != want {
			return nil, fmt.Errorf("%w: %s holds version %q", ErrInvalid, n, t.Version)
		}
		out = append(out, t)
	}
	cur, err := readInstanceFiles(files, instancesDir, sch)
	if err != nil {
		return nil, err
	}
	out = append(out, cur)
	slices.SortFunc(out, func(a, b PriceTable) int { return CompareVersions(a.Version, b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("%w: version %s is held twice (history and current)", ErrInvalid, out[i].Version)
		}
	}
	return out, nil
}

// cpuPart is the suffix of the file that holds a provider's CPU machines apart from its main file
// (<provider>-cpu.yaml): one file per provider would outgrow the repository's 1 MB limit for a
// tracked file once GCP's GPU and CPU rows in every region share it.
const cpuPart = "-cpu"

// readInstanceFiles reads one version's instance rows from a folder of per-provider files, each
// validated against the instances schema: <provider>.yaml holds the provider's imports and its GPU
// machines (and, in versions written before the split, its CPU machines too), <provider>-cpu.yaml
// the general-purpose CPU machines. It joins them and sorts the rows by provider, name and price
// region, as the import writes them. Every file must hold the same version and only rows and
// imports of the provider it is named after; a -cpu file holds only CPU machines and no imports,
// and needs its provider's main file.
func readInstanceFiles(files fs.FS, dir string, sch *jsonschema.Schema) (PriceTable, error) {
	names, err := fs.Glob(files, dir+"/*.yaml")
	if err != nil {
		return PriceTable{}, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(names) == 0 {
		return PriceTable{}, fmt.Errorf("read catalogue instance rows: no <provider>.yaml file in %s", dir)
	}
	var out PriceTable
	mains := map[string]bool{}
	for _, n := range names {
		if base := strings.TrimSuffix(path.Base(n), ".yaml"); !strings.Contains(base, "-") {
			mains[base] = true
		}
	}
	for i, n := range names {
		var t PriceTable
		if err := decodeFile(files, dataFile{name: strings.TrimPrefix(n, "data/"), def: "instancesFile"}, sch, &t); err != nil {
			return PriceTable{}, err
		}
		base := strings.TrimSuffix(path.Base(n), ".yaml")
		provider, part, split := strings.Cut(base, "-")
		var bad []string
		switch {
		case split && "-"+part != cpuPart:
			bad = append(bad, fmt.Sprintf("rows of an unknown part %q (a provider's rows are in <provider>.yaml and <provider>%s.yaml)", part, cpuPart))
		case split && !mains[provider]:
			bad = append(bad, fmt.Sprintf("CPU machines without their provider's %s/%s.yaml", dir, provider))
		}
		if i > 0 && t.Version != out.Version {
			bad = append(bad, fmt.Sprintf("version %q, not %s's %q", t.Version, names[0], out.Version))
		}
		for _, im := range t.Imports {
			if im.Provider != provider {
				bad = append(bad, fmt.Sprintf("an import of provider %s", im.Provider))
			}
			if split {
				bad = append(bad, fmt.Sprintf("an import (%s %s), which belongs in %s.yaml", im.Repository, im.Path, provider))
			}
		}
		for _, in := range t.Instances {
			if in.Provider != provider {
				bad = append(bad, fmt.Sprintf("instance %s/%s in %s", in.Provider, in.Name, in.PriceRegion))
			}
			if split && in.HasGPU() {
				bad = append(bad, fmt.Sprintf("GPU machine %s/%s in %s, which belongs in %s.yaml", in.Provider, in.Name, in.PriceRegion, provider))
			}
		}
		if len(bad) > 0 {
			return PriceTable{}, fmt.Errorf("%w: %s holds %s", ErrInvalid, n, strings.Join(bad, ", "))
		}
		out.Version = t.Version
		out.Imports = append(out.Imports, t.Imports...)
		out.Instances = append(out.Instances, t.Instances...)
	}
	// File name order puts gcp-cpu.yaml before gcp.yaml; the rows keep the import's order.
	slices.SortStableFunc(out.Instances, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Name, b.Name), cmp.Compare(a.PriceRegion, b.PriceRegion))
	})
	return out, nil
}

// CompareVersions orders catalogue versions (YYYY-MM-DD.N) by date, then by counter as a number.
func CompareVersions(a, b string) int {
	da, na, _ := strings.Cut(a, ".")
	db, nb, _ := strings.Cut(b, ".")
	ia, _ := strconv.Atoi(na)
	ib, _ := strconv.Atoi(nb)
	return cmp.Or(cmp.Compare(da, db), cmp.Compare(ia, ib), cmp.Compare(a, b))
}

// FindPriceTable returns one version's instance rows.
func FindPriceTable(tables []PriceTable, version string) (PriceTable, bool) {
	for _, t := range tables {
		if t.Version == version {
			return t, true
		}
	}
	return PriceTable{}, false
}

// PriceMove is one instance type in one region whose price differs between two versions.
type PriceMove struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	Region   string `json:"region"`
	// OnDemandFrom and OnDemandTo are USD per hour; SpotFrom and SpotTo 0 when not published.
	OnDemandFrom float64 `json:"on_demand_hourly_from"`
	OnDemandTo   float64 `json:"on_demand_hourly_to"`
	SpotFrom     float64 `json:"spot_hourly_from,omitempty"`
	SpotTo       float64 `json:"spot_hourly_to,omitempty"`
	// Change is (OnDemandTo - OnDemandFrom) / OnDemandFrom.
	Change float64 `json:"on_demand_change"`
}

// PricedInstance names one instance type priced in one region.
type PricedInstance struct {
	Provider       string  `json:"provider"`
	Name           string  `json:"name"`
	Region         string  `json:"region"`
	GPU            string  `json:"gpu"`
	GPUCount       int     `json:"gpu_count"`
	OnDemandHourly float64 `json:"on_demand_hourly"`
}

// PriceDiff is what changed in the instance rows from one version to another.
type PriceDiff struct {
	From  string      `json:"from"`
	To    string      `json:"to"`
	Moved []PriceMove `json:"moved"`
	// Added and Removed are instance-region pairs priced in only one of the two versions.
	Added   []PricedInstance `json:"added"`
	Removed []PricedInstance `json:"removed"`
	// Unchanged counts instance-region pairs priced the same in both.
	Unchanged int `json:"unchanged"`
}

// DiffPrices compares two versions' rows by provider, instance and region. Lists are sorted by
// provider, name, region.
func DiffPrices(a, b PriceTable) PriceDiff {
	type k struct{ p, n, r string }
	index := func(t PriceTable) map[k]Instance {
		m := make(map[k]Instance, len(t.Instances))
		for _, in := range t.Instances {
			m[k{in.Provider, in.Name, in.PriceRegion}] = in
		}
		return m
	}
	ia, ib := index(a), index(b)
	d := PriceDiff{From: a.Version, To: b.Version, Moved: []PriceMove{}, Added: []PricedInstance{}, Removed: []PricedInstance{}}
	priced := func(in Instance) PricedInstance {
		return PricedInstance{Provider: in.Provider, Name: in.Name, Region: in.PriceRegion, GPU: in.GPU, GPUCount: in.GPUCount, OnDemandHourly: in.OnDemandHourly}
	}
	for key, x := range ia {
		y, ok := ib[key]
		switch {
		case !ok:
			d.Removed = append(d.Removed, priced(x))
		case x.OnDemandHourly != y.OnDemandHourly || x.SpotHourly != y.SpotHourly:
			d.Moved = append(d.Moved, PriceMove{Provider: key.p, Name: key.n, Region: key.r,
				OnDemandFrom: x.OnDemandHourly, OnDemandTo: y.OnDemandHourly, SpotFrom: x.SpotHourly, SpotTo: y.SpotHourly,
				Change: (y.OnDemandHourly - x.OnDemandHourly) / x.OnDemandHourly})
		default:
			d.Unchanged++
		}
	}
	for key, y := range ib {
		if _, ok := ia[key]; !ok {
			d.Added = append(d.Added, priced(y))
		}
	}
	byKey := func(p1, n1, r1, p2, n2, r2 string) int {
		return cmp.Or(cmp.Compare(p1, p2), cmp.Compare(n1, n2), cmp.Compare(r1, r2))
	}
	slices.SortFunc(d.Moved, func(x, y PriceMove) int { return byKey(x.Provider, x.Name, x.Region, y.Provider, y.Name, y.Region) })
	sortPriced := func(s []PricedInstance) {
		slices.SortFunc(s, func(x, y PricedInstance) int {
			return byKey(x.Provider, x.Name, x.Region, y.Provider, y.Name, y.Region)
		})
	}
	sortPriced(d.Added)
	sortPriced(d.Removed)
	return d
}
