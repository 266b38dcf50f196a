// Package llm talks to language models over the OpenAI chat-completions
// protocol (OpenAI, Azure OpenAI, and self-hosted servers such as vLLM or
// Ollama) through an ordered list of providers: each with its own timeout,
// retries on 429 and 5xx that honour Retry-After, and a circuit breaker; a
// second provider can be started when the first is slow (hedging). It knows
// nothing of assessments: the consultant gives it messages and checks what
// comes back.
package llm

import (
	"context"
	"errors"
)

// Roles of a message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// ErrNoProvider is returned when every provider failed, was skipped (its
// circuit open) or none is configured.
var ErrNoProvider = errors.New("llm: no provider answered")

// Message is one turn of a conversation.
type Message struct {
	Role    string
	Content string
	// ToolCalls are the calls an assistant turn asked for.
	ToolCalls []ToolCall
	// ToolCallID names the call a tool turn answers.
	ToolCallID string
}

// Tool is a function the model may call, with its parameters as JSON Schema.
type Tool struct {
	Name        string
	Description string
	Parameters  []byte
}

// ToolCall is the model's request to call a tool; Arguments is JSON text.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// Request is one chat completion to obtain.
type Request struct {
	Messages []Message
	Tools    []Tool
	// MaxTokens caps the completion's length (0: the provider's default).
	MaxTokens   int
	Temperature float32
}

// Usage is what the provider reports the call consumed.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
}

// Response is a finished completion and who produced it.
type Response struct {
	Text      string
	ToolCalls []ToolCall
	// FinishReason is the provider's (stop, length, tool_calls, ...).
	FinishReason string
	Usage        Usage
	// Provider is the configured provider's name; Model the model it reported.
	Provider string
	Model    string
}

// Completer is what callers of a model need; Router implements it.
type Completer interface {
	// Complete returns the whole answer.
	Complete(ctx context.Context, req Request) (Response, error)
	// Stream passes the answer's text to onDelta as it arrives and returns
	// the whole answer; onDelta's error stops the stream. A stream stopped
	// after a provider answered returns what arrived, with Provider set,
	// beside the error.
	Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error)
}
