package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// reasonServerSet is the reason given for a field only the server may set.
const reasonServerSet = "is set by the server and cannot be sent"

// serverSetFields returns the top-level body fields the server alone sets on
// the resources it stores (OWASP API3:2023, mass assignment): who owns a
// resource, its ids, its state and its time stamps. except drops fields a
// route legitimately takes, such as role when an admin creates a user, or
// tenant when a user signs in.
func serverSetFields(except ...string) []string {
	all := []string{
		"tenant", "tenant_id", "owner", "owner_id", "created_by",
		"status", "role", "roles",
		"id", "_id", "assessment_id", "parent_id", "kind",
		"created_at", "updated_at",
	}
	return slices.DeleteFunc(all, func(f string) bool { return slices.Contains(except, f) })
}

// bodyServerFields lists, per body-taking route ("METHOD /route-template"),
// the top-level fields a client may not send. A route missing here gets the
// full serverSetFields list from rejectServerSet, and a test fails for every
// registered route taking a body that is missing here. Entries for routes
// without a handler yet are the intended rule; adjust one with its handler.
var bodyServerFields = map[string][]string{
	routeKey(http.MethodPost, "/v1/assessments"):               append(serverSetFields(), "version"),
	routeKey(http.MethodPost, "/v1/assessments/:id/versions"):  append(serverSetFields(), "base_id", "version"),
	routeKey(http.MethodPost, "/v1/assessments/:id/scenarios"): append(serverSetFields(), "base_id", "version"),
	routeKey(http.MethodPost, "/v1/estimates/inference"):       serverSetFields(),
	routeKey(http.MethodPost, "/v1/estimates/training"):        serverSetFields(),
	routeKey(http.MethodPost, "/v1/webhooks"):                  append(serverSetFields(), "secret"),
	// A conversation's owner is the caller; a message's role is the user's.
	routeKey(http.MethodPost, "/v1/assessments/:id/conversations"):               append(serverSetFields(), "user_id", "turns", "messages"),
	routeKey(http.MethodPost, "/v1/assessments/:id/conversations/:cid/messages"): append(serverSetFields(), "generated", "tools", "provider", "model"),

	// Routes the identity work adds. Signing in names the tenant; an admin
	// gives a user or an API key its role.
	routeKey(http.MethodPost, "/v1/auth/login"):                serverSetFields("tenant"),
	routeKey(http.MethodPost, "/v1/auth/refresh"):              serverSetFields(),
	routeKey(http.MethodPost, "/v1/auth/logout"):               serverSetFields(),
	routeKey(http.MethodPost, "/v1/me/mfa/totp"):               serverSetFields(),
	routeKey(http.MethodPost, "/v1/me/mfa/totp/confirm"):       serverSetFields(),
	routeKey(http.MethodPost, "/v1/users"):                     serverSetFields("role"),
	routeKey(http.MethodPatch, "/v1/users/:id"):                serverSetFields("role"),
	routeKey(http.MethodPost, "/v1/users/:id/revoke-sessions"): serverSetFields(),
	routeKey(http.MethodDelete, "/v1/me/mfa/totp"):             serverSetFields(),
	routeKey(http.MethodPost, "/v1/me/password"):               serverSetFields(),
	routeKey(http.MethodPost, "/v1/users/:id/mfa/reset"):       serverSetFields(),
	routeKey(http.MethodPost, "/v1/users/:id/password"):        serverSetFields(),
	routeKey(http.MethodPost, "/v1/api-keys"):                  serverSetFields("role"),
	routeKey(http.MethodPost, "/v1/tenants"):                   serverSetFields("id", "owner"),
}

// rejectServerFields answers 400 naming each top-level key of body that is
// one of fields ("tenant: is set by the server and cannot be sent"), compared
// without regard to case as encoding/json matches keys. isYAML parses body as
// YAML the way the assessment parser does (a body starting with '{' or '[' is
// JSON either way). A body that is empty, not an object or not parseable
// passes: the route's own parser rejects it with its own reason, and a
// document it cannot parse carries no field. Use it on a route's raw body
// before decoding, whatever the route's schema says about unknown keys, so
// the answer to a server-set field is always this one.
func rejectServerFields(body []byte, isYAML bool, fields ...string) error {
	var bad []assessment.FieldError
	for _, k := range topLevelKeys(body, isYAML) {
		if slices.ContainsFunc(fields, func(f string) bool { return strings.EqualFold(f, k) }) {
			bad = append(bad, assessment.FieldError{Field: k, Reason: reasonServerSet})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	msgs := make([]string, len(bad))
	for i, fe := range bad {
		msgs[i] = fe.Field + ": " + fe.Reason
	}
	p := problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", strings.Join(msgs, "; "))
	p.Errors = bad
	return p
}

// topLevelKeys lists the keys of body's top-level object in order, each as
// often as it appears (so a duplicate cannot hide one).
func topLevelKeys(body []byte, isYAML bool) []string {
	doc := bytes.TrimSpace(body)
	if len(doc) == 0 {
		return nil
	}
	if isYAML && doc[0] != '{' && doc[0] != '[' {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil
		}
		doc = j
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, ok := tok.(string)
		if !ok {
			return keys
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// isYAMLType reports whether a Content-Type names YAML.
func isYAMLType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml":
		return true
	}
	return false
}

// rejectServerSet applies rejectServerFields to the body of the route it is
// attached to, with the route's bodyServerFields entry, then hands the body
// on unread to the handler. It goes after limitBody, whose limit it reads
// under.
func (s *Server) rejectServerSet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		fields, ok := bodyServerFields[routeKey(req.Method, c.Path())]
		if !ok {
			fields = serverSetFields()
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		_, span := step(c, "server-set fields")
		err = rejectServerFields(body, isYAMLType(req.Header.Get(echo.HeaderContentType)), fields...)
		endStep(span, err)
		if err != nil {
			return err
		}
		return next(c)
	}
}
