package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/scenario"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// reportView is the report page.
type reportView struct {
	ID  string
	Doc report.Document
	// Working lists each workload's computed numbers with formula and
	// source, shown under the workload when expanded.
	Working map[string][]report.Metric
	// Plan-level working (metrics of no workload), by family.
	PlanWorking []familyMetrics
	Chart       *growthChart
	// CanWhatIf and CanRerun show the buttons the caller's role allows.
	CanWhatIf, CanRerun bool
	// CanDelete and CanChat show the delete and chat links.
	CanDelete, CanChat bool
	Scenarios          []store.Assessment
	Versions           []store.Assessment
	IsBase             bool
}

type familyMetrics struct {
	Family  string
	Metrics []report.Metric
}

// reportPage renders a finished assessment's report from its stored model
// (the report use case's Document), with the growth chart as inline SVG.
func (c *Console) reportPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	tenant := caller(ec).Tenant
	doc, err := c.d.Reports.Document(ctx, tenant, id)
	var nr *app.NotReadyError
	if errors.As(err, &nr) {
		// Not finished: the progress page follows it and comes back.
		return ec.Redirect(http.StatusSeeOther, "/assessments/"+id)
	}
	if err != nil {
		return err
	}
	v := reportView{ID: id, Doc: doc, Working: map[string][]report.Metric{}, Chart: chartOf(doc.Projection.Bands),
		CanWhatIf: c.can(ec, "POST /v1/assessments/:id/scenarios"), CanRerun: c.can(ec, "POST /v1/assessments/:id/versions"),
		CanDelete: c.can(ec, "DELETE /v1/assessments/:id"),
		CanChat:   c.d.Chat != nil && c.can(ec, "GET /v1/assessments/:id/conversations")}
	for _, f := range doc.Families {
		var plan []report.Metric
		for _, m := range f.Metrics {
			if m.Workload != "" {
				v.Working[m.Workload] = append(v.Working[m.Workload], m)
			} else {
				plan = append(plan, m)
			}
		}
		if len(plan) > 0 {
			v.PlanWorking = append(v.PlanWorking, familyMetrics{Family: f.Family, Metrics: plan})
		}
	}
	if a, err := c.d.Assessments.Get(ctx, tenant, id); err == nil && a.Kind == store.KindBase {
		v.IsBase = true
		if sc, err := c.d.Assessments.Scenarios(ctx, tenant, id); err == nil {
			v.Scenarios = sc
		}
		if _, vs, err := c.d.Assessments.Versions(ctx, tenant, id); err == nil {
			v.Versions = vs
		}
	}
	return c.render(ec, http.StatusOK, "report", doc.Name, v)
}

// whatIfView is the what-if form.
type whatIfView struct {
	ID, Name string
	Values   map[string][]string
	Fields   map[string]string
	Error    string
	Choices  choices
}

// FormValues are the submitted inputs.
func (v whatIfView) FormValues() map[string][]string { return v.Values }

// FormErrors are the field errors by input name.
func (v whatIfView) FormErrors() map[string]string { return v.Fields }

func (c *Console) whatIfPage(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	base, err := c.d.Assessments.Base(ec.Request().Context(), caller(ec).Tenant, id)
	if err != nil {
		return err
	}
	return c.render(ec, http.StatusOK, "what-if", "What-if: "+base.Name, whatIfView{ID: id, Name: base.Name,
		Values: map[string][]string{}, Fields: map[string]string{}, Choices: c.choices})
}

// createScenario runs the what-if through the scenario use case and opens
// its progress page; invalid overrides come back beside their fields.
func (c *Console) createScenario(ec echo.Context) error {
	ctx := ec.Request().Context()
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	base, err := c.d.Assessments.Base(ctx, caller(ec).Tenant, id)
	if err != nil {
		return err
	}
	v := whatIfView{ID: id, Name: base.Name, Values: map[string][]string{}, Fields: map[string]string{}, Choices: c.choices}
	form, err := ec.FormParams()
	if err != nil {
		return &pageError{status: http.StatusBadRequest, title: "Invalid form", detail: "The form could not be read."}
	}
	raw := map[string]any{}
	num := func(name string) {
		s := strings.TrimSpace(form.Get(name))
		v.Values[name] = []string{s}
		if s == "" {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			v.Fields[name] = "must be a number"
			return
		}
		raw[name] = f
	}
	list := func(name string) {
		vals := nonEmpty(form[name])
		v.Values[name] = vals
		if len(vals) > 0 {
			raw[name] = vals
		}
	}
	num("traffic_multiplier")
	num("monthly_budget_usd")
	list("regions")
	list("data_residency")
	list("provider_preference")
	list("provider_exclusions")
	if p := form.Get("precision"); p != "" {
		raw["precision"] = p
		v.Values["precision"] = []string{p}
	}
	name := strings.TrimSpace(form.Get("name"))
	v.Values["name"] = []string{name}
	if len(v.Fields) == 0 {
		b, _ := jsonMarshal(raw)
		o, perr := scenario.Parse(b)
		if perr == nil {
			child, cerr := c.d.Assessments.CreateScenario(ctx, caller(ec), base, app.Scenario{Name: name, Overrides: o})
			if cerr == nil {
				created(ec, child.ID)
				return ec.Redirect(http.StatusSeeOther, "/assessments/"+child.ID)
			}
			perr = cerr
		}
		x := c.d.Explain(perr)
		if x.Status >= 500 || x.Status == http.StatusNotFound {
			return perr
		}
		for _, f := range x.Fields {
			v.Fields[strings.TrimPrefix(f.Field, "overrides.")] = f.Reason
		}
		v.Error = x.Detail
	}
	if v.Error == "" {
		v.Error = "Some values need fixing; each is marked beside its field."
	}
	return c.render(ec, http.StatusBadRequest, "what-if", "What-if: "+base.Name, v)
}

// diffView is the side-by-side comparison of two reports.
type diffView struct {
	Title            string
	BaseID, OtherID  string
	BaseName, Other  string
	BaseLabel, Label string
	Diff             *report.ReportDiff
	// Pending says the other assessment is still running.
	Pending   bool
	OtherLink string
	Overrides string
}

// scenarioPage shows a what-if beside its base once both reports exist.
func (c *Console) scenarioPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	sid, err := pathID(ec, "sid")
	if err != nil {
		return err
	}
	base, sc, err := c.d.Assessments.Scenario(ctx, caller(ec).Tenant, id, sid)
	if err != nil {
		return err
	}
	v := diffView{Title: "What-if: " + sc.Name, BaseID: base.ID, OtherID: sc.ID, BaseName: base.Name, Other: sc.Name,
		BaseLabel: "Base", Label: "What-if", OtherLink: "/assessments/" + sc.ID, Overrides: sc.Overrides}
	d, err := c.d.Reports.Diff(ctx, base, sc)
	var nc *app.NotComparableError
	switch {
	case err == nil:
		v.Diff = &d
	case errors.As(err, &nc):
		v.Pending = true
	default:
		return err
	}
	return c.render(ec, http.StatusOK, "diff", v.Title, v)
}

// createVersion re-runs the base's request as its next version.
func (c *Console) createVersion(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	child, err := c.d.Assessments.CreateVersion(ec.Request().Context(), caller(ec), id)
	if err != nil {
		return err
	}
	created(ec, child.ID)
	return ec.Redirect(http.StatusSeeOther, "/assessments/"+child.ID)
}

// versionDiffPage compares two versions of an assessment side by side.
func (c *Console) versionDiffPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	from, ferr := strconv.Atoi(ec.QueryParam("from"))
	to, terr := strconv.Atoi(ec.QueryParam("to"))
	if ferr != nil || terr != nil || from < 1 || to < 1 {
		return &pageError{status: http.StatusBadRequest, title: "Invalid comparison", detail: "from and to: must be version numbers (1 is the first run)"}
	}
	a, b, err := c.d.Assessments.VersionPair(ctx, caller(ec).Tenant, id, from, to)
	if err != nil {
		return err
	}
	v := diffView{Title: "Versions " + strconv.Itoa(from) + " and " + strconv.Itoa(to) + ": " + a.Name, BaseID: a.ID, OtherID: b.ID,
		BaseName: a.Name, Other: b.Name, BaseLabel: "Version " + strconv.Itoa(from), Label: "Version " + strconv.Itoa(to),
		OtherLink: "/assessments/" + b.ID}
	d, err := c.d.Reports.Diff(ctx, a, b)
	var nc *app.NotComparableError
	switch {
	case err == nil:
		v.Diff = &d
	case errors.As(err, &nc):
		v.Pending = true
	default:
		return err
	}
	return c.render(ec, http.StatusOK, "diff", v.Title, v)
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
