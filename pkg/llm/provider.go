package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Kinds of provider.
const (
	// KindOpenAI is api.openai.com or any server speaking the same protocol
	// at BaseURL with a bearer key.
	KindOpenAI = "openai"
	// KindAzure is Azure OpenAI: a resource endpoint, a deployment instead
	// of a model name in the path, an api-version and an api-key header.
	KindAzure = "azure"
	// KindCompatible is a self-hosted OpenAI-compatible server (vLLM,
	// Ollama's /v1) at BaseURL; a key is optional.
	KindCompatible = "compatible"
)

// DefaultAzureAPIVersion is the Azure OpenAI data-plane API version used
// when none is configured (a generally available version).
const DefaultAzureAPIVersion = "2024-10-21"

// Key is an API key that can change while the process runs (a rotation in
// the secret provider): readers always see the latest value.
type Key struct{ v atomic.Pointer[string] }

// NewKey returns a key holding value.
func NewKey(value string) *Key {
	k := &Key{}
	k.Set(value)
	return k
}

// Set replaces the key's value.
func (k *Key) Set(value string) {
	value = strings.TrimSpace(value)
	k.v.Store(&value)
}

// Value is the current value ("" for a nil key).
func (k *Key) Value() string {
	if k == nil {
		return ""
	}
	if p := k.v.Load(); p != nil {
		return *p
	}
	return ""
}

// ProviderConfig is one provider of the ordered list.
type ProviderConfig struct {
	// Name labels the provider in metrics, logs and the report.
	Name string
	// Kind is KindOpenAI, KindAzure or KindCompatible.
	Kind string
	// BaseURL is the API root: https://api.openai.com/v1, an Azure resource
	// endpoint (https://<resource>.openai.azure.com), http://vllm:8000/v1.
	BaseURL string
	// Model is the model name sent with each request (for Azure: the model
	// the deployment serves, for the record).
	Model string
	// AzureDeployment and AzureAPIVersion are Azure's (Kind azure only).
	AzureDeployment string
	AzureAPIVersion string
	// Key is the API key; nil sends none (a local server).
	Key *Key
	// Timeout bounds one attempt, a streamed answer included.
	Timeout time.Duration
	// MaxRetries is how many times a 429, 5xx, timeout or broken answer is
	// retried on this provider before the next is tried.
	MaxRetries int
	// MaxRetryAfter is the longest Retry-After this provider's answer may
	// ask for and still be waited for; a longer one moves on at once.
	MaxRetryAfter time.Duration
	// HTTPClient sends the requests (nil: a plain http.Client).
	HTTPClient *http.Client
}

// Validate names what is wrong with the configuration.
func (c ProviderConfig) Validate() error {
	if c.Name == "" {
		return errors.New("llm provider: name is required")
	}
	switch c.Kind {
	case KindOpenAI, KindCompatible:
		if c.Model == "" {
			return fmt.Errorf("llm provider %s: model is required", c.Name)
		}
	case KindAzure:
		if c.AzureDeployment == "" {
			return fmt.Errorf("llm provider %s: the Azure deployment is required", c.Name)
		}
		if c.BaseURL == "" {
			return fmt.Errorf("llm provider %s: the Azure resource endpoint (base URL) is required", c.Name)
		}
	default:
		return fmt.Errorf("llm provider %s: kind %q: want %s, %s or %s", c.Name, c.Kind, KindOpenAI, KindAzure, KindCompatible)
	}
	if c.Kind != KindOpenAI && c.BaseURL == "" {
		return fmt.Errorf("llm provider %s: base URL is required for kind %s", c.Name, c.Kind)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("llm provider %s: base URL %q is not an http(s) URL", c.Name, c.BaseURL)
		}
	}
	if c.Timeout < 0 || c.MaxRetries < 0 || c.MaxRetryAfter < 0 {
		return fmt.Errorf("llm provider %s: timeout, retries and max retry-after may not be negative", c.Name)
	}
	return nil
}

// newClient builds the go-openai client of a provider. The key is not
// given to go-openai: keyDoer sets it on every request from c.Key, so a
// rotated key is used from the next request on.
func newClient(c ProviderConfig) *openai.Client {
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	var cfg openai.ClientConfig
	switch c.Kind {
	case KindAzure:
		cfg = openai.DefaultAzureConfig("", c.BaseURL)
		cfg.APIVersion = c.AzureAPIVersion
		if cfg.APIVersion == "" {
			cfg.APIVersion = DefaultAzureAPIVersion
		}
		deployment := c.AzureDeployment
		cfg.AzureModelMapperFunc = func(string) string { return deployment }
	default:
		cfg = openai.DefaultConfig("")
		if c.BaseURL != "" {
			cfg.BaseURL = strings.TrimRight(c.BaseURL, "/")
		}
	}
	cfg.HTTPClient = &keyDoer{next: hc, key: c.Key, azure: c.Kind == KindAzure}
	return openai.NewClientWithConfig(cfg)
}

// keyDoer sets the current key on each request and records a failed
// response's Retry-After for the attempt that sent it (go-openai's errors
// carry the status but not the headers).
type keyDoer struct {
	next  *http.Client
	key   *Key
	azure bool
}

func (d *keyDoer) Do(req *http.Request) (*http.Response, error) {
	key := d.key.Value()
	switch {
	case d.azure:
		req.Header.Del("Authorization")
		req.Header.Set("api-key", key)
	case key != "":
		req.Header.Set("Authorization", "Bearer "+key)
	default:
		req.Header.Del("Authorization")
	}
	res, err := d.next.Do(req)
	if err == nil && res.StatusCode >= 400 {
		if h, ok := req.Context().Value(hintKey{}).(*retryHint); ok {
			h.after, h.ok = parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
		}
	}
	return res, err
}

type hintKey struct{}

// retryHint carries an attempt's Retry-After from keyDoer back to the retry loop.
type retryHint struct {
	after time.Duration
	ok    bool
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date
// (RFC 9110 section 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// statusOf is the HTTP status of a go-openai error (0 when there was none).
func statusOf(err error) int {
	var api *openai.APIError
	if errors.As(err, &api) {
		return api.HTTPStatusCode
	}
	var req *openai.RequestError
	if errors.As(err, &req) {
		return req.HTTPStatusCode
	}
	return 0
}

// retryable says whether another attempt on the same provider may succeed:
// rate limits, server errors, timeouts, broken connections and answers that
// are not the protocol's JSON. Other client errors (400, 401, 404) are not.
func retryable(err error) bool {
	switch s := statusOf(err); {
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		return true
	case s >= 400:
		return false
	}
	return true
}

// toOpenAI maps a Request onto go-openai's chat-completion request.
// OpenAI and Azure take the cap as max_completion_tokens (max_tokens is
// deprecated there); self-hosted servers (vLLM, Ollama) read max_tokens.
func toOpenAI(kind, model string, req Request, stream bool) openai.ChatCompletionRequest {
	out := openai.ChatCompletionRequest{
		Model:       model,
		Temperature: req.Temperature,
		Stream:      stream,
	}
	if kind == KindCompatible {
		out.MaxTokens = req.MaxTokens //nolint:staticcheck // what OpenAI-compatible servers read
	} else {
		out.MaxCompletionTokens = req.MaxTokens
	}
	if stream {
		// The last chunk then carries the whole call's usage.
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	for _, m := range req.Messages {
		om := openai.ChatCompletionMessage{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			om.ToolCalls = append(om.ToolCalls, openai.ToolCall{ID: tc.ID, Type: openai.ToolTypeFunction,
				Function: openai.FunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
		}
		out.Messages = append(out.Messages, om)
	}
	for _, t := range req.Tools {
		params := any(nil)
		if len(t.Parameters) > 0 {
			params = rawJSON(t.Parameters)
		}
		out.Tools = append(out.Tools, openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: t.Name, Description: t.Description, Parameters: params,
		}})
	}
	return out
}

// rawJSON marshals as itself.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func usageOf(u *openai.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
}

// complete is one non-streamed attempt.
func complete(ctx context.Context, c *openai.Client, kind, model string, req Request) (Response, error) {
	res, err := c.CreateChatCompletion(ctx, toOpenAI(kind, model, req, false))
	if err != nil {
		return Response{}, err
	}
	if len(res.Choices) == 0 {
		return Response{}, errors.New("the answer has no choices")
	}
	ch := res.Choices[0]
	out := Response{Text: ch.Message.Content, FinishReason: string(ch.FinishReason), Usage: usageOf(&res.Usage), Model: res.Model}
	for _, tc := range ch.Message.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return out, nil
}

// openStream is a streamed answer that has produced its first chunk.
type openStream struct {
	s     *openai.ChatCompletionStream
	first openai.ChatCompletionStreamResponse
	// eof is set when the stream ended with its first read.
	eof bool
}

// startStream opens a stream and reads its first chunk, so a provider that
// accepts the request but never answers counts as failed (and can be hedged).
func startStream(ctx context.Context, c *openai.Client, kind, model string, req Request) (*openStream, error) {
	s, err := c.CreateChatCompletionStream(ctx, toOpenAI(kind, model, req, true))
	if err != nil {
		return nil, err
	}
	first, err := s.Recv()
	if errors.Is(err, errEOF) {
		return &openStream{s: s, eof: true}, nil
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return &openStream{s: s, first: first}, nil
}
