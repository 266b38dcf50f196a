package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// childLinks are the links of a version or a scenario.
type childLinks struct {
	links
	Base string `json:"base"`
}

// versionView is one version of an assessment as the API shows it.
type versionView struct {
	Version     int        `json:"version"`
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt time.Time  `json:"completed_at,omitzero"`
	Links       childLinks `json:"links"`
}

type versionsBody struct {
	Items []versionView `json:"items"`
}

// childAccepted is the 202 answer to creating a version or a scenario.
type childAccepted struct {
	createdBody
	BaseID  string     `json:"base_id"`
	Version int        `json:"version,omitempty"`
	Links   childLinks `json:"links"`
}

func childLinksFor(id, base string) childLinks {
	return childLinks{links: linksFor(id), Base: assessmentURL(base)}
}

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
	return c.JSON(http.StatusAccepted, childAccepted{
		createdBody: createdBody{ID: child.ID, Status: child.Status, StatusURL: u, EventsURL: u + "/events", ReportURL: u + "/report"},
		BaseID:      child.ParentID, Version: child.Version, Links: childLinksFor(child.ID, child.ParentID),
	})
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
	body := versionsBody{Items: make([]versionView, 0, len(children)+1)}
	body.Items = append(body.Items, versionViewOf(base, 1, base.ID))
	for _, v := range children {
		body.Items = append(body.Items, versionViewOf(v, v.Version, base.ID))
	}
	return c.JSON(http.StatusOK, body)
}

func versionViewOf(a store.Assessment, n int, base string) versionView {
	return versionView{
		Version: n, ID: a.ID, Status: a.Status, CreatedAt: a.CreatedAt, CompletedAt: a.CompletedAt,
		Links: childLinksFor(a.ID, base),
	}
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
	return c.JSON(http.StatusOK, d)
}
