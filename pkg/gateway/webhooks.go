package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// maxWebhooksPerTenant bounds a tenant's endpoints: every event is posted to
// each of them, so the number is what one event can cost us in requests.
const maxWebhooksPerTenant = 20

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

// createWebhook handles POST /v1/webhooks.
func (s *Server) createWebhook(c echo.Context) error {
	var req webhookRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	types, perr := eventTypes(req.EventTypes)
	if perr != nil {
		return perr
	}
	if strings.TrimSpace(req.URL) == "" {
		return invalidField("url", "is required")
	}
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	u, err := s.cfg.WebhookPolicy.CheckURL(ctx, req.URL)
	if err != nil {
		return invalidField("url", strings.TrimPrefix(err.Error(), webhook.ErrForbiddenURL.Error()+": "))
	}
	existing, err := s.deps.Store.Webhooks.List(ctx, tenant)
	if err != nil {
		return fmt.Errorf("count webhooks: %w", err)
	}
	if len(existing) >= maxWebhooksPerTenant {
		return problem(http.StatusConflict, ProblemInvalidRequest, "Too many webhooks",
			fmt.Sprintf("A tenant may register at most %d webhooks; delete one first.", maxWebhooksPerTenant))
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	w, err := s.deps.Store.Webhooks.Create(ctx, store.Webhook{
		ID: uuid.NewString(), TenantID: tenant, URL: u, EventTypes: types, Secret: secret,
	})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	v := webhookViewOf(w)
	// The only time the secret leaves the store: the dispatcher signs with
	// it and the receiver verifies with it.
	v.Secret = w.Secret
	c.Response().Header().Set(echo.HeaderLocation, v.Links.Self)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, v)
}

// eventTypes validates and deduplicates the requested event types.
func eventTypes(in []string) ([]string, *Problem) {
	if len(in) == 0 {
		return nil, invalidField("event_types", "list at least one of "+strings.Join(webhook.EventTypes(), ", "))
	}
	known := webhook.EventTypes()
	out := make([]string, 0, len(in))
	for _, t := range in {
		if !slices.Contains(known, t) {
			return nil, invalidField("event_types", fmt.Sprintf("%q is not an event type; use %s", t, strings.Join(known, ", ")))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// listWebhooks handles GET /v1/webhooks: the tenant's webhooks, without secrets.
func (s *Server) listWebhooks(c echo.Context) error {
	hooks, err := s.deps.Store.Webhooks.List(c.Request().Context(), tenantOf(c))
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
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
	err = s.deps.Store.Webhooks.Delete(c.Request().Context(), tenantOf(c), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such webhook.")
	}
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
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
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	if _, err := s.deps.Store.Webhooks.Get(ctx, tenant, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("No such webhook.")
		}
		return fmt.Errorf("get webhook %s: %w", id, err)
	}
	items, err := s.deps.Store.Webhooks.ListDeliveries(ctx, tenant, id)
	if err != nil {
		return fmt.Errorf("list deliveries of %s: %w", id, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}
