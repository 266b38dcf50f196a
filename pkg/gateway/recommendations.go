package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/recommend"
)

// ProblemRecommendationsNotReady is returned before an assessment's recommendations are written.
const ProblemRecommendationsNotReady = problemBase + "recommendations-not-ready"

// recommendationsQuery is a validated query of the recommendations list.
type recommendationsQuery app.RecommendationQuery

// fingerprint identifies the filters and sort a cursor was issued for, so a
// cursor replayed with another query is refused instead of skipping items.
func (q recommendationsQuery) fingerprint() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{q.Category, q.Family, q.Priority,
		strconv.FormatFloat(q.MinConfidence, 'g', -1, 64), q.Sort, q.Order}, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// recCursor is the cursor's content; clients see it only base64url-encoded.
type recCursor struct {
	Offset int    `json:"o"`
	Query  string `json:"q"`
}

func encodeRecCursor(c recCursor) string {
	b, _ := json.Marshal(c) //nolint:errchkjson // two plain fields cannot fail to encode
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseRecommendationsQuery(c echo.Context) (recommendationsQuery, error) {
	q := recommendationsQuery{Limit: defaultPageSize}
	oneOf := func(field string, allowed []string) (string, error) {
		v := c.QueryParam(field)
		if v != "" && !slices.Contains(allowed, v) {
			return "", invalidField(field, "must be one of "+strings.Join(allowed, ", "))
		}
		return v, nil
	}
	var err error
	if q.Category, err = oneOf("category", recommend.Categories()); err != nil {
		return q, err
	}
	families := make([]string, 0, len(assessment.Families()))
	for _, f := range assessment.Families() {
		families = append(families, string(f))
	}
	if q.Family, err = oneOf("family", families); err != nil {
		return q, err
	}
	if q.Priority, err = oneOf("priority", recommend.Priorities()); err != nil {
		return q, err
	}
	if raw := c.QueryParam("min_confidence"); raw != "" {
		v, perr := strconv.ParseFloat(raw, 64)
		if perr != nil || v < 0 || v > 1 {
			return q, invalidField("min_confidence", "must be a number from 0 to 1")
		}
		q.MinConfidence = v
	}
	if q.Sort, err = oneOf("sort", []string{app.SortPriority, app.SortCost, app.SortConfidence}); err != nil {
		return q, err
	}
	if q.Sort == "" {
		q.Sort = app.SortPriority
	}
	if q.Order, err = oneOf("order", []string{"asc", "desc"}); err != nil {
		return q, err
	}
	if q.Order == "" {
		// The natural reading of each key: most urgent, largest cost impact,
		// most certain first.
		q.Order = map[string]string{app.SortPriority: "asc", app.SortCost: "desc", app.SortConfidence: "desc"}[q.Sort]
	}
	if raw := c.QueryParam("limit"); raw != "" {
		n, perr := strconv.Atoi(raw)
		if perr != nil || n < 1 || n > maxPageSize {
			return q, invalidField("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize))
		}
		q.Limit = n
	}
	if raw := c.QueryParam("cursor"); raw != "" {
		var cur recCursor
		b, derr := base64.RawURLEncoding.DecodeString(raw)
		if derr != nil || json.Unmarshal(b, &cur) != nil || cur.Offset < 0 {
			return q, invalidField("cursor", "is not a cursor this endpoint issued")
		}
		if cur.Query != q.fingerprint() {
			return q, invalidField("cursor", "was issued for other filters or another sort; repeat them or start without a cursor")
		}
		q.Offset = cur.Offset
	}
	return q, nil
}

// getRecommendations handles GET /v1/assessments/{id}/recommendations
// (app.Reports.Recommendations).
func (s *Server) getRecommendations(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q, err := parseRecommendationsQuery(c)
	if err != nil {
		return err
	}
	page, err := s.reports.Recommendations(c.Request().Context(), tenantOf(c), id, app.RecommendationQuery(q))
	if err != nil {
		return err
	}
	body := api.RecommendationList{
		AssessmentID: id, Items: mapSlice(page.Items, recommendationOf), Total: page.Total,
		Resolutions: mapSlice(page.Resolutions, resolutionOf), EffortRule: page.EffortRule, ConfidenceRule: page.ConfidenceRule,
	}
	if page.Next > 0 {
		body.NextCursor = optional(encodeRecCursor(recCursor{Offset: page.Next, Query: q.fingerprint()}))
	}
	return c.JSON(http.StatusOK, body)
}
