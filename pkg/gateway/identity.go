package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// Problem types of sign-in and identity management.
const (
	ProblemSignInLocked  = problemBase + "sign-in-locked"
	ProblemMFARequired   = problemBase + "mfa-required"
	ProblemRefreshReused = problemBase + "refresh-token-reused"
	ProblemConflict      = problemBase + "conflict"
)

// readJSON decodes a JSON body strictly into dst: the media type must be
// JSON and an unknown field is a 400 naming it. Server-set fields were
// refused by name before (rejectServerSet).
func readJSON(c echo.Context, dst any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
		return problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json.")
	}
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			return invalidField(ute.Field, "must be "+jsonTypeName(ute.Type))
		case errors.As(err, &ute):
			// The document is JSON of the wrong shape ([], "x", 1).
			return invalidField("body", "must be a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalidField(f, "is not a field of this request")
		}
		return invalidField("body", "is not valid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	// Anything but white space after the object is a second document or
	// trailing garbage; dec.More alone misses a stray '}' or ']'.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidField("body", "must hold one JSON object")
	}
	return nil
}

// jsonTypeName names the JSON type a Go type decodes from, for a reason a
// client can act on ("must be a string", not "must be a *gateway.x").
func jsonTypeName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a JSON value of another type"
}

// withChallenge adds the challenge every 401 must carry (RFC 9110 section
// 15.5.2), the one unauthorized() sends, to a 401 of another problem type.
func withChallenge(p *Problem) *Problem {
	p.header = unauthorized("", false, nil).header
	return p
}

// signInErr maps a sign-in or refresh failure: the caller's mistakes to
// their problem, anything else (the store or Redis down) to 503 with
// Retry-After, like a token whose revocation cannot be checked.
func signInErr(what string, err error) error {
	if p := identityProblem(err); p != nil {
		return p
	}
	return credentialsUnavailable(fmt.Errorf("%s: %w", what, err))
}

// identityErr returns the mapped problem, or err wrapped with what failed.
func identityErr(what string, err error) error {
	if p := identityProblem(err); p != nil {
		return p
	}
	return fmt.Errorf("%s: %w", what, err)
}

// userView is a user as the API shows it.
type userView struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Email      string    `json:"email"`
	Name       string    `json:"name,omitempty"`
	Role       string    `json:"role"`
	MFAEnabled bool      `json:"mfa_enabled"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"created_at"`
	// Password is set once, in the answer that created the user with a
	// generated password.
	Password string `json:"password,omitempty"`
}

func userViewOf(u identity.User) userView {
	return userView{ID: u.ID, Tenant: u.Tenant, Email: u.Email, Name: u.Name, Role: u.Role,
		MFAEnabled: u.MFAEnabled, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

// tokenResponse is the answer to a sign-in or a refresh (RFC 6749 section
// 5.1 names, so OAuth-aware clients read it).
type tokenResponse struct {
	AccessToken      string   `json:"access_token"`
	TokenType        string   `json:"token_type"`
	ExpiresIn        int64    `json:"expires_in"`
	RefreshToken     string   `json:"refresh_token"`
	RefreshExpiresIn int64    `json:"refresh_expires_in"`
	SessionID        string   `json:"session_id"`
	User             userView `json:"user"`
}

func tokenResponseOf(s identity.Session, now time.Time) tokenResponse {
	return tokenResponse{
		AccessToken: s.AccessToken, TokenType: "Bearer",
		ExpiresIn:        int64(s.AccessExpiresAt.Sub(now).Round(time.Second) / time.Second),
		RefreshToken:     s.RefreshToken,
		RefreshExpiresIn: int64(s.RefreshExpiresAt.Sub(now).Round(time.Second) / time.Second),
		SessionID:        s.SessionID,
		User:             userViewOf(s.User),
	}
}

// signedIn records the identity a sign-in or refresh established, so the
// audit record and the log line name it like an authenticated request.
func signedIn(c echo.Context, s identity.Session) {
	c.Set(claimsKey, &auth.Claims{Tenant: s.User.Tenant, Roles: []string{s.User.Role}, Session: s.SessionID,
		RegisteredClaims: jwtSubject(s.User.ID)})
}

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTPCode string `json:"totp_code"`
}

// login handles POST /v1/auth/login.
func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"tenant", req.Tenant}, {"email", req.Email}, {"password", req.Password}} {
		if f.v == "" {
			return invalidField(f.name, "is required")
		}
	}
	ctx := c.Request().Context()
	sess, err := s.deps.Identity.Login(ctx, identity.LoginInput{
		Tenant: req.Tenant, Email: req.Email, Password: req.Password, TOTPCode: req.TOTPCode,
	})
	if err != nil {
		if attempt, ok := s.refusedAttempt(ctx, req.Tenant, req.Email, err); ok {
			c.Set(attemptKey, attempt)
		}
		return signInErr("sign in", err)
	}
	signedIn(c, sess)
	return c.JSON(http.StatusOK, tokenResponseOf(sess, time.Now()))
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh handles POST /v1/auth/refresh: rotate the refresh token.
func (s *Server) refresh(c echo.Context) error {
	var req refreshRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return invalidField("refresh_token", "is required")
	}
	sess, err := s.deps.Identity.Refresh(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return signInErr("refresh", err)
	}
	signedIn(c, sess)
	return c.JSON(http.StatusOK, tokenResponseOf(sess, time.Now()))
}

// logout handles POST /v1/auth/logout: the presented access token and its
// session stop working on every gateway replica at once.
func (s *Server) logout(c echo.Context) error {
	cl := claimsOf(c)
	if isAPIKey(cl) {
		return invalidField("Authorization", "an API key has no session; revoke it with DELETE /v1/api-keys/{id}")
	}
	if err := s.deps.Identity.Logout(c.Request().Context(), cl); err != nil {
		return identityErr("sign out", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// meView is GET /v1/me: who the credentials are.
type meView struct {
	Subject string    `json:"subject"`
	Tenant  string    `json:"tenant"`
	Roles   []string  `json:"roles"`
	Kind    string    `json:"kind"` // user, api_key or token
	Session string    `json:"session_id,omitempty"`
	User    *userView `json:"user,omitempty"`
}

// me handles GET /v1/me.
func (s *Server) me(c echo.Context) error {
	cl := claimsOf(c)
	v := meView{Subject: cl.Subject, Tenant: cl.Tenant, Roles: cl.Roles, Session: cl.Session, Kind: "token"}
	switch {
	case isAPIKey(cl):
		v.Kind = "api_key"
	case cl.Session != "":
		u, err := s.deps.Identity.GetUser(c.Request().Context(), cl.Tenant, cl.Subject)
		if err != nil {
			return identityErr("read the signed-in user", err)
		}
		uv := userViewOf(u)
		v.Kind, v.User = "user", &uv
	}
	return c.JSON(http.StatusOK, v)
}

// signedInUser returns the caller's user id, or a 400 when the credentials
// are not a signed-in user's (an API key or a development token).
func signedInUser(c echo.Context) (*auth.Claims, error) {
	cl := claimsOf(c)
	if isAPIKey(cl) || cl.Session == "" {
		return nil, invalidField("Authorization", "sign in as a user (POST /v1/auth/login) to manage your own account")
	}
	return cl, nil
}

// totpEnrollRequest is the body of POST /v1/me/mfa/totp: the proof the
// account's state asks for.
type totpEnrollRequest struct {
	// Password is the account's password, required while MFA is off: a
	// stolen access token alone must not enrol the thief's authenticator.
	Password string `json:"password"`
	// Code is a current code of the authenticator in use, required when
	// MFA is on: replacing it must take more than an access token.
	Code string `json:"code"`
}

// enrollTOTP handles POST /v1/me/mfa/totp: a new authenticator secret,
// pending until confirmed. The secret is shown in this answer only. The
// body must carry the password (MFA off) or a current code of the
// authenticator in use (MFA on), so a stolen access token cannot put the
// thief's authenticator on the account.
func (s *Server) enrollTOTP(c echo.Context) error {
	cl, err := signedInUser(c)
	if err != nil {
		return err
	}
	var req totpEnrollRequest
	if err := readOptionalJSON(c, &req); err != nil {
		return err
	}
	en, err := s.deps.Identity.EnrollTOTP(c.Request().Context(), cl.Tenant, cl.Subject,
		identity.Reauth{Code: req.Code, Password: req.Password})
	if err != nil {
		switch {
		case errors.Is(err, identity.ErrMFARequired):
			return invalidField("code", "is required: this account's second factor is on, so replacing it needs the current code from the authenticator app")
		case errors.Is(err, identity.ErrInvalidMFACode):
			return invalidField("code", reasonWrongCode)
		case errors.Is(err, identity.ErrInvalidCredentials):
			return invalidField("password", reasonWrongPassword)
		}
		return identityErr("enrol an authenticator", err)
	}
	return c.JSON(http.StatusCreated, map[string]string{"secret": en.Secret, "otpauth_url": en.URL})
}

// reasonWrongPassword is the 400 reason for a wrong password sent as proof
// by a signed-in user (not a 401: the access token is good).
const reasonWrongPassword = "is wrong (wrong passwords count towards the account's sign-in lockout)"

// reasonWrongCode is the 400 reason for a TOTP code that proves nothing.
const reasonWrongCode = "is wrong, expired or already used; send the current code from the authenticator app"

// readOptionalJSON is readJSON for a body that may be left out: an empty
// body, whatever its Content-Type, leaves dst as it is.
func readOptionalJSON(c echo.Context, dst any) error {
	req := c.Request()
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	return readJSON(c, dst)
}

type totpConfirmRequest struct {
	Code string `json:"code"`
}

// confirmTOTP handles POST /v1/me/mfa/totp/confirm: a valid code turns MFA on.
func (s *Server) confirmTOTP(c echo.Context) error {
	cl, err := signedInUser(c)
	if err != nil {
		return err
	}
	var req totpConfirmRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return invalidField("code", "is required")
	}
	if err := s.deps.Identity.ConfirmTOTP(c.Request().Context(), cl.Tenant, cl.Subject, req.Code); err != nil {
		var fe *identity.FieldError
		switch {
		case errors.Is(err, identity.ErrInvalidMFACode):
			return invalidField("code", "is wrong or expired; send the current code from the authenticator app")
		case errors.As(err, &fe) && fe.Field == "totp_code":
			// The service names the sign-in field; this request calls it code.
			return invalidField("code", fe.Reason)
		}
		return identityErr("confirm the authenticator", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// totpDisableRequest is the body of DELETE /v1/me/mfa/totp: one proof
// that the caller is the account's holder and not only its token's.
type totpDisableRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

// disableTOTP handles DELETE /v1/me/mfa/totp: with a current code (or the
// password) the second factor is turned off and sign-in needs the password
// alone. A wrong code or password is a 400 naming it, not a 401: the access
// token is good, and clients take a 401 for "sign in again".
func (s *Server) disableTOTP(c echo.Context) error {
	cl, err := signedInUser(c)
	if err != nil {
		return err
	}
	var req totpDisableRequest
	if err := readOptionalJSON(c, &req); err != nil {
		return err
	}
	err = s.deps.Identity.DisableTOTP(c.Request().Context(), cl.Tenant, cl.Subject,
		identity.Reauth{Code: req.Code, Password: req.Password})
	switch {
	case err == nil:
		return c.NoContent(http.StatusNoContent)
	case errors.Is(err, identity.ErrInvalidMFACode):
		return invalidField("code", reasonWrongCode)
	case errors.Is(err, identity.ErrInvalidCredentials):
		return invalidField("password", reasonWrongPassword)
	}
	return identityErr("turn the second factor off", err)
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword handles POST /v1/me/password: the signed-in user's own
// password change. Every other session of the user ends on every replica;
// the session the change is made in goes on. A wrong current password is a
// 400 naming current_password and counts towards the account's sign-in
// lockout (then 429 sign-in-locked).
func (s *Server) changePassword(c echo.Context) error {
	cl, err := signedInUser(c)
	if err != nil {
		return err
	}
	var req changePasswordRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	err = s.deps.Identity.ChangePassword(c.Request().Context(), cl.Tenant, cl.Subject, cl.Session,
		req.CurrentPassword, req.NewPassword)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		return invalidField("current_password", "is wrong (wrong passwords count towards the account's sign-in lockout)")
	}
	if err != nil {
		return identityErr("change password", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// managedUserAs loads user id of cl's tenant and applies the rules beyond
// the route's roles: only an owner acts on an owner, and a caller acting on
// their own account uses the /v1/me route, which asks for proof (self names
// it) that an access token alone lacks. The API handlers and the console's
// settings pages both call it.
func (s *Server) managedUserAs(ctx context.Context, cl *auth.Claims, id, owner, self string) (identity.User, error) {
	u, err := s.deps.Identity.GetUser(ctx, cl.Tenant, id)
	if err != nil {
		return identity.User{}, identityErr("read user", err)
	}
	if !mayGrant(cl, u.Role) {
		return identity.User{}, forbiddenBecause(owner)
	}
	if u.ID == cl.Subject {
		return identity.User{}, forbiddenBecause(self)
	}
	return u, nil
}

// Refusals of the user-management rules, shared by the API and the console.
const (
	ownerMFAOnly      = "Only an owner can reset an owner's second factor."
	selfMFA           = "Turn your own second factor off with DELETE /v1/me/mfa/totp, which asks for a code or your password."
	ownerPasswordOnly = "Only an owner can reset an owner's password."
	selfPassword      = "Change your own password with POST /v1/me/password, which asks for the current one."
)

// resetUserMFA handles POST /v1/users/{id}/mfa/reset: for a user who lost
// their authenticator, the second factor is turned off and every session of
// theirs revoked; they sign in with the password and may enrol again.
func (s *Server) resetUserMFA(c echo.Context) error {
	id, err := pathUserID(c)
	if err != nil {
		return err
	}
	if err := s.resetMFAAs(c.Request().Context(), claimsOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// resetMFAAs turns user id's second factor off and revokes their sessions,
// as cl, under managedUserAs's rules.
func (s *Server) resetMFAAs(ctx context.Context, cl *auth.Claims, id string) error {
	u, err := s.managedUserAs(ctx, cl, id, ownerMFAOnly, selfMFA)
	if err != nil {
		return err
	}
	if err := s.deps.Identity.ResetMFA(ctx, u.Tenant, u.ID); err != nil {
		return identityErr("reset the second factor", err)
	}
	return nil
}

type resetPasswordRequest struct {
	NewPassword string `json:"new_password"`
}

// resetUserPassword handles POST /v1/users/{id}/password: an owner's or
// admin's reset for a user who forgot their password. Without new_password
// one is generated and shown once in the answer. Every session of the user
// is revoked and the account's sign-in lockout cleared.
func (s *Server) resetUserPassword(c echo.Context) error {
	id, err := pathUserID(c)
	if err != nil {
		return err
	}
	var req resetPasswordRequest
	if err := readOptionalJSON(c, &req); err != nil {
		return err
	}
	u, pw, err := s.resetPasswordAs(c.Request().Context(), claimsOf(c), id, req.NewPassword)
	if err != nil {
		return err
	}
	v := userViewOf(u)
	v.Password = pw
	return c.JSON(http.StatusOK, v)
}

// resetPasswordAs sets user id's password (a generated one, returned, when
// password is empty) as cl, under managedUserAs's rules, and returns the
// user as they are afterwards.
func (s *Server) resetPasswordAs(ctx context.Context, cl *auth.Claims, id, password string) (identity.User, string, error) {
	u, err := s.managedUserAs(ctx, cl, id, ownerPasswordOnly, selfPassword)
	if err != nil {
		return identity.User{}, "", err
	}
	pw, err := s.deps.Identity.ResetPassword(ctx, u.Tenant, u.ID, password)
	if err != nil {
		return identity.User{}, "", identityErr("reset password", err)
	}
	if u, err = s.deps.Identity.GetUser(ctx, u.Tenant, u.ID); err != nil {
		return identity.User{}, "", identityErr("read user", err)
	}
	return u, pw, nil
}

type createUserRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// mayGrant reports whether the caller may give or take role: only an owner
// makes or changes owners.
func mayGrant(cl *auth.Claims, role string) bool {
	return role != auth.RoleOwner || slices.Contains(cl.Roles, auth.RoleOwner)
}

// listUsers handles GET /v1/users.
func (s *Server) listUsers(c echo.Context) error {
	users, err := s.deps.Identity.ListUsers(c.Request().Context(), tenantOf(c))
	if err != nil {
		return identityErr("list users", err)
	}
	items := make([]userView, 0, len(users))
	for _, u := range users {
		items = append(items, userViewOf(u))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// createUser handles POST /v1/users. Without a password one is generated
// and shown once in the answer.
func (s *Server) createUser(c echo.Context) error {
	var req createUserRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	u, pw, err := s.createUserAs(c.Request().Context(), claimsOf(c), identity.NewUser{
		Email: req.Email, Name: req.Name, Role: req.Role, Password: req.Password,
	})
	if err != nil {
		return err
	}
	v := userViewOf(u)
	v.Password = pw
	c.Response().Header().Set(echo.HeaderLocation, "/v1/users/"+u.ID)
	return c.JSON(http.StatusCreated, v)
}

// createUserAs adds a user to cl's tenant: only an owner creates an owner.
func (s *Server) createUserAs(ctx context.Context, cl *auth.Claims, nu identity.NewUser) (identity.User, string, error) {
	if !mayGrant(cl, nu.Role) {
		return identity.User{}, "", forbiddenBecause("Only an owner can create another owner.")
	}
	u, pw, err := s.deps.Identity.CreateUser(ctx, cl.Tenant, nu)
	if err != nil {
		return identity.User{}, "", identityErr("create user", err)
	}
	return u, pw, nil
}

// pathUserID returns the :id of a user route, or 404 for one that cannot exist.
func pathUserID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !validID(id) {
		return "", notFound("No such user.")
	}
	return id, nil
}

// getUser handles GET /v1/users/{id}.
func (s *Server) getUser(c echo.Context) error {
	id, err := pathUserID(c)
	if err != nil {
		return err
	}
	u, err := s.deps.Identity.GetUser(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return identityErr("read user", err)
	}
	return c.JSON(http.StatusOK, userViewOf(u))
}

type updateUserRequest struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

// updateUser handles PATCH /v1/users/{id}: change the role or disable the
// user (which also revokes every session of theirs).
func (s *Server) updateUser(c echo.Context) error {
	id, err := pathUserID(c)
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if req.Role == nil && req.Disabled == nil {
		return invalidField("body", "set role or disabled")
	}
	if req.Disabled != nil && !*req.Disabled {
		return invalidField("disabled", "a disabled user cannot be enabled again; create a new user")
	}
	u, err := s.updateUserAs(c.Request().Context(), claimsOf(c), id, req.Role, req.Disabled != nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userViewOf(u))
}

// updateUserAs changes user id's role (when role is set) and disables them
// (when disable is), as cl: only an owner changes an owner or makes one.
func (s *Server) updateUserAs(ctx context.Context, cl *auth.Claims, id string, role *string, disable bool) (identity.User, error) {
	u, err := s.deps.Identity.GetUser(ctx, cl.Tenant, id)
	if err != nil {
		return identity.User{}, identityErr("read user", err)
	}
	if !mayGrant(cl, u.Role) || (role != nil && !mayGrant(cl, *role)) {
		return identity.User{}, forbiddenBecause("Only an owner can change an owner or make one.")
	}
	if role != nil {
		if u, err = s.deps.Identity.SetRole(ctx, cl.Tenant, id, *role); err != nil {
			return identity.User{}, identityErr("change role", err)
		}
	}
	if disable {
		if err := s.deps.Identity.DisableUser(ctx, cl.Tenant, id); err != nil {
			return identity.User{}, identityErr("disable user", err)
		}
		if u, err = s.deps.Identity.GetUser(ctx, cl.Tenant, id); err != nil {
			return identity.User{}, identityErr("read user", err)
		}
	}
	return u, nil
}

// revokeUserSessions handles POST /v1/users/{id}/revoke-sessions: every
// access and refresh token of the user stops working on every replica.
func (s *Server) revokeUserSessions(c echo.Context) error {
	id, err := pathUserID(c)
	if err != nil {
		return err
	}
	if err := s.revokeSessionsAs(c.Request().Context(), claimsOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// revokeSessionsAs signs user id out everywhere, as cl: only an owner
// revokes an owner's sessions.
func (s *Server) revokeSessionsAs(ctx context.Context, cl *auth.Claims, id string) error {
	u, err := s.deps.Identity.GetUser(ctx, cl.Tenant, id)
	if err != nil {
		return identityErr("read user", err)
	}
	if !mayGrant(cl, u.Role) {
		return forbiddenBecause("Only an owner can revoke an owner's sessions.")
	}
	if err := s.deps.Identity.RevokeUserSessions(ctx, cl.Tenant, id); err != nil {
		return identityErr("revoke sessions", err)
	}
	return nil
}

// apiKeyView is an API key as the API shows it; Key only in the 201 answer.
type apiKeyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Prefix    string     `json:"prefix"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Key       string     `json:"key,omitempty"`
}

func apiKeyViewOf(k identity.APIKey) apiKeyView {
	return apiKeyView{ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

type createAPIKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// ExpiresAt is parsed by the handler: time.Time's own decoding error
	// does not say which field it was.
	ExpiresAt *string `json:"expires_at"`
}

// listAPIKeys handles GET /v1/api-keys.
func (s *Server) listAPIKeys(c echo.Context) error {
	keys, err := s.deps.Identity.ListAPIKeys(c.Request().Context(), tenantOf(c))
	if err != nil {
		return identityErr("list API keys", err)
	}
	items := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		items = append(items, apiKeyViewOf(k))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// createAPIKey handles POST /v1/api-keys: the key is in this answer only.
func (s *Server) createAPIKey(c echo.Context) error {
	var req createAPIKeyRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	cl := claimsOf(c)
	nk := identity.NewAPIKey{Name: req.Name, Role: req.Role, CreatedBy: cl.Subject}
	if req.ExpiresAt != nil {
		at, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		if err != nil {
			return invalidField("expires_at", "must be an RFC 3339 time such as 2026-01-31T09:00:00Z")
		}
		nk.ExpiresAt = at
	}
	k, key, err := s.createAPIKeyAs(c.Request().Context(), cl, nk)
	if err != nil {
		return err
	}
	v := apiKeyViewOf(k)
	v.Key = key
	c.Response().Header().Set(echo.HeaderLocation, "/v1/api-keys/"+k.ID)
	return c.JSON(http.StatusCreated, v)
}

// createAPIKeyAs creates a key in cl's tenant: only an owner creates an
// owner key. The key itself is returned this once.
func (s *Server) createAPIKeyAs(ctx context.Context, cl *auth.Claims, nk identity.NewAPIKey) (identity.APIKey, string, error) {
	if !mayGrant(cl, nk.Role) {
		return identity.APIKey{}, "", forbiddenBecause("Only an owner can create an owner API key.")
	}
	k, key, err := s.deps.Identity.CreateAPIKey(ctx, cl.Tenant, nk)
	if err != nil {
		return identity.APIKey{}, "", identityErr("create API key", err)
	}
	return k, key, nil
}

// revokeAPIKey handles DELETE /v1/api-keys/{id}: the key stops working at
// once (every request reads it).
func (s *Server) revokeAPIKey(c echo.Context) error {
	if err := s.revokeAPIKeyAs(c.Request().Context(), claimsOf(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// revokeAPIKeyAs revokes key id of cl's tenant: only an owner revokes an
// owner key; an id that cannot exist, or another tenant's, is not found.
func (s *Server) revokeAPIKeyAs(ctx context.Context, cl *auth.Claims, id string) error {
	if !identity.ValidAPIKeyID(id) {
		return notFound("No such API key.")
	}
	k, err := s.deps.Identity.GetAPIKey(ctx, cl.Tenant, id)
	if errors.Is(err, identity.ErrNotFound) {
		return notFound("No such API key.")
	}
	if err != nil {
		return fmt.Errorf("read API key %s: %w", id, err)
	}
	if !mayGrant(cl, k.Role) {
		return forbiddenBecause("Only an owner can revoke an owner API key.")
	}
	if err := s.deps.Identity.RevokeAPIKey(ctx, cl.Tenant, id); err != nil {
		return identityErr("revoke API key", err)
	}
	return nil
}

type createTenantRequest struct {
	ID    string            `json:"id"`
	Name  string            `json:"name"`
	Owner createUserRequest `json:"owner"`
}

// tenantView is a tenant as the operator sees it: no tenant data.
type tenantView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Owner     *userView `json:"owner,omitempty"`
}

// listTenants handles GET /v1/tenants (platform operators).
func (s *Server) listTenants(c echo.Context) error {
	ts, err := s.deps.Identity.ListTenants(c.Request().Context())
	if err != nil {
		return identityErr("list tenants", err)
	}
	items := make([]tenantView, 0, len(ts))
	for _, t := range ts {
		items = append(items, tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// createTenant handles POST /v1/tenants (platform operators): a tenant and
// its first owner, whose generated password is shown once.
func (s *Server) createTenant(c echo.Context) error {
	var req createTenantRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if req.Owner.Role != "" && req.Owner.Role != auth.RoleOwner {
		return invalidField("owner.role", "the first user of a tenant is its owner; leave role out")
	}
	t, u, pw, err := s.deps.Identity.CreateTenant(c.Request().Context(), req.ID, req.Name, identity.NewUser{
		Email: req.Owner.Email, Name: req.Owner.Name, Role: auth.RoleOwner, Password: req.Owner.Password,
	})
	if err != nil {
		var fe *identity.FieldError
		if errors.As(err, &fe) && fe.Field == "tenant" {
			// The service's name for the tenant id; this request calls it id.
			return invalidField("id", fe.Reason)
		}
		return identityErr("create tenant", err)
	}
	ov := userViewOf(u)
	ov.Password = pw
	return c.JSON(http.StatusCreated, tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, Owner: &ov})
}

// jwks handles GET /.well-known/jwks.json: the public keys access tokens
// are verified with, so other services and subscribers can verify them.
func (s *Server) jwks(c echo.Context) error {
	if s.deps.Keys == nil {
		return notFound("This gateway publishes no signing keys.")
	}
	body, err := s.deps.Keys.JWKSJSON()
	if err != nil {
		return fmt.Errorf("encode JWKS: %w", err)
	}
	// Public data. Kept short: a rotated key signs at once, so verifiers
	// refetch on an unknown kid and should not hold a stale set for long.
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=60")
	return c.Blob(http.StatusOK, "application/jwk-set+json", body)
}

// refusedAttempt names the account a refused sign-in tried when its record
// belongs in that tenant's audit log, so its admins see attempts on their
// accounts; one naming no tenant stays in the anonymous log only (audit.go).
// An id that cannot be a tenant's is not looked up, and input refused as
// malformed is not named: then the email field may hold anything (a pasted
// password), which must not reach a tenant's log.
func (s *Server) refusedAttempt(ctx context.Context, tenant, email string, err error) (signInAttempt, bool) {
	if !auth.ValidTenant(tenant) {
		return signInAttempt{}, false
	}
	var fe *identity.FieldError
	if errors.As(err, &fe) {
		return signInAttempt{}, false
	}
	if known, _ := s.deps.Identity.TenantExists(ctx, tenant); !known {
		return signInAttempt{}, false
	}
	return signInAttempt{Tenant: tenant, Email: strings.ToLower(strings.TrimSpace(email))}, true
}

// attemptKey is the echo context key of a refused sign-in's signInAttempt.
const attemptKey = "inframind.signin_attempt"

// signInAttempt names the account a refused sign-in tried, for its audit record.
type signInAttempt struct{ Tenant, Email string }

// claimsOf returns the verified claims authenticate (or a sign-in) set.
func claimsOf(c echo.Context) *auth.Claims {
	cl, _ := c.Get(claimsKey).(*auth.Claims)
	if cl == nil {
		return &auth.Claims{}
	}
	return cl
}

// isAPIKey reports whether the claims came from an API key.
func isAPIKey(cl *auth.Claims) bool {
	return strings.HasPrefix(cl.Subject, identity.APIKeySubjectPrefix)
}

// jwtSubject is registered claims naming only the subject.
func jwtSubject(sub string) jwt.RegisteredClaims { return jwt.RegisteredClaims{Subject: sub} }

// forbiddenBecause is a 403 for a rule beyond the route's roles (only an
// owner acts on owners).
func forbiddenBecause(detail string) *Problem {
	return problem(http.StatusForbidden, ProblemForbidden, "Forbidden", detail)
}

// needIdentity answers 503 on the identity routes of a gateway built
// without the identity service (a verifier-only deployment).
func (s *Server) needIdentity(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.deps.Identity == nil {
			return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Sign-in unavailable",
				"This gateway has no signing key configured, so it cannot sign anyone in.")
		}
		return next(c)
	}
}
