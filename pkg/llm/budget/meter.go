package budget

import (
	"context"
	"time"

	"github.com/infra-mind/infra-mind/pkg/llm"
)

// DefaultCompletionEstimate is the completion reserved for a request that
// sets no cap (MaxTokens 0).
const DefaultCompletionEstimate = 1024

// EstimateOf is a request's expected size: its text at four characters a
// token plus four tokens of framing per message and three for the reply,
// and its completion cap. Four characters a token is OpenAI's rule of thumb
// for English text ("What are tokens and how to count them?", OpenAI help
// centre); the per-message framing follows OpenAI's cookbook "How to count
// tokens with tiktoken" (tokens_per_message 3, reply primed with 3). The
// provider's reported usage replaces the estimate when the call settles.
func EstimateOf(req llm.Request) Estimate {
	chars := 0
	for _, m := range req.Messages {
		chars += len(m.Content) + len(m.Role) + len(m.ToolCallID)
		for _, tc := range m.ToolCalls {
			chars += len(tc.ID) + len(tc.Name) + len(tc.Arguments)
		}
	}
	for _, t := range req.Tools {
		chars += len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	prompt := int64((chars+3)/4 + 4*len(req.Messages) + 3)
	completion := int64(req.MaxTokens)
	if completion <= 0 {
		completion = DefaultCompletionEstimate
	}
	return Estimate{PromptTokens: prompt, CompletionTokens: completion}
}

// settleTimeout bounds settling or releasing after the call, which runs
// even when the caller has gone (the provider has already been paid).
const settleTimeout = 5 * time.Second

// Meter returns next metered against tenant's budgets: each call reserves
// its estimate first (an *ExceededError when it does not fit), settles with
// the reported usage after, and releases the reservation when it fails.
func (l *Ledger) Meter(tenant string, next llm.Completer) llm.Completer {
	return metered{l: l, tenant: tenant, next: next}
}

type metered struct {
	l      *Ledger
	tenant string
	next   llm.Completer
}

func (m metered) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	return m.call(ctx, req, func() (llm.Response, error) { return m.next.Complete(ctx, req) })
}

func (m metered) Stream(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	return m.call(ctx, req, func() (llm.Response, error) { return m.next.Stream(ctx, req, onDelta) })
}

func (m metered) call(ctx context.Context, req llm.Request, do func() (llm.Response, error)) (llm.Response, error) {
	r, err := m.l.Reserve(ctx, m.tenant, EstimateOf(req))
	if err != nil {
		return llm.Response{}, err
	}
	res, err := do()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err != nil && res.Provider == "" {
		if rerr := r.Release(sctx); rerr != nil {
			m.l.log.WarnContext(ctx, "llm budget: reservation not released; it counts until the period ends",
				"tenant_id", m.tenant, "error", rerr.Error())
		}
		return res, err
	}
	// A call that answered (even one whose stream the caller stopped) is
	// paid for.
	if serr := r.Settle(sctx, res.Provider, res.Model, int64(res.Usage.PromptTokens), int64(res.Usage.CompletionTokens)); serr != nil {
		m.l.log.WarnContext(ctx, "llm budget: use not settled; the estimate stays counted",
			"tenant_id", m.tenant, "provider", res.Provider, "error", serr.Error())
	}
	return res, err
}
