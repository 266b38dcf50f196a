package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/redact"
)

// Shapes of the product's credentials, made up for the test.
const (
	apiKey    = "imk_abcdefghijk2_Q2hhbmdlIG1lIGlmIHlvdSBjYW4gcmVhZCB0aGlzLg0"
	jwtToken  = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLWEiLCJ0ZW5hbnQiOiJhY21lIn0.c2lnbmF0dXJlLWJ5dGVz"
	whsec     = "whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRoZS10ZXN0LW9ubHk"
	vault     = "hvs.CAESIJ2yZ3k1bm90LWEtcmVhbC10b2tlbg"
	totpURL   = "otpauth://totp/Infra%20Mind:owner@acme.test?secret=JBSWY3DPEHPK3PXP&issuer=Infra%20Mind"
	totpSec   = "JBSWY3DPEHPK3PXP"
	refreshTk = "cmVmcmVzaC10b2tlbi1ieXRlcy0zMi1sb25nLXh4eHg"
	password  = "correct horse battery staple"
)

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		gone           []string
	}{
		{name: "api key in a path", in: "/v1/api-keys/" + apiKey, want: "/v1/api-keys/imk_abcdefghijk2_" + redact.Mask, gone: []string{apiKey[17:]}},
		{name: "api key cut short", in: "key imk_abcdefghijk2Q2hhbmdlIG1l", want: "key imk_" + redact.Mask},
		{name: "bearer jwt", in: "Authorization: Bearer " + jwtToken, want: "Authorization: Bearer " + redact.Mask, gone: []string{jwtToken}},
		{name: "bare jwt", in: "token " + jwtToken + " refused", want: "token " + redact.Mask + " refused"},
		{name: "webhook secret", in: `{"secret":"` + whsec + `"}`, want: `{"secret":"` + redact.Mask + `"}`},
		{name: "vault token", in: "X-Vault-Token: " + vault, want: "X-Vault-Token: " + redact.Mask},
		{name: "otpauth url", in: "enrol " + totpURL, want: "enrol otpauth://" + redact.Mask, gone: []string{totpSec}},
		{name: "query token", in: "/v1/me?access_token=" + refreshTk + "&x=1", want: "/v1/me?access_token=" + redact.Mask + "&x=1"},
		{name: "query key", in: "GET /v1/me?key=" + refreshTk, want: "GET /v1/me?key=" + redact.Mask},
		{name: "form password", in: "tenant=acme&password=" + strings.ReplaceAll(password, " ", "+"), want: "tenant=acme&password=" + redact.Mask},
		{name: "json password", in: `{"email":"a@b.test","password": "` + password + `"}`, want: `{"email":"a@b.test","password": "` + redact.Mask + `"}`},
		{name: "json refresh token", in: `{"refresh_token":"` + refreshTk + `"}`, want: `{"refresh_token":"` + redact.Mask + `"}`},
		{name: "connection url", in: "dial redis://default:s3cr3t-pass@cache:6379/0: refused", want: "dial redis://default:" + redact.Mask + "@cache:6379/0: refused"},
		{name: "challenge kept", in: `Bearer realm="infra-mind", error="invalid_token"`, want: `Bearer realm="infra-mind", error="invalid_token"`},
		{name: "ordinary text kept", in: "GET /v1/assessments/0b7c9e1a status=200 key id abcdefghijk2", want: "GET /v1/assessments/0b7c9e1a status=200 key id abcdefghijk2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := redact.String(tt.in)
			require.Equal(t, tt.want, got)
			for _, g := range tt.gone {
				require.NotContains(t, got, g)
			}
		})
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	got := redact.URL("https://ops:pa55word@hooks.example.com/in?t=" + refreshTk + "&team=a#frag")
	require.Equal(t, "https://ops:[REDACTED]@hooks.example.com/in?t=[REDACTED]&team=[REDACTED]", got)
	require.NotContains(t, got, refreshTk)
	require.NotContains(t, got, "pa55word")
	require.Equal(t, "https://hooks.example.com/in", redact.URL("https://hooks.example.com/in"))
}

func TestSensitiveKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"Authorization", "password", "new_password", "refresh_token", "X-API-Key", "client_secret", "totp_code", "X-Vault-Token", "Cookie"} {
		require.True(t, redact.SensitiveKey(k), k)
	}
	for _, k := range []string{"path", "route", "request_id", "tenant", "subject", "status", "error", "msg", "session", "webhook_id"} {
		require.False(t, redact.SensitiveKey(k), k)
	}
}

// TestReplaceAttr logs through a JSON handler, as the services do, and
// checks the written line.
func TestReplaceAttr(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: redact.ReplaceAttr}))
	log.With(slog.String("token", refreshTk)).Error("refused "+apiKey,
		slog.String("password", password),
		slog.Group("req", slog.String("Authorization", "Bearer "+jwtToken), slog.String("path", "/v1/x?api_key="+refreshTk)),
		slog.Any("error", fmt.Errorf("post %q: %w", "https://h.example/?token="+refreshTk, errors.New("timeout"))),
		slog.Any("body", map[string]string{"secret": whsec}),
		slog.Any("plain", errors.New("store unavailable")),
		slog.Int("status", 503),
	)
	line := buf.String()
	for _, s := range []string{refreshTk, apiKey, password, jwtToken, whsec} {
		require.NotContains(t, line, s)
	}
	for _, s := range []string{`"msg":"refused imk_abcdefghijk2_[REDACTED]"`, `"plain":"store unavailable"`, `"status":503`, `"path":"/v1/x?api_key=[REDACTED]"`} {
		require.Contains(t, line, s)
	}
}
