package llm_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// The fake (pkg/llm/fakeopenai) speaks the chat-completions wire format as
// the OpenAI API reference ("Create chat completion") gives it; the fields
// these tests rely on:
//   - request: model, messages[] {role, content, tool_call_id}, tools[]
//     {type "function", function {name, description, parameters}},
//     max_tokens, stream, stream_options {include_usage}
//   - response: object "chat.completion", model, choices[0].message
//     {content, tool_calls[] {id, type, function {name, arguments}}},
//     choices[0].finish_reason, usage {prompt_tokens, completion_tokens, total_tokens}
//   - stream: "data: " + a "chat.completion.chunk" per event, choices[0].delta
//     {content, tool_calls[] {index, id, function {name, arguments}}}, a
//     last chunk with "choices": [] and usage when include_usage is set,
//     then "data: [DONE]"
//   - errors: HTTP 429 (rate limit, with Retry-After) and 5xx, body
//     {"error": {"message", "type", "param", "code"}}

func provider(name string, f *fakeopenai.Server, mod func(*llm.ProviderConfig)) llm.ProviderConfig {
	p := llm.ProviderConfig{Name: name, Kind: llm.KindOpenAI, BaseURL: f.BaseURL(), Model: "gpt-test",
		Key: llm.NewKey("sk-test-" + name), Timeout: 5 * time.Second, MaxRetries: 2}
	if mod != nil {
		mod(&p)
	}
	return p
}

func newRouter(t *testing.T, cfg llm.Config) *llm.Router {
	t.Helper()
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = 10 * time.Millisecond
	}
	r, err := llm.New(cfg)
	require.NoError(t, err)
	return r
}

func ask(text string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}, MaxTokens: 100}
}

func TestCompleteReadsTheAnswerUsageAndModel(t *testing.T) {
	t.Parallel()
	f := fakeopenai.New()
	defer f.Close()
	f.Enqueue(fakeopenai.Reply{Text: "Serve it on two H100s.", PromptTokens: 40, CompletionTokens: 6, Model: "gpt-test-2026"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("primary", f, nil)}})

	res, err := r.Complete(context.Background(), ask("where should the chatbot run?"))
	require.NoError(t, err)
	require.Equal(t, "Serve it on two H100s.", res.Text)
	require.Equal(t, llm.Usage{PromptTokens: 40, CompletionTokens: 6, TotalTokens: 46}, res.Usage)
	require.Equal(t, "primary", res.Provider)
	require.Equal(t, "gpt-test-2026", res.Model)
	require.Equal(t, "stop", res.FinishReason)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/v1/chat/completions", reqs[0].Path)
	require.Equal(t, "Bearer sk-test-primary", reqs[0].Header.Get("Authorization"))
	require.Equal(t, "gpt-test", reqs[0].Body.Model)
	require.Equal(t, 100, reqs[0].Body.MaxCompletionTokens, "OpenAI takes max_completion_tokens")
	require.False(t, reqs[0].Body.Stream)
}

func TestStreamPassesChunksInOrderAndReadsTheUsageChunk(t *testing.T) {
	t.Parallel()
	f := fakeopenai.New()
	defer f.Close()
	f.Enqueue(fakeopenai.Reply{Chunks: []string{"The plan ", "costs ", "$1,200 ", "a month."}, Text: "The plan costs $1,200 a month.",
		PromptTokens: 30, CompletionTokens: 8})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("primary", f, nil)}})

	var got []string
	res, err := r.Stream(context.Background(), ask("cost?"), func(d string) error { got = append(got, d); return nil })
	require.NoError(t, err)
	require.Equal(t, []string{"The plan ", "costs ", "$1,200 ", "a month."}, got)
	require.Equal(t, "The plan costs $1,200 a month.", res.Text)
	require.Equal(t, llm.Usage{PromptTokens: 30, CompletionTokens: 8, TotalTokens: 38}, res.Usage, "usage comes from the last chunk")
	require.Equal(t, "primary", res.Provider)
	req := f.Requests()[0].Body
	require.True(t, req.Stream)
	require.NotNil(t, req.StreamOptions)
	require.True(t, req.StreamOptions.IncludeUsage, "the request asks for the usage chunk")
}

func TestToolCallsStreamedAndWhole(t *testing.T) {
	t.Parallel()
	calls := []fakeopenai.ToolCall{
		{ID: "call_1", Name: "read_figure", Arguments: `{"name":"monthly_cost_usd_low"}`},
		{ID: "call_2", Name: "run_estimate", Arguments: `{"model":"llama-3.1-70b","rps":20}`},
	}
	want := []llm.ToolCall{
		{ID: "call_1", Name: "read_figure", Arguments: `{"name":"monthly_cost_usd_low"}`},
		{ID: "call_2", Name: "run_estimate", Arguments: `{"model":"llama-3.1-70b","rps":20}`},
	}
	req := ask("what does it cost?")
	req.Tools = []llm.Tool{{Name: "read_figure", Description: "read a figure", Parameters: []byte(`{"type":"object"}`)},
		{Name: "run_estimate", Parameters: []byte(`{"type":"object"}`)}}

	t.Run("streamed", func(t *testing.T) {
		t.Parallel()
		f := fakeopenai.New()
		defer f.Close()
		f.Enqueue(fakeopenai.Reply{ToolCalls: calls})
		r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("p", f, nil)}})
		res, err := r.Stream(context.Background(), req, nil)
		require.NoError(t, err)
		require.Equal(t, want, res.ToolCalls, "argument pieces are joined by index")
		require.Equal(t, "tool_calls", res.FinishReason)
		tools := f.Requests()[0].Body.Tools
		require.Len(t, tools, 2)
		require.Equal(t, "function", tools[0].Type)
		require.Equal(t, "read_figure", tools[0].Function.Name)
	})
	t.Run("whole", func(t *testing.T) {
		t.Parallel()
		f := fakeopenai.New()
		defer f.Close()
		f.Enqueue(fakeopenai.Reply{ToolCalls: calls})
		r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("p", f, nil)}})
		res, err := r.Complete(context.Background(), req)
		require.NoError(t, err)
		require.Equal(t, want, res.ToolCalls)
	})
}

func TestRateLimitIsRetriedAfterRetryAfter(t *testing.T) {
	t.Parallel()
	f := fakeopenai.New()
	defer f.Close()
	f.Enqueue(fakeopenai.Reply{Status: http.StatusTooManyRequests, RetryAfter: "1"}, fakeopenai.Reply{Text: "after the wait"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("p", f, nil)}})

	start := time.Now()
	res, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "after the wait", res.Text)
	require.Len(t, f.Requests(), 2)
	// The backoff alone would have waited 10ms; Retry-After asked for 1s.
	require.GreaterOrEqual(t, time.Since(start), time.Second, "the retry waited as long as Retry-After asked")
}

func TestARetryAfterLongerThanTheLimitMovesToTheNextProvider(t *testing.T) {
	t.Parallel()
	a, b := fakeopenai.New(), fakeopenai.New()
	defer a.Close()
	defer b.Close()
	a.Enqueue(fakeopenai.Reply{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	b.Enqueue(fakeopenai.Reply{Text: "from b"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{
		provider("a", a, func(p *llm.ProviderConfig) { p.MaxRetryAfter = 5 * time.Second }), provider("b", b, nil)}})

	res, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "b", res.Provider)
	require.Len(t, a.Requests(), 1, "an hour's Retry-After is not waited for")
}

func TestServerErrorsAreRetriedThenTheNextProviderAnswers(t *testing.T) {
	t.Parallel()
	a, b := fakeopenai.New(), fakeopenai.New()
	defer a.Close()
	defer b.Close()
	a.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Status: http.StatusInternalServerError}
	})
	b.Enqueue(fakeopenai.Reply{Text: "from b"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("a", a, nil), provider("b", b, nil)}})

	res, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "from b", res.Text)
	require.Equal(t, "b", res.Provider)
	require.Len(t, a.Requests(), 3, "one attempt and MaxRetries (2) retries on a")
}

func TestAServerErrorThenSuccessStaysOnTheProvider(t *testing.T) {
	t.Parallel()
	a := fakeopenai.New()
	defer a.Close()
	a.Enqueue(fakeopenai.Reply{Status: http.StatusBadGateway}, fakeopenai.Reply{Status: http.StatusServiceUnavailable}, fakeopenai.Reply{Text: "third time"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("a", a, nil)}})
	res, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "third time", res.Text)
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	a := fakeopenai.New()
	defer a.Close()
	a.Respond(func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Status: http.StatusBadRequest} })
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("a", a, nil)}})
	_, err := r.Complete(context.Background(), ask("hi"))
	require.ErrorIs(t, err, llm.ErrNoProvider)
	require.ErrorContains(t, err, "400")
	require.Len(t, a.Requests(), 1)
}

func TestEveryProviderFailingNamesEach(t *testing.T) {
	t.Parallel()
	a, b := fakeopenai.New(), fakeopenai.New()
	defer a.Close()
	defer b.Close()
	fail := func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Status: http.StatusInternalServerError}
	}
	a.Respond(fail)
	b.Respond(fail)
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{
		provider("a", a, func(p *llm.ProviderConfig) { p.MaxRetries = 0 }), provider("b", b, func(p *llm.ProviderConfig) { p.MaxRetries = 0 })}})
	_, err := r.Complete(context.Background(), ask("hi"))
	require.ErrorIs(t, err, llm.ErrNoProvider)
	require.ErrorContains(t, err, "llm provider a")
	require.ErrorContains(t, err, "llm provider b")
}

func TestAHungProviderTimesOutAndTheNextAnswers(t *testing.T) {
	t.Parallel()
	a, b := fakeopenai.New(), fakeopenai.New()
	defer a.Close()
	defer b.Close()
	a.Respond(func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Hang: true} })
	b.Enqueue(fakeopenai.Reply{Text: "from b"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{
		provider("a", a, func(p *llm.ProviderConfig) { p.Timeout = 100 * time.Millisecond; p.MaxRetries = 1 }), provider("b", b, nil)}})

	for _, stream := range []bool{false, true} {
		var res llm.Response
		var err error
		if stream {
			b.Enqueue(fakeopenai.Reply{Text: "from b"})
			res, err = r.Stream(context.Background(), ask("hi"), nil)
		} else {
			res, err = r.Complete(context.Background(), ask("hi"))
		}
		require.NoError(t, err)
		require.Equal(t, "from b", res.Text)
	}
	require.Len(t, a.Requests(), 4, "each call: one attempt and one retry on a, both timed out")
	require.Eventually(t, func() bool { return a.GaveUp() == 4 }, 2*time.Second, 10*time.Millisecond)
}

func TestMalformedJSONIsRetried(t *testing.T) {
	t.Parallel()
	a := fakeopenai.New()
	defer a.Close()
	a.Enqueue(fakeopenai.Reply{Malformed: true}, fakeopenai.Reply{Text: "well formed"})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("a", a, nil)}})
	res, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "well formed", res.Text)
	require.Len(t, a.Requests(), 2)
}

func TestTheCircuitOpensAfterConsecutiveFailuresAndTheProviderIsSkipped(t *testing.T) {
	t.Parallel()
	a, b := fakeopenai.New(), fakeopenai.New()
	defer a.Close()
	defer b.Close()
	a.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Status: http.StatusInternalServerError}
	})
	var outcomes []string
	r := newRouter(t, llm.Config{
		Providers:       []llm.ProviderConfig{provider("a", a, func(p *llm.ProviderConfig) { p.MaxRetries = 0 }), provider("b", b, nil)},
		BreakerFailures: 3, BreakerCooldown: time.Hour,
		OnAttempt: func(p, o string) {
			if p == "a" {
				outcomes = append(outcomes, o)
			}
		},
	})
	for range 5 {
		res, err := r.Complete(context.Background(), ask("hi"))
		require.NoError(t, err)
		require.Equal(t, "b", res.Provider)
	}
	require.Len(t, a.Requests(), 3, "after 3 consecutive failures a is not called again while its circuit is open")
	require.Equal(t, []string{llm.OutcomeRetryable, llm.OutcomeRetryable, llm.OutcomeRetryable, llm.OutcomeOpen, llm.OutcomeOpen}, outcomes)
}

func TestHedgingStartsTheNextProviderAndCancelsTheSlowerOne(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		name := "complete"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slow, fast := fakeopenai.New(), fakeopenai.New()
			defer slow.Close()
			defer fast.Close()
			slow.Enqueue(fakeopenai.Reply{Text: "slow answer", Delay: 3 * time.Second})
			fast.Enqueue(fakeopenai.Reply{Text: "fast answer"})
			r := newRouter(t, llm.Config{HedgeDelay: 50 * time.Millisecond,
				Providers: []llm.ProviderConfig{provider("slow", slow, nil), provider("fast", fast, nil)}})
			start := time.Now()
			var res llm.Response
			var err error
			if stream {
				res, err = r.Stream(context.Background(), ask("hi"), nil)
			} else {
				res, err = r.Complete(context.Background(), ask("hi"))
			}
			require.NoError(t, err)
			require.Equal(t, "fast answer", res.Text)
			require.Equal(t, "fast", res.Provider)
			require.Less(t, time.Since(start), 3*time.Second, "the answer did not wait for the slow provider")
			require.Eventually(t, func() bool { return slow.GaveUp() == 1 }, 2*time.Second, 10*time.Millisecond,
				"the slower request is cancelled")
		})
	}
}

func TestWithoutHedgingASlowProviderIsWaitedFor(t *testing.T) {
	t.Parallel()
	slow, other := fakeopenai.New(), fakeopenai.New()
	defer slow.Close()
	defer other.Close()
	slow.Enqueue(fakeopenai.Reply{Text: "slow answer", Delay: 200 * time.Millisecond})
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("slow", slow, nil), provider("other", other, nil)}})
	res, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "slow answer", res.Text)
	require.Empty(t, other.Requests())
}

func TestAzureUsesItsDeploymentPathVersionAndKeyHeader(t *testing.T) {
	t.Parallel()
	f := fakeopenai.New()
	defer f.Close()
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{{
		Name: "azure-eu", Kind: llm.KindAzure, BaseURL: f.URL, AzureDeployment: "advisor-gpt4o",
		AzureAPIVersion: "2024-10-21", Model: "gpt-4o", Key: llm.NewKey("azure-key-1"),
	}}})
	_, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	req := f.Requests()[0]
	require.Equal(t, "/openai/deployments/advisor-gpt4o/chat/completions", req.Path)
	require.Equal(t, "api-version=2024-10-21", req.Query)
	require.Equal(t, "azure-key-1", req.Header.Get("api-key"))
	require.Empty(t, req.Header.Get("Authorization"))
}

func TestASelfHostedServerWithoutKeyGetsNoAuthorization(t *testing.T) {
	t.Parallel()
	f := fakeopenai.New()
	defer f.Close()
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{{Name: "vllm", Kind: llm.KindCompatible, BaseURL: f.BaseURL(), Model: "llama"}}})
	_, err := r.Complete(context.Background(), ask("hi"))
	require.NoError(t, err)
	require.Empty(t, f.Requests()[0].Header.Get("Authorization"))
	require.Equal(t, 100, f.Requests()[0].Body.MaxTokens, "self-hosted servers read max_tokens")
}

func TestARotatedKeyIsUsedWithoutARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "openai-api-key"), []byte("sk-first\n"), 0o600))
	files, err := secrets.NewFile(dir)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key, err := llm.WatchKey(ctx, files, "openai-api-key", 10*time.Millisecond, nil)
	require.NoError(t, err)

	f := fakeopenai.New()
	defer f.Close()
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("p", f, func(p *llm.ProviderConfig) { p.Key = key })}})
	_, err = r.Complete(ctx, ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "Bearer sk-first", f.Requests()[0].Header.Get("Authorization"))

	// Replace the file as a secret volume does (a new file renamed over).
	tmp := filepath.Join(dir, ".new")
	require.NoError(t, os.WriteFile(tmp, []byte("sk-second"), 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "openai-api-key")))
	require.Eventually(t, func() bool { return key.Value() == "sk-second" }, 2*time.Second, 10*time.Millisecond)
	_, err = r.Complete(ctx, ask("hi"))
	require.NoError(t, err)
	require.Equal(t, "Bearer sk-second", f.Requests()[1].Header.Get("Authorization"))
}

func TestAMissingKeyFailsAtStart(t *testing.T) {
	t.Parallel()
	files, err := secrets.NewFile(t.TempDir())
	require.NoError(t, err)
	_, err = llm.WatchKey(context.Background(), files, "openai-api-key", time.Minute, nil)
	require.ErrorIs(t, err, secrets.ErrNotFound)
	_, err = llm.WatchKey(context.Background(), nil, "openai-api-key", time.Minute, nil)
	require.ErrorContains(t, err, "IM_SECRETS_PROVIDER")
}

func TestACancelledCallerStopsTheCall(t *testing.T) {
	t.Parallel()
	f := fakeopenai.New()
	defer f.Close()
	f.Respond(func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Hang: true} })
	r := newRouter(t, llm.Config{Providers: []llm.ProviderConfig{provider("p", f, nil)}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := r.Complete(ctx, ask("hi"))
	require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled), "got %v", err)
	require.Len(t, f.Requests(), 1, "no retry after the caller gave up")
}

func TestConfigurationErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  llm.ProviderConfig
		want string
	}{
		{name: "no name", cfg: llm.ProviderConfig{Kind: llm.KindOpenAI, Model: "m"}, want: "name is required"},
		{name: "unknown kind", cfg: llm.ProviderConfig{Name: "x", Kind: "bard", Model: "m"}, want: `kind "bard"`},
		{name: "no model", cfg: llm.ProviderConfig{Name: "x", Kind: llm.KindOpenAI}, want: "model is required"},
		{name: "azure without deployment", cfg: llm.ProviderConfig{Name: "x", Kind: llm.KindAzure, BaseURL: "https://r.openai.azure.com"}, want: "deployment"},
		{name: "compatible without URL", cfg: llm.ProviderConfig{Name: "x", Kind: llm.KindCompatible, Model: "m"}, want: "base URL is required"},
		{name: "bad URL", cfg: llm.ProviderConfig{Name: "x", Kind: llm.KindCompatible, Model: "m", BaseURL: "ftp://h"}, want: "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := llm.New(llm.Config{Providers: []llm.ProviderConfig{tt.cfg}})
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tt.want), "%v", err)
		})
	}
	_, err := llm.New(llm.Config{})
	require.ErrorContains(t, err, "at least one provider")
}
