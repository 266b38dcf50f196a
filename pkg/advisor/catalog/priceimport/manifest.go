package priceimport

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// Manifest is a price data folder's source.yaml: where its files come from and which catalogue
// version an import of them writes.
type Manifest struct {
	Repository       string         `json:"repository"`
	Licence          string         `json:"licence"`
	Retrieved        string         `json:"retrieved"`
	CatalogueVersion string         `json:"catalogue_version"`
	Files            []ManifestFile `json:"files"`
}

// ManifestFile is one provider's price file in the folder.
type ManifestFile struct {
	Provider string `json:"provider"`
	// Format is skypilot-vms-csv (the default) or azure-retail-prices (Azure Retail Prices API pages).
	Format string `json:"format,omitempty"`
	// File is the path inside the folder; Path the path inside Repository.
	File   string `json:"file"`
	Path   string `json:"path"`
	Commit string `json:"commit"`
}

// digitsAt reports whether s has the given length and digits everywhere but at the listed byte
// positions, where it has the listed separator.
func digitsAt(s string, length int, seps map[int]byte) bool {
	if len(s) != length {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c, ok := seps[i]; ok {
			if s[i] != c {
				return false
			}
		} else if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isDate(s string) bool { return digitsAt(s, 10, map[int]byte{4: '-', 7: '-'}) }

// isVersion is YYYY-MM-DD.N.
func isVersion(s string) bool {
	d, n, ok := strings.Cut(s, ".")
	_, err := strconv.Atoi(n)
	return ok && isDate(d) && err == nil && !strings.HasPrefix(n, "-") && !strings.HasPrefix(n, "+")
}

// shortCommit is the first 12 characters of a commit id ("" when none is recorded).
func shortCommit(c string) string { return c[:min(12, len(c))] }

// isCommit is a full 40-hex git commit id.
func isCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Price file formats a manifest can name.
const (
	FormatSkyPilot    = "skypilot-vms-csv"
	FormatAzureRetail = "azure-retail-prices"
)

// ParseManifest decodes and checks source.yaml.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		return m, fmt.Errorf("%w: source.yaml: %w", ErrFormat, err)
	}
	var bad []string
	if m.Repository == "" || m.Licence == "" {
		bad = append(bad, "repository and licence are required")
	}
	if !isDate(m.Retrieved) {
		bad = append(bad, fmt.Sprintf("retrieved %q is not YYYY-MM-DD", m.Retrieved))
	}
	if !isVersion(m.CatalogueVersion) {
		bad = append(bad, fmt.Sprintf("catalogue_version %q is not YYYY-MM-DD.N", m.CatalogueVersion))
	}
	if len(m.Files) == 0 {
		bad = append(bad, "files is empty")
	}
	for i, f := range m.Files {
		if !slices.Contains([]string{"aws", "azure", "gcp"}, f.Provider) {
			bad = append(bad, fmt.Sprintf("files[%d].provider %q is not aws, azure or gcp", i, f.Provider))
		}
		if !slices.Contains([]string{"", FormatSkyPilot, FormatAzureRetail}, f.Format) {
			bad = append(bad, fmt.Sprintf("files[%d].format %q is not %s or %s", i, f.Format, FormatSkyPilot, FormatAzureRetail))
		}
		if f.File == "" || f.Path == "" {
			bad = append(bad, fmt.Sprintf("files[%d] needs file and path", i))
		}
		if !isCommit(f.Commit) {
			bad = append(bad, fmt.Sprintf("files[%d].commit %q is not a 40-hex commit id", i, f.Commit))
		}
	}
	if len(bad) > 0 {
		return m, fmt.Errorf("%w: source.yaml: %s", ErrFormat, strings.Join(bad, "; "))
	}
	return m, nil
}

// Imported is the outcome of importing a price data folder.
type Imported struct {
	Table catalog.PriceTable
	// Replaced are curated rows an imported row took the place of.
	Replaced []catalog.Instance
	// Carried are curated rows whose commitment prices an imported row took over (Merge).
	Carried []catalog.Instance
	// Skipped counts left-out rows by provider and reason.
	Skipped map[string]map[string]int
}

// ImportFolder reads a SkyPilot-format price folder (source.yaml and the vms.csv files it names),
// builds rows for every provider, checks them against ref's GPUs and regions and merges them
// with the curated rows into the catalogue version source.yaml names.
func ImportFolder(folder fs.FS, ref *catalog.Catalog, curated []catalog.Instance) (Imported, error) {
	raw, err := fs.ReadFile(folder, "source.yaml")
	if err != nil {
		return Imported{}, fmt.Errorf("read source.yaml: %w", err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return Imported{}, err
	}
	knownRegion := func(p, r string) bool { _, ok := ref.Region(p, r); return ok }
	knownGPU := func(id string) bool { _, ok := ref.GPU(id); return ok }
	out := Imported{Skipped: map[string]map[string]int{}}
	var all []catalog.Instance
	var imports []catalog.Import
	for _, f := range m.Files {
		data, err := fs.ReadFile(folder, f.File)
		if err != nil {
			return Imported{}, fmt.Errorf("read %s: %w", f.File, err)
		}
		var rows []Row
		readSkipped := map[string]int{}
		switch f.Format {
		case FormatAzureRetail:
			rows, readSkipped, err = ReadAzureRetailPrices(data)
		default:
			rows, err = ReadSkyPilotVMs(data)
		}
		if err != nil {
			return Imported{}, fmt.Errorf("%s: %w", f.File, err)
		}
		src := fmt.Sprintf("%s %s at commit %s (%s), retrieved %s; spot is the highest zone's price in the region", m.Repository, f.Path, shortCommit(f.Commit), m.Licence, m.Retrieved)
		if f.Format == FormatAzureRetail {
			src = fmt.Sprintf("Azure Retail Prices API (prices.azure.com/api/retail/prices) response %s, retrieved %s; Linux pay-as-you-go and Spot meters, USD per hour", f.Path, m.Retrieved)
		}
		if f.Provider == "gcp" {
			src += "; host and attached GPUs summed (GCP prices them apart; GPU count per machine type from Google Cloud's GPU machine types documentation)"
		}
		res, err := Build(rows, Options{Provider: f.Provider, KnownRegion: knownRegion, KnownGPU: knownGPU, Source: src, AsOf: m.Retrieved})
		if err != nil {
			return Imported{}, err
		}
		for why, n := range readSkipped {
			res.Skipped[why] += n
		}
		out.Skipped[f.Provider] = res.Skipped
		all = append(all, res.Instances...)
		imports = append(imports, catalog.Import{Provider: f.Provider, Repository: m.Repository, Path: f.Path, Commit: f.Commit,
			Licence: m.Licence, Retrieved: m.Retrieved, Instances: len(res.Instances)})
	}
	rows, replaced, carried := Merge(curated, all)
	out.Table = catalog.PriceTable{Version: m.CatalogueVersion, Imports: imports, Instances: rows}
	out.Replaced, out.Carried = replaced, carried
	return out, nil
}
