package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/auth"
)

// Labels of x-required-roles in the OpenAPI document for the two access
// kinds that are not a set of roles.
const (
	AccessLabelPublic        = "public"
	AccessLabelAuthenticated = "authenticated"
)

// AccessKind says which callers a route admits.
type AccessKind int

// The access kinds, from least to most restrictive.
const (
	// AccessPublic routes need no token at all.
	AccessPublic AccessKind = iota + 1
	// AccessAuthenticated routes admit every verified caller, the platform
	// operator included: they act on the caller's own identity.
	AccessAuthenticated
	// AccessRoles routes admit callers holding one of Access.Roles.
	AccessRoles
)

// Access is who may call one route.
type Access struct {
	Kind AccessKind
	// Roles admit the caller when Kind is AccessRoles; empty otherwise.
	Roles []string
}

// Labels is the route's x-required-roles value in the OpenAPI document:
// ["public"], ["authenticated"] or the role names.
func (a Access) Labels() []string {
	switch a.Kind {
	case AccessPublic:
		return []string{AccessLabelPublic}
	case AccessAuthenticated:
		return []string{AccessLabelAuthenticated}
	}
	return slices.Clone(a.Roles)
}

// Allows reports whether a caller with verified claims cl may call the route.
// A public route admits everyone; otherwise cl must be set.
func (a Access) Allows(cl *auth.Claims) bool {
	switch a.Kind {
	case AccessPublic:
		return true
	case AccessAuthenticated:
		return cl != nil
	case AccessRoles:
		if cl == nil {
			return false
		}
		for _, r := range effectiveRoles(cl) {
			if slices.Contains(a.Roles, r) {
				return true
			}
		}
	}
	return false
}

// effectiveRoles are the roles of cl that fit its tenant: the platform
// operator role counts only in the platform tenant, and tenant roles only
// outside it. A token that mixes them (which no issuer of ours mints) thus
// never reaches a tenant's data through the operator role, nor the tenant
// routes through a role in the platform tenant, which holds no tenant data.
func effectiveRoles(cl *auth.Claims) []string {
	out := make([]string, 0, len(cl.Roles))
	for _, r := range cl.Roles {
		switch {
		case r == auth.RoleOperator && cl.Tenant == auth.PlatformTenant:
			out = append(out, r)
		case auth.ValidTenantRole(r) && cl.Tenant != auth.PlatformTenant:
			out = append(out, r)
		}
	}
	return out
}

// Role sets of the matrix.
var (
	rolesReaders  = []string{auth.RoleOwner, auth.RoleAdmin, auth.RoleAnalyst, auth.RoleViewer}
	rolesWriters  = []string{auth.RoleOwner, auth.RoleAdmin, auth.RoleAnalyst}
	rolesManagers = []string{auth.RoleOwner, auth.RoleAdmin}
	rolesOperator = []string{auth.RoleOperator}
)

func openToAll() Access            { return Access{Kind: AccessPublic} }
func anyCaller() Access            { return Access{Kind: AccessAuthenticated} }
func onlyRoles(r ...string) Access { return Access{Kind: AccessRoles, Roles: r} }

// routeKey is the matrix key of a route: "METHOD /route-template".
func routeKey(method, route string) string { return method + " " + route }

// accessMatrix is the route x role matrix, the one place that says who may
// call what, keyed by "METHOD /route-template" as echo names routes. It is
// read-only: RouteRoles and AccessMatrix hand out copies.
//
// Policy: viewers read a tenant's assessments; analysts also start
// computation; owners and admins also manage the tenant's integrations,
// users, API keys and audit log; the platform operator provisions tenants and
// has no route to any tenant's data. A route missing here is refused
// (authorize fails closed) and a test fails for every registered route
// missing here. Entries for routes without a handler yet are the policy for
// them when they are added.
var accessMatrix = map[string]Access{
	// Operations and sign-in: no token.
	routeKey(http.MethodGet, "/healthz"):               openToAll(),
	routeKey(http.MethodGet, "/readyz"):                openToAll(),
	routeKey(http.MethodGet, "/openapi.json"):          openToAll(),
	routeKey(http.MethodGet, "/.well-known/jwks.json"): openToAll(),
	routeKey(http.MethodPost, "/v1/auth/login"):        openToAll(),
	routeKey(http.MethodPost, "/v1/auth/refresh"):      openToAll(),

	// The caller's own session and identity.
	routeKey(http.MethodPost, "/v1/auth/logout"): anyCaller(),
	routeKey(http.MethodGet, "/v1/me"):           anyCaller(),

	// Reading assessments, and enrolling one's own second factor.
	routeKey(http.MethodGet, "/v1/assessments"):                     onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id"):                 onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/report"):          onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/events"):          onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/recommendations"): onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/versions"):        onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/versions/diff"):   onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/scenarios"):       onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/scenarios/:sid"):  onlyRoles(rolesReaders...),
	// Chatting about an assessment: every reader, each with the tools their
	// role allows (a tool needs the access of its route, chatToolRoutes);
	// a conversation is its user's alone.
	routeKey(http.MethodGet, "/v1/assessments/:id/conversations"):                onlyRoles(rolesReaders...),
	routeKey(http.MethodPost, "/v1/assessments/:id/conversations"):               onlyRoles(rolesReaders...),
	routeKey(http.MethodGet, "/v1/assessments/:id/conversations/:cid"):           onlyRoles(rolesReaders...),
	routeKey(http.MethodPost, "/v1/assessments/:id/conversations/:cid/messages"): onlyRoles(rolesReaders...),
	// Any signed-in person, operators (the most privileged accounts)
	// included; the handler refuses API keys and tokens without a session.
	// Turning the second factor off and changing the password also ask for
	// a code or the password, which an access token alone does not carry.
	routeKey(http.MethodPost, "/v1/me/mfa/totp"):         anyCaller(),
	routeKey(http.MethodPost, "/v1/me/mfa/totp/confirm"): anyCaller(),
	routeKey(http.MethodDelete, "/v1/me/mfa/totp"):       anyCaller(),
	routeKey(http.MethodPost, "/v1/me/password"):         anyCaller(),

	// Starting computation.
	routeKey(http.MethodPost, "/v1/assessments"):                     onlyRoles(rolesWriters...),
	routeKey(http.MethodPost, "/v1/assessments/:id/versions"):        onlyRoles(rolesWriters...),
	routeKey(http.MethodPost, "/v1/assessments/:id/scenarios"):       onlyRoles(rolesWriters...),
	routeKey(http.MethodPost, "/v1/estimates/inference"):             onlyRoles(rolesWriters...),
	routeKey(http.MethodGet, "/v1/catalogue/versions/:version/diff"): onlyRoles(rolesReaders...),
	routeKey(http.MethodPost, "/v1/estimates/training"):              onlyRoles(rolesWriters...),

	// Managing the tenant: integrations, audit, people and machine keys.
	routeKey(http.MethodPost, "/v1/webhooks"):               onlyRoles(rolesManagers...),
	routeKey(http.MethodGet, "/v1/webhooks"):                onlyRoles(rolesManagers...),
	routeKey(http.MethodDelete, "/v1/webhooks/:id"):         onlyRoles(rolesManagers...),
	routeKey(http.MethodGet, "/v1/webhooks/:id/deliveries"): onlyRoles(rolesManagers...),
	routeKey(http.MethodGet, "/v1/audit"):                   onlyRoles(rolesManagers...),
	// The tenant's language model use against its budgets: what it costs
	// is the managers' to see.
	routeKey(http.MethodGet, "/v1/usage/llm"):                  onlyRoles(rolesManagers...),
	routeKey(http.MethodGet, "/v1/users"):                      onlyRoles(rolesManagers...),
	routeKey(http.MethodPost, "/v1/users"):                     onlyRoles(rolesManagers...),
	routeKey(http.MethodGet, "/v1/users/:id"):                  onlyRoles(rolesManagers...),
	routeKey(http.MethodPatch, "/v1/users/:id"):                onlyRoles(rolesManagers...),
	routeKey(http.MethodPost, "/v1/users/:id/revoke-sessions"): onlyRoles(rolesManagers...),
	routeKey(http.MethodPost, "/v1/users/:id/mfa/reset"):       onlyRoles(rolesManagers...),
	routeKey(http.MethodPost, "/v1/users/:id/password"):        onlyRoles(rolesManagers...),
	routeKey(http.MethodGet, "/v1/api-keys"):                   onlyRoles(rolesManagers...),
	// Erasing an assessment (the right to erasure) cannot be undone.
	routeKey(http.MethodDelete, "/v1/assessments/:id"): onlyRoles(rolesManagers...),
	routeKey(http.MethodPost, "/v1/api-keys"):          onlyRoles(rolesManagers...),
	routeKey(http.MethodDelete, "/v1/api-keys/:id"):    onlyRoles(rolesManagers...),

	// Provisioning tenants: the platform operator only.
	routeKey(http.MethodGet, "/v1/tenants"):  onlyRoles(rolesOperator...),
	routeKey(http.MethodPost, "/v1/tenants"): onlyRoles(rolesOperator...),
}

// RouteRoles returns who may call the route method route (a route template
// such as "/v1/assessments/:id"), and false when the matrix has no entry,
// which authorize treats as "nobody".
func RouteRoles(method, route string) (Access, bool) {
	a, ok := accessMatrix[routeKey(method, route)]
	if !ok {
		return Access{}, false
	}
	a.Roles = slices.Clone(a.Roles)
	return a, true
}

// RouteAccess is one row of the matrix.
type RouteAccess struct {
	Method string
	Route  string
	Access Access
}

// AccessMatrix lists the matrix sorted by route then method, for tests,
// documentation and the OpenAPI check.
func AccessMatrix() []RouteAccess {
	out := make([]RouteAccess, 0, len(accessMatrix))
	for k, a := range accessMatrix {
		method, route, _ := strings.Cut(k, " ")
		a.Roles = slices.Clone(a.Roles)
		out = append(out, RouteAccess{Method: method, Route: route, Access: a})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Route != out[j].Route {
			return out[i].Route < out[j].Route
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// authorize enforces the matrix on a route. It goes right after
// authenticate, which provides the verified claims, and before the rate
// limits: a refusal costs nothing, so a caller probing routes its role may
// not call does not spend the tenant's shared budget. A route missing from
// the matrix is refused: forgetting to write down who may call a new route
// must not open it to everyone.
func (s *Server) authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		method, route := c.Request().Method, c.Path()
		a, ok := RouteRoles(method, route)
		if !ok {
			s.log.ErrorContext(c.Request().Context(), "route missing from the access matrix, request refused",
				slog.String("method", method), slog.String("route", route), slog.String("request_id", requestID(c)))
			return problem(http.StatusForbidden, ProblemForbidden, "Forbidden",
				"No role may call this route.")
		}
		cl, _ := c.Get(claimsKey).(*auth.Claims)
		if a.Kind != AccessPublic && cl == nil {
			// authorize without authenticate in front: refuse rather than guess.
			return unauthorized("Send an access token as 'Authorization: Bearer <token>'.", false, nil)
		}
		if !a.Allows(cl) {
			return forbidden(method, route, a)
		}
		return next(c)
	}
}

// forbidden is the 403 for a role that may not call the route; it names the
// roles that may, so the caller knows whom to ask, and carries no data.
func forbidden(method, route string, a Access) *Problem {
	return problem(http.StatusForbidden, ProblemForbidden, "Forbidden",
		fmt.Sprintf("%s %s needs the role %s; your token has none of them.", method, route, orList(a.Roles)))
}

// orList joins names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "(none)"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
