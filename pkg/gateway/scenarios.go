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
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/scenario"
)

// maxScenarioName bounds a scenario's name, like a request's name.
const maxScenarioName = 200

// readScenario reads and checks the body of a scenario request, the
// document's ScenarioRequest. Its overrides are taken out as sent and read
// by scenario.Parse, which names the field and the reason of a mistake in
// them; the rest is decoded into the generated type, refusing unknown fields.
func readScenario(c echo.Context) (string, scenario.Overrides, error) {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return "", scenario.Overrides{}, problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json.")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", scenario.Overrides{}, mbe
		}
		return "", scenario.Overrides{}, problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
	}
	var fields map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&fields); err != nil {
		return "", scenario.Overrides{}, invalidField("body", "must be a JSON object with name and overrides")
	}
	// encoding/json matches a key to a field regardless of case, so does this.
	var overrides json.RawMessage
	for k, v := range fields {
		if strings.EqualFold(k, "overrides") && (overrides == nil || k == "overrides") {
			overrides = v
		}
		if strings.EqualFold(k, "overrides") {
			delete(fields, k)
		}
	}
	rest, err := json.Marshal(fields)
	if err != nil {
		return "", scenario.Overrides{}, fmt.Errorf("re-encode the scenario request: %w", err)
	}
	var sr api.ScenarioRequest
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return "", scenario.Overrides{}, invalidField(strings.Trim(name, `"`), "is not a scenario field; send name and overrides")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return "", scenario.Overrides{}, invalidField(te.Field, "has the wrong type")
		}
		return "", scenario.Overrides{}, invalidField("body", "must be a JSON object with name and overrides")
	}
	name := val(sr.Name)
	if n := utf8.RuneCountInString(name); n > maxScenarioName || !utf8.ValidString(name) {
		return "", scenario.Overrides{}, invalidField("name", fmt.Sprintf("must be at most %d characters", maxScenarioName))
	}
	o, err := scenario.Parse(overrides)
	if err != nil {
		return "", scenario.Overrides{}, err
	}
	return name, o, nil
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
	name, o, err := readScenario(c)
	if err != nil {
		return err
	}
	child, err := s.app.CreateScenario(ctx, caller(c), base, app.Scenario{Name: name, Overrides: o})
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
	body := api.ScenarioList{Items: make([]api.Scenario, 0, len(children))}
	for _, a := range children {
		body.Items = append(body.Items, scenarioOf(a))
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
	v := scenarioOf(sc)
	d, err := s.reports.Diff(ctx, base, sc)
	var nc *app.NotComparableError
	switch {
	case err == nil:
		ad := reportDiffOf(d)
		v.Diff = &ad
	case errors.As(err, &nc):
		// Not both reports yet: the scenario is shown without its diff.
	default:
		return err
	}
	return c.JSON(http.StatusOK, v)
}
