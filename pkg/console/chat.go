package console

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/sse"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Chat is the consultant's chat about an assessment (docs/adr/0033), the
// use cases the chat routes call; the gateway adapts them with the caller's
// tools from the access matrix.
type Chat interface {
	List(ctx context.Context, cl *auth.Claims, correlationID, assessmentID string) ([]store.Conversation, error)
	Start(ctx context.Context, cl *auth.Claims, correlationID, assessmentID, title string) (store.Conversation, error)
	Get(ctx context.Context, cl *auth.Claims, correlationID, assessmentID, id string) (store.Conversation, error)
	// Begin checks a new message (a refusal names its field) and returns
	// the turn that writes the answer.
	Begin(ctx context.Context, cl *auth.Claims, correlationID, assessmentID, id, content string) (ChatTurn, error)
}

// ChatTurn writes one answer, part by part, into a sink.
type ChatTurn interface {
	Run(ctx context.Context, sink ChatSink) (store.ChatMessage, error)
}

// ChatSink receives an answer as it is written: checked text, tool calls,
// and the withdrawal of text that failed the check.
type ChatSink interface {
	Text(s string) error
	Tool(name string, done bool, failure string) error
	Retract(reason string) error
}

// chatView is the conversations of an assessment, or one conversation.
type chatView struct {
	ID, Name      string
	Conversations []store.Conversation
	Conversation  *store.Conversation
	// Content is what was typed when the message was refused; Fields the
	// reasons by field.
	Content string
	Fields  map[string]string
	// Failed is the reason an answer could not be written, shown once.
	Failed string
}

// chatOn refuses a chat page when no provider is configured.
func (c *Console) chatOn(h echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if c.d.Chat == nil {
			return &pageError{status: http.StatusServiceUnavailable, title: "Chat is off",
				detail: "This deployment has no language model provider configured, so the consultant's chat is off; reports are unaffected."}
		}
		return h(ec)
	}
}

func (c *Console) chatCaller(ec echo.Context) (*auth.Claims, string) {
	return claims(ec), caller(ec).CorrelationID
}

// chatListPage lists the caller's conversations about the assessment and
// offers to start one.
func (c *Console) chatListPage(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	ctx := ec.Request().Context()
	a, err := c.d.Assessments.Get(ctx, caller(ec).Tenant, id)
	if err != nil {
		return err
	}
	cl, corr := c.chatCaller(ec)
	convs, err := c.d.Chat.List(ctx, cl, corr, id)
	if err != nil {
		return err
	}
	return c.render(ec, http.StatusOK, "chat", "Ask about "+a.Name, chatView{ID: id, Name: a.Name, Conversations: convs, Fields: map[string]string{}})
}

// startChat starts a conversation and opens it.
func (c *Console) startChat(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	cl, corr := c.chatCaller(ec)
	conv, err := c.d.Chat.Start(ec.Request().Context(), cl, corr, id, strings.TrimSpace(ec.FormValue("title")))
	if err != nil {
		return err
	}
	created(ec, conv.ConversationID)
	return ec.Redirect(http.StatusSeeOther, "/assessments/"+id+"/chat/"+conv.ConversationID)
}

// chatPage shows one conversation's history and the box for the next
// question.
func (c *Console) chatPage(ec echo.Context) error {
	return c.showChat(ec, http.StatusOK, "", nil, "")
}

func (c *Console) showChat(ec echo.Context, status int, content string, fields map[string]string, failed string) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	cid, err := pathID(ec, "cid")
	if err != nil {
		return err
	}
	ctx := ec.Request().Context()
	a, err := c.d.Assessments.Get(ctx, caller(ec).Tenant, id)
	if err != nil {
		return err
	}
	cl, corr := c.chatCaller(ec)
	conv, err := c.d.Chat.Get(ctx, cl, corr, id, cid)
	if err != nil {
		return err
	}
	if fields == nil {
		fields = map[string]string{}
	}
	title := conv.Title
	if title == "" {
		title = "Conversation"
	}
	return c.render(ec, status, "chat", title+" · "+a.Name, chatView{ID: id, Name: a.Name, Conversation: &conv,
		Content: content, Fields: fields, Failed: failed})
}

// sendChat asks the consultant. The page's script asks for the answer as a
// stream of Server-Sent Events (Accept: text/event-stream) and shows it as
// it is written; a plain form post waits for the whole answer and shows the
// conversation again (post, redirect, get).
func (c *Console) sendChat(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	cid, err := pathID(ec, "cid")
	if err != nil {
		return err
	}
	content := ec.FormValue("content")
	streaming := strings.Contains(ec.Request().Header.Get(echo.HeaderAccept), "text/event-stream")
	ctx := ec.Request().Context()
	cl, corr := c.chatCaller(ec)
	turn, err := c.d.Chat.Begin(ctx, cl, corr, id, cid, content)
	if err != nil {
		x := c.d.Explain(err)
		if x.Status >= 500 || x.Status == http.StatusTooManyRequests || (!streaming && x.Status != http.StatusBadRequest) {
			return err
		}
		fields := map[string]string{}
		for _, fe := range x.Fields {
			fields[fe.Field] = fe.Reason
		}
		if streaming {
			// The script shows this text as it is.
			reasons := make([]string, 0, len(fields))
			for _, f := range sortedKeys(fields) {
				reasons = append(reasons, f+": "+fields[f])
			}
			if len(reasons) == 0 {
				reasons = append(reasons, x.Detail)
			}
			return ec.String(x.Status, strings.Join(reasons, "; "))
		}
		if len(fields) == 0 {
			fields["content"] = x.Detail
		}
		return c.showChat(ec, x.Status, content, fields, "")
	}
	if !streaming {
		if _, err := turn.Run(ctx, discardSink{}); err != nil {
			x := c.d.Explain(err)
			c.log.ErrorContext(ctx, "chat answer failed", slog.String("error", err.Error()), slog.String("request_id", corr))
			return c.showChat(ec, http.StatusOK, "", nil, x.Detail)
		}
		return ec.Redirect(http.StatusSeeOther, "/assessments/"+id+"/chat/"+cid+"#latest")
	}
	w := ec.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Flush()
	sink := sseChatSink{w: w}
	msg, err := turn.Run(ctx, sink)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		x := c.d.Explain(err)
		c.log.ErrorContext(ctx, "chat answer failed", slog.String("error", err.Error()), slog.String("request_id", corr))
		_ = sink.event("error", map[string]string{"detail": x.Detail})
		return nil
	}
	_ = sink.event("message", map[string]any{"content": msg.Content, "note": msg.Note, "generated": msg.Generated})
	return nil
}

// discardSink drops the parts of an answer a plain form post waits for.
type discardSink struct{}

func (discardSink) Text(string) error               { return nil }
func (discardSink) Tool(string, bool, string) error { return nil }
func (discardSink) Retract(string) error            { return nil }

// sseChatSink writes an answer's parts as the chat route's events.
type sseChatSink struct{ w *echo.Response }

func (s sseChatSink) event(name string, v any) error { return sse.JSON(s.w, name, v) }

func (s sseChatSink) Text(text string) error {
	return s.event("token", map[string]string{"text": text})
}

func (s sseChatSink) Tool(name string, done bool, failure string) error {
	status := "started"
	switch {
	case done && failure != "":
		status = "failed"
	case done:
		status = "done"
	}
	return s.event("tool", map[string]string{"name": name, "status": status, "error": failure})
}

func (s sseChatSink) Retract(reason string) error {
	return s.event("retract", map[string]string{"reason": reason})
}
