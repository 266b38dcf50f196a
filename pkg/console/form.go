package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// maxWorkloads is the request format's bound on workloads.
const maxWorkloads = 50

// choices are the catalogue's values the forms offer.
type choices struct {
	Models []option
	// Regions are the two-letter codes the catalogue has regions in.
	Regions                                                             []option
	GPUs                                                                []option
	Providers, Precisions, Sizes, Expertise, Kinds, Methods, Categories []option
	Compliance                                                          []option
	CatalogVersion                                                      string
}

type option struct{ Value, Label string }

func opts(values ...string) []option {
	out := make([]option, 0, len(values))
	for _, v := range values {
		out = append(out, option{Value: v, Label: v})
	}
	return out
}

// choicesOf lists the catalogue's models, GPUs and region codes, and the
// request format's enumerations, for the forms' selects and checkboxes.
func choicesOf(cat *catalog.Catalog) choices {
	ch := choices{
		Providers:  opts("aws", "azure", "gcp"),
		Precisions: opts("bf16", "fp8", "int8", "int4"),
		Sizes: []option{{"startup", "Startup (under 50 people)"}, {"smb", "Small or medium (50-249)"},
			{"mid_market", "Mid-market (250-999)"}, {"enterprise", "Enterprise (1000 or more)"}},
		Expertise: opts("beginner", "intermediate", "expert"),
		Kinds: []option{{"llm_serving", "Serve an LLM"}, {"training", "Train or fine-tune"}, {"batch_inference", "Batch inference"},
			{"rag", "Retrieval-augmented generation"}, {"general", "General web/API service"}},
		Methods:        opts("full", "lora", "qlora"),
		Categories:     opts("personal", "health", "payment_card", "financial", "children", "public"),
		Compliance:     opts("hipaa", "gdpr", "uk_gdpr", "ccpa", "pci_dss", "soc2", "iso27001", "eu_ai_act"),
		CatalogVersion: cat.Version,
	}
	for _, m := range cat.Models {
		ch.Models = append(ch.Models, option{Value: m.ID, Label: fmt.Sprintf("%s (%s B parameters)", m.Name, formatNumber(m.ParamsTotalB))})
	}
	for _, g := range cat.GPUs {
		ch.GPUs = append(ch.GPUs, option{Value: g.ID, Label: fmt.Sprintf("%s (%s GB)", g.Name, formatNumber(g.MemoryGB))})
	}
	codes := map[string]bool{}
	for _, r := range cat.Regions {
		for _, c := range []string{r.Jurisdiction, r.Country} {
			if len(c) == 2 {
				codes[c] = true
			}
		}
	}
	for _, c := range sortedKeys(codes) {
		ch.Regions = append(ch.Regions, option{Value: c, Label: c})
	}
	sort.Slice(ch.Models, func(i, j int) bool { return ch.Models[i].Label < ch.Models[j].Label })
	return ch
}

// fieldKind says how a form value becomes a request value.
type fieldKind int

const (
	kindText fieldKind = iota
	kindNumber
	kindList
)

// businessFields and workloadFields are the guided form's inputs, named by
// their path in the request format, so the server's field errors land
// beside the input they name.
var formFieldKinds = map[string]fieldKind{
	"name":                                kindText,
	"business.company_size":               kindText,
	"business.industry":                   kindText,
	"business.regions":                    kindList,
	"business.data_categories":            kindList,
	"business.compliance":                 kindList,
	"business.data_residency":             kindList,
	"business.monthly_budget_usd":         kindNumber,
	"business.growth.month_6_multiplier":  kindNumber,
	"business.growth.month_12_multiplier": kindNumber,
	"business.growth.month_24_multiplier": kindNumber,
	"business.team.engineers":             kindNumber,
	"business.team.ml_engineers":          kindNumber,
	"business.team.ops_engineers":         kindNumber,
	"business.team.expertise":             kindText,
	"business.provider_preference":        kindList,
	"business.provider_exclusions":        kindList,
	"business.timeline_months":            kindNumber,
	"business.goals":                      kindList,
}

var workloadFieldKinds = map[string]fieldKind{
	"name": kindText, "kind": kindText, "model": kindText, "params_billion": kindNumber, "precision": kindText,
	"peak_requests_per_second": kindNumber, "avg_requests_per_second": kindNumber,
	"mean_input_tokens": kindNumber, "mean_output_tokens": kindNumber, "max_context_tokens": kindNumber,
	"ttft_p95_ms": kindNumber, "inter_token_latency_ms": kindNumber, "availability_target": kindNumber,
	"training_tokens_billion": kindNumber, "method": kindText, "deadline_days": kindNumber,
	"tokens_per_day_million": kindNumber, "completion_window_hours": kindNumber,
	"corpus_gb": kindNumber, "embedding_model": kindText, "queries_per_second": kindNumber,
	"vcpu": kindNumber, "memory_gb": kindNumber, "storage_gb": kindNumber,
	"architecture.total_params_billion": kindNumber, "architecture.layers": kindNumber,
	"architecture.attention": kindText, "architecture.kv_heads": kindNumber, "architecture.head_dim": kindNumber,
}

var workloadKey = regexp.MustCompile(`^workloads\[(\d{1,2})\]\.([a-z0-9_.]+)$`)

// formRequest builds the request document from the guided form: each
// non-empty input at its path, numbers as numbers, lists from checkboxes or
// one entry per line. Inputs that are not numbers are reported by name
// before the request is validated.
func formRequest(form map[string][]string) (map[string]any, int, []assessment.FieldError) {
	doc := map[string]any{}
	var errs []assessment.FieldError
	workloads := map[int]map[string]any{}
	count := 0
	set := func(into map[string]any, path string, kind fieldKind, vals []string, field string) {
		var v any
		switch kind {
		case kindList:
			items := []string{}
			for _, raw := range vals {
				for _, line := range strings.Split(raw, "\n") {
					if s := strings.TrimSpace(line); s != "" {
						items = append(items, s)
					}
				}
			}
			if len(items) == 0 {
				return
			}
			v = items
		case kindNumber:
			s := strings.TrimSpace(first(vals))
			if s == "" {
				return
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				errs = append(errs, assessment.FieldError{Field: field, Reason: "must be a number"})
				return
			}
			v = f
		default:
			s := strings.TrimSpace(first(vals))
			if s == "" {
				return
			}
			v = s
		}
		parts := strings.Split(path, ".")
		m := into
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	for key, vals := range form {
		if kind, ok := formFieldKinds[key]; ok {
			set(doc, key, kind, vals, key)
			continue
		}
		m := workloadKey.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		kind, ok := workloadFieldKinds[m[2]]
		if !ok || i >= maxWorkloads {
			continue
		}
		count = max(count, i+1)
		if workloads[i] == nil {
			workloads[i] = map[string]any{}
		}
		set(workloads[i], m[2], kind, vals, key)
	}
	var list []any
	for i := range count {
		if w := workloads[i]; len(w) > 0 {
			list = append(list, w)
		}
	}
	if len(list) > 0 {
		doc["workloads"] = list
	}
	return doc, max(count, 1), errs
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// newView is the new-assessment page.
type newView struct {
	// Values are the submitted inputs by name, to fill the form again.
	Values map[string][]string
	// Fields are the server's reasons by field path; Unplaced those whose
	// field has no input on the form.
	Fields    map[string]string
	Unplaced  []assessment.FieldError
	Error     string
	Workloads []int
	Choices   choices
	// YAML is the pasted request, when that way was used.
	YAML string
	Mode string
}

// FormValues are the submitted inputs.
func (v newView) FormValues() map[string][]string { return v.Values }

// FormErrors are the field errors by input name.
func (v newView) FormErrors() map[string]string { return v.Fields }

// V is the first submitted value of an input.
func (v newView) V(name string) string { return first(v.Values[name]) }

// Has reports whether a checkbox value was submitted.
func (v newView) Has(name, value string) bool { return contains(v.Values[name], value) }

// W is the name of workload i's input.
func (v newView) W(i int, name string) string { return fmt.Sprintf("workloads[%d].%s", i, name) }

// Lines is a list input's values one per line.
func (v newView) Lines(name string) string { return strings.Join(v.Values[name], "\n") }

func (c *Console) newPage(ec echo.Context) error {
	v := newView{Values: map[string][]string{}, Fields: map[string]string{}, Workloads: []int{0}, Choices: c.choices, Mode: "form"}
	return c.render(ec, http.StatusOK, "new", "New assessment", v)
}

// maxYAML bounds a pasted or uploaded request, like the API's body limit.
const maxYAML = 1 << 20

// create submits the guided form, or a pasted or uploaded YAML request,
// through the submission use case, then opens the progress page. The
// server's validation errors come back beside the fields they name.
func (c *Console) create(ec echo.Context) error {
	form, err := ec.FormParams()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		// FormParams fails on multipart without a file part too; read the multipart form.
		mf, merr := ec.MultipartForm()
		if merr != nil {
			return &pageError{status: http.StatusBadRequest, title: "Invalid form", detail: "The form could not be read."}
		}
		form = mf.Value
	}
	v := newView{Values: form, Fields: map[string]string{}, Choices: c.choices, Mode: first(form["mode"])}
	if v.Mode == "" {
		v.Mode = "form"
	}
	var body []byte
	var shape map[string]any
	count := 1
	var preErrs []assessment.FieldError
	if v.Mode == "yaml" {
		v.YAML = first(form["yaml"])
		body = []byte(v.YAML)
		if fh, ferr := ec.FormFile("file"); ferr == nil && fh.Size > 0 {
			if fh.Size > maxYAML {
				preErrs = append(preErrs, assessment.FieldError{Field: "file", Reason: "is larger than 1 MiB"})
			} else if f, oerr := fh.Open(); oerr == nil {
				body, _ = io.ReadAll(io.LimitReader(f, maxYAML))
				_ = f.Close()
				v.YAML = string(body)
			}
		}
		if strings.TrimSpace(string(body)) == "" && len(preErrs) == 0 {
			preErrs = append(preErrs, assessment.FieldError{Field: "yaml", Reason: "paste a request or choose a file"})
		}
	} else {
		shape, count, preErrs = formRequest(form)
		if _, ok := form["add_workload"]; ok && count < maxWorkloads {
			// "Add a workload" re-shows the form with one more, nothing submitted.
			v.Workloads = seq(count + 1)
			return c.render(ec, http.StatusOK, "new", "New assessment", v)
		}
		body, _ = json.Marshal(shape)
	}
	v.Workloads = seq(count)
	if len(preErrs) == 0 {
		req, perr := assessment.ParseRequest(body)
		if perr == nil {
			a, serr := c.d.Assessments.Submit(ec.Request().Context(), app.Submission{Caller: caller(ec), Request: req})
			if serr == nil {
				created(ec, a.ID)
				return ec.Redirect(http.StatusSeeOther, "/assessments/"+a.ID)
			}
			perr = serr
		}
		x := c.d.Explain(perr)
		if x.Status >= 500 || x.Status == http.StatusTooManyRequests {
			return perr
		}
		preErrs = x.Fields
		v.Error = x.Detail
	}
	for _, fe := range preErrs {
		if v.Mode == "form" && hasInput(fe.Field) {
			if _, dup := v.Fields[fe.Field]; !dup {
				v.Fields[fe.Field] = fe.Reason
			}
			continue
		}
		v.Unplaced = append(v.Unplaced, fe)
	}
	v.Error = "The request needs fixing: each problem is shown beside its field."
	return c.render(ec, http.StatusBadRequest, "new", "New assessment", v)
}

// hasInput reports whether the guided form has an input for a field path.
func hasInput(field string) bool {
	if _, ok := formFieldKinds[field]; ok {
		return true
	}
	if m := workloadKey.FindStringSubmatch(field); m != nil {
		_, ok := workloadFieldKinds[m[2]]
		return ok
	}
	return false
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
