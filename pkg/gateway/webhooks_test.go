package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// publicURL is an https URL on a public address literal, so registration
// needs no DNS in the test.
const publicURL = "https://93.184.215.14/hooks/infra-mind"

func TestWebhookLifecycleIsTenantScoped(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t)
	ctx := context.Background()

	resp := e.do(t, http.MethodPost, "/v1/webhooks", "acme", "application/json",
		strings.NewReader(`{"url":"`+publicURL+`","event_types":["assessment.completed","assessment.status","assessment.completed"]}`), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	created := decodeBody[api.WebhookCreated](t, resp)
	require.NotEmpty(t, created.ID)
	require.Equal(t, "/v1/webhooks/"+created.ID, resp.Header.Get("Location"))
	require.Equal(t, publicURL, created.URL)
	require.Equal(t, []api.WebhookCreatedEventTypes{"assessment.completed", "assessment.status"}, created.EventTypes, "duplicates dropped")
	require.True(t, strings.HasPrefix(created.Secret, webhook.SecretPrefix))

	// The dispatcher signs with the secret the tenant was shown.
	stored, err := e.hooks.Get(ctx, "acme", created.ID)
	require.NoError(t, err)
	require.Equal(t, created.Secret, stored.Secret)

	// Listing never shows the secret again.
	resp = e.do(t, http.MethodGet, "/v1/webhooks", "acme", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Contains(t, string(raw), created.ID)
	require.NotContains(t, string(raw), created.Secret)
	require.NotContains(t, string(raw), `"secret"`)

	// Another tenant sees nothing of it.
	resp = e.do(t, http.MethodGet, "/v1/webhooks", "globex", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	list := decodeBody[api.WebhookList](t, resp)
	require.Empty(t, list.Items)
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/v1/webhooks/" + created.ID + "/deliveries"},
		{http.MethodDelete, "/v1/webhooks/" + created.ID},
	} {
		resp = e.do(t, r.method, r.path, "globex", "", nil, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, r.method+" "+r.path)
		p := decodeBody[Problem](t, resp)
		require.Equal(t, ProblemNotFound, p.Type)
	}

	// The owner reads the delivery log.
	att := store.Delivery{
		ID: store.DeliveryID("acme", created.ID, "event-1"), TenantID: "acme", WebhookID: created.ID,
		EventID: "event-1", EventType: webhook.EventAssessmentCompleted, Status: store.DeliverySucceeded,
		Attempts: []store.DeliveryAttempt{{Attempt: 1, StatusCode: 500, Error: "endpoint answered HTTP 500"}, {Attempt: 2, StatusCode: 204}},
	}
	require.NoError(t, e.hooks.SaveDelivery(ctx, att))
	resp = e.do(t, http.MethodGet, "/v1/webhooks/"+created.ID+"/deliveries", "acme", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	log := decodeBody[struct{ Items []store.Delivery }](t, resp)
	require.Len(t, log.Items, 1)
	require.Equal(t, "event-1", log.Items[0].EventID)
	require.Len(t, log.Items[0].Attempts, 2)
	require.Equal(t, 500, log.Items[0].Attempts[0].StatusCode)

	// Still there after the other tenant's delete attempt; gone after the owner's.
	resp = e.do(t, http.MethodDelete, "/v1/webhooks/"+created.ID, "acme", "", nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.NoError(t, resp.Body.Close())
	resp = e.do(t, http.MethodDelete, "/v1/webhooks/"+created.ID, "acme", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.NoError(t, resp.Body.Close())
}

func TestWebhookRegistrationRefusesInternalURLs(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t)
	tests := []struct {
		name, body, field string
		status            int
	}{
		{name: "loopback", body: `{"url":"https://127.0.0.1/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "10.x", body: `{"url":"https://10.1.2.3/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "172.16.x", body: `{"url":"https://172.16.5.4/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "192.168.x", body: `{"url":"https://192.168.0.10/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "metadata", body: `{"url":"https://169.254.169.254/latest/meta-data/","event_types":["assessment.completed"]}`, field: "url"},
		{name: "ipv6 loopback", body: `{"url":"https://[::1]/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "ula", body: `{"url":"https://[fd00::1]/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "localhost resolves to loopback", body: `{"url":"https://localhost/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "plain http", body: `{"url":"http://93.184.215.14/h","event_types":["assessment.completed"]}`, field: "url"},
		{name: "no url", body: `{"event_types":["assessment.completed"]}`, field: "url"},
		{name: "no event types", body: `{"url":"` + publicURL + `"}`, field: "event_types"},
		{name: "unknown event type", body: `{"url":"` + publicURL + `","event_types":["assessment.deleted"]}`, field: "event_types"},
		{name: "unknown field", body: `{"url":"` + publicURL + `","event_types":["assessment.completed"],"colour":"blue"}`, field: "colour"},
		{name: "own secret", body: `{"url":"` + publicURL + `","event_types":["assessment.completed"],"secret":"mine"}`, field: "secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.do(t, http.MethodPost, "/v1/webhooks", "acme", "application/json", strings.NewReader(tc.body), nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			p := decodeBody[Problem](t, resp)
			require.Len(t, p.Errors, 1)
			require.Equal(t, tc.field, p.Errors[0].Field)
		})
	}
	resp := e.do(t, http.MethodPost, "/v1/webhooks", "acme", "text/plain", strings.NewReader(`{}`), nil)
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	require.NoError(t, resp.Body.Close())

	resp = e.do(t, http.MethodGet, "/v1/webhooks", "acme", "", nil, nil)
	list := decodeBody[api.WebhookList](t, resp)
	require.Empty(t, list.Items, "nothing refused was stored")
}

func TestWebhookDevelopmentOptInAcceptsLocalReceivers(t *testing.T) {
	t.Parallel()
	e := newFakeEnvWith(t, Config{WebhookPolicy: webhook.Policy{AllowPrivate: true}})
	resp := e.do(t, http.MethodPost, "/v1/webhooks", "acme", "application/json",
		strings.NewReader(`{"url":"http://127.0.0.1:9999/hooks","event_types":["assessment.status"]}`), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NoError(t, resp.Body.Close())
}
