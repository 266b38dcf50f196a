package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// schemaPath is the JSON Schema's path inside the catalogue file system.
const schemaPath = "schema/catalog.schema.json"

// schemaURL is the schema's $id; each data file is validated against one of
// its $defs, addressed as a fragment of this URL.
const schemaURL = "https://infra-mind.dev/schemas/advisor-catalog.schema.json"

// ErrInvalid is wrapped by every error Parse returns for bad catalogue data
// (as opposed to a missing file), so callers and tests can tell them apart.
var ErrInvalid = errors.New("invalid catalogue")

// dataFile is one data file under data/ and the schema definition it must
// satisfy.
type dataFile struct {
	name string
	def  string
}

// dataFiles lists the catalogue's files in load order. The instance rows are not among them:
// they are one file per provider in data/instances (readInstanceFiles).
func dataFiles() []dataFile {
	return []dataFile{
		{"catalog.yaml", "metaFile"},
		{"gpus.yaml", "gpusFile"},
		{"models.yaml", "modelsFile"},
		{"hosted_apis.yaml", "hostedAPIsFile"},
		{"regimes.yaml", "regimesFile"},
		{"eligibility.yaml", "eligibilityFile"},
		{"regions.yaml", "regionsFile"},
		{"serving_benchmarks.yaml", "servingBenchmarksFile"},
	}
}

// Parse loads a catalogue from files: data/*.yaml (see dataFiles) and
// schema/catalog.schema.json. Each file is validated against its schema
// definition, decoded, then cross-checked (references resolve, ids are
// unique). Load calls it with the embedded files; tests call it with
// altered copies.
func Parse(files fs.FS) (*Catalog, error) {
	schemas, err := compileSchemas(files)
	if err != nil {
		return nil, err
	}
	var (
		meta struct {
			Version     string `json:"version"`
			CollectedOn string `json:"collected_on"`
		}
		gpus struct {
			GPUs []GPU `json:"gpus"`
		}
		models struct {
			Models []Model `json:"models"`
		}
		hosted struct {
			HostedAPIs []HostedAPI `json:"hosted_apis"`
		}
		regimes struct {
			Regimes []Regime `json:"regimes"`
		}
		eligibility struct {
			Eligibility []Eligibility `json:"eligibility"`
		}
		regions struct {
			Regions []Region `json:"regions"`
		}
		benchmarks struct {
			Benchmarks []ServingBenchmark `json:"benchmarks"`
		}
	)
	targets := map[string]any{
		"catalog.yaml":            &meta,
		"gpus.yaml":               &gpus,
		"models.yaml":             &models,
		"hosted_apis.yaml":        &hosted,
		"regimes.yaml":            &regimes,
		"eligibility.yaml":        &eligibility,
		"regions.yaml":            &regions,
		"serving_benchmarks.yaml": &benchmarks,
	}
	for _, f := range dataFiles() {
		if err := decodeFile(files, f, schemas[f.def], targets[f.name]); err != nil {
			return nil, err
		}
	}
	instances, err := readInstanceFiles(files, instancesDir, schemas["instancesFile"])
	if err != nil {
		return nil, err
	}
	c := &Catalog{
		Version:     meta.Version,
		CollectedOn: meta.CollectedOn,
		GPUs:        gpus.GPUs,
		Instances:   instances.Instances,
		Imports:     instances.Imports,
		Models:      models.Models,
		HostedAPIs:  hosted.HostedAPIs,
		Regimes:     regimes.Regimes,
		Eligibility: eligibility.Eligibility,
		Regions:     regions.Regions,
		Benchmarks:  benchmarks.Benchmarks,
	}
	problems := crossCheck(c)
	problems = append(problems, citationProblems(c)...)
	if instances.Version != "" && instances.Version != c.Version {
		problems = append(problems, fmt.Sprintf("%s is version %s but catalog.yaml says %s (run make generate)", instancesDir, instances.Version, c.Version))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return c, nil
}

// compileSchemas compiles one validator per data file definition.
func compileSchemas(files fs.FS) (map[string]*jsonschema.Schema, error) {
	raw, err := fs.ReadFile(files, schemaPath)
	if err != nil {
		return nil, fmt.Errorf("read catalogue schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode catalogue schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("add catalogue schema: %w", err)
	}
	out := make(map[string]*jsonschema.Schema)
	defs := []string{"instancesFile"}
	for _, f := range dataFiles() {
		defs = append(defs, f.def)
	}
	for _, def := range defs {
		sch, err := c.Compile(schemaURL + "#/$defs/" + def)
		if err != nil {
			return nil, fmt.Errorf("compile catalogue schema %s: %w", def, err)
		}
		out[def] = sch
	}
	return out, nil
}

// decodeFile reads one YAML data file, validates it against its schema and
// decodes it into target.
func decodeFile(files fs.FS, f dataFile, sch *jsonschema.Schema, target any) error {
	name := path.Join("data", f.name)
	raw, err := fs.ReadFile(files, name)
	if err != nil {
		return fmt.Errorf("read catalogue file %s: %w", name, err)
	}
	doc, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("%w: %s is not valid YAML: %w", ErrInvalid, name, err)
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
	}
	if err := sch.Validate(instance); err != nil {
		return fmt.Errorf("%w: %s does not match the schema: %w", ErrInvalid, name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrInvalid, name, err)
	}
	return nil
}

// crossCheck finds what a per-file schema cannot see: duplicate keys,
// references to rows that do not exist, and figures that contradict each
// other. It returns one line per problem, in file order.
func crossCheck(c *Catalog) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	gpus := map[string]bool{}
	for _, g := range c.GPUs {
		if gpus[g.ID] {
			add("gpus: duplicate id %q", g.ID)
		}
		gpus[g.ID] = true
	}

	regions := map[string]bool{}
	for _, r := range c.Regions {
		key := r.Provider + "/" + r.ID
		if regions[key] {
			add("regions: duplicate region %s", key)
		}
		regions[key] = true
	}

	instances := map[string]bool{}
	for _, in := range c.Instances {
		key := in.Provider + "/" + in.Name + " in " + in.PriceRegion
		if instances[key] {
			add("instances: duplicate instance %s", key)
		}
		instances[key] = true
		if in.HasGPU() && !gpus[in.GPU] {
			add("instances: %s refers to unknown GPU %q", key, in.GPU)
		}
		if !regions[in.Provider+"/"+in.PriceRegion] {
			add("instances: %s is priced in unknown region %s/%s", key, in.Provider, in.PriceRegion)
		}
		offeredInPriceRegion := false
		for _, r := range in.OfferedIn {
			if r == in.PriceRegion {
				offeredInPriceRegion = true
			}
			if !regions[in.Provider+"/"+r] {
				add("instances: %s is offered in unknown region %s/%s", key, in.Provider, r)
			}
		}
		if !offeredInPriceRegion {
			add("instances: %s offered_in must include its price region %s", key, in.PriceRegion)
		}
		if in.SpotHourly > in.OnDemandHourly {
			add("instances: %s spot price %.4f exceeds on-demand %.4f", key, in.SpotHourly, in.OnDemandHourly)
		}
		if in.Commit3YMonthly > 0 && in.Commit1YMonthly > 0 && in.Commit3YMonthly > in.Commit1YMonthly {
			add("instances: %s 3-year commitment exceeds the 1-year one", key)
		}
	}

	models := map[string]bool{}
	for _, m := range c.Models {
		if models[m.ID] {
			add("models: duplicate id %q", m.ID)
		}
		models[m.ID] = true
		if m.ParamsActiveB > m.ParamsTotalB {
			add("models: %s active parameters exceed total", m.ID)
		}
		if m.KVHeads > m.Heads || m.Heads%m.KVHeads != 0 {
			add("models: %s kv_heads %d must divide heads %d", m.ID, m.KVHeads, m.Heads)
		}
		if m.Attention == "mha" && m.KVHeads != m.Heads {
			add("models: %s is mha but kv_heads %d != heads %d", m.ID, m.KVHeads, m.Heads)
		}
		if m.Attention != "mla" && m.MLALatentDim != 0 {
			add("models: %s sets mla_latent_dim without mla attention", m.ID)
		}
		if (m.Experts == 0) != (m.ActiveExperts == 0) || m.ActiveExperts > m.Experts {
			add("models: %s needs experts >= active_experts, both set or both absent", m.ID)
		}
		if m.Experts == 0 && m.ParamsActiveB != m.ParamsTotalB {
			add("models: %s is dense but active parameters differ from total", m.ID)
		}
	}

	hosted := map[string]bool{}
	for _, h := range c.HostedAPIs {
		key := h.Provider + "/" + h.Model
		if hosted[key] {
			add("hosted_apis: duplicate %s", key)
		}
		hosted[key] = true
	}

	regimes := map[string]bool{}
	for _, r := range c.Regimes {
		if regimes[r.ID] {
			add("regimes: duplicate id %q", r.ID)
		}
		regimes[r.ID] = true
		controls := map[string]bool{}
		for _, ctl := range r.Controls {
			if controls[ctl.ID] {
				add("regimes: %s has duplicate control %q", r.ID, ctl.ID)
			}
			controls[ctl.ID] = true
		}
		if (r.LogRetention == "") != (r.LogRetentionDays == 0) {
			add("regimes: %s must set log_retention and log_retention_days together", r.ID)
		}
	}

	eligibility := map[string]bool{}
	for _, e := range c.Eligibility {
		key := e.Provider + "/" + e.Regime + "/" + e.Program
		if eligibility[key] {
			add("eligibility: duplicate %s", key)
		}
		eligibility[key] = true
		if !regimes[e.Regime] {
			add("eligibility: %s refers to unknown regime %q", key, e.Regime)
		}
	}

	benchmarks := map[string]bool{}
	roles := map[string]int{}
	for _, b := range c.Benchmarks {
		if benchmarks[b.ID] {
			add("serving_benchmarks: duplicate id %q", b.ID)
		}
		benchmarks[b.ID] = true
		roles[b.Role]++
		if !models[b.Model] {
			add("serving_benchmarks: %s refers to unknown model %q", b.ID, b.Model)
		}
		if !gpus[b.GPU] {
			add("serving_benchmarks: %s refers to unknown GPU %q", b.ID, b.GPU)
		}
		if b.TensorParallel > b.GPUs {
			add("serving_benchmarks: %s tensor_parallel %d exceeds its %d GPUs", b.ID, b.TensorParallel, b.GPUs)
		}
		for i := 1; i < len(b.Points); i++ {
			if b.Points[i].Concurrency < b.Points[i-1].Concurrency {
				add("serving_benchmarks: %s points must be in order of concurrency", b.ID)
				break
			}
		}
	}
	// A calibration needs curves to fit on and at least one whole curve held out to test it.
	if len(c.Benchmarks) > 0 && (roles[BenchmarkFit] == 0 || roles[BenchmarkHeldOut] == 0) {
		add("serving_benchmarks: need at least one %s and one %s curve", BenchmarkFit, BenchmarkHeldOut)
	}
	return p
}

// ParseReference loads only a catalogue's GPUs and regions: what an import of price data checks
// its rows against. It does not read the instance rows, so it works while they are regenerated.
func ParseReference(files fs.FS) (*Catalog, error) {
	schemas, err := compileSchemas(files)
	if err != nil {
		return nil, err
	}
	var (
		gpus struct {
			GPUs []GPU `json:"gpus"`
		}
		regions struct {
			Regions []Region `json:"regions"`
		}
	)
	if err := decodeFile(files, dataFile{"gpus.yaml", "gpusFile"}, schemas["gpusFile"], &gpus); err != nil {
		return nil, err
	}
	if err := decodeFile(files, dataFile{"regions.yaml", "regionsFile"}, schemas["regionsFile"], &regions); err != nil {
		return nil, err
	}
	return &Catalog{GPUs: gpus.GPUs, Regions: regions.Regions}, nil
}

// notPublic are strings that mark a citation of the project's own working files rather than the
// public document or dataset a figure comes from: a reader of a report cannot open them.
var notPublic = []string{"ai-infra-figures", "shared reference", "shared/reference", "/work/", "file://"}

// citationProblems finds rows whose source names a project file instead of a public document or
// dataset (a vendor datasheet, paper, regulation, model card, provider page or public repository).
func citationProblems(c *Catalog) []string {
	var p []string
	check := func(what, id, src string) {
		low := strings.ToLower(src)
		for _, bad := range notPublic {
			if strings.Contains(low, bad) {
				p = append(p, fmt.Sprintf("%s: %s cites %q, a project file, not a public document or dataset", what, id, bad))
				return
			}
		}
	}
	for _, r := range c.GPUs {
		check("gpus", r.ID, r.Source.Source)
	}
	for _, r := range c.Instances {
		check("instances", r.Provider+"/"+r.Name+" in "+r.PriceRegion, r.Source.Source)
	}
	for _, r := range c.Models {
		check("models", r.ID, r.Source.Source)
	}
	for _, r := range c.HostedAPIs {
		check("hosted_apis", r.Provider+"/"+r.Model, r.Source.Source)
	}
	for _, r := range c.Regimes {
		check("regimes", r.ID, r.Source.Source)
	}
	for _, r := range c.Eligibility {
		check("eligibility", r.Provider+"/"+r.Regime, r.Source.Source)
	}
	for _, r := range c.Regions {
		check("regions", r.Provider+"/"+r.ID, r.Source.Source)
	}
	for _, r := range c.Benchmarks {
		check("serving_benchmarks", r.ID, r.Source.Source)
	}
	return p
}
