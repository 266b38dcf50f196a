package gateway

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// webhookRequest is the body of POST /v1/webhooks.
type webhookRequest struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
}

// webhookView is a webhook as the API shows it; Secret only in the 201 answer.
type webhookView struct {
	ID         string       `json:"id"`
	URL        string       `json:"url"`
	EventTypes []string     `json:"event_types"`
	CreatedAt  time.Time    `json:"created_at"`
	Secret     string       `json:"secret,omitempty"`
	Links      webhookLinks `json:"links"`
}

type webhookLinks struct {
	Self       string `json:"self"`
	Deliveries string `json:"deliveries"`
}

func webhookViewOf(w store.Webhook) webhookView {
	self := "/v1/webhooks/" + w.ID
	return webhookView{
		ID: w.ID, URL: w.URL, EventTypes: w.EventTypes, CreatedAt: w.CreatedAt,
		Links: webhookLinks{Self: self, Deliveries: self + "/deliveries"},
	}
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
	v := webhookViewOf(w)
	// The only time the secret leaves the store: the dispatcher signs with
	// it and the receiver verifies with it.
	v.Secret = w.Secret
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
	items := make([]webhookView, 0, len(hooks))
	for _, w := range hooks {
		items = append(items, webhookViewOf(w))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
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
