package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// getReport handles GET /v1/assessments/{id}/report. Reports are read through
// a tenant-keyed Redis cache: a finished report does not change, and clients
// poll this endpoint. The cache is an optimisation only, so its failures are
// logged and the store answers.
func (s *Server) getReport(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	key := cache.Key(tenant, "report", id)

	var cached json.RawMessage
	hit, err := s.deps.Cache.GetJSON(ctx, key, &cached)
	if err != nil {
		s.log.WarnContext(ctx, "report cache read failed", slog.String("error", err.Error()), slog.String("assessment_id", id))
	}
	if hit && err == nil && json.Valid(cached) {
		c.Response().Header().Set("X-Cache", "hit")
		return c.JSONBlob(http.StatusOK, cached)
	}

	a, err := s.deps.Store.Assessments.Get(ctx, tenant, id)
	if err != nil {
		return fmt.Errorf("get assessment %s: %w", id, err)
	}
	if !assessment.Status(a.Status).Terminal() {
		return problem(http.StatusNotFound, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("The assessment is %s; its report is written when it finishes. Follow %s for progress.", a.Status, linksFor(id).Events))
	}
	rep, err := s.deps.Store.Reports.Get(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return problem(http.StatusNotFound, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("The assessment ended as %s and its report has not been stored yet.", a.Status))
	}
	if err != nil {
		return fmt.Errorf("get report of %s: %w", id, err)
	}
	body := json.RawMessage(rep.Body)
	if !json.Valid(body) {
		return fmt.Errorf("report of %s: stored body is not JSON", id)
	}
	if err := s.deps.Cache.SetJSON(ctx, key, body, s.cfg.ReportCacheTTL); err != nil {
		s.log.WarnContext(ctx, "report cache write failed", slog.String("error", err.Error()), slog.String("assessment_id", id))
	}
	c.Response().Header().Set("X-Cache", "miss")
	return c.JSONBlob(http.StatusOK, body)
}
