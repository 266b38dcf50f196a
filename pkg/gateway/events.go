package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/sse"
)

// sseName is the SSE event name of a progress event kind, as the OpenAPI
// document lists them.
func sseName(k app.EventKind) string {
	switch k {
	case app.EventCompleted:
		return "completed"
	default:
		return "status"
	}
}

// streamEvents handles GET /v1/assessments/{id}/events: Server-Sent Events
// replayed after Last-Event-ID (the position of the last event the client
// saw), then followed live until the completed event. The use case
// (app.Progress) decides what is sent and when the stream ends; this
// handler decodes the request, writes each event with its id and keeps an
// idle stream alive.
func (s *Server) streamEvents(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	lastID, err := lastEventID(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel) // server shutdown ends the stream
	defer stop()

	stream, err := s.progress.Open(ctx, tenantOf(c), id, lastID)
	if errors.Is(err, app.ErrNoMoreEvents) {
		return c.NoContent(http.StatusNoContent)
	}
	if err != nil {
		return err
	}
	defer stream.Close()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // stop nginx-style proxies from buffering the stream
	w.WriteHeader(http.StatusOK)
	w.Flush()

	ticker := time.NewTicker(s.cfg.KeepAlive)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := sse.Comment(w, "keep-alive"); err != nil {
				return nil // client went away
			}
		case e, ok := <-stream.Events():
			if !ok {
				if err := stream.Err(); err != nil {
					s.log.WarnContext(ctx, "event stream stopped", slog.String("error", err.Error()), slog.String("assessment_id", id))
				}
				return nil
			}
			if err := sse.Event(w, strconv.FormatUint(e.Seq, 10), sseName(e.Kind), e.Data); err != nil {
				return nil // client went away
			}
		}
	}
}

// lastEventID reads the replay position from the Last-Event-ID header (sent
// by EventSource on reconnect) or the last_event_id query parameter.
func lastEventID(c echo.Context) (uint64, error) {
	raw := c.Request().Header.Get("Last-Event-ID")
	field := "Last-Event-ID"
	if raw == "" {
		raw = c.QueryParam("last_event_id")
		field = "last_event_id"
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, invalidField(field, "must be the id of an event this stream sent (a whole number)")
	}
	return n, nil
}
