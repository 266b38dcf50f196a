package gateway

import (
	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/gateway/gatewayapi"
)

// apiServer is the gateway as the server interface generated from the
// OpenAPI document (gatewayapi.ServerInterface): one method per operation,
// each calling its handler. The compiler refuses a document operation
// without a handler. The handlers read their parameters themselves, so the
// typed parameters the generated wrapper binds are not used: the gateway's
// own parsing names the field in its problems (checkQuery runs it before the
// wrapper binds, whose errors name nothing).
type apiServer struct {
	*Server
	// ops serves /healthz and /readyz (the telemetry server's public handler).
	ops echo.HandlerFunc
}

var _ gatewayapi.ServerInterface = apiServer{}

// GetJWKS serves GET /.well-known/jwks.json.
func (a apiServer) GetJWKS(c echo.Context) error { return a.jwks(c) }

// Healthz serves GET /healthz.
func (a apiServer) Healthz(c echo.Context) error { return a.ops(c) }

// Openapi serves GET /openapi.json.
func (a apiServer) Openapi(c echo.Context) error { return serveOpenAPI(c) }

// Readyz serves GET /readyz.
func (a apiServer) Readyz(c echo.Context) error { return a.ops(c) }

// ListAPIKeys serves GET /v1/api-keys.
func (a apiServer) ListAPIKeys(c echo.Context) error { return a.listAPIKeys(c) }

// CreateAPIKey serves POST /v1/api-keys.
func (a apiServer) CreateAPIKey(c echo.Context) error { return a.createAPIKey(c) }

// RevokeAPIKey serves DELETE /v1/api-keys/{id}.
func (a apiServer) RevokeAPIKey(c echo.Context, _ string) error { return a.revokeAPIKey(c) }

// ListAssessments serves GET /v1/assessments.
func (a apiServer) ListAssessments(c echo.Context, _ api.ListAssessmentsParams) error {
	return a.listAssessments(c)
}

// CreateAssessment serves POST /v1/assessments.
func (a apiServer) CreateAssessment(c echo.Context, _ api.CreateAssessmentParams) error {
	return a.createAssessment(c)
}

// DeleteAssessment serves DELETE /v1/assessments/{id}.
func (a apiServer) DeleteAssessment(c echo.Context, _ string) error { return a.deleteAssessment(c) }

// GetAssessment serves GET /v1/assessments/{id}.
func (a apiServer) GetAssessment(c echo.Context, _ string) error { return a.getAssessment(c) }

// ListRecommendations serves GET /v1/assessments/{id}/recommendations.
func (a apiServer) ListRecommendations(c echo.Context, _ string, _ api.ListRecommendationsParams) error {
	return a.getRecommendations(c)
}

// GetReport serves GET /v1/assessments/{id}/report.
func (a apiServer) GetReport(c echo.Context, _ string, _ api.GetReportParams) error {
	return a.getReport(c)
}

// ListScenarios serves GET /v1/assessments/{id}/scenarios.
func (a apiServer) ListScenarios(c echo.Context, _ string) error { return a.listScenarios(c) }

// CreateScenario serves POST /v1/assessments/{id}/scenarios.
func (a apiServer) CreateScenario(c echo.Context, _ string) error { return a.createScenario(c) }

// GetScenario serves GET /v1/assessments/{id}/scenarios/{sid}.
func (a apiServer) GetScenario(c echo.Context, _ string, _ string) error { return a.getScenario(c) }

// ListVersions serves GET /v1/assessments/{id}/versions.
func (a apiServer) ListVersions(c echo.Context, _ string) error { return a.listVersions(c) }

// CreateVersion serves POST /v1/assessments/{id}/versions.
func (a apiServer) CreateVersion(c echo.Context, _ string) error { return a.createVersion(c) }

// DiffVersions serves GET /v1/assessments/{id}/versions/diff.
func (a apiServer) DiffVersions(c echo.Context, _ string, _ api.DiffVersionsParams) error {
	return a.diffVersions(c)
}

// ListAuditRecords serves GET /v1/audit.
func (a apiServer) ListAuditRecords(c echo.Context, _ api.ListAuditRecordsParams) error {
	return a.listAudit(c)
}

// Login serves POST /v1/auth/login.
func (a apiServer) Login(c echo.Context) error { return a.login(c) }

// Logout serves POST /v1/auth/logout.
func (a apiServer) Logout(c echo.Context) error { return a.logout(c) }

// RefreshTokens serves POST /v1/auth/refresh.
func (a apiServer) RefreshTokens(c echo.Context) error { return a.refresh(c) }

// EstimateInference serves POST /v1/estimates/inference.
func (a apiServer) EstimateInference(c echo.Context) error { return a.estimateInference(c) }

// DiffCatalogueVersions serves GET /v1/catalogue/versions/{version}/diff.
func (a apiServer) DiffCatalogueVersions(c echo.Context, _ string, _ api.DiffCatalogueVersionsParams) error {
	return a.diffCatalogueVersions(c)
}

// EstimateTraining serves POST /v1/estimates/training.
func (a apiServer) EstimateTraining(c echo.Context) error { return a.estimateTraining(c) }

// GetMe serves GET /v1/me.
func (a apiServer) GetMe(c echo.Context) error { return a.me(c) }

// DisableTOTP serves DELETE /v1/me/mfa/totp.
func (a apiServer) DisableTOTP(c echo.Context) error { return a.disableTOTP(c) }

// EnrollTOTP serves POST /v1/me/mfa/totp.
func (a apiServer) EnrollTOTP(c echo.Context) error { return a.enrollTOTP(c) }

// ConfirmTOTP serves POST /v1/me/mfa/totp/confirm.
func (a apiServer) ConfirmTOTP(c echo.Context) error { return a.confirmTOTP(c) }

// ChangePassword serves POST /v1/me/password.
func (a apiServer) ChangePassword(c echo.Context) error { return a.changePassword(c) }

// ListTenants serves GET /v1/tenants.
func (a apiServer) ListTenants(c echo.Context) error { return a.listTenants(c) }

// CreateTenant serves POST /v1/tenants.
func (a apiServer) CreateTenant(c echo.Context) error { return a.createTenant(c) }

// ListUsers serves GET /v1/users.
func (a apiServer) ListUsers(c echo.Context) error { return a.listUsers(c) }

// CreateUser serves POST /v1/users.
func (a apiServer) CreateUser(c echo.Context) error { return a.createUser(c) }

// GetUser serves GET /v1/users/{id}.
func (a apiServer) GetUser(c echo.Context, _ string) error { return a.getUser(c) }

// UpdateUser serves PATCH /v1/users/{id}.
func (a apiServer) UpdateUser(c echo.Context, _ string) error { return a.updateUser(c) }

// ResetUserMFA serves POST /v1/users/{id}/mfa/reset.
func (a apiServer) ResetUserMFA(c echo.Context, _ string) error { return a.resetUserMFA(c) }

// ResetUserPassword serves POST /v1/users/{id}/password.
func (a apiServer) ResetUserPassword(c echo.Context, _ string) error { return a.resetUserPassword(c) }

// RevokeUserSessions serves POST /v1/users/{id}/revoke-sessions.
func (a apiServer) RevokeUserSessions(c echo.Context, _ string) error { return a.revokeUserSessions(c) }

// ListConversations serves GET /v1/assessments/{id}/conversations.
func (a apiServer) ListConversations(c echo.Context, _ string) error { return a.listConversations(c) }

// CreateConversation serves POST /v1/assessments/{id}/conversations.
func (a apiServer) CreateConversation(c echo.Context, _ string) error { return a.createConversation(c) }

// GetConversation serves GET /v1/assessments/{id}/conversations/{cid}.
func (a apiServer) GetConversation(c echo.Context, _ string, _ string) error {
	return a.getConversation(c)
}

// SendChatMessage serves POST /v1/assessments/{id}/conversations/{cid}/messages.
func (a apiServer) SendChatMessage(c echo.Context, _ string, _ string) error {
	return a.sendChatMessage(c)
}

// ListWebhooks serves GET /v1/webhooks.
func (a apiServer) ListWebhooks(c echo.Context) error { return a.listWebhooks(c) }

// CreateWebhook serves POST /v1/webhooks.
func (a apiServer) CreateWebhook(c echo.Context) error { return a.createWebhook(c) }

// DeleteWebhook serves DELETE /v1/webhooks/{id}.
func (a apiServer) DeleteWebhook(c echo.Context, _ string) error { return a.deleteWebhook(c) }

// ListWebhookDeliveries serves GET /v1/webhooks/{id}/deliveries.
func (a apiServer) ListWebhookDeliveries(c echo.Context, _ string) error { return a.listDeliveries(c) }

// operationMiddlewares is each operation's middleware, by operationId, in the
// order it runs: authentication, the route x role matrix (access.go), rate
// limits, then the body's size limit and server-set field refusal, the caps,
// and the query checks. Pre-authentication routes (sign-in, refresh) take
// rateLimitAnonymous in place of authenticate, authorize and rateLimit.
func (s *Server) operationMiddlewares() map[string][]echo.MiddlewareFunc {
	return s.operationMiddlewaresWith([]echo.MiddlewareFunc{s.authenticate, s.authorize, s.rateLimit})
}

// operationMiddlewaresWith is operationMiddlewares with authed in place of
// authentication, authorisation and rate limits (the handler tests on fakes
// pass a stand-in that sets the caller).
func (s *Server) operationMiddlewaresWith(authed []echo.MiddlewareFunc) map[string][]echo.MiddlewareFunc {
	with := func(head []echo.MiddlewareFunc, rest ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
		return append(append(make([]echo.MiddlewareFunc, 0, len(head)+len(rest)), head...), rest...)
	}
	m := map[string][]echo.MiddlewareFunc{
		"listAPIKeys":           with(authed, s.needIdentity),
		"createAPIKey":          with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"revokeAPIKey":          with(authed, s.needIdentity),
		"listAssessments":       with(authed, checkQuery(pageLimit)),
		"createAssessment":      with(authed, s.limitBody, s.rejectServerSet, s.capActive),
		"getAssessment":         with(authed),
		"deleteAssessment":      with(authed),
		"listRecommendations":   with(authed, checkQuery(parseRecommendationsQuery)),
		"getReport":             with(authed),
		"listScenarios":         with(authed),
		"createScenario":        with(authed, s.limitBody, s.rejectServerSet, s.capActive),
		"getScenario":           with(authed),
		"listVersions":          with(authed),
		"createVersion":         with(authed, s.limitBody, s.rejectServerSet, s.capActive),
		"diffVersions":          with(authed, checkQuery(versionParams)),
		"listAuditRecords":      with(authed, checkQuery(auditQuery)),
		"login":                 {s.rateLimitAnonymous, s.needIdentity, s.limitBody, s.rejectServerSet},
		"logout":                with(authed, s.needIdentity),
		"refreshTokens":         {s.rateLimitAnonymous, s.needIdentity, s.limitBody, s.rejectServerSet},
		"estimateInference":     with(authed, s.limitBody, s.rejectServerSet),
		"diffCatalogueVersions": with(authed),
		"estimateTraining":      with(authed, s.limitBody, s.rejectServerSet),
		"getMe":                 with(authed, s.needIdentity),
		"disableTOTP":           with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"enrollTOTP":            with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"confirmTOTP":           with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"changePassword":        with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"listTenants":           with(authed, s.needIdentity),
		"createTenant":          with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"listUsers":             with(authed, s.needIdentity),
		"createUser":            with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"getUser":               with(authed, s.needIdentity),
		"updateUser":            with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"resetUserMFA":          with(authed, s.needIdentity),
		"resetUserPassword":     with(authed, s.needIdentity, s.limitBody, s.rejectServerSet),
		"revokeUserSessions":    with(authed, s.needIdentity),
		"listConversations":     with(authed),
		"createConversation":    with(authed, s.limitBody, s.rejectServerSet),
		"getConversation":       with(authed),
		"sendChatMessage":       with(authed, s.limitBody, s.rejectServerSet),
		"listWebhooks":          with(authed),
		"createWebhook":         with(authed, s.limitBody, s.rejectServerSet),
		"deleteWebhook":         with(authed),
		"listWebhookDeliveries": with(authed),
		"getLLMUsage":           with(authed),
	}
	// A repeated query parameter or header is refused, naming it, right
	// after authentication (every operation that takes one is authed).
	for op, params := range s.params {
		if chain, ok := m[op]; ok && len(params) > 0 && len(chain) >= len(authed) {
			m[op] = with(chain[:len(authed)], append([]echo.MiddlewareFunc{onceEach(params)}, chain[len(authed):]...)...)
		}
	}
	return m
}

// checkQuery refuses a request whose query parse refuses, before the
// generated wrapper binds the typed parameters: its problem names the field.
func checkQuery[T any](parse func(echo.Context) (T, error)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if _, err := parse(c); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// versionParams parses the from and to versions of a diff.
func versionParams(c echo.Context) ([2]int, error) {
	from, err := versionParam(c, "from")
	if err != nil {
		return [2]int{}, err
	}
	to, err := versionParam(c, "to")
	return [2]int{from, to}, err
}

// GetLLMUsage serves GET /v1/usage/llm.
func (a apiServer) GetLLMUsage(c echo.Context) error { return a.getLLMUsage(c) }
