package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// source is the CloudEvents source of everything the gateway publishes.
const source = "/services/gateway"

// HeaderIdempotencyKey makes POST /v1/assessments safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxIdemKeyLen   = 255
)

// idempotentID derives the assessment id of an Idempotency-Key: a name-based
// UUIDv5 (RFC 9562 section 5.5) of tenant and key, so a retry lands on the same
// assessment and two tenants' keys never collide. Tenant ids cannot contain
// '/', which keeps the name unambiguous.
func idempotentID(tenant, key string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://infra-mind.dev/idempotency-key/"+tenant+"/"+key)).String()
}

// createdBody is the 202 answer to POST /v1/assessments.
type createdBody struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
	EventsURL string `json:"events_url"`
	ReportURL string `json:"report_url"`
}

// assessmentView is an assessment as the API shows it.
type assessmentView struct {
	ID              string                       `json:"id"`
	Name            string                       `json:"name"`
	Status          string                       `json:"status"`
	Families        map[string]store.FamilyState `json:"families"`
	MissingFamilies []string                     `json:"missing_families,omitempty"`
	Reason          string                       `json:"reason,omitempty"`
	CorrelationID   string                       `json:"correlation_id,omitempty"`
	CreatedAt       time.Time                    `json:"created_at"`
	UpdatedAt       time.Time                    `json:"updated_at,omitzero"`
	Deadline        time.Time                    `json:"deadline"`
	CompletedAt     time.Time                    `json:"completed_at,omitzero"`
	// Request is the request as submitted (snake_case JSON); omitted in lists.
	Request json.RawMessage `json:"request,omitempty"`
	Links   links           `json:"links"`
}

type links struct {
	Self   string `json:"self"`
	Events string `json:"events"`
	Report string `json:"report"`
}

type listBody struct {
	Items      []assessmentView `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

func assessmentURL(id string) string { return "/v1/assessments/" + id }

func linksFor(id string) links {
	return links{Self: assessmentURL(id), Events: assessmentURL(id) + "/events", Report: assessmentURL(id) + "/report"}
}

func viewOf(a store.Assessment, withRequest bool) assessmentView {
	v := assessmentView{
		ID: a.ID, Name: a.Name, Status: a.Status, Families: a.Families,
		MissingFamilies: a.MissingFamilies, Reason: a.Reason, CorrelationID: a.CorrelationID,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Deadline: a.Deadline, CompletedAt: a.CompletedAt,
		Links: linksFor(a.ID),
	}
	if v.Families == nil {
		v.Families = map[string]store.FamilyState{}
	}
	if withRequest && json.Valid([]byte(a.Request)) {
		v.Request = json.RawMessage(a.Request)
	}
	return v
}

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

// createAssessment handles POST /v1/assessments.
func (s *Server) createAssessment(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	idemKey := c.Request().Header.Get(HeaderIdempotencyKey)
	if len(idemKey) > maxIdemKeyLen || strings.ContainsFunc(idemKey, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return invalidField(HeaderIdempotencyKey, "must be 1 to 255 visible ASCII characters")
	}
	req, err := readRequest(c)
	if err != nil {
		return err
	}
	reqJSON, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}

	var id string
	if idemKey != "" {
		id = idempotentID(tenant, idemKey)
	} else {
		u, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("new assessment id: %w", err)
		}
		id = u.String()
	}
	a := s.newAssessment(c, id, req, string(reqJSON))
	err = s.deps.Store.Assessments.Create(ctx, a)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrConflict) && idemKey != "":
		existing, gerr := s.deps.Store.Assessments.Get(ctx, tenant, id)
		if gerr != nil {
			return fmt.Errorf("load assessment %s for idempotent retry: %w", id, gerr)
		}
		stored := &inframindv1.AssessmentRequest{}
		if uerr := protojson.Unmarshal([]byte(existing.Request), stored); uerr != nil || !proto.Equal(stored, req) {
			return problem(http.StatusUnprocessableEntity, ProblemIdempotencyKey, "Idempotency key reused",
				"This Idempotency-Key was already used with a different request; use a new key for a new assessment.")
		}
		a = existing
		req = stored
		if assessment.Status(a.Status) != assessment.StatusQueued {
			// Already picked up: the first publish reached the workers.
			return s.accepted(c, a)
		}
	default:
		return fmt.Errorf("create assessment %s: %w", id, err)
	}
	if err := s.queue(c, a, req, "Retry with the same Idempotency-Key header to avoid a duplicate."); err != nil {
		return err
	}
	return s.accepted(c, a)
}

// newAssessment builds the queued document of a new assessment running req
// (reqJSON is its protojson), with every family pending and the deadline set.
// POST /v1/assessments, versions and scenarios all start here.
func (s *Server) newAssessment(c echo.Context, id string, req *inframindv1.AssessmentRequest, reqJSON string) store.Assessment {
	now := time.Now().UTC().Truncate(time.Millisecond)
	families := make(map[string]store.FamilyState, len(assessment.Families()))
	for _, f := range assessment.Families() {
		families[string(f)] = store.FamilyState{Status: "pending"}
	}
	a := store.Assessment{
		ID:            id,
		TenantID:      tenantOf(c),
		Name:          req.GetName(),
		Status:        string(assessment.StatusQueued),
		Request:       reqJSON,
		Families:      families,
		CorrelationID: requestID(c),
		CreatedAt:     now,
		UpdatedAt:     now,
		Deadline:      now.Add(s.cfg.AssessmentTimeout),
	}
	if a.CorrelationID == "" {
		a.CorrelationID = newRequestID()
	}
	return a
}

// queue publishes a stored, queued assessment to the pipeline; when the
// broker refuses, it sets Retry-After and returns a 503 whose detail ends
// with retryHint (how to retry without a duplicate).
func (s *Server) queue(c echo.Context, a store.Assessment, req *inframindv1.AssessmentRequest, retryHint string) error {
	ctx := c.Request().Context()
	if err := s.publishRequested(ctx, a, req); err != nil {
		s.log.ErrorContext(ctx, "publish assessment request", "error", err.Error(), "assessment_id", a.ID, "tenant", a.TenantID)
		p := problem(http.StatusServiceUnavailable, ProblemUnavailable, "Assessment not queued",
			"The assessment could not be queued. "+retryHint)
		p.cause = err
		c.Response().Header().Set("Retry-After", "5")
		return p
	}
	return nil
}

func (s *Server) accepted(c echo.Context, a store.Assessment) error {
	c.Response().Header().Set(echo.HeaderLocation, assessmentURL(a.ID))
	return c.JSON(http.StatusAccepted, createdBody{
		ID: a.ID, Status: a.Status, StatusURL: assessmentURL(a.ID),
		EventsURL: assessmentURL(a.ID) + "/events", ReportURL: assessmentURL(a.ID) + "/report",
	})
}

// publishRequested publishes the queued status event, then the
// RequestAssessment command. Both carry deterministic ids, so a retry is
// deduplicated by JetStream. The status goes first so a progress stream
// always starts with "queued".
func (s *Server) publishRequested(ctx context.Context, a store.Assessment, req *inframindv1.AssessmentRequest) error {
	carrier := map[string]string{}
	otel.GetTextMapPropagator().Inject(ctx, mapCarrier(carrier))
	meta := func(eventID string) *inframindv1.Metadata {
		return &inframindv1.Metadata{
			EventId: eventID, TenantId: a.TenantID, AssessmentId: a.ID,
			CorrelationId: a.CorrelationID, Traceparent: carrier["traceparent"],
			Time: timestamppb.New(a.CreatedAt),
		}
	}
	families := make([]string, 0, len(assessment.Families()))
	for _, f := range assessment.Families() {
		families = append(families, string(f))
	}
	statusID := assessment.DeterministicID(a.ID, string(assessment.StatusQueued))
	if err := s.deps.Bus.Publish(ctx, bus.Message{
		ID: statusID, Type: bus.TypeStatusChanged, Source: source,
		Subject: bus.SubjectStatus(a.TenantID, a.ID), Tenant: a.TenantID, CESubject: a.ID, Time: a.CreatedAt,
		Data: &inframindv1.AssessmentStatusChanged{
			Metadata: meta(statusID), Status: string(assessment.StatusQueued),
			TotalFamilies: int32(len(families)), Message: "assessment queued",
		},
	}); err != nil {
		return fmt.Errorf("publish queued status of %s: %w", a.ID, err)
	}
	if err := s.deps.Bus.Publish(ctx, bus.Message{
		ID: a.ID, Type: bus.TypeAssessmentRequested, Source: source,
		Subject: bus.SubjectRequested(a.TenantID), Tenant: a.TenantID, CESubject: a.ID, Time: a.CreatedAt,
		Data: &inframindv1.RequestAssessment{Metadata: meta(a.ID), Request: req, Families: families},
	}); err != nil {
		return fmt.Errorf("publish request of %s: %w", a.ID, err)
	}
	return nil
}

// mapCarrier adapts a map to the propagator's carrier interface.
type mapCarrier map[string]string

func (m mapCarrier) Get(k string) string { return m[k] }
func (m mapCarrier) Set(k, v string)     { m[k] = v }
func (m mapCarrier) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// listAssessments handles GET /v1/assessments.
func (s *Server) listAssessments(c echo.Context) error {
	limit := defaultPageSize
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			return invalidField("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize))
		}
		limit = n
	}
	page, err := s.deps.Store.Assessments.List(c.Request().Context(), tenantOf(c),
		store.ListOptions{Limit: limit, Cursor: c.QueryParam("cursor")})
	if err != nil {
		return fmt.Errorf("list assessments: %w", err)
	}
	body := listBody{Items: make([]assessmentView, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, a := range page.Items {
		body.Items = append(body.Items, viewOf(a, false))
	}
	return c.JSON(http.StatusOK, body)
}

// getAssessment handles GET /v1/assessments/{id}.
func (s *Server) getAssessment(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.deps.Store.Assessments.Get(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return fmt.Errorf("get assessment %s: %w", id, err)
	}
	return c.JSON(http.StatusOK, viewOf(a, true))
}
