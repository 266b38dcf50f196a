package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ProblemMFARequired is the problem type of a sign-in whose password was
// right but whose account needs an authenticator code (TOTP).
const ProblemMFARequired = "https://infra-mind.dev/problems/mfa-required"

// Credentials sign a user in to a tenant.
type Credentials struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// TOTPCode is the authenticator's current code, for accounts with MFA.
	TOTPCode string `json:"totp_code,omitempty"`
}

// User is a tenant's user as the gateway shows it.
type User struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Email      string    `json:"email"`
	Name       string    `json:"name,omitempty"`
	Role       string    `json:"role"`
	MFAEnabled bool      `json:"mfa_enabled"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"created_at"`
}

// Tokens is the answer to a sign-in: a short-lived access token to send as
// the bearer token, and the refresh token that renews it (each refresh token
// works once).
type Tokens struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"` // seconds
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"` // seconds until the session ends
	SessionID        string `json:"session_id"`
	User             User   `json:"user"`
}

// Login signs in with a password (POST /v1/auth/login). Wrong credentials
// are a *Problem with status 401; an account that needs a TOTP code a 401
// of type ProblemMFARequired; a locked account a 429. The client's own
// bearer token, if any, is not sent.
func (c *Client) Login(ctx context.Context, cr Credentials) (Tokens, error) {
	body, err := json.Marshal(cr)
	if err != nil {
		return Tokens{}, fmt.Errorf("encode sign-in: %w", err)
	}
	anon := &Client{base: c.base, http: c.http}
	var out Tokens
	if err := anon.do(ctx, http.MethodPost, "/v1/auth/login", body, "application/json", http.StatusOK, &out); err != nil {
		return Tokens{}, err
	}
	return out, nil
}
