package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing/fstest"

	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog/priceimport"
)

const catalogueUsage = `Usage:
  infra-mind catalogue import --from DIR [--catalogue DIR]
      read public price data (a folder with source.yaml and the files it names: SkyPilot vms.csv
      per cloud, Azure Retail Prices API pages, or the Google Cloud pricing calculator's pricing.yml),
      merge it with the curated rows and write the catalogue version source.yaml names
      (data/instances/<provider>.yaml and <provider>-cpu.yaml; the previous version's rows are kept in data/history)
  infra-mind catalogue diff A B [--json]
      show what changed between two catalogue versions: price moves per instance and region,
      added and removed instances
  infra-mind catalogue versions
      list the catalogue versions this build holds, with their instance, region and GPU counts
`

func runCatalogue(args []string, io IO) error {
	if len(args) == 0 {
		fmt.Fprint(io.Stderr, catalogueUsage)
		return usageError{errors.New("say what to do: import, diff or versions")}
	}
	switch args[0] {
	case "import":
		return runCatalogueImport(args[1:], io)
	case "diff":
		return runCatalogueDiff(args[1:], io)
	case "versions":
		return runCatalogueVersions(args[1:], io)
	case "-h", "--help", "help":
		fmt.Fprint(io.Stdout, catalogueUsage)
		return nil
	default:
		return usageError{fmt.Errorf("unknown catalogue command %q: use import, diff or versions", args[0])}
	}
}

// versionLine is catalog.yaml's version line; the import rewrites it and nothing else there
// except collected_on, so the file's comments stay.
var (
	versionLine   = regexp.MustCompile(`(?m)^version: ".*"$`)
	collectedLine = regexp.MustCompile(`(?m)^collected_on: ".*"$`)
)

func runCatalogueImport(args []string, io IO) error {
	fs := newFlagSet("catalogue import", io)
	from := fs.String("from", "", "price data folder: source.yaml and the price files it names")
	catDir := fs.String("catalogue", "pkg/advisor/catalog", "the catalogue package folder to write (data/, curated/, schema/)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" {
		return usageError{errors.New("--from is required")}
	}
	ref, err := catalog.ParseReference(os.DirFS(*catDir))
	if err != nil {
		return fmt.Errorf("read the catalogue's GPUs and regions: %w", err)
	}
	curatedPath := filepath.Join(*catDir, "curated", "instances.yaml")
	raw, err := os.ReadFile(curatedPath)
	if err != nil {
		return fmt.Errorf("read curated rows: %w", err)
	}
	var curated catalog.PriceTable
	if err := yaml.UnmarshalStrict(raw, &curated); err != nil {
		return fmt.Errorf("decode %s: %w", curatedPath, err)
	}
	res, err := priceimport.ImportFolder(os.DirFS(*from), ref, curated.Instances)
	if err != nil {
		return err
	}
	next, err := priceimport.MarshalTables(res.Table)
	if err != nil {
		return err
	}
	metaPath := filepath.Join(*catDir, "data", "catalog.yaml")
	meta, err := os.ReadFile(metaPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", metaPath, err)
	}
	if !versionLine.Match(meta) || !collectedLine.Match(meta) {
		return fmt.Errorf("%s has no version or collected_on line to update", metaPath)
	}
	meta = versionLine.ReplaceAll(meta, []byte(`version: "`+res.Table.Version+`"`))
	meta = collectedLine.ReplaceAll(meta, []byte(`collected_on: "`+latestRetrieved(res.Table)+`"`))

	// writes maps a path to its new content; nil removes the file (a provider no longer priced).
	curDir := filepath.Join(*catDir, "data", "instances")
	writes := map[string][]byte{metaPath: meta}
	for name, b := range next {
		writes[filepath.Join(curDir, name)] = b
	}
	old, err := filepath.Glob(filepath.Join(curDir, "*.yaml"))
	if err != nil {
		return fmt.Errorf("list %s: %w", curDir, err)
	}
	prevVersion := ""
	for _, p := range old {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		var prev catalog.PriceTable
		if err := yaml.Unmarshal(b, &prev); err != nil {
			return fmt.Errorf("decode %s: %w", p, err)
		}
		if prevVersion = prev.Version; prevVersion != "" && prevVersion != res.Table.Version {
			// The previous version's files move to the history as they are.
			writes[filepath.Join(*catDir, "data", "history", prevVersion, filepath.Base(p))] = b
		}
		if _, ok := next[filepath.Base(p)]; !ok {
			writes[p] = nil
		}
	}
	if prevVersion != "" && prevVersion != res.Table.Version {
		for _, kept := range []string{filepath.Join(*catDir, "data", "history", prevVersion), filepath.Join(*catDir, "data", "history", prevVersion+".yaml")} {
			if _, err := os.Stat(kept); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("version %s is in data/instances and already in the history (%s): set a new catalogue_version in source.yaml", prevVersion, kept)
			}
		}
	}
	// Load the result the way the binaries will before writing anything.
	if err := checkCatalogue(*catDir, writes); err != nil {
		return fmt.Errorf("the imported catalogue does not load: %w", err)
	}
	for _, p := range slices.Sorted(maps.Keys(writes)) {
		if writes[p] == nil {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove %s: %w", p, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, writes[p], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	w := io.Stdout
	c := countTable(res.Table)
	fmt.Fprintf(w, "catalogue %s: %d instance rows, %d instance types (%d of them CPU machines) in %d regions, %d GPU models\n",
		res.Table.Version, len(res.Table.Instances), c.types, c.cpuTypes, c.regions, c.gpus)
	for i, im := range res.Table.Imports {
		fmt.Fprintf(w, "  %s: %d rows from %s %s at %s\n", im.Provider, im.Instances, im.Repository, im.Path, im.Commit[:12])
		sk := res.Skipped[i]
		for _, reason := range slices.Sorted(maps.Keys(sk)) {
			fmt.Fprintf(w, "    skipped %d: %s\n", sk[reason], reason)
		}
	}
	for _, in := range res.Replaced {
		fmt.Fprintf(w, "  curated row replaced by imported data: %s %s in %s\n", in.Provider, in.Name, in.PriceRegion)
	}
	for _, in := range res.Carried {
		fmt.Fprintf(w, "  curated commitment prices kept on the imported row: %s %s in %s\n", in.Provider, in.Name, in.PriceRegion)
	}
	return nil
}

// latestRetrieved is the newest retrieval date of a version's imports.
func latestRetrieved(t catalog.PriceTable) string {
	d := ""
	for _, im := range t.Imports {
		d = max(d, im.Retrieved)
	}
	return d
}

// checkCatalogue parses the catalogue folder with the pending writes (nil: removals) applied.
func checkCatalogue(dir string, writes map[string][]byte) error {
	m := fstest.MapFS{}
	root := os.DirFS(dir)
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasPrefix(p, "data/") && !strings.HasPrefix(p, "schema/") {
			return nil
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		return err
	}
	for p, b := range writes {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if b == nil {
			delete(m, filepath.ToSlash(rel))
			continue
		}
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b}
	}
	if _, err := catalog.Parse(m); err != nil {
		return err
	}
	_, err = catalog.ParsePriceTables(m)
	return err
}

// tableCounts are a version's instance types (GPU and CPU machines), the provider regions they are
// priced in, and the GPU models of the GPU machines.
type tableCounts struct{ types, cpuTypes, regions, gpus int }

func countTable(t catalog.PriceTable) tableCounts {
	types, cpu, regions, gpus := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, in := range t.Instances {
		types[in.Provider+"/"+in.Name] = true
		regions[in.Provider+"/"+in.PriceRegion] = true
		if in.HasGPU() {
			gpus[in.GPU] = true
		} else {
			cpu[in.Provider+"/"+in.Name] = true
		}
	}
	return tableCounts{len(types), len(cpu), len(regions), len(gpus)}
}

func runCatalogueVersions(args []string, io IO) error {
	fs := newFlagSet("catalogue versions", io)
	if err := parse(fs, args); err != nil {
		return err
	}
	tables, err := catalog.PriceTables()
	if err != nil {
		return err
	}
	for _, t := range tables {
		c := countTable(t)
		src := "curated rows only"
		if len(t.Imports) > 0 {
			// One source may publish several files (one per region): name it once, with its file count.
			var parts []string
			files := map[string]int{}
			for _, im := range t.Imports {
				part := fmt.Sprintf("%s %s@%s retrieved %s", im.Provider, im.Repository, im.Commit[:12], im.Retrieved)
				if files[part] == 0 {
					parts = append(parts, part)
				}
				files[part]++
			}
			for i, part := range parts {
				if n := files[part]; n > 1 {
					parts[i] = fmt.Sprintf("%s (%d files)", part, n)
				}
			}
			src = strings.Join(parts, "; ")
		}
		fmt.Fprintf(io.Stdout, "%s: %d instance rows, %d instance types (%d CPU) in %d regions, %d GPU models (%s)\n", t.Version, len(t.Instances), c.types, c.cpuTypes, c.regions, c.gpus, src)
	}
	return nil
}

func runCatalogueDiff(args []string, io IO) error {
	fs := newFlagSet("catalogue diff", io)
	asJSON := fs.Bool("json", false, "print the diff as JSON")
	// Versions come first (catalogue diff A B --json), so flags are parsed after them.
	var versions []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		versions, args = append(versions, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(versions) != 2 {
		return usageError{errors.New("give two catalogue versions: catalogue diff A B (see catalogue versions)")}
	}
	tables, err := catalog.PriceTables()
	if err != nil {
		return err
	}
	var pick [2]catalog.PriceTable
	for i, v := range versions {
		t, ok := catalog.FindPriceTable(tables, v)
		if !ok {
			var have []string
			for _, t := range tables {
				have = append(have, t.Version)
			}
			return usageError{fmt.Errorf("no catalogue version %q (this build holds %s)", v, strings.Join(have, ", "))}
		}
		pick[i] = t
	}
	d := catalog.DiffPrices(pick[0], pick[1])
	if *asJSON {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return err
		}
		_, err := io.Stdout.Write(b.Bytes())
		return err
	}
	w := io.Stdout
	fmt.Fprintf(w, "catalogue %s -> %s: %d price moves, %d instance-region pairs added, %d removed, %d unchanged\n",
		d.From, d.To, len(d.Moved), len(d.Added), len(d.Removed), d.Unchanged)
	if len(d.Moved) > 0 {
		fmt.Fprintln(w, "price moves (on demand, USD per hour):")
		for _, m := range d.Moved {
			fmt.Fprintf(w, "  %s %s in %s: %g -> %g (%+.1f%%)", m.Provider, m.Name, m.Region, m.OnDemandFrom, m.OnDemandTo, m.Change*100)
			if m.SpotFrom != m.SpotTo {
				fmt.Fprintf(w, "; spot %g -> %g", m.SpotFrom, m.SpotTo)
			}
			fmt.Fprintln(w)
		}
	}
	for _, part := range []struct {
		title string
		rows  []catalog.PricedInstance
	}{{"added", d.Added}, {"removed", d.Removed}} {
		if len(part.rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", part.title)
		for _, p := range part.rows {
			fmt.Fprintf(w, "  %s %s in %s (%d x %s): %g/h\n", p.Provider, p.Name, p.Region, p.GPUCount, p.GPU, p.OnDemandHourly)
		}
	}
	return nil
}
