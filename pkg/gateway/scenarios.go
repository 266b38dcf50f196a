package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/scenario"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// maxScenarioName bounds a scenario's name, like a request's name.
const maxScenarioName = 200

// scenarioRequest is the body of POST /v1/assessments/{id}/scenarios.
type scenarioRequest struct {
	Name      string          `json:"name"`
	Overrides json.RawMessage `json:"overrides"`
}

// scenarioView is a scenario as the API shows it.
type scenarioView struct {
	ID          string          `json:"id"`
	BaseID      string          `json:"base_id"`
	Name        string          `json:"name"`
	Status      string          `json:"status"`
	Overrides   json.RawMessage `json:"overrides"`
	CreatedAt   time.Time       `json:"created_at"`
	CompletedAt time.Time       `json:"completed_at,omitzero"`
	Links       api.ChildLinks  `json:"links"`
	// Diff compares the base's report with the scenario's, once both exist.
	Diff *report.ReportDiff `json:"diff,omitempty"`
}

type scenariosBody struct {
	Items []scenarioView `json:"items"`
}

func scenarioViewOf(a store.Assessment) scenarioView {
	v := scenarioView{
		ID: a.ID, BaseID: a.ParentID, Name: a.Name, Status: a.Status, Overrides: json.RawMessage("{}"),
		CreatedAt: a.CreatedAt, CompletedAt: a.CompletedAt, Links: childLinksFor(a.ID, a.ParentID),
	}
	if json.Valid([]byte(a.Overrides)) {
		v.Overrides = json.RawMessage(a.Overrides)
	}
	return v
}

// readScenario reads and checks the body of a scenario request.
func readScenario(c echo.Context) (scenarioRequest, scenario.Overrides, error) {
	var sr scenarioRequest
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return sr, scenario.Overrides{}, problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json.")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return sr, scenario.Overrides{}, mbe
		}
		return sr, scenario.Overrides{}, problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return sr, scenario.Overrides{}, invalidField(strings.Trim(name, `"`), "is not a scenario field; send name and overrides")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return sr, scenario.Overrides{}, invalidField(te.Field, "has the wrong type")
		}
		return sr, scenario.Overrides{}, invalidField("body", "must be a JSON object with name and overrides")
	}
	if n := utf8.RuneCountInString(sr.Name); n > maxScenarioName || !utf8.ValidString(sr.Name) {
		return sr, scenario.Overrides{}, invalidField("name", fmt.Sprintf("must be at most %d characters", maxScenarioName))
	}
	o, err := scenario.Parse(sr.Overrides)
	if err != nil {
		return sr, scenario.Overrides{}, err
	}
	return sr, o, nil
}

// createScenario handles POST /v1/assessments/{id}/scenarios: the base's
// request with the overrides applied runs through the pipeline as a child
// assessment (app.CreateScenario), and its report is compared with the base's
// on read.
func (s *Server) createScenario(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	base, err := s.app.Base(ctx, tenantOf(c), id)
	if err != nil {
		return err
	}
	sr, o, err := readScenario(c)
	if err != nil {
		return err
	}
	child, err := s.app.CreateScenario(ctx, caller(c), base, app.Scenario{Name: sr.Name, Overrides: o})
	if err != nil {
		return err
	}
	return acceptedChild(c, child)
}

// listScenarios handles GET /v1/assessments/{id}/scenarios, oldest first.
func (s *Server) listScenarios(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	children, err := s.app.Scenarios(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return err
	}
	body := scenariosBody{Items: make([]scenarioView, 0, len(children))}
	for _, a := range children {
		body.Items = append(body.Items, scenarioViewOf(a))
	}
	return c.JSON(http.StatusOK, body)
}

// getScenario handles GET /v1/assessments/{id}/scenarios/{sid}: the
// scenario, its overrides and status and, once both reports are written,
// the diff of the base against it.
func (s *Server) getScenario(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sid := c.Param("sid")
	if !validID(sid) {
		return notFound("No such scenario.")
	}
	base, sc, err := s.app.Scenario(ctx, tenantOf(c), id, sid)
	if err != nil {
		return err
	}
	v := scenarioViewOf(sc)
	d, err := s.reports.Diff(ctx, base, sc)
	var nc *app.NotComparableError
	switch {
	case err == nil:
		v.Diff = &d
	case errors.As(err, &nc):
		// Not both reports yet: the scenario is shown without its diff.
	default:
		return err
	}
	return c.JSON(http.StatusOK, v)
}
