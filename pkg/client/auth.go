package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/infra-mind/infra-mind/pkg/api"
)

// ProblemMFARequired is the problem type of a sign-in whose password was
// right but whose account needs an authenticator code (TOTP).
const ProblemMFARequired = api.HTTPSInfraMindDevProblemsMFARequired

// Login signs in with a password (POST /v1/auth/login) and returns the
// tokens, and the answer's JSON as the gateway sent it for callers that show
// it. Wrong credentials are a *Problem with status 401; an account that
// needs a TOTP code a 401 of type ProblemMFARequired; a locked account a
// 429. The client's own bearer token, if any, is not sent.
func (c *Client) Login(ctx context.Context, in api.LoginRequest) (api.TokenResponse, json.RawMessage, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return api.TokenResponse{}, nil, fmt.Errorf("encode sign-in: %w", err)
	}
	anon := &Client{base: c.base, http: c.http, strict: c.strict}
	var raw json.RawMessage
	if err := anon.do(ctx, http.MethodPost, "/v1/auth/login", body, "application/json", http.StatusOK, &raw); err != nil {
		return api.TokenResponse{}, nil, err
	}
	var out api.TokenResponse
	if err := c.decode(bytes.NewReader(raw), &out); err != nil {
		return api.TokenResponse{}, nil, fmt.Errorf("POST /v1/auth/login: decode response: %w", err)
	}
	return out, raw, nil
}
