package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// maxVersionAttempts bounds how many version numbers one re-run tries when
// concurrent re-runs take the ones it picked.
const maxVersionAttempts = 8

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

// loadBase reads tenant's assessment id and requires it to be a base:
// versions and scenarios hang off the base (version 1), never off a child.
func (s *Server) loadBase(ctx context.Context, tenant, id string) (store.Assessment, error) {
	a, err := s.deps.Store.Assessments.Get(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("get assessment %s: %w", id, err)
	}
	if a.Kind != store.KindBase {
		return store.Assessment{}, problem(http.StatusConflict, ProblemInvalidRequest, "Not a base assessment",
			fmt.Sprintf("This assessment is a %s of %s; versions and scenarios are made from the base, %s.",
				a.Kind, a.ParentID, assessmentURL(a.ParentID)))
	}
	return a, nil
}

// storedRequest decodes the request an assessment ran.
func storedRequest(a store.Assessment) (*inframindv1.AssessmentRequest, error) {
	req := &inframindv1.AssessmentRequest{}
	if err := protojson.Unmarshal([]byte(a.Request), req); err != nil {
		return nil, fmt.Errorf("decode the stored request of %s: %w", a.ID, err)
	}
	return req, nil
}

// createVersion handles POST /v1/assessments/{id}/versions: it runs the
// base's stored request again (against the catalogue loaded now) as the next
// version, a child assessment with its own id, events and report.
func (s *Server) createVersion(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	base, err := s.loadBase(ctx, tenantOf(c), id)
	if err != nil {
		return err
	}
	req, err := storedRequest(base)
	if err != nil {
		return err
	}
	versions, err := s.deps.Store.Assessments.Children(ctx, base.TenantID, base.ID, store.KindVersion)
	if err != nil {
		return fmt.Errorf("list versions of %s: %w", base.ID, err)
	}
	next := 2 // version 1 is the base itself
	for _, v := range versions {
		next = max(next, v.Version+1)
	}
	// Insert first on the deterministic id of the version number: of two
	// concurrent re-runs picking the same number, one gets the primary key
	// and the other moves on to the next number.
	var child store.Assessment
	for attempt := 0; ; attempt++ {
		if attempt == maxVersionAttempts {
			return problem(http.StatusConflict, ProblemUnavailable, "Version not created",
				"Too many re-runs of this assessment at once; retry in a moment.")
		}
		child = s.newAssessment(c, store.VersionID(base.ID, next), req, base.Request)
		child.ParentID, child.Kind, child.Version = base.ID, store.KindVersion, next
		err = s.deps.Store.Assessments.Create(ctx, child)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create version %d of %s: %w", next, base.ID, err)
		}
		next++
	}
	if err := s.queue(c, child, req, "Retry the request; it creates the next version."); err != nil {
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
	base, children, err := s.childrenOf(c, store.KindVersion)
	if err != nil {
		return err
	}
	slices.SortFunc(children, func(a, b store.Assessment) int { return a.Version - b.Version })
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

// version loads version n of base (1 is the base itself).
func (s *Server) version(ctx context.Context, base store.Assessment, n int, param string) (store.Assessment, error) {
	if n == 1 {
		return base, nil
	}
	v, err := s.deps.Store.Assessments.Get(ctx, base.TenantID, store.VersionID(base.ID, n))
	if errors.Is(err, store.ErrNotFound) {
		p := notFound(fmt.Sprintf("This assessment has no version %d (%s=%d).", n, param, n))
		p.Errors = []assessment.FieldError{{Field: param, Reason: fmt.Sprintf("version %d does not exist", n)}}
		return store.Assessment{}, p
	}
	if err != nil {
		return store.Assessment{}, fmt.Errorf("get version %d of %s: %w", n, base.ID, err)
	}
	return v, nil
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
	base, err := s.loadBase(ctx, tenantOf(c), id)
	if err != nil {
		return err
	}
	a, err := s.version(ctx, base, from, "from")
	if err != nil {
		return err
	}
	b, err := s.version(ctx, base, to, "to")
	if err != nil {
		return err
	}
	d, err := s.diff(ctx, a, b)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// diff compares the stored reports and recommendations of two assessments
// of one tenant. A report not written yet is a 409 naming the assessment.
func (s *Server) diff(ctx context.Context, base, other store.Assessment) (report.ReportDiff, error) {
	reports := make([][]byte, 2)
	recs := make([][]byte, 2)
	for i, a := range []store.Assessment{base, other} {
		rep, err := s.deps.Store.Reports.Get(ctx, a.TenantID, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			p := problem(http.StatusConflict, ProblemReportNotReady, "Report not ready",
				fmt.Sprintf("Assessment %s is %s and has no report yet; follow %s and retry when it completes.",
					a.ID, a.Status, linksFor(a.ID).Events))
			return report.ReportDiff{}, p
		}
		if err != nil {
			return report.ReportDiff{}, fmt.Errorf("get report of %s: %w", a.ID, err)
		}
		reports[i] = []byte(rep.Body)
		rec, err := s.deps.Store.Recommendations.Get(ctx, a.TenantID, a.ID)
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

// childrenOf loads the base assessment named in the path (within the
// caller's tenant) and its children of kind.
func (s *Server) childrenOf(c echo.Context, kind string) (store.Assessment, []store.Assessment, error) {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return store.Assessment{}, nil, err
	}
	base, err := s.loadBase(ctx, tenantOf(c), id)
	if err != nil {
		return store.Assessment{}, nil, err
	}
	children, err := s.deps.Store.Assessments.Children(ctx, base.TenantID, base.ID, kind)
	if err != nil {
		return store.Assessment{}, nil, fmt.Errorf("list %s children of %s: %w", kind, base.ID, err)
	}
	return base, children, nil
}
