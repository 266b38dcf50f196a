package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/advisor/estimate"
	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// problemBase prefixes every problem type URI; each type is documented in
// docs/api/openapi.json.
const problemBase = "https://infra-mind.dev/problems/"

// Problem type URIs (RFC 9457 "type").
const (
	ProblemInvalidRequest = problemBase + "invalid-request"
	ProblemUnauthorized   = problemBase + "unauthorized"
	// ProblemForbidden: the token is valid but its role may not call the
	// route (access.go).
	ProblemForbidden       = problemBase + "forbidden"
	ProblemNotFound        = problemBase + "not-found"
	ProblemReportNotReady  = problemBase + "report-not-ready"
	ProblemTooLarge        = problemBase + "payload-too-large"
	ProblemUnsupportedType = problemBase + "unsupported-media-type"
	ProblemIdempotencyKey  = problemBase + "idempotency-key-reused"
	ProblemMethod          = problemBase + "method-not-allowed"
	ProblemUnavailable     = problemBase + "unavailable"
	ProblemInternal        = problemBase + "internal"
)

// contentTypeProblem is the RFC 9457 media type.
const contentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem detail, and an error handlers return so the
// one error mapper (handleError) renders it unchanged.
type Problem struct {
	Type     string                  `json:"type"`
	Title    string                  `json:"title"`
	Status   int                     `json:"status"`
	Detail   string                  `json:"detail,omitempty"`
	Instance string                  `json:"instance,omitempty"`
	Errors   []assessment.FieldError `json:"errors,omitempty"`
	// RequestID lets a user quote the failing request to support.
	RequestID string `json:"request_id,omitempty"`
	// Budget names the language model budget that is used up (type
	// llm-budget-exceeded).
	Budget *api.LLMBudgetExceeded `json:"budget,omitempty"`

	// header holds extra response headers (WWW-Authenticate).
	header http.Header
	// cause is logged, never shown.
	cause error
}

// Error describes the problem for logs.
func (p *Problem) Error() string {
	if p.cause != nil {
		return p.Title + ": " + p.Detail + ": " + p.cause.Error()
	}
	return p.Title + ": " + p.Detail
}

// Unwrap returns the underlying cause.
func (p *Problem) Unwrap() error { return p.cause }

func problem(status int, typ, title, detail string) *Problem {
	return &Problem{Type: typ, Title: title, Status: status, Detail: detail}
}

func invalidField(field, reason string) *Problem {
	p := problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", field+": "+reason)
	p.Errors = []assessment.FieldError{{Field: field, Reason: reason}}
	return p
}

func notFound(detail string) *Problem {
	return problem(http.StatusNotFound, ProblemNotFound, "Not found", detail)
}

// unauthorized builds a 401 with the RFC 6750 challenge. An absent token gets
// a bare challenge; a rejected one says invalid_token.
func unauthorized(detail string, invalidToken bool, cause error) *Problem {
	p := problem(http.StatusUnauthorized, ProblemUnauthorized, "Unauthorized", detail)
	challenge := `Bearer realm="infra-mind"`
	if invalidToken {
		challenge += `, error="invalid_token"`
	}
	p.header = http.Header{}
	p.header.Set("WWW-Authenticate", challenge)
	p.cause = cause
	return p
}

// toProblem maps any error a handler returns to the problem a user sees.
// It is the only place errors become HTTP statuses.
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var verr *assessment.ValidationError
	if errors.As(err, &verr) {
		p := problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid assessment request",
			"The request does not match the assessment request format; see errors for each field.")
		p.Errors = verr.Errors
		return p
	}
	if p := appProblem(err); p != nil {
		return p
	}
	if p := budgetProblem(err, time.Now()); p != nil {
		return p
	}
	if p := identityProblem(err); p != nil {
		return p
	}
	var eie *estimate.InvalidInputError
	if errors.As(err, &eie) {
		return invalidEstimate(eie.Errors)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return problem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "Request body too large",
			"The request body exceeds the limit of "+formatBytes(mbe.Limit)+".")
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("No such assessment.")
	case errors.Is(err, store.ErrBadCursor):
		return invalidField("cursor", "is not a cursor returned by this API; start again without it")
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return notFound("No such resource.")
		case http.StatusMethodNotAllowed:
			return problem(he.Code, ProblemMethod, "Method not allowed", "This resource does not support the request method.")
		case http.StatusRequestEntityTooLarge:
			return problem(he.Code, ProblemTooLarge, "Request body too large", "The request body exceeds the size limit.")
		case http.StatusUnsupportedMediaType:
			return problem(he.Code, ProblemUnsupportedType, "Unsupported media type", "Send application/json or application/yaml.")
		}
		if he.Code >= 400 && he.Code < 500 {
			return problem(he.Code, ProblemInvalidRequest, http.StatusText(he.Code), http.StatusText(he.Code)+".")
		}
	}
	p = problem(http.StatusInternalServerError, ProblemInternal, "Internal error",
		"Something went wrong on our side. Quote the request id if you contact support.")
	p.cause = err
	return p
}

// handleError is echo's HTTPErrorHandler: it renders err as problem JSON and
// logs server-side failures with their details, which never reach the client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		// A streaming response already started; only log.
		s.log.WarnContext(c.Request().Context(), "error after response started",
			slog.String("error", redact.String(err.Error())), slog.String("request_id", requestID(c)))
		return
	}
	p := *toProblem(err) // copy: problems may be shared values
	p.Instance = c.Request().URL.Path
	p.RequestID = requestID(c)
	if p.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed",
			slog.String("error", redact.String(err.Error())), slog.Int("status", p.Status),
			slog.String("method", c.Request().Method), slog.String("path", redact.String(c.Request().URL.Path)),
			slog.String("request_id", p.RequestID))
	}
	for k, vs := range p.header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		body = []byte(`{"type":"` + ProblemInternal + `","title":"Internal error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	_ = c.Blob(p.Status, contentTypeProblem, body)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " bytes"
	}
}

// appProblem maps the assessment use cases' errors (pkg/app), or returns nil.
func appProblem(err error) *Problem {
	var cfe *consultant.FieldError
	var crn *consultant.ReportNotReadyError
	switch {
	case errors.As(err, &cfe):
		return invalidField(cfe.Field, cfe.Reason)
	case errors.As(err, &crn):
		return appProblem(&app.NotReadyError{What: "report", ID: crn.ID, Status: crn.Status})
	}
	var nq *app.NotQueuedError
	var nb *app.NotBaseError
	var nv *app.NoVersionError
	var nr *app.NotReadyError
	var nc *app.NotComparableError
	var nrr *app.NotRenderableError
	var fe *app.FieldError
	var busy *app.BusyError
	if p := erasureProblem(err); p != nil {
		return p
	}
	switch {
	case errors.As(err, &busy):
		secs := max(1, int((busy.RetryAfter+time.Second-1)/time.Second))
		p := problem(http.StatusTooManyRequests, ProblemPipelineBusy, "Too many assessments in flight",
			fmt.Sprintf("The service has %d assessments in progress, as many as it can finish in time (%d); "+
				"nothing was stored. Retry after %d seconds.", busy.InFlight, busy.Limit, secs))
		p.header = http.Header{headerRetryAfter: {strconv.Itoa(secs)}}
		return p
	case errors.As(err, &fe):
		return invalidField(fe.Field, fe.Reason)
	case errors.Is(err, app.ErrNoWebhook):
		return notFound("No such webhook.")
	case errors.Is(err, app.ErrTooManyWebhooks):
		return problem(http.StatusConflict, ProblemInvalidRequest, "Too many webhooks",
			fmt.Sprintf("A tenant may register at most %d webhooks; delete one first.", app.MaxWebhooksPerTenant))
	case errors.Is(err, app.ErrNoTenant):
		// Failed authentications are stored without a tenant: a caller
		// without one reads nothing.
		return unauthorized("Send an access token as 'Authorization: Bearer <token>'.", false, nil)
	case errors.Is(err, app.ErrIdempotencyKeyReused):
		return problem(http.StatusUnprocessableEntity, ProblemIdempotencyKey, "Idempotency key reused",
			"This Idempotency-Key was already used with a different request; use a new key for a new assessment.")
	case errors.As(err, &nq):
		p := problem(http.StatusServiceUnavailable, ProblemUnavailable, "Assessment not queued",
			"The assessment could not be queued. "+nq.Retry)
		p.cause = err
		p.header = http.Header{headerRetryAfter: {"5"}}
		return p
	case errors.As(err, &nb):
		return problem(http.StatusConflict, ProblemInvalidRequest, "Not a base assessment",
			fmt.Sprintf("This assessment is a %s of %s; versions and scenarios are made from the base, %s.",
				nb.Kind, nb.ParentID, assessmentURL(nb.ParentID)))
	case errors.Is(err, app.ErrTooManyVersions):
		return problem(http.StatusConflict, ProblemUnavailable, "Version not created",
			"Too many re-runs of this assessment at once; retry in a moment.")
	case errors.As(err, &nv):
		p := notFound(fmt.Sprintf("This assessment has no version %d (%s=%d).", nv.Version, nv.Param, nv.Version))
		p.Errors = []assessment.FieldError{{Field: nv.Param, Reason: fmt.Sprintf("version %d does not exist", nv.Version)}}
		return p
	case errors.Is(err, app.ErrNoScenario):
		return notFound("No such scenario of this assessment.")
	case errors.Is(err, consultant.ErrNoConversation):
		return notFound("No such conversation of yours about this assessment.")
	case errors.Is(err, consultant.ErrConversationFull):
		return problem(http.StatusConflict, ProblemInvalidRequest, "Conversation full",
			"This conversation holds as many messages as one may; start a new conversation (POST "+
				"/v1/assessments/{id}/conversations).")
	case errors.As(err, &nr) && nr.What == "recommendations":
		return problem(http.StatusNotFound, ProblemRecommendationsNotReady, "Recommendations not ready",
			fmt.Sprintf("The assessment is %s; its recommendations are written when it finishes. Follow %s for progress.", nr.Status, linksFor(nr.ID).Events))
	case errors.As(err, &nr) && assessment.Status(nr.Status).Terminal():
		return problem(http.StatusNotFound, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("The assessment ended as %s and its report has not been stored yet.", nr.Status))
	case errors.As(err, &nr):
		return problem(http.StatusNotFound, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("The assessment is %s; its report is written when it finishes. Follow %s for progress.", nr.Status, linksFor(nr.ID).Events))
	case errors.As(err, &nc):
		return problem(http.StatusConflict, ProblemReportNotReady, "Report not ready",
			fmt.Sprintf("Assessment %s is %s and has no report yet; follow %s and retry when it completes.",
				nc.ID, nc.Status, linksFor(nc.ID).Events))
	case errors.As(err, &nrr):
		return problem(http.StatusNotAcceptable, ProblemNotAcceptable, "Report not available in this format",
			fmt.Sprintf("This report was stored before reports could be rendered as %s; it is available as JSON (format=json). "+
				"Re-running the assessment (POST %s/versions) writes a report in every format.", nrr.Format, assessmentURL(nrr.ID)))
	}
	return nil
}

// identityProblem maps the identity service's errors to the problem a user
// sees; nil when err is not one of them.
func identityProblem(err error) *Problem {
	var fe *identity.FieldError
	var le *identity.LockedError
	var ce *identity.ConflictError
	switch {
	case errors.As(err, &fe):
		return invalidField(fe.Field, fe.Reason)
	case errors.As(err, &le):
		secs := int(le.RetryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		p := problem(http.StatusTooManyRequests, ProblemSignInLocked, "Sign-in locked",
			fmt.Sprintf("Too many failed sign-ins for this account. Retry after %d seconds.", secs))
		p.header = http.Header{headerRetryAfter: {strconv.Itoa(secs)}}
		return p
	case errors.Is(err, identity.ErrMFARequired):
		return withChallenge(problem(http.StatusUnauthorized, ProblemMFARequired, "Second factor required",
			"This account uses an authenticator app: send its current code as totp_code."))
	case errors.Is(err, identity.ErrInvalidMFACode):
		return unauthorized("The authenticator code is wrong, expired or already used.", false, err)
	case errors.Is(err, identity.ErrInvalidCredentials):
		return unauthorized("The tenant, email or password is wrong.", false, err)
	case errors.Is(err, identity.ErrRefreshReused):
		return withChallenge(problem(http.StatusUnauthorized, ProblemRefreshReused, "Refresh token reused",
			"This refresh token was already used, so the session it belongs to has been revoked. Sign in again."))
	case errors.Is(err, identity.ErrRefreshInvalid):
		return unauthorized("The refresh token is invalid, expired or revoked. Sign in again.", false, err)
	case errors.Is(err, identity.ErrNotFound):
		return notFound("No such resource.")
	case errors.As(err, &ce):
		return problem(http.StatusConflict, ProblemConflict, "Conflict", sentence(ce.Detail))
	case errors.Is(err, identity.ErrConflict):
		return problem(http.StatusConflict, ProblemConflict, "Conflict",
			"The resource already exists or the change would leave the tenant without an owner.")
	}
	return nil
}

// sentence makes a detail fragment ("email a@b.c is taken") a sentence.
func sentence(d string) string {
	if d == "" {
		return d
	}
	return strings.ToUpper(d[:1]) + d[1:] + "."
}
