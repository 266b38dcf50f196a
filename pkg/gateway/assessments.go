package gateway

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Source is the CloudEvents source of everything the gateway publishes (the
// composition root gives it to the queue and the purge schedules).
const Source = "/services/gateway"

// HeaderIdempotencyKey makes POST /v1/assessments safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxIdemKeyLen   = 255
)

// validID reports whether id can be an assessment id: ids become NATS
// subject tokens, so only UUID characters are allowed.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}

// pathID returns the :id parameter, or a 404 for one that cannot exist.
func pathID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !validID(id) {
		return "", notFound("No such assessment.")
	}
	return id, nil
}

// readRequest checks the content type, reads the (size-limited) body and
// parses it into a validated AssessmentRequest.
func readRequest(c echo.Context) (*inframindv1.AssessmentRequest, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json or application/yaml.")
	}
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	isYAML := mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml"
	if !isJSON && !isYAML {
		return nil, problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			fmt.Sprintf("Content-Type %s is not supported; send application/json or application/yaml.", mt))
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, mbe
		}
		return nil, problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
	}
	if trimmed := strings.TrimSpace(string(body)); isJSON && trimmed != "" && !strings.HasPrefix(trimmed, "{") {
		return nil, &assessment.ValidationError{Errors: []assessment.FieldError{{
			Reason: "not valid JSON: the body must be a JSON object (send YAML as application/yaml)",
		}}}
	}
	return assessment.ParseRequest(body)
}

// caller is who the request runs as, for the use cases.
func caller(c echo.Context) app.Caller {
	return app.Caller{Tenant: tenantOf(c), CorrelationID: requestID(c)}
}

// createAssessment handles POST /v1/assessments.
func (s *Server) createAssessment(c echo.Context) error {
	idemKey := c.Request().Header.Get(HeaderIdempotencyKey)
	if len(idemKey) > maxIdemKeyLen || strings.ContainsFunc(idemKey, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return invalidField(HeaderIdempotencyKey, "must be 1 to 255 visible ASCII characters")
	}
	_, span := step(c, "parse request")
	req, err := readRequest(c)
	endStep(span, err)
	if err != nil {
		return err
	}
	a, err := s.app.Submit(c.Request().Context(), app.Submission{Caller: caller(c), IdempotencyKey: idemKey, Request: req})
	if err != nil {
		return err
	}
	return s.accepted(c, a)
}

func (s *Server) accepted(c echo.Context, a store.Assessment) error {
	c.Response().Header().Set(echo.HeaderLocation, assessmentURL(a.ID))
	return c.JSON(http.StatusAccepted, createdOf(a))
}

// pageLimit parses the limit query parameter of a list (defaultPageSize when absent).
func pageLimit(c echo.Context) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, invalidField("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize))
	}
	return n, nil
}

// listAssessments handles GET /v1/assessments.
func (s *Server) listAssessments(c echo.Context) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	page, err := s.app.List(c.Request().Context(), tenantOf(c), store.ListOptions{Limit: limit, Cursor: c.QueryParam("cursor")})
	if err != nil {
		return err
	}
	body := api.AssessmentList{Items: make([]api.Assessment, 0, len(page.Items)), NextCursor: optional(page.NextCursor)}
	for _, a := range page.Items {
		v, err := assessmentOf(a, false)
		if err != nil {
			return err
		}
		body.Items = append(body.Items, v)
	}
	return c.JSON(http.StatusOK, body)
}

// getAssessment handles GET /v1/assessments/{id}.
func (s *Server) getAssessment(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.app.Get(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return err
	}
	v, err := assessmentOf(a, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
