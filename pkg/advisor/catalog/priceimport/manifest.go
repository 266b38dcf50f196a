package priceimport

import (
	"cmp"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// Manifest is a price data folder's source.yaml: where its files come from and which catalogue
// version an import of them writes. Repository, Licence and Retrieved are the defaults of every
// file; a file from another repository names its own.
type Manifest struct {
	Repository       string         `json:"repository,omitempty"`
	Licence          string         `json:"licence,omitempty"`
	Retrieved        string         `json:"retrieved,omitempty"`
	CatalogueVersion string         `json:"catalogue_version"`
	Files            []ManifestFile `json:"files"`
}

// ManifestFile is one provider's price file in the folder. When two files price the same
// instance type in the same region, the one listed first wins and a later one only adds the
// commitment prices the first lacks (Merge); a later file's other rows are added.
type ManifestFile struct {
	Provider string `json:"provider"`
	// Format is skypilot-vms-csv (the default), azure-retail-prices (Azure Retail Prices API pages),
	// azure-retail-prices-snapshot (one region's Retail Prices meters as andy-diericks/azure-pricing-radar
	// commits them) or gcp-pricing-calculator-yml (Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml).
	Format string `json:"format,omitempty"`
	// File is the path inside the folder; Path the path inside Repository.
	File   string `json:"file"`
	Path   string `json:"path"`
	Commit string `json:"commit"`
	// Repository, Licence and Retrieved override the manifest's defaults.
	Repository string `json:"repository,omitempty"`
	Licence    string `json:"licence,omitempty"`
	Retrieved  string `json:"retrieved,omitempty"`
	// Published is the date the source published these prices (its generation stamp or commit
	// date), YYYY-MM-DD, when it is older than the retrieval: rows then carry it as their as-of
	// date, so the catalogue's freshness checks see how old the prices are.
	Published string `json:"published,omitempty"`
}

// resolved fills the file's repository, licence and retrieval date from the manifest's defaults.
func (m Manifest) resolved(f ManifestFile) ManifestFile {
	f.Repository = cmp.Or(f.Repository, m.Repository)
	f.Licence = cmp.Or(f.Licence, m.Licence)
	f.Retrieved = cmp.Or(f.Retrieved, m.Retrieved)
	return f
}

// asOf is the date a file's rows carry: when the prices were published, else when they were read.
func (f ManifestFile) asOf() string { return cmp.Or(f.Published, f.Retrieved) }

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
	FormatAzureSnap   = "azure-retail-prices-snapshot"
	FormatGCPCalc     = "gcp-pricing-calculator-yml"
)

// ParseManifest decodes and checks source.yaml.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		return m, fmt.Errorf("%w: source.yaml: %w", ErrFormat, err)
	}
	var bad []string
	if m.Retrieved != "" && !isDate(m.Retrieved) {
		bad = append(bad, fmt.Sprintf("retrieved %q is not YYYY-MM-DD", m.Retrieved))
	}
	if !isVersion(m.CatalogueVersion) {
		bad = append(bad, fmt.Sprintf("catalogue_version %q is not YYYY-MM-DD.N", m.CatalogueVersion))
	}
	if len(m.Files) == 0 {
		bad = append(bad, "files is empty")
	}
	for i, f := range m.Files {
		f = m.resolved(f)
		if f.Repository == "" || f.Licence == "" {
			bad = append(bad, fmt.Sprintf("files[%d] needs a repository and a licence (its own or the manifest's)", i))
		}
		if !isDate(f.Retrieved) {
			bad = append(bad, fmt.Sprintf("files[%d].retrieved %q is not YYYY-MM-DD", i, f.Retrieved))
		}
		if f.Published != "" && (!isDate(f.Published) || f.Published > f.Retrieved) {
			bad = append(bad, fmt.Sprintf("files[%d].published %q is not a YYYY-MM-DD date on or before its retrieval", i, f.Published))
		}
		if !slices.Contains([]string{"aws", "azure", "gcp"}, f.Provider) {
			bad = append(bad, fmt.Sprintf("files[%d].provider %q is not aws, azure or gcp", i, f.Provider))
		}
		if !slices.Contains([]string{"", FormatSkyPilot, FormatAzureRetail, FormatAzureSnap, FormatGCPCalc}, f.Format) {
			bad = append(bad, fmt.Sprintf("files[%d].format %q is not %s, %s, %s or %s", i, f.Format, FormatSkyPilot, FormatAzureRetail, FormatAzureSnap, FormatGCPCalc))
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
	// Skipped counts left-out rows by reason, one map per file in Table.Imports' order.
	Skipped []map[string]int
}

// ImportFolder reads a price folder (source.yaml and the price files it names), builds rows for
// every provider, checks them against ref's GPUs and regions and merges them with the curated rows
// into the catalogue version source.yaml names. Files of one provider are layered in the order
// source.yaml lists them: an earlier file's row wins, a later file adds the rows the earlier lack
// and the commitment prices missing on theirs.
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
	var out Imported
	byProvider := map[string][]catalog.Instance{}
	// unconfirmed holds, per provider, the rows whose price only a later file may confirm
	// (needsConfirmation), with the index of the file they came from.
	unconfirmed := map[string]map[key]int{}
	var providers []string
	var imports []catalog.Import
	for i, f := range m.Files {
		f = m.resolved(f)
		data, err := fs.ReadFile(folder, f.File)
		if err != nil {
			return Imported{}, fmt.Errorf("read %s: %w", f.File, err)
		}
		var rows []Row
		readSkipped := map[string]int{}
		switch f.Format {
		case FormatAzureRetail:
			rows, readSkipped, err = ReadAzureRetailPrices(data)
		case FormatAzureSnap:
			rows, readSkipped, err = ReadAzureRetailSnapshot(data)
		case FormatGCPCalc:
			rows, readSkipped, err = ReadGCPPricingCalculator(data)
		default:
			rows, err = ReadSkyPilotVMs(data)
		}
		if err != nil {
			return Imported{}, fmt.Errorf("%s: %w", f.File, err)
		}
		res, err := Build(rows, Options{Provider: f.Provider, KnownRegion: knownRegion, KnownGPU: knownGPU, Source: sourceOf(f), AsOf: f.asOf()})
		if err != nil {
			return Imported{}, err
		}
		for why, n := range readSkipped {
			res.Skipped[why] += n
		}
		out.Skipped = append(out.Skipped, res.Skipped)
		if _, seen := byProvider[f.Provider]; !seen {
			providers = append(providers, f.Provider)
			byProvider[f.Provider] = res.Instances
			unconfirmed[f.Provider] = map[key]int{}
		} else {
			var l layered
			byProvider[f.Provider], l = fillIn(byProvider[f.Provider], res.Instances, unconfirmed[f.Provider])
			if l.disagree > 0 {
				res.Skipped["commitment prices left out: this file's on-demand price differs by over 1% from the earlier file's"] += l.disagree
			}
			if l.replaced > 0 {
				res.Skipped[replacedReason] += l.replaced
			}
		}
		for _, in := range res.Instances {
			k := key{in.Name, in.PriceRegion}
			if _, held := unconfirmed[f.Provider][k]; !held && needsConfirmation(f, in) && slices.ContainsFunc(byProvider[f.Provider], func(r catalog.Instance) bool {
				return r.Name == in.Name && r.PriceRegion == in.PriceRegion && r.Source == in.Source
			}) {
				unconfirmed[f.Provider][k] = i
			}
		}
		imports = append(imports, catalog.Import{Provider: f.Provider, Repository: f.Repository, Path: f.Path, Commit: f.Commit,
			Licence: f.Licence, Retrieved: f.Retrieved, Instances: len(res.Instances)})
	}
	// A row no later file confirmed is left out: its price may be a Flex-start SKU's.
	for _, p := range providers {
		if len(unconfirmed[p]) == 0 {
			continue
		}
		byProvider[p] = slices.DeleteFunc(byProvider[p], func(in catalog.Instance) bool {
			i, ok := unconfirmed[p][key{in.Name, in.PriceRegion}]
			if ok {
				out.Skipped[i][unconfirmedReason]++
			}
			return ok
		})
	}
	var all []catalog.Instance
	for _, p := range providers {
		all = append(all, byProvider[p]...)
	}
	rows, replaced, carried := Merge(curated, all)
	out.Table = catalog.PriceTable{Version: m.CatalogueVersion, Imports: imports, Instances: rows}
	out.Replaced, out.Carried = replaced, carried
	return out, nil
}

// flexStartFamilies are the GCP machine families whose vCPUs, memory and GPUs Google also sells
// at a discount as Flex-start VMs, through Flex-start (Dynamic Workload Scheduler) SKUs of their
// own (Google Cloud documentation, About Flex-start VMs: "For A4, A3, A2, and H4D machine types,
// you obtain vCPUs, memory, and any attached GPUs at a discounted price").
var flexStartFamilies = []string{"a2-", "a3-", "a4-", "h4d-"}

// needsConfirmation reports whether a file's row holds a price that only a later file of its
// provider may confirm. SkyPilot's GCP fetcher (skypilot-org/skypilot
// sky/catalog/data_fetchers/fetch_gcp.py) prices a GPU with the first on-demand SKU whose
// description contains the GPU's name, and leaves out commitment, reserved, custom, premium and
// sole-tenancy SKUs but not Flex-start ones; for the Flex-start families its price can be the
// discounted Flex-start price: in its extract at 006059e0f18a the H100 costs 4.20076 USD/h in
// us-central1 and 9.79655 in us-east4. The pricing calculator matches SKU descriptions from their
// start ("Nvidia H100 80GB GPU running%"), which a Flex-start SKU's does not share. See ADR 0044.
func needsConfirmation(f ManifestFile, in catalog.Instance) bool {
	if f.Provider != "gcp" || cmp.Or(f.Format, FormatSkyPilot) != FormatSkyPilot {
		return false
	}
	return slices.ContainsFunc(flexStartFamilies, func(pre string) bool { return strings.HasPrefix(in.Name, pre) })
}

// Reasons the import counts for the rows needsConfirmation holds back.
const (
	replacedReason    = "GCP Flex-start-family rows of an earlier file replaced by this file's: on-demand prices over 1% apart (ADR 0044)"
	unconfirmedReason = "GCP Flex-start-family price no later file confirms, left out: it may be a Flex-start SKU's (ADR 0044)"
)

// layered counts what fillIn did with the rows both files price.
type layered struct {
	// disagree counts rows left without the later file's commitment prices, their on-demand
	// prices being over 1% apart; replaced, unconfirmed rows the later file's row took the place of.
	disagree, replaced int
}

// fillIn layers a later file's rows of one provider under the earlier files' rows: a row the
// earlier files lack is added; a row they have keeps its prices and takes the later row's
// commitment prices when it has none, but only when both price the machine on demand within 1%.
// A commitment discount applies to its own source's on-demand price: carried onto a different one
// it could even exceed the on-demand cost. An earlier row in unconfirmed (needsConfirmation) is
// confirmed by a later row within 1% (and leaves the set), and replaced by a later row further
// apart, whose prices are then the row's.
func fillIn(earlier, later []catalog.Instance, unconfirmed map[key]int) (rows []catalog.Instance, l layered) {
	var add, carry []catalog.Instance
	at := map[key]catalog.Instance{}
	for _, in := range earlier {
		at[key{in.Name, in.PriceRegion}] = in
	}
	replace := map[key]bool{}
	for _, in := range later {
		k := key{in.Name, in.PriceRegion}
		e, ok := at[k]
		_, pending := unconfirmed[k]
		apart := ok && math.Abs(in.OnDemandHourly-e.OnDemandHourly) > 0.01*e.OnDemandHourly
		switch {
		case !ok:
			add = append(add, in)
		case pending && apart:
			replace[k] = true
			delete(unconfirmed, k)
			add = append(add, in)
			l.replaced++
		case pending:
			delete(unconfirmed, k)
			if e.Commit1YMonthly == 0 && e.Commit3YMonthly == 0 && (in.Commit1YMonthly > 0 || in.Commit3YMonthly > 0) {
				carry = append(carry, in)
			}
		case e.Commit1YMonthly > 0 || e.Commit3YMonthly > 0 || (in.Commit1YMonthly == 0 && in.Commit3YMonthly == 0):
		case apart:
			l.disagree++
		default:
			carry = append(carry, in)
		}
	}
	kept := slices.DeleteFunc(slices.Clone(earlier), func(in catalog.Instance) bool { return replace[key{in.Name, in.PriceRegion}] })
	// Merge adds the rows the earlier lack and carries the commitment prices of the others.
	rows, _, _ = Merge(append(add, carry...), kept)
	return rows, l
}

// sourceOf is the citation every row of a file carries: repository, path, commit, licence and
// dates, and how the import read the format.
func sourceOf(f ManifestFile) string {
	published := ""
	if f.Published != "" {
		published = ", published " + f.Published
	}
	switch f.Format {
	case FormatAzureRetail:
		return fmt.Sprintf("Azure Retail Prices API (prices.azure.com/api/retail/prices) response %s, retrieved %s; Linux pay-as-you-go and Spot meters, USD per hour; commitments: the meter's Azure savings plan for compute rates (1- or 3-year hourly spend commitments, flexible across sizes and regions) x 730 h", f.Path, f.Retrieved)
	case FormatAzureSnap:
		return fmt.Sprintf("Azure Retail Prices API (prices.azure.com/api/retail/prices) snapshot in %s %s at commit %s (%s)%s, retrieved %s; Linux pay-as-you-go and Spot meters, USD per hour; 1-year commitment: the meter's Azure savings plan for compute rate (a 1-year hourly spend commitment, flexible across sizes and regions) x 730 h", f.Repository, f.Path, shortCommit(f.Commit), f.Licence, published, f.Retrieved)
	case FormatGCPCalc:
		return fmt.Sprintf("%s %s at commit %s (%s)%s, retrieved %s; whole machine with its GPUs, spot and 1-/3-year committed-use prices as published", f.Repository, f.Path, shortCommit(f.Commit), f.Licence, published, f.Retrieved)
	}
	src := fmt.Sprintf("%s %s at commit %s (%s)%s, retrieved %s; spot is the highest zone's price in the region", f.Repository, f.Path, shortCommit(f.Commit), f.Licence, published, f.Retrieved)
	if f.Provider == "gcp" {
		src += "; host and attached GPUs summed (GCP prices them apart; GPU count per machine type from Google Cloud's GPU machine types documentation)"
	}
	return src
}
