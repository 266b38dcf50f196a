package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
)

// webhookRequest is the body of POST /v1/webhooks.
type webhookRequest struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
}

// createWebhook handles POST /v1/webhooks (app.Webhooks.Create).
func (s *Server) createWebhook(c echo.Context) error {
	var req webhookRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	w, err := s.hooks.Create(c.Request().Context(), tenantOf(c), app.NewWebhook{URL: req.URL, EventTypes: req.EventTypes})
	if err != nil {
		return err
	}
	h := webhookOf(w)
	// The only time the secret leaves the store: the dispatcher signs with
	// it and the receiver verifies with it.
	v := api.WebhookCreated{ID: h.ID, URL: h.URL, CreatedAt: h.CreatedAt, Links: h.Links, Secret: w.Secret,
		EventTypes: make([]api.WebhookCreatedEventTypes, 0, len(h.EventTypes))}
	for _, t := range h.EventTypes {
		v.EventTypes = append(v.EventTypes, api.WebhookCreatedEventTypes(t))
	}
	c.Response().Header().Set(echo.HeaderLocation, v.Links.Self)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, v)
}

// listWebhooks handles GET /v1/webhooks: the tenant's webhooks, without secrets.
func (s *Server) listWebhooks(c echo.Context) error {
	hooks, err := s.hooks.List(c.Request().Context(), tenantOf(c))
	if err != nil {
		return err
	}
	body := api.WebhookList{Items: make([]api.Webhook, 0, len(hooks))}
	for _, w := range hooks {
		body.Items = append(body.Items, webhookOf(w))
	}
	return c.JSON(http.StatusOK, body)
}

// webhookID returns the :id parameter, or a 404 for one that cannot exist.
func webhookID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !validID(id) {
		return "", notFound("No such webhook.")
	}
	return id, nil
}

// deleteWebhook handles DELETE /v1/webhooks/{id}.
func (s *Server) deleteWebhook(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	if err := s.hooks.Delete(c.Request().Context(), tenantOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// listDeliveries handles GET /v1/webhooks/{id}/deliveries: the newest
// deliveries of the webhook with every attempt.
func (s *Server) listDeliveries(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	items, err := s.hooks.Deliveries(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}
