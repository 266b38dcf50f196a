package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestWebhooksEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "webhooks_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"create, get, list and delete stay within the tenant", testWebhookIsolation},
		{"a webhook needs a url, a secret and event types", testWebhookValidation},
		{"the delivery log keeps every attempt, newest delivery first", testDeliveryLog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

func newWebhook(tenant string) store.Webhook {
	return store.Webhook{ID: uniq("w"), TenantID: tenant, URL: "https://93.184.215.14/h",
		EventTypes: []string{"assessment.completed"}, Secret: "whsec_x"}
}

func testWebhookIsolation(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	w, err := s.Webhooks.Create(ctx, newWebhook(acme))
	require.NoError(t, err)
	_, err = s.Webhooks.Create(ctx, w)
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := s.Webhooks.Get(ctx, acme, w.ID)
	require.NoError(t, err)
	require.Equal(t, w.URL, got.URL)
	require.Equal(t, "whsec_x", got.Secret)
	require.True(t, got.Subscribes("assessment.completed"))
	require.False(t, got.Subscribes("assessment.status"))

	_, err = s.Webhooks.Get(ctx, globex, w.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.Webhooks.List(ctx, globex)
	require.NoError(t, err)
	require.Empty(t, list)
	require.ErrorIs(t, s.Webhooks.Delete(ctx, globex, w.ID), store.ErrNotFound)

	list, err = s.Webhooks.List(ctx, acme)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NoError(t, s.Webhooks.Delete(ctx, acme, w.ID))
	require.ErrorIs(t, s.Webhooks.Delete(ctx, acme, w.ID), store.ErrNotFound)
}

func testWebhookValidation(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(w *store.Webhook)
	}{
		{"no tenant", func(w *store.Webhook) { w.TenantID = "" }},
		{"no url", func(w *store.Webhook) { w.URL = "" }},
		{"no secret", func(w *store.Webhook) { w.Secret = "" }},
		{"no event types", func(w *store.Webhook) { w.EventTypes = nil }},
	}
	for _, tc := range tests {
		w := newWebhook(uniq("t"))
		tc.edit(&w)
		_, err := s.Webhooks.Create(ctx, w)
		require.ErrorIs(t, err, store.ErrInvalid, tc.name)
	}
}

func testDeliveryLog(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("t")
	w, err := s.Webhooks.Create(ctx, newWebhook(tenant))
	require.NoError(t, err)
	d := store.Delivery{ID: store.DeliveryID(tenant, w.ID, "e1"), TenantID: tenant, WebhookID: w.ID, EventID: "e1",
		EventType: "assessment.completed", Status: store.DeliveryPending,
		Attempts: []store.DeliveryAttempt{{Attempt: 1, StatusCode: 500, Error: "endpoint answered HTTP 500"}}}
	require.NoError(t, s.Webhooks.CreateDelivery(ctx, d))
	require.ErrorIs(t, s.Webhooks.CreateDelivery(ctx, d), store.ErrConflict, "a delivery's record is created once")
	d.Attempts = append(d.Attempts, store.DeliveryAttempt{Attempt: 2, StatusCode: 204})
	d.Status = store.DeliverySucceeded
	require.NoError(t, s.Webhooks.SaveDelivery(ctx, d))

	bad := d
	bad.ID = "made-up"
	require.ErrorIs(t, s.Webhooks.SaveDelivery(ctx, bad), store.ErrInvalid)
	require.ErrorIs(t, s.Webhooks.CreateDelivery(ctx, bad), store.ErrInvalid)

	got, err := s.Webhooks.GetDelivery(ctx, tenant, d.ID)
	require.NoError(t, err)
	require.Equal(t, store.DeliverySucceeded, got.Status)
	require.Len(t, got.Attempts, 2)
	_, err = s.Webhooks.GetDelivery(ctx, uniq("other"), d.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	time.Sleep(5 * time.Millisecond) // distinct created_at for the order check
	d2 := store.Delivery{ID: store.DeliveryID(tenant, w.ID, "e2"), TenantID: tenant, WebhookID: w.ID, EventID: "e2",
		EventType: "assessment.completed", Status: store.DeliveryPending}
	require.NoError(t, s.Webhooks.SaveDelivery(ctx, d2))
	log, err := s.Webhooks.ListDeliveries(ctx, tenant, w.ID)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.Equal(t, "e2", log[0].EventID)
	require.Equal(t, "e1", log[1].EventID)
	log, err = s.Webhooks.ListDeliveries(ctx, uniq("other"), w.ID)
	require.NoError(t, err)
	require.Empty(t, log)
}
