package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// createVersion handles POST /v1/assessments/{id}/versions: it runs the
// base's stored request again as the next version (app.CreateVersion).
func (s *Server) createVersion(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	child, err := s.app.CreateVersion(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return acceptedChild(c, child)
}

// acceptedChild answers 202 for a queued version or scenario.
func acceptedChild(c echo.Context, child store.Assessment) error {
	u := assessmentURL(child.ID)
	c.Response().Header().Set(echo.HeaderLocation, u)
	return c.JSON(http.StatusAccepted, childCreatedOf(child))
}

// listVersions handles GET /v1/assessments/{id}/versions: version 1 is the
// base, then each re-run by number.
func (s *Server) listVersions(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	base, children, err := s.app.Versions(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return err
	}
	body := api.VersionList{Items: make([]api.Version, 0, len(children)+1)}
	body.Items = append(body.Items, versionOf(base, 1, base.ID))
	for _, v := range children {
		body.Items = append(body.Items, versionOf(v, v.Version, base.ID))
	}
	return c.JSON(http.StatusOK, body)
}

// versionParam parses a version number query parameter.
func versionParam(c echo.Context, name string) (int, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return 0, invalidField(name, "is required: a version number, 1 for the base")
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, invalidField(name, fmt.Sprintf("%q is not a version number; use 1 for the base, 2 and up for re-runs", raw))
	}
	return n, nil
}

// diffVersions handles GET /v1/assessments/{id}/versions/diff?from=&to=.
func (s *Server) diffVersions(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	from, err := versionParam(c, "from")
	if err != nil {
		return err
	}
	to, err := versionParam(c, "to")
	if err != nil {
		return err
	}
	a, b, err := s.app.VersionPair(ctx, tenantOf(c), id, from, to)
	if err != nil {
		return err
	}
	d, err := s.reports.Diff(ctx, a, b)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reportDiffOf(d))
}
