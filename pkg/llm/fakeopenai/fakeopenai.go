// Package fakeopenai is a FAKE of the OpenAI chat-completions HTTP API, for
// tests only: an httptest server that answers POST .../chat/completions in
// the real wire format (a chat.completion object, or server-sent
// chat.completion.chunk events ending in "data: [DONE]", tool calls, usage,
// and error objects), with scripted replies: rate limits with Retry-After,
// server errors, slow, hung and malformed answers. It serves both OpenAI's
// path (/v1/chat/completions) and Azure's
// (/openai/deployments/<deployment>/chat/completions?api-version=...).
//
// The shapes follow the OpenAI API reference for "Create chat completion":
// the response object has id, object ("chat.completion"), created, model,
// choices[] (index, message {role, content, tool_calls[] {id, type
// "function", function {name, arguments}}}, finish_reason) and usage
// (prompt_tokens, completion_tokens, total_tokens); a streamed response is a
// sequence of "chat.completion.chunk" objects whose choices[] carry a delta
// (role, content, tool_calls[] with an index), the last choice a
// finish_reason, and, when the request set stream_options.include_usage, a
// final chunk with an empty choices list and the usage; the stream ends with
// "data: [DONE]". Errors are {"error": {message, type, param, code}}.
package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// ToolCall is a tool call the fake's answer makes.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// Reply is one scripted answer.
type Reply struct {
	// Status other than 0 or 200 answers with an error object of that status.
	Status int
	// RetryAfter is sent as the Retry-After header (with an error status).
	RetryAfter string
	// Text is the answer's content; Chunks, when set, is how a stream splits
	// it (otherwise word by word).
	Text   string
	Chunks []string
	// ToolCalls are tool calls the answer makes (finish_reason tool_calls).
	ToolCalls []ToolCall
	// PromptTokens and CompletionTokens are the usage reported; zero: a
	// count of the words sent and answered.
	PromptTokens, CompletionTokens int
	// Delay is waited before answering (a slow provider); ChunkDelay between chunks.
	Delay, ChunkDelay time.Duration
	// Hang answers nothing until the client gives up.
	Hang bool
	// Malformed answers 200 with a body that is not the protocol's JSON.
	Malformed bool
	// Model is reported as the answering model (default: the requested one).
	Model string
}

// Request is a request the fake received, decoded.
type Request struct {
	Path   string
	Query  string
	Header http.Header
	// Body is the decoded JSON body.
	Body ChatRequest
}

// ChatRequest is the part of the request body tests look at.
type ChatRequest struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
	// MaxTokens is max_completion_tokens (OpenAI, Azure) or, from
	// self-hosted servers' clients, max_tokens.
	MaxTokens           int `json:"max_tokens"`
	MaxCompletionTokens int `json:"max_completion_tokens"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role       string `json:"role"`
		Content    string `json:"content"`
		ToolCallID string `json:"tool_call_id"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
}

// Server is the fake. Replies are taken from the queue in order; when it
// is empty, Respond's function answers (default: "ok").
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	queue    []Reply
	respond  func(Request) Reply
	requests []Request
	n        int
	gaveUp   int
}

// GaveUp is how many requests the client abandoned while the fake was
// still delaying or hanging (a cancelled hedge, a timeout).
func (s *Server) GaveUp() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gaveUp
}

func (s *Server) abandoned() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaveUp++
}

// New starts a fake; Close it.
func New() *Server {
	s := &Server{respond: func(Request) Reply { return Reply{Text: "ok"} }}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Enqueue adds replies to the queue.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, r...)
}

// Respond sets the function that answers once the queue is empty.
func (s *Server) Respond(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = f
}

// Requests are the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// BaseURL is the OpenAI-style API root (".../v1").
func (s *Server) BaseURL() string { return s.URL + "/v1" }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown path "+r.URL.Path)
		return
	}
	var body ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "body is not JSON: "+err.Error())
		return
	}
	req := Request{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.n++
	id := fmt.Sprintf("chatcmpl-fake-%d", s.n)
	var rep Reply
	if len(s.queue) > 0 {
		rep, s.queue = s.queue[0], s.queue[1:]
	} else {
		rep = s.respond(req)
	}
	s.mu.Unlock()

	if rep.Hang {
		<-r.Context().Done()
		s.abandoned()
		return
	}
	if rep.Delay > 0 {
		select {
		case <-time.After(rep.Delay):
		case <-r.Context().Done():
			s.abandoned()
			return
		}
	}
	if rep.Status != 0 && rep.Status != http.StatusOK {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		typ := "server_error"
		if rep.Status == http.StatusTooManyRequests {
			typ = "rate_limit_error"
		}
		writeError(w, rep.Status, typ, fmt.Sprintf("fake error %d", rep.Status))
		return
	}
	if rep.Malformed {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": "chatcmpl-broken", "choices": [ {"message": `))
		return
	}
	model := rep.Model
	if model == "" {
		model = body.Model
	}
	prompt := rep.PromptTokens
	if prompt == 0 {
		for _, m := range body.Messages {
			prompt += len(strings.Fields(m.Content))
		}
	}
	completion := rep.CompletionTokens
	if completion == 0 {
		completion = len(strings.Fields(rep.Text))
	}
	usage := map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	created := time.Now().Unix()
	if !body.Stream {
		msg := map[string]any{"role": "assistant", "content": rep.Text}
		if len(rep.ToolCalls) > 0 {
			var calls []map[string]any
			for _, tc := range rep.ToolCalls {
				calls = append(calls, map[string]any{"id": tc.ID, "type": "function",
					"function": map[string]any{"name": tc.Name, "arguments": tc.Arguments}})
			}
			msg["tool_calls"] = calls
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": model,
			"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   usage,
		})
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	send := func(choices []map[string]any, extra map[string]any) bool {
		chunk := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices}
		for k, v := range extra {
			chunk[k] = v
		}
		b, _ := json.Marshal(chunk)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		if rep.ChunkDelay > 0 {
			select {
			case <-time.After(rep.ChunkDelay):
			case <-r.Context().Done():
				return false
			}
		}
		return true
	}
	delta := func(d map[string]any, finish any) []map[string]any {
		return []map[string]any{{"index": 0, "delta": d, "finish_reason": finish}}
	}
	if !send(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil) {
		return
	}
	pieces := rep.Chunks
	if pieces == nil && rep.Text != "" {
		words := strings.SplitAfter(rep.Text, " ")
		pieces = words
	}
	for _, p := range pieces {
		if !send(delta(map[string]any{"content": p}, nil), nil) {
			return
		}
	}
	for i, tc := range rep.ToolCalls {
		// The name and id come first, the arguments in two pieces, as the
		// reference's streamed tool calls do (joined by index).
		half := len(tc.Arguments) / 2
		if !send(delta(map[string]any{"tool_calls": []map[string]any{{"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": tc.Arguments[:half]}}}}, nil), nil) {
			return
		}
		if !send(delta(map[string]any{"tool_calls": []map[string]any{{"index": i,
			"function": map[string]any{"arguments": tc.Arguments[half:]}}}}, nil), nil) {
			return
		}
	}
	if !send(delta(map[string]any{}, finish), nil) {
		return
	}
	if body.StreamOptions != nil && body.StreamOptions.IncludeUsage {
		if !send([]map[string]any{}, map[string]any{"usage": usage}) {
			return
		}
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": nil,
	}})
}
