package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/report/render"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// ProblemNotAcceptable is the problem type for an Accept header no report format satisfies.
const ProblemNotAcceptable = problemBase + "not-acceptable"

// reportFormat is one way the report can be served.
type reportFormat struct {
	name, mediaType, ext string
	// attachment formats are files people save (Markdown, PDF).
	attachment bool
}

// reportFormats lists the formats in the order content negotiation prefers
// them when an Accept range matches several.
func reportFormats() []reportFormat {
	return []reportFormat{
		{name: "json", mediaType: "application/json", ext: "json"},
		{name: "html", mediaType: "text/html", ext: "html"},
		{name: "markdown", mediaType: "text/markdown", ext: "md", attachment: true},
		{name: "pdf", mediaType: "application/pdf", ext: "pdf", attachment: true},
	}
}

// chooseFormat picks the format from ?format= (which wins) or the Accept header
// (RFC 9110 section 12.5.1: the highest q-value wins; q=0 excludes).
func chooseFormat(query, accept string) (reportFormat, *Problem) {
	formats := reportFormats()
	if query != "" {
		for _, f := range formats {
			if f.name == strings.ToLower(query) {
				return f, nil
			}
		}
		return reportFormat{}, invalidField("format", fmt.Sprintf("%q is not a report format; use json, markdown, html or pdf", query))
	}
	if strings.TrimSpace(accept) == "" {
		return formats[0], nil
	}
	type rangeQ struct {
		media string
		q     float64
		order int
	}
	var ranges []rangeQ
	for i, part := range strings.Split(accept, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if pq, err := strconv.ParseFloat(v, 64); err == nil {
				q = pq
			}
		}
		if q > 0 {
			ranges = append(ranges, rangeQ{media, q, i})
		}
	}
	sort.SliceStable(ranges, func(i, j int) bool { return ranges[i].q > ranges[j].q })
	for _, r := range ranges {
		for _, f := range formats {
			if mediaMatches(r.media, f.mediaType) {
				return f, nil
			}
		}
	}
	return reportFormat{}, problem(http.StatusNotAcceptable, ProblemNotAcceptable, "Not acceptable",
		fmt.Sprintf("Accept %q matches no report format; the report is served as application/json, text/markdown, text/html or application/pdf (or use ?format=).", accept))
}

// mediaMatches reports whether an Accept media range covers a media type.
func mediaMatches(rng, media string) bool {
	if rng == "*/*" || rng == media {
		return true
	}
	typ, _, _ := strings.Cut(media, "/")
	return rng == typ+"/*"
}

// reportFileName is the download name: infra-mind-<name-slug>-<id>.<ext>.
func reportFileName(name, id, ext string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		return fmt.Sprintf("infra-mind-%s.%s", id, ext)
	}
	return fmt.Sprintf("infra-mind-%s-%s.%s", slug, id, ext)
}

// getReport handles GET /v1/assessments/{id}/report in JSON, Markdown, HTML or
// PDF. The stored JSON is read through a tenant-keyed Redis cache (a finished
// report does not change, and clients poll this endpoint) and rendered per
// request. The cache is an optimisation only, so its failures are logged and
// the store answers.
func (s *Server) getReport(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	format, prob := chooseFormat(c.QueryParam("format"), c.Request().Header.Get(echo.HeaderAccept))
	if prob != nil {
		return prob
	}
	body, cacheState, err := s.storedReport(c, id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Cache", cacheState)
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)

	// The synthesizer stored the report model when the assessment closed:
	// JSON is the stored document itself, the other formats render it.
	out, name, err := renderReport(body, format.name)
	if err != nil {
		return fmt.Errorf("render report of %s as %s: %w", id, format.name, err)
	}
	contentType := format.mediaType + "; charset=utf-8"
	if format.name == "pdf" {
		contentType = format.mediaType
	}
	disposition := "inline"
	if format.attachment {
		disposition = "attachment"
	}
	c.Response().Header().Set(echo.HeaderContentDisposition,
		mime.FormatMediaType(disposition, map[string]string{"filename": reportFileName(name, id, format.ext)}))
	return c.Blob(http.StatusOK, contentType, out)
}

// renderReport renders a stored report document in a format and returns it
// with the assessment's name (for the download's file name).
func renderReport(body []byte, format string) ([]byte, string, error) {
	if format == "json" {
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			return nil, "", fmt.Errorf("decode stored report: %w", err)
		}
		return body, head.Name, nil
	}
	doc, err := report.Decode(body)
	if err != nil {
		return nil, "", err
	}
	var out []byte
	switch format {
	case "markdown":
		out = render.Markdown(doc.Model)
	case "html":
		out, err = render.HTML(doc.Model)
	case "pdf":
		out, err = render.PDF(doc.Model)
	default:
		err = fmt.Errorf("unknown report format %q", format)
	}
	return out, doc.Name, err
}

// storedReport returns the stored report JSON of a finished assessment, from
// the cache when it holds it, and whether the cache answered ("hit"/"miss").
func (s *Server) storedReport(c echo.Context, id string) (json.RawMessage, string, error) {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	key := cache.Key(tenant, "report", id)

	var cached json.RawMessage
	hit, err := s.deps.Cache.GetJSON(ctx, key, &cached)
	if err != nil {
		s.log.WarnContext(ctx, "report cache read failed", slog.String("error", err.Error()), slog.String("assessment_id", id))
	}
	if hit && err == nil && json.Valid(cached) {
		return cached, "hit", nil
	}

	a, err := s.deps.Store.Assessments.Get(ctx, tenant, id)
	if err != nil {
		return nil, "", fmt.Errorf("get assessment %s: %w", id, err)
	}
	if !assessment.Status(a.Status).Terminal() {
		return nil, "", problem(http.StatusNotFound, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("The assessment is %s; its report is written when it finishes. Follow %s for progress.", a.Status, linksFor(id).Events))
	}
	rep, err := s.deps.Store.Reports.Get(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", problem(http.StatusNotFound, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("The assessment ended as %s and its report has not been stored yet.", a.Status))
	}
	if err != nil {
		return nil, "", fmt.Errorf("get report of %s: %w", id, err)
	}
	body := json.RawMessage(rep.Body)
	if !json.Valid(body) {
		return nil, "", fmt.Errorf("report of %s: stored body is not JSON", id)
	}
	if err := s.deps.Cache.SetJSON(ctx, key, body, s.cfg.ReportCacheTTL); err != nil {
		s.log.WarnContext(ctx, "report cache write failed", slog.String("error", err.Error()), slog.String("assessment_id", id))
	}
	return body, "miss", nil
}
