package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// ProblemRecommendationsNotReady is returned before an assessment's recommendations are written.
const ProblemRecommendationsNotReady = problemBase + "recommendations-not-ready"

// Sort keys of the recommendations list.
const (
	sortPriority   = "priority"
	sortCost       = "cost"
	sortConfidence = "confidence"
)

// recommendationsQuery is a validated query of the recommendations list.
type recommendationsQuery struct {
	Category, Family, Priority string
	MinConfidence              float64
	Sort, Order                string
	Limit, Offset              int
}

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
	if q.Sort, err = oneOf("sort", []string{sortPriority, sortCost, sortConfidence}); err != nil {
		return q, err
	}
	if q.Sort == "" {
		q.Sort = sortPriority
	}
	if q.Order, err = oneOf("order", []string{"asc", "desc"}); err != nil {
		return q, err
	}
	if q.Order == "" {
		// The natural reading of each key: most urgent, largest cost impact,
		// most certain first.
		q.Order = map[string]string{sortPriority: "asc", sortCost: "desc", sortConfidence: "desc"}[q.Sort]
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

// recommendationsBody is one page of an assessment's recommendations.
type recommendationsBody struct {
	AssessmentID   string                     `json:"assessment_id"`
	Items          []recommend.Recommendation `json:"items"`
	Total          int                        `json:"total"`
	NextCursor     string                     `json:"next_cursor,omitempty"`
	Resolutions    []recommend.Resolution     `json:"resolutions"`
	EffortRule     string                     `json:"effort_rule"`
	ConfidenceRule string                     `json:"confidence_rule"`
}

// getRecommendations handles GET /v1/assessments/{id}/recommendations. The
// whole list is one document read by key, filtered, sorted and paged here: a
// page costs one database round trip (two when the list is not written yet,
// to tell "not ready" from "no such assessment"), whatever the list's length.
func (s *Server) getRecommendations(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q, err := parseRecommendationsQuery(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	doc, err := s.deps.Store.Recommendations.Get(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		// The key carries the tenant: another tenant's assessment is not
		// found here, and the assessment read below is tenant-scoped too.
		a, aerr := s.deps.Store.Assessments.Get(ctx, tenant, id)
		if aerr != nil {
			return fmt.Errorf("get assessment %s: %w", id, aerr)
		}
		return problem(http.StatusNotFound, ProblemRecommendationsNotReady, "Recommendations not ready",
			fmt.Sprintf("The assessment is %s; its recommendations are written when it finishes. Follow %s for progress.", a.Status, linksFor(id).Events))
	}
	if err != nil {
		return fmt.Errorf("get recommendations of %s: %w", id, err)
	}
	items := selectRecommendations(doc.Set.Recommendations, q)
	body := recommendationsBody{
		AssessmentID: id, Total: len(items),
		Resolutions: doc.Set.Resolutions, EffortRule: doc.Set.EffortRule, ConfidenceRule: doc.Set.ConfidenceRule,
	}
	if body.Resolutions == nil {
		body.Resolutions = []recommend.Resolution{}
	}
	start := min(q.Offset, len(items))
	end := min(start+q.Limit, len(items))
	body.Items = items[start:end]
	if end < len(items) {
		body.NextCursor = encodeRecCursor(recCursor{Offset: end, Query: q.fingerprint()})
	}
	return c.JSON(http.StatusOK, body)
}

// selectRecommendations filters and sorts the stored list; ties keep the
// stored rank, so every order is deterministic.
func selectRecommendations(all []recommend.Recommendation, q recommendationsQuery) []recommend.Recommendation {
	type ranked struct {
		rec  recommend.Recommendation
		rank int
	}
	var out []ranked
	for i, r := range all {
		if (q.Category != "" && r.Category != q.Category) || (q.Family != "" && r.Family != q.Family) ||
			(q.Priority != "" && r.Priority != q.Priority) || r.Confidence < q.MinConfidence {
			continue
		}
		out = append(out, ranked{r, i})
	}
	desc := q.Order == "desc"
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		var cmp float64
		switch q.Sort {
		case sortCost:
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
		case sortConfidence:
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
