package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tmaxmax/go-sse"

	"github.com/infra-mind/infra-mind/pkg/api"
)

// ChatEvent is one part of an answer as it streams: exactly one field is set.
type ChatEvent struct {
	// Token is checked text of the answer, in order.
	Token *api.ChatTokenEvent
	// Tool says a tool call started, finished or failed.
	Tool *api.ChatToolEvent
	// Retract withdraws the text streamed so far; another answer follows.
	Retract *api.ChatRetractEvent
}

func conversationsPath(id string) string { return assessmentPath(id) + "/conversations" }

// StartConversation opens a conversation of the caller about assessment id.
func (c *Client) StartConversation(ctx context.Context, id, title string) (api.Conversation, error) {
	var in api.ConversationRequest
	if title != "" {
		in.Title = &title
	}
	body, err := json.Marshal(in)
	if err != nil {
		return api.Conversation{}, fmt.Errorf("encode conversation: %w", err)
	}
	var out api.Conversation
	err = c.do(ctx, http.MethodPost, conversationsPath(id), body, "application/json", http.StatusCreated, &out)
	return out, err
}

// Conversations lists the caller's conversations about assessment id, newest first.
func (c *Client) Conversations(ctx context.Context, id string) ([]api.Conversation, error) {
	var out api.ConversationList
	err := c.do(ctx, http.MethodGet, conversationsPath(id), nil, "", http.StatusOK, &out)
	return out.Items, err
}

// Conversation returns one of the caller's conversations with its messages.
func (c *Client) Conversation(ctx context.Context, id, cid string) (api.Conversation, error) {
	var out api.Conversation
	err := c.do(ctx, http.MethodGet, conversationsPath(id)+"/"+url.PathEscape(cid), nil, "", http.StatusOK, &out)
	return out, err
}

// Ask sends a question in conversation cid about assessment id; fn sees the
// answer's parts as they stream, and the stored answer is returned. A
// message the gateway refuses, and an answer it could not finish, are a
// *Problem. The question is not sent again on failure: it may have been
// answered and stored.
func (c *Client) Ask(ctx context.Context, id, cid, content string, fn func(ChatEvent) error) (api.ChatMessage, error) {
	body, err := json.Marshal(api.ChatMessageRequest{Content: content})
	if err != nil {
		return api.ChatMessage{}, fmt.Errorf("encode message: %w", err)
	}
	req, err := c.request(ctx, http.MethodPost, conversationsPath(id)+"/"+url.PathEscape(cid)+"/messages", body, "application/json")
	if err != nil {
		return api.ChatMessage{}, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return api.ChatMessage{}, fmt.Errorf("send message: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return api.ChatMessage{}, decodeProblem(resp)
	}
	for ev, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: 1 << 20}) {
		if err != nil {
			return api.ChatMessage{}, fmt.Errorf("read the answer: %w", err)
		}
		var out ChatEvent
		switch ev.Type {
		case "token":
			out.Token = &api.ChatTokenEvent{}
			err = json.Unmarshal([]byte(ev.Data), out.Token)
		case "tool":
			out.Tool = &api.ChatToolEvent{}
			err = json.Unmarshal([]byte(ev.Data), out.Tool)
		case "retract":
			out.Retract = &api.ChatRetractEvent{}
			err = json.Unmarshal([]byte(ev.Data), out.Retract)
		case "message":
			var msg api.ChatMessage
			if err := json.Unmarshal([]byte(ev.Data), &msg); err != nil {
				return api.ChatMessage{}, fmt.Errorf("decode the answer: %w", err)
			}
			return msg, nil
		case "error":
			p := &Problem{}
			if err := json.Unmarshal([]byte(ev.Data), &p.Problem); err != nil {
				return api.ChatMessage{}, fmt.Errorf("decode the error: %w", err)
			}
			return api.ChatMessage{}, p
		default:
			continue
		}
		if err != nil {
			return api.ChatMessage{}, fmt.Errorf("decode %s event: %w", ev.Type, err)
		}
		if fn != nil {
			if err := fn(out); err != nil {
				return api.ChatMessage{}, err
			}
		}
	}
	return api.ChatMessage{}, errors.New("the answer ended before its message")
}
