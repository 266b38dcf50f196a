package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// SSE event names.
const (
	sseStatus    = "status"
	sseCompleted = "completed"
)

// streamEvents handles GET /v1/assessments/{id}/events: Server-Sent Events
// replayed from the EVENTS stream after Last-Event-ID (the stream sequence of
// the last event the client saw), then followed live until the completed event.
func (s *Server) streamEvents(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tenant := tenantOf(c)
	reqCtx := c.Request().Context()
	lastID, err := lastEventID(c)
	if err != nil {
		return err
	}
	a, err := s.deps.Store.Assessments.Get(reqCtx, tenant, id)
	if err != nil {
		return fmt.Errorf("get assessment %s: %w", id, err)
	}

	plan, err := s.planStream(reqCtx, tenant, a, lastID)
	if err != nil {
		return err
	}
	if plan.noContent {
		return c.NoContent(http.StatusNoContent)
	}

	ctx, cancel := context.WithCancel(reqCtx)
	if !plan.waitUntil.IsZero() {
		cancel()
		ctx, cancel = context.WithDeadline(reqCtx, plan.waitUntil)
	}
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel) // server shutdown ends the stream
	defer stop()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // stop nginx-style proxies from buffering the stream
	w.WriteHeader(http.StatusOK)
	w.Flush()

	if plan.replayOnly {
		s.replayRetained(ctx, w, tenant, id, lastID)
		return nil
	}

	events := make(chan *bus.Event)
	replayErr := make(chan error, 1)
	go func() {
		replayErr <- s.deps.Bus.ReplayFrom(ctx, bus.StreamEvents, bus.SubjectAssessmentEvents(tenant, id), lastID, func(e *bus.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() {
		cancel()
		<-replayErr
	}()

	ticker := time.NewTicker(s.cfg.KeepAlive)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-replayErr:
			replayErr <- err // let the deferred drain see it
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "event replay stopped", slog.String("error", err.Error()), slog.String("assessment_id", id))
			}
			return nil
		case <-ticker.C:
			if err := writeComment(w, "keep-alive"); err != nil {
				return nil
			}
		case e := <-events:
			name, ok := sseName(e.Type)
			if !ok {
				continue
			}
			if err := writeEvent(w, strconv.FormatUint(e.StreamSeq, 10), name, e.Data); err != nil {
				return nil // client went away
			}
			if name == sseCompleted {
				return nil
			}
		}
	}
}

// streamPlan is how the event stream of one request goes.
type streamPlan struct {
	// noContent: nothing more to send (204).
	noContent bool
	// replayOnly: send the retained status events, then end.
	replayOnly bool
	// waitUntil, when set, ends a followed stream that has not seen the
	// completed event by then.
	waitUntil time.Time
}

// planStream decides how the stream of assessment a goes for a client that
// has seen up to lastID. A finished assessment whose completed event the
// client already saw has nothing more to say: 204, so EventSource stops
// reconnecting (HTML Living Standard, server-sent events, "204 No Content").
//
// The synthesizer closes an assessment in the store before its completed
// event is published (outputs follow the store writes, ADR 0014), so the
// stream may not hold it yet: the stream is followed for it, for
// Config.CompletedWait after the close. Past that the event will not come
// (or is no longer retained) and only the events the stream holds are sent:
// every event a client receives is a stored one, with its id.
func (s *Server) planStream(ctx context.Context, tenant string, a store.Assessment, lastID uint64) (streamPlan, error) {
	if !assessment.Status(a.Status).Terminal() {
		return streamPlan{}, nil
	}
	finalSeq, finalKnown, err := s.completedSeq(ctx, tenant, a.ID)
	switch {
	case err != nil:
		return streamPlan{}, err
	case finalKnown:
		return streamPlan{noContent: lastID >= finalSeq}, nil
	}
	closedAt := a.CompletedAt
	if closedAt.IsZero() {
		closedAt = a.UpdatedAt
	}
	plan := streamPlan{waitUntil: closedAt.Add(s.cfg.CompletedWait)}
	if time.Now().Before(plan.waitUntil) {
		return plan, nil
	}
	upTo, found, err := s.lastSeq(ctx, bus.SubjectStatus(tenant, a.ID))
	if err != nil {
		return streamPlan{}, fmt.Errorf("look up last status event of %s: %w", a.ID, err)
	}
	return streamPlan{replayOnly: true, noContent: !found || upTo <= lastID}, nil
}

// replayRetained sends the retained status events after lastID without
// following the stream, for an assessment whose completed event will not come.
func (s *Server) replayRetained(ctx context.Context, w *echo.Response, tenant, id string, lastID uint64) {
	upTo, found, err := s.lastSeq(ctx, bus.SubjectStatus(tenant, id))
	if err != nil {
		s.log.WarnContext(ctx, "look up last status event", slog.String("error", err.Error()), slog.String("assessment_id", id))
		return
	}
	if !found || upTo <= lastID {
		return
	}
	// Bounded: the events are already stored, so this only guards against a
	// stream that changes underneath us.
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	_ = s.deps.Bus.ReplayFrom(rctx, bus.StreamEvents, bus.SubjectStatus(tenant, id), lastID, func(e *bus.Event) error {
		if name, ok := sseName(e.Type); ok {
			if werr := writeEvent(w, strconv.FormatUint(e.StreamSeq, 10), name, e.Data); werr != nil {
				return werr
			}
		}
		if e.StreamSeq >= upTo {
			rcancel()
		}
		return nil
	})
}

// completedSeq returns the stream sequence of the assessment's completed
// event, and whether the stream still holds it.
func (s *Server) completedSeq(ctx context.Context, tenant, id string) (uint64, bool, error) {
	seq, ok, err := s.lastSeq(ctx, bus.SubjectCompleted(tenant, id))
	if err != nil {
		return 0, false, fmt.Errorf("look up completed event of %s: %w", id, err)
	}
	return seq, ok, nil
}

// lastSeq returns the sequence of the last EVENTS message on subject.
func (s *Server) lastSeq(ctx context.Context, subject string) (uint64, bool, error) {
	return s.deps.Bus.LastSeq(ctx, bus.StreamEvents, subject)
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

func sseName(ceType string) (string, bool) {
	switch ceType {
	case bus.TypeStatusChanged:
		return sseStatus, true
	case bus.TypeAssessmentCompleted:
		return sseCompleted, true
	}
	return "", false
}

// writeEvent writes one SSE event and flushes it. Data is compacted to one
// line; SSE ends an event at a blank line, so raw newlines must not pass.
func writeEvent(w *echo.Response, id, name string, data []byte) error {
	var buf bytes.Buffer
	if id != "" {
		buf.WriteString("id: " + id + "\n")
	}
	buf.WriteString("event: " + name + "\n")
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err == nil {
		buf.WriteString("data: ")
		buf.Write(compact.Bytes())
		buf.WriteString("\n")
	} else {
		for _, line := range bytes.Split(data, []byte("\n")) {
			buf.WriteString("data: ")
			buf.Write(bytes.TrimRight(line, "\r"))
			buf.WriteString("\n")
		}
	}
	buf.WriteString("\n")
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	w.Flush()
	return nil
}

func writeComment(w *echo.Response, text string) error {
	if _, err := w.Write([]byte(": " + text + "\n\n")); err != nil {
		return err
	}
	w.Flush()
	return nil
}
