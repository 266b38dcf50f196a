package gateway

import (
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
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
// PDF (app.Reports.Report). The stored JSON is read through a tenant-keyed
// Redis cache (a finished report does not change, and clients poll this
// endpoint) and rendered per request.
func (s *Server) getReport(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	format, prob := chooseFormat(c.QueryParam("format"), c.Request().Header.Get(echo.HeaderAccept))
	if prob != nil {
		return prob
	}
	out, err := s.reports.Report(c.Request().Context(), tenantOf(c), id, app.Format(format.name))
	if err != nil {
		return err
	}
	cacheState := "miss"
	if out.Cached {
		cacheState = "hit"
	}
	c.Response().Header().Set("X-Cache", cacheState)
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)
	contentType := format.mediaType + "; charset=utf-8"
	if format.name == "pdf" {
		contentType = format.mediaType
	}
	disposition := "inline"
	if format.attachment {
		disposition = "attachment"
	}
	c.Response().Header().Set(echo.HeaderContentDisposition,
		mime.FormatMediaType(disposition, map[string]string{"filename": reportFileName(out.Name, id, format.ext)}))
	return c.Blob(http.StatusOK, contentType, out.Body)
}
