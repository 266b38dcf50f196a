package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// TestOWASPCredentialsNeverLogged sends credentials everywhere a client can
// put one by mistake or on purpose (an API key in the path where its id
// belongs, tokens in the query string, a password in the email field, a
// Basic header, a user agent, a webhook URL's query) and drives the paths
// that log request data (the request log, a 5xx error, a reused refresh
// token, a failed webhook delivery). The gateway's log must show each path
// was logged, with the credential masked; the log sink (logcheck_test.go)
// then fails the test if any line holds any credential the traffic carried,
// and the audit log must not hold one either.
func TestOWASPCredentialsNeverLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{WebhookPolicy: webhook.Policy{AllowPrivate: true}})
	owaspRunDispatcher(t, e, webhook.Policy{AllowPrivate: true})
	w := owaspNewWorld(t, e, "logs")
	owner, key := w.owner.AccessToken, w.key.Key
	const ct = echo.MIMEApplicationJSON
	keyID, keySecret := w.key.ID, strings.TrimPrefix(key, "imk_"+w.key.ID+"_")
	require.NotEqual(t, key, keySecret)
	send := func(method, path, bearer, body string, hdr map[string]string) owaspResult {
		t.Helper()
		r := owaspSend(t, e, method, path, bearer, ct, body, hdr)
		require.Less(t, r.Status, 500, "%s %s: %s", method, path, r.Body)
		return r
	}

	// An API key authenticates; pasted into paths it is refused, and logged
	// (request log) and audited with its secret masked.
	require.Equal(t, http.StatusOK, send(http.MethodGet, "/v1/me", key, "", nil).Status)
	require.Equal(t, http.StatusNotFound, send(http.MethodDelete, "/v1/api-keys/"+key, owner, "", nil).Status)
	require.Equal(t, http.StatusNotFound, send(http.MethodGet, "/v1/assessments/"+key, owner, "", nil).Status)
	require.Equal(t, http.StatusNotFound, send(http.MethodGet, "/v1/"+key, "", "", nil).Status)
	// Tokens in the query string, a key as the user agent and as a header.
	require.Equal(t, http.StatusOK, send(http.MethodGet, "/v1/me?access_token="+url.QueryEscape(owner)+
		"&api_key="+url.QueryEscape(key)+"&refresh_token="+url.QueryEscape(w.owner.RefreshToken), owner, "",
		map[string]string{"User-Agent": "ci " + key, "X-Api-Key": key}).Status)
	// Basic credentials and a malformed bearer are refused.
	basic := base64.StdEncoding.EncodeToString([]byte(w.ownerEmail + ":" + w.password))
	require.Equal(t, http.StatusUnauthorized, send(http.MethodGet, "/v1/me", "", "",
		map[string]string{"Authorization": "Basic " + basic}).Status)
	require.Equal(t, http.StatusUnauthorized, send(http.MethodGet, "/v1/me", "", "",
		map[string]string{"Authorization": "Token " + key}).Status)
	// Sign-in bodies: a wrong password, the password in the email field,
	// the analyst's generated password.
	require.Equal(t, http.StatusUnauthorized, send(http.MethodPost, "/v1/auth/login", "",
		owaspJSON(t, map[string]string{"tenant": "logs", "email": w.ownerEmail, "password": w.password + "-wrong"}), nil).Status)
	send(http.MethodPost, "/v1/auth/login", "",
		owaspJSON(t, map[string]string{"tenant": "logs", "email": w.password, "password": w.password}), nil)
	analyst := owaspLogin(t, e, "logs", "analyst@logs.test", w.analyst.Password)
	// A refresh token used twice: the reuse is logged and the session ended.
	refresh := owaspJSON(t, map[string]string{"refresh_token": analyst.RefreshToken})
	require.Equal(t, http.StatusOK, send(http.MethodPost, "/v1/auth/refresh", "", refresh, nil).Status)
	require.Equal(t, http.StatusUnauthorized, send(http.MethodPost, "/v1/auth/refresh", "", refresh, nil).Status)

	// A webhook whose URL carries a token, at an address that refuses
	// connections: the failed delivery is logged without the token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	const hookToken = "receiver-token-3f9c2a7d41"
	e.logs.add(hookToken)
	require.Equal(t, http.StatusNoContent, send(http.MethodDelete, "/v1/webhooks/"+w.webhook.ID, owner, "", nil).Status)
	hook := owaspDecode[api.WebhookCreated](t, owaspSend(t, e, http.MethodPost, "/v1/webhooks", owner, ct,
		`{"url":"http://`+closedAddr+`/in?token=`+hookToken+`","event_types":["assessment.completed"]}`, nil), http.StatusCreated)
	owaspPublishCompleted(t, e, "logs")
	d, _ := owaspSettled(t, e, owner, hook.ID)
	require.Equal(t, store.DeliveryFailed, d.Status)
	require.NotEmpty(t, d.Attempts)
	require.NotContains(t, d.Attempts[0].Error, hookToken, "the delivery record shown to the tenant")

	// Redis gone: the revocation check fails closed with a 503, whose
	// cause is logged at error level.
	require.NoError(t, e.cache.Close())
	r := owaspSend(t, e, http.MethodGet, "/v1/me?access_token="+url.QueryEscape(owner), owner, "", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)

	// Each path above was logged, masked.
	logged := e.logs.text()
	for _, want := range []string{
		`"path":"/v1/api-keys/imk_` + keyID + `_[REDACTED]"`, // request log
		`"path":"/v1/imk_` + keyID + `_[REDACTED]"`,          // an unmatched route
		`"path":"/v1/me"`, // never the query string
		`"msg":"refresh token reused; revoking its session"`,
		`"msg":"webhook delivery failed"`,
		`token=[REDACTED]`,       // the webhook URL in the delivery error
		`"msg":"request failed"`, // the 503's cause
	} {
		require.Contains(t, logged, want)
	}

	// The audit log holds no credential either (records are written in the
	// background: wait for the last one, the 503).
	var records string
	require.Eventually(t, func() bool {
		var all []bson.M
		cur, err := e.store.Database().Collection(store.CollAudit).Find(context.Background(), bson.D{})
		require.NoError(t, err)
		require.NoError(t, cur.All(context.Background(), &all))
		b, err := json.Marshal(all)
		require.NoError(t, err)
		records = string(b)
		return strings.Contains(records, r.Header.Get(echo.HeaderXRequestID))
	}, 15*time.Second, 20*time.Millisecond)
	require.Contains(t, records, "imk_"+keyID+"_[REDACTED]", "the pasted key's audit record")
	for _, s := range []string{keySecret, owner, w.password, w.analyst.Password, analyst.RefreshToken, basic} {
		require.NotContains(t, records, s)
	}
}
