package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/report/render"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// ReportStore reads stored reports; *store.Reports is the real one. Another
// tenant's report reads like a missing one (store.ErrNotFound).
type ReportStore interface {
	Get(ctx context.Context, tenant, assessmentID string) (store.Report, error)
}

// RecommendationStore reads an assessment's stored recommendations;
// *store.RecommendationsRepo is the real one. Another tenant's read like
// missing ones (store.ErrNotFound).
type RecommendationStore interface {
	Get(ctx context.Context, tenant, assessmentID string) (store.Recommendations, error)
}

// ReportCache keeps finished reports' stored JSON for a while, keyed by
// tenant and assessment so one tenant never reads another's copy.
// adapters.RedisReportCache is the real one. It is an optimisation only:
// Get reports a miss for anything it does not hold.
type ReportCache interface {
	Get(ctx context.Context, tenant, id string) ([]byte, bool, error)
	Put(ctx context.Context, tenant, id string, body []byte) error
}

// NarrativeStore reads the consultant's stored narratives; *store.Narratives
// is the real one. List returns an assessment's narratives, one per audience
// written, in any order; another tenant's are not listed.
type NarrativeStore interface {
	List(ctx context.Context, tenant, assessmentID string) ([]store.Narrative, error)
}

// Format is a way a report can be rendered.
type Format string

// The report formats.
const (
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
	FormatHTML     Format = "html"
	FormatPDF      Format = "pdf"
)

// Reports runs the report use cases: read a finished assessment's report in
// a format, read its recommendations, compare two assessments' reports.
type Reports struct {
	assessments Assessments
	reports     ReportStore
	recs        RecommendationStore
	cache       ReportCache
	narratives  NarrativeStore
	log         *slog.Logger
}

// ReportDeps are what the report use cases read. Cache may be nil (no
// cache); Logger may be nil (no logs).
type ReportDeps struct {
	Assessments     Assessments
	Reports         ReportStore
	Recommendations RecommendationStore
	Cache           ReportCache
	// Narratives may be nil: reports then say no narrative was requested.
	Narratives NarrativeStore
	Logger     *slog.Logger
}

// NewReports returns the report use cases.
func NewReports(d ReportDeps) (*Reports, error) {
	switch {
	case d.Assessments == nil:
		return nil, errors.New("app: an assessment repository is required")
	case d.Reports == nil:
		return nil, errors.New("app: a report store is required")
	case d.Recommendations == nil:
		return nil, errors.New("app: a recommendation store is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reports{assessments: d.Assessments, reports: d.Reports, recs: d.Recommendations, cache: d.Cache,
		narratives: d.Narratives, log: d.Logger}, nil
}

// Rendered is a report in one format.
type Rendered struct {
	Body []byte
	// Name is the assessment's name, for a download's file name.
	Name string
	// Cached says the stored JSON came from the cache.
	Cached bool
}

// Report returns the report of one of tenant's finished assessments in a
// format. A report not written yet is a *NotReadyError; a report stored before
// reports carried their model is served as JSON and is a *NotRenderableError
// in any other format.
func (r *Reports) Report(ctx context.Context, tenant, id string, f Format) (Rendered, error) {
	body, cached, err := r.stored(ctx, tenant, id)
	if err != nil {
		return Rendered{}, err
	}
	// Narratives are read on every request, not cached with the report:
	// the consultant writes them after the report, whenever it gets to it.
	narratives, err := r.readNarratives(ctx, tenant, id)
	if err != nil {
		return Rendered{}, err
	}
	if f == FormatJSON {
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			return Rendered{}, fmt.Errorf("decode stored report of %s: %w", id, err)
		}
		out, err := withNarratives(body, narratives)
		if err != nil {
			return Rendered{}, fmt.Errorf("report of %s: %w", id, err)
		}
		return Rendered{Body: out, Name: head.Name, Cached: cached}, nil
	}
	doc, err := report.Decode(body)
	if errors.Is(err, report.ErrNoModel) {
		return Rendered{}, &NotRenderableError{ID: id, Format: f, Err: err}
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("report of %s: %w", id, err)
	}
	doc.Narratives = narratives
	var out []byte
	switch f {
	case FormatMarkdown:
		out = render.Markdown(doc.Model)
	case FormatHTML:
		out, err = render.HTML(doc.Model)
	case FormatPDF:
		out, err = render.PDF(doc.Model)
	default:
		err = fmt.Errorf("unknown report format %q", f)
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("render report of %s as %s: %w", id, f, err)
	}
	return Rendered{Body: out, Name: doc.Name, Cached: cached}, nil
}

// readNarratives returns the assessment's stored narratives, one per
// audience written, in report.Audiences order.
func (r *Reports) readNarratives(ctx context.Context, tenant, id string) ([]report.Narrative, error) {
	if r.narratives == nil {
		return nil, nil
	}
	stored, err := r.narratives.List(ctx, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("list narratives of %s: %w", id, err)
	}
	byAudience := make(map[string]store.Narrative, len(stored))
	for _, s := range stored {
		byAudience[s.Audience] = s
	}
	var out []report.Narrative
	for _, audience := range report.Audiences() {
		got, ok := byAudience[audience]
		if !ok {
			continue
		}
		var n report.Narrative
		if err := json.Unmarshal([]byte(got.Body), &n); err != nil {
			return nil, fmt.Errorf("decode %s narrative of %s: %w", audience, id, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// withNarratives adds the narratives to a stored report's JSON object as
// "narratives", or, with none, "narrative_note" saying none was requested;
// the stored fields are kept byte for byte.
func withNarratives(body []byte, narratives []report.Narrative) ([]byte, error) {
	trimmed := bytes.TrimRight(body, " \t\r\n")
	if len(trimmed) < 2 || trimmed[len(trimmed)-1] != '}' {
		return nil, errors.New("stored report is not a JSON object")
	}
	var field []byte
	var err error
	if len(narratives) > 0 {
		field, err = json.Marshal(narratives)
		field = append([]byte(`"narratives":`), field...)
	} else {
		field, err = json.Marshal(report.NoNarrative)
		field = append([]byte(`"narrative_note":`), field...)
	}
	if err != nil {
		return nil, fmt.Errorf("encode narratives: %w", err)
	}
	out := make([]byte, 0, len(trimmed)+len(field)+1)
	out = append(out, trimmed[:len(trimmed)-1]...)
	if len(bytes.TrimSpace(trimmed[1:len(trimmed)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, field...)
	return append(out, '}'), nil
}

// stored returns the stored report JSON of a finished assessment, from the
// cache when it holds it. Cache failures are logged and the store answers.
func (r *Reports) stored(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	if r.cache != nil {
		body, hit, err := r.cache.Get(ctx, tenant, id)
		if err != nil {
			r.log.WarnContext(ctx, "report cache read failed", slog.String("error", err.Error()), slog.String("assessment_id", id))
		}
		if hit && err == nil && json.Valid(body) {
			return body, true, nil
		}
	}
	a, err := r.assessments.Get(ctx, tenant, id)
	if err != nil {
		return nil, false, fmt.Errorf("get assessment %s: %w", id, err)
	}
	if !assessment.Status(a.Status).Terminal() {
		return nil, false, &NotReadyError{What: "report", ID: id, Status: a.Status}
	}
	rep, err := r.reports.Get(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, &NotReadyError{What: "report", ID: id, Status: a.Status}
	}
	if err != nil {
		return nil, false, fmt.Errorf("get report of %s: %w", id, err)
	}
	body := []byte(rep.Body)
	if !json.Valid(body) {
		return nil, false, fmt.Errorf("report of %s: stored body is not JSON", id)
	}
	if r.cache != nil {
		if err := r.cache.Put(ctx, tenant, id, body); err != nil {
			r.log.WarnContext(ctx, "report cache write failed", slog.String("error", err.Error()), slog.String("assessment_id", id))
		}
	}
	return body, false, nil
}

// Sort keys of the recommendations list.
const (
	SortPriority   = "priority"
	SortCost       = "cost"
	SortConfidence = "confidence"
)

// RecommendationQuery filters, sorts and pages an assessment's
// recommendations. Empty filters match everything; Sort defaults to
// SortPriority and Order to that key's natural reading.
type RecommendationQuery struct {
	Category, Family, Priority string
	MinConfidence              float64
	Sort, Order                string
	Limit, Offset              int
}

// RecommendationPage is one page of an assessment's recommendations.
type RecommendationPage struct {
	Items []recommend.Recommendation
	// Total counts the recommendations the filters match.
	Total int
	// Next is the offset of the next page, 0 on the last one.
	Next           int
	Resolutions    []recommend.Resolution
	EffortRule     string
	ConfidenceRule string
}

// Recommendations returns a page of the recommendations of one of tenant's
// assessments. The whole list is one stored document read by key: a page
// costs one read (two when the list is not written yet, to tell a
// *NotReadyError from a missing assessment), whatever the list's length.
func (r *Reports) Recommendations(ctx context.Context, tenant, id string, q RecommendationQuery) (RecommendationPage, error) {
	doc, err := r.recs.Get(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		a, aerr := r.assessments.Get(ctx, tenant, id)
		if aerr != nil {
			return RecommendationPage{}, fmt.Errorf("get assessment %s: %w", id, aerr)
		}
		return RecommendationPage{}, &NotReadyError{What: "recommendations", ID: id, Status: a.Status}
	}
	if err != nil {
		return RecommendationPage{}, fmt.Errorf("get recommendations of %s: %w", id, err)
	}
	items := selectRecommendations(doc.Set.Recommendations, q)
	page := RecommendationPage{Total: len(items), Resolutions: doc.Set.Resolutions,
		EffortRule: doc.Set.EffortRule, ConfidenceRule: doc.Set.ConfidenceRule}
	if page.Resolutions == nil {
		page.Resolutions = []recommend.Resolution{}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	start := min(max(q.Offset, 0), len(items))
	end := min(start+limit, len(items))
	page.Items = items[start:end]
	if end < len(items) {
		page.Next = end
	}
	return page, nil
}

// selectRecommendations filters and sorts the stored list; ties keep the
// stored rank, so every order is deterministic.
func selectRecommendations(all []recommend.Recommendation, q RecommendationQuery) []recommend.Recommendation {
	type ranked struct {
		rec  recommend.Recommendation
		rank int
	}
	sortKey := q.Sort
	if sortKey == "" {
		sortKey = SortPriority
	}
	order := q.Order
	if order == "" {
		// The natural reading of each key: most urgent, largest cost impact,
		// most certain first.
		order = map[string]string{SortPriority: "asc", SortCost: "desc", SortConfidence: "desc"}[sortKey]
	}
	var out []ranked
	for i, r := range all {
		if (q.Category != "" && r.Category != q.Category) || (q.Family != "" && r.Family != q.Family) ||
			(q.Priority != "" && r.Priority != q.Priority) || r.Confidence < q.MinConfidence {
			continue
		}
		out = append(out, ranked{r, i})
	}
	desc := order == "desc"
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		var cmp float64
		switch sortKey {
		case SortCost:
			// A recommendation without a cost impact sorts last either way.
			ca, cb := a.rec.MonthlyUSD, b.rec.MonthlyUSD
			switch {
			case ca == nil && cb == nil:
			case ca == nil:
				return false
			case cb == nil:
				return true
			default:
				cmp = ca.HighUSD - cb.HighUSD
			}
		case SortConfidence:
			cmp = a.rec.Confidence - b.rec.Confidence
		default:
			cmp = float64(recommend.PriorityRank(a.rec.Priority) - recommend.PriorityRank(b.rec.Priority))
		}
		if desc {
			cmp = -cmp
		}
		if cmp != 0 {
			return cmp < 0
		}
		return a.rank < b.rank
	})
	recs := make([]recommend.Recommendation, 0, len(out))
	for _, r := range out {
		recs = append(recs, r.rec)
	}
	return recs
}

// Diff compares the stored reports and recommendations of two assessments of
// one tenant (a version pair, or a base and a scenario). An assessment
// without a report yet is a *NotComparableError.
func (r *Reports) Diff(ctx context.Context, base, other store.Assessment) (report.ReportDiff, error) {
	reports := make([][]byte, 2)
	recs := make([][]byte, 2)
	for i, a := range []store.Assessment{base, other} {
		rep, err := r.reports.Get(ctx, a.TenantID, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			return report.ReportDiff{}, &NotComparableError{ID: a.ID, Status: a.Status}
		}
		if err != nil {
			return report.ReportDiff{}, fmt.Errorf("get report of %s: %w", a.ID, err)
		}
		reports[i] = []byte(rep.Body)
		rec, err := r.recs.Get(ctx, a.TenantID, a.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A report without recommendations (a failed assessment): the
			// lists are then not compared.
		case err != nil:
			return report.ReportDiff{}, fmt.Errorf("get recommendations of %s: %w", a.ID, err)
		default:
			b, err := json.Marshal(rec.Set)
			if err != nil {
				return report.ReportDiff{}, fmt.Errorf("encode recommendations of %s: %w", a.ID, err)
			}
			recs[i] = b
		}
	}
	d, err := report.Diff(reports[0], reports[1], recs[0], recs[1])
	if err != nil {
		return report.ReportDiff{}, fmt.Errorf("compare %s with %s: %w", base.ID, other.ID, err)
	}
	return d, nil
}
